#!/usr/bin/env node
/**
 * What a mutable record costs against an immutable one, on the simulated network:
 *
 *   npm run build && node bench/mutable.js              # N=200, 20 trials
 *   node bench/mutable.js --nodes 500 --trials 50
 *
 * Each trial: a writer puts a 1000-byte value both ways (put, putMutable), and a reader far away
 * gets both (get, getMutable). Reported per operation, median over the trials: datagrams the
 * operating node sent and received, their bytes, and virtual time. Latency is SimNetwork's
 * 10 + U[0, 20) ms one way; the cheap test network (SIM_NETWORK), node:crypto.
 */
import { summary } from './lib/stats.js';

const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const N = arg('--nodes', 200);
const TRIALS = arg('--trials', 20);

const { createTestnet, nodeCrypto } = await import('../dist/node/index.js');
const tn = await createTestnet(N, { crypto: nodeCrypto, latency: 10, jitter: 20, seed: 5 });

/** Counts what `node` sends and receives until the returned function is called. */
function traffic(node) {
  let datagrams = 0;
  let bytes = 0;
  const off = node.on('message', (e) => {
    datagrams++;
    bytes += e.bytes;
  });
  return () => {
    off();
    return { datagrams, bytes };
  };
}

async function timed(node, op) {
  const stop = traffic(node);
  const start = tn.clock.now();
  const result = await tn.run(op());
  return { result, ms: tn.clock.now() - start, ...stop() };
}

const rows = { put: [], putMutable: [], get: [], getMutable: [] };
const content = 'x'.repeat(1000);
for (let t = 0; t < TRIALS; t++) {
  const writer = tn.nodes[1 + (t % (N - 1))];
  const reader = tn.nodes[N - 1 - (t % (N - 2))];
  const put = await timed(writer, () => writer.put(`label ${t}`, content));
  rows.put.push(put);
  rows.putMutable.push(await timed(writer, () => writer.putMutable(content, { salt: `salt ${t}` })));
  rows.get.push(await timed(reader, () => reader.get(put.result)));
  const got = await timed(reader, () => reader.getMutable(writer.identity.publicKey, { salt: `salt ${t}` }));
  if (got.result?.text() !== content) throw new Error(`trial ${t}: getMutable did not return the value`);
  rows.getMutable.push(got);
}
await tn.close();

console.log(`N=${N}, ${TRIALS} trials, 1000-byte values; medians (p95) of the operating node's traffic`);
console.log('| operation | datagrams | bytes | virtual ms |');
console.log('|---|---:|---:|---:|');
for (const [name, xs] of Object.entries(rows)) {
  const cell = (key) => {
    const s = summary(xs.map((x) => x[key]));
    return `${Math.round(s.median)} (${Math.round(s.p95)})`;
  };
  console.log(`| ${name} | ${cell('datagrams')} | ${cell('bytes')} | ${cell('ms')} |`);
}

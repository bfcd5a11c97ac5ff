/**
 * Crypto work for strangers, on real UDP: honest get and put latency in a swarm of N nodes on
 * 127.0.0.1, before and during a flood of PINGs at one of them that ask for signed replies
 * (WANT_AUTH), each from a fresh key-less puzzle-valid ID, sent from 160 addresses in 8 /24s
 * (127.0.1.x … 127.0.8.x, a different prefix from the honest nodes) by a worker thread. It reports
 * the signatures the flood got out of that node per second, and the honest latency.
 * `npm run bench -- --only flood`.
 */
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { fmt, log, table } from '../lib/format.js';
import { summary } from '../lib/stats.js';

const FLOOD_PREFIXES = 8;
const HOSTS_PER_PREFIX = 20;

export async function measure({ quick }) {
  const { createNode, reachableAddresses, seededRandom, randomIndex, nodeCrypto } = await import('../../dist/node/index.js');
  const { decodeIpPort } = await import('../../dist/wire/address.js');
  const N = quick ? 30 : 40;
  const OPS = quick ? 20 : 40;
  const FLOOD_MS = quick ? 4000 : 8000;
  const network = { name: 'bench-flood', idDifficulty: 4, powBaseBits: 8 };
  const common = { host: '127.0.0.1', port: 0, network, maxPerIp: 64 };
  const rand = seededRandom(11);
  const pickIndex = (n) => randomIndex(rand, n);

  const first = await createNode(common);
  const nodes = [first];
  for (let i = 1; i < N; i++) nodes.push(await createNode({ ...common, bootstrap: [reachableAddresses(first)[0]] }));
  const keys = [];
  for (let i = 0; i < 10; i++) keys.push((await nodes[pickIndex(N)].publish(`flood ${i}`, `value ${i}`)).key);

  /** Gets (and a few puts) from random nodes, timed one after another for `ms` or `count` ops. */
  const honest = async (count, until) => {
    const gets = [];
    const puts = [];
    for (let i = 0; i < count || (until && performance.now() < until); i++) {
      const node = nodes[pickIndex(N)];
      const t = performance.now();
      if (i % 5 === 4) {
        await node.publish(`flood put ${performance.now()}`, 'x'.repeat(100)).then(() => puts.push(performance.now() - t), () => {});
      } else {
        const v = await node.findValue(keys[i % keys.length]).catch(() => undefined);
        if (v?.value) gets.push(performance.now() - t);
      }
      if (!until && i >= count) break;
    }
    return { gets: summary(gets), puts: summary(puts) };
  };

  const before = await honest(OPS);
  log(`[flood] before: get median ${fmt(before.gets.median, 2)} ms, put median ${fmt(before.puts.median, 1)} ms`);

  // The flood, from a worker thread: a fresh puzzle-valid key-less ID per datagram.
  const victim = nodes[1];
  const a = reachableAddresses(victim)[0];
  const target = typeof a === 'string' ? { ip: a.slice(0, a.lastIndexOf(':')), port: Number(a.slice(a.lastIndexOf(':') + 1)) } : decodeIpPort(a);
  const floodUntil = performance.now() + FLOOD_MS;
  const worker = new Worker(FLOOD_WORKER, {
    eval: true,
    workerData: { networkId: first.config.networkId, difficulty: network.idDifficulty, target, ms: FLOOD_MS, prefixes: FLOOD_PREFIXES, hosts: HOSTS_PER_PREFIX, dist: new URL('../../dist/', import.meta.url).href },
  });
  const flooded = new Promise((resolve, reject) => worker.once('message', resolve).once('error', reject));
  const during = await honest(OPS, floodUntil);
  const { sent, signed: signedForFlood } = await flooded;
  const floodS = FLOOD_MS / 1000;
  const unsigned = victim.stats().unsignedOverBudget ?? 0;
  const dropped = victim.stats().droppedRateLimited ?? 0;
  log(`[flood] during: get median ${fmt(during.gets.median, 2)} ms, put median ${fmt(during.puts.median, 1)} ms; flood sent ${sent}, got ${signedForFlood} signed`);
  await Promise.all(nodes.map((n) => n.close()));
  return {
    n: N,
    floodS,
    floodSources: FLOOD_PREFIXES * HOSTS_PER_PREFIX,
    floodPrefixes: FLOOD_PREFIXES,
    floodSent: sent,
    floodSentPerS: sent / floodS,
    signedForFloodPerS: signedForFlood / floodS,
    unsignedOverBudget: unsigned,
    droppedRateLimited: dropped,
    before,
    during,
  };
}

export function report(f) {
  return [
    table(
      `Crypto work for strangers (real UDP, N=${f.n}): a ${fmt(f.floodS, 0)} s flood of WANT_AUTH PINGs from ${f.floodSources} addresses in ${f.floodPrefixes} /24s, a fresh key-less ID each`,
      ['', 'get median ms', 'get p95 ms', 'put median ms', 'put p95 ms'],
      [
        ['before the flood', fmt(f.before.gets.median, 2), fmt(f.before.gets.p95, 2), fmt(f.before.puts.median, 1), fmt(f.before.puts.p95, 1)],
        ['during the flood', fmt(f.during.gets.median, 2), fmt(f.during.gets.p95, 2), fmt(f.during.puts.median, 1), fmt(f.during.puts.p95, 1)],
      ],
    ),
    `Flood: ${fmt(f.floodSentPerS, 0)} requests/s sent at one node; it signed ${fmt(f.signedForFloodPerS, 0)}/s for them (answered ${f.unsignedOverBudget} unsigned over budget, dropped ${f.droppedRateLimited} over the request limits).`,
  ];
}

/** The flood worker: 160 sockets in 8 /24s, a fresh key-less ID per PING; posts { sent, signed }. */
const FLOOD_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const dgram = require('node:dgram');
(async () => {
  const { encodeMessage, MessageType, Flags } = await import(workerData.dist + 'wire/messages.js');
  const { solvesIdPuzzle } = await import(workerData.dist + 'crypto/identity.js');
  const { nodeCrypto } = await import(workerData.dist + 'node/crypto-node.js');
  const freshId = () => {
    for (;;) {
      const id = nodeCrypto.randomBytes(32);
      if (solvesIdPuzzle(nodeCrypto, id, workerData.difficulty)) return id;
    }
  };
  let signed = 0;
  let sent = 0;
  const sockets = [];
  for (let p = 1; p <= workerData.prefixes; p++) {
    for (let h = 1; h <= workerData.hosts; h++) {
      const s = dgram.createSocket('udp4');
      await new Promise((resolve, reject) => s.once('error', reject).bind(0, '127.0.' + p + '.' + h, resolve));
      // Flags are the 16 bits after version, network ID and type; AUTH marks a signed reply.
      s.on('message', (msg) => { if (((msg[6] << 8) | msg[7]) & Flags.AUTH) signed++; });
      sockets.push(s);
    }
  }
  const until = Date.now() + workerData.ms;
  const { ip, port } = workerData.target;
  while (Date.now() < until) {
    for (const s of sockets) {
      const bytes = encodeMessage({ networkId: workerData.networkId, flags: Flags.WANT_AUTH | Flags.SPEAKS_UDP, requestId: nodeCrypto.randomBytes(8), senderId: freshId(), token: new Uint8Array(8), type: MessageType.PING, pad: 22 });
      s.send(bytes, port, ip);
      sent++;
    }
    await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 300));
  for (const s of sockets) s.close();
  parentPort.postMessage({ sent, signed });
})();
`;

#!/usr/bin/env node
/**
 * `npm start`: a local swarm of UDP nodes on 127.0.0.1, a put from one node and a get from
 * another, then it keeps running so you can talk to it with the CLI until Ctrl-C.
 */
import { createNode, reachableAddresses } from '../dist/node/index.js';

const NODES = 8;
const JOIN_TIMEOUT_MS = 20_000;
// Every node here shares the IP 127.0.0.1. A real node keeps at most 2 contacts per IP (an
// attacker with one machine cannot fill its table); this demo lifts that limit locally only
// (maxPerIp is not part of the network settings, so CLI nodes still join with the defaults).
const LOCAL = { host: '127.0.0.1', maxPerIp: 64 };

const short = (hex) => hex.slice(0, 12);
const log = (line = '') => process.stdout.write(line + '\n');

/** Resolves when every node knows every other one; rejects after `ms`. */
function allKnowEachOther(nodes, ms) {
  const done = () => nodes.every((n) => n.table.size >= nodes.length - 1);
  return new Promise((resolve, reject) => {
    if (done()) return resolve();
    const offs = [];
    const finish = (err) => {
      clearTimeout(timer);
      for (const off of offs) off();
      if (err) reject(err);
      else resolve();
    };
    const timer = setTimeout(() => {
      const sizes = nodes.map((n) => n.table.size).join(', ');
      finish(new Error(`nodes did not all meet within ${ms} ms (table sizes: ${sizes})`));
    }, ms);
    for (const n of nodes) offs.push(n.on('contact-added', () => done() && finish()));
  });
}

async function main() {
  log(`Starting a local spydht swarm: ${NODES} UDP nodes on 127.0.0.1 …`);
  const nodes = [];
  let stopping = false;
  const shutdown = async (signal) => {
    if (stopping) return;
    stopping = true;
    process.off('SIGINT', shutdown);
    process.off('SIGTERM', shutdown);
    log(`\n${signal}: closing ${nodes.length} nodes …`);
    await Promise.all(nodes.map((n) => n.close()));
    log('closed');
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);

  try {
    const first = await createNode({ ...LOCAL, port: 0 });
    nodes.push(first);
    const bootstrap = reachableAddresses(first)[0];
    await Promise.all(
      Array.from({ length: NODES - 1 }, async () => {
        const node = await createNode({ ...LOCAL, bootstrap: [bootstrap] });
        if (stopping) await node.close(); // Ctrl-C while joining
        else nodes.push(node);
      }),
    );
    if (stopping) return;
    await allKnowEachOther(nodes, JOIN_TIMEOUT_MS);

    log('');
    nodes.forEach((n, i) => log(`  node ${i}  ${reachableAddresses(n)[0]}  id ${short(n.id)}…  table ${n.table.size} contacts`));

    const writer = nodes[2 % nodes.length];
    const reader = nodes[nodes.length - 1];
    const label = 'greeting';
    const content = `hello from node ${nodes.indexOf(writer)} at ${new Date().toISOString()}`;
    const { key, stored } = await writer.publish(label, content);
    log('');
    log(`put   node ${nodes.indexOf(writer)}: "${label}" = "${content}"`);
    log(`      key ${key}  (stored on ${stored} nodes)`);
    const found = await reader.findValue(key);
    if (!found.value) throw new Error(`node ${nodes.indexOf(reader)} could not find ${key}`);
    log(`get   node ${nodes.indexOf(reader)}: "${found.value.labelText()}" = "${found.value.text()}"`);
    log(`      (${found.hops ? `${found.hops} hops, ${found.queried} nodes queried` : 'its own copy: with this few nodes every node is among the closest'})`);
    // The same lookup `spydht get` does: a client node that holds nothing and asks the swarm.
    const client = await createNode({ client: true, bootstrap: [bootstrap] });
    try {
      const remote = await client.findValue(key);
      if (!remote.value) throw new Error(`a client node could not find ${key}`);
      log(`get   client node: "${remote.value.labelText()}" = "${remote.value.text()}"`);
      log(`      (${remote.hops} hops, ${remote.queried} nodes queried)`);
    } finally {
      await client.close();
    }

    // From here on, show what other processes (the CLI) do to the swarm.
    nodes.forEach((n, i) => {
      n.on('stored', ({ key: k }) => log(`node ${i} stored ${k} (table ${n.table.size})`));
      n.on('deleted', ({ key: k }) => log(`node ${i} deleted ${k}`));
      n.on('contact-added', (c) => log(`node ${i} met ${short(c.id)}… at ${c.address} (table ${n.table.size})`));
      n.on('contact-removed', (c) => log(`node ${i} dropped ${short(c.id)}… at ${c.address} (table ${n.table.size})`));
    });

    log('');
    log(`Bootstrap address: ${bootstrap}`);
    log('Try it from another terminal:');
    log(`  npx spydht get ${key} --bootstrap ${bootstrap}`);
    log(`  npx spydht put mylabel "my content" --bootstrap ${bootstrap} --identity me.json`);
    log(`  npx spydht node --bootstrap ${bootstrap}`);
    log('');
    log('Running; Ctrl-C to stop.');
  } catch (err) {
    process.stderr.write(`start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    await shutdown('error');
  }
}

await main();

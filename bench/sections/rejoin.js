import { performance } from 'node:perf_hooks';
/**
 * Rejoin from saved contacts against a cold join. Each trial restarts a member with the same
 * identity: *cold*, through the live bootstrap node alone (what a node without saved contacts
 * does); *rejoin*, with its exportContacts() list and its bootstrap address dead (nothing listens
 * there). Time is until bootstrap() resolves (the self-lookup and join refreshes included);
 * datagrams are the joining node's own, sent + received, over that time.
 *   sim: N=200 (100 with --quick) on the virtual clock, 20±10 ms one way
 *   udp: N=50 (30 with --quick) real UDP nodes on 127.0.0.1, one process
 */
import { fmt, log, table } from '../lib/format.js';
import { median, summary } from '../lib/stats.js';

const datagrams = (node) => (node.stats().sent ?? 0) + (node.stats().received ?? 0);

/** Restarts `trials` members one at a time, each first cold, then from saved contacts. */
async function trials({ nodes, count, now, restart, pickIndex }) {
  const cold = [];
  const rejoin = [];
  for (let t = 0; t < count; t++) {
    const index = 1 + pickIndex(nodes.length - 1); // never the bootstrap node
    const old = nodes[index];
    const saved = JSON.parse(JSON.stringify(old.exportContacts()));
    await old.close();
    for (const mode of ['cold', 'rejoin']) {
      const node = await restart({ identity: old.identity, contacts: mode === 'rejoin' ? saved : undefined });
      const start = now();
      const size = await node.join();
      const ms = now() - start;
      (mode === 'cold' ? cold : rejoin).push({ ms, datagrams: datagrams(node.dht), size, saved: saved.length });
      if (mode === 'cold') await node.dht.close();
      else nodes[index] = node.dht;
    }
  }
  const sum = (xs) => ({ ms: summary(xs.map((x) => x.ms)), datagrams: summary(xs.map((x) => x.datagrams)), size: summary(xs.map((x) => x.size)) });
  return { trials: count, saved: median(rejoin.map((x) => x.saved)), cold: sum(cold), rejoin: sum(rejoin) };
}

export async function measure({ quick }) {
  const lib = await import('../../dist/node/index.js');
  const { DHT, SIM_NETWORK, createTestnet, nodeCrypto, seededRandom, randomIndex, createNode, reachableAddresses, AddressKind, encodeIpPort } = lib;
  const count = quick ? 5 : 10;

  // --- simulated
  const N = quick ? 100 : 200;
  log(`[rejoin] simulated swarm of ${N}…`);
  const tn = await createTestnet(N, { crypto: nodeCrypto, latency: 10, jitter: 20, seed: 11 });
  const simRand = seededRandom(11);
  const bootstrapSim = tn.nodes[0].localAddresses();
  const deadSim = [encodeIpPort(AddressKind.SIM, { ip: tn.net.allocateIp(), port: 4000 })];
  const sim = await trials({
    nodes: tn.nodes,
    count,
    now: () => tn.clock.now(),
    pickIndex: (n) => randomIndex(simRand, n),
    restart: async ({ identity, contacts }) => {
      const dht = await DHT.create({ transports: [tn.net.createTransport()], crypto: nodeCrypto, identity, network: SIM_NETWORK, clock: tn.clock, bootstrap: contacts ? deadSim : bootstrapSim, contacts });
      return { dht, join: () => tn.run(dht.bootstrap()) };
    },
  });
  await tn.close();
  log(`[rejoin] sim: cold ${fmt(sim.cold.ms.median, 0)} ms / ${sim.cold.datagrams.median} datagrams, rejoin ${fmt(sim.rejoin.ms.median, 0)} ms / ${sim.rejoin.datagrams.median}`);

  // --- real UDP
  const U = quick ? 30 : 50;
  log(`[rejoin] ${U} UDP nodes on 127.0.0.1…`);
  const common = { host: '127.0.0.1', port: 0, network: { name: 'bench-rejoin', idDifficulty: 4, powBaseBits: 10 }, maxPerIp: 64 };
  const first = await createNode(common);
  const boot = reachableAddresses(first)[0];
  const nodes = [first];
  for (let i = 1; i < U; i += 10) {
    nodes.push(...(await Promise.all(Array.from({ length: Math.min(10, U - i) }, () => createNode({ ...common, bootstrap: [boot] })))));
  }
  // A port that was bound and released: nothing answers there.
  const deadNode = await createNode(common);
  const dead = reachableAddresses(deadNode)[0];
  await deadNode.close();
  const udpRand = seededRandom(13);
  const udp = await trials({
    nodes,
    count,
    now: () => performance.now(),
    pickIndex: (n) => randomIndex(udpRand, n),
    restart: async ({ identity, contacts }) => {
      const dht = await createNode({ ...common, identity, contacts, bootstrap: [contacts ? dead : boot], autoBootstrap: false });
      return { dht, join: () => dht.bootstrap() };
    },
  });
  await Promise.all(nodes.map((n) => n.close()));
  log(`[rejoin] udp: cold ${fmt(udp.cold.ms.median, 0)} ms / ${udp.cold.datagrams.median} datagrams, rejoin ${fmt(udp.rejoin.ms.median, 0)} ms / ${udp.rejoin.datagrams.median}`);
  return { sim: { n: N, ...sim }, udp: { n: U, ...udp } };
}

export function report(r) {
  const row = (name, x, d) => [name, `${fmt(x.ms.median, d)} (${fmt(x.ms.p95, d)})`, `${fmt(x.datagrams.median, 0)} (${fmt(x.datagrams.p95, 0)})`, fmt(x.size.median, 0)];
  const header = ['join', 'time ms, median (p95)', 'datagrams sent + received, median (p95)', 'table after'];
  return [
    table(`Rejoin from saved contacts vs cold join, simulated N=${r.sim.n}, 20±10 ms one way, ${r.sim.trials} restarts (${fmt(r.sim.saved, 0)} contacts saved)`, header, [
      row('cold, through the live bootstrap node', r.sim.cold, 0),
      row('rejoin, saved contacts, bootstrap dead', r.sim.rejoin, 0),
    ]),
    table(`Rejoin from saved contacts vs cold join, real UDP N=${r.udp.n} on 127.0.0.1, ${r.udp.trials} restarts (${fmt(r.udp.saved, 0)} contacts saved)`, header, [
      row('cold, through the live bootstrap node', r.udp.cold, 1),
      row('rejoin, saved contacts, bootstrap dead', r.udp.rejoin, 1),
    ]),
  ];
}

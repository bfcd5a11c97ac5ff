/**
 * Simulated swarm on a virtual clock (createTestnet): N=200 (100 with --quick) nodes, 20±10 ms one
 * way, then puts and gets at 0 % and 10 % loss. Virtual time measures the protocol alone, free of
 * the machine's load; the wall time per get shows what the simulation itself costs.
 */
import { performance } from 'node:perf_hooks';
import { fmt, log, table } from '../lib/format.js';
import { pickGetter, sumOf } from '../lib/nodes.js';
import { median, summary } from '../lib/stats.js';

/** SimNetwork's delay is latency + U[0, jitter): 10 + U[0, 20) = 20 ± 10 ms one way. */
const LATENCY_MS = 10;
const JITTER_MS = 20;
/** Nodes joining at once, all through the first node. */
const JOIN_BATCH = 20;

/**
 * Runs `build` while timing, in virtual ms, every `bootstrap()` it starts. createTestnet joins the
 * nodes itself and reports only whole batches (onJoined), so the per-node join time needs this
 * wrapper around DHT.prototype.bootstrap, removed as soon as the swarm is built. Resolves with the
 * built value and one `{ start, ms }` (virtual clock) per join.
 */
async function timingJoins(DHT, build) {
  const joins = [];
  const bootstrap = DHT.prototype.bootstrap;
  DHT.prototype.bootstrap = async function timedBootstrap(...args) {
    const start = this.clock.now();
    const size = await bootstrap.apply(this, args);
    joins.push({ start, ms: this.clock.now() - start });
    return size;
  };
  try {
    return { built: await build(), joins };
  } finally {
    DHT.prototype.bootstrap = bootstrap;
  }
}

export async function measure({ quick }) {
  const { DHT, SIM_NETWORK, createTestnet, nodeCrypto, seededRandom, randomIndex } = await import('../../dist/node/index.js');
  const N = quick ? 100 : 200;
  const OPS = quick ? 40 : 100;
  // One seeded sequence for putters and getters: every run picks the same ones.
  const rand = seededRandom(42);
  const pickIndex = (n) => randomIndex(rand, n);

  log(`[sim] joining ${N} nodes (virtual clock, 20±10 ms one way)…`);
  const wall0 = performance.now();
  const { built: tn, joins } = await timingJoins(DHT, () =>
    createTestnet(N, { seed: 1, latency: LATENCY_MS, jitter: JITTER_MS, loss: 0, joinBatch: JOIN_BATCH, network: SIM_NETWORK, crypto: nodeCrypto }),
  );
  const { clock, net, nodes } = tn;
  const joinDatagrams = net.stats.sent;
  const joinWallS = (performance.now() - wall0) / 1000;
  const joinVirtualS = (clock.now() - Math.min(...joins.map((j) => j.start))) / 1000;
  // Let the post-join handshakes (peers verifying the newcomers that queried them) die down.
  await clock.advance(120_000);
  const tableSizes = nodes.map((n) => n.routing.size);
  log(`[sim] joined in ${joinWallS.toFixed(1)} s real; median table ${median(tableSizes)}; settling took ${((performance.now() - wall0) / 1000 - joinWallS).toFixed(1)} s real`);

  const phase = async (loss, tag) => {
    net.conditions.loss = loss;
    const puts = [];
    const keys = [];
    for (let i = 0; i < OPS; i++) {
      const node = nodes[pickIndex(N)];
      const content = `value ${i} (${tag}) `.padEnd(100, '.');
      const t = clock.now();
      const sent = net.stats.sent;
      try {
        const r = await tn.run(node.publish(`bench-${tag}-${i}`, content));
        puts.push({ ok: true, ms: clock.now() - t, stored: r.stored, datagrams: net.stats.sent - sent });
        keys.push({ key: r.key, content, putter: node });
      } catch (err) {
        puts.push({ ok: false, ms: clock.now() - t, error: String(err?.code ?? err) });
      }
    }
    const gets = [];
    for (let i = 0; i < OPS && keys.length; i++) {
      const want = keys[i % keys.length];
      const getter = pickGetter(nodes, want, pickIndex);
      if (!getter) continue;
      const t = clock.now();
      const w = performance.now();
      const sent = net.stats.sent;
      const re = sumOf(nodes, 'retries');
      const own = getter.stats().sent ?? 0;
      let r;
      let error;
      try {
        r = await tn.run(getter.findValue(want.key));
      } catch (err) {
        error = String(err?.code ?? err);
      }
      const ok = r?.value?.text() === want.content;
      gets.push({
        ok,
        virtualMs: clock.now() - t,
        wallMs: performance.now() - w,
        datagrams: net.stats.sent - sent,
        getterSent: (getter.stats().sent ?? 0) - own,
        retries: sumOf(nodes, 'retries') - re,
        hops: r?.hops,
        queried: r?.queried,
        error,
      });
    }
    const okGets = gets.filter((g) => g.ok);
    const okPuts = puts.filter((p) => p.ok);
    const res = {
      loss,
      puts: { ok: okPuts.length, total: puts.length, virtualMs: summary(okPuts.map((p) => p.ms)), stored: summary(okPuts.map((p) => p.stored)), datagrams: summary(okPuts.map((p) => p.datagrams)) },
      gets: {
        ok: okGets.length,
        total: gets.length,
        successRate: okGets.length / Math.max(1, gets.length),
        virtualMs: summary(okGets.map((g) => g.virtualMs)),
        wallMs: summary(gets.map((g) => g.wallMs)),
        datagrams: summary(gets.map((g) => g.datagrams)),
        getterSent: summary(gets.map((g) => g.getterSent)),
        retriesTotal: gets.reduce((a, g) => a + g.retries, 0),
        hops: summary(okGets.map((g) => g.hops)),
        queried: summary(okGets.map((g) => g.queried)),
        errors: gets.filter((g) => g.error).map((g) => g.error),
      },
    };
    log(
      `[sim] loss ${loss * 100}%: puts ${res.puts.ok}/${res.puts.total}, gets ${res.gets.ok}/${res.gets.total}, ` +
        `median ${fmt(res.gets.virtualMs.median, 0)} ms virtual, ${fmt(res.gets.datagrams.median, 0)} datagrams, hops ${res.gets.hops.median}`,
    );
    return res;
  };

  const clean = await phase(0, 'clean');
  const lossy = await phase(0.1, 'lossy');
  await tn.close();
  return {
    n: N,
    ops: OPS,
    latency: '20±10 ms one way (uniform 10–30 ms)',
    network: SIM_NETWORK,
    join: {
      wallS: joinWallS,
      virtualS: joinVirtualS,
      perNodeVirtualMs: summary(joins.map((j) => j.ms)),
      datagramsPerNode: joinDatagrams / (N - 1),
      tableSize: summary(tableSizes),
    },
    clean,
    lossy,
  };
}

export function report(s) {
  return [
    table(
      `Simulated swarm: N=${s.n}, virtual clock, ${s.latency}, ${s.ops} puts + ${s.ops} gets per loss rate`,
      ['loss', 'get success', 'get median ms (virtual)', 'get p95 ms (virtual)', 'datagrams/get (median)', 'getter requests/get', 'median hops', 'real ms/get', 'put success', 'put median ms (virtual)'],
      [s.clean, s.lossy].map((p) => [
        `${p.loss * 100} %`,
        `${p.gets.ok}/${p.gets.total}`,
        fmt(p.gets.virtualMs.median, 0),
        fmt(p.gets.virtualMs.p95, 0),
        fmt(p.gets.datagrams.median, 0),
        fmt(p.gets.getterSent.median, 0),
        fmt(p.gets.hops.median, 0),
        fmt(p.gets.wallMs.median, 1),
        `${p.puts.ok}/${p.puts.total}`,
        fmt(p.puts.virtualMs.median, 0),
      ]),
    ),
    `Join: ${s.n} nodes in ${fmt(s.join.wallS, 1)} s real; per node ${fmt(s.join.perNodeVirtualMs.median, 0)} ms virtual (p95 ${fmt(s.join.perNodeVirtualMs.p95, 0)}), ` +
      `${fmt(s.join.datagramsPerNode, 0)} datagrams per join (all nodes), median table ${s.join.tableSize.median} contacts. ` +
      `Retransmissions during gets: ${s.clean.gets.retriesTotal} at 0 %, ${s.lossy.gets.retriesTotal} at 10 % loss. ` +
      `Datagrams/get counts every datagram in the network during the get (the getter's requests, the replies, and peers' handshakes with it).`,
  ];
}

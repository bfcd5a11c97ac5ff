/**
 * The side-by-side run of one implementation: the same steps, counts and seeds for bittorrent-dht
 * and spydht, so the two results differ only in the library. An adapter (adapter-*.js) says how
 * its library makes a node, puts, gets and closes; this file does the rest:
 *
 *   1. wraps every dgram send in the process (datagrams.js: count, and drop a seeded share);
 *   2. starts the first node, takes the memory baseline, then joins the other N−1 through it,
 *      10 at a time: "ready" is the time until every one of them has said it joined. Each node
 *      listens on a loopback address of its own, in a /24 of its own (`hostFor`), as nodes on
 *      the internet do: on one shared 127.0.0.1, spydht's per-IP limits saw all 200 nodes as one
 *      host, and the first node's request limit dropped joins (each drop a 1 s retransmission);
 *   3. waits 1 s, reads memory again (per node = the growth ÷ (N−1));
 *   4. at 0 % loss: puts of 100-byte values from random nodes, then gets, each from a random node
 *      that neither put the value nor holds a copy of it (so every get crosses the network), one
 *      operation at a time; datagrams per operation = the wrapper's count over it (every node's
 *      sends: requests, replies, and whatever else the swarm sent meanwhile);
 *   5. the same at 10 % loss on every datagram sent, with fresh values;
 *   6. closes everything.
 */
import { performance } from 'node:perf_hooks';
import { wrapDatagrams } from '../datagrams.js';
import { fmt, log } from '../format.js';
import { settleMemory } from '../memory.js';
import { summary } from '../stats.js';

/** Nodes joining at once (as the udp section): a swarm forms from many joins, not one at a time. */
const JOIN_BATCH = 10;
/** How long the swarm rests after its operations before memory is read again. */
const REST_MS = 15_000;

const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Node i's own loopback address: 127.x.y.1 with a distinct /24 per node (Linux answers on all of
 * 127.0.0.0/8), so per-IP and per-prefix rules see what they would on the internet.
 */
export function hostFor(i) {
  return `127.${10 + Math.floor(i / 250)}.${i % 250}.1`;
}

/**
 * Runs the steps above with `adapter` and returns the figures. `seededRandom` and `randomIndex`
 * come from spydht's dist (the same seeded generator for both runs).
 */
export async function drive(adapter, { n, ops, lossyPuts, lossyGets, seededRandom, randomIndex }) {
  const tag = `[compare ${adapter.name}]`;
  const wire = wrapDatagrams(seededRandom(99));
  // One seeded sequence for putters and getters, drawn in the same order by both runs.
  const rand = seededRandom(7);
  const pickIndex = (m) => randomIndex(rand, m);

  const prepared = (await adapter.prepare?.(n)) ?? {};
  const first = await adapter.createFirst(hostFor(0));
  const boot = adapter.addressOf(first);
  // Baseline after the first node: one-time costs (module code, JIT, crypto tables) are not per node.
  const mem0 = await settleMemory();
  log(`${tag} joining ${n - 1} nodes through ${boot}, ${JOIN_BATCH} at a time…`);
  const nodes = [first];
  const joinMs = [];
  const sent0 = wire.sent;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 1; i < n; i += JOIN_BATCH) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(JOIN_BATCH, n - i) }, async (_, j) => {
        const t = performance.now();
        const node = await adapter.createJoining(hostFor(i + j), boot);
        joinMs.push(performance.now() - t);
        return node;
      }),
    );
    nodes.push(...batch);
  }
  const readyS = (performance.now() - t0) / 1000;
  const joinCpu = process.cpuUsage(cpu0);
  const joinDatagrams = wire.sent - sent0;
  await pause(1000);
  const memReady = await settleMemory();
  const tableSizes = nodes.map((node) => adapter.tableSize(node));
  log(`${tag} ${n} nodes ready in ${fmt(readyS, 2)} s, ${fmt(joinDatagrams / (n - 1), 0)} datagrams per join`);

  let serial = 0;
  const phase = async (loss, putCount, getCount) => {
    wire.setLoss(loss);
    const dropped0 = wire.dropped;
    const puts = [];
    const keys = [];
    const putCpu0 = process.cpuUsage();
    for (let i = 0; i < putCount; i++) {
      const node = nodes[pickIndex(n)];
      const content = `compare value ${serial++} `.padEnd(100, '.');
      await new Promise((r) => setImmediate(r));
      const s = wire.sent;
      const t = performance.now();
      let r;
      let error;
      try {
        r = await adapter.put(node, content);
      } catch (err) {
        error = String(err?.code ?? err?.message ?? err);
      }
      const ms = performance.now() - t;
      const ok = Boolean(r && r.stored > 0);
      puts.push({ ok, ms, powMs: r?.powMs ?? 0, datagrams: wire.sent - s, stored: r?.stored ?? 0, error });
      if (ok) keys.push({ key: r.key, content, putter: node });
    }
    const putCpu = process.cpuUsage(putCpu0);
    const gets = [];
    for (let i = 0; i < getCount && keys.length; i++) {
      const want = keys[i % keys.length];
      const candidates = nodes.filter((node) => node !== want.putter && !adapter.holds(node, want.key));
      if (candidates.length === 0) continue;
      const getter = candidates[pickIndex(candidates.length)];
      // Yield once so stray timers of the previous operation do not land inside this measurement.
      await new Promise((r) => setImmediate(r));
      const s = wire.sent;
      const t = performance.now();
      let text;
      let error;
      try {
        text = await adapter.get(getter, want.key);
      } catch (err) {
        error = String(err?.code ?? err?.message ?? err);
      }
      gets.push({ ok: text === want.content, ms: performance.now() - t, datagrams: wire.sent - s, error });
    }
    const okPuts = puts.filter((p) => p.ok);
    const okGets = gets.filter((g) => g.ok);
    const result = {
      loss,
      dropped: wire.dropped - dropped0,
      puts: {
        ok: okPuts.length,
        total: puts.length,
        ms: summary(okPuts.map((p) => p.ms)),
        // Put without its proof of work: the solve time (measured around the solver) taken off.
        msWithoutPow: summary(okPuts.map((p) => p.ms - p.powMs)),
        powMs: summary(okPuts.map((p) => p.powMs)),
        datagrams: summary(okPuts.map((p) => p.datagrams)),
        stored: summary(okPuts.map((p) => p.stored)),
        // The process's CPU (every thread: the thread pool's signatures too) over all the puts, less
        // their proof of work (solved in this thread without yielding, so its wall time is its CPU).
        cpuMsWithoutPow: puts.length ? ((putCpu.user + putCpu.system) / 1000 - puts.reduce((a, p) => a + p.powMs, 0)) / puts.length : NaN,
        errors: puts.filter((p) => !p.ok).map((p) => p.error ?? 'stored 0'),
      },
      gets: {
        ok: okGets.length,
        total: gets.length,
        ms: summary(okGets.map((g) => g.ms)),
        msAll: summary(gets.map((g) => g.ms)),
        datagrams: summary(gets.map((g) => g.datagrams)),
        errors: gets.filter((g) => !g.ok).map((g) => g.error ?? 'missing'),
      },
    };
    log(
      `${tag} ${loss * 100} % loss: puts ${result.puts.ok}/${result.puts.total} median ${fmt(result.puts.ms.median, 1)} ms (${fmt(result.puts.msWithoutPow.median, 1)} without PoW), ` +
        `gets ${result.gets.ok}/${result.gets.total} median ${fmt(result.gets.ms.median, 2)} ms p95 ${fmt(result.gets.ms.p95, 2)} ms, ${fmt(result.gets.datagrams.median, 0)} datagrams`,
    );
    return result;
  };

  const clean = await phase(0, ops, ops);
  const lossy = await phase(0.1, lossyPuts, lossyGets);
  wire.setLoss(0);
  const memUsed = await settleMemory();
  // Right after a burst V8 keeps the young generation it grew for it (up to 32 MiB, ~160 KiB per
  // node here) until the process has allocated little for a few seconds: how soon depends on what
  // the last operations were (bittorrent-dht's lossy ones end waiting on 2 s timeouts). The swarm
  // rests, maintenance running, and memory is read again: what a long-running process holds.
  await pause(REST_MS);
  const memRested = await settleMemory();
  await Promise.all(nodes.map((node) => adapter.close(node)));
  const perNode = (m, key) => (m[key] - mem0[key]) / 1024 / (n - 1);
  return {
    implementation: adapter.name,
    version: adapter.version,
    settings: adapter.settings,
    prepared,
    n,
    readyS,
    joinMs: summary(joinMs),
    datagramsPerJoin: joinDatagrams / (n - 1),
    // The process's CPU over the join phase (every thread: the thread pool's signatures too) ÷ joins.
    cpuMsPerJoin: (joinCpu.user + joinCpu.system) / 1000 / (n - 1),
    tableSize: summary(tableSizes),
    memory: {
      gc: memReady.gc,
      ready: { rssKiBPerNode: perNode(memReady, 'rss'), heapUsedKiBPerNode: perNode(memReady, 'heapUsed'), externalKiBPerNode: perNode(memReady, 'external') },
      afterOps: { rssKiBPerNode: perNode(memUsed, 'rss'), heapUsedKiBPerNode: perNode(memUsed, 'heapUsed'), externalKiBPerNode: perNode(memUsed, 'external') },
      rested: { rssKiBPerNode: perNode(memRested, 'rss'), heapUsedKiBPerNode: perNode(memRested, 'heapUsed'), externalKiBPerNode: perNode(memRested, 'external'), restS: REST_MS / 1000 },
      baselineRssMiB: mem0.rss / 2 ** 20,
    },
    clean,
    lossy,
    datagramsSent: wire.sent,
  };
}

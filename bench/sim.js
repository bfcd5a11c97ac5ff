#!/usr/bin/env node
/**
 * A large simulated swarm, with progress as it goes:
 *
 *   npm run sim -- --nodes 10000            # joins 10,000 nodes, then puts and gets at 0 % and 10 % loss
 *   npm run sim -- --nodes 100000 --ops 50  # internet scale (see BENCHMARKS.md for time and memory)
 *
 *   npm run sim -- --nodes 1000 --sybil 0.1,0.2,0.3,0.4 --ops 1000   # the Sybil curve (SECURITY.md)
 *
 * Options: --nodes N (10000), --ops N puts and N gets per loss rate (200), --loss 0,0.1 (the loss
 * rates), --sybil F,F… (instead of loss rates: the given fractions of nodes turn hostile, cumulatively,
 * a quarter each silent, lying, dropping stores, forging values; honest nodes put and get at each), --settle H (let H hours of
 * virtual time pass after the join, before the operations: maintenance refreshes buckets and pings
 * contacts, so tables fill as in a swarm that has been running; 0), --batch N nodes joining at once (20, or N/1000 above 20,000 nodes: see below), --seed N (1), --no-ideal (skip the ideal-table
 * limit), --json FILE (write every figure). Latency is SimNetwork's 10 + U[0, 20) ms one way
 * (40 ms mean round trip), node:crypto, the cheap test network (2-bit ID puzzle, 6-bit proof of
 * work: both are measured on their own in `npm run bench`). Runs with --expose-gc to measure the
 * heap per node.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import { idealLimit } from './lib/ideal.js';
import { summary } from './lib/stats.js';

const LATENCY_MS = 10;
const JITTER_MS = 20;
const MEAN_RTT_MS = 2 * (LATENCY_MS + JITTER_MS / 2);

const argv = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : fallback;
};
const N = Number(arg('--nodes', 10_000));
const OPS = Number(arg('--ops', 200));
const LOSSES = String(arg('--loss', '0,0.1')).split(',').map(Number);
// Every node's hourly maintenance runs while the swarm forms, and joining in batches of 20 takes
// about a virtual hour per 30,000 nodes: beyond that, maintenance grows with the swarm and the
// real time per join with it (100,000 nodes in batches of 20 would take 4 h or more). Larger
// batches above 20,000 nodes keep the whole join inside the first virtual hour.
const BATCH = Number(arg('--batch', Math.max(20, Math.round(N / 1000))));
const SEED = Number(arg('--seed', 1));
const SETTLE_HOURS = Number(arg('--settle', 0));
const IDEAL = !argv.includes('--no-ideal');
const JSON_OUT = arg('--json');
const SYBIL = arg('--sybil') === undefined ? undefined : String(arg('--sybil')).split(',').map(Number);

const { createTestnet, seededRandom, randomIndex } = await import('../dist/node/index.js');

const t0 = performance.now();
/** CPU seconds of this process (user + system): steadier than wall time on a shared machine. */
const cpuSeconds = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const say = (line) => process.stdout.write(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
const heapPerNodeKiB = () => {
  globalThis.gc?.();
  return v8.getHeapStatistics().used_heap_size / 1024 / N;
};

say(`joining ${N} nodes, ${BATCH} at a time, through the first (latency ${LATENCY_MS} + U[0, ${JITTER_MS}) ms one way)`);
let lastReport = performance.now();
let lastJoined = 0;
let lastSent = 0;
const tn = await createTestnet(N, {
  seed: SEED,
  latency: LATENCY_MS,
  jitter: JITTER_MS,
  joinBatch: BATCH,
  onJoined: (joined, _total, net) => {
    const now = performance.now();
    if (joined < N && now - lastReport < 10_000) return;
    const sent = net.stats.sent;
    const perJoin = (sent - lastSent) / Math.max(1, joined - lastJoined);
    say(`${String(joined).padStart(String(N).length)}/${N} joined, ${((now - lastReport) / Math.max(1, joined - lastJoined)).toFixed(1)} ms/join real lately, ${perJoin.toFixed(0)} datagrams/join lately, heap ${(v8.getHeapStatistics().used_heap_size / 1024 / joined).toFixed(0)} KiB/node, RSS ${(process.memoryUsage.rss() / 2 ** 30).toFixed(1)} GiB`);
    [lastReport, lastJoined, lastSent] = [now, joined, sent];
  },
});
const joinSeconds = (performance.now() - t0) / 1000;
const joinCpuSeconds = cpuSeconds();
const joinDatagrams = tn.net.stats.sent;
const tables = summary(tn.nodes.map((n) => n.routing.size));
const heap = heapPerNodeKiB();
say(`joined in ${joinSeconds.toFixed(0)} s (${joinCpuSeconds.toFixed(0)} s CPU, ${((1000 * joinCpuSeconds) / N).toFixed(1)} ms CPU per join): ${(joinDatagrams / N).toFixed(0)} datagrams per join on average, routing tables median ${tables.median} contacts, heap ${heap.toFixed(0)} KiB/node after gc`);

let settle;
if (SETTLE_HOURS > 0) {
  // Ten virtual minutes at a time, so progress shows; maintenance runs on the virtual clock.
  const [sent0, cpu0, wall0] = [tn.net.stats.sent, cpuSeconds(), performance.now()];
  let lastSay = performance.now();
  for (let step = 1; step <= SETTLE_HOURS * 6; step++) {
    await tn.clock.advance(600_000);
    if (step % 6 === 0 || performance.now() - lastSay > 10_000) {
      lastSay = performance.now();
      say(`settling: ${(step / 6).toFixed(1)} h of virtual time, routing tables median ${summary(tn.nodes.map((n) => n.routing.size)).median}, ${((tn.net.stats.sent - sent0) / N / (step / 6)).toFixed(0)} datagrams per node per hour`);
    }
  }
  settle = { hours: SETTLE_HOURS, datagramsPerNodePerHour: (tn.net.stats.sent - sent0) / N / SETTLE_HOURS, tables: summary(tn.nodes.map((n) => n.routing.size)), cpuSeconds: cpuSeconds() - cpu0, wallSeconds: (performance.now() - wall0) / 1000 };
}

const random = seededRandom(SEED + 1);
const pick = () => tn.nodes[randomIndex(random, tn.nodes.length)];
const phases = [];
const sybil = SYBIL ? await sybilCurve() : undefined;
for (const loss of SYBIL ? [] : LOSSES) {
  tn.net.conditions.loss = loss;
  const puts = [];
  const keys = [];
  for (let i = 0; i < OPS; i++) {
    const node = pick();
    const [sent, start] = [tn.net.stats.sent, tn.clock.now()];
    try {
      const r = await tn.run(node.publish(`sim ${loss} ${i}`, `value ${i} at loss ${loss}`));
      keys.push({ key: r.key, content: `value ${i} at loss ${loss}` });
      puts.push({ ok: true, ms: tn.clock.now() - start, datagrams: tn.net.stats.sent - sent, stored: r.stored });
    } catch {
      puts.push({ ok: false });
    }
  }
  const gets = [];
  for (let i = 0; i < OPS && keys.length > 0; i++) {
    const want = keys[i % keys.length];
    let node = pick();
    while (node.storage.has(want.key)) node = pick(); // every get crosses the network
    const [sent, start] = [tn.net.stats.sent, tn.clock.now()];
    const r = await tn.run(node.findValue(want.key)).catch(() => undefined);
    const ok = r?.value?.text() === want.content;
    gets.push({ ok, ms: tn.clock.now() - start, queried: r?.queried ?? 0, hops: r?.hops ?? 0, datagrams: tn.net.stats.sent - sent });
  }
  const okPuts = puts.filter((p) => p.ok);
  const okGets = gets.filter((g) => g.ok);
  const phase = {
    loss,
    puts: { ok: okPuts.length, total: puts.length, ms: summary(okPuts.map((p) => p.ms)), datagrams: summary(okPuts.map((p) => p.datagrams)), stored: summary(okPuts.map((p) => p.stored)) },
    gets: {
      ok: okGets.length,
      total: gets.length,
      ms: summary(okGets.map((g) => g.ms)),
      queried: summary(okGets.map((g) => g.queried)),
      hops: summary(okGets.map((g) => g.hops)),
      datagrams: summary(okGets.map((g) => g.datagrams)),
    },
  };
  phases.push(phase);
  const rtt = (ms) => (ms / MEAN_RTT_MS).toFixed(1);
  say(
    `loss ${loss * 100} %: puts ${phase.puts.ok}/${phase.puts.total} (median ${rtt(phase.puts.ms.median)} RTT, ${phase.puts.datagrams.median} datagrams, ${phase.puts.stored.median} replicas); ` +
      `gets ${phase.gets.ok}/${phase.gets.total} (median ${rtt(phase.gets.ms.median)} RTT, p99 ${rtt(quantile99(okGets.map((g) => g.ms)))} RTT, queried median ${phase.gets.queried.median} p99 ${quantile99(okGets.map((g) => g.queried))}, ${phase.gets.datagrams.median} datagrams)`,
  );
}
await tn.close();
const totalSeconds = (performance.now() - t0) / 1000;

let ideal;
if (IDEAL) {
  say(`ideal-table limit for N=${N} (the same lookup code over perfectly full tables) …`);
  const r = await idealLimit({ n: N, gets: Math.min(OPS, 200), puts: Math.min(OPS, 50), latency: LATENCY_MS, jitter: JITTER_MS, seed: SEED, lookupOptions: { narrow: 1 } });
  const nodes = await idealLimit({ n: N, gets: 0, puts: Math.min(OPS, 50), latency: LATENCY_MS, jitter: JITTER_MS, seed: SEED, lookupOptions: { burst: true, radiusBits: 'auto' } });
  ideal = {
    gets: { ms: summary(r.gets.map((g) => g.ms)), queried: summary(r.gets.map((g) => g.queried)), p99Ms: quantile99(r.gets.map((g) => g.ms)), p99Queried: quantile99(r.gets.map((g) => g.queried)) },
    nodeLookups: { ms: summary(nodes.puts.map((g) => g.ms)), queried: summary(nodes.puts.map((g) => g.queried)) },
    puts: { ms: summary(nodes.wholePuts.map((p) => p.ms)), storeMs: summary(nodes.wholePuts.map((p) => p.storeMs)), queried: summary(nodes.wholePuts.map((p) => p.queried)) },
  };
  say(
    `ideal: gets median ${(ideal.gets.ms.median / MEAN_RTT_MS).toFixed(1)} RTT, p99 ${(ideal.gets.p99Ms / MEAN_RTT_MS).toFixed(1)} RTT, queried median ${ideal.gets.queried.median} p99 ${ideal.gets.p99Queried}; ` +
      `node lookups (the lookup inside a put) median ${(ideal.nodeLookups.ms.median / MEAN_RTT_MS).toFixed(1)} RTT, ${ideal.nodeLookups.queried.median} queried; ` +
      `puts (both locations' lookups, then the STOREs until the last ack) median ${(ideal.puts.ms.median / MEAN_RTT_MS).toFixed(1)} RTT, of which the STORE round ${(ideal.puts.storeMs.median / MEAN_RTT_MS).toFixed(1)}, ${ideal.puts.queried.median} queried`,
  );
}

say(`done: ${totalSeconds.toFixed(0)} s for the swarm (join ${joinSeconds.toFixed(0)} s; ${cpuSeconds().toFixed(0)} s CPU), peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ n: N, ops: OPS, seed: SEED, meanRttMs: MEAN_RTT_MS, joinSeconds, joinCpuSeconds, totalSeconds, joinDatagramsPerNode: joinDatagrams / N, heapKiBPerNode: heap, tables, settle, phases, sybil, ideal }, null, 2));

/**
 * For each fraction, more nodes turn hostile (a quarter of each kind, bench/lib/adversary.js), then
 * OPS honest puts and OPS honest gets of those keys, each from a random honest node holding no copy.
 */
async function sybilCurve() {
  const { makeHostile, MISBEHAVIOURS } = await import('./lib/adversary.js');
  const order = [...tn.nodes];
  for (let i = order.length - 1; i > 0; i--) {
    const j = randomIndex(random, i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const allies = new Set();
  const hostile = new Set();
  const levels = [];
  for (const fraction of SYBIL) {
    while (hostile.size < Math.round(fraction * N)) {
      const node = order[hostile.size];
      hostile.add(node);
      await makeHostile(node, MISBEHAVIOURS[hostile.size % MISBEHAVIOURS.length], allies);
    }
    const honest = tn.nodes.filter((n) => !hostile.has(n));
    const pickHonest = () => honest[randomIndex(random, honest.length)];
    const keys = [];
    const puts = [];
    for (let i = 0; i < OPS; i++) {
      const [sent, start] = [tn.net.stats.sent, tn.clock.now()];
      const content = `sybil ${fraction} value ${i}`;
      try {
        const r = await tn.run(pickHonest().publish(`sybil ${fraction} ${i}`, content));
        keys.push({ key: r.key, content });
        puts.push({ ok: true, ms: tn.clock.now() - start, datagrams: tn.net.stats.sent - sent, stored: r.stored, prefixes: r.prefixes });
      } catch {
        puts.push({ ok: false });
      }
    }
    const gets = [];
    for (let i = 0; i < OPS && keys.length > 0; i++) {
      const want = keys[i % keys.length];
      let node = pickHonest();
      while (node.storage.has(want.key)) node = pickHonest();
      const [sent, start] = [tn.net.stats.sent, tn.clock.now()];
      const r = await tn.run(node.findValue(want.key)).catch(() => undefined);
      gets.push({ ok: r?.value?.text() === want.content, ms: tn.clock.now() - start, datagrams: tn.net.stats.sent - sent });
    }
    const okPuts = puts.filter((p) => p.ok);
    const okGets = gets.filter((g) => g.ok);
    const level = {
      fraction,
      hostile: hostile.size,
      puts: { ok: okPuts.length, total: puts.length, ms: summary(okPuts.map((p) => p.ms)), datagrams: summary(okPuts.map((p) => p.datagrams)), stored: summary(okPuts.map((p) => p.stored)) },
      gets: { ok: okGets.length, total: gets.length, ms: summary(okGets.map((g) => g.ms)), p99Ms: quantile99(okGets.map((g) => g.ms)), datagrams: summary(okGets.map((g) => g.datagrams)) },
    };
    levels.push(level);
    say(
      `${(fraction * 100).toFixed(0)} % hostile (${hostile.size}): puts ${level.puts.ok}/${level.puts.total} (median ${level.puts.ms.median} ms, ${level.puts.datagrams.median} datagrams, ${level.puts.stored.median} holders); ` +
        `gets ${level.gets.ok}/${level.gets.total} = ${((100 * level.gets.ok) / Math.max(1, level.gets.total)).toFixed(2)} % (median ${level.gets.ms.median} ms, p99 ${level.gets.p99Ms} ms, ${level.gets.datagrams.median} datagrams)`,
    );
  }
  return levels;
}

function quantile99(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(s.length * 0.99))] : NaN;
}

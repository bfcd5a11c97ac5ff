#!/usr/bin/env node
/**
 * spydht benchmarks. `npm run bench` (builds first) or `node bench/run.js [--quick]`.
 *
 * Each section runs in its own child process (with --expose-gc) so memory and JIT state of one
 * section cannot colour another; the parent prints one table and writes bench/results/latest.json.
 *
 *   sim       simulated swarm on a virtual clock (N=200, 20±10 ms one-way), 0 % and 10 % loss
 *   udp       real UDP on 127.0.0.1, N=50 nodes in one process, 0 % and 10 % (injected) loss
 *   signaling WebRTC signaling load: envelopes per link, and the signaling server's share of them
 *   pow       proof-of-work solve time at the default base difficulty, and verify cost
 *   identity  ID puzzle (default difficulty) generation time
 *   crypto    Ed25519 sign / verify and SHA-256 throughput per backend
 *
 * Options: --quick (fewer nodes/samples, ~1 min), --only sim,udp (some sections), --udp-n <N>
 * (UDP swarm size, default 50), --section <name> (run one section in this process and print its
 * JSON), --out <file> (default bench/results/latest.json).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const SECTIONS = ['sim', 'udp', 'sockets', 'signaling', 'pow', 'identity', 'crypto'];

const argv = process.argv.slice(2);
const QUICK = argv.includes('--quick');
const argOf = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};

/**
 * bittorrent-dht's figures, measured on this project's 2-core machines when idle (2026-11-23). It
 * is not a dependency, so they are not re-run here.
 */
const BITTORRENT_DHT = {
  label: 'bittorrent-dht 11.0.12 (idle machine, 2026-11-23)',
  setup: 'UDP 127.0.0.1, one process, N=200, BEP 44 values < 1000 B',
  n: 200,
  get: { success: '200/200', medianMs: 1.9, p95Ms: 5.0, datagramsPerGet: 32, queriesPerGet: 16, responsesPerGet: 16 },
  putMs: 7.5,
  rssKiBPerNode: 300,
  readyS: '0.55–2.2',
  lossy10: { getS: '2.0–2.5', success: '29/30', note: '2 s timeout; waits for every query in flight' },
};

// ---------------------------------------------------------------------------------------------
// Small helpers

function quantile(xs, q) {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
const median = (xs) => quantile(xs, 0.5);
const p95 = (xs) => quantile(xs, 0.95);
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const summary = (xs) => ({ n: xs.length, median: median(xs), p95: p95(xs), mean: mean(xs), min: Math.min(...xs), max: Math.max(...xs) });

/** Seeded PRNG: every run picks the same putters, getters and lost datagrams. */
function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gcFn() {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc');
  } catch {
    return undefined;
  }
}

async function settleMemory() {
  const gc = gcFn();
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  return { gc: Boolean(gc), ...process.memoryUsage() };
}

const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);
const fmt = (x, d = 1) => (x === undefined || x === null || Number.isNaN(x) ? '–' : Number(x).toFixed(d));
const sumOf = (nodes, key) => nodes.reduce((a, n) => a + (n.stats()[key] ?? 0), 0);

/** A random node that is not the putter and holds no replica, so the get crosses the network. */
function pickGetter(nodes, want, keyBytes, rand) {
  const candidates = nodes.filter((n) => n !== want.putter && !n.storage.has(keyBytes));
  return candidates.length ? candidates[Math.floor(rand() * candidates.length)] : undefined;
}

// ---------------------------------------------------------------------------------------------
// 1. Simulated swarm on a virtual clock

async function benchSim() {
  const { DHT, Identity, SimClock, SimNetwork, fromHex } = await import('../dist/index.js');
  const { nodeCrypto } = await import('../dist/node/index.js');
  const N = QUICK ? 100 : 200;
  const OPS = QUICK ? 40 : 100;
  const NETWORK = { name: 'sim', idDifficulty: 2, powBaseBits: 6 };
  const clock = new SimClock();
  // SimNetwork delay = latency + U[0, jitter): 10 + U[0, 20) = 20 ± 10 ms one way.
  const net = new SimNetwork({ clock, seed: 1, latency: 10, jitter: 20, loss: 0 });
  const rand = mulberry32(42);
  const pickIndex = (n) => Math.floor(rand() * n);
  const nodes = [];
  const make = async (bootstrap) => {
    const identity = await Identity.generate({ crypto: nodeCrypto, difficulty: NETWORK.idDifficulty });
    const dht = await DHT.create({ transports: [net.createTransport()], crypto: nodeCrypto, identity, network: NETWORK, clock, bootstrap });
    nodes.push(dht);
    return dht;
  };

  log(`[sim] joining ${N} nodes (virtual clock, 20±10 ms one way)…`);
  const wall0 = performance.now();
  const first = await make([]);
  const rest = [];
  for (let i = 1; i < N; i++) rest.push(await make(first.localAddresses()));
  const v0 = clock.now();
  const joinVirtual = [];
  for (let i = 0; i < rest.length; i += 20) {
    await clock.run(
      Promise.all(
        rest.slice(i, i + 20).map(async (d) => {
          const t = clock.now();
          await d.bootstrap();
          joinVirtual.push(clock.now() - t);
        }),
      ),
    );
  }
  const joinDatagrams = net.stats.sent;
  const joinWallS = (performance.now() - wall0) / 1000;
  const joinVirtualS = (clock.now() - v0) / 1000;
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
        const r = await clock.run(node.publish(`bench-${tag}-${i}`, content));
        puts.push({ ok: true, ms: clock.now() - t, stored: r.stored, datagrams: net.stats.sent - sent });
        keys.push({ key: r.key, content, putter: node });
      } catch (err) {
        puts.push({ ok: false, ms: clock.now() - t, error: String(err?.code ?? err) });
      }
    }
    const gets = [];
    for (let i = 0; i < OPS && keys.length; i++) {
      const want = keys[i % keys.length];
      const keyBytes = fromHex(want.key);
      const getter = pickGetter(nodes, want, keyBytes, rand);
      if (!getter) continue;
      const t = clock.now();
      const w = performance.now();
      const sent = net.stats.sent;
      const re = sumOf(nodes, 'retries');
      const own = getter.stats().sent ?? 0;
      let r;
      let error;
      try {
        r = await clock.run(getter.findValue(want.key));
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
  await Promise.all(nodes.map((n) => n.close()));
  return {
    n: N,
    ops: OPS,
    latency: '20±10 ms one way (uniform 10–30 ms)',
    network: NETWORK,
    join: {
      wallS: joinWallS,
      virtualS: joinVirtualS,
      perNodeVirtualMs: summary(joinVirtual),
      datagramsPerNode: joinDatagrams / (N - 1),
      tableSize: summary(tableSizes),
    },
    clean,
    lossy,
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Real UDP on loopback, one process

async function benchUdp() {
  const { createNode, reachableAddresses, udpTransportOf, fromHex } = await import('../dist/node/index.js');
  // With k = 20 replicas, N must be well above 20 or every node holds every value.
  const N = Number(argOf('--udp-n') ?? (QUICK ? 30 : 50));
  const OPS = QUICK ? 30 : 100;
  const LOSSY_OPS = QUICK ? 20 : 50;
  const network = { name: 'bench', idDifficulty: 4, powBaseBits: 10 };
  const common = { host: '127.0.0.1', port: 0, network, maxPerIp: 64 };
  const rand = mulberry32(7);
  const pickIndex = (n) => Math.floor(rand() * n);

  log(`[udp] starting ${N} nodes on 127.0.0.1…`);
  const t0 = performance.now();
  const first = await createNode(common);
  const boot = reachableAddresses(first)[0];
  // Baseline after the first node: one-time costs (JIT, crypto tables, socket setup) are not per node.
  const mem0 = await settleMemory();
  const nodes = [first];
  const joinMs = [];
  for (let i = 1; i < N; i += 10) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(10, N - i) }, async () => {
        const t = performance.now();
        const n = await createNode({ ...common, bootstrap: [boot] });
        joinMs.push(performance.now() - t);
        return n;
      }),
    );
    nodes.push(...batch);
  }
  const readyS = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1000));
  const mem1 = await settleMemory();
  const tableSizes = nodes.map((n) => n.routing.size);
  log(`[udp] ${N} nodes ready in ${readyS.toFixed(2)} s; median table ${median(tableSizes)}`);

  // Datagrams the engines handed to their sockets, summed over every node (requests + replies).
  const rpcSentAll = () => sumOf(nodes, 'sent');

  const puts = [];
  const keys = [];
  for (let i = 0; i < OPS; i++) {
    const node = nodes[pickIndex(N)];
    const content = `udp value ${i} `.padEnd(100, '.');
    const s = rpcSentAll();
    const re = sumOf(nodes, 'retries');
    const t = performance.now();
    try {
      const r = await node.publish(`bench-udp-${i}`, content);
      puts.push({ ok: true, ms: performance.now() - t, stored: r.stored, datagrams: rpcSentAll() - s, retries: sumOf(nodes, 'retries') - re });
      keys.push({ key: r.key, content, putter: node });
    } catch (err) {
      puts.push({ ok: false, ms: performance.now() - t, error: String(err?.code ?? err) });
    }
  }

  const getRound = async (count) => {
    const gets = [];
    for (let i = 0; i < count && keys.length; i++) {
      const want = keys[i % keys.length];
      const keyBytes = fromHex(want.key);
      const getter = pickGetter(nodes, want, keyBytes, rand);
      if (!getter) continue;
      // Yield once so stray timers from the previous get do not land inside this measurement.
      await new Promise((r) => setImmediate(r));
      const s = rpcSentAll();
      const re = sumOf(nodes, 'retries');
      const t = performance.now();
      let r;
      let error;
      try {
        r = await getter.findValue(want.key);
      } catch (err) {
        error = String(err?.code ?? err);
      }
      const ms = performance.now() - t;
      gets.push({ ok: r?.value?.text() === want.content, ms, datagrams: rpcSentAll() - s, retries: sumOf(nodes, 'retries') - re, hops: r?.hops, queried: r?.queried, error });
    }
    const ok = gets.filter((g) => g.ok);
    return {
      ok: ok.length,
      total: gets.length,
      successRate: ok.length / Math.max(1, gets.length),
      ms: summary(ok.map((g) => g.ms)),
      datagrams: summary(gets.map((g) => g.datagrams)),
      retriesTotal: gets.reduce((a, g) => a + g.retries, 0),
      hops: summary(ok.map((g) => g.hops)),
      queried: summary(ok.map((g) => g.queried)),
      errors: gets.filter((g) => g.error).map((g) => g.error),
    };
  };

  // findNode: the lookup a put runs before its STOREs (all k closest must answer).
  const findNodeMs = [];
  for (let i = 0; i < (QUICK ? 10 : 30); i++) {
    const node = nodes[pickIndex(N)];
    const t = performance.now();
    await node.findNode(node.crypto.randomBytes(32));
    findNodeMs.push(performance.now() - t);
  }

  const clean = await getRound(OPS);
  log(`[udp] gets ${clean.ok}/${clean.total}: median ${fmt(clean.ms.median, 2)} ms, p95 ${fmt(clean.ms.p95, 2)} ms, ${fmt(clean.datagrams.median, 0)} datagrams`);

  // 10 % loss on every node's outgoing datagrams (as the bittorrent-dht measurement did).
  const lossRand = mulberry32(99);
  let dropped = 0;
  for (const n of nodes) {
    const t = udpTransportOf(n);
    const send = t.send.bind(t);
    t.send = (to, data) => {
      if (lossRand() < 0.1) {
        dropped++;
        return;
      }
      send(to, data);
    };
  }
  const lossy = await getRound(LOSSY_OPS);
  log(`[udp] 10% loss: gets ${lossy.ok}/${lossy.total}: median ${fmt(lossy.ms.median, 1)} ms, p95 ${fmt(lossy.ms.p95, 1)} ms`);

  await Promise.all(nodes.map((n) => n.close()));
  const okPuts = puts.filter((p) => p.ok);
  return {
    n: N,
    ops: OPS,
    network,
    readyS,
    joinMs: summary(joinMs),
    tableSize: summary(tableSizes),
    memory: {
      gc: mem1.gc,
      rssKiBPerNode: (mem1.rss - mem0.rss) / 1024 / (N - 1),
      heapUsedKiBPerNode: (mem1.heapUsed - mem0.heapUsed) / 1024 / (N - 1),
      heapTotalKiBPerNode: (mem1.heapTotal - mem0.heapTotal) / 1024 / (N - 1),
      externalKiBPerNode: (mem1.external - mem0.external) / 1024 / (N - 1),
      rssTotalMiB: mem1.rss / 2 ** 20,
      rssBeforeMiB: mem0.rss / 2 ** 20,
      rssAfterMiB: mem1.rss / 2 ** 20,
    },
    findNodeMs: summary(findNodeMs),
    puts: { ok: okPuts.length, total: puts.length, retriesTotal: okPuts.reduce((a, p) => a + p.retries, 0), ms: summary(okPuts.map((p) => p.ms)), stored: summary(okPuts.map((p) => p.stored)), datagrams: summary(okPuts.map((p) => p.datagrams)), errors: puts.filter((p) => !p.ok).map((p) => p.error) },
    gets: clean,
    lossy: { loss: 0.1, droppedDatagrams: dropped, gets: lossy },
  };
}

// ---------------------------------------------------------------------------------------------
// 2b. Control: what bare dgram sockets cost in RSS, with no DHT at all

async function benchSockets() {
  const dgram = await import('node:dgram');
  const N = 50;
  const mem0 = await settleMemory();
  const socks = [];
  for (let i = 0; i < N; i++) {
    const s = dgram.createSocket('udp4');
    await new Promise((r) => s.bind(0, '127.0.0.1', r));
    let echoes = 0;
    s.on('message', (m, from) => {
      if (echoes++ < 200) s.send(m, from.port, from.address);
    });
    socks.push(s);
  }
  // ~10,000 datagrams of 300 bytes and their echoes, about what joining and a round of gets send.
  const rand = mulberry32(5);
  for (let r = 0; r < 200; r++) {
    for (const s of socks) s.send(Buffer.alloc(300), socks[Math.floor(rand() * N)].address().port, '127.0.0.1');
    if (r % 20 === 0) await new Promise((res) => setTimeout(res, 5));
  }
  await new Promise((r) => setTimeout(r, 500));
  const mem1 = await settleMemory();
  await Promise.all(socks.map((s) => new Promise((r) => s.close(r))));
  const result = { sockets: N, rssKiBPerSocket: (mem1.rss - mem0.rss) / 1024 / N, heapUsedKiBPerSocket: (mem1.heapUsed - mem0.heapUsed) / 1024 / N };
  log(`[sockets] bare dgram socket: ${fmt(result.rssKiBPerSocket, 0)} KiB RSS each`);
  return result;
}

/**
 * The signaling server's share of WebRTC signaling. Real WebRTC (node-datachannel), real
 * WebSocket, real UDP on 127.0.0.1: the server, 3 Node bridges, then browser-like nodes (the code
 * a tab runs, createBrowserNode, with node-datachannel and ws injected) joining one at a time; then,
 * the swarm formed, 3 more bridges join through a member and every browser-like node looks each up.
 */
async function benchSignaling() {
  const { createBrowserNode } = await import('../dist/index.js');
  const { createNode, reachableAddresses, startSignalingServer, nodeCrypto, Identity, inThreadPowSolver } = await import('../dist/node/index.js');
  const { RTCPeerConnection } = await import('node-datachannel/polyfill');
  const { WebSocket } = await import('ws');
  const TABS = QUICK ? 6 : 12;
  const LATE = 3;
  const network = { name: 'bench-signaling', idDifficulty: 4, powBaseBits: 8 };
  const server = await startSignalingServer({ host: '127.0.0.1', port: 0, network, webrtc: true, crypto: nodeCrypto, dht: { maxPerIp: 64 }, logger: () => {} });
  const bridges = [];
  const tabs = [];
  const members = () => [server.dht, ...bridges, ...tabs];
  const links = () => sumOf(members(), 'webrtc.linksOpened') / 2;
  const envelopes = () => sumOf(members(), 'webrtc.signalsSent');
  const relayed = () => server.dht.stats().signalsRelayed ?? 0;
  const mark = () => ({ links: links(), envelopes: envelopes(), relayed: relayed() });
  const phase = (from, label) => {
    const to = mark();
    const newLinks = to.links - from.links;
    return { label, newLinks, envelopes: to.envelopes - from.envelopes, serverRelayed: to.relayed - from.relayed, envelopesPerLink: (to.envelopes - from.envelopes) / newLinks, serverPerLink: (to.relayed - from.relayed) / newLinks };
  };
  try {
    for (let i = 0; i < 3; i++) bridges.push(await createNode({ host: '127.0.0.1', network, webrtc: true, maxPerIp: 64, bootstrap: [server.udpAddress] }));
    log(`[signaling] ${TABS} browser-like nodes joining one at a time…`);
    const beforeJoins = mark();
    const joinMs = [];
    for (let i = 0; i < TABS; i++) {
      const identity = await Identity.generate({ crypto: nodeCrypto, difficulty: network.idDifficulty });
      const t0 = performance.now();
      tabs.push(
        await createBrowserNode({ signalingUrl: server.url, network, identityStorage: false, identity, crypto: nodeCrypto, powSolver: inThreadPowSolver(nodeCrypto), maxPerIp: 64, RTCPeerConnection, WebSocket }),
      );
      joinMs.push(performance.now() - t0);
    }
    const joins = phase(beforeJoins, `${TABS} browser-like nodes join through the server`);
    const beforeLate = mark();
    const lookupMs = [];
    for (let i = 0; i < LATE; i++) {
      const late = await createNode({ host: '127.0.0.1', network, webrtc: true, maxPerIp: 64, bootstrap: [reachableAddresses(bridges[0])[0]] });
      bridges.push(late);
      for (const t of tabs) {
        const t0 = performance.now();
        await t.findNode(late.id);
        lookupMs.push(performance.now() - t0);
      }
    }
    const formed = phase(beforeLate, `formed swarm: ${LATE} bridges join through a member, every browser-like node looks each up`);
    // Churn: two browser-like nodes leave without a word; the rest keep looking things up while
    // the dead contacts are still in their tables.
    const gone = tabs.splice(0, 2);
    await Promise.all(gone.map((t) => t.close()));
    const churnMs = [[], []];
    const rand = mulberry32(11);
    for (const round of churnMs) {
      for (const t of tabs) {
        const target = Array.from({ length: 32 }, () => Math.floor(rand() * 256).toString(16).padStart(2, '0')).join('');
        const t0 = performance.now();
        await t.findNode(target);
        round.push(performance.now() - t0);
      }
    }
    const result = {
      tabs: TABS,
      network,
      joins: { ...joins, perJoin: joins.serverRelayed / TABS, joinMs: summary(joinMs) },
      formed: { ...formed, lookupMs: summary(lookupMs) },
      churn: { left: gone.length, firstLookupMs: summary(churnMs[0]), secondLookupMs: summary(churnMs[1]) },
    };
    log(`[signaling] server relayed ${fmt(result.joins.perJoin, 1)} envelopes per join, ${fmt(formed.serverPerLink, 2)} per new link once formed`);
    return result;
  } finally {
    await Promise.all([...tabs, ...bridges].map((n) => n.close()));
    await server.close();
  }
}

// ---------------------------------------------------------------------------------------------
// CPU-bound sections (3–5) report this process's CPU time next to wall time: on a shared machine
// wall time stretches with other processes' load, while CPU time stays close to what an idle
// machine would show for single-threaded work.

/** A stopwatch for wall and process CPU (user + system) time, both in ms. */
function stopwatch() {
  const w = performance.now();
  const c = process.cpuUsage();
  return () => {
    const d = process.cpuUsage(c);
    return { wall: performance.now() - w, cpu: (d.user + d.system) / 1000 };
  };
}

// ---------------------------------------------------------------------------------------------
// 3. Proof of work

async function benchPow() {
  const { nobleCrypto } = await import('../dist/index.js');
  const { nodeCrypto } = await import('../dist/node/index.js');
  const { powWork, powTarget, powInput, inThreadPowSolver, checkPow, DEFAULT_POW_BASE_BITS } = await import('../dist/crypto/pow.js');
  const bits = DEFAULT_POW_BASE_BITS;
  const specs = [
    { label: '100 B / 1 h', size: 100, ttl: 3600 },
    { label: '100 B / 24 h', size: 100, ttl: 86400 },
    { label: '4 KB / 24 h', size: 4096, ttl: 86400 },
    { label: '4 KB / 7 d', size: 4096, ttl: 7 * 86400 },
  ];
  // Samples wanted per record kind, and a time cap per kind (at least MIN_SAMPLES are always taken).
  const wanted = QUICK ? [10, 6, 3, 2] : [30, 20, 8, 5];
  const capMs = QUICK ? 1500 : 4000;
  const MIN_SAMPLES = QUICK ? 2 : 3;
  const out = { baseBits: bits, backends: {} };
  for (const crypto of [nodeCrypto, nobleCrypto]) {
    // Hash rate on the solver's loop shape (input digest ‖ 8-byte nonce, DataView writes), after warm-up.
    const buf = new Uint8Array(40);
    const view = new DataView(buf.buffer);
    const hashLoop = (ms) => {
      let hashes = 0;
      const sw = stopwatch();
      while (sw().wall < ms) {
        for (let i = 0; i < 1000; i++) {
          view.setUint32(32, hashes + i);
          crypto.sha256(buf);
        }
        hashes += 1000;
      }
      const t = sw();
      return { wall: hashes / (t.wall / 1000), cpu: hashes / (t.cpu / 1000) };
    };
    hashLoop(100);
    const hashRate = hashLoop(QUICK ? 300 : 700);
    const solver = inThreadPowSolver(crypto);
    const rows = [];
    for (const [idx, spec] of specs.entries()) {
      const work = powWork(bits, spec.size, spec.ttl);
      const target = powTarget(work);
      const meanMs = (Number(work) / hashRate.cpu) * 1000;
      const wall = [];
      const cpu = [];
      let input;
      let nonce;
      const started = performance.now();
      while (wall.length < wanted[idx] && (wall.length < MIN_SAMPLES || performance.now() - started < capMs)) {
        input = powInput(crypto, { networkId: crypto.randomBytes(4), key: crypto.randomBytes(32), size: spec.size, expiresAt: 1_800_000_000 + wall.length });
        const sw = stopwatch();
        nonce = await solver(input, target);
        const t = sw();
        wall.push(t.wall);
        cpu.push(t.cpu);
        if (!checkPow(crypto, input, nonce, target)) throw new Error('solver returned a nonce that does not verify');
      }
      // Verify = the input hash + one nonce hash (what a storing node pays per STORE).
      const fields = { networkId: crypto.randomBytes(4), key: crypto.randomBytes(32), size: spec.size, expiresAt: 1_800_000_000 };
      const reps = QUICK ? 5000 : 20000;
      const sw = stopwatch();
      for (let i = 0; i < reps; i++) checkPow(crypto, powInput(crypto, fields), nonce, target);
      const v = sw();
      // Solve time is geometric (≈ exponential): median = ln 2 × mean, p95 = ln 20 × mean.
      const model = { meanMs, medianMs: Math.LN2 * meanMs, p95Ms: Math.log(20) * meanMs };
      rows.push({ ...spec, work: Number(work), model, solveCpuMs: summary(cpu), solveWallMs: summary(wall), verifyCpuUs: (v.cpu * 1000) / reps, verifyWallUs: (v.wall * 1000) / reps });
      log(`[pow] ${crypto.name} ${spec.label}: ${Number(work)} hashes, CPU median ${fmt(median(cpu), 0)} ms, p95 ${fmt(p95(cpu), 0)} ms; wall median ${fmt(median(wall), 0)} ms (${wall.length} samples; model median ${fmt(model.medianMs, 0)}, p95 ${fmt(model.p95Ms, 0)})`);
    }
    out.backends[crypto.name] = { hashRatePerCpuS: hashRate.cpu, hashRatePerWallS: hashRate.wall, specs: rows };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 4. Identity (ID puzzle)

async function benchIdentity() {
  const { Identity, DEFAULT_ID_DIFFICULTY, nobleCrypto } = await import('../dist/index.js');
  const { nodeCrypto } = await import('../dist/node/index.js');
  const samples = QUICK ? 8 : 20;
  const out = { difficulty: DEFAULT_ID_DIFFICULTY, samples, backends: {} };
  for (const crypto of [nobleCrypto, nodeCrypto]) {
    // Key generations per second: what each puzzle attempt costs.
    for (let i = 0; i < 50; i++) crypto.publicKeyFromSeed(crypto.randomBytes(32)); // warm-up (noble builds tables)
    let keys = 0;
    const k = stopwatch();
    while (k().wall < (QUICK ? 300 : 700)) {
      crypto.publicKeyFromSeed(crypto.randomBytes(32));
      keys++;
    }
    const kt = k();
    const keygenPerCpuS = keys / (kt.cpu / 1000);
    const wall = [];
    const cpu = [];
    for (let i = 0; i < samples; i++) {
      const sw = stopwatch();
      await Identity.generate({ crypto, difficulty: DEFAULT_ID_DIFFICULTY });
      const t = sw();
      wall.push(t.wall);
      cpu.push(t.cpu);
    }
    const meanMs = (2 ** DEFAULT_ID_DIFFICULTY / keygenPerCpuS) * 1000;
    out.backends[crypto.name] = {
      keygenPerCpuS,
      keygenPerWallS: keys / (kt.wall / 1000),
      model: { meanMs, medianMs: Math.LN2 * meanMs, p95Ms: Math.log(20) * meanMs },
      cpuMs: summary(cpu),
      wallMs: summary(wall),
    };
    log(`[identity] ${crypto.name}: CPU median ${fmt(median(cpu), 0)} ms, p95 ${fmt(p95(cpu), 0)} ms; wall median ${fmt(median(wall), 0)} ms, p95 ${fmt(p95(wall), 0)} ms`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// 5. Crypto throughput

async function benchCrypto() {
  const { nobleCrypto } = await import('../dist/index.js');
  const { nodeCrypto } = await import('../dist/node/index.js');
  const windowMs = QUICK ? 400 : 1000;
  const rate = async (fn) => {
    for (let i = 0; i < 50; i++) await fn(); // warm up
    let n = 0;
    const sw = stopwatch();
    while (sw().wall < windowMs) {
      for (let i = 0; i < 20; i++) await fn();
      n += 20;
    }
    const t = sw();
    return { cpu: n / (t.cpu / 1000), wall: n / (t.wall / 1000) };
  };
  const out = { messageBytes: 200, backends: {} };
  for (const crypto of [nodeCrypto, nobleCrypto]) {
    const seed = crypto.randomBytes(32);
    const pub = crypto.publicKeyFromSeed(seed);
    const sign = crypto.signer(seed);
    const msg = crypto.randomBytes(200);
    const sig = await sign(msg);
    if (!(await crypto.verify(pub, msg, sig))) throw new Error(`${crypto.name}: signature does not verify`);
    const small = crypto.randomBytes(64);
    const r = (out.backends[crypto.name] = {
      sign: await rate(() => sign(msg)),
      verify: await rate(() => crypto.verify(pub, msg, sig)),
      sha256Small: await rate(() => crypto.sha256(small)),
    });
    log(`[crypto] ${crypto.name}: sign ${fmt(r.sign.cpu, 0)}/CPU-s (${fmt(r.sign.wall, 0)}/s wall), verify ${fmt(r.verify.cpu, 0)}/CPU-s (${fmt(r.verify.wall, 0)}/s wall)`);
  }
  return out;
}

const RUNNERS = { sim: benchSim, udp: benchUdp, sockets: benchSockets, signaling: benchSignaling, pow: benchPow, identity: benchIdentity, crypto: benchCrypto };

// ---------------------------------------------------------------------------------------------
// Report

function table(title, header, rows) {
  const cells = [header, ...rows].map((r) => r.map((c) => String(c ?? '–')));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const sep = `|${widths.map((w, i) => (i === 0 ? ':' : '-') + '-'.repeat(w) + (i === 0 ? '-' : ':')).join('|')}|`;
  return [`\n### ${title}\n`, line(cells[0]), sep, ...cells.slice(1).map(line)].join('\n');
}

function report(r) {
  const out = [];
  const { meta } = r;
  out.push(`spydht benchmarks — ${meta.date}${meta.quick ? ' (--quick)' : ''}`);
  out.push(`Node ${meta.node}, ${meta.cpus}× ${meta.cpuModel}, ${meta.platform}, ${meta.memGiB} GiB, commit ${meta.commit}`);
  out.push(`Load average (1 min) at start ${fmt(meta.loadAvgStart[0], 2)}, at end ${fmt(meta.loadAvgEnd?.[0], 2)}: anything above ~0.5 means other processes shared the ${meta.cpus} cores.`);

  if (r.sim) {
    const s = r.sim;
    out.push(
      table(`Simulated swarm: N=${s.n}, virtual clock, ${s.latency}, ${s.ops} puts + ${s.ops} gets per loss rate`, ['loss', 'get success', 'get median ms (virtual)', 'get p95 ms (virtual)', 'datagrams/get (median)', 'getter requests/get', 'median hops', 'real ms/get', 'put success', 'put median ms (virtual)'], [0, 1].map((i) => {
        const p = i ? s.lossy : s.clean;
        return [
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
        ];
      })),
    );
    out.push(
      `Join: ${s.n} nodes in ${fmt(s.join.wallS, 1)} s real; per node ${fmt(s.join.perNodeVirtualMs.median, 0)} ms virtual (p95 ${fmt(s.join.perNodeVirtualMs.p95, 0)}), ` +
        `${fmt(s.join.datagramsPerNode, 0)} datagrams per join (all nodes), median table ${s.join.tableSize.median} contacts. ` +
        `Retransmissions during gets: ${s.clean.gets.retriesTotal} at 0 %, ${s.lossy.gets.retriesTotal} at 10 % loss. ` +
        `Datagrams/get counts every datagram in the network during the get (the getter's requests, the replies, and peers' handshakes with it).`,
    );
  }

  if (r.udp) {
    const u = r.udp;
    const b = BITTORRENT_DHT;
    out.push(
      table('Real UDP on 127.0.0.1, one process, side by side with bittorrent-dht', ['implementation', 'N', 'get success', 'get median ms', 'get p95 ms', 'datagrams/get', 'put median ms', 'RSS/node KiB', 'ready s', 'get at 10 % loss'], [
        [
          `spydht ${r.meta.version} (this run)`,
          u.n,
          `${u.gets.ok}/${u.gets.total}`,
          fmt(u.gets.ms.median, 2),
          fmt(u.gets.ms.p95, 2),
          fmt(u.gets.datagrams.median, 0),
          fmt(u.puts.ms.median, 1),
          fmt(u.memory.rssKiBPerNode, 0),
          fmt(u.readyS, 2),
          `${u.lossy.gets.ok}/${u.lossy.gets.total}, median ${fmt(u.lossy.gets.ms.median, 0)} ms, p95 ${fmt(u.lossy.gets.ms.p95, 0)} ms`,
        ],
        [b.label, b.n, b.get.success, fmt(b.get.medianMs, 1), fmt(b.get.p95Ms, 1), `${b.get.datagramsPerGet} (16 q + 16 r)`, fmt(b.putMs, 1), `~${b.rssKiBPerNode}`, b.readyS, `${b.lossy10.success}, ${b.lossy10.getS} s`],
      ]),
    );
    out.push(
      `spydht UDP: gets: median hops ${fmt(u.gets.hops.median, 0)}, median peers queried ${fmt(u.gets.queried.median, 0)}, ${u.gets.retriesTotal} retransmissions in ${u.gets.total} gets. ` +
        `Puts: ${u.puts.ok}/${u.puts.total} (median ${fmt(u.puts.stored.median, 0)} replicas, ${fmt(u.puts.datagrams.median, 0)} datagrams, p95 ${fmt(u.puts.ms.p95, 1)} ms, ${u.puts.retriesTotal} retransmissions in all); ` +
        `findNode (the lookup inside a put) median ${fmt(u.findNodeMs.median, 1)} ms, p95 ${fmt(u.findNodeMs.p95, 1)} ms.\n` +
        `Memory: heap used ${fmt(u.memory.heapUsedKiBPerNode, 0)} KiB/node (V8 heap committed ${fmt(u.memory.heapTotalKiBPerNode, 0)}, external ${fmt(u.memory.externalKiBPerNode, 0)}), RSS ${fmt(u.memory.rssKiBPerNode, 0)} KiB/node${u.memory.gc ? '' : ' (no gc available: rough)'}` +
        `${r.sockets ? `; a bare dgram socket with similar traffic and no DHT costs ${fmt(r.sockets.rssKiBPerSocket, 0)} KiB RSS` : ''}. ` +
        `Network ${JSON.stringify(u.network)}, maxPerIp 64. 10 % loss: ${u.lossy.droppedDatagrams} datagrams dropped, ${u.lossy.gets.retriesTotal} retransmissions.`,
    );
  }

  if (r.signaling) {
    const g = r.signaling;
    out.push(
      table('WebRTC signaling: envelopes per new link and the signaling server\'s share (real WebRTC, WebSocket, UDP on 127.0.0.1)', ['phase', 'new links', 'envelopes', 'envelopes/link', 'relayed by server', 'server/link'], [g.joins, g.formed].map((p) => [p.label, p.newLinks, p.envelopes, fmt(p.envelopesPerLink, 2), p.serverRelayed, fmt(p.serverPerLink, 2)])),
    );
    out.push(
      `The server relayed ${fmt(g.joins.perJoin, 1)} envelopes per joining node (its first links, whatever the swarm's size); 2.00 per link would mean it carried all of them. ` +
        `Join (createBrowserNode → bootstrapped) median ${fmt(g.joins.joinMs.median, 0)} ms, p95 ${fmt(g.joins.joinMs.p95, 0)} ms; findNode of a new bridge median ${fmt(g.formed.lookupMs.median, 0)} ms, p95 ${fmt(g.formed.lookupMs.p95, 0)} ms; ` +
        `right after ${g.churn.left} browser-like nodes left, each node's first findNode of a random ID: median ${fmt(g.churn.firstLookupMs.median, 0)} ms, p95 ${fmt(g.churn.firstLookupMs.p95, 0)} ms (it waits out the departed), ` +
        `its second: median ${fmt(g.churn.secondLookupMs.median, 0)} ms, p95 ${fmt(g.churn.secondLookupMs.p95, 0)} ms (timed-out peers are skipped for 30 s).`,
    );
  }

  if (r.pow) {
    const rows = [];
    for (const [name, b] of Object.entries(r.pow.backends)) {
      for (const s of b.specs) {
        rows.push([`${name}: ${s.label}`, s.work, s.solveCpuMs.n, fmt(s.solveCpuMs.median, 0), fmt(s.solveCpuMs.p95, 0), fmt(s.solveWallMs.median, 0), fmt(s.model.medianMs, 0), fmt(s.model.p95Ms, 0), fmt(s.verifyCpuUs, 1)]);
      }
    }
    out.push(table(`Proof of work, powBaseBits ${r.pow.baseBits} (default), in-thread solver`, ['backend: record', 'expected hashes', 'samples', 'solve median ms CPU', 'solve p95 ms CPU', 'solve median ms wall', 'model median ms', 'model p95 ms', 'verify µs CPU'], rows));
    out.push(
      `SHA-256 (40 B) per CPU-second: ${Object.entries(r.pow.backends).map(([n, b]) => `${n} ${fmt(b.hashRatePerCpuS / 1e6, 2)} M (wall ${fmt(b.hashRatePerWallS / 1e6, 2)} M/s)`).join(', ')}. ` +
        'Solve time is geometric, so a few samples say little about p95: the model columns use the measured CPU hash rate (median = 0.69 × work/rate, p95 = 3.0 × work/rate).',
    );
  }

  if (r.identity) {
    const i = r.identity;
    out.push(
      table(`Identity: ID puzzle at difficulty ${i.difficulty} (default), ${i.samples} samples`, ['backend', 'keygen per CPU-s', 'median ms CPU', 'p95 ms CPU', 'median ms wall', 'p95 ms wall', 'model median ms', 'model p95 ms'], Object.entries(i.backends).map(([n, b]) => [n, fmt(b.keygenPerCpuS, 0), fmt(b.cpuMs.median, 0), fmt(b.cpuMs.p95, 0), fmt(b.wallMs.median, 0), fmt(b.wallMs.p95, 0), fmt(b.model.medianMs, 0), fmt(b.model.p95Ms, 0)])),
    );
  }

  if (r.crypto) {
    out.push(
      table('Crypto ops per CPU-second (one thread, sequential awaits, 200-byte messages; wall-clock rate in brackets)', ['backend', 'Ed25519 sign', 'Ed25519 verify', 'SHA-256 (64 B)'], Object.entries(r.crypto.backends).map(([n, c]) => [n, ...[c.sign, c.verify, c.sha256Small].map((x) => `${fmt(x.cpu, 0)} (${fmt(x.wall, 0)})`)])),
    );
  }
  for (const [name, err] of Object.entries(r.errors ?? {})) out.push(`\n!! section ${name} failed: ${err}`);
  out.push(`\nTotal ${fmt(meta.totalS, 1)} s (${SECTIONS.filter((n) => r[n]).map((n) => `${n} ${fmt(r[n].sectionS, 0)} s`).join(', ')}).`);
  return out.join('\n');
}

function runSection(name) {
  const file = join(os.tmpdir(), `spydht-bench-${process.pid}-${name}.json`);
  const udpN = argOf('--udp-n');
  const args = ['--expose-gc', fileURLToPath(import.meta.url), '--section', name, '--out', file, ...(QUICK ? ['--quick'] : []), ...(udpN ? ['--udp-n', udpN] : [])];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    const limitMs = QUICK ? 120_000 : 300_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      try {
        const result = JSON.parse(readFileSync(file, 'utf8'));
        rmSync(file, { force: true });
        resolve({ result });
      } catch {
        resolve({ error: `exit ${code ?? signal}${signal === 'SIGKILL' ? ` (over ${limitMs / 1000} s)` : ''}` });
      }
    });
  });
}

function gitCommit() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

async function main() {
  const section = argOf('--section');
  if (section) {
    const fn = RUNNERS[section];
    if (!fn) throw new Error(`unknown section ${section}; one of ${SECTIONS.join(', ')}`);
    const result = await fn();
    const out = argOf('--out');
    if (out) writeFileSync(out, JSON.stringify(result));
    else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const only = argOf('--only')?.split(',') ?? SECTIONS;
  const started = performance.now();
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const cpus = os.cpus();
  const results = {
    meta: {
      date: new Date().toISOString(),
      quick: QUICK,
      version: pkg.version,
      node: process.version,
      v8: process.versions.v8,
      platform: `${os.type()} ${os.release()} ${os.arch()}`,
      cpus: cpus.length,
      cpuModel: cpus[0]?.model?.replace(/\s+/g, ' ').trim() ?? 'unknown',
      memGiB: Math.round(os.totalmem() / 2 ** 30),
      commit: gitCommit(),
      loadAvgStart: os.loadavg(),
    },
    reference: { bittorrentDht: BITTORRENT_DHT },
    errors: {},
  };
  for (const name of only) {
    const t = performance.now();
    const { result, error } = await runSection(name);
    if (result) results[name] = { ...result, sectionS: (performance.now() - t) / 1000, loadAvgAfter: os.loadavg()[0] };
    else results.errors[name] = error;
  }
  results.meta.totalS = (performance.now() - started) / 1000;
  results.meta.loadAvgEnd = os.loadavg();
  const outFile = argOf('--out') ?? join(HERE, 'results', 'latest.json');
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  console.log(report(results));
  console.log(`\nJSON: ${outFile}`);
  if (Object.keys(results.errors).length) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

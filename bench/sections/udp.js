/**
 * Real UDP on 127.0.0.1: N=50 nodes (30 with --quick, --udp-n to change) in one process, side by
 * side with bittorrent-dht's figures; gets with no loss, then with 10 % of every node's outgoing
 * datagrams dropped, as bittorrent-dht was measured.
 */
import { performance } from 'node:perf_hooks';
import { fmt, log, table } from '../lib/format.js';
import { settleMemory } from '../lib/memory.js';
import { pickGetter, sumOf } from '../lib/nodes.js';
import { median, summary } from '../lib/stats.js';

/**
 * bittorrent-dht's figures for the side-by-side row, measured by this project on its 2-core test
 * machine on 2026-11-23 (bittorrent-dht 11.0.12, N=200 nodes in one process on 127.0.0.1, sends
 * wrapped to count and drop datagrams). The compare section runs both live, side by side; this
 * row is the fixed reference printed beside the udp section's own swarm.
 */
export const BITTORRENT_DHT = {
  label: 'bittorrent-dht 11.0.12 (measured 2026-11-23)',
  origin: 'measured by this project on its 2-core test machine on 2026-11-23 (bittorrent-dht 11.0.12, N=200 nodes in one process on 127.0.0.1)',
  setup: 'UDP 127.0.0.1, one process, N=200, BEP 44 values < 1000 B',
  n: 200,
  get: { success: '200/200', medianMs: 1.9, p95Ms: 5.0, datagramsPerGet: 32, queriesPerGet: 16, responsesPerGet: 16 },
  putMs: 7.5,
  rssKiBPerNode: 300,
  readyS: '0.55–2.2',
  lossy10: { getS: '2.0–2.5', success: '29/30', note: '2 s timeout; waits for every query in flight' },
};

export async function measure({ quick, udpN }) {
  const { createNode, reachableAddresses, udpTransportOf, seededRandom, randomIndex } = await import('../../dist/node/index.js');
  // With k = 20 replicas, N must be well above 20 or every node holds every value.
  const N = Number(udpN ?? (quick ? 30 : 50));
  const OPS = quick ? 30 : 100;
  const LOSSY_OPS = quick ? 20 : 50;
  const network = { name: 'bench', idDifficulty: 4, powBaseBits: 10 };
  const common = { host: '127.0.0.1', port: 0, network, maxPerIp: 64 };
  // One seeded sequence for putters, lookup origins and getters, drawn in that order.
  const rand = seededRandom(7);
  const pickIndex = (n) => randomIndex(rand, n);

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
      const getter = pickGetter(nodes, want, pickIndex);
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
  for (let i = 0; i < (quick ? 10 : 30); i++) {
    const node = nodes[pickIndex(N)];
    const t = performance.now();
    await node.findNode(node.crypto.randomBytes(32));
    findNodeMs.push(performance.now() - t);
  }

  const clean = await getRound(OPS);
  log(`[udp] gets ${clean.ok}/${clean.total}: median ${fmt(clean.ms.median, 2)} ms, p95 ${fmt(clean.ms.p95, 2)} ms, ${fmt(clean.datagrams.median, 0)} datagrams`);

  // 10 % loss on every node's outgoing datagrams (as the bittorrent-dht measurement did), on a
  // sequence of its own so the drops and the getter picks do not shift each other.
  const lossRand = seededRandom(99);
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

/** The side-by-side table; the bare-socket control (sockets section), when run, puts the RSS figure in proportion. */
export function report(u, r) {
  const b = BITTORRENT_DHT;
  return [
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
    `spydht UDP: gets: median hops ${fmt(u.gets.hops.median, 0)}, median peers queried ${fmt(u.gets.queried.median, 0)}, ${u.gets.retriesTotal} retransmissions in ${u.gets.total} gets. ` +
      `Puts: ${u.puts.ok}/${u.puts.total} (median ${fmt(u.puts.stored.median, 0)} replicas, ${fmt(u.puts.datagrams.median, 0)} datagrams, p95 ${fmt(u.puts.ms.p95, 1)} ms, ${u.puts.retriesTotal} retransmissions in all); ` +
      `findNode (the lookup inside a put) median ${fmt(u.findNodeMs.median, 1)} ms, p95 ${fmt(u.findNodeMs.p95, 1)} ms.\n` +
      `Memory: heap used ${fmt(u.memory.heapUsedKiBPerNode, 0)} KiB/node (V8 heap committed ${fmt(u.memory.heapTotalKiBPerNode, 0)}, external ${fmt(u.memory.externalKiBPerNode, 0)}), RSS ${fmt(u.memory.rssKiBPerNode, 0)} KiB/node${u.memory.gc ? '' : ' (no gc available: rough)'}` +
      `${r.sockets ? `; a bare dgram socket with similar traffic and no DHT costs ${fmt(r.sockets.rssKiBPerSocket, 0)} KiB RSS` : ''}. ` +
      `Network ${JSON.stringify(u.network)}, maxPerIp 64. 10 % loss: ${u.lossy.droppedDatagrams} datagrams dropped, ${u.lossy.gets.retriesTotal} retransmissions.`,
  ];
}

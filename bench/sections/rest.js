/**
 * A swarm at rest after its operations: what 200 idle UDP nodes allocate, and when V8 gives back
 * the young generation their operations grew. The compare section's spydht swarm (same adapter,
 * an IP per node), 100 puts and 100 gets, then: allocation sampled over 5 s of rest (the
 * inspector's HeapProfiler, objects already collected included), and the heap spaces and RSS
 * after `gc()` at 0, 5, 10 and 20 s into the rest. V8 shrinks its young generation at a full
 * collection only once the process has allocated little (under ~1 MB/s) for a few seconds, so
 * what idle nodes allocate decides how long a process keeps the memory a burst took.
 */
import v8 from 'node:v8';
import { Session } from 'node:inspector/promises';
import { fmt, log, table } from '../lib/format.js';
import { settleMemory } from '../lib/memory.js';

const PAUSES_S = [0, 5, 5, 10];
const SAMPLE_MS = 5000;
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** Bytes of every sample in a sampled heap profile. */
function sampledBytes(profile) {
  let total = 0;
  const walk = (node) => {
    total += node.selfSize;
    for (const child of node.children ?? []) walk(child);
  };
  walk(profile.head);
  return total;
}

function reading(restS, mem) {
  const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, s.physical_space_size]));
  return { restS, rssMiB: mem.rss / 2 ** 20, heapUsedMiB: mem.heapUsed / 2 ** 20, youngMiB: (spaces.new_space ?? 0) / 2 ** 20, oldMiB: (spaces.old_space ?? 0) / 2 ** 20 };
}

export async function measure({ quick }) {
  const { hostFor } = await import('../lib/compare/drive.js');
  const { spydhtAdapter } = await import('../lib/compare/adapter-spydht.js');
  const n = quick ? 100 : 200;
  const ops = quick ? 30 : 100;
  const a = await spydhtAdapter();
  await a.prepare(n);
  const first = await a.createFirst(hostFor(0));
  const boot = a.addressOf(first);
  const nodes = [first];
  for (let i = 1; i < n; i += 10) nodes.push(...(await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, j) => a.createJoining(hostFor(i + j), boot)))));
  let seed = 1;
  const pick = (m) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % m);
  const keys = [];
  for (let i = 0; i < ops; i++) keys.push((await a.put(nodes[pick(n)], `rest value ${i} `.padEnd(100, '.'))).key);
  for (const key of keys) {
    const candidates = nodes.filter((node) => !a.holds(node, key));
    await a.get(candidates[pick(candidates.length)], key);
  }
  log(`[rest] ${n} nodes, ${ops} puts and ${ops} gets done; resting`);

  const readings = [];
  let sampledMB;
  for (const [i, wait] of PAUSES_S.entries()) {
    if (i === 1) {
      // The first 5 s of rest, sampled: what the idle nodes allocate.
      const session = new Session();
      session.connect();
      await session.post('HeapProfiler.enable');
      await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
      await pause(SAMPLE_MS);
      const { profile } = await session.post('HeapProfiler.stopSampling');
      session.disconnect();
      sampledMB = sampledBytes(profile) / 2 ** 20;
    } else await pause(wait * 1000);
    const restS = PAUSES_S.slice(0, i + 1).reduce((x, y) => x + y, 0);
    readings.push(reading(restS, await settleMemory()));
  }
  await Promise.all(nodes.map((node) => a.close(node)));
  const result = { n, ops, sampledMBPer5s: sampledMB, readings };
  log(`[rest] idle allocation ${fmt(sampledMB, 1)} MB per 5 s; young generation ${readings.map((r) => `${fmt(r.youngMiB, 0)} MiB at ${r.restS} s`).join(', ')}`);
  return result;
}

export function report(r) {
  return [
    table(
      `A swarm at rest: ${r.n} UDP nodes after ${r.ops} puts and ${r.ops} gets (one process); allocation sampled over the first 5 s of rest: ${fmt(r.sampledMBPer5s, 1)} MB`,
      ['seconds into the rest', 'RSS MiB', 'young generation MiB', 'old generation MiB', 'JS heap used MiB'],
      r.readings.map((x) => [String(x.restS), fmt(x.rssMiB, 1), fmt(x.youngMiB, 1), fmt(x.oldMiB, 1), fmt(x.heapUsedMiB, 1)]),
    ),
  ];
}

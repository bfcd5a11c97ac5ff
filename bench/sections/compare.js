/**
 * Side by side with bittorrent-dht 11 (a devDependency of the bench): the same 200 nodes each on
 * real UDP on loopback (each node its own 127.x.y.1), one process per implementation, run back to back; the same steps
 * (bench/lib/compare/drive.js) and the same wrapper around every dgram send counting datagrams
 * and dropping 10 % of them in the lossy phase. `node bench/run.js --only compare`.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fmt, log, table } from '../lib/format.js';

const CHILD = fileURLToPath(new URL('../lib/compare/child.js', import.meta.url));
/** In run order. bittorrent-dht first: it is quick, so the two runs are minutes apart at most. */
const IMPLEMENTATIONS = ['bittorrent-dht', 'spydht'];
/** Each implementation's run is killed after this long (bittorrent-dht's lossy phase waits out 2 s timeouts). */
const CHILD_LIMIT_MS = 8 * 60_000;
/** The section as a whole (both children), for bench/run.js. */
export const TIME_LIMIT_MS = 2 * CHILD_LIMIT_MS + 30_000;

/** One implementation's run in a fresh process with --expose-gc; resolves with its figures. */
export function runChild(impl, args) {
  const out = join(os.tmpdir(), `spydht-compare-${process.pid}-${impl}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', CHILD, impl, ...args.map(String), out], { stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), CHILD_LIMIT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      try {
        const result = JSON.parse(readFileSync(out, 'utf8'));
        rmSync(out, { force: true });
        resolve(result);
      } catch {
        reject(new Error(`${impl} run ended (${code ?? signal}) without figures`));
      }
    });
  });
}

export async function measure({ quick, compareN }) {
  const n = Number(compareN ?? (quick ? 100 : 200));
  const ops = quick ? 30 : 100;
  // At 10 % loss a bittorrent-dht get takes ~2.3 s and a put ~5 s (they wait out 2 s timeouts).
  const lossyPuts = quick ? 5 : 10;
  const lossyGets = quick ? 10 : 30;
  const runs = {};
  const started = Date.now();
  for (const impl of IMPLEMENTATIONS) {
    log(`[compare] ${impl}: ${n} nodes, ${ops} puts + ${ops} gets at 0 %, ${lossyPuts} + ${lossyGets} at 10 % loss`);
    runs[impl] = await runChild(impl, [n, ops, lossyPuts, lossyGets]);
  }
  return { n, ops, lossyPuts, lossyGets, minutes: (Date.now() - started) / 60_000, runs };
}

/** spydht ÷ bittorrent-dht, and whether the goal for that figure is met. */
function row(label, theirs, ours, digits, goal) {
  const ratio = theirs > 0 ? ours / theirs : NaN;
  const verdict = goal === undefined ? '' : Number.isFinite(ratio) ? `≤ ${goal}×: ${ratio <= goal ? 'met' : 'missed'}` : '';
  return [label, fmt(theirs, digits), fmt(ours, digits), Number.isFinite(ratio) ? `${fmt(ratio, ratio < 0.1 ? 3 : 2)}×` : '–', verdict];
}

const success = (x) => `${x.ok}/${x.total}`;

export function report(c) {
  const b = c.runs['bittorrent-dht'];
  const s = c.runs.spydht;
  const bc = b.clean;
  const sc = s.clean;
  const bl = b.lossy;
  const sl = s.lossy;
  return [
    table(`Side by side with bittorrent-dht ${b.version}: N=${c.n} each, real UDP on loopback, an IP per node, one process each, back to back (${fmt(c.minutes, 1)} min)`, ['figure', `bittorrent-dht ${b.version}`, `spydht ${s.version}`, 'ratio', 'goal'], [
      row(`ready: ${c.n - 1} nodes joined, s`, b.readyS, s.readyS, 2, 2),
      row('process CPU ms per join (all threads)', b.cpuMsPerJoin, s.cpuMsPerJoin, 1),
      row('datagrams per join', b.datagramsPerJoin, s.datagramsPerJoin, 0),
      row('get median ms (0 % loss)', bc.gets.ms.median, sc.gets.ms.median, 2, 1),
      row('get p95 ms (0 % loss)', bc.gets.ms.p95, sc.gets.ms.p95, 2, 1),
      row('datagrams per get (median)', bc.gets.datagrams.median, sc.gets.datagrams.median, 0),
      row('put median ms, with proof of work', bc.puts.ms.median, sc.puts.ms.median, 1),
      row('put median ms, proof of work excluded', bc.puts.msWithoutPow.median, sc.puts.msWithoutPow.median, 1, 2),
      row('put p95 ms, proof of work excluded', bc.puts.msWithoutPow.p95, sc.puts.msWithoutPow.p95, 1),
      row('process CPU ms per put, proof of work excluded (all threads)', bc.puts.cpuMsWithoutPow, sc.puts.cpuMsWithoutPow, 1),
      row('datagrams per put (median)', bc.puts.datagrams.median, sc.puts.datagrams.median, 0),
      row('replicas per put (median)', bc.puts.stored.median, sc.puts.stored.median, 0),
      row('RSS KiB per node, swarm joined', b.memory.ready.rssKiBPerNode, s.memory.ready.rssKiBPerNode, 0, 1.5),
      row('RSS KiB per node, after the operations', b.memory.afterOps.rssKiBPerNode, s.memory.afterOps.rssKiBPerNode, 0),
      row('JS heap used KiB per node, swarm joined', b.memory.ready.heapUsedKiBPerNode, s.memory.ready.heapUsedKiBPerNode, 0),
      row('JS heap used KiB per node, after the operations', b.memory.afterOps.heapUsedKiBPerNode, s.memory.afterOps.heapUsedKiBPerNode, 0),
      row(`RSS KiB per node, ${s.memory.rested.restS} s after the operations (swarm at rest)`, b.memory.rested.rssKiBPerNode, s.memory.rested.rssKiBPerNode, 0, 1.5),
      row(`JS heap used KiB per node, ${s.memory.rested.restS} s after the operations`, b.memory.rested.heapUsedKiBPerNode, s.memory.rested.heapUsedKiBPerNode, 0),
      row('get median ms (10 % loss)', bl.gets.ms.median, sl.gets.ms.median, 1),
      row('get p95 ms (10 % loss)', bl.gets.ms.p95, sl.gets.ms.p95, 1),
      row('datagrams per get (10 % loss)', bl.gets.datagrams.median, sl.gets.datagrams.median, 0),
      row('put median ms (10 % loss), proof of work excluded', bl.puts.msWithoutPow.median, sl.puts.msWithoutPow.median, 0),
      ['successes at 10 % loss: gets, puts', `${success(bl.gets)}, ${success(bl.puts)}`, `${success(sl.gets)}, ${success(sl.puts)}`, '', ''],
      ['successes at 0 % loss: gets, puts', `${success(bc.gets)}, ${success(bc.puts)}`, `${success(sc.gets)}, ${success(sc.puts)}`, '', ''],
    ]),
    `spydht: ${s.settings}; identities made before the clock started (${fmt(s.prepared.identityMsPerNode, 1)} ms each at ID difficulty ${s.prepared.idDifficulty}; ` +
      `the default 9 costs ~60–100 ms with node:crypto, identity section); proof of work per put median ${fmt(sc.puts.powMs.median, 0)} ms, p95 ${fmt(sc.puts.powMs.p95, 0)} ms (wall, in-thread solver). ` +
      `bittorrent-dht: ${b.settings}. Median routing table after joining: bittorrent-dht ${fmt(b.tableSize.median, 0)}, spydht ${fmt(s.tableSize.median, 0)}. ` +
      `10 % loss: ${bl.dropped} / ${sl.dropped} datagrams dropped. Datagrams are every send in the process (dgram.Socket#send), counted below either library.`,
  ];
}

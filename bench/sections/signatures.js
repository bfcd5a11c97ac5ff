/**
 * What Ed25519 costs the one-process comparison: the compare section's run (bench/lib/compare/
 * drive.js: 200 nodes on real UDP, each its own 127.x.y.1, joined 10 at a time, then puts and gets
 * one at a time) of bittorrent-dht, of spydht as shipped, of spydht with signing and checking made
 * free (every signature 64 zero bytes, every check passing), and of spydht with signing free and
 * each check costing one X25519 key agreement (the CPU of a handshake by static key agreement and
 * MACs; adapter-spydht.js `withModelledSignatures`). The last two are insecure, measurements only.
 * Each spydht variant runs twice, interleaved, since back-to-back runs of this CPU-bound
 * comparison move by more than a small change. `node bench/run.js --only signatures`.
 *
 * In one process every node's joins and stores share two cores, so the swarm's signatures and
 * checks add up on them; on separate machines each node pays its own few, in parallel. The
 * difference between the two spydht columns is what the signatures cost this run; what is left
 * beside bittorrent-dht is everything else (the datagrams, tokens, limits and tables).
 */
import { fmt, log, table } from '../lib/format.js';
import { runChild } from './compare.js';

/** Smaller than compare's: ready and the put at 0 % loss are the figures wanted here. */
const OPS = 50;
const VARIANTS = ['spydht', 'spydht-free-signatures', 'spydht-x25519-signatures'];
const RUNS = ['bittorrent-dht', ...VARIANTS, ...VARIANTS];
export const TIME_LIMIT_MS = 15 * 60_000;

export async function measure({ quick, compareN }) {
  const n = Number(compareN ?? (quick ? 100 : 200));
  const ops = quick ? 20 : OPS;
  const started = Date.now();
  const runs = [];
  for (const impl of RUNS) {
    log(`[signatures] ${impl}: ${n} nodes, ${ops} puts + ${ops} gets at 0 % loss`);
    // No lossy phase: 0 puts and 0 gets at 10 % loss.
    runs.push(await runChild(impl, [n, ops, 0, 0]));
  }
  return { n, ops, minutes: (Date.now() - started) / 60_000, runs };
}

const figures = (r) => ({
  ready: r.readyS,
  joinCpu: r.cpuMsPerJoin,
  put: r.clean.puts.msWithoutPow.median,
  putCpu: r.clean.puts.cpuMsWithoutPow,
  ok: r.clean.puts.ok === r.clean.puts.total && r.clean.gets.ok === r.clean.gets.total,
});

export function report(r) {
  const of = (name) => r.runs.filter((x) => x.implementation === name).map(figures);
  const [bt] = of('bittorrent-dht');
  const both = (xs, key, digits) => xs.map((x) => fmt(x[key], digits)).join(' / ');
  const ratios = (xs, key) => xs.map((x) => `${fmt(x[key] / bt[key], 2)}×`).join(' / ');
  const rows = [
    ['ready: joins done, s', 'ready', 2],
    ['process CPU ms per join (all threads)', 'joinCpu', 1],
    ['put median ms, proof of work excluded', 'put', 1],
    ['process CPU ms per put, proof of work excluded (all threads)', 'putCpu', 1],
  ].map(([label, key, digits]) => [label, fmt(bt[key], digits), ...VARIANTS.flatMap((v) => [both(of(v), key, digits), ratios(of(v), key)])]);
  const allOk = r.runs.map(figures).every((x) => x.ok);
  return [
    table(
      `What Ed25519 costs the one-process comparison: N=${r.n}, real UDP, ${r.ops} puts and gets at 0 % loss; each spydht variant twice, interleaved (${fmt(r.minutes, 1)} min)`,
      ['figure', `bittorrent-dht ${r.runs[0].version}`, 'spydht (run 1 / run 2)', 'ratio', 'Ed25519 made free (INSECURE)', 'ratio', 'signing free, a check = one X25519 agreement (INSECURE)', 'ratio'],
      rows,
    ),
    `Every put and get succeeded in every run: ${allOk ? 'yes' : 'NO'}. "Made free": each signature is 64 zero bytes and each check passes. "One X25519 agreement": ` +
      `the same, but each check first computes one X25519 agreement in the calling thread, the CPU a handshake by static key agreement would cost (its put column ` +
      `also prices the holders' checks of records' owner signatures so, which would stay Ed25519). Bench only: anyone could then claim any ID. The difference ` +
      `between the spydht columns is what signing and checking cost when all ${r.n} nodes share this process's two cores.`,
  ];
}

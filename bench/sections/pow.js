/**
 * Proof of work: in-thread solve time at the default base difficulty for four record kinds, and
 * what verifying costs a storing node, for node:crypto and @noble.
 */
import { performance } from 'node:perf_hooks';
import { fmt, log, table } from '../lib/format.js';
import { median, p95, summary } from '../lib/stats.js';
import { stopwatch } from '../lib/stopwatch.js';

/**
 * Owned records (the default), priced as protocol v3 does: on the full wire size (label + content
 * + 148 bytes of key, lengths, expiry, owner fields and nonce) and at least an hour of lifetime.
 * "100 B / 24 h" is the default put.
 */
const OWNED_OVERHEAD = 148;
const SPECS = [
  { label: '100 B / 1 min', size: 100 + OWNED_OVERHEAD, ttl: 60 },
  { label: '100 B / 1 h', size: 100 + OWNED_OVERHEAD, ttl: 3600 },
  { label: '100 B / 24 h', size: 100 + OWNED_OVERHEAD, ttl: 86400 },
  { label: '4 KB / 24 h', size: 4096 + OWNED_OVERHEAD, ttl: 86400 },
  { label: '4 KB / 7 d', size: 4096 + OWNED_OVERHEAD, ttl: 7 * 86400 },
];
/** The lifetime floor of the pricing (storage/record.ts POW_MIN_TTL_SECONDS). */
const MIN_TTL = 3600;

export async function measure({ quick }) {
  const { nobleCrypto } = await import('../../dist/index.js');
  const { nodeCrypto } = await import('../../dist/node/index.js');
  // powWork, powTarget, powInput and checkPow are not exported by the package, so they come from their module.
  const { powWork, powTarget, powInput, inThreadPowSolver, checkPow, DEFAULT_POW_BASE_BITS } = await import('../../dist/crypto/pow.js');
  const { powSearch } = await import('../../dist/crypto/pow-search.js');
  const bits = DEFAULT_POW_BASE_BITS;
  // Samples wanted per record kind, and a time cap per kind (at least MIN_SAMPLES are always taken).
  const wanted = quick ? [10, 10, 6, 3, 2] : [30, 30, 20, 8, 5];
  const capMs = quick ? 1500 : 4000;
  const MIN_SAMPLES = quick ? 2 : 3;
  const out = { baseBits: bits, backends: {} };
  // The solver's own search (crypto/pow-search.ts: one SHA-256 block per nonce, nothing
  // allocated) is the same whichever backend verifies; its rate drives the model columns.
  const search = powSearch(nodeCrypto.randomBytes(32), 0, 0);
  const searchLoop = (ms) => {
    let hashes = 0;
    const sw = stopwatch();
    while (sw().wall < ms) {
      search.run(0, hashes, 10_000);
      hashes += 10_000;
    }
    const t = sw();
    return { wall: hashes / (t.wall / 1000), cpu: hashes / (t.cpu / 1000) };
  };
  searchLoop(100);
  const hashRate = searchLoop(quick ? 300 : 700);
  out.searchRatePerCpuS = hashRate.cpu;
  out.searchRatePerWallS = hashRate.wall;
  for (const crypto of [nodeCrypto, nobleCrypto]) {
    // The backend's SHA-256 on the same 40 bytes: what verifying pays per hash (and what the solver
    // paid per nonce before it hashed in its own code).
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
    const backendRate = hashLoop(quick ? 300 : 700);
    const solver = inThreadPowSolver(crypto);
    const rows = [];
    for (const [idx, spec] of SPECS.entries()) {
      const work = powWork(bits, spec.size, Math.max(MIN_TTL, spec.ttl));
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
      const reps = quick ? 5000 : 20000;
      const sw = stopwatch();
      for (let i = 0; i < reps; i++) checkPow(crypto, powInput(crypto, fields), nonce, target);
      const v = sw();
      // Solve time is geometric (≈ exponential): median = ln 2 × mean, p95 = ln 20 × mean.
      const model = { meanMs, medianMs: Math.LN2 * meanMs, p95Ms: Math.log(20) * meanMs };
      rows.push({ ...spec, work: Number(work), model, solveCpuMs: summary(cpu), solveWallMs: summary(wall), verifyCpuUs: (v.cpu * 1000) / reps, verifyWallUs: (v.wall * 1000) / reps });
      log(`[pow] ${crypto.name} ${spec.label}: ${Number(work)} hashes, CPU median ${fmt(median(cpu), 0)} ms, p95 ${fmt(p95(cpu), 0)} ms; wall median ${fmt(median(wall), 0)} ms (${wall.length} samples; model median ${fmt(model.medianMs, 0)}, p95 ${fmt(model.p95Ms, 0)})`);
    }
    out.backends[crypto.name] = { hashRatePerCpuS: backendRate.cpu, hashRatePerWallS: backendRate.wall, specs: rows };
  }
  return out;
}

export function report(pow) {
  const rows = [];
  for (const [name, b] of Object.entries(pow.backends)) {
    for (const s of b.specs) {
      rows.push([`${name}: ${s.label}`, s.work, s.solveCpuMs.n, fmt(s.solveCpuMs.median, 0), fmt(s.solveCpuMs.p95, 0), fmt(s.solveWallMs.median, 0), fmt(s.model.medianMs, 0), fmt(s.model.p95Ms, 0), fmt(s.verifyCpuUs, 1)]);
    }
  }
  return [
    table(`Proof of work, powBaseBits ${pow.baseBits} (default), in-thread solver`, ['backend: record', 'expected hashes', 'samples', 'solve median ms CPU', 'solve p95 ms CPU', 'solve median ms wall', 'model median ms', 'model p95 ms', 'verify µs CPU'], rows),
    `Solver search (crypto/pow-search.ts, either backend): ${fmt(pow.searchRatePerCpuS / 1e6, 2)} M nonces per CPU-second (wall ${fmt(pow.searchRatePerWallS / 1e6, 2)} M/s). ` +
      `Backend SHA-256 (40 B) per CPU-second, what a verifier pays per hash: ${Object.entries(pow.backends).map(([n, b]) => `${n} ${fmt(b.hashRatePerCpuS / 1e6, 2)} M (wall ${fmt(b.hashRatePerWallS / 1e6, 2)} M/s)`).join(', ')}. ` +
      'Solve time is geometric, so a few samples say little about p95: the model columns use the solver\'s measured CPU rate (median = 0.69 × work/rate, p95 = 3.0 × work/rate).',
  ];
}

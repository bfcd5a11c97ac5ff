/**
 * Identity: how long the ID puzzle at the default difficulty takes to solve, per crypto backend,
 * next to a model from the measured key-generation rate (each attempt is one key generation: the
 * backend's `generateKeyPair` where it has one, as the search uses it, else a seed and its public key).
 */
import { fmt, log, table } from '../lib/format.js';
import { median, p95, summary } from '../lib/stats.js';
import { stopwatch } from '../lib/stopwatch.js';

export async function measure({ quick }) {
  const { Identity, DEFAULT_ID_DIFFICULTY, nobleCrypto } = await import('../../dist/index.js');
  const { nodeCrypto } = await import('../../dist/node/index.js');
  const samples = quick ? 8 : 20;
  const out = { difficulty: DEFAULT_ID_DIFFICULTY, samples, backends: {} };
  for (const crypto of [nobleCrypto, nodeCrypto]) {
    // Key generations per second: what each puzzle attempt costs.
    const keygen = crypto.generateKeyPair ? () => crypto.generateKeyPair() : () => crypto.publicKeyFromSeed(crypto.randomBytes(32));
    for (let i = 0; i < 50; i++) keygen(); // warm-up (noble builds tables)
    let keys = 0;
    const k = stopwatch();
    while (k().wall < (quick ? 300 : 700)) {
      keygen();
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

export function report(i) {
  return [
    table(
      `Identity: ID puzzle at difficulty ${i.difficulty} (default), ${i.samples} samples`,
      ['backend', 'keygen per CPU-s', 'median ms CPU', 'p95 ms CPU', 'median ms wall', 'p95 ms wall', 'model median ms', 'model p95 ms'],
      Object.entries(i.backends).map(([n, b]) => [n, fmt(b.keygenPerCpuS, 0), fmt(b.cpuMs.median, 0), fmt(b.cpuMs.p95, 0), fmt(b.wallMs.median, 0), fmt(b.wallMs.p95, 0), fmt(b.model.medianMs, 0), fmt(b.model.p95Ms, 0)]),
    ),
  ];
}

/** Crypto throughput: Ed25519 sign / verify and SHA-256 per backend, one thread, sequential awaits. */
import { fmt, log, table } from '../lib/format.js';
import { stopwatch } from '../lib/stopwatch.js';

export async function measure({ quick }) {
  const { nobleCrypto } = await import('../../dist/index.js');
  const { nodeCrypto } = await import('../../dist/node/index.js');
  const windowMs = quick ? 400 : 1000;
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

export function report(c) {
  return [
    table(
      'Crypto ops per CPU-second (one thread, sequential awaits, 200-byte messages; wall-clock rate in brackets)',
      ['backend', 'Ed25519 sign', 'Ed25519 verify', 'SHA-256 (64 B)'],
      Object.entries(c.backends).map(([n, b]) => [n, ...[b.sign, b.verify, b.sha256Small].map((x) => `${fmt(x.cpu, 0)} (${fmt(x.wall, 0)})`)]),
    ),
  ];
}

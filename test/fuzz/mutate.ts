/**
 * Structure-aware mutants of real captured messages, as fast-check arbitraries: fast-check picks
 * the mutations (and shrinks a failing case to the smallest one), the corpus keeps them close to
 * valid so they get past the first length check and into the decoders. Mutations: bit flips,
 * byte sets, truncation, extension, 16-bit length-field edits (the wire's lengths are big-endian
 * u16s) to interesting values, splices of two captures, duplicated chunks; 1 to 4 stacked.
 */
import fc from 'fast-check';

/** How many cases a fuzz test runs: its share of SPYDHT_FUZZ_CASES (npm run soak) or of 10^4 (npm test). */
export function fuzzCases(share: number): number {
  const total = Number(process.env.SPYDHT_FUZZ_CASES ?? 10_000);
  return Math.max(1, Math.round(total * share));
}

/** A test's time limit for `cases` cases: generous per case, so a soak of 10^6 has room. */
export function fuzzTimeoutMs(cases: number): number {
  return Math.max(120_000, cases * 5);
}

/** A fixed seed unless SPYDHT_FUZZ_SEED is set: a failure in `npm test` reproduces. */
export const FUZZ_SEED = Number(process.env.SPYDHT_FUZZ_SEED ?? 20261202);

const INTERESTING_U16 = [0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x3ff, 0x400, 0x7fff, 0x8000, 0xfffe, 0xffff];

type Mutation = (bytes: Uint8Array, corpus: readonly Uint8Array[]) => Uint8Array;

const at = (i: number, length: number): number => (length === 0 ? 0 : i % length);

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ i: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }).map(({ i, bit }): Mutation => (b) => {
    const out = b.slice();
    if (out.length > 0) out[at(i, out.length)]! ^= 1 << bit;
    return out;
  }),
  fc.record({ i: fc.nat(), v: fc.integer({ min: 0, max: 255 }) }).map(({ i, v }): Mutation => (b) => {
    const out = b.slice();
    if (out.length > 0) out[at(i, out.length)] = v;
    return out;
  }),
  fc.nat().map((n): Mutation => (b) => b.slice(0, at(n, b.length + 1))),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((extra): Mutation => (b) => concat(b, extra)),
  fc.record({ i: fc.nat(), v: fc.oneof(fc.constantFrom(...INTERESTING_U16), fc.integer({ min: 0, max: 0xffff })), delta: fc.integer({ min: -2, max: 2 }) }).map(
    ({ i, v, delta }): Mutation =>
      (b) => {
        if (b.length < 2) return b.slice();
        const out = b.slice();
        const p = at(i, out.length - 1);
        // Either an interesting value, or the current value nudged by ±2 (off-by-one lengths).
        const now = (out[p]! << 8) | out[p + 1]!;
        const next = delta === 0 ? v : (now + delta + 0x10000) % 0x10000;
        out[p] = next >> 8;
        out[p + 1] = next & 0xff;
        return out;
      },
  ),
  fc.record({ other: fc.nat(), cut: fc.nat(), from: fc.nat() }).map(({ other, cut, from }): Mutation => (b, corpus) => {
    const o = corpus[at(other, corpus.length)]!;
    return concat(b.slice(0, at(cut, b.length + 1)), o.slice(at(from, o.length + 1)));
  }),
  fc.record({ start: fc.nat(), len: fc.integer({ min: 1, max: 64 }), to: fc.nat() }).map(({ start, len, to }): Mutation => (b) => {
    const s = at(start, b.length + 1);
    const chunk = b.slice(s, s + len);
    const p = at(to, b.length + 1);
    return concat(b.slice(0, p), chunk, b.slice(p));
  }),
);

/** Mutants of the corpus: one capture, 1–4 mutations applied in turn. */
export function mutants(corpus: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  if (corpus.length === 0) throw new Error('empty corpus');
  return fc
    .record({ seed: fc.nat(), steps: fc.array(mutation, { minLength: 1, maxLength: 4 }) })
    .map(({ seed, steps }) => steps.reduce((b, m) => m(b, corpus), corpus[seed % corpus.length]!));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Runs `gc()` where it can (v8's flag set at run time), so heap figures are live objects only. */
export async function liveHeapBytes(): Promise<number> {
  const v8 = await import('node:v8');
  const vm = await import('node:vm');
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

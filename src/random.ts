/**
 * A small, fast, seeded pseudo-random generator (mulberry32) for simulations and benchmarks, which
 * must be reproducible. Never for anything secret: keys, request IDs and nonces come from the crypto
 * backend's CSPRNG.
 */
export type SeededRandom = () => number;

/** Returns a function giving uniform numbers in [0, 1), the same sequence for the same seed. */
export function seededRandom(seed: number): SeededRandom {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform integer in [0, n) from `random`. */
export function randomIndex(random: SeededRandom, n: number): number {
  return Math.floor(random() * n);
}

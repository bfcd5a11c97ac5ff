/** The library's createTestnet (node:crypto in Node), and small helpers for picking and summarising. */
export { createTestnet } from '../../src/node/testnet-node.js';
export { SIM_NETWORK, type Testnet, type TestnetOptions } from '../../src/testnet.js';

/** A deterministic pseudo-random integer in [0, n). */
export function pick(n: number, seed: { s: number }): number {
  seed.s = (Math.imul(seed.s, 1103515245) + 12345) >>> 0;
  return seed.s % n;
}

/** Median of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

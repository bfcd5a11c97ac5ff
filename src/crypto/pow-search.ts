/**
 * The proof-of-work search loop: SHA-256 of one 40-byte message (a 32-byte puzzle input and an
 * 8-byte nonce) for nonce after nonce, in plain JavaScript on 32-bit integers.
 *
 * Why not the crypto backend's `sha256`: each call there allocates (a hash object, a digest, a
 * concatenation), so a solve of ~40,000 hashes spent a third of its time in garbage collection and
 * ran at ~0.4 M hashes/s. Here the message is one padded block whose first eight words (the input)
 * never change: the first eight rounds are computed once per solve, each nonce costs the other 56
 * rounds and nothing is allocated. Only the first 64 bits of the digest are compared with the
 * target, as `checkPow` does; `checkPow` (on the backend's SHA-256) stays the verifier, and the
 * tests hold this function to it.
 */

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be,
  0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa,
  0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85,
  0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3,
  0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
  0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** The puzzle input this search takes (a SHA-256 digest, as `powInput` makes). */
export const POW_INPUT_BYTES = 32;
/** Message length in bits: 32 input bytes + 8 nonce bytes. */
const MESSAGE_BITS = (POW_INPUT_BYTES + 8) * 8;

export interface PowSearch {
  /**
   * Tries `count` nonces from (hi, lo) upward (lo first, carrying into hi); returns how many were
   * tried before one met the target (its nonce is then `nonceAt(hi, lo, tried)`), or -1.
   */
  run(hi: number, lo: number, count: number): number;
}

/** Prepares a search for `input` (32 bytes) against the 64-bit target split into two words. */
export function powSearch(input: Uint8Array, targetHi: number, targetLo: number): PowSearch {
  if (input.length !== POW_INPUT_BYTES) throw new RangeError(`a proof-of-work input is ${POW_INPUT_BYTES} bytes`);
  // Int32 arrays: V8 keeps their values as small integers, where words ≥ 2^31 in a Uint32Array
  // would be read back as doubles.
  const w = new Int32Array(64);
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  for (let i = 0; i < 8; i++) w[i] = view.getInt32(i * 4);
  w[10] = 0x80000000 | 0;
  w[15] = MESSAGE_BITS;
  // Rounds 0–7 read only the input words: their state is the same for every nonce.
  let a = IV[0]!, b = IV[1]!, c = IV[2]!, d = IV[3]!, e = IV[4]!, f = IV[5]!, g = IV[6]!, h = IV[7]!;
  for (let i = 0; i < 8; i++) {
    const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
    const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  const mid = Int32Array.from([a, b, c, d, e, f, g, h]);
  const tHi = targetHi >>> 0;
  const tLo = targetLo >>> 0;
  return {
    run(hi, lo, count) {
      for (let n = 0; n < count; n++) {
        w[8] = hi | 0;
        w[9] = lo | 0;
        for (let i = 16; i < 64; i++) {
          const x = w[i - 15]!, y = w[i - 2]!;
          const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
          const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
          w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
        }
        let a = mid[0]!, b = mid[1]!, c = mid[2]!, d = mid[3]!, e = mid[4]!, f = mid[5]!, g = mid[6]!, h = mid[7]!;
        for (let i = 8; i < 64; i++) {
          const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
          const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
          const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
          const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
          h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
        }
        const h0 = (IV[0]! + a) >>> 0;
        if (h0 < tHi || (h0 === tHi && (IV[1]! + b) >>> 0 <= tLo)) return n;
        lo = (lo + 1) >>> 0;
        if (lo === 0) hi = (hi + 1) >>> 0;
      }
      return -1;
    },
  };
}

/** The nonce `tried` steps after (hi, lo), as 8 big-endian bytes. */
export function nonceAt(hi: number, lo: number, tried: number): Uint8Array {
  const n = (BigInt(hi >>> 0) << 32n) + BigInt(lo >>> 0) + BigInt(tried);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, n & ((1n << 64n) - 1n));
  return out;
}

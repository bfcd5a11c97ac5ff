/**
 * Proof of work for STORE, bound to one record: the puzzle input hashes the network, key,
 * value size and expiry, so a nonce cannot be reused for another record or a longer lifetime.
 * Anyone may re-send a record with its nonce (replication and republishing need exactly that).
 *
 *   work   = ceil(2^baseBits × (size + 1024) × (ttl + 86400) / (1024 × 86400))   expected hashes
 *   target = floor((2^64 − 1) / work)
 *   valid  ⇔ first 8 bytes of SHA-256(input ‖ nonce), big-endian, ≤ target
 *
 * Verifying costs one hash (plus the input hash); solving takes `work` hashes on average.
 */
import { concatBytes, utf8 } from '../bytes.js';
import { SpydhtError } from '../errors.js';
import type { CryptoBackend } from './backend.js';
import { POW_INPUT_BYTES, nonceAt, powSearch, type PowSearch } from './pow-search.js';
import { SLICE_MS, yieldToEventLoop } from './yield.js';

const POW_TAG = utf8('spydht/pow/v2');
export const NONCE_BYTES = 8;
/** Default base difficulty: ~40k hashes for a small owned one-day record (~20 ms at the solver's ~1.5 M nonces/s). */
export const DEFAULT_POW_BASE_BITS = 14;
const U64_MAX = (1n << 64n) - 1n;

export function powWork(baseBits: number, size: number, ttlSeconds: number): bigint {
  const num = (1n << BigInt(baseBits)) * BigInt(size + 1024) * BigInt(Math.max(0, Math.floor(ttlSeconds)) + 86400);
  const den = 1024n * 86400n;
  return (num + den - 1n) / den;
}

export function powTarget(work: bigint): bigint {
  return work <= 1n ? U64_MAX : U64_MAX / work;
}

export function powInput(
  crypto: CryptoBackend,
  fields: { networkId: Uint8Array; key: Uint8Array; size: number; expiresAt: number },
): Uint8Array {
  const tail = new Uint8Array(8);
  const view = new DataView(tail.buffer);
  view.setUint32(0, fields.size);
  view.setUint32(4, fields.expiresAt);
  return crypto.sha256(concatBytes(POW_TAG, fields.networkId, fields.key, tail));
}

function hashHead(crypto: CryptoBackend, buf: Uint8Array): { hi: number; lo: number } {
  const h = crypto.sha256(buf);
  return { hi: ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0, lo: ((h[4]! << 24) | (h[5]! << 16) | (h[6]! << 8) | h[7]!) >>> 0 };
}

export function checkPow(crypto: CryptoBackend, input: Uint8Array, nonce: Uint8Array, target: bigint): boolean {
  if (nonce.length !== NONCE_BYTES) return false;
  const { hi, lo } = hashHead(crypto, concatBytes(input, nonce));
  return (BigInt(hi) << 32n) + BigInt(lo) <= target;
}

/**
 * Searches nonces in time slices, yielding between them, so the event loop (or page) keeps running.
 * Injectable: environments may run it in a worker instead.
 */
export type PowSolver = (input: Uint8Array, target: bigint, signal?: AbortSignal) => Promise<Uint8Array>;

export function inThreadPowSolver(crypto: CryptoBackend): PowSolver {
  return async (input, target, signal) => {
    const tHi = Number(target >> 32n);
    const tLo = Number(target & 0xffffffffn);
    // Random start so two solvers of the same record do not repeat each other's work.
    let counterHi = new DataView(crypto.randomBytes(4).buffer).getUint32(0);
    let counterLo = 0;
    const search = input.length === POW_INPUT_BYTES ? powSearch(input, tHi, tLo) : backendSearch(crypto, input, tHi, tLo);
    for (;;) {
      if (signal?.aborted) throw SpydhtError.aborted(signal.reason);
      const sliceEnd = Date.now() + SLICE_MS;
      do {
        const tried = search.run(counterHi, counterLo, NONCES_PER_CHECK);
        if (tried >= 0) return nonceAt(counterHi, counterLo, tried);
        counterLo = (counterLo + NONCES_PER_CHECK) >>> 0;
        if (counterLo < NONCES_PER_CHECK) counterHi = (counterHi + 1) >>> 0;
      } while (Date.now() < sliceEnd);
      await yieldToEventLoop();
    }
  };
}

/** Nonces tried between two looks at the clock (well under a millisecond either way). */
const NONCES_PER_CHECK = 256;

/** The same search on the backend's SHA-256, for an input that is not a 32-byte digest. */
function backendSearch(crypto: CryptoBackend, input: Uint8Array, tHi: number, tLo: number): PowSearch {
  const buf = new Uint8Array(input.length + NONCE_BYTES);
  buf.set(input);
  const view = new DataView(buf.buffer);
  return {
    run(hi, lo, count) {
      for (let n = 0; n < count; n++) {
        view.setUint32(input.length, hi);
        view.setUint32(input.length + 4, lo);
        const head = hashHead(crypto, buf);
        if (head.hi < tHi || (head.hi === tHi && head.lo <= tLo)) return n;
        lo = (lo + 1) >>> 0;
        if (lo === 0) hi = (hi + 1) >>> 0;
      }
      return -1;
    },
  };
}

/**
 * The proof-of-work search hashes in its own code (crypto/pow-search.ts); the verifier is the
 * backend's SHA-256 (`checkPow`). These hold the two to the same 64-bit digest head, nonce for
 * nonce, so a solver can never return work a verifier refuses or miss work it would accept.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes } from '../../src/bytes.js';
import { nobleCrypto } from '../../src/crypto/noble.js';
import { checkPow, inThreadPowSolver, powTarget } from '../../src/crypto/pow.js';
import { nonceAt, powSearch } from '../../src/crypto/pow-search.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';

/** First 64 bits of SHA-256(input ‖ nonce) as two words, on the backend's hash. */
function head(input: Uint8Array, nonce: Uint8Array): [number, number] {
  const h = new DataView(nodeCrypto.sha256(concatBytes(input, nonce)).buffer);
  return [h.getUint32(0), h.getUint32(4)];
}

const word = fc.integer({ min: 0, max: 0xffffffff });

describe('proof-of-work search', () => {
  it('accepts a nonce exactly when its digest head is at or under the target (against node:crypto)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), word, word, (input, hi, lo) => {
        const [h0, h1] = head(input, nonceAt(hi, lo, 0));
        // The target equal to the head accepts; one below it refuses.
        expect(powSearch(input, h0, h1).run(hi, lo, 1)).toBe(0);
        if (h1 > 0) expect(powSearch(input, h0, h1 - 1).run(hi, lo, 1)).toBe(-1);
        else if (h0 > 0) expect(powSearch(input, h0 - 1, 0xffffffff).run(hi, lo, 1)).toBe(-1);
      }),
      { numRuns: 300 },
    );
  });

  it('counts nonces across the low word wrapping into the high word', () => {
    const input = nodeCrypto.randomBytes(32);
    const hi = 7;
    const lo = 0xfffffffd;
    // The sixth nonce from (7, 0xfffffffd) is (8, 2).
    const [h0, h1] = head(input, nonceAt(8, 2, 0));
    const tried = powSearch(input, h0, h1).run(hi, lo, 10);
    expect(tried).toBeGreaterThanOrEqual(0);
    expect(tried).toBeLessThanOrEqual(5);
    expect(checkPow(nodeCrypto, input, nonceAt(hi, lo, tried), (BigInt(h0) << 32n) + BigInt(h1))).toBe(true);
    expect(nonceAt(hi, lo, 5)).toEqual(Uint8Array.from([0, 0, 0, 8, 0, 0, 0, 2]));
  });

  it('solves work that both backends verify, and refuses an input that is not 32 bytes', async () => {
    const target = powTarget(5000n);
    for (const crypto of [nodeCrypto, nobleCrypto]) {
      const input = crypto.randomBytes(32);
      const nonce = await inThreadPowSolver(crypto)(input, target);
      expect(checkPow(nodeCrypto, input, nonce, target)).toBe(true);
      expect(checkPow(nobleCrypto, input, nonce, target)).toBe(true);
    }
    // Any other input length takes the backend's hash (same contract).
    const odd = nodeCrypto.randomBytes(20);
    expect(checkPow(nodeCrypto, odd, await inThreadPowSolver(nodeCrypto)(odd, target), target)).toBe(true);
    expect(() => powSearch(odd, 0, 0)).toThrow(RangeError);
  });
});

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ID_BITS,
  ID_BYTES,
  commonPrefixLength,
  compareDistance,
  equalIds,
  idFromHex,
  idToHex,
  keepId,
  randomIdInBucket,
  sortByDistance,
  xorDistance,
  type NodeId,
} from '../../src/id.js';

const rnd = (): NodeId => new Uint8Array(randomBytes(ID_BYTES));
const big = (b: Uint8Array): bigint => BigInt('0x' + (idToHex(b) || '0'));

/** Flips bit `i` (0 = most significant) of a copy of `id`. */
function flipBit(id: NodeId, i: number): NodeId {
  const out = Uint8Array.from(id);
  out[i >> 3] = out[i >> 3]! ^ (0x80 >> (i & 7));
  return out;
}

describe('xorDistance', () => {
  it('is the bytewise XOR, zero to itself and symmetric', () => {
    for (let n = 0; n < 50; n++) {
      const a = rnd();
      const b = rnd();
      const d = xorDistance(a, b);
      expect(d.length).toBe(ID_BYTES);
      expect(big(d)).toBe(big(a) ^ big(b));
      expect(xorDistance(b, a)).toEqual(d);
      expect(xorDistance(a, a)).toEqual(new Uint8Array(ID_BYTES));
    }
  });
});

describe('compareDistance', () => {
  it('orders like the XOR distances compared as 256-bit integers', () => {
    for (let n = 0; n < 500; n++) {
      const t = rnd();
      const a = rnd();
      // Often share a prefix with b so the deciding byte is not always the first one.
      const b = n % 2 ? rnd() : flipBit(a, Math.floor(Math.random() * ID_BITS));
      const want = big(a) ^ big(t);
      const got = big(b) ^ big(t);
      const c = compareDistance(a, b, t);
      expect(Math.sign(c)).toBe(want < got ? -1 : want > got ? 1 : 0);
      expect(Math.sign(compareDistance(b, a, t))).toBe(-Math.sign(c) || 0);
    }
  });

  it('is 0 only for the same ID', () => {
    const a = rnd();
    expect(compareDistance(a, Uint8Array.from(a), rnd())).toBe(0);
  });

  it('sortByDistance sorts nearest first', () => {
    const t = rnd();
    const items = Array.from({ length: 100 }, () => ({ id: rnd() }));
    const sorted = sortByDistance([...items], t);
    for (let i = 1; i < sorted.length; i++) {
      expect(big(sorted[i - 1]!.id) ^ big(t)).toBeLessThan(big(sorted[i]!.id) ^ big(t));
    }
  });
});

describe('commonPrefixLength', () => {
  it('is 256 for equal IDs', () => {
    const a = rnd();
    expect(commonPrefixLength(a, Uint8Array.from(a))).toBe(ID_BITS);
  });

  it('is the index of the first differing bit, for every bit', () => {
    const a = rnd();
    for (let i = 0; i < ID_BITS; i++) {
      expect(commonPrefixLength(a, flipBit(a, i))).toBe(i);
      // Bits after the first difference do not matter.
      const b = flipBit(a, i);
      if (i + 1 < ID_BITS) expect(commonPrefixLength(a, flipBit(b, i + 1))).toBe(i);
    }
  });

  it('agrees with a bigint reference on random pairs', () => {
    for (let n = 0; n < 200; n++) {
      const a = rnd();
      const b = rnd();
      const x = big(a) ^ big(b);
      const want = x === 0n ? 256 : 256 - x.toString(2).length;
      expect(commonPrefixLength(a, b)).toBe(want);
    }
  });
});

describe('randomIdInBucket', () => {
  it('lands in bucket i for every i in 0..255, whatever the random input', () => {
    const base = rnd();
    const inputs = [
      new Uint8Array(ID_BYTES), // all zero
      new Uint8Array(ID_BYTES).fill(0xff), // all one
      Uint8Array.from(base), // random equal to base: the bit at i must still be flipped
      Uint8Array.from(base).map((b) => ~b & 0xff), // complement of base
      rnd(),
      rnd(),
    ];
    for (let i = 0; i < ID_BITS; i++) {
      for (const r of inputs) {
        const id = randomIdInBucket(base, i, r);
        expect(id.length).toBe(ID_BYTES);
        expect(commonPrefixLength(base, id)).toBe(i);
      }
    }
  });

  it('does not modify its inputs and keeps randomness in the free bits', () => {
    const base = rnd();
    const baseCopy = Uint8Array.from(base);
    const r = rnd();
    const rCopy = Uint8Array.from(r);
    const id = randomIdInBucket(base, 3, r);
    expect(base).toEqual(baseCopy);
    expect(r).toEqual(rCopy);
    // Bytes after the prefix byte come from the random input.
    expect(id.subarray(1)).toEqual(r.subarray(1));
    // Different random inputs give different targets in the same bucket.
    const ids = new Set(Array.from({ length: 20 }, () => idToHex(randomIdInBucket(base, 100, rnd()))));
    expect(ids.size).toBe(20);
  });
});

describe('hex and equality', () => {
  it('round-trips through hex and rejects wrong lengths', () => {
    const a = rnd();
    expect(idFromHex(idToHex(a))).toEqual(a);
    expect(idFromHex(idToHex(a).toUpperCase())).toEqual(a);
    expect(() => idFromHex('ab')).toThrow(TypeError);
    expect(() => idFromHex(idToHex(a) + '00')).toThrow(TypeError);
    expect(() => idFromHex('zz'.repeat(32))).toThrow(TypeError);
  });

  it('equalIds compares every byte', () => {
    const a = rnd();
    expect(equalIds(a, Uint8Array.from(a))).toBe(true);
    expect(equalIds(a, flipBit(a, 255))).toBe(false);
    expect(equalIds(a, flipBit(a, 0))).toBe(false);
  });

  it('keepId: an independent copy of each ID, in views that never overlap', () => {
    const sources = Array.from({ length: 100 }, rnd);
    const kept = sources.map((id) => keepId(id));
    const want = sources.map((id) => idToHex(id));
    // Changing a source (a datagram buffer reused) must not change what was kept.
    for (const id of sources) id.fill(0xff);
    expect(kept.map(idToHex)).toEqual(want);
    for (const k of kept) expect(k.length).toBe(ID_BYTES);
    // A view written later must not change an earlier one: ranges within one slab are disjoint.
    for (let i = 0; i < kept.length; i++)
      for (let j = i + 1; j < kept.length; j++)
        if (kept[i]!.buffer === kept[j]!.buffer) expect(Math.abs(kept[i]!.byteOffset - kept[j]!.byteOffset)).toBeGreaterThanOrEqual(ID_BYTES);
  });
});

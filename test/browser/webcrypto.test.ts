/**
 * createWebCryptoBackend in Node (Node ≥ 20.19 has WebCrypto Ed25519): must agree bit for bit with
 * @noble and node:crypto, cross-verify both ways, never throw on garbage, and fall back to noble.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/bytes.js';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { Identity } from '../../src/crypto/identity.js';
import { nobleCrypto } from '../../src/crypto/noble.js';
import { createWebCryptoBackend } from '../../src/crypto/webcrypto.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';

const rand = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

describe('createWebCryptoBackend', () => {
  it('uses native Ed25519 when crypto.subtle has it', async () => {
    const wc = await createWebCryptoBackend();
    expect(wc.name).toBe('webcrypto');
  });

  it('gives the same public keys and signatures as noble and node:crypto (200 random seeds)', async () => {
    const wc = await createWebCryptoBackend();
    expect(wc.name).toBe('webcrypto');
    for (let i = 0; i < 200; i++) {
      const seed = rand(32);
      const message = rand(i % 7 === 0 ? 0 : 1 + (i * 37) % 2000);
      const pk = wc.publicKeyFromSeed(seed);
      expect(toHex(pk)).toBe(toHex(nobleCrypto.publicKeyFromSeed(seed)));
      expect(toHex(pk)).toBe(toHex(nodeCrypto.publicKeyFromSeed(seed)));
      const viaSign = await wc.sign(seed, message);
      const viaSigner = await wc.signer(seed)(message);
      const noble = await nobleCrypto.sign(seed, message);
      const node = await nodeCrypto.sign(seed, message);
      expect(toHex(viaSign)).toBe(toHex(noble)); // Ed25519 is deterministic
      expect(toHex(viaSigner)).toBe(toHex(noble));
      expect(toHex(viaSign)).toBe(toHex(node));
      // Cross-verification, both ways.
      expect(await wc.verify(pk, message, noble)).toBe(true);
      expect(await wc.verify(pk, message, node)).toBe(true);
      expect(await nobleCrypto.verify(pk, message, viaSign)).toBe(true);
      expect(await nodeCrypto.verify(pk, message, viaSign)).toBe(true);
      // And rejection: another message, a flipped bit, another key.
      const flipped = Uint8Array.from(viaSign);
      flipped[i % 64]! ^= 1 << (i % 8);
      expect(await wc.verify(pk, message, flipped)).toBe(false);
      expect(await wc.verify(pk, Uint8Array.from([...message, 0]), viaSign)).toBe(false);
      expect(await wc.verify(nobleCrypto.publicKeyFromSeed(rand(32)), message, viaSign)).toBe(false);
    }
  });

  it('sha256 / hmac / publicKeyFromSeed are synchronous and equal to noble', async () => {
    const wc = await createWebCryptoBackend();
    const data = rand(100);
    const key = rand(32);
    expect(wc.sha256(data)).toBeInstanceOf(Uint8Array);
    expect(toHex(wc.sha256(data))).toBe(toHex(nodeCrypto.sha256(data)));
    expect(toHex(wc.hmacSha256(key, data))).toBe(toHex(nodeCrypto.hmacSha256(key, data)));
    expect(wc.randomBytes(16)).toHaveLength(16);
  });

  it('an Identity on the WebCrypto backend signs what the others verify', async () => {
    const wc = await createWebCryptoBackend();
    const id = await Identity.generate({ crypto: wc, difficulty: 4 });
    const msg = rand(64);
    const sig = await id.sign(msg);
    expect(await nodeCrypto.verify(id.publicKey, msg, sig)).toBe(true);
    expect(await nobleCrypto.verify(id.publicKey, msg, sig)).toBe(true);
    const again = Identity.fromJSON(nobleCrypto, id.toJSON());
    expect(toHex(await again.sign(msg))).toBe(toHex(sig));
  });

  it('verify of garbage returns false and never throws', async () => {
    const wc = await createWebCryptoBackend();
    const seed = rand(32);
    const pk = wc.publicKeyFromSeed(seed);
    const msg = rand(10);
    const sig = await wc.sign(seed, msg);
    const cases: [Uint8Array, Uint8Array][] = [
      [new Uint8Array(0), sig],
      [new Uint8Array(31), sig],
      [new Uint8Array(33), sig],
      [pk, new Uint8Array(0)],
      [pk, new Uint8Array(63)],
      [pk, new Uint8Array(65)],
      [pk, new Uint8Array(64)],
      [pk, new Uint8Array(64).fill(0xff)],
      [new Uint8Array(32).fill(0xff), sig], // not a canonical point encoding
      [new Uint8Array(32), sig], // small-order point
      [fromHex('0100000000000000000000000000000000000000000000000000000000000000'), sig], // identity point
    ];
    for (let i = 0; i < 50; i++) cases.push([rand(32), rand(64)]);
    for (const [p, s] of cases) {
      await expect(wc.verify(p, msg, s)).resolves.toBe(false);
      await expect(wc.verify(p, msg, s)).resolves.toBe(false); // cached key path too
    }
    // The real key still verifies after all that (no poisoned cache).
    expect(await wc.verify(pk, msg, sig)).toBe(true);
  });

  it('many distinct public keys: the bounded cache evicts and still verifies', async () => {
    const wc = await createWebCryptoBackend({ publicKeyCacheSize: 4, privateKeyCacheSize: 2 });
    const seeds = Array.from({ length: 12 }, () => rand(32));
    const msg = rand(20);
    for (let round = 0; round < 2; round++) {
      for (const seed of seeds) {
        const sig = await wc.sign(seed, msg);
        expect(await wc.verify(wc.publicKeyFromSeed(seed), msg, sig)).toBe(true);
      }
    }
  });

  it('rejects a wrong-size seed like the other backends', async () => {
    const wc = await createWebCryptoBackend();
    await expect(wc.sign(new Uint8Array(31), new Uint8Array(1))).rejects.toThrow();
    expect(() => wc.signer(new Uint8Array(33))).toThrow();
  });

  describe('falls back to noble', () => {
    const fallbacks: [string, () => Promise<CryptoBackend>][] = [
      ['subtle: undefined (non-secure origin)', () => createWebCryptoBackend({ subtle: undefined })],
      ['subtle: null', () => createWebCryptoBackend({ subtle: null })],
      [
        'importKey rejects (no Ed25519)',
        () =>
          createWebCryptoBackend({
            subtle: { importKey: () => Promise.reject(new DOMException('Unrecognized name', 'NotSupportedError')) } as unknown as SubtleCrypto,
          }),
      ],
      [
        'importKey throws synchronously',
        () =>
          createWebCryptoBackend({
            subtle: {
              importKey: () => {
                throw new TypeError('nope');
              },
            } as unknown as SubtleCrypto,
          }),
      ],
      [
        'sign returns a wrong signature',
        () => {
          const real = globalThis.crypto.subtle;
          return createWebCryptoBackend({
            subtle: {
              importKey: real.importKey.bind(real),
              verify: real.verify.bind(real),
              sign: async () => new ArrayBuffer(64),
            } as unknown as SubtleCrypto,
          });
        },
      ],
      [
        'verify accepts anything',
        () => {
          const real = globalThis.crypto.subtle;
          return createWebCryptoBackend({
            subtle: {
              importKey: real.importKey.bind(real),
              sign: real.sign.bind(real),
              verify: async () => true,
            } as unknown as SubtleCrypto,
          });
        },
      ],
    ];
    it.each(fallbacks)('%s', async (_name, make) => {
      const backend = await make();
      expect(backend).toBe(nobleCrypto);
      const seed = rand(32);
      const sig = await backend.sign(seed, new Uint8Array([1]));
      expect(await nodeCrypto.verify(backend.publicKeyFromSeed(seed), new Uint8Array([1]), sig)).toBe(true);
    });

    it('an explicit working subtle is used', async () => {
      const backend = await createWebCryptoBackend({ subtle: globalThis.crypto.subtle });
      expect(backend.name).toBe('webcrypto');
    });
  });
});

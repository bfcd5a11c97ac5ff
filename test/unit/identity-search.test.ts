/**
 * The ID puzzle searched with the platform's Ed25519 (`searchIdentitySeed`, what the identity
 * worker runs first): Node's WebCrypto here, Chromium's in test/e2e (every tab makes its identity
 * this way). A platform that cannot do it must send the caller back to @noble, never hand it a
 * seed that does not match its key.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { Identity, idPuzzleBits } from '../../src/crypto/identity.js';
import { searchIdentitySeed } from '../../src/crypto/identity-search.js';
import { nobleCrypto } from '../../src/crypto/noble.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';

const subtle = globalThis.crypto.subtle;

describe('searchIdentitySeed', () => {
  it('finds seeds that solve the puzzle, the same identity whichever backend restores them', async () => {
    const seeds = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const seed = await searchIdentitySeed(subtle, 6);
      expect(seed).toBeInstanceOf(Uint8Array);
      const a = Identity.fromSeed(nobleCrypto, seed!, 6);
      const b = Identity.fromSeed(nodeCrypto, seed!, 6);
      expect(toHex(a.id)).toBe(toHex(b.id));
      expect(idPuzzleBits(nobleCrypto, a.id)).toBeGreaterThanOrEqual(6);
      seeds.add(toHex(seed!));
    }
    expect(seeds.size).toBe(4);
  });

  it('gives up (the caller searches with @noble) on a platform without Ed25519', async () => {
    const noEd25519 = new Proxy(subtle, {
      get: (target, name) =>
        name === 'generateKey' ? () => Promise.reject(new DOMException('Algorithm: Unrecognized name', 'NotSupportedError')) : Reflect.get(target, name, target).bind(target),
    });
    expect(await searchIdentitySeed(noEd25519, 6)).toBeUndefined();
  });

  it('gives up on a platform whose exported public key does not belong to the exported seed', async () => {
    const wrongKey = new Proxy(subtle, {
      get: (target, name) =>
        name === 'exportKey'
          ? async (format: 'raw' | 'pkcs8', key: CryptoKey) => {
              const bytes = new Uint8Array(await target.exportKey(format, key));
              if (format === 'raw') bytes[0]! ^= 1;
              return bytes.buffer;
            }
          : Reflect.get(target, name, target).bind(target),
    });
    expect(await searchIdentitySeed(wrongKey, 0)).toBeUndefined();
  });
});

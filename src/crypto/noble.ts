/** Pure-JS backend on @noble: works everywhere, including non-secure origins without crypto.subtle. */
import { ed25519 } from '@noble/curves/ed25519.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import type { CryptoBackend } from './backend.js';

export const nobleCrypto: CryptoBackend = {
  name: 'noble',
  sha256: (data) => sha256(data),
  hmacSha256: (key, data) => hmac(sha256, key, data),
  randomBytes: (length) => globalThis.crypto.getRandomValues(new Uint8Array(length)),
  publicKeyFromSeed: (seed) => ed25519.getPublicKey(seed),
  sign: async (seed, message) => ed25519.sign(message, seed),
  signer: (seed) => {
    const own = Uint8Array.from(seed);
    return async (message) => ed25519.sign(message, own);
  },
  verify: async (publicKey, message, signature) => {
    try {
      return ed25519.verify(signature, message, publicKey);
    } catch {
      return false; // malformed points are a failed verification, not a crash
    }
  },
};

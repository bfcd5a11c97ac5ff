/**
 * WebCrypto backend: native Ed25519 sign/verify through `crypto.subtle` (browsers: Chromium ≥ 137,
 * Firefox, Safari; Node ≥ 20.19), hashing and key derivation on @noble because they must be
 * synchronous (proof of work and ID checks hash in tight loops, and `subtle.digest` costs too much
 * per call for that).
 *
 * `crypto.subtle` is missing on non-secure origins (plain http on a non-localhost address) and some
 * engines lack Ed25519 or implement it wrongly, so the backend is feature-tested once against an
 * RFC 8032 vector; on any failure `createWebCryptoBackend` returns `nobleCrypto` instead.
 */
import { fromHex, toHex } from '../bytes.js';
import { ED25519_PKCS8_PREFIX as PKCS8_PREFIX, PUBLIC_KEY_BYTES, SEED_BYTES, SIGNATURE_BYTES, type CryptoBackend } from './backend.js';
import { nobleCrypto } from './noble.js';
import type { SubtleCryptoLike } from '../dom-types.js';

export interface WebCryptoBackendOptions {
  /**
   * The SubtleCrypto to use. Defaults to `globalThis.crypto.subtle`; pass `undefined` or `null`
   * explicitly to get the @noble fallback (what a non-secure origin gets).
   */
  subtle?: SubtleCryptoLike | null;
  /** Imported public keys kept for verification (LRU). Default 1024. */
  publicKeyCacheSize?: number;
  /** Imported private keys kept for `sign(seed, …)` (LRU; `signer(seed)` keeps its own). Default 16. */
  privateKeyCacheSize?: number;
}

const ALGORITHM = { name: 'Ed25519' } as const;

// RFC 8032 §7.1, TEST 2: a one-byte message.
const VECTOR = {
  seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
  publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
  message: '72',
  signature:
    '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da' +
    '085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
};

/** A Uint8Array backed by a plain ArrayBuffer, which is what the DOM's BufferSource type asks for. */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : Uint8Array.from(bytes);
}

/** A small LRU of key-import promises; a rejected import is evicted so it can be retried. */
class KeyPromiseCache {
  private readonly map = new Map<string, Promise<CryptoKey>>();
  constructor(private readonly max: number) {}

  get(raw: Uint8Array, build: () => Promise<CryptoKey>): Promise<CryptoKey> {
    const k = toHex(raw);
    let p = this.map.get(k);
    if (p) {
      this.map.delete(k);
    } else {
      p = build();
      p.catch(() => {
        if (this.map.get(k) === p) this.map.delete(k);
      });
      if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    }
    this.map.set(k, p);
    return p;
  }
}

function importSeed(subtle: SubtleCrypto, seed: Uint8Array): Promise<CryptoKey> {
  const der = new Uint8Array(PKCS8_PREFIX.length + SEED_BYTES);
  der.set(PKCS8_PREFIX);
  der.set(seed, PKCS8_PREFIX.length);
  return subtle.importKey('pkcs8', der, ALGORITHM, false, ['sign']);
}

function importPublicKey(subtle: SubtleCrypto, publicKey: Uint8Array): Promise<CryptoKey> {
  return subtle.importKey('raw', Uint8Array.from(publicKey), ALGORITHM, false, ['verify']);
}

function checkSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) {
    throw new TypeError(`an Ed25519 seed is ${SEED_BYTES} bytes`);
  }
}

/** Builds the backend around a SubtleCrypto without testing it (see `createWebCryptoBackend`). */
function webCryptoBackend(subtle: SubtleCrypto, options: WebCryptoBackendOptions): CryptoBackend {
  const publicKeys = new KeyPromiseCache(Math.max(1, options.publicKeyCacheSize ?? 1024));
  const privateKeys = new KeyPromiseCache(Math.max(1, options.privateKeyCacheSize ?? 16));

  const signWith = async (key: Promise<CryptoKey>, message: Uint8Array): Promise<Uint8Array> =>
    new Uint8Array(await subtle.sign(ALGORITHM, await key, bufferSource(message)));

  return {
    name: 'webcrypto',
    sha256: nobleCrypto.sha256,
    hmacSha256: nobleCrypto.hmacSha256,
    randomBytes: nobleCrypto.randomBytes,
    publicKeyFromSeed: nobleCrypto.publicKeyFromSeed,
    sign: async (seed, message) => {
      checkSeed(seed);
      return signWith(
        privateKeys.get(seed, () => importSeed(subtle, seed)),
        message,
      );
    },
    signer: (seed) => {
      checkSeed(seed);
      const key = importSeed(subtle, seed); // once per signer; the seed is copied into the DER
      key.catch(() => {}); // surfaced by the first sign() instead of as an unhandled rejection
      return (message) => signWith(key, message);
    },
    verify: async (publicKey, message, signature) => {
      if (publicKey.length !== PUBLIC_KEY_BYTES || signature.length !== SIGNATURE_BYTES) return false;
      try {
        const key = await publicKeys.get(publicKey, () => importPublicKey(subtle, publicKey));
        return await subtle.verify(ALGORITHM, key, bufferSource(signature), bufferSource(message));
      } catch {
        return false; // a public key that is not a curve point: failed verification, not a crash
      }
    },
  };
}

/** Signs and verifies the RFC 8032 vector, and rejects a tampered signature. */
async function works(backend: CryptoBackend): Promise<boolean> {
  const seed = fromHex(VECTOR.seed);
  const message = fromHex(VECTOR.message);
  const signature = await backend.signer(seed)(message);
  if (toHex(signature) !== VECTOR.signature) return false;
  const publicKey = fromHex(VECTOR.publicKey);
  if (!(await backend.verify(publicKey, message, signature))) return false;
  const tampered = Uint8Array.from(signature);
  tampered[0]! ^= 1;
  return !(await backend.verify(publicKey, message, tampered));
}

/**
 * Returns a backend that signs and verifies with native Ed25519 when `crypto.subtle` has a working
 * one, and `nobleCrypto` otherwise (non-secure origin, old engine, failed self-test). Never rejects.
 * The returned backend's `name` tells which one you got: 'webcrypto' or 'noble'.
 */
export async function createWebCryptoBackend(options: WebCryptoBackendOptions = {}): Promise<CryptoBackend> {
  const subtle = 'subtle' in options ? (options.subtle as SubtleCrypto | null | undefined) : (globalThis.crypto?.subtle as SubtleCrypto | undefined);
  if (!subtle) return nobleCrypto;
  try {
    const backend = webCryptoBackend(subtle, options);
    return (await works(backend)) ? backend : nobleCrypto;
  } catch {
    return nobleCrypto;
  }
}

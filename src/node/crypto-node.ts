/**
 * node:crypto backends: ~20× faster Ed25519 and ~2× faster SHA-256 than the pure-JS one.
 * `nodeCrypto` signs and verifies in the calling thread; `nodePoolCrypto` (createNode's default)
 * on libuv's thread pool, off the event loop.
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { ED25519_PKCS8_PREFIX, type CryptoBackend } from '../crypto/backend.js';

// DER prefixes that wrap a raw 32-byte Ed25519 seed / public key (RFC 8410).
const PKCS8_PREFIX = Buffer.from(ED25519_PKCS8_PREFIX);
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function startsWith(bytes: Buffer, prefix: Buffer): boolean {
  return bytes.subarray(0, prefix.length).equals(prefix);
}

/** Small bounded caches: building a KeyObject costs about what a signature does (DER) or a tenth of a verification (JWK). */
class KeyCache {
  private readonly map = new Map<string, KeyObject>();
  constructor(private readonly max: number) {}
  get(raw: Uint8Array, build: () => KeyObject): KeyObject {
    const k = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64');
    let key = this.map.get(k);
    if (key) {
      this.map.delete(k);
    } else {
      key = build();
      if (this.map.size >= this.max) this.map.delete(this.map.keys().next().value!);
    }
    this.map.set(k, key);
    return key;
  }
}

const privateKeys = new KeyCache(64);
/** Public keys a node:crypto backend keeps as KeyObjects by default: a node's contacts and more. */
export const DEFAULT_PUBLIC_KEY_CACHE = 4096;

function privateKeyOf(seed: Uint8Array): KeyObject {
  return privateKeys.get(seed, () =>
    createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' }),
  );
}

function toU8(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function base64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}


export interface NodeCryptoOptions {
  /**
   * Public keys kept as KeyObjects (DEFAULT_PUBLIC_KEY_CACHE): building one costs ~12 µs, a tenth
   * of the verification, and a cache hit ~1 µs. A process that runs many nodes on one backend (a simulated swarm)
   * verifies the keys of all of them, and wants room for each.
   */
  publicKeyCache?: number;
  /**
   * Ed25519 signs and verifies on libuv's thread pool (default false: in the calling thread). A
   * verification costs 110–140 µs of CPU here (OpenSSL); on the pool the event loop pays ~25 µs to
   * hand it over and take the answer, so a busy node keeps serving while signatures are checked,
   * and can use more than one core. The pool (4 threads unless `UV_THREADPOOL_SIZE` says
   * otherwise) is shared with file system calls and `dns.lookup`. Never on a `SimClock`: virtual
   * time would run on while a job is out, and the order jobs finish in differs from run to run.
   */
  threadPool?: boolean;
}

/** Wraps node:crypto's callback form (which runs the work on the thread pool) in a promise. */
function onPool<T>(start: (done: (err: Error | null, result: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, result) => (err ? reject(err) : resolve(result))));
}

/** A node:crypto backend with caches of its own. */
export function createNodeCrypto(options: NodeCryptoOptions = {}): CryptoBackend {
  const publicKeys = new KeyCache(options.publicKeyCache ?? DEFAULT_PUBLIC_KEY_CACHE);
  const pool = options.threadPool ?? false;
  const signWith = pool
    ? async (message: Uint8Array, key: KeyObject) => toU8(await onPool<Buffer>((done) => sign(null, message, key, done)))
    : async (message: Uint8Array, key: KeyObject) => toU8(sign(null, message, key));
  const verifyWith = pool
    ? (message: Uint8Array, key: KeyObject, signature: Uint8Array) => onPool<boolean>((done) => verify(null, message, key, signature, done))
    : async (message: Uint8Array, key: KeyObject, signature: Uint8Array) => verify(null, message, key, signature);
  return {
    name: pool ? 'node:crypto (thread pool)' : 'node:crypto',
    sha256: (data) => toU8(createHash('sha256').update(data).digest()),
    hmacSha256: (key, data) => toU8(createHmac('sha256', key).update(data).digest()),
    randomBytes: (length) => toU8(randomBytes(length)),
    // Measured here: noble derives a public key faster (~2k/s) than a node:crypto KeyObject round trip (~1.2k/s).
    publicKeyFromSeed: (seed) => ed25519.getPublicKey(seed),
    // OpenSSL's key generation, encoded by the job itself (~150 µs a key here, against @noble's
    // ~315). Not as KeyObjects exported to JWK, though that is ~50 µs: in Node 20 that deadlocks
    // now and then (the export holds the key's mutex while it allocates; a garbage collection
    // then destroys the key's generation job, whose destructor waits for the same mutex).
    generateKeyPair: () => {
      const { publicKey, privateKey } = generateKeyPairSync('ed25519', { publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'der' } });
      if (!startsWith(privateKey, PKCS8_PREFIX) || privateKey.length !== PKCS8_PREFIX.length + 32 || !startsWith(publicKey, SPKI_PREFIX) || publicKey.length !== SPKI_PREFIX.length + 32) {
        throw new Error('node:crypto returned an Ed25519 key pair in an unexpected encoding');
      }
      return { seed: toU8(privateKey.subarray(PKCS8_PREFIX.length)), publicKey: toU8(publicKey.subarray(SPKI_PREFIX.length)) };
    },
    sign: (seed, message) => signWith(message, privateKeyOf(seed)),
    signer: (seed, publicKey) => {
      // As JWK when the public key is known: ~50 µs against ~500 for PKCS#8 DER here (JWK wants both halves).
      const key =
        publicKey?.length === 32 && seed.length === 32
          ? createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: base64Url(seed), x: base64Url(publicKey) }, format: 'jwk' })
          : createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
      return (message) => signWith(message, key);
    },
    verify: async (publicKey, message, signature) => {
      if (publicKey.length !== 32 || signature.length !== 64) return false;
      try {
        // JWK: ~12 µs to import here, against ~100 for the same key as SPKI DER.
        const key = publicKeys.get(publicKey, () => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: base64Url(publicKey) }, format: 'jwk' }));
        return await verifyWith(message, key, signature);
      } catch {
        return false; // a public key that is not a curve point: failed verification, not a crash
      }
    },
  };
}

/** Signs and verifies in the calling thread: deterministic, as a simulation (`SimClock`) needs. */
export const nodeCrypto: CryptoBackend = createNodeCrypto();

/** Signs and verifies on libuv's thread pool (`threadPool`): createNode's and the signaling server's default. */
export const nodePoolCrypto: CryptoBackend = createNodeCrypto({ threadPool: true });

/**
 * The crypto the engine needs, behind one interface so each environment picks its fastest
 * implementation (node:crypto in Node, @noble in browsers; WebCrypto Ed25519 where present).
 * Hashing is synchronous because proof of work and ID checks hash in tight loops;
 * signing and verifying may be asynchronous because WebCrypto is.
 */
export interface CryptoBackend {
  readonly name: string;
  sha256(data: Uint8Array): Uint8Array;
  hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array;
  randomBytes(length: number): Uint8Array;
  /** The Ed25519 public key of a 32-byte secret seed. */
  publicKeyFromSeed(seed: Uint8Array): Uint8Array;
  /**
   * Optional: a fresh random key pair (32-byte seed, its public key), for a platform that makes one
   * faster than `randomBytes` + `publicKeyFromSeed` (node:crypto: ~185 µs against ~315 µs with
   * @noble on this project's test machine). The ID puzzle's search then uses it instead of those two.
   */
  generateKeyPair?(): { seed: Uint8Array; publicKey: Uint8Array };
  sign(seed: Uint8Array, message: Uint8Array): Promise<Uint8Array>;
  /**
   * A signing function bound to one seed, so per-key setup (e.g. a KeyObject) happens once.
   * `publicKey`, the seed's public key when the caller has it, spares a backend deriving it.
   */
  signer(seed: Uint8Array, publicKey?: Uint8Array): (message: Uint8Array) => Promise<Uint8Array>;
  verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const SEED_BYTES = 32;

/** DER prefix that wraps a raw 32-byte Ed25519 seed into PKCS#8 (RFC 8410), as WebCrypto and node:crypto import and export it. */
export const ED25519_PKCS8_PREFIX = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20);

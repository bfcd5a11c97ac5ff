/**
 * Node identity: an Ed25519 key pair whose ID = SHA-256(public key) must also solve
 * S/Kademlia's static puzzle: SHA-256("spydht/id/v1" ‖ ID) starts with `difficulty` zero bits.
 * Each candidate costs a key generation, so an attacker cannot cheaply pick an ID near a target.
 */
import { concatBytes, equalBytes, fromHex, leadingZeroBits, toHex, utf8 } from '../bytes.js';
import { SpydhtError } from '../errors.js';
import type { NodeId } from '../id.js';
import { SEED_BYTES, type CryptoBackend } from './backend.js';
import { SLICE_MS, yieldToEventLoop } from './yield.js';

const PUZZLE_TAG = utf8('spydht/id/v1');

/**
 * Default ID puzzle difficulty: 2^9 ≈ 512 key generations on average. At the ~2k keys/s measured
 * for @noble in one core that is ~0.25 s mean and ~0.75 s p95 (the search time is geometric); with
 * node:crypto's key generation as this backend uses it (~5k/s) ~0.1 s. An attacker pays less:
 * OpenSSL alone makes ~19k keys/s per core here, ~27 ms an identity (SECURITY.md prices it so).
 */
export const DEFAULT_ID_DIFFICULTY = 9;

export function idFromPublicKey(crypto: CryptoBackend, publicKey: Uint8Array): NodeId {
  return crypto.sha256(publicKey);
}

export function idPuzzleBits(crypto: CryptoBackend, id: NodeId): number {
  return leadingZeroBits(crypto.sha256(concatBytes(PUZZLE_TAG, id)));
}

export function solvesIdPuzzle(crypto: CryptoBackend, id: NodeId, difficulty: number): boolean {
  return difficulty <= 0 || idPuzzleBits(crypto, id) >= difficulty;
}

export interface IdentityJSON {
  version: 1;
  /** 32-byte Ed25519 secret seed, hex. Keep it secret: whoever has it can delete your records. */
  seed: string;
}

export interface GenerateIdentityOptions {
  crypto: CryptoBackend;
  difficulty?: number;
  signal?: AbortSignal;
}

/** Backends whose `generateKeyPair` was checked against `publicKeyFromSeed`: true if it agreed. */
const keyGenerationAgrees = new WeakMap<CryptoBackend, boolean>();

export class Identity {
  readonly id: NodeId;
  readonly publicKey: Uint8Array;
  readonly #seed: Uint8Array;
  readonly #sign: (message: Uint8Array) => Promise<Uint8Array>;

  private constructor(crypto: CryptoBackend, seed: Uint8Array, publicKey: Uint8Array) {
    this.#seed = seed;
    this.#sign = crypto.signer(seed, publicKey);
    this.publicKey = publicKey;
    this.id = idFromPublicKey(crypto, publicKey);
  }

  /** Searches seeds until the ID solves the puzzle; yields to the event loop between slices. */
  static async generate({ crypto, difficulty = DEFAULT_ID_DIFFICULTY, signal }: GenerateIdentityOptions): Promise<Identity> {
    let fast = crypto.generateKeyPair !== undefined && keyGenerationAgrees.get(crypto) !== false;
    for (;;) {
      const sliceEnd = Date.now() + SLICE_MS;
      do {
        if (signal?.aborted) throw SpydhtError.aborted(signal.reason);
        const pair = fast ? crypto.generateKeyPair!() : undefined;
        const seed = pair?.seed ?? crypto.randomBytes(SEED_BYTES);
        const publicKey = pair?.publicKey ?? crypto.publicKeyFromSeed(seed);
        if (solvesIdPuzzle(crypto, idFromPublicKey(crypto, publicKey), difficulty)) {
          if (!pair || keyGenerationAgrees.get(crypto)) return new Identity(crypto, Uint8Array.from(seed), publicKey);
          // A backend's first key found is derived again from its seed, as a restored identity's
          // is: a platform whose key generation disagrees with that is not used again.
          const agrees = pair.seed.length === SEED_BYTES && equalBytes(crypto.publicKeyFromSeed(pair.seed), publicKey);
          keyGenerationAgrees.set(crypto, agrees);
          if (agrees) return new Identity(crypto, Uint8Array.from(seed), publicKey);
          fast = false;
        }
      } while (Date.now() < sliceEnd);
      await yieldToEventLoop();
    }
  }

  /** Restores a saved identity; checks it against `difficulty` when given. */
  static fromSeed(crypto: CryptoBackend, seed: Uint8Array, difficulty = 0): Identity {
    if (!(seed instanceof Uint8Array) || seed.length !== SEED_BYTES) {
      throw SpydhtError.invalidArgument(`an identity seed is ${SEED_BYTES} bytes`);
    }
    const identity = new Identity(crypto, Uint8Array.from(seed), crypto.publicKeyFromSeed(seed));
    if (!solvesIdPuzzle(crypto, identity.id, difficulty)) {
      throw SpydhtError.invalidArgument(`identity does not solve the ID puzzle at difficulty ${difficulty}`);
    }
    return identity;
  }

  static fromJSON(crypto: CryptoBackend, json: IdentityJSON, difficulty = 0): Identity {
    if (!json || json.version !== 1 || typeof json.seed !== 'string') {
      throw SpydhtError.invalidArgument('not a saved spydht identity');
    }
    return Identity.fromSeed(crypto, fromHex(json.seed), difficulty);
  }

  toJSON(): IdentityJSON {
    return { version: 1, seed: toHex(this.#seed) };
  }

  sign(message: Uint8Array): Promise<Uint8Array> {
    return this.#sign(message);
  }
}

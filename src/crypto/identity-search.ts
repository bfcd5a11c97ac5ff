/**
 * The ID puzzle searched with the platform's own Ed25519 key generation (`crypto.subtle`), for the
 * worker that makes a new identity. Each candidate of the puzzle is a fresh key pair, which @noble
 * derives in JavaScript. In Chromium a whole `generateIdentityInWorker` at the default difficulty
 * (worker start included) took 107 ms on average this way against 139 ms with @noble, and 208
 * against 344 ms at p95, on an idle machine; 120–130 against 200–250 ms on average with the other
 * core busy (`node bench/run.js --only puzzle`): a first visit is ready that much sooner.
 *
 * Only the search moves: the seed found is checked and used exactly as one found by @noble.
 */
import { equalBytes } from '../bytes.js';
import { ED25519_PKCS8_PREFIX as PKCS8_PREFIX, PUBLIC_KEY_BYTES, SEED_BYTES } from './backend.js';
import { idFromPublicKey, solvesIdPuzzle } from './identity.js';
import { nobleCrypto } from './noble.js';

const ALGORITHM = { name: 'Ed25519' } as const;
/**
 * Key pairs requested at once. WebCrypto answers each call on another thread, so a lone call waits
 * out the hop (~0.5 ms a key on a page's main thread, against ~0.09 ms with 8 in flight); 4 or 16
 * in flight did no better in the worker.
 */
const BATCH = 8;

/**
 * Resolves with a seed whose identity solves the puzzle at `difficulty`, or undefined when `subtle`
 * cannot do it (no Ed25519, keys not extractable, or exported in an unexpected form): the caller
 * then searches with @noble. The first key is also derived with @noble and compared, so a platform
 * whose seed and public key disagree is never trusted.
 */
export async function searchIdentitySeed(subtle: SubtleCrypto, difficulty: number): Promise<Uint8Array | undefined> {
  let checked = false;
  for (;;) {
    let batch: { publicKey: Uint8Array; pkcs8: Uint8Array }[];
    try {
      batch = await Promise.all(
        Array.from({ length: BATCH }, async () => {
          const pair = (await subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as CryptoKeyPair;
          const [publicKey, pkcs8] = await Promise.all([subtle.exportKey('raw', pair.publicKey), subtle.exportKey('pkcs8', pair.privateKey)]);
          return { publicKey: new Uint8Array(publicKey), pkcs8: new Uint8Array(pkcs8) };
        }),
      );
    } catch {
      return undefined;
    }
    for (const { publicKey, pkcs8 } of batch) {
      if (publicKey.length !== PUBLIC_KEY_BYTES || pkcs8.length !== PKCS8_PREFIX.length + SEED_BYTES) return undefined;
      if (!equalBytes(pkcs8.subarray(0, PKCS8_PREFIX.length), PKCS8_PREFIX)) return undefined;
      const seed = pkcs8.slice(PKCS8_PREFIX.length);
      if (!checked) {
        if (!equalBytes(nobleCrypto.publicKeyFromSeed(seed), publicKey)) return undefined;
        checked = true;
      }
      if (solvesIdPuzzle(nobleCrypto, idFromPublicKey(nobleCrypto, publicKey), difficulty)) return seed;
    }
  }
}

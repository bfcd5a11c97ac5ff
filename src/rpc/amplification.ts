/**
 * The ≤ 3× rule, kept per address rather than per reply. A source address on a datagram can be
 * forged: until an address proves it receives what we send (it echoes our token, or answers a
 * request of ours), everything we send there because of what came from there — the reply, and the
 * ping that verifies a stranger for a free routing slot — is paid from a credit of
 * AMPLIFICATION_FACTOR times the bytes received from it. Rotating sender IDs changes nothing: the
 * ledger keys on the address, which is what a forger aims at its victim.
 */
import { LruMap } from '../lru.js';
import type { PeerKey } from '../wire/address.js';

/** Everything sent toward an unproven address is at most this many times what came from it. */
export const AMPLIFICATION_FACTOR = 3;
/** Credit saved up per address at most: a few full replies, so old bytes cannot pay for a burst now. */
const MAX_CREDIT = 3 * 5120;
/**
 * Addresses remembered. Forgetting one is the safe side: it starts again at zero credit, and only
 * first contacts (no token yet) are kept here at all.
 */
const MAX_ADDRESSES = 1024;

export class AmplificationLedger {
  /** Address → bytes we may still send there unproven. */
  readonly #credit = new LruMap<PeerKey, number>(MAX_ADDRESSES);

  /** A datagram of `bytes` arrived from `key`, which has not proven it receives there. */
  received(key: PeerKey, bytes: number): void {
    this.#credit.set(key, Math.min(MAX_CREDIT, (this.#credit.peek(key) ?? 0) + AMPLIFICATION_FACTOR * bytes));
  }

  /** `key` proved it receives there: its credit is no longer needed (and no longer held). */
  forget(key: PeerKey): void {
    this.#credit.delete(key);
  }

  /** Bytes we may send to `key` now. */
  available(key: PeerKey): number {
    return this.#credit.peek(key) ?? 0;
  }

  /** Spends `bytes` of `key`'s credit; false (nothing spent) if it has less. */
  spend(key: PeerKey, bytes: number): boolean {
    const credit = this.#credit.peek(key) ?? 0;
    if (credit < bytes) return false;
    this.#credit.set(key, credit - bytes);
    return true;
  }
}

/**
 * Every inbound limit of the engine and its defaults, in one place. Each is a token bucket per
 * observed IP, one per IPv4 /24 or IPv6 /64 (and IPv6 /48) the IP is in, and one in total: a host
 * cannot escape its share by hopping addresses within its own network, and one network cannot
 * spend what belongs to everyone (the global bucket is large; the prefix buckets stop a flood first).
 *
 * - `requests`: every request, before anything is answered.
 * - `writes`: STORE and DELETE (and a PROXY get or put, which fans out), before they are validated.
 * - `signatures`: replies we sign because a peer not yet proven to us asked (WANT_AUTH). Over budget
 *   the reply goes unsigned: a lookup needs no signature, only a routing-table candidate does.
 * - `verifications`: signature checks forced by input from the network (HELLO, DELETE proofs),
 *   after every cheaper check has passed.
 */
import { ipPrefixes } from '../ip-prefix.js';
import { RateLimiter, type RateLimitOptions } from '../rate-limit.js';

export interface Limits {
  /** Every request, per observed IP and in total. */
  requests: RateLimitOptions;
  /** STORE, DELETE and PROXY, on top of `requests`. */
  writes: RateLimitOptions;
  /** Signed replies for peers that asked for a signature. */
  signatures: RateLimitOptions;
  /** Signature checks forced by unauthenticated input. */
  verifications: RateLimitOptions;
}

export type LimitOverrides = { [K in keyof Limits]?: Partial<Limits[K]> };

export const DEFAULT_LIMITS: Readonly<Limits> = {
  requests: { perKeyRate: 50, perKeyBurst: 100, globalRate: 5000, globalBurst: 10_000, maxKeys: 4096 },
  writes: { perKeyRate: 20, perKeyBurst: 40, globalRate: 1000, globalBurst: 2000, maxKeys: 4096 },
  // An honest peer asks a node for a signature about once per (ID, address) it has not verified: a
  // join asks each node it meets once. 20/s per IP is far above that.
  signatures: { perKeyRate: 20, perKeyBurst: 40, globalRate: 1000, globalBurst: 2000, maxKeys: 4096 },
  verifications: { perKeyRate: 20, perKeyBurst: 40, globalRate: 1000, globalBurst: 2000, maxKeys: 4096 },
};

/**
 * A /24 or /64 gets this many times the rate and burst of one IP (a few hosts' worth: a household
 * or an office behind one prefix); an IPv6 /48 twice that again.
 */
export const PREFIX_SHARE = 4;

/** Write tokens a refused (misplaced) STORE costs, the one taken to admit it included. */
export const WRITE_REFUSAL_COST = 10;

/** One limit per IP, per prefix and in total. */
export class PrefixRateLimiter {
  readonly #perIp: RateLimiter;
  readonly #perPrefix: RateLimiter;

  constructor(options: RateLimitOptions, now: () => number) {
    this.#perIp = new RateLimiter(options, now);
    // The prefix limiter's global bucket is never the tighter one: the per-IP limiter holds the real total.
    this.#perPrefix = new RateLimiter(
      {
        perKeyRate: options.perKeyRate * PREFIX_SHARE,
        perKeyBurst: options.perKeyBurst * PREFIX_SHARE,
        globalRate: Infinity,
        globalBurst: Infinity,
        maxKeys: options.maxKeys,
      },
      now,
    );
  }

  /** Takes up to `n` more tokens from `ip`'s own bucket and its prefix's (a penalty). */
  drain(ip: string, n: number): void {
    this.#perIp.drain(ip, n);
    const narrow = ipPrefixes(ip).narrow;
    if (narrow !== ip) this.#perPrefix.drain(narrow, n);
  }

  /**
   * Takes a token for `ip` (and the total), then for its prefixes; false means over a limit. The
   * IP's own bucket goes first, so a flooding IP that is refused spends nothing of its neighbours'.
   */
  take(ip: string): boolean {
    if (!this.#perIp.take(ip)) return false;
    const { narrow, wide } = ipPrefixes(ip);
    if (narrow !== ip && !this.#perPrefix.take(narrow)) return false;
    return wide === undefined || this.#perPrefix.take(wide, 2);
  }
}

export class RequestLimits {
  readonly #requests: PrefixRateLimiter;
  readonly #writes: PrefixRateLimiter;
  readonly #signatures: PrefixRateLimiter;
  readonly #verifications: PrefixRateLimiter;

  /**
   * `nodesPerIp`: how many nodes one IP may hold in our table (maxPerIp / 2 by default settings,
   * at least 1). The crypto budgets are per node behind an IP, so a swarm that runs many nodes on
   * one address (a local test swarm, maxPerIp 64) gives that address their share, not one node's.
   */
  constructor(overrides: LimitOverrides = {}, now: () => number, nodesPerIp = 1) {
    const make = (k: keyof Limits, scale = 1): PrefixRateLimiter => {
      const d = DEFAULT_LIMITS[k];
      return new PrefixRateLimiter({ ...d, perKeyRate: d.perKeyRate * scale, perKeyBurst: d.perKeyBurst * scale, ...overrides[k] }, now);
    };
    this.#requests = make('requests');
    this.#writes = make('writes');
    this.#signatures = make('signatures', nodesPerIp);
    this.#verifications = make('verifications', nodesPerIp);
  }

  /** One request from `ip`: false means drop it unanswered. */
  admitRequest(ip: string): boolean {
    return this.#requests.take(ip);
  }

  /** One STORE, DELETE or PROXY operation from `ip`: false means answer "rate limited" without validating it. */
  admitWrite(ip: string): boolean {
    return this.#writes.take(ip);
  }

  /** One signature asked for by `ip`: false means reply unsigned. */
  admitSignature(ip: string): boolean {
    return this.#signatures.take(ip);
  }

  /** One signature check forced by input from `ip`: false means drop (or refuse) it unchecked. */
  admitVerification(ip: string): boolean {
    return this.#verifications.take(ip);
  }

  /**
   * A write this node refused as misplaced (it is not among the nodes that should hold the key)
   * costs `ip` WRITE_REFUSAL_COST writes in all: spraying records at every node drains the
   * sprayer's budget, while an honest node, which stores at the closest nodes, never pays it.
   */
  chargeRefusedWrite(ip: string): void {
    this.#writes.drain(ip, WRITE_REFUSAL_COST - 1);
  }
}

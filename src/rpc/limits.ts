/**
 * Every inbound rate limit of the engine and its defaults, in one place. The RPC layer takes a
 * request token per observed IP before it answers anything; the responder takes a write token
 * per IP before it validates a STORE or DELETE (signature checks and storage are the costly part).
 */
import { RateLimiter, type RateLimitOptions } from '../rate-limit.js';

export interface Limits {
  /** Every request, per observed IP and in total. */
  requests: RateLimitOptions;
  /** STORE and DELETE, on top of `requests`. */
  writes: RateLimitOptions;
}

export type LimitOverrides = { [K in keyof Limits]?: Partial<Limits[K]> };

export const DEFAULT_LIMITS: Readonly<Limits> = {
  requests: { perKeyRate: 50, perKeyBurst: 100, globalRate: 5000, globalBurst: 10_000, maxKeys: 4096 },
  writes: { perKeyRate: 20, perKeyBurst: 40, globalRate: 1000, globalBurst: 2000, maxKeys: 4096 },
};

/** Write tokens a refused (misplaced) STORE costs, the one taken to admit it included. */
export const WRITE_REFUSAL_COST = 10;

export class RequestLimits {
  readonly #requests: RateLimiter;
  readonly #writes: RateLimiter;

  constructor(overrides: LimitOverrides = {}, now: () => number) {
    this.#requests = new RateLimiter({ ...DEFAULT_LIMITS.requests, ...overrides.requests }, now);
    this.#writes = new RateLimiter({ ...DEFAULT_LIMITS.writes, ...overrides.writes }, now);
  }

  /** One request from `ip`: false means drop it unanswered. */
  admitRequest(ip: string): boolean {
    return this.#requests.take(ip);
  }

  /** One STORE or DELETE from `ip`: false means answer "rate limited" without validating it. */
  admitWrite(ip: string): boolean {
    return this.#writes.take(ip);
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

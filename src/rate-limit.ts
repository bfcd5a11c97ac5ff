/**
 * Token buckets: one (`TokenBucket`, e.g. per WebSocket connection) or one per key in a bounded
 * map plus a global one (`RateLimiter`, e.g. per IP). Every rate limit in spydht is one of these.
 */
import { LruMap } from './lru.js';

export interface RateLimitOptions {
  /** Sustained requests per second allowed per key. */
  perKeyRate: number;
  /** Burst size per key. */
  perKeyBurst: number;
  /** Sustained requests per second over all keys. */
  globalRate: number;
  globalBurst: number;
  /** How many keys are tracked; the least recently active are forgotten. */
  maxKeys: number;
}

/** `rate` tokens per second, at most `burst` saved up; starts full. */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    now: number,
  ) {
    this.#tokens = burst;
    this.#at = now;
  }

  /** Tokens available at `now`. */
  available(now: number): number {
    if (now > this.#at) {
      this.#tokens = Math.min(this.burst, this.#tokens + ((now - this.#at) / 1000) * this.rate);
      this.#at = now;
    }
    return this.#tokens;
  }

  /** Takes `n` tokens if there are that many; false (and nothing taken) otherwise. */
  take(now: number, n = 1): boolean {
    if (this.available(now) < n) return false;
    this.#tokens -= n;
    return true;
  }
}

export class RateLimiter {
  readonly #keys: LruMap<string, TokenBucket>;
  readonly #global: TokenBucket;

  constructor(
    private readonly opts: RateLimitOptions,
    private readonly now: () => number,
  ) {
    this.#keys = new LruMap(opts.maxKeys);
    this.#global = new TokenBucket(opts.globalRate, opts.globalBurst, now());
  }

  /** Takes one token for `key` (and one of the global bucket); false means drop. */
  take(key: string): boolean {
    const t = this.now();
    let b = this.#keys.get(key);
    if (!b) {
      b = new TokenBucket(this.opts.perKeyRate, this.opts.perKeyBurst, t);
      this.#keys.set(key, b);
    }
    if (b.available(t) < 1 || this.#global.available(t) < 1) return false;
    b.take(t);
    this.#global.take(t);
    return true;
  }

  /** Takes up to `n` more tokens from `key` (a penalty: what is not there is not owed). */
  drain(key: string, n: number): void {
    const t = this.now();
    const b = this.#keys.get(key);
    if (b) b.take(t, Math.min(n, Math.floor(b.available(t))));
  }
}

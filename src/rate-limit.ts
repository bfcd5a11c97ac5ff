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

/** One key's bucket in a RateLimiter: its rate and burst live in the limiter, once. */
interface KeyBucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  /** Two numbers per key (a limiter holds thousands: every peer a node hears from). */
  readonly #keys: LruMap<string, KeyBucket>;
  readonly #global: TokenBucket;

  constructor(
    private readonly opts: RateLimitOptions,
    private readonly now: () => number,
  ) {
    this.#keys = new LruMap(opts.maxKeys);
    this.#global = new TokenBucket(opts.globalRate, opts.globalBurst, now());
  }

  /** Takes one token for `key` (and one of the global bucket); false means drop. `scale` widens the key's bucket. */
  take(key: string, scale = 1): boolean {
    const t = this.now();
    const rate = this.opts.perKeyRate * scale;
    const burst = this.opts.perKeyBurst * scale;
    let b = this.#keys.get(key);
    if (!b) {
      b = { tokens: burst, at: t };
      this.#keys.set(key, b);
    } else if (t > b.at) {
      b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * rate);
      b.at = t;
    }
    const allowed = b.tokens >= 1 && this.#global.available(t) >= 1;
    if (allowed) {
      b.tokens -= 1;
      this.#global.take(t);
    }
    this.#forgetRefilled(t);
    return allowed;
  }

  /** Keys tracked now (buckets that have refilled are forgotten). */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * A bucket untouched for burst ÷ rate seconds has refilled (tokens never go below 0), and a full
   * bucket is exactly what a new key gets: forgetting it changes no decision. Recency order is time
   * order (every take refreshes it; a drain moves neither), so this stops at the first bucket still refilling. A
   * node then holds buckets only for the peers of the last few seconds, not for all it ever heard.
   */
  #forgetRefilled(t: number): void {
    const refillMs = (1000 * this.opts.perKeyBurst) / this.opts.perKeyRate;
    this.#keys.dropOldestWhile((b) => t - b.at >= refillMs);
  }

  /**
   * Takes up to `n` more tokens from `key` (a penalty: what is not there is not owed). Neither the
   * refill time nor the recency order moves: the bucket still refills from its last take, and since
   * tokens never go below 0 it is full burst ÷ rate after that take, so #forgetRefilled stays exact.
   * (No refill here: the key's `scale` is not known, and capping at the unscaled burst would clip a
   * widened bucket.)
   */
  drain(key: string, n: number): void {
    const b = this.#keys.peek(key);
    if (b) b.tokens = Math.max(0, b.tokens - n);
  }
}

/** Token buckets per key (an IP), in a bounded map, plus one global bucket. */
import { LruMap } from '../lru.js';

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

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  readonly #keys: LruMap<string, Bucket>;
  readonly #global: Bucket;

  constructor(
    private readonly opts: RateLimitOptions,
    private readonly now: () => number,
  ) {
    this.#keys = new LruMap(opts.maxKeys);
    this.#global = { tokens: opts.globalBurst, at: now() };
  }

  /** Takes one token for `key`; false means drop. */
  take(key: string): boolean {
    const t = this.now();
    let b = this.#keys.get(key);
    if (!b) {
      b = { tokens: this.opts.perKeyBurst, at: t };
      this.#keys.set(key, b);
    }
    refill(b, t, this.opts.perKeyRate, this.opts.perKeyBurst);
    refill(this.#global, t, this.opts.globalRate, this.opts.globalBurst);
    if (b.tokens < 1 || this.#global.tokens < 1) return false;
    b.tokens--;
    this.#global.tokens--;
    return true;
  }
}

function refill(b: Bucket, t: number, rate: number, burst: number): void {
  if (t > b.at) {
    b.tokens = Math.min(burst, b.tokens + ((t - b.at) / 1000) * rate);
    b.at = t;
  }
}

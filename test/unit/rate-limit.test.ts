/**
 * RateLimiter forgets buckets that have refilled: a node's limiters must hold the peers of the
 * last few seconds, not every peer it ever heard from (heap per node in a large swarm), and the
 * forgetting must change no decision.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RateLimiter, type RateLimitOptions } from '../../src/rate-limit.js';

const OPTIONS: RateLimitOptions = { perKeyRate: 5, perKeyBurst: 10, globalRate: 1e9, globalBurst: 1e9, maxKeys: 4096 };

describe('RateLimiter', () => {
  it('forgets a key once its bucket has refilled, and holds the keys still refilling', () => {
    let now = 0;
    const limiter = new RateLimiter(OPTIONS, () => now);
    for (let i = 0; i < 1000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.size).toBe(1000);
    now += 1999; // burst ÷ rate = 2 s: none has refilled yet
    limiter.take('192.0.2.1');
    expect(limiter.size).toBe(1001);
    now += 1; // all 1,000 have
    limiter.take('192.0.2.2');
    expect(limiter.size).toBe(2);
  });

  it('decides exactly as one bucket per key kept for ever would', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ key: fc.integer({ min: 0, max: 5 }), dt: fc.integer({ min: 0, max: 1500 }), drain: fc.integer({ min: 0, max: 12 }) }), { maxLength: 300 }),
        (events) => {
          let now = 0;
          const limiter = new RateLimiter(OPTIONS, () => now);
          // One bucket per key, kept for ever, brought up to date at every event.
          const reference = new Map<number, { tokens: number; at: number }>();
          for (const e of events) {
            now += e.dt;
            const b = reference.get(e.key) ?? { tokens: OPTIONS.perKeyBurst, at: now };
            reference.set(e.key, b);
            b.tokens = Math.min(OPTIONS.perKeyBurst, b.tokens + ((now - b.at) / 1000) * OPTIONS.perKeyRate);
            b.at = now;
            // A drain is a penalty after a take (a refused write): take, then drain up to n.
            const allowed = b.tokens >= 1;
            if (allowed) b.tokens -= 1;
            expect(limiter.take(String(e.key))).toBe(allowed);
            if (e.drain > 0) {
              limiter.drain(String(e.key), e.drain);
              b.tokens = Math.max(0, b.tokens - e.drain);
            }
          }
        },
      ),
    );
  });
});

/**
 * The choice an identity-slot claim makes inside its IndexedDB transaction (decideSlot): a reload
 * gets its slot back, a duplicated tab does not take the live original's, stale claims are free,
 * and nothing is handed out twice. The transaction itself is IndexedDB's, tested in real Chromium
 * (test/e2e/identity-tabs.spec.ts).
 */
import { describe, expect, it } from 'vitest';
import { decideSlot, slotIdentityKey, SLOT_STALE_MS, type SessionSlot, type SlotClaim } from '../../src/identity-slots.js';

const NOW = 1_000_000;
let n = 0;
const newToken = (): string => `new-${++n}`;
const claim = (claimId: string, token: string, age = 0): SlotClaim => ({ claimId, token, heartbeat: NOW - age });
const session = (slot: number, token: string, claimId: string, released = false): SessionSlot => ({ slot, token, claimId, released });

describe('decideSlot', () => {
  it('a first tab takes slot 0, the next one the lowest free slot', () => {
    expect(decideSlot(new Map(), undefined, NOW, newToken)).toMatchObject({ slot: 0, reason: 'new' });
    const claims = new Map([[0, claim('a', 'ta')], [2, claim('c', 'tc')]]);
    expect(decideSlot(claims, undefined, NOW, newToken)).toMatchObject({ slot: 1, reason: 'new' });
  });

  it('a reload takes its slot back from its released predecessor, even with a fresh heartbeat', () => {
    const claims = new Map([[0, claim('a', 'ta')], [1, claim('b', 'tb', 100)]]);
    expect(decideSlot(claims, session(1, 'tb', 'b', true), NOW, newToken)).toEqual({ slot: 1, token: 'tb', reason: 'reload' });
  });

  it('a duplicated tab (same token, holder not released) takes another slot and a new token', () => {
    const claims = new Map([[0, claim('a', 'ta', 100)]]);
    const d = decideSlot(claims, session(0, 'ta', 'a', false), NOW, newToken)!;
    expect(d.slot).toBe(1);
    expect(d.token).not.toBe('ta');
    // A copy of a released record whose slot another document now holds is no reload either.
    const taken = new Map([[0, claim('z', 'ta', 100)]]);
    expect(decideSlot(taken, session(0, 'ta', 'a', true), NOW, newToken)?.slot).toBe(1);
  });

  it('its slot held by another tab: the lowest free one, keeping its token', () => {
    const claims = new Map([[0, claim('x', 'tx')], [1, claim('y', 'ty')]]);
    expect(decideSlot(claims, session(1, 'tb', 'b', true), NOW, newToken)).toEqual({ slot: 2, token: 'tb', reason: 'new' });
  });

  it('a claim without a heartbeat for the stale time is free; one from the far future too', () => {
    const claims = new Map([[0, claim('a', 'ta', SLOT_STALE_MS + 1)], [1, claim('b', 'tb', -(SLOT_STALE_MS + 1))]]);
    expect(decideSlot(claims, undefined, NOW, newToken)).toMatchObject({ slot: 0, reason: 'stale' });
    expect(decideSlot(claims, undefined, NOW, newToken, new Set([0]))).toMatchObject({ slot: 1, reason: 'stale' });
    expect(decideSlot(new Map([[0, claim('a', 'ta', SLOT_STALE_MS - 1)]]), undefined, NOW, newToken)?.slot).toBe(1);
  });

  it('skips excluded slots (held under a Web Lock), and gives up when every slot is taken', () => {
    expect(decideSlot(new Map(), session(0, 't', 'c', true), NOW, newToken, new Set([0]))?.slot).toBe(1);
    const full = new Map(Array.from({ length: 4 }, (_, i) => [i, claim(`c${i}`, `t${i}`)] as const));
    expect(decideSlot(full, undefined, NOW, newToken, new Set(), 4)).toBeUndefined();
  });

  it('slot 0 keeps the key a page without slots used', () => {
    expect(slotIdentityKey('spydht/identity', 0)).toBe('spydht/identity');
    expect(slotIdentityKey('spydht/identity', 3)).toBe('spydht/identity/3');
  });
});

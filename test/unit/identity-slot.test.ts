/**
 * Identity slots: two tabs of one origin never get the same stored identity, and a lone reloaded
 * tab gets slot 0 (its ID) back. Over Web Locks (a stand-in with the API's ifAvailable semantics)
 * and over Node's real BroadcastChannel (what tabs on insecure origins use).
 */
import { BroadcastChannel as NodeBroadcastChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { claimIdentitySlot, type BroadcastChannelLike, type LockManagerLike } from '../../src/identity-slot.js';

/** A LockManager stand-in: exclusive locks by name, `ifAvailable` grants or passes null. */
class FakeLocks implements LockManagerLike {
  readonly held = new Set<string>();
  async request(name: string, _o: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<void> | undefined): Promise<unknown> {
    if (this.held.has(name)) return callback(null);
    this.held.add(name);
    try {
      return await callback({ name });
    } finally {
      this.held.delete(name);
    }
  }
}

const openChannel = (name: string): BroadcastChannelLike => new NodeBroadcastChannel(name) as unknown as BroadcastChannelLike;
let base = 0;
const freshBase = (): string => `test/identity-${process.pid}-${base++}`;

describe('claimIdentitySlot', () => {
  it('Web Locks: concurrent claims get distinct slots; a released slot is reused first', async () => {
    const locks = new FakeLocks();
    const b = freshBase();
    const claims = await Promise.all([0, 1, 2].map(() => claimIdentitySlot({ base: b, locks })));
    expect(claims.map((c) => c?.key).sort()).toEqual([b, `${b}/1`, `${b}/2`]);
    const first = claims.find((c) => c?.key === b)!;
    const freed = first.release();
    expect(first.release()).toBe(freed); // idempotent
    await freed;
    const reloaded = await claimIdentitySlot({ base: b, locks });
    expect(reloaded?.key).toBe(b);
    await Promise.all([...claims, reloaded].map((c) => c?.release()));
    expect(locks.held.size).toBe(0);
  });

  it('Web Locks: every slot taken → undefined (the caller uses an unsaved identity)', async () => {
    const locks = new FakeLocks();
    const b = freshBase();
    const held = await Promise.all([0, 1].map(() => claimIdentitySlot({ base: b, locks, maxSlots: 2 })));
    expect(await claimIdentitySlot({ base: b, locks, maxSlots: 2 })).toBeUndefined();
    for (const c of held) c?.release();
  });

  it('BroadcastChannel: a tab holding a slot makes the next claimant move on; release frees it', async () => {
    const b = freshBase();
    const a = await claimIdentitySlot({ base: b, locks: null, openChannel, waitMs: 30 });
    expect(a?.key).toBe(b);
    const second = await claimIdentitySlot({ base: b, locks: null, openChannel, waitMs: 30 });
    expect(second?.key).toBe(`${b}/1`);
    await a!.release();
    const reloaded = await claimIdentitySlot({ base: b, locks: null, openChannel, waitMs: 30 });
    expect(reloaded?.key).toBe(b);
    second!.release();
    reloaded!.release();
  });

  it('BroadcastChannel: tabs starting at the same moment still end up on distinct slots', async () => {
    const b = freshBase();
    const claims = await Promise.all([0, 1, 2, 3].map(() => claimIdentitySlot({ base: b, locks: null, openChannel, waitMs: 30 })));
    const keys = claims.map((c) => c?.key);
    expect(new Set(keys).size).toBe(4);
    expect(keys).toContain(b);
    for (const c of claims) c?.release();
  });

  it('BroadcastChannel: claimants that reach a slot at different moments still never share it', async () => {
    const b = freshBase();
    // Staggered starts: some hear a rival's claim while still on an earlier slot.
    const claims = await Promise.all(
      [0, 5, 10, 20, 35, 50].map((delay) =>
        new Promise((r) => setTimeout(r, delay)).then(() => claimIdentitySlot({ base: b, locks: null, openChannel, waitMs: 30 })),
      ),
    );
    expect(new Set(claims.map((c) => c?.key)).size).toBe(6);
    for (const c of claims) c?.release();
  });

  it('neither API (no other tab can exist): slot 0', async () => {
    const b = freshBase();
    const slot = await claimIdentitySlot({ base: b, locks: null, openChannel: null });
    expect(slot?.key).toBe(b);
    slot?.release();
  });
});

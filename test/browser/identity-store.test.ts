/** loadOrCreateIdentity with injected storage: an in-memory IdentityStorage and a fake localStorage. */
import { describe, expect, it, vi } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { Identity, idPuzzleBits } from '../../src/crypto/identity.js';
import { nobleCrypto } from '../../src/crypto/noble.js';
import { isSpydhtError } from '../../src/errors.js';
import {
  DEFAULT_IDENTITY_KEY,
  indexedDbIdentityStorage,
  loadOrCreateIdentity,
  localStorageIdentityStorage,
  memoryIdentityStorage,
  type IdentityStorage,
  type LocalStorageLike,
} from '../../src/identity-store.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';

/** A Web Storage stand-in that behaves like the real one (strings only, null when missing). */
class FakeLocalStorage implements LocalStorageLike {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, String(value));
  }
  removeItem(key: string): void {
    this.items.delete(key);
  }
}

const crypto = nodeCrypto;

describe('loadOrCreateIdentity', () => {
  it('creates, saves, and on the next "page load" returns the same identity (memory storage)', async () => {
    const storage = memoryIdentityStorage();
    const first = await loadOrCreateIdentity({ crypto, difficulty: 6, storage });
    expect(idPuzzleBits(crypto, first.id)).toBeGreaterThanOrEqual(6);
    const saved = storage.data.get(DEFAULT_IDENTITY_KEY);
    expect(saved).toBeDefined();
    expect(JSON.parse(saved!)).toEqual(first.toJSON());

    const generate = vi.fn((o: { crypto: typeof crypto; difficulty: number }) => Identity.generate(o));
    const second = await loadOrCreateIdentity({ crypto, difficulty: 6, storage, generate });
    expect(toHex(second.id)).toBe(toHex(first.id));
    expect(generate).not.toHaveBeenCalled();
    const msg = new Uint8Array([1, 2, 3]);
    expect(toHex(await second.sign(msg))).toBe(toHex(await first.sign(msg)));
  });

  it('works over a fake localStorage object, under its own key', async () => {
    const ls = new FakeLocalStorage();
    const storage = localStorageIdentityStorage(ls);
    const a = await loadOrCreateIdentity({ crypto, difficulty: 4, storage, key: 'app/a' });
    const b = await loadOrCreateIdentity({ crypto, difficulty: 4, storage, key: 'app/b' });
    expect(toHex(a.id)).not.toBe(toHex(b.id));
    expect([...ls.items.keys()].sort()).toEqual(['app/a', 'app/b']);
    const again = await loadOrCreateIdentity({ crypto: nobleCrypto, difficulty: 4, storage, key: 'app/a' });
    expect(toHex(again.id)).toBe(toHex(a.id));
  });

  it("storage: 'localstorage' uses globalThis.localStorage", async () => {
    const ls = new FakeLocalStorage();
    vi.stubGlobal('localStorage', ls);
    try {
      const a = await loadOrCreateIdentity({ crypto, difficulty: 3, storage: 'localstorage' });
      expect(ls.items.has(DEFAULT_IDENTITY_KEY)).toBe(true);
      const b = await loadOrCreateIdentity({ crypto, difficulty: 3, storage: 'localstorage' });
      expect(toHex(b.id)).toBe(toHex(a.id));
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("storage: 'indexeddb' falls back to localStorage when there is no IndexedDB", async () => {
    expect((globalThis as { indexedDB?: unknown }).indexedDB).toBeUndefined();
    const ls = new FakeLocalStorage();
    vi.stubGlobal('localStorage', ls);
    try {
      const a = await loadOrCreateIdentity({ crypto, difficulty: 3, storage: 'indexeddb' });
      const b = await loadOrCreateIdentity({ crypto, difficulty: 3, storage: 'indexeddb' });
      expect(toHex(b.id)).toBe(toHex(a.id));
      expect(ls.items.size).toBe(1);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("storage: 'indexeddb' falls back when IndexedDB refuses to open", async () => {
    const ls = new FakeLocalStorage();
    const broken = {
      open: () => {
        const req = { onsuccess: null, onerror: null as null | (() => void), onupgradeneeded: null, error: new DOMException('denied', 'SecurityError') };
        setTimeout(() => req.onerror?.(), 0);
        return req;
      },
    };
    vi.stubGlobal('localStorage', ls);
    vi.stubGlobal('indexedDB', broken);
    try {
      await expect(indexedDbIdentityStorage()).rejects.toThrow();
      await loadOrCreateIdentity({ crypto, difficulty: 3, storage: 'indexeddb' });
      expect(ls.items.size).toBe(1);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('with no storage at all, a named storage fails clearly', async () => {
    await expect(loadOrCreateIdentity({ crypto, difficulty: 1, storage: 'localstorage' })).rejects.toSatisfy((e) =>
      isSpydhtError(e, 'INVALID_ARGUMENT'),
    );
    await expect(loadOrCreateIdentity({ crypto, difficulty: 1, storage: 'indexeddb' })).rejects.toSatisfy((e) =>
      isSpydhtError(e, 'INVALID_ARGUMENT'),
    );
  });

  it.each([
    ['not JSON', '{{{'],
    ['wrong version', JSON.stringify({ version: 2, seed: '00'.repeat(32) })],
    ['short seed', JSON.stringify({ version: 1, seed: 'abcd' })],
    ['not hex', JSON.stringify({ version: 1, seed: 'zz'.repeat(32) })],
    ['null', 'null'],
  ])('replaces an unreadable saved identity (%s)', async (_name, text) => {
    const storage = memoryIdentityStorage({ [DEFAULT_IDENTITY_KEY]: text });
    const identity = await loadOrCreateIdentity({ crypto, difficulty: 2, storage });
    expect(storage.data.get(DEFAULT_IDENTITY_KEY)).toBe(JSON.stringify(identity.toJSON()));
  });

  it('replaces a saved identity that is too weak for the difficulty', async () => {
    let weak: Identity;
    do weak = await Identity.generate({ crypto, difficulty: 0 });
    while (idPuzzleBits(crypto, weak.id) >= 8);
    const storage = memoryIdentityStorage({ [DEFAULT_IDENTITY_KEY]: JSON.stringify(weak.toJSON()) });
    const loaded = await loadOrCreateIdentity({ crypto, difficulty: 0, storage });
    expect(toHex(loaded.id)).toBe(toHex(weak.id)); // good enough at difficulty 0
    const strong = await loadOrCreateIdentity({ crypto, difficulty: 8, storage });
    expect(toHex(strong.id)).not.toBe(toHex(weak.id));
    expect(idPuzzleBits(crypto, strong.id)).toBeGreaterThanOrEqual(8);
  });

  it('uses a custom generator and an async storage, and passes the signal on', async () => {
    const log: string[] = [];
    const map = new Map<string, string>();
    const storage: IdentityStorage = {
      get: async (k) => (log.push(`get ${k}`), map.get(k)),
      set: async (k, v) => void (log.push(`set ${k}`), map.set(k, v)),
    };
    const ac = new AbortController();
    const generate = vi.fn((o: { crypto: typeof crypto; difficulty: number; signal?: AbortSignal }) => {
      expect(o.signal).toBe(ac.signal);
      expect(o.difficulty).toBe(5);
      return Identity.generate(o);
    });
    await loadOrCreateIdentity({ crypto, difficulty: 5, storage, key: 'k', generate, signal: ac.signal });
    expect(generate).toHaveBeenCalledTimes(1);
    expect(log).toEqual(['get k', 'set k']);
  });

  it('an aborted generation rejects and saves nothing', async () => {
    const storage = memoryIdentityStorage();
    await expect(loadOrCreateIdentity({ crypto, difficulty: 40, storage, signal: AbortSignal.abort() })).rejects.toSatisfy((e) =>
      isSpydhtError(e, 'ABORTED'),
    );
    expect(storage.data.size).toBe(0);
  });

  it('a storage write failure rejects (the caller learns the ID will not persist)', async () => {
    const storage: IdentityStorage = {
      get: () => null,
      set: () => {
        throw new DOMException('quota', 'QuotaExceededError');
      },
    };
    await expect(loadOrCreateIdentity({ crypto, difficulty: 1, storage })).rejects.toThrow(/quota/);
  });
});

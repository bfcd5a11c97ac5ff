/**
 * One identity per tab, kept across reloads. Tabs of one origin share their storage, so a stored
 * identity alone would make every tab the same node. Instead each document *claims a slot*; slot n
 * has its own stored identity (slot 0 is the key a single-identity page always used).
 *
 * The claim is atomic: one IndexedDB readwrite transaction over the claims store reads every claim
 * and writes ours, and IndexedDB runs readwrite transactions over one store one at a time, across
 * tabs, so two tabs can never take one slot (no timing is involved). A claim lives while its
 * document heartbeats it; one without a heartbeat for STALE_MS is free again.
 *
 * Reloads get their slot back: the slot, a per-tab session token and the claiming document's random
 * claim ID are kept in sessionStorage, which a reload keeps. The dying document marks that record
 * `released` in sessionStorage synchronously on pagehide, so the reload may take over the claim
 * at once even though the predecessor's heartbeat is still fresh. A *duplicated* tab copies
 * sessionStorage too, but while the original lives its copy is not marked released: seeing a fresh
 * claim with its token that was not released, it takes another slot and a new token.
 *
 * Where Web Locks exist (secure contexts), each slot is also a lock held for the document's life:
 * a claim that only looks stale (its tab frozen in the background) is not taken while its lock is
 * held. The LAN demo is plain http, where there are no Web Locks: the claims alone must do.
 */
import type { IdbFactoryLike, LockManagerLike, PageEventsLike, SessionStorageLike } from './dom-types.js';
import { toHex } from './bytes.js';
import { SpydhtError } from './errors.js';

/** Slots at most: a page with this many tabs open at once gets an error rather than a shared identity. */
export const MAX_IDENTITY_SLOTS = 64;
/** A claim is kept alive this often. */
export const SLOT_HEARTBEAT_MS = 2_000;
/** A claim without a heartbeat for this long is free (its document died without releasing it). */
export const SLOT_STALE_MS = 10_000;
/** IndexedDB database holding the claims (apart from the identities: its schema is its own). */
export const SLOTS_DB = 'spydht-slots';
const STORE = 'claims';
const SESSION_KEY = 'spydht/identity-slot';

/** One slot's claim as stored. */
export interface SlotClaim {
  /** Random per document. */
  claimId: string;
  /** Random per tab session (kept in sessionStorage, so a reload has the same). */
  token: string;
  /** Date.now() of the last heartbeat. */
  heartbeat: number;
}

/** What a tab remembers in sessionStorage. */
export interface SessionSlot {
  slot: number;
  token: string;
  claimId: string;
  /** Set on pagehide: the document that held the claim is going away. */
  released: boolean;
}

export type SlotDecision = { slot: number; token: string; reason: 'free' | 'stale' | 'reload' | 'new' };

/**
 * The choice made inside the claim transaction (pure, for tests): our remembered slot when it is
 * free, stale, or held by our released predecessor; otherwise the lowest free or stale slot not in
 * `exclude` (with a new token when our remembered slot was held by a live document with our token:
 * we are a duplicated tab). Undefined when every slot is taken.
 */
export function decideSlot(
  claims: ReadonlyMap<number, SlotClaim>,
  session: SessionSlot | undefined,
  now: number,
  newToken: () => string,
  exclude: ReadonlySet<number> = new Set(),
  max = MAX_IDENTITY_SLOTS,
): SlotDecision | undefined {
  const isStale = (c: SlotClaim): boolean => now - c.heartbeat > SLOT_STALE_MS || c.heartbeat > now + SLOT_STALE_MS;
  let token = session?.token ?? newToken();
  if (session && session.slot >= 0 && !exclude.has(session.slot) && session.slot < max) {
    const held = claims.get(session.slot);
    if (!held) return { slot: session.slot, token, reason: 'free' };
    if (isStale(held)) return { slot: session.slot, token, reason: 'stale' };
    if (held.token === session.token && held.claimId === session.claimId && session.released) return { slot: session.slot, token, reason: 'reload' };
    // A live document holds our slot with our token: it is the tab we were duplicated from.
    if (held.token === session.token) token = newToken();
  }
  for (let slot = 0; slot < max; slot++) {
    if (exclude.has(slot)) continue;
    const held = claims.get(slot);
    if (!held) return { slot, token, reason: 'new' };
    if (isStale(held)) return { slot, token, reason: 'stale' };
  }
  return undefined;
}

/** A slot this document holds until `release()` (or the document's end). */
export interface IdentitySlot {
  readonly slot: number;
  /** Stops the heartbeat and frees the slot. Idempotent. */
  release(): Promise<void>;
  /** Called if the claim was lost (this document stopped heartbeating long enough for another to take it). */
  onLost: (() => void) | undefined;
}

/** The pieces of a page used here (injectable for tests). */
export interface SlotEnvironment {
  indexedDB: IdbFactoryLike;
  sessionStorage: SessionStorageLike;
  /** `navigator.locks` where the page has it. */
  locks?: LockManagerLike;
  /** For pagehide / pageshow (default: globalThis). */
  events?: PageEventsLike;
  randomBytes: (n: number) => Uint8Array;
}

/** The page's own environment, or undefined where IndexedDB or sessionStorage is missing (Node, some private modes). */
export function pageSlotEnvironment(randomBytes: (n: number) => Uint8Array): SlotEnvironment | undefined {
  const g = globalThis as { indexedDB?: IDBFactory; sessionStorage?: Storage; navigator?: { locks?: LockManager } };
  try {
    if (!g.indexedDB || !g.sessionStorage) return undefined;
    return { indexedDB: g.indexedDB, sessionStorage: g.sessionStorage, locks: g.navigator?.locks as LockManagerLike | undefined, events: globalThis as unknown as PageEventsLike, randomBytes };
  } catch {
    return undefined; // the storage getters throw where storage is blocked
  }
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

async function openClaims(idb: IDBFactory): Promise<IDBDatabase> {
  const open = idb.open(SLOTS_DB, 1);
  open.onupgradeneeded = () => {
    if (!open.result.objectStoreNames.contains(STORE)) open.result.createObjectStore(STORE);
  };
  return request(open);
}

/** Runs `fn` in one readwrite transaction over the claims and resolves once it committed. */
function inTransaction<T>(db: IDBDatabase, fn: (store: IDBObjectStore) => Promise<T>): Promise<T> {
  const tx = db.transaction(STORE, 'readwrite');
  const done = new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction failed'));
  });
  return fn(tx.objectStore(STORE)).then(
    async (value) => {
      await done;
      return value;
    },
    (err: unknown) => {
      done.catch(() => {});
      try {
        tx.abort();
      } catch {
        // already finished
      }
      throw err;
    },
  );
}

async function readClaims(store: IDBObjectStore): Promise<Map<number, SlotClaim>> {
  const [keys, values] = await Promise.all([request(store.getAllKeys()), request(store.getAll())]);
  const claims = new Map<number, SlotClaim>();
  keys.forEach((k, i) => {
    const v = values[i] as SlotClaim | undefined;
    if (typeof k === 'number' && v && typeof v.claimId === 'string' && typeof v.token === 'string' && typeof v.heartbeat === 'number') claims.set(k, v);
  });
  return claims;
}

function readSession(env: SlotEnvironment): SessionSlot | undefined {
  try {
    const v = JSON.parse(env.sessionStorage.getItem(SESSION_KEY) ?? 'null') as SessionSlot | null;
    if (v && Number.isInteger(v.slot) && v.slot >= 0 && typeof v.token === 'string' && typeof v.claimId === 'string') return { ...v, released: v.released === true };
  } catch {
    // unreadable: as if none
  }
  return undefined;
}

function writeSession(env: SlotEnvironment, value: SessionSlot): void {
  try {
    env.sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
  } catch {
    // storage full or blocked: a reload then gets another slot, nothing worse
  }
}

/**
 * Claims an identity slot for this document (see the file comment): resolves once the claim is
 * committed, with the slot to use, and keeps it alive by heartbeats until `release()`. Rejects
 * with INVALID_ARGUMENT when all MAX_IDENTITY_SLOTS are in use.
 */
export async function claimIdentitySlot(env: SlotEnvironment): Promise<IdentitySlot> {
  // The page's objects are the full lib.dom ones; the public type is structural (see dom-types.ts).
  const db = await openClaims(env.indexedDB as IDBFactory);
  const claimId = toHex(env.randomBytes(16));
  const newToken = (): string => toHex(env.randomBytes(16));
  const exclude = new Set<number>();
  let session = readSession(env);
  try {
    for (;;) {
      const now = Date.now();
      const decision = await inTransaction(db, async (store) => {
        const d = decideSlot(await readClaims(store), session, now, newToken, exclude);
        if (d) await request(store.put({ claimId, token: d.token, heartbeat: now } satisfies SlotClaim, d.slot));
        return d;
      });
      if (!decision) throw SpydhtError.invalidArgument(`all ${MAX_IDENTITY_SLOTS} identity slots are in use by other tabs`);
      // Web Locks, where the page has them: a slot whose lock a live document holds is not ours,
      // however stale its claim looks. A reload waits (bounded) for its predecessor to let go.
      const lock = env.locks ? await holdLock(env.locks as LockManager, decision.slot, decision.reason === 'reload') : undefined;
      if (env.locks && !lock) {
        exclude.add(decision.slot);
        session = { slot: -1, token: decision.token, claimId, released: false };
        await inTransaction(db, async (store) => {
          const held = (await readClaims(store)).get(decision.slot);
          if (held?.claimId === claimId) await request(store.delete(decision.slot));
        });
        continue;
      }
      return startHolding(env, db, decision.slot, decision.token, claimId, lock);
    }
  } catch (err) {
    db.close();
    throw err;
  }
}

/** Holds slot `slot`'s lock until the returned function is called; undefined when it is not ours to take. */
async function holdLock(locks: LockManager, slot: number, wait: boolean): Promise<(() => void) | undefined> {
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const granted = new Promise<boolean>((resolve, reject) => {
    const signal = wait ? AbortSignal.timeout(SLOT_STALE_MS) : undefined;
    locks
      .request(`spydht/identity-slot/${slot}`, { ifAvailable: !wait, ...(signal ? { signal } : {}) }, (lock) => {
        resolve(lock !== null);
        return lock ? held : undefined;
      })
      .catch((err: unknown) => ((err as Error)?.name === 'AbortError' || (err as Error)?.name === 'TimeoutError' ? resolve(false) : reject(err)));
  });
  return (await granted) ? release : undefined;
}

function startHolding(env: SlotEnvironment, db: IDBDatabase, slot: number, token: string, claimId: string, unlock: (() => void) | undefined): IdentitySlot {
  writeSession(env, { slot, token, claimId, released: false });
  let released = false;
  let beating = false;
  const result: IdentitySlot = {
    slot,
    onLost: undefined,
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      env.events?.removeEventListener('pagehide', onPageHide);
      env.events?.removeEventListener('pageshow', onPageShow);
      try {
        await inTransaction(db, async (store) => {
          const held = (await readClaims(store)).get(slot);
          if (held?.claimId === claimId) await request(store.delete(slot));
        });
      } catch {
        // the claim goes stale by itself
      } finally {
        unlock?.();
        db.close();
      }
    },
  };
  const beat = async (): Promise<void> => {
    if (released || beating) return;
    beating = true;
    try {
      const lost = await inTransaction(db, async (store) => {
        const held = (await readClaims(store)).get(slot);
        if (held && held.claimId !== claimId) return true;
        await request(store.put({ claimId, token, heartbeat: Date.now() } satisfies SlotClaim, slot));
        return false;
      });
      if (lost && !released) result.onLost?.();
    } catch {
      // a failed heartbeat: the next one tries again
    } finally {
      beating = false;
    }
  };
  const timer = setInterval(() => void beat(), SLOT_HEARTBEAT_MS);
  // Synchronous, so it is in sessionStorage before the reload's document reads it.
  const onPageHide = (): void => writeSession(env, { slot, token, claimId, released: true });
  // Back from the back/forward cache: this document lives on and keeps its slot.
  const onPageShow = (event: unknown): void => {
    if (!(event as PageTransitionEvent).persisted) return;
    writeSession(env, { slot, token, claimId, released: false });
    void beat();
  };
  env.events?.addEventListener('pagehide', onPageHide);
  env.events?.addEventListener('pageshow', onPageShow);
  return result;
}

/** The identity storage key of slot `slot` (slot 0 is the key a page without slots uses). */
export function slotIdentityKey(baseKey: string, slot: number): string {
  return slot === 0 ? baseKey : `${baseKey}/${slot}`;
}

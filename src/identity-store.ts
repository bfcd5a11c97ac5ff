/**
 * Keeps a node's identity across page reloads (or process restarts): load the saved IdentityJSON,
 * or solve the ID puzzle once and save the result. In browsers the default store is IndexedDB,
 * falling back to localStorage where IndexedDB is missing or refuses to open (some private modes).
 * Any other place (a file in Node, a test double) plugs in through `IdentityStorage`.
 *
 * The saved seed is the node's secret key: whoever reads it can sign as the node.
 */
import type { CryptoBackend } from './crypto/backend.js';
import { DEFAULT_ID_DIFFICULTY, Identity, type IdentityJSON } from './crypto/identity.js';
import { SpydhtError } from './errors.js';
import type { IdbFactoryLike } from './dom-types.js';

/** A string key-value store. Methods may be synchronous or return promises. */
export interface IdentityStorage {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  set(key: string, value: string): void | Promise<void>;
  delete?(key: string): void | Promise<void>;
}

/** The subset of the Web Storage API used here (so tests can pass a fake). */
export interface LocalStorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const DEFAULT_IDENTITY_KEY = 'spydht/identity';

export interface LoadOrCreateIdentityOptions {
  crypto: CryptoBackend;
  /** The network's ID puzzle difficulty: a saved identity below it is replaced. Default DEFAULT_ID_DIFFICULTY. */
  difficulty?: number;
  /** Where to keep it. 'indexeddb' falls back to localStorage when IndexedDB is unusable. */
  storage: 'indexeddb' | 'localstorage' | IdentityStorage;
  /** Storage key (one identity per key). Default 'spydht/identity'. */
  key?: string;
  /**
   * How to make a new identity. Default: `Identity.generate` on this thread (it yields between
   * slices). Pass `(o) => generateIdentityInWorker(o)` to search in a worker instead.
   */
  generate?: (options: { crypto: CryptoBackend; difficulty: number; signal?: AbortSignal }) => Promise<Identity>;
  /**
   * A saved identity that cannot be used (unreadable, or too weak for this network's puzzle) is
   * 'replace'd by a new one (default: a browser's stored key belongs to this app alone), or 'throw'
   * INVALID_ARGUMENT (a key file a person keeps must never be overwritten behind their back).
   */
  unusable?: 'replace' | 'throw';
  /** Called with a newly created identity once it is saved (e.g. to tell the user). */
  onCreate?: (identity: Identity) => void;
  signal?: AbortSignal;
}

/**
 * Returns the saved identity under `key`, or creates, saves and returns a new one when there is
 * none (or, unless `unusable: 'throw'`, when the saved one is unreadable or does not solve the
 * puzzle at `difficulty`).
 */
export async function loadOrCreateIdentity(options: LoadOrCreateIdentityOptions): Promise<Identity> {
  const { crypto, key = DEFAULT_IDENTITY_KEY, signal } = options;
  const difficulty = options.difficulty ?? DEFAULT_ID_DIFFICULTY;
  const storage = await resolveStorage(options.storage);

  const saved = await storage.get(key);
  if (typeof saved === 'string') {
    const parsed = parseSaved(crypto, saved, difficulty);
    if (parsed instanceof Identity) return parsed;
    if (options.unusable === 'throw') throw SpydhtError.invalidArgument(`the saved identity cannot be used: ${parsed.message}`);
  }

  const generate = options.generate ?? ((o) => Identity.generate(o));
  const identity = await generate(signal ? { crypto, difficulty, signal } : { crypto, difficulty });
  await storage.set(key, JSON.stringify(identity.toJSON()));
  options.onCreate?.(identity);
  return identity;
}

/** The identity, or why it cannot be used (corrupt, foreign, or too weak for this network). */
function parseSaved(crypto: CryptoBackend, text: string, difficulty: number): Identity | Error {
  let json: IdentityJSON;
  try {
    json = JSON.parse(text) as IdentityJSON;
  } catch {
    return new Error('not a saved spydht identity (bad JSON)');
  }
  try {
    return Identity.fromJSON(crypto, json, difficulty);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/** The IdentityStorage behind a storage option ('indexeddb' falls back to localStorage). */
export async function resolveStorage(storage: LoadOrCreateIdentityOptions['storage']): Promise<IdentityStorage> {
  if (typeof storage === 'object' && storage !== null) return storage;
  if (storage === 'indexeddb') {
    const idb = await indexedDbIdentityStorage().catch(() => undefined);
    if (idb) return idb;
    return localStorageIdentityStorage();
  }
  if (storage === 'localstorage') return localStorageIdentityStorage();
  throw SpydhtError.invalidArgument(`unknown identity storage ${String(storage)}`);
}

/** An IdentityStorage over localStorage (or any object with its getItem/setItem/removeItem). */
export function localStorageIdentityStorage(localStorage?: LocalStorageLike): IdentityStorage {
  const ls = localStorage ?? defaultLocalStorage();
  return {
    get: (key) => ls.getItem(key),
    set: (key, value) => ls.setItem(key, value),
    delete: (key) => ls.removeItem(key),
  };
}

function defaultLocalStorage(): LocalStorageLike {
  let ls: LocalStorageLike | undefined;
  try {
    ls = (globalThis as { localStorage?: LocalStorageLike }).localStorage; // the getter itself can throw (blocked storage)
  } catch {
    ls = undefined;
  }
  if (!ls) throw SpydhtError.invalidArgument('no localStorage here: pass an IdentityStorage');
  return ls;
}

/** An in-memory IdentityStorage: nothing survives the process (tests, throwaway nodes). */
export function memoryIdentityStorage(initial?: Record<string, string>): IdentityStorage & { readonly data: Map<string, string> } {
  const data = new Map(Object.entries(initial ?? {}));
  return {
    data,
    get: (key) => data.get(key) ?? null,
    set: (key, value) => void data.set(key, value),
    delete: (key) => void data.delete(key),
  };
}

const IDB_STORE = 'kv';

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error('IndexedDB request failed'));
  });
}

/**
 * An IdentityStorage in IndexedDB (database `dbName`, one object store). Rejects when IndexedDB is
 * missing or will not open, so callers can fall back.
 */
export async function indexedDbIdentityStorage(dbName = 'spydht', factory?: IdbFactoryLike): Promise<IdentityStorage> {
  const idb = (factory as IDBFactory | undefined) ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!idb) throw SpydhtError.invalidArgument('no IndexedDB here');
  const open = idb.open(dbName, 1);
  open.onupgradeneeded = () => {
    if (!open.result.objectStoreNames.contains(IDB_STORE)) open.result.createObjectStore(IDB_STORE);
  };
  const db = await request(open);
  const tx = async <T>(mode: IDBTransactionMode, op: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> => {
    const t = db.transaction(IDB_STORE, mode);
    const done = new Promise<void>((resolve, reject) => {
      t.oncomplete = () => resolve();
      t.onerror = t.onabort = () => reject(t.error ?? new Error('IndexedDB transaction failed'));
    });
    done.catch(() => {}); // the request's own rejection is the one reported
    const result = await request(op(t.objectStore(IDB_STORE)));
    if (mode === 'readwrite') await done; // durable before we say it is saved
    return result;
  };
  return {
    get: async (key) => {
      const value: unknown = await tx('readonly', (s) => s.get(key));
      return typeof value === 'string' ? value : null;
    },
    set: async (key, value) => void (await tx('readwrite', (s) => s.put(value, key))),
    delete: async (key) => void (await tx('readwrite', (s) => s.delete(key))),
  };
}

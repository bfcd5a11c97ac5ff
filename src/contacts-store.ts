/**
 * Keeps a node's saved contacts (DHT.exportContacts) somewhere that outlives it — a file beside
 * the identity in Node, a key next to the identity's in IndexedDB or localStorage in a browser —
 * so that the next run rejoins through them (the `contacts` option) even when its bootstrap
 * addresses are down. Writes periodically and when the node closes.
 */
import type { DHT, SavedContact } from './dht.js';
import { SpydhtError } from './errors.js';
import type { IdentityStorage } from './identity-store.js';
import { parseSavedContacts } from './ops/saved-contacts.js';

/** Where a saved contact list lives. Text in, text out: the list is JSON. */
export interface ContactsStorage {
  /** The saved text, or null/undefined when nothing was saved yet. */
  load(): Promise<string | null | undefined>;
  /** Replaces the saved text (atomically, where the medium allows). */
  save(text: string): Promise<void>;
}

/** Default interval between saves of `keepContacts`. */
export const DEFAULT_CONTACTS_SAVE_MS = 60_000;
/** Default delay of the save that follows a new contact. */
export const DEFAULT_CONTACTS_AFTER_CHANGE_MS = 5_000;

/** A ContactsStorage under `key` of an IdentityStorage (the browser keeps it next to the identity). */
export function contactsInIdentityStorage(storage: IdentityStorage, key: string): ContactsStorage {
  return {
    load: async () => storage.get(key),
    save: async (text) => storage.set(key, text),
  };
}

/**
 * Reads a saved list. Nothing saved gives []; a list that cannot be used (bad JSON, or rejected by
 * the `contacts` option's checks) also gives [] after `onUnusable` is told why: a damaged list
 * must not stop a node from starting through its bootstrap addresses.
 */
export async function loadSavedContacts(storage: ContactsStorage, onUnusable?: (error: SpydhtError) => void): Promise<SavedContact[]> {
  const text = await storage.load();
  if (typeof text !== 'string') return [];
  try {
    const list: unknown = JSON.parse(text);
    parseSavedContacts(list);
    return list as SavedContact[];
  } catch (err) {
    onUnusable?.(err instanceof SpydhtError ? err : SpydhtError.invalidArgument(`saved contacts: bad JSON (${(err as Error).message})`));
    return [];
  }
}

export interface KeepContactsOptions {
  /** Save this often, ms (default 60 s). */
  intervalMs?: number;
  /**
   * Also save this long after the table gains a contact (one pending save at a time; default 5 s),
   * so a node that stops soon after it joined (a tab reloaded at once) has its list already.
   */
  afterChangeMs?: number;
  /** A save failed (the node carries on; the next save tries again). */
  onError?: (error: unknown) => void;
}

export interface ContactsKeeper {
  /** Saves now (the next interval save still happens). Resolves once written. */
  save(): Promise<void>;
  /** Stops saving (the node's close() does this, after a last save). */
  stop(): void;
}

/**
 * Saves `dht.exportContacts()` to `storage` every `intervalMs`, a few seconds after the table gains
 * a contact, and once more when the node closes (a page that dies on unload may not finish that one).
 * An empty table is never written over a saved list: a node that lost every contact (its network
 * went down) keeps the list that can bring it back.
 */
export function keepContacts(dht: DHT, storage: ContactsStorage, options: KeepContactsOptions = {}): ContactsKeeper {
  const intervalMs = options.intervalMs ?? DEFAULT_CONTACTS_SAVE_MS;
  if (!(intervalMs > 0)) throw SpydhtError.invalidArgument(`intervalMs must be positive, got ${intervalMs}`);
  let last = '';
  /** Saves run one at a time, so an older list never lands after a newer one. */
  let chain: Promise<void> = Promise.resolve();
  const save = (): Promise<void> => {
    const run = chain.then(async () => {
      const list = dht.exportContacts();
      if (list.length === 0) return;
      const text = JSON.stringify(list);
      if (text === last) return;
      await storage.save(text);
      last = text;
    });
    chain = run.catch(() => {});
    return run;
  };
  const saveQuietly = (): Promise<void> => save().catch((err: unknown) => options.onError?.(err));
  const timer = setInterval(() => void saveQuietly(), intervalMs);
  // In Node the saver alone must not keep a process alive (the node's sockets do that).
  (timer as { unref?: () => void }).unref?.();
  const afterChangeMs = options.afterChangeMs ?? DEFAULT_CONTACTS_AFTER_CHANGE_MS;
  let soon: ReturnType<typeof setTimeout> | undefined;
  const unsubscribe = dht.on('contact-added', () => {
    if (soon !== undefined) return;
    soon = setTimeout(() => {
      soon = undefined;
      void saveQuietly();
    }, afterChangeMs);
    (soon as { unref?: () => void }).unref?.();
  });
  const stop = (): void => {
    clearInterval(timer);
    clearTimeout(soon);
    soon = undefined;
    unsubscribe();
  };
  const removeHook = dht.onClose(async () => {
    stop();
    await saveQuietly();
  });
  return {
    save,
    stop: () => {
      stop();
      removeHook();
    },
  };
}

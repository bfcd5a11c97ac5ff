/**
 * Two tabs of one origin share one IndexedDB: with a persisted identity both would be the same
 * node — the signaling server would replace one tab's connection with the other's, and peers would
 * see one ID at two places. So a tab first claims an identity *slot*, the first free one of
 * `<base>`, `<base>/1`, `<base>/2` …, and keeps it until `release()` (its DHT closes) or the tab
 * goes away. A reloaded tab, alone again, gets slot 0 back: it keeps its ID.
 *
 * Web Locks (`navigator.locks`) make the claim exact where a page may use them (secure contexts:
 * https, localhost). Elsewhere (plain http on a LAN address, as in a local demo) tabs ask each
 * other over a BroadcastChannel: a claimant announces the slot with a random nonce and waits a
 * moment; it yields when a tab answers that it holds the slot, or when a rival claims the same slot
 * with a smaller nonce at the same time (a claimant that hears a larger nonce repeats its own, so
 * both see both claims and exactly one goes on).
 */

/** The subset of the Web Locks API used here. */
export interface LockManagerLike {
  request(name: string, options: { ifAvailable: boolean }, callback: (lock: unknown) => Promise<void> | undefined): Promise<unknown>;
}

/** The subset of BroadcastChannel used here. */
export interface BroadcastChannelLike {
  postMessage(message: unknown): void;
  onmessage: ((event: { data: unknown }) => void) | null;
  close(): void;
}

export interface IdentitySlot {
  /** The storage key of this slot's identity. */
  key: string;
  /** Frees the slot for another tab (idempotent); resolves once it is free. */
  release(): Promise<void>;
}

export interface ClaimIdentitySlotOptions {
  /** The storage key of slot 0; others append "/1", "/2" …. */
  base: string;
  /** Slots tried before giving up (default 16). */
  maxSlots?: number;
  /** Default `navigator.locks` when present; null to skip Web Locks. */
  locks?: LockManagerLike | null;
  /** Opens the fallback channel; default `new BroadcastChannel(name)` when present. */
  openChannel?: ((name: string) => BroadcastChannelLike) | null;
  /** How long a BroadcastChannel claimant waits for objections (default 75 ms). */
  waitMs?: number;
}

const DEFAULT_MAX_SLOTS = 16;
const DEFAULT_WAIT_MS = 75;

type SlotMessage = { t: 'claim'; key: string; nonce: string } | { t: 'held'; key: string };

export const slotKey = (base: string, slot: number): string => (slot === 0 ? base : `${base}/${slot}`);

/**
 * Claims the first free identity slot. Resolves undefined when every slot is taken (use an identity
 * that is not saved). Without Web Locks and BroadcastChannel (no other tab can exist), slot 0.
 */
export async function claimIdentitySlot(options: ClaimIdentitySlotOptions): Promise<IdentitySlot | undefined> {
  const maxSlots = options.maxSlots ?? DEFAULT_MAX_SLOTS;
  const locks = options.locks === undefined ? defaultLocks() : options.locks;
  if (locks) {
    for (let slot = 0; slot < maxSlots; slot++) {
      const release = await tryLock(locks, `${slotKey(options.base, slot)}#slot`);
      if (release) return { key: slotKey(options.base, slot), release };
    }
    return undefined;
  }
  const openChannel = options.openChannel === undefined ? defaultChannel() : options.openChannel;
  if (!openChannel) return { key: options.base, release: () => Promise.resolve() };
  const channel = openChannel(`${options.base}#slots`);
  return claimOverChannel(channel, options.base, maxSlots, options.waitMs ?? DEFAULT_WAIT_MS);
}

/** Holds the lock `name` until the returned function is called; undefined if another holds it. */
async function tryLock(locks: LockManagerLike, name: string): Promise<(() => Promise<void>) | undefined> {
  let unlock!: () => void;
  const held = new Promise<void>((resolve) => (unlock = resolve));
  let granted = false;
  let request!: Promise<unknown>;
  // The request itself settles only once the lock is released: wait for the grant decision only.
  await new Promise<void>((resolve, reject) => {
    request = locks.request(name, { ifAvailable: true }, (lock) => {
      granted = lock !== null && lock !== undefined;
      resolve();
      return granted ? held : undefined;
    });
    request.catch(reject);
  });
  if (!granted) return undefined;
  const freed = request.then(
    () => undefined,
    () => undefined,
  );
  return once(() => {
    unlock();
    return freed;
  });
}

async function claimOverChannel(channel: BroadcastChannelLike, base: string, maxSlots: number, waitMs: number): Promise<IdentitySlot | undefined> {
  let held: string | undefined;
  let claiming: { key: string; nonce: string; beaten: boolean } | undefined;
  channel.onmessage = (event) => {
    const m = asSlotMessage(event.data);
    if (!m) return;
    if (m.t === 'claim' && m.key === held) return channel.postMessage({ t: 'held', key: held } satisfies SlotMessage);
    if (!claiming || m.key !== claiming.key) return;
    if (m.t === 'held' || m.nonce < claiming.nonce) claiming.beaten = true;
    // A rival with a larger nonce may have missed our claim (sent while it was still on another
    // slot): say it again so it yields.
    else if (m.nonce > claiming.nonce) channel.postMessage({ t: 'claim', key: claiming.key, nonce: claiming.nonce } satisfies SlotMessage);
  };
  for (let slot = 0; slot < maxSlots; slot++) {
    const key = slotKey(base, slot);
    claiming = { key, nonce: randomNonce(), beaten: false };
    channel.postMessage({ t: 'claim', key, nonce: claiming.nonce } satisfies SlotMessage);
    await new Promise((resolve) => setTimeout(resolve, waitMs));
    if (!claiming.beaten) {
      held = key;
      claiming = undefined;
      return {
        key,
        release: once(() => {
          channel.close();
          return Promise.resolve();
        }),
      };
    }
  }
  channel.close();
  return undefined;
}

function asSlotMessage(data: unknown): SlotMessage | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const m = data as Record<string, unknown>;
  if (typeof m.key !== 'string') return undefined;
  if (m.t === 'held') return { t: 'held', key: m.key };
  if (m.t === 'claim' && typeof m.nonce === 'string') return { t: 'claim', key: m.key, nonce: m.nonce };
  return undefined;
}

function randomNonce(): string {
  const bytes = new Uint8Array(8);
  globalThis.crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The first call runs `fn`; every call returns its promise. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let result: Promise<void> | undefined;
  return () => (result ??= fn());
}

function defaultLocks(): LockManagerLike | undefined {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks ?? undefined;
}

function defaultChannel(): ((name: string) => BroadcastChannelLike) | undefined {
  const BC = (globalThis as { BroadcastChannel?: new (name: string) => BroadcastChannelLike }).BroadcastChannel;
  return BC ? (name) => new BC(name) : undefined;
}

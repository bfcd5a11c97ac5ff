/**
 * Bounded local storage of validated records and delete tombstones. It trusts its caller to have
 * validated records and delete signatures; it enforces ownership, tombstones, the bounds and the
 * per-sender quotas, and keeps each record's republish schedule.
 *
 * Full is not a wall: a full store evicts to make room, taking from the sender (IP prefix) that
 * holds the largest share the record that lies farthest from this node's ID, so what this node is
 * responsible for stays and one sender's flood can only ever displace its own records once it
 * holds more than its quota. A sender already at its quota is refused while the store is full.
 */
import { dueForRepublish, nextRepublish } from './republish.js';
import { equalBytes } from '../bytes.js';
import { compareDistance, idKey, type NodeId } from '../id.js';
import { ipPrefix } from '../ip-prefix.js';
import { LruMap } from '../lru.js';
import { Reader, Writer } from '../wire/codec.js';
import { HeldEncoding } from './held-encoding.js';
import { recordSize } from './record.js';
import { DeleteStatus, readRecord, StoreStatus, writeRecord, type DeleteProof, type DeleteStatusCode, type StoreStatusCode, type WireRecord } from '../wire/messages.js';

export const DEFAULT_MAX_RECORDS = 10_000;
export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
/** Tombstones of records this node held (and, separately, as many for deletes of keys it did not hold). */
export const DEFAULT_MAX_TOMBSTONES = 10_000;
/**
 * While the store is full, one IP may hold at most this share of its records and bytes, and one
 * prefix (/24, /64) twice as much: eight prefixes at their quota are needed to fill a node, and
 * an honest sender below its quota always finds room.
 */
export const DEFAULT_IP_SHARE = 1 / 16;
export const DEFAULT_PREFIX_SHARE = 1 / 8;
/** The `from` of records this node stored for its own user (replicate): never over a quota. */
export const LOCAL_SENDER = 'local';
/** Every holder re-stores each record to the k closest nodes this often (plus up to 10 % jitter). */
export const REPUBLISH_EVERY_MS = 60 * 60_000;
/** Default tombstone lifetime for a key not held: the default longest TTL (7 days) plus 300 s of skew. */
const DEFAULT_TOMBSTONE_SECONDS = 7 * 24 * 3600 + 300;

/**
 * A held record, kept as its wire encoding in a buffer of its own and decoded when asked for.
 * Decoded, a record is seven byte arrays and two objects over the whole datagram it came in: the
 * store held 1,577 bytes per record of a 100-byte value with an owner (what clear() frees:
 * `npm run bench -- --only store`), against 700 bytes this way (its encoding is 259), so the
 * default 10,000 records take ~7 MB, not ~16 (BENCHMARKS.md). What the store reads at every put, sweep and eviction (expiry,
 * issue time, size, distance) it keeps as numbers.
 */
export class StoredRecord extends HeldEncoding {
  /** Unix seconds. */
  readonly expiresAt: number;
  /** The owner's issue time, if it has an owner. */
  readonly issuedAt: number | undefined;
  /** Clock ms when we last stored it or received a STORE for it. */
  storedAt: number;
  /** Clock ms when this node should next republish it. */
  republishAt: number;
  /** The canonical IP that first stored it here (LOCAL_SENDER for this node's own puts). */
  readonly from: string;
  /**
   * How far its replica location nearest this node lies from this node: the first 48 bits of the
   * XOR distance, as a number (eviction takes the farthest first; a tie that deep is no matter).
   */
  readonly distance: number;

  /** `locations`: the key's replica locations, the key itself first (storage/placement.ts). */
  constructor(record: WireRecord, locations: readonly NodeId[], storedAt: number, republishAt: number, from: string, distance: number) {
    super((w) => writeRecord(w, record), locations);
    this.expiresAt = record.expiresAt;
    this.issuedAt = record.owner?.issuedAt;
    this.storedAt = storedAt;
    this.republishAt = republishAt;
    this.from = from;
    this.distance = distance;
  }

  /**
   * The record, decoded afresh: its byte arrays are views into the held encoding (cheap), for
   * reading only; what reaches the user is copied (DHTValue).
   */
  get record(): WireRecord {
    return readRecord(new Reader(this.encoding));
  }

  /** The record's wire size (recordSize): what it counts against the byte bound. */
  get size(): number {
    return this.encodedLength;
  }

  /** Whether `record` is this very record, byte for byte (a copy a republishing holder sends). */
  isCopyOf(record: WireRecord): boolean {
    if (recordSize(record) !== this.encodedLength) return false;
    const w = new Writer(this.encodedLength);
    writeRecord(w, record);
    return equalBytes(w.finish(), this.encoding);
  }
}

interface Tombstone {
  publicKey: Uint8Array;
  /** The delete's issue time: owner stores signed at or before it stay deleted. */
  issuedAt: number;
  /** Unix seconds after which the deleted record would have expired anyway. */
  until: number;
}

export interface LocalStoreOptions {
  maxRecords?: number;
  /** Bound on the records' full wire size (recordSize). */
  maxBytes?: number;
  maxTombstones?: number;
  /** Share of records and bytes one IP may hold while the store is full (default 1/16). */
  ipShare?: number;
  /** Share one /24 or /64 may hold while the store is full (default 1/8). */
  prefixShare?: number;
}

/** Records and bytes one sender (an IP or a prefix) holds here. */
interface Usage {
  records: number;
  bytes: number;
  /**
   * A prefix's keys (idKey), to find its farthest record without scanning the whole store. Only
   * prefixes have them: eviction picks a prefix, never an IP, and a Set with its table costs ~180
   * bytes of heap even for one key (measured: 3.7 KiB per node less after 100 puts in a 200-node
   * swarm where each node holds records from ~20 senders).
   */
  keys?: Set<string>;
}

/** Timing the engine derives from the network's settings (not user options). */
export interface StoreSchedule {
  /**
   * How long a delete of a key not held is remembered, counted from its issue time, in seconds: as
   * long as a stale copy signed before it could live (the network's maxTtlSeconds plus skew).
   */
  tombstoneSeconds: number;
  republishEveryMs: number;
  /** Uniform in [0, 1): spreads republishing so the holders of one key do not all send at once. */
  random: () => number;
  /** This node's ID: eviction keeps what lies closest to it (undefined: evicts the oldest). */
  localId: NodeId | undefined;
  /** A key's replica locations: a record is as near as its nearest location (default: the key). */
  locate: (key: Uint8Array) => NodeId[];
  /** Adds one to a stats counter (evictions, refusals over quota). */
  count: (what: 'storeEvicted' | 'storeOverQuota') => void;
}

export class LocalStore {
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly #records = new Map<string, StoredRecord>();
  /** Tombstones of records held here: only a real removal (of a record that paid its proof of work) adds one. */
  readonly #heldTombstones: LruMap<string, Tombstone>;
  /** Tombstones of deletes for keys not held: a flood of these evicts only its own kind. */
  readonly #unknownTombstones: LruMap<string, Tombstone>;
  readonly #schedule: StoreSchedule;
  /** What the mutable store holds: both kinds together stay within maxRecords and maxBytes. */
  #others: { readonly size: number; readonly bytes: number } = { size: 0, bytes: 0 };
  readonly #byIp = new Map<string, Usage>();
  readonly #byPrefix = new Map<string, Usage>();
  readonly #ipShare: number;
  readonly #prefixShare: number;
  #bytes = 0;

  constructor(options: LocalStoreOptions = {}, schedule: Partial<StoreSchedule> = {}) {
    this.maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    const maxTombstones = options.maxTombstones ?? DEFAULT_MAX_TOMBSTONES;
    this.#heldTombstones = new LruMap(maxTombstones);
    this.#unknownTombstones = new LruMap(maxTombstones);
    this.#ipShare = options.ipShare ?? DEFAULT_IP_SHARE;
    this.#prefixShare = options.prefixShare ?? DEFAULT_PREFIX_SHARE;
    this.#schedule = {
      tombstoneSeconds: schedule.tombstoneSeconds ?? DEFAULT_TOMBSTONE_SECONDS,
      republishEveryMs: schedule.republishEveryMs ?? REPUBLISH_EVERY_MS,
      random: schedule.random ?? Math.random,
      localId: schedule.localId,
      locate: schedule.locate ?? ((key) => [key]),
      count: schedule.count ?? (() => {}),
    };
  }

  get size(): number {
    return this.#records.size;
  }

  /** Counts `others` (the mutable store) against this store's bounds too. */
  shareBoundsWith(others: { readonly size: number; readonly bytes: number }): void {
    this.#others = others;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Tombstones of both kinds. */
  get tombstones(): number {
    return this.#heldTombstones.size + this.#unknownTombstones.size;
  }

  /** Records and bytes stored here by one IP, or by one prefix ("a.b.c.0/24", "x:x:x:x::/64"). */
  usage(sender: string): { records: number; bytes: number } {
    const u = this.#byIp.get(sender) ?? this.#byPrefix.get(sender);
    return { records: u?.records ?? 0, bytes: u?.bytes ?? 0 };
  }

  /** Whether a live record is held for `key`, without decoding it. */
  has(key: Uint8Array, nowSeconds: number): boolean {
    return (this.#records.get(idKey(key))?.expiresAt ?? 0) > nowSeconds;
  }

  get(key: Uint8Array, nowSeconds: number): WireRecord | undefined {
    const s = this.#records.get(idKey(key));
    if (!s || s.expiresAt <= nowSeconds) return undefined;
    return s.record;
  }

  entry(key: Uint8Array): StoredRecord | undefined {
    return this.#records.get(idKey(key));
  }

  entries(): StoredRecord[] {
    return [...this.#records.values()];
  }

  /** The held records, without copying them into an array (do not add or remove while iterating). */
  held(): IterableIterator<StoredRecord> {
    return this.#records.values();
  }

  /**
   * Up to `max` live records whose republish time has come, each rescheduled one period on: the
   * caller re-stores them to the k closest nodes.
   */
  dueForRepublish(nowMs: number, max: number): WireRecord[] {
    return dueForRepublish(this.#records.values(), nowMs, max, (t) => this.#nextRepublish(t));
  }

  /**
   * Stores a validated record sent by `from` (its canonical IP; LOCAL_SENDER for this node's own
   * put). A full store evicts (see the file comment); FULL only for a sender at its quota, or a
   * record larger than the whole store.
   */
  put(record: WireRecord, nowMs: number, from: string = LOCAL_SENDER): StoreStatusCode {
    // Already expired here (the validator's skew allowance lets it through): nothing to keep.
    if (record.expiresAt <= Math.floor(nowMs / 1000)) return StoreStatus.INVALID;
    const republishAt = this.#nextRepublish(nowMs);
    const hex = idKey(record.key);
    if (record.owner) {
      const tk = tombstoneKey(hex, record.owner.publicKey);
      const tomb = this.#heldTombstones.peek(tk) ?? this.#unknownTombstones.peek(tk);
      if (tomb && record.owner.issuedAt <= tomb.issuedAt) return StoreStatus.DELETED;
    }
    const held = this.#records.get(hex);
    if (held) {
      held.storedAt = nowMs;
      held.republishAt = Math.max(held.republishAt, republishAt);
      // Same key means same label, content and owner; keep the copy that lives longer.
      if (!isNewer(record, held)) return StoreStatus.ALREADY_HELD;
      const newer = new StoredRecord(record, held.locations, nowMs, held.republishAt, held.from, held.distance);
      this.#account(hex, held, -1);
      this.#records.set(hex, newer);
      this.#account(hex, newer, 1);
      return StoreStatus.STORED;
    }
    const size = recordSize(record);
    if (size > this.maxBytes || this.maxRecords < 1) return StoreStatus.FULL;
    if (!this.#fits(size)) {
      if (this.#atQuota(from, size)) {
        this.#schedule.count('storeOverQuota');
        return StoreStatus.FULL;
      }
      while (!this.#fits(size)) {
        if (!this.#evictOne()) return StoreStatus.FULL;
      }
    }
    const locations = this.#schedule.locate(record.key);
    const entry = new StoredRecord(record, locations, nowMs, republishAt, from, this.#distance(locations));
    this.#records.set(hex, entry);
    this.#account(hex, entry, 1);
    return StoreStatus.STORED;
  }

  /** The owner's issue time of a held record (what a STALE delete answer carries). */
  issuedAtOf(key: Uint8Array): number | undefined {
    return this.#records.get(idKey(key))?.issuedAt;
  }

  /**
   * Applies a delete whose signature (and, for keys not held, proof of work) the caller verified.
   * Ownership is checked here, before anything is removed (the original removed first and checked
   * afterwards).
   */
  delete(proof: DeleteProof): DeleteStatusCode {
    const untilIfUnknown = proof.issuedAt + this.#schedule.tombstoneSeconds;
    const hex = idKey(proof.key);
    const held = this.#records.get(hex);
    const tk = tombstoneKey(hex, proof.publicKey);
    if (held) {
      const owner = held.issuedAt === undefined ? undefined : held.record.owner;
      if (!owner || !equalBytes(owner.publicKey, proof.publicKey)) return DeleteStatus.NOT_OWNER;
      // An old delete replayed against a newer store, or an owner whose record was signed ahead of
      // its clock: the answer carries the record's issuedAt so a real owner can sign again.
      if (proof.issuedAt < owner.issuedAt) return DeleteStatus.STALE;
      this.#remove(hex, held);
      this.#unknownTombstones.delete(tk);
      // Copied: the proof is a view into its datagram, which must not stay alive for a tombstone.
      this.#heldTombstones.set(tk, { publicKey: proof.publicKey.slice(), issuedAt: proof.issuedAt, until: held.expiresAt });
      return DeleteStatus.DELETED;
    }
    // Not held: remember the delete so a stale copy cannot be stored here later. A tombstone only
    // blocks stores by the same key owner, so a forged one cannot block anybody else's record; and
    // tombstones are kept per (key, signer), so a forged one cannot displace the real owner's either.
    const prior = this.#heldTombstones.peek(tk) ?? this.#unknownTombstones.peek(tk);
    if (!prior || proof.issuedAt > prior.issuedAt) {
      const tomb = { publicKey: proof.publicKey.slice(), issuedAt: proof.issuedAt, until: Math.max(untilIfUnknown, prior?.until ?? 0) };
      // A held record's tombstone stays in its own budget when a later delete refreshes it.
      if (this.#heldTombstones.has(tk)) this.#heldTombstones.set(tk, tomb);
      else this.#unknownTombstones.set(tk, tomb);
    }
    return DeleteStatus.NOT_HELD;
  }

  /** Drops expired records and tombstones; returns how many records went. */
  sweep(nowSeconds: number): number {
    let n = 0;
    for (const [hex, s] of this.#records) {
      if (s.expiresAt <= nowSeconds) {
        this.#remove(hex, s);
        n++;
      }
    }
    for (const tombs of [this.#heldTombstones, this.#unknownTombstones]) {
      for (const [hex, t] of [...tombs.entries()]) if (t.until <= nowSeconds) tombs.delete(hex);
    }
    return n;
  }

  clear(): void {
    this.#records.clear();
    this.#heldTombstones.clear();
    this.#unknownTombstones.clear();
    this.#byIp.clear();
    this.#byPrefix.clear();
    this.#bytes = 0;
  }

  /** Room for one more record of `size` bytes, counting what the mutable store holds too. */
  #fits(size: number): boolean {
    return this.#records.size + this.#others.size < this.maxRecords && this.#bytes + this.#others.bytes + size <= this.maxBytes;
  }

  /** `from` (its IP or its prefix) already holds its quota, counting a new record of `size` bytes. */
  #atQuota(from: string, size: number): boolean {
    if (from === LOCAL_SENDER) return false;
    const over = (u: Usage | undefined, share: number): boolean =>
      u !== undefined && (u.records + 1 > Math.max(1, Math.floor(this.maxRecords * share)) || u.bytes + size > this.maxBytes * share);
    return over(this.#byIp.get(from), this.#ipShare) || over(this.#byPrefix.get(ipPrefix(from)), this.#prefixShare);
  }

  /**
   * Evicts one record: from the prefix holding the largest share of the store (never this node's
   * own puts while anybody else holds any), the one farthest from this node's ID.
   */
  #evictOne(): boolean {
    let victim: Usage | undefined;
    let victimShare = -1;
    for (const [prefix, u] of this.#byPrefix) {
      if (prefix === LOCAL_SENDER && this.#byPrefix.size > 1) continue;
      const share = Math.max(u.records / this.maxRecords, u.bytes / this.maxBytes);
      if (share > victimShare) [victim, victimShare] = [u, share];
    }
    if (!victim) return false;
    const byDistance = this.#schedule.localId !== undefined;
    let farthest: StoredRecord | undefined;
    let farthestHex = '';
    for (const hex of victim.keys ?? []) {
      const s = this.#records.get(hex)!;
      const worse = !farthest || (byDistance ? s.distance > farthest.distance : s.storedAt < farthest.storedAt);
      if (worse) [farthest, farthestHex] = [s, hex];
    }
    if (!farthest) return false;
    this.#remove(farthestHex, farthest);
    this.#schedule.count('storeEvicted');
    return true;
  }

  /** Adds (sign 1) or takes away (sign −1) a record from the totals and its sender's usage. */
  #account(hex: string, s: StoredRecord, sign: 1 | -1): void {
    const size = s.size;
    this.#bytes += sign * size;
    const prefix = s.from === LOCAL_SENDER ? LOCAL_SENDER : ipPrefix(s.from);
    // Every +1 for a key is matched by one −1 (put re-accounts a replaced copy as −1 then +1), so an
    // IP's count needs no set of keys to stay exact.
    for (const [map, key, keyed] of [
      [this.#byIp, s.from, false],
      [this.#byPrefix, prefix, true],
    ] as const) {
      let u = map.get(key);
      if (!u) map.set(key, (u = keyed ? { records: 0, bytes: 0, keys: new Set() } : { records: 0, bytes: 0 }));
      u.bytes += sign * size;
      u.records += sign;
      if (sign > 0) u.keys?.add(hex);
      else u.keys?.delete(hex);
      if (u.records === 0) map.delete(key);
    }
  }

  /** StoredRecord.distance: from this node to the nearest of a key's replica `locations` (0 without a local ID). */
  #distance(locations: readonly NodeId[]): number {
    const localId = this.#schedule.localId;
    if (!localId || locations.length === 0) return 0;
    const near = locations.reduce((best, loc) => (compareDistance(loc, best, localId) < 0 ? loc : best));
    let d = 0;
    for (let i = 0; i < 6; i++) d = d * 256 + ((near[i]! ^ localId[i]!) & 0xff);
    return d;
  }

  #nextRepublish(nowMs: number): number {
    return nextRepublish(nowMs, this.#schedule.republishEveryMs, this.#schedule.random);
  }

  #remove(hex: string, s: StoredRecord): void {
    this.#records.delete(hex);
    this.#account(hex, s, -1);
  }
}

/** A tombstone per (key, signer): the record key's and the public key's bytes as one flat string. */
function tombstoneKey(keyKey: string, publicKey: Uint8Array): string {
  return keyKey + idKey(publicKey);
}

function isNewer(a: WireRecord, b: StoredRecord): boolean {
  if (a.owner && b.issuedAt !== undefined && a.owner.issuedAt !== b.issuedAt) return a.owner.issuedAt > b.issuedAt;
  return a.expiresAt > b.expiresAt;
}

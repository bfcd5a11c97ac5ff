/**
 * Bounded local storage of validated records and delete tombstones. It trusts its caller to have
 * validated records and delete signatures; it enforces ownership, tombstones and the bounds, and
 * keeps each record's republish schedule.
 */
import { equalBytes } from '../bytes.js';
import { idKey } from '../id.js';
import { LruMap } from '../lru.js';
import { DeleteStatus, StoreStatus, type DeleteProof, type DeleteStatusCode, type StoreStatusCode, type WireRecord } from '../wire/messages.js';
import { recordSize } from './record.js';

export const DEFAULT_MAX_RECORDS = 10_000;
export const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;
export const DEFAULT_MAX_TOMBSTONES = 10_000;
/** Every holder re-stores each record to the k closest nodes this often (plus up to 10 % jitter). */
export const REPUBLISH_EVERY_MS = 60 * 60_000;
/** Default tombstone lifetime for a key not held: the default longest TTL (7 days) plus 300 s of skew. */
const DEFAULT_TOMBSTONE_SECONDS = 7 * 24 * 3600 + 300;

export interface StoredRecord {
  record: WireRecord;
  /** Clock ms when we last stored it or received a STORE for it. */
  storedAt: number;
  /** Clock ms when this node should next republish it. */
  republishAt: number;
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
  maxBytes?: number;
  maxTombstones?: number;
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
}

export class LocalStore {
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly #records = new Map<string, StoredRecord>();
  readonly #tombstones: LruMap<string, Tombstone>;
  readonly #schedule: StoreSchedule;
  /** What the mutable store holds: both kinds together stay within maxRecords and maxBytes. */
  #others: { readonly size: number; readonly bytes: number } = { size: 0, bytes: 0 };
  #bytes = 0;

  constructor(options: LocalStoreOptions = {}, schedule: Partial<StoreSchedule> = {}) {
    this.maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.#tombstones = new LruMap(options.maxTombstones ?? DEFAULT_MAX_TOMBSTONES);
    this.#schedule = {
      tombstoneSeconds: schedule.tombstoneSeconds ?? DEFAULT_TOMBSTONE_SECONDS,
      republishEveryMs: schedule.republishEveryMs ?? REPUBLISH_EVERY_MS,
      random: schedule.random ?? Math.random,
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

  get tombstones(): number {
    return this.#tombstones.size;
  }

  get(key: Uint8Array, nowSeconds: number): WireRecord | undefined {
    const s = this.#records.get(idKey(key));
    if (!s || s.record.expiresAt <= nowSeconds) return undefined;
    return s.record;
  }

  entry(key: Uint8Array): StoredRecord | undefined {
    return this.#records.get(idKey(key));
  }

  entries(): StoredRecord[] {
    return [...this.#records.values()];
  }

  /**
   * Up to `max` live records whose republish time has come, each rescheduled one period on: the
   * caller re-stores them to the k closest nodes.
   */
  dueForRepublish(nowMs: number, max: number): WireRecord[] {
    const out: WireRecord[] = [];
    for (const entry of this.#records.values()) {
      if (out.length >= max) break;
      if (entry.republishAt > nowMs || entry.record.expiresAt <= nowMs / 1000) continue;
      entry.republishAt = this.#nextRepublish(nowMs);
      out.push(entry.record);
    }
    return out;
  }

  /** Stores a validated record. Never evicts another record to make room: a full store says so. */
  put(record: WireRecord, nowMs: number): StoreStatusCode {
    const republishAt = this.#nextRepublish(nowMs);
    const hex = idKey(record.key);
    const tomb = record.owner && this.#tombstones.peek(tombstoneKey(hex, record.owner.publicKey));
    if (tomb && record.owner && equalBytes(tomb.publicKey, record.owner.publicKey) && record.owner.issuedAt <= tomb.issuedAt) {
      return StoreStatus.DELETED;
    }
    const held = this.#records.get(hex);
    if (held) {
      held.storedAt = nowMs;
      held.republishAt = Math.max(held.republishAt, republishAt);
      // Same key means same label, content and owner; keep the copy that lives longer.
      if (!isNewer(record, held.record)) return StoreStatus.ALREADY_HELD;
      held.record = record;
      return StoreStatus.STORED;
    }
    const size = recordSize(record);
    if (this.#records.size + this.#others.size >= this.maxRecords || this.#bytes + this.#others.bytes + size > this.maxBytes) return StoreStatus.FULL;
    this.#records.set(hex, { record, storedAt: nowMs, republishAt });
    this.#bytes += size;
    return StoreStatus.STORED;
  }

  /**
   * Applies a delete whose signature the caller verified. Ownership is checked here, before
   * anything is removed (the original removed first and checked afterwards).
   */
  delete(proof: DeleteProof): DeleteStatusCode {
    const untilIfUnknown = proof.issuedAt + this.#schedule.tombstoneSeconds;
    const hex = idKey(proof.key);
    const held = this.#records.get(hex);
    if (held) {
      const owner = held.record.owner;
      if (!owner || !equalBytes(owner.publicKey, proof.publicKey)) return DeleteStatus.NOT_OWNER;
      if (proof.issuedAt < owner.issuedAt) return DeleteStatus.INVALID; // an old delete replayed against a newer store
      this.#remove(hex, held);
      this.#tombstones.set(tombstoneKey(hex, proof.publicKey), { publicKey: proof.publicKey.slice(), issuedAt: proof.issuedAt, until: held.record.expiresAt });
      return DeleteStatus.DELETED;
    }
    // Not held: remember the delete so a stale copy cannot be stored here later. A tombstone only
    // blocks stores by the same key owner, so a forged one cannot block anybody else's record; and
    // tombstones are kept per (key, signer), so a forged one cannot displace the real owner's either.
    const tk = tombstoneKey(hex, proof.publicKey);
    const prior = this.#tombstones.peek(tk);
    if (!prior || proof.issuedAt > prior.issuedAt) {
      // Copied: the proof is a view into its datagram, which must not stay alive for a tombstone.
      this.#tombstones.set(tk, { publicKey: proof.publicKey.slice(), issuedAt: proof.issuedAt, until: untilIfUnknown });
    }
    return DeleteStatus.NOT_HELD;
  }

  /** Drops expired records and tombstones; returns how many records went. */
  sweep(nowSeconds: number): number {
    let n = 0;
    for (const [hex, s] of this.#records) {
      if (s.record.expiresAt <= nowSeconds) {
        this.#remove(hex, s);
        n++;
      }
    }
    for (const [hex, t] of [...this.#tombstones.entries()]) if (t.until <= nowSeconds) this.#tombstones.delete(hex);
    return n;
  }

  clear(): void {
    this.#records.clear();
    this.#tombstones.clear();
    this.#bytes = 0;
  }

  #nextRepublish(nowMs: number): number {
    return nowMs + this.#schedule.republishEveryMs * (1 + 0.1 * this.#schedule.random());
  }

  #remove(hex: string, s: StoredRecord): void {
    this.#records.delete(hex);
    this.#bytes -= recordSize(s.record);
  }
}

/** A tombstone per (key, signer): the record key's and the public key's bytes as one flat string. */
function tombstoneKey(keyKey: string, publicKey: Uint8Array): string {
  return keyKey + idKey(publicKey);
}

function isNewer(a: WireRecord, b: WireRecord): boolean {
  if (a.owner && b.owner && a.owner.issuedAt !== b.owner.issuedAt) return a.owner.issuedAt > b.owner.issuedAt;
  return a.expiresAt > b.expiresAt;
}

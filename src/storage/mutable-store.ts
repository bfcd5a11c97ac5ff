/**
 * Bounded storage of validated mutable records: one copy per key, the newest (PROTOCOL.md §15).
 * It trusts its caller to have validated each record; it applies the sequence-number rules, `cas`
 * and the bounds, which it shares with the immutable store, and keeps each record's republish
 * schedule.
 */
import { dueForRepublish, nextRepublish } from './republish.js';
import { equalBytes } from '../bytes.js';
import { idKey } from '../id.js';
import { Reader } from '../wire/codec.js';
import { HeldEncoding } from './held-encoding.js';
import { MutableStoreStatus, readMutableRecord, writeMutableRecord, type MutableStoreStatusCode, type MutableSummary, type WireMutableRecord } from '../wire/mutable.js';
import { compareSummaries, mutableSize, summaryOf } from './mutable-record.js';
import { DEFAULT_MAX_BYTES, DEFAULT_MAX_RECORDS, REPUBLISH_EVERY_MS, type LocalStoreOptions } from './store.js';

/** What the other store holds, counted against the same bounds. */
export interface StorageUsage {
  readonly size: number;
  readonly bytes: number;
}

/**
 * A held mutable record: its encoding and its key's locations (HeldEncoding), decoded when asked
 * for, as the immutable store keeps its records (store.ts StoredRecord).
 */
export class StoredMutable extends HeldEncoding {
  /** Unix seconds. */
  readonly expiresAt: number;
  /** mutableSize: what it counts against the byte bound. */
  readonly size: number;
  /** Clock ms when this node should next republish it. */
  republishAt: number;

  /** `locations`: the key's replica locations, the key itself first (storage/placement.ts). */
  constructor(record: WireMutableRecord, republishAt: number, locations: readonly Uint8Array[]) {
    super((w) => writeMutableRecord(w, record), locations);
    this.expiresAt = record.expiresAt;
    this.size = mutableSize(record);
    this.republishAt = republishAt;
  }

  /** The record, decoded afresh: views into the held encoding, for reading only (views.ts copies what reaches the user). */
  get record(): WireMutableRecord {
    return readMutableRecord(new Reader(this.encoding));
  }
}

export interface MutablePutResult {
  status: MutableStoreStatusCode;
  /** The copy held after this put (none when nothing is held). */
  held: MutableSummary | undefined;
  /** What the put replaced (a live copy it superseded), if anything. */
  replaced?: WireMutableRecord;
}

export interface MutableStoreSchedule {
  republishEveryMs: number;
  /** Uniform in [0, 1): spreads republishing so the holders of one key do not all send at once. */
  random: () => number;
  /** A key's replica locations, the key first (storage/placement.ts; default: the key alone). */
  locate: (key: Uint8Array) => Uint8Array[];
}

export class MutableStore {
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly #records = new Map<string, StoredMutable>();
  readonly #others: StorageUsage;
  readonly #schedule: MutableStoreSchedule;
  #bytes = 0;

  /** `others`: the immutable store; both kinds together stay within `maxRecords` and `maxBytes`. */
  constructor(options: LocalStoreOptions = {}, others: StorageUsage = { size: 0, bytes: 0 }, schedule: Partial<MutableStoreSchedule> = {}) {
    this.maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
    this.#others = others;
    this.#schedule = {
      republishEveryMs: schedule.republishEveryMs ?? REPUBLISH_EVERY_MS,
      random: schedule.random ?? Math.random,
      locate: schedule.locate ?? ((key) => [key]),
    };
  }

  get size(): number {
    return this.#records.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Whether a live copy is held for `key` (a deletion included), without decoding it. */
  has(key: Uint8Array, nowSeconds: number): boolean {
    return (this.#records.get(idKey(key))?.expiresAt ?? 0) > nowSeconds;
  }

  /** The live copy held for `key` (a deletion included: the caller decides what to show). */
  get(key: Uint8Array, nowSeconds: number): WireMutableRecord | undefined {
    const s = this.#records.get(idKey(key));
    if (!s || s.expiresAt <= nowSeconds) return undefined;
    return s.record;
  }

  /** The held records, without copying them into an array (do not add or remove while iterating). */
  held(): IterableIterator<StoredMutable> {
    return this.#records.values();
  }

  /**
   * Applies the rules to a validated record: the same copy again counts as stored; an older one (a
   * lower seq, or the same seq and not the preferred copy) is refused; with `cas`, a holder whose
   * seq is above `cas` refuses (someone wrote since the writer read). A newer copy replaces the held
   * one in place; a new key needs room.
   */
  put(record: WireMutableRecord, cas: number | undefined, nowMs: number): MutablePutResult {
    const hex = idKey(record.key);
    let held = this.#records.get(hex);
    if (held && held.expiresAt <= nowMs / 1000) {
      this.#remove(hex, held);
      held = undefined;
    }
    if (held) {
      const h = held.record;
      const refusal = judge(record, cas, h);
      if (refusal) return refusal;
      const grow = mutableSize(record) - mutableSize(h);
      if (grow > 0 && this.#bytes + this.#others.bytes + grow > this.maxBytes) return { status: MutableStoreStatus.FULL, held: summaryOf(h) };
      this.#records.set(hex, new StoredMutable(record, held.republishAt, held.locations));
      this.#bytes += grow;
      return { status: MutableStoreStatus.STORED, held: summaryOf(record), replaced: h };
    }
    const size = mutableSize(record);
    if (this.#records.size + this.#others.size >= this.maxRecords || this.#bytes + this.#others.bytes + size > this.maxBytes) {
      return { status: MutableStoreStatus.FULL, held: undefined };
    }
    this.#records.set(hex, new StoredMutable(record, this.#nextRepublish(nowMs), this.#schedule.locate(record.key)));
    this.#bytes += size;
    return { status: MutableStoreStatus.STORED, held: summaryOf(record) };
  }

  /**
   * What `put` would answer without storing, if that answer does not depend on the record being
   * valid: the same copy again, a `cas` mismatch, or an older copy. The responder asks this before
   * it validates, so a replayed old version costs a map lookup, not a signature check.
   */
  refusal(record: WireMutableRecord, cas: number | undefined, nowMs: number): MutablePutResult | undefined {
    const held = this.#records.get(idKey(record.key));
    if (!held || held.expiresAt <= nowMs / 1000) return undefined;
    return judge(record, cas, held.record);
  }

  /** Up to `max` live records whose republish time has come, each rescheduled one period on. */
  dueForRepublish(nowMs: number, max: number): WireMutableRecord[] {
    return dueForRepublish(this.#records.values(), nowMs, max, (t) => this.#nextRepublish(t));
  }

  /** Drops expired records (deletions included: by then every copy they refused has expired too). */
  sweep(nowSeconds: number): number {
    let n = 0;
    for (const [hex, s] of this.#records) {
      if (s.expiresAt <= nowSeconds) {
        this.#remove(hex, s);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.#records.clear();
    this.#bytes = 0;
  }

  #nextRepublish(nowMs: number): number {
    return nextRepublish(nowMs, this.#schedule.republishEveryMs, this.#schedule.random);
  }

  #remove(hex: string, s: StoredMutable): void {
    this.#records.delete(hex);
    this.#bytes -= s.size;
  }
}

/** The holder rules against the held copy `h`: a refusal, or undefined when `record` is newer. */
function judge(record: WireMutableRecord, cas: number | undefined, h: WireMutableRecord): MutablePutResult | undefined {
  const order = compareSummaries(summaryOf(record), summaryOf(h));
  // A retransmitted STORE (its ACK lost) must not turn into a cas mismatch: same copy first.
  if (order === 0 && equalBytes(record.signature, h.signature)) return { status: MutableStoreStatus.ALREADY_HELD, held: summaryOf(h) };
  if (cas !== undefined && h.seq > cas) return { status: MutableStoreStatus.CAS_MISMATCH, held: summaryOf(h) };
  if (order <= 0) return { status: h.deleted ? MutableStoreStatus.DELETED : MutableStoreStatus.STALE_SEQ, held: summaryOf(h) };
  return undefined;
}

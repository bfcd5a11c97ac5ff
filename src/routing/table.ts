/**
 * Kademlia routing table: one bucket per shared-prefix length with the local ID, k contacts
 * each, least-recently-seen first, plus a replacement cache per bucket. It does no I/O: when a
 * bucket is full it reports the contact to ping, and the caller calls `remove` if that ping fails
 * (dht-rpc's "full" pattern). At most `maxPerIp` contacts share one observed IP, and at most
 * `maxPerPrefix` one IPv4 /24 or IPv6 /64 (`maxPerWidePrefix` one IPv6 /48): an attacker with a whole
 * /24 or /64 fills a few slots of a table, not a bucket.
 */
import { Emitter } from '../events.js';
import { ID_BITS, commonPrefixLength, compareDistance, equalIds, idKey, type NodeId } from '../id.js';
import { ipPrefixes } from '../ip-prefix.js';
import type { Contact } from './contact.js';

export const DEFAULT_K = 20;
export const DEFAULT_MAX_PER_IP = 2;
/**
 * Contacts per IPv4 /24 or IPv6 /64, by default max(4, 2 × maxPerIp): two hosts' worth. A home or a
 * small office has one /24 or /64 and rarely more than a couple of nodes in it; a provider that
 * hands out addresses within one /24 to strangers puts at most 4 of them in any one table, which
 * costs an honest swarm nothing (a table holds a few hundred contacts from thousands of prefixes),
 * while an attacker owning a /24 gets 4 slots, not 256 × 2.
 */
export function defaultMaxPerPrefix(maxPerIp: number): number {
  return Math.max(4, 2 * maxPerIp);
}
/** Contacts per IPv6 /48 (a site's whole allocation): twice the /64 bound. */
export function defaultMaxPerWidePrefix(maxPerIp: number): number {
  return 2 * defaultMaxPerPrefix(maxPerIp);
}

export type InsertResult =
  | { status: 'added'; contact: Contact }
  | { status: 'updated'; contact: Contact }
  /** Bucket full: the candidate waits in the replacement cache; ping `stale` and remove it if it fails. */
  | { status: 'full'; stale: Contact }
  /** Its IP, or the /24, /64 or /48 it is in, has as many contacts as the table allows. */
  | { status: 'ip-limit' }
  | { status: 'self' };

export interface RoutingTableEvents {
  added: Contact;
  removed: Contact;
  updated: Contact;
}

export interface BucketSnapshot {
  index: number;
  contacts: Contact[];
  replacements: number;
  lastChanged: number;
}

interface Bucket {
  contacts: Contact[]; // least recently seen first
  replacements: Contact[]; // most recent last
  lastChanged: number;
}

export interface RoutingTableOptions {
  localId: NodeId;
  k?: number;
  maxPerIp?: number;
  /** Contacts per IPv4 /24 or IPv6 /64 (default defaultMaxPerPrefix(maxPerIp)). */
  maxPerPrefix?: number;
  /** Contacts per IPv6 /48 (default defaultMaxPerWidePrefix(maxPerIp)). */
  maxPerWidePrefix?: number;
  now: () => number;
}

export class RoutingTable extends Emitter<RoutingTableEvents> {
  readonly localId: NodeId;
  readonly k: number;
  readonly maxPerIp: number;
  readonly maxPerPrefix: number;
  readonly maxPerWidePrefix: number;
  /**
   * Created on first use: most of the 256 buckets of a node stay empty for ever, and the list grows
   * only to the deepest bucket used (~log2(N / k) + a few), not 256 slots (2 KiB a node).
   */
  readonly #buckets: (Bucket | undefined)[] = [];
  readonly #byId = new Map<string, Contact>();
  /** Contacts per IP and per prefix (keys of both kinds in one map: "10.0.0.1", "10.0.0/24", "2001:db8:0/48"). */
  readonly #perIp = new Map<string, number>();
  readonly #now: () => number;
  /** When the table was made: the lastChanged of buckets never used. */
  readonly #createdAt: number;
  /** The deepest bucket ever created (no bucket below it exists). */
  #deepestIndex = -1;
  /** Set by a staleBuckets call that found none: none can be stale before `at` (see there). */
  #quietUntil: { at: number; idleMs: number; deepest: number } | undefined;

  constructor({ localId, k = DEFAULT_K, maxPerIp = DEFAULT_MAX_PER_IP, maxPerPrefix, maxPerWidePrefix, now }: RoutingTableOptions) {
    super();
    this.localId = localId;
    this.k = k;
    this.maxPerIp = maxPerIp;
    this.maxPerPrefix = maxPerPrefix ?? defaultMaxPerPrefix(maxPerIp);
    this.maxPerWidePrefix = maxPerWidePrefix ?? defaultMaxPerWidePrefix(maxPerIp);
    this.#now = now;
    this.#createdAt = now();
  }

  get size(): number {
    return this.#byId.size;
  }

  bucketIndex(id: NodeId): number {
    return commonPrefixLength(this.localId, id);
  }

  get(id: NodeId): Contact | undefined {
    return this.#byId.get(idKey(id));
  }

  has(id: NodeId): boolean {
    return this.#byId.has(idKey(id));
  }

  all(): Contact[] {
    return [...this.#byId.values()];
  }

  /** Contacts in bucket `index` (shared-prefix length with the local ID). */
  bucketSize(index: number): number {
    return this.#buckets[index]?.contacts.length ?? 0;
  }

  /** Whether a new contact with this ID would be added now (its bucket is not full). */
  hasRoomFor(id: NodeId): boolean {
    return this.hasRoomIn(this.bucketIndex(id));
  }

  hasRoomIn(index: number): boolean {
    return index < ID_BITS && this.bucketSize(index) < this.k;
  }

  /** Whether a verified contact with this ID would be kept: in its bucket, or in the bucket's replacement cache. */
  wouldKeep(id: NodeId): boolean {
    const index = this.bucketIndex(id);
    if (index >= ID_BITS) return false;
    const b = this.#buckets[index];
    return !b || b.contacts.length < this.k || b.replacements.length < this.k || this.#byId.has(idKey(id));
  }

  /** The least-recently-seen contact of bucket `index` (the one a full bucket pings first). */
  oldestIn(index: number): Contact | undefined {
    return this.#buckets[index]?.contacts[0];
  }

  ipCount(ip: string): number {
    return this.#perIp.get(ip) ?? 0;
  }

  /** Contacts in the IPv4 /24 or IPv6 /64 of `ip`. */
  prefixCount(ip: string): number {
    return this.#perIp.get(ipPrefixes(ip).narrow) ?? 0;
  }

  /** Whether one more contact at `ip` keeps every per-IP and per-prefix bound. */
  ipHasRoom(ip: string): boolean {
    if ((this.#perIp.get(ip) ?? 0) >= this.maxPerIp) return false;
    const { narrow, wide } = ipPrefixes(ip);
    if (narrow !== ip && (this.#perIp.get(narrow) ?? 0) >= this.maxPerPrefix) return false;
    return wide === undefined || (this.#perIp.get(wide) ?? 0) < this.maxPerWidePrefix;
  }

  /** Offers a verified contact. Existing contacts are refreshed (and may change address). */
  insert(candidate: Contact): InsertResult {
    const index = this.bucketIndex(candidate.id);
    if (index === ID_BITS) return { status: 'self' };
    const bucket = this.#bucket(index);
    const existing = this.get(candidate.id);
    if (existing) return this.#update(bucket, existing, candidate);

    if (!this.ipHasRoom(candidate.ip)) return { status: 'ip-limit' };
    if (bucket.contacts.length < this.k) {
      this.#add(bucket, candidate);
      return { status: 'added', contact: candidate };
    }
    this.#remember(bucket, candidate);
    return { status: 'full', stale: bucket.contacts[0]! };
  }

  #update(bucket: Bucket, existing: Contact, fresh: Contact): InsertResult {
    if (existing.ip !== fresh.ip) {
      // Moving to another IP must respect that IP's limit too.
      if (!this.ipHasRoom(fresh.ip)) return { status: 'ip-limit' };
      this.#countIp(existing.ip, -1);
      this.#countIp(fresh.ip, +1);
      existing.ip = fresh.ip;
    }
    existing.address = fresh.address;
    existing.addresses = fresh.addresses;
    existing.lastSeen = fresh.lastSeen;
    existing.failures = 0;
    if (fresh.rtt !== undefined) existing.rtt = fresh.rtt;
    this.#moveToTail(bucket, existing);
    this.emit('updated', existing);
    return { status: 'updated', contact: existing };
  }

  /** Records a reply (or request) from a contact: it becomes most recently seen. */
  touch(id: NodeId, rtt?: number): void {
    const c = this.get(id);
    if (!c) return;
    c.lastSeen = this.#now();
    c.failures = 0;
    if (rtt !== undefined) c.rtt = rtt;
    this.#moveToTail(this.#bucket(this.bucketIndex(id)), c);
    this.emit('updated', c);
  }

  /** Counts a failed request; returns the failure count (the caller decides when to remove). */
  fail(id: NodeId): number {
    const c = this.get(id);
    if (!c) return 0;
    c.failures++;
    return c.failures;
  }

  /**
   * Removes a contact (it failed a ping) and, unless `promote` is false, promotes the freshest
   * replacement that fits (the caller may first try a candidate of its own: promoteReplacement).
   */
  remove(id: NodeId, promote = true): boolean {
    const key = idKey(id);
    const c = this.#byId.get(key);
    const index = this.bucketIndex(id);
    const bucket = this.#buckets[index];
    if (!bucket) return false;
    if (!c) {
      bucket.replacements = bucket.replacements.filter((r) => !equalIds(r.id, id));
      return false;
    }
    bucket.contacts.splice(bucket.contacts.indexOf(c), 1);
    this.#byId.delete(key);
    this.#countIp(c.ip, -1);
    bucket.lastChanged = this.#now();
    this.emit('removed', c);
    if (promote) this.promoteReplacement(index);
    return true;
  }

  /** Moves the freshest replacement that fits into bucket `index`, if it has room. */
  promoteReplacement(index: number): void {
    const bucket = this.#buckets[index];
    // An evicted contact is forgotten entirely, so it can come back later (the original banned it forever).
    while (bucket && bucket.replacements.length > 0 && bucket.contacts.length < this.k) {
      const next = bucket.replacements.pop()!;
      if (this.ipHasRoom(next.ip) && !this.#byId.has(idKey(next.id))) {
        this.#add(bucket, next);
        break;
      }
    }
  }

  /** The `count` contacts closest to `target`, nearest first. */
  closest(target: NodeId, count = this.k, filter?: (c: Contact) => boolean): Contact[] {
    // Buckets can be ranked by distance to the target without comparing contacts: with s the
    // target's own bucket (cpl with us), bucket s holds the closest; a deeper bucket j comes next if
    // bit j of (us XOR target) is 1, in increasing j; then the other deeper buckets in decreasing j;
    // then the shallower buckets, s-1 first. Contacts within a bucket are compared; once `count` are
    // in hand after a whole bucket, every bucket still to come is farther.
    // Buckets never overlap in distance, so each one's contacts are sorted on their own and appended:
    // no contact is compared with another bucket's (that insertion was the hot spot of every reply).
    const out: Contact[] = [];
    const start = Math.min(this.bucketIndex(target), ID_BITS - 1);
    const take = (i: number): void => {
      const b = this.#buckets[i];
      if (!b || b.contacts.length === 0) return;
      const from = out.length;
      for (const c of b.contacts) if (!filter || filter(c)) out.push(c);
      sortTail(out, from, target);
      if (out.length > count) out.length = count;
    };
    const xorBit = (j: number): number => ((this.localId[j >> 3]! ^ target[j >> 3]!) >> (7 - (j & 7))) & 1;
    const last = this.#deepestIndex;
    take(start);
    for (let j = start + 1; j <= last && out.length < count; j++) if (xorBit(j) === 1) take(j);
    for (let j = last; j > start && out.length < count; j--) if (xorBit(j) === 0) take(j);
    for (let i = start - 1; i >= 0 && out.length < count; i--) take(i);
    return out;
  }

  /**
   * Whether this node is nearer to `target` than every contact except `except`. A contact in
   * bucket j (it shares j leading bits with us) is nearer to the target than we are exactly when
   * bit j of (us XOR target) is 1, so this reads one bit per non-empty bucket: no contact is
   * compared and nothing is allocated (maintenance asks it for every record held, at every new
   * contact).
   */
  nearestTo(target: NodeId, except?: NodeId): boolean {
    const exceptBucket = except ? this.bucketIndex(except) : -1;
    for (let j = 0; j <= this.#deepestIndex; j++) {
      const contacts = this.#buckets[j]?.contacts;
      if (!contacts || contacts.length === 0 || (contacts.length === 1 && j === exceptBucket && equalIds(contacts[0]!.id, except!))) continue;
      if ((((this.localId[j >> 3]! ^ target[j >> 3]!) >> (7 - (j & 7))) & 1) === 1) return false;
    }
    return true;
  }

  /**
   * How many leading bits the k nodes closest to a point share with it, as far as our own
   * neighbourhood tells: the prefix we share with our k-th closest contact. Undefined with fewer
   * than k contacts (a swarm that small needs no estimate).
   */
  neighbourhoodBits(): number | undefined {
    // Every contact of a deeper bucket is closer to us than any of a shallower one, and a contact's
    // bucket is the prefix it shares with us: the k-th closest lies in the bucket where the count
    // from the deepest reaches k (no contact needs ranking; this is asked on every STORE).
    let n = 0;
    for (let j = this.#deepestIndex; j >= 0; j--) {
      n += this.bucketSize(j);
      if (n >= this.k) return j;
    }
    return undefined;
  }

  /**
   * Contacts closer to `target` than this node, counted up to `limit`. A contact of bucket j
   * matches our ID up to bit j and differs there, so it is closer exactly when bit j of
   * (our ID XOR target) is 1: bucket sizes add up to the count, with no contact compared.
   */
  countCloserThanSelf(target: NodeId, limit: number): number {
    let n = 0;
    for (let j = 0; j <= this.#deepestIndex && n < limit; j++) {
      if (((this.localId[j >> 3]! ^ target[j >> 3]!) >> (7 - (j & 7))) & 1) n += this.bucketSize(j);
    }
    return Math.min(n, limit);
  }

  /**
   * Buckets that have not changed for `idleMs` and could hold contacts (for refresh lookups).
   * Maintenance asks every 5 s; in a simulation of many nodes those calls add up (5.8 % of a
   * 17,700-node run's CPU), so a call that finds none remembers when the oldest bucket in range
   * turns stale, and until then answers at once: `lastChanged` only moves forward, and a change
   * of the range (the deepest bucket holding contacts) or of `idleMs` looks again.
   */
  staleBuckets(idleMs: number): number[] {
    const now = this.#now();
    const deepest = this.#deepestNonEmpty();
    const quiet = this.#quietUntil;
    if (quiet && now < quiet.at && quiet.idleMs === idleMs && quiet.deepest === deepest) return [];
    const out: number[] = [];
    let oldest = Infinity;
    for (let i = 0; i <= Math.min(deepest + 1, ID_BITS - 1); i++) {
      const changed = this.#buckets[i]?.lastChanged ?? this.#createdAt;
      if (now - changed >= idleMs) out.push(i);
      else if (changed < oldest) oldest = changed;
    }
    this.#quietUntil = out.length === 0 ? { at: oldest + idleMs, idleMs, deepest } : undefined;
    return out;
  }

  /** Marks a bucket as just refreshed (a lookup into it ran). */
  markRefreshed(index: number): void {
    if (index >= 0 && index < ID_BITS) this.#bucket(index).lastChanged = this.#now();
  }

  /** Contacts not heard from for `idleMs`, least recently seen first. */
  staleContacts(idleMs: number): Contact[] {
    const cutoff = this.#now() - idleMs;
    return this.all()
      .filter((c) => c.lastSeen <= cutoff)
      .sort((a, b) => a.lastSeen - b.lastSeen);
  }

  snapshot(): BucketSnapshot[] {
    const out: BucketSnapshot[] = [];
    this.#buckets.forEach((b, index) => {
      if (b && (b.contacts.length || b.replacements.length)) {
        out.push({ index, contacts: b.contacts.map((c) => ({ ...c })), replacements: b.replacements.length, lastChanged: b.lastChanged });
      }
    });
    return out;
  }

  clear(): void {
    // Replacements first: otherwise each remove() would promote one into the table being cleared.
    for (const b of this.#buckets) if (b) b.replacements = [];
    for (const c of this.all()) this.remove(c.id);
  }

  #add(bucket: Bucket, c: Contact): void {
    bucket.contacts.push(c);
    this.#byId.set(idKey(c.id), c);
    this.#countIp(c.ip, +1);
    bucket.lastChanged = this.#now();
    this.emit('added', c);
  }

  #remember(bucket: Bucket, c: Contact): void {
    bucket.replacements = bucket.replacements.filter((r) => !equalIds(r.id, c.id));
    bucket.replacements.push(c);
    if (bucket.replacements.length > this.k) bucket.replacements.shift();
  }

  #moveToTail(bucket: Bucket, c: Contact): void {
    const i = bucket.contacts.indexOf(c);
    if (i >= 0 && i !== bucket.contacts.length - 1) {
      bucket.contacts.splice(i, 1);
      bucket.contacts.push(c);
    }
  }

  #countIp(ip: string, delta: number): void {
    const { narrow, wide } = ipPrefixes(ip);
    this.#countKey(ip, delta);
    if (narrow !== ip) this.#countKey(narrow, delta);
    if (wide !== undefined) this.#countKey(wide, delta);
  }

  #countKey(key: string, delta: number): void {
    const n = (this.#perIp.get(key) ?? 0) + delta;
    if (n <= 0) this.#perIp.delete(key);
    else this.#perIp.set(key, n);
  }

  #deepestNonEmpty(): number {
    for (let i = this.#buckets.length - 1; i >= 0; i--) if (this.#buckets[i]?.contacts.length) return i;
    return 0;
  }

  #bucket(index: number): Bucket {
    if (index > this.#deepestIndex) this.#deepestIndex = index;
    while (this.#buckets.length <= index) this.#buckets.push(undefined);
    return (this.#buckets[index] ??= { contacts: [], replacements: [], lastChanged: this.#createdAt });
  }
}

/** Scratch for sortTail's keys (a bucket holds k contacts; grown if k is larger). */
let keys = new Float64Array(64);

/**
 * Sorts out[from..] by distance to `target`, nearest first: an insertion sort (a bucket is small) on
 * the first 32 bits of each distance, worked out once per contact, with the full comparison only
 * for equal keys.
 */
function sortTail(out: Contact[], from: number, target: NodeId): void {
  const n = out.length - from;
  if (n < 2) return;
  if (keys.length < n) keys = new Float64Array(2 * n);
  const t0 = target[0]!, t1 = target[1]!, t2 = target[2]!, t3 = target[3]!;
  for (let i = 0; i < n; i++) {
    const id = out[from + i]!.id;
    keys[i] = ((id[0]! ^ t0) * 16777216) + (((id[1]! ^ t1) << 16) | ((id[2]! ^ t2) << 8) | (id[3]! ^ t3));
  }
  for (let i = 1; i < n; i++) {
    const c = out[from + i]!;
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && (keys[j]! > key || (keys[j] === key && compareDistance(out[from + j]!.id, c.id, target) > 0))) {
      out[from + j + 1] = out[from + j]!;
      keys[j + 1] = keys[j]!;
      j--;
    }
    out[from + j + 1] = c;
    keys[j + 1] = key;
  }
}

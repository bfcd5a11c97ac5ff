/**
 * Read-only views of a node's routing table and storage, for the demo page, scripts and tests: what
 * outside code may look at, without reaching into the parts the engine mutates.
 */
import { fromUtf8, toHex } from './bytes.js';
import { SpydhtError } from './errors.js';
import { idFromHex, isId, type NodeId } from './id.js';
import type { Engine } from './engine.js';
import type { ContactInfo } from './routing/contact.js';
import type { WireRecord } from './wire/messages.js';
import type { WireMutableRecord } from './wire/mutable.js';

/** A verified value returned by `get` (and each record a node holds, in `storage.records()`). */
export class DHTValue {
  readonly key: string;
  readonly label: Uint8Array;
  readonly content: Uint8Array;
  readonly expiresAt: Date;
  /** Hex public key of the owner, when the record has one. */
  readonly owner: string | undefined;

  /** @internal */
  constructor(record: WireRecord) {
    this.key = toHex(record.key);
    // Copies: a record can be a view into a held copy (storage/store.ts), which the user's writes
    // to these arrays must not change.
    this.label = record.label.slice();
    this.content = record.content.slice();
    this.expiresAt = new Date(record.expiresAt * 1000);
    this.owner = record.owner ? toHex(record.owner.publicKey) : undefined;
  }

  /** Content as UTF-8 text (throws TypeError if it is not valid UTF-8). */
  text(): string {
    return fromUtf8(this.content);
  }

  labelText(): string {
    return fromUtf8(this.label);
  }
}

/** A verified mutable record returned by `getMutable`: the newest copy the lookup found. */
export class MutableValue {
  /** The record's key (hex): SHA-256 of the owner's public key and the salt (PROTOCOL.md §15). */
  readonly key: string;
  /** Hex public key of the owner, who signed this copy. */
  readonly owner: string;
  readonly salt: Uint8Array;
  /** Sequence number: a later version of the key has a higher one. */
  readonly seq: number;
  readonly content: Uint8Array;
  readonly expiresAt: Date;

  /** @internal */
  constructor(record: WireMutableRecord) {
    this.key = toHex(record.key);
    this.owner = toHex(record.publicKey);
    // Copies, as DHTValue's: the record can be a view into a held copy.
    this.salt = record.salt.slice();
    this.seq = record.seq;
    this.content = record.content.slice();
    this.expiresAt = new Date(record.expiresAt * 1000);
  }

  /** Content as UTF-8 text (throws TypeError if it is not valid UTF-8). */
  text(): string {
    return fromUtf8(this.content);
  }
}

export interface RoutingView {
  /** Contacts in the table. */
  readonly size: number;
  /** Bucket size. */
  readonly k: number;
  /** Every contact, nearest buckets last. */
  contacts(): ContactInfo[];
  /** The `count` contacts closest to `target` (hex or bytes), nearest first. */
  closest(target: string | Uint8Array, count?: number): ContactInfo[];
  has(id: string | Uint8Array): boolean;
  /** Contacts in the table under this IP (the per-IP limit caps it). */
  ipCount(ip: string): number;
}

export interface StorageView {
  /** Records held for the swarm. */
  readonly size: number;
  /** Label and content bytes held. */
  readonly bytes: number;
  /** Deletes remembered so stale copies cannot come back. */
  readonly tombstones: number;
  /** Whether a live record with this key (hex or bytes) is held here. */
  has(key: string | Uint8Array): boolean;
  records(): DHTValue[];
}

export function routingView(engine: Engine): RoutingView {
  const { table } = engine;
  return {
    get size() {
      return table.size;
    },
    k: table.k,
    contacts: () => table.all().map((c) => engine.contactInfo(c)),
    closest: (target, count) => table.closest(asKey(target), count).map((c) => engine.contactInfo(c)),
    has: (id) => table.has(asKey(id)),
    ipCount: (ip) => table.ipCount(ip),
  };
}

export function storageView(engine: Engine): StorageView {
  const { store } = engine;
  const now = (): number => Math.floor(engine.clock.now() / 1000);
  return {
    get size() {
      return store.size;
    },
    get bytes() {
      return store.bytes;
    },
    get tombstones() {
      return store.tombstones;
    },
    has: (key) => store.has(asKey(key), now()),
    records: () => store.entries().filter((e) => e.expiresAt > now()).map((e) => new DHTValue(e.record)),
  };
}

/** A 32-byte key or ID from hex or bytes; INVALID_ARGUMENT otherwise. */
export function asKey(key: string | Uint8Array): NodeId {
  if (isId(key)) return key;
  if (typeof key === 'string' && /^[0-9a-fA-F]{64}$/.test(key)) return idFromHex(key);
  throw SpydhtError.invalidArgument('a key is 64 hex digits or 32 bytes');
}

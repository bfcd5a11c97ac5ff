/**
 * The wire form of mutable records (PROTOCOL.md §15): records addressed by their owner's public key
 * (and a salt), carrying a sequence number. Bodies of FIND_MUTABLE, MUTABLE_VALUE, STORE_MUTABLE and
 * STORE_MUTABLE_ACK; `messages.ts` dispatches to these functions. No hashing or signature checks
 * here (the wire layer never hashes): `storage/mutable-record.ts` validates.
 */
import { ID_BYTES } from '../id.js';
import { DecodeFailure, type Reader, type Writer } from './codec.js';

/** Longest salt (as BEP 44). */
export const MAX_SALT_BYTES = 64;
/** Salt + content of one mutable record (the same budget as label + content of an immutable one). */
export const MAX_MUTABLE_VALUE_BYTES = 4096;
/** Sequence numbers are u64 on the wire, but at most 2^53 − 1 so a JavaScript number holds them exactly. */
export const MAX_SEQ = Number.MAX_SAFE_INTEGER;
/** Bytes of a record's signature that identify it in a summary (PROTOCOL.md §15). */
export const RECORD_TAG_BYTES = 8;
const SIGNATURE_BYTES = 64;
const PUBLIC_KEY_BYTES = 32;
const NONCE_BYTES = 8;

/** Record flags. */
export const MutableFlags = {
  /** The owner deleted this key: no content; refuses every older sequence number until it expires. */
  DELETED: 0x01,
} as const;

export interface WireMutableRecord {
  /** SHA-256("spydht/mutable-key/v1" ‖ publicKey ‖ u8 |salt| ‖ salt). */
  key: Uint8Array;
  publicKey: Uint8Array;
  salt: Uint8Array;
  seq: number;
  /** A deletion (tombstone): `content` is empty. */
  deleted: boolean;
  content: Uint8Array;
  /** Unix seconds. */
  expiresAt: number;
  /** Ed25519 by `publicKey` over the record (storage/mutable-record.ts). */
  signature: Uint8Array;
  powNonce: Uint8Array;
}

/** Which copy a node holds, without the copy: its sequence number and the first bytes of its signature. */
export interface MutableSummary {
  seq: number;
  tag: Uint8Array;
}

/**
 * Statuses of STORE_MUTABLE_ACK. 0–5 mean what they mean for STORE_ACK (StoreStatus); 6 and 7 are
 * the sequence-number rules; 8 is placement (StoreStatus.NOT_RESPONSIBLE, which is 6 there).
 */
export const MutableStoreStatus = {
  STORED: 0,
  /** This very record is held already: counts as stored. */
  ALREADY_HELD: 1,
  FULL: 2,
  /** Fails validation: key, times, proof of work, or a signature that is not the key owner's. */
  INVALID: 3,
  /** The owner deleted this key at a sequence number at or above this record's. */
  DELETED: 4,
  RATE_LIMITED: 5,
  /** A newer record is held (a higher seq, or the same seq and the preferred copy): an old or replayed record. */
  STALE_SEQ: 6,
  /** The store was conditional (`cas`) and the holder has a seq above it: someone wrote in between. */
  CAS_MISMATCH: 7,
  /**
   * Refused: the responder holds no copy and knows 2k or more nodes closer to every replica
   * location of the key than itself, so it is not among the nodes that should hold it (placement).
   */
  NOT_RESPONSIBLE: 8,
} as const;
export type MutableStoreStatusCode = (typeof MutableStoreStatus)[keyof typeof MutableStoreStatus];

export function writeMutableRecord(w: Writer, r: WireMutableRecord): void {
  if (r.salt.length + r.content.length > MAX_MUTABLE_VALUE_BYTES) throw new RangeError('value too large');
  if (r.deleted && r.content.length > 0) throw new RangeError('a deletion has no content');
  w.fixed(r.key, ID_BYTES, 'key')
    .fixed(r.publicKey, PUBLIC_KEY_BYTES, 'public key')
    .bytes8(r.salt, MAX_SALT_BYTES, 'salt');
  writeSeq(w, r.seq);
  w.u8(r.deleted ? MutableFlags.DELETED : 0)
    .bytes16(r.content, MAX_MUTABLE_VALUE_BYTES, 'content')
    .u32(r.expiresAt)
    .fixed(r.signature, SIGNATURE_BYTES, 'signature')
    .fixed(r.powNonce, NONCE_BYTES, 'pow nonce');
}

export function readMutableRecord(r: Reader): WireMutableRecord {
  const key = r.fixed(ID_BYTES, 'key');
  const publicKey = r.fixed(PUBLIC_KEY_BYTES, 'public key');
  const salt = r.bytes8(MAX_SALT_BYTES, 'salt');
  const seq = readSeq(r, 'seq');
  const flags = r.u8('record flags');
  if (flags & ~MutableFlags.DELETED) throw new DecodeFailure(`unknown record flags 0x${flags.toString(16)}`);
  const content = r.bytes16(MAX_MUTABLE_VALUE_BYTES, 'content');
  if (salt.length + content.length > MAX_MUTABLE_VALUE_BYTES) throw new DecodeFailure('value too large');
  const deleted = (flags & MutableFlags.DELETED) !== 0;
  if (deleted && content.length > 0) throw new DecodeFailure('a deletion has no content');
  const expiresAt = r.u32('expiresAt');
  const signature = r.fixed(SIGNATURE_BYTES, 'signature');
  const powNonce = r.fixed(NONCE_BYTES, 'pow nonce');
  return { key, publicKey, salt, seq, deleted, content, expiresAt, signature, powNonce };
}

/** u64, refusing what a JavaScript number cannot hold exactly. */
export function writeSeq(w: Writer, seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError('seq must be an integer from 0 to 2^53 − 1');
  w.u32(Math.floor(seq / 2 ** 32)).u32(seq >>> 0);
}

export function readSeq(r: Reader, what: string): number {
  const hi = r.u32(what);
  const lo = r.u32(what);
  if (hi >= 2 ** 21) throw new DecodeFailure(`${what} above 2^53 − 1`);
  return hi * 2 ** 32 + lo;
}

/** FIND_MUTABLE: `known` is the copy the asker already has (the holder sends its record only if it is preferred to that). */
export function writeFindMutable(w: Writer, key: Uint8Array, known: MutableSummary | undefined): void {
  w.fixed(key, ID_BYTES, 'key').u8(known ? 1 : 0);
  if (known) writeSummary(w, known);
}

export function readFindMutable(r: Reader): { key: Uint8Array; known: MutableSummary | undefined } {
  const key = r.fixed(ID_BYTES, 'key');
  const has = r.u8('known flag');
  if (has > 1) throw new DecodeFailure('bad known flag');
  return { key, known: has ? readSummary(r) : undefined };
}

export function writeSummary(w: Writer, s: MutableSummary): void {
  writeSeq(w, s.seq);
  w.fixed(s.tag, RECORD_TAG_BYTES, 'record tag');
}

export function readSummary(r: Reader): MutableSummary {
  return { seq: readSeq(r, 'seq'), tag: r.fixed(RECORD_TAG_BYTES, 'record tag') };
}

/** STORE_MUTABLE: `cas` (optional) ‖ record. */
export function writeStoreMutable(w: Writer, cas: number | undefined, record: WireMutableRecord): void {
  w.u8(cas === undefined ? 0 : 1);
  if (cas !== undefined) writeSeq(w, cas);
  writeMutableRecord(w, record);
}

export function readStoreMutable(r: Reader): { cas: number | undefined; record: WireMutableRecord } {
  const has = r.u8('cas flag');
  if (has > 1) throw new DecodeFailure('bad cas flag');
  const cas = has ? readSeq(r, 'cas') : undefined;
  return { cas, record: readMutableRecord(r) };
}

export function readMutableStoreStatus(r: Reader): MutableStoreStatusCode {
  const status = r.u8('status');
  if (status > MutableStoreStatus.NOT_RESPONSIBLE) throw new DecodeFailure(`unknown mutable store status ${status}`);
  return status as MutableStoreStatusCode;
}

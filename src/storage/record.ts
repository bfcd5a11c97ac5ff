/**
 * Records: immutable, content-addressed values with an optional owner.
 *
 *   key = SHA-256("spydht/key/v1" ‖ u8 |label| ‖ label ‖ u16 |content| ‖ content ‖ u8 owned ‖ [owner key])
 *
 * Length prefixes make the encoding unambiguous (the original's sha256(label + content) let
 * ("ab","c") and ("a","bc") share a key). The owner's key is part of the key, so nobody else can
 * claim ownership of a record by storing the same label and content first.
 */
import { concatBytes, equalBytes, utf8 } from '../bytes.js';
import type { CryptoBackend } from '../crypto/backend.js';
import { checkPow, powInput, powTarget, powWork, type PowSolver } from '../crypto/pow.js';
import type { Identity } from '../crypto/identity.js';
import { MAX_LABEL_BYTES, MAX_VALUE_BYTES, POW_NONCE_BYTES, type DeleteProof, type WireRecord } from '../wire/messages.js';

const KEY_TAG = utf8('spydht/key/v1');
const STORE_TAG = utf8('spydht/store/v1');
const DELETE_TAG = utf8('spydht/delete/v1');
const DELETE_POW_TAG = utf8('spydht/delete-pow/v1');

/**
 * Proof of work prices a record as if it lived at least this long. The verifier's skew allowance
 * accepts a record whose lifetime is already over, and without a floor such a record would cost
 * next to nothing yet hold a place in storage until the next sweep.
 */
export const POW_MIN_TTL_SECONDS = 3600;
/** A DELETE's size on the wire (key, owner key, issuedAt, signature, nonce): what its proof of work is priced on. */
export const DELETE_WIRE_BYTES = 32 + 32 + 4 + 64 + POW_NONCE_BYTES;

export interface RecordRules {
  networkId: Uint8Array;
  powBaseBits: number;
  /** Longest lifetime a record may ask for, in seconds. */
  maxTtlSeconds: number;
  /** Clock difference between nodes tolerated when checking times, in seconds. */
  maxSkewSeconds: number;
}

export function recordKey(crypto: CryptoBackend, label: Uint8Array, content: Uint8Array, ownerKey?: Uint8Array): Uint8Array {
  const lens = new Uint8Array(1);
  lens[0] = label.length;
  const clen = new Uint8Array([content.length >> 8, content.length & 0xff]);
  const owned = new Uint8Array([ownerKey ? 1 : 0]);
  return crypto.sha256(concatBytes(KEY_TAG, lens, label, clen, content, owned, ownerKey ?? new Uint8Array(0)));
}

function u32pair(a: number, b: number): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint32(0, a);
  v.setUint32(4, b);
  return out;
}

/** What the owner signs for a store: purpose, network, key, expiry and issue time. */
export function storeSigningBytes(networkId: Uint8Array, key: Uint8Array, expiresAt: number, issuedAt: number): Uint8Array {
  return concatBytes(STORE_TAG, networkId, key, u32pair(expiresAt, issuedAt));
}

export function deleteSigningBytes(networkId: Uint8Array, key: Uint8Array, issuedAt: number): Uint8Array {
  return concatBytes(DELETE_TAG, networkId, key, u32pair(issuedAt, 0));
}

/**
 * A record's full size on the wire (key, length-prefixed label and content, expiry, owner fields,
 * nonce): what its proof of work is priced on and what it counts against a node's byte bound.
 */
export function recordSize(r: Pick<WireRecord, 'label' | 'content' | 'owner'>): number {
  return 32 + 1 + r.label.length + 2 + r.content.length + 4 + 1 + (r.owner ? 32 + 4 + 64 : 0) + POW_NONCE_BYTES;
}

function powInputOf(crypto: CryptoBackend, rules: RecordRules, r: WireRecord): Uint8Array {
  return powInput(crypto, { networkId: rules.networkId, key: r.key, size: recordSize(r), expiresAt: r.expiresAt });
}

/**
 * Required work, from the lifetime left (minus tolerated skew, so a clock behind ours never fails
 * a valid record), never less than POW_MIN_TTL_SECONDS' worth.
 */
function targetFor(rules: RecordRules, r: WireRecord, nowSeconds: number): bigint {
  const ttl = Math.max(POW_MIN_TTL_SECONDS, r.expiresAt - nowSeconds - rules.maxSkewSeconds);
  return powTarget(powWork(rules.powBaseBits, recordSize(r), ttl));
}

export interface CreateRecordOptions {
  crypto: CryptoBackend;
  rules: RecordRules;
  label: Uint8Array;
  content: Uint8Array;
  ttlSeconds: number;
  nowSeconds: number;
  owner?: Identity;
  solver: PowSolver;
  signal?: AbortSignal;
}

/** Throws RangeError when a label or value is too long to be a record. */
export function checkRecordSizes(label: Uint8Array, content: Uint8Array): void {
  if (label.length > MAX_LABEL_BYTES) throw new RangeError(`label longer than ${MAX_LABEL_BYTES} bytes`);
  if (label.length + content.length > MAX_VALUE_BYTES) {
    throw new RangeError(`label + content longer than ${MAX_VALUE_BYTES} bytes`);
  }
}

export async function createRecord(o: CreateRecordOptions): Promise<WireRecord> {
  checkRecordSizes(o.label, o.content);
  const key = recordKey(o.crypto, o.label, o.content, o.owner?.publicKey);
  const expiresAt = o.nowSeconds + o.ttlSeconds;
  const record: WireRecord = { key, label: o.label, content: o.content, expiresAt, powNonce: new Uint8Array(8) };
  if (o.owner) {
    const signature = await o.owner.sign(storeSigningBytes(o.rules.networkId, key, expiresAt, o.nowSeconds));
    record.owner = { publicKey: o.owner.publicKey, issuedAt: o.nowSeconds, signature };
  }
  // Solve for the full ttl (no skew discount) so every verifier's requirement is met.
  const target = powTarget(powWork(o.rules.powBaseBits, recordSize(record), Math.max(POW_MIN_TTL_SECONDS, o.ttlSeconds)));
  record.powNonce = await o.solver(powInputOf(o.crypto, o.rules, record), target, o.signal);
  return record;
}

export type RecordCheck = { ok: true } | { ok: false; reason: string };

/**
 * Full validation of a record from the network, cheapest checks first: times, key hash, proof of
 * work (one hash), then the owner's signature.
 */
export async function validateRecord(crypto: CryptoBackend, rules: RecordRules, r: WireRecord, nowSeconds: number): Promise<RecordCheck> {
  if (r.expiresAt <= nowSeconds - rules.maxSkewSeconds) return { ok: false, reason: 'expired' };
  if (r.expiresAt > nowSeconds + rules.maxTtlSeconds + rules.maxSkewSeconds) return { ok: false, reason: 'lifetime over the cap' };
  if (!equalBytes(recordKey(crypto, r.label, r.content, r.owner?.publicKey), r.key)) return { ok: false, reason: 'key does not match content' };
  if (!checkPow(crypto, powInputOf(crypto, rules, r), r.powNonce, targetFor(rules, r, nowSeconds))) {
    return { ok: false, reason: 'insufficient proof of work' };
  }
  if (r.owner) {
    if (r.owner.issuedAt > nowSeconds + rules.maxSkewSeconds) return { ok: false, reason: 'signed in the future' };
    const signed = storeSigningBytes(rules.networkId, r.key, r.expiresAt, r.owner.issuedAt);
    if (!(await crypto.verify(r.owner.publicKey, signed, r.owner.signature))) return { ok: false, reason: 'bad owner signature' };
  }
  return { ok: true };
}

/** Checks what a reader needs to trust a value: the content hashes to the key, and the owner signed it. */
export async function verifyRecordForKey(crypto: CryptoBackend, rules: RecordRules, r: WireRecord, key: Uint8Array, nowSeconds: number): Promise<boolean> {
  return equalBytes(r.key, key) && (await validateRecord(crypto, rules, r, nowSeconds)).ok;
}

/**
 * The puzzle of a delete, bound to the key, the signer and the issue time. A delete of a key a node
 * does not hold leaves a tombstone there for maxTtlSeconds: the work makes each one cost what a
 * minimum record does, so a flood of self-signed deletes is priced like a flood of records.
 */
function deletePowInput(crypto: CryptoBackend, rules: RecordRules, key: Uint8Array, publicKey: Uint8Array, issuedAt: number): Uint8Array {
  const t = new Uint8Array(4);
  new DataView(t.buffer).setUint32(0, issuedAt);
  return crypto.sha256(concatBytes(DELETE_POW_TAG, rules.networkId, key, publicKey, t));
}

function deleteTarget(rules: RecordRules): bigint {
  return powTarget(powWork(rules.powBaseBits, DELETE_WIRE_BYTES, POW_MIN_TTL_SECONDS));
}

export interface DeleteWork {
  crypto: CryptoBackend;
  solver: PowSolver;
  signal?: AbortSignal;
}

/** Signs a delete of `key` issued at `issuedAt` and solves its proof of work. */
export async function createDeleteProof(rules: RecordRules, owner: Identity, key: Uint8Array, issuedAt: number, work: DeleteWork): Promise<DeleteProof> {
  const signature = await owner.sign(deleteSigningBytes(rules.networkId, key, issuedAt));
  const powNonce = await work.solver(deletePowInput(work.crypto, rules, key, owner.publicKey, issuedAt), deleteTarget(rules), work.signal);
  return { key, publicKey: owner.publicKey, issuedAt, signature, powNonce };
}

/** Times, proof of work (one hash), then the signature: nothing is touched on an unchecked claim. */
export async function validateDeleteProof(crypto: CryptoBackend, rules: RecordRules, p: DeleteProof, nowSeconds: number): Promise<RecordCheck> {
  if (p.issuedAt > nowSeconds + rules.maxSkewSeconds) return { ok: false, reason: 'signed in the future' };
  if (!checkPow(crypto, deletePowInput(crypto, rules, p.key, p.publicKey, p.issuedAt), p.powNonce, deleteTarget(rules))) {
    return { ok: false, reason: 'insufficient proof of work' };
  }
  if (!(await crypto.verify(p.publicKey, deleteSigningBytes(rules.networkId, p.key, p.issuedAt), p.signature))) {
    return { ok: false, reason: 'bad signature' };
  }
  return { ok: true };
}

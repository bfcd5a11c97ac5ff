/**
 * Mutable records: addressed by the owner's public key and a salt, versioned by a sequence number,
 * signed by the owner (PROTOCOL.md §15).
 *
 *   key       = SHA-256("spydht/mutable-key/v1" ‖ publicKey ‖ u8 |salt| ‖ salt)
 *   signature = Ed25519(owner, "spydht/mutable/v1" ‖ networkId ‖ key ‖ u64 seq ‖ u32 expiresAt ‖ u8 flags ‖ content)
 *
 * The key tag differs from an immutable record's ("spydht/key/v1"), so no mutable key can equal an
 * immutable one. The proof of work is priced like an immutable record's (size × lifetime) but bound
 * to (key, seq): every new version pays again, so an owner cannot rewrite a key at the holders'
 * expense for the price of one proof.
 */
import { concatBytes, equalBytes, utf8 } from '../bytes.js';
import type { CryptoBackend } from '../crypto/backend.js';
import type { Identity } from '../crypto/identity.js';
import { checkPow, powInput, powTarget, powWork, type PowSolver } from '../crypto/pow.js';
import {
  MAX_MUTABLE_VALUE_BYTES,
  MAX_SALT_BYTES,
  MutableFlags,
  RECORD_TAG_BYTES,
  type MutableSummary,
  type WireMutableRecord,
} from '../wire/mutable.js';
import type { RecordCheck, RecordRules } from './record.js';

const KEY_TAG = utf8('spydht/mutable-key/v1');
const SIGN_TAG = utf8('spydht/mutable/v1');
const POW_KEY_TAG = utf8('spydht/mutable-pow/v1');

export function mutableKey(crypto: CryptoBackend, publicKey: Uint8Array, salt: Uint8Array): Uint8Array {
  if (salt.length > MAX_SALT_BYTES) throw new RangeError(`salt longer than ${MAX_SALT_BYTES} bytes`);
  return crypto.sha256(concatBytes(KEY_TAG, publicKey, Uint8Array.of(salt.length), salt));
}

function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  const v = new DataView(out.buffer);
  v.setUint32(0, Math.floor(n / 2 ** 32));
  v.setUint32(4, n >>> 0);
  return out;
}

/** What the owner signs: purpose, network, key, seq, expiry, flags and content. */
export function mutableSigningBytes(networkId: Uint8Array, r: Pick<WireMutableRecord, 'key' | 'seq' | 'expiresAt' | 'deleted' | 'content'>): Uint8Array {
  const expires = new Uint8Array(5);
  new DataView(expires.buffer).setUint32(0, r.expiresAt);
  expires[4] = r.deleted ? MutableFlags.DELETED : 0;
  return concatBytes(SIGN_TAG, networkId, r.key, u64(r.seq), expires, r.content);
}

export function mutableSize(r: Pick<WireMutableRecord, 'salt' | 'content'>): number {
  return r.salt.length + r.content.length;
}

function powInputOf(crypto: CryptoBackend, rules: RecordRules, r: WireMutableRecord): Uint8Array {
  const boundKey = crypto.sha256(concatBytes(POW_KEY_TAG, r.key, u64(r.seq)));
  return powInput(crypto, { networkId: rules.networkId, key: boundKey, size: mutableSize(r), expiresAt: r.expiresAt });
}

/** The copy a record is, in a summary: its seq and the first bytes of its signature. */
export function summaryOf(r: WireMutableRecord): MutableSummary {
  return { seq: r.seq, tag: r.signature.subarray(0, RECORD_TAG_BYTES) };
}

/**
 * The order every node agrees on: a higher seq wins; at one seq (two versions the owner signed
 * with the same number, e.g. two writers at once) the larger tag wins, so every holder and reader
 * settles on the same copy. Negative: `a` is older; 0: the same copy (as far as a summary tells).
 */
export function compareSummaries(a: MutableSummary, b: MutableSummary): number {
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  for (let i = 0; i < RECORD_TAG_BYTES; i++) if (a.tag[i] !== b.tag[i]) return a.tag[i]! < b.tag[i]! ? -1 : 1;
  return 0;
}

export interface CreateMutableOptions {
  crypto: CryptoBackend;
  rules: RecordRules;
  owner: Identity;
  salt: Uint8Array;
  content: Uint8Array;
  seq: number;
  /** A deletion: no content, refuses every older seq while it lives. */
  deleted?: boolean;
  ttlSeconds: number;
  nowSeconds: number;
  solver: PowSolver;
  signal?: AbortSignal;
}

export async function createMutableRecord(o: CreateMutableOptions): Promise<WireMutableRecord> {
  if (o.salt.length > MAX_SALT_BYTES) throw new RangeError(`salt longer than ${MAX_SALT_BYTES} bytes`);
  if (o.salt.length + o.content.length > MAX_MUTABLE_VALUE_BYTES) throw new RangeError(`salt + content longer than ${MAX_MUTABLE_VALUE_BYTES} bytes`);
  if (!Number.isSafeInteger(o.seq) || o.seq < 0) throw new RangeError('seq must be an integer from 0 to 2^53 − 1');
  const deleted = o.deleted ?? false;
  if (deleted && o.content.length > 0) throw new RangeError('a deletion has no content');
  const key = mutableKey(o.crypto, o.owner.publicKey, o.salt);
  const expiresAt = o.nowSeconds + o.ttlSeconds;
  const record: WireMutableRecord = {
    key,
    publicKey: o.owner.publicKey,
    salt: o.salt,
    seq: o.seq,
    deleted,
    content: o.content,
    expiresAt,
    signature: new Uint8Array(64),
    powNonce: new Uint8Array(8),
  };
  record.signature = await o.owner.sign(mutableSigningBytes(o.rules.networkId, record));
  // Solve for the full ttl (no skew discount) so every verifier's requirement is met.
  const target = powTarget(powWork(o.rules.powBaseBits, mutableSize(record), o.ttlSeconds));
  record.powNonce = await o.solver(powInputOf(o.crypto, o.rules, record), target, o.signal);
  return record;
}

/**
 * Full validation of a mutable record from the network, cheapest checks first: times, key (the
 * record's key must be its public key's and salt's), proof of work, then the owner's signature.
 * A record signed by anyone but the key's owner fails the key or the signature check.
 */
export async function validateMutableRecord(crypto: CryptoBackend, rules: RecordRules, r: WireMutableRecord, nowSeconds: number): Promise<RecordCheck> {
  if (r.expiresAt <= nowSeconds - rules.maxSkewSeconds) return { ok: false, reason: 'expired' };
  if (r.expiresAt > nowSeconds + rules.maxTtlSeconds + rules.maxSkewSeconds) return { ok: false, reason: 'lifetime over the cap' };
  if (!equalBytes(mutableKey(crypto, r.publicKey, r.salt), r.key)) return { ok: false, reason: 'key is not this public key and salt' };
  const ttl = Math.max(0, r.expiresAt - nowSeconds - rules.maxSkewSeconds);
  if (!checkPow(crypto, powInputOf(crypto, rules, r), r.powNonce, powTarget(powWork(rules.powBaseBits, mutableSize(r), ttl)))) {
    return { ok: false, reason: 'insufficient proof of work' };
  }
  if (!(await crypto.verify(r.publicKey, mutableSigningBytes(rules.networkId, r), r.signature))) return { ok: false, reason: 'bad owner signature' };
  return { ok: true };
}

/** What a reader checks of a copy a holder sent: it is for the key asked, and it validates. */
export async function verifyMutableForKey(crypto: CryptoBackend, rules: RecordRules, r: WireMutableRecord, key: Uint8Array, nowSeconds: number): Promise<boolean> {
  return equalBytes(r.key, key) && (await validateMutableRecord(crypto, rules, r, nowSeconds)).ok;
}

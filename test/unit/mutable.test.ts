/**
 * Mutable records on their own: the wire form's limits, the key, signature and proof-of-work
 * checks, and the sequence-number rules a holder applies (PROTOCOL.md §15).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { utf8 } from '../../src/bytes.js';
import { Identity } from '../../src/crypto/identity.js';
import { inThreadPowSolver } from '../../src/crypto/pow.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import {
  compareSummaries,
  createMutableRecord,
  mutableKey,
  mutableSigningBytes,
  summaryOf,
  validateMutableRecord,
  verifyMutableForKey,
} from '../../src/storage/mutable-record.js';
import { RequestLimits } from '../../src/rpc/limits.js';
import type { IncomingRequest } from '../../src/rpc/rpc.js';
import { MutableResponder } from '../../src/serve-mutable.js';
import { MutableStore } from '../../src/storage/mutable-store.js';
import { replicaLocations } from '../../src/storage/placement.js';
import { MutableValue } from '../../src/views.js';
import { createRecord, recordKey, recordSize, type RecordRules } from '../../src/storage/record.js';
import { LocalStore } from '../../src/storage/store.js';
import { Writer } from '../../src/wire/codec.js';
import { AUTH_BYTES, MAX_MESSAGE_BYTES, MessageType, StoreStatus, decodeMessage, encodeMessage, type Header } from '../../src/wire/messages.js';
import {
  MAX_MUTABLE_VALUE_BYTES,
  MAX_SALT_BYTES,
  MAX_SEQ,
  MutableStoreStatus,
  writeMutableRecord,
  type WireMutableRecord,
} from '../../src/wire/mutable.js';

const crypto = nodeCrypto;
const solver = inThreadPowSolver(crypto);
const NET = Uint8Array.from([9, 8, 7, 6]);
const rules: RecordRules = { networkId: NET, powBaseBits: 8, maxTtlSeconds: 7 * 86400, maxSkewSeconds: 300 };
const NOW = 1_767_225_600;
const NOW_MS = NOW * 1000;
const DAY = 86400;

let alice: Identity;
let mallory: Identity;
beforeAll(async () => {
  alice = await Identity.generate({ crypto, difficulty: 0 });
  mallory = await Identity.generate({ crypto, difficulty: 0 });
});

function make(o: { seq: number; content?: string; salt?: string; owner?: Identity; deleted?: boolean; ttl?: number; rules?: RecordRules }): Promise<WireMutableRecord> {
  return createMutableRecord({
    crypto,
    rules: o.rules ?? rules,
    owner: o.owner ?? alice,
    salt: utf8(o.salt ?? ''),
    content: utf8(o.content ?? `version ${o.seq}`),
    seq: o.seq,
    deleted: o.deleted,
    ttlSeconds: o.ttl ?? DAY,
    nowSeconds: NOW,
    solver,
  });
}

const header = (): Header => ({ networkId: NET, flags: 0, requestId: new Uint8Array(8), senderId: new Uint8Array(32), token: new Uint8Array(8) });

/** A STORE_MUTABLE datagram with `patch` applied to the encoded record's bytes. */
function storeBytes(r: WireMutableRecord): Uint8Array {
  return encodeMessage({ ...header(), type: MessageType.STORE_MUTABLE, cas: undefined, record: r });
}

describe('wire form', () => {
  it('a record of the largest size, in a signed STORE_MUTABLE with cas, fits the 5120-byte cap', async () => {
    const r = await make({ seq: MAX_SEQ, salt: 's'.repeat(MAX_SALT_BYTES), content: 'c'.repeat(MAX_MUTABLE_VALUE_BYTES - MAX_SALT_BYTES) });
    const bytes = encodeMessage({ ...header(), type: MessageType.STORE_MUTABLE, cas: MAX_SEQ - 1, record: r });
    expect(bytes.length + AUTH_BYTES).toBeLessThanOrEqual(MAX_MESSAGE_BYTES);
    const decoded = decodeMessage(bytes, NET);
    expect(decoded.ok && decoded.message.type === MessageType.STORE_MUTABLE && decoded.message.record.seq).toBe(MAX_SEQ);
    expect((await validateMutableRecord(crypto, rules, r, NOW)).ok).toBe(true);
  });

  it('refuses a value over 4096 bytes, a salt over 64, a seq over 2^53 − 1, and content in a deletion (encoding and decoding)', async () => {
    const r = await make({ seq: 1 });
    const big = { ...r, content: new Uint8Array(MAX_MUTABLE_VALUE_BYTES - 3), salt: new Uint8Array(4) };
    expect(() => storeBytes(big)).toThrow(RangeError);
    expect(() => storeBytes({ ...r, salt: new Uint8Array(MAX_SALT_BYTES + 1) })).toThrow(RangeError);
    expect(() => storeBytes({ ...r, seq: MAX_SEQ + 1 })).toThrow(RangeError);
    expect(() => storeBytes({ ...r, seq: -1 })).toThrow(RangeError);
    expect(() => storeBytes({ ...r, deleted: true })).toThrow(RangeError);

    // The same through hand-made bytes: the decoder checks what a hostile encoder would skip.
    const bytes = storeBytes(r);
    const at = 56 + 1 + 32 + 32 + 1; // header, cas flag, key, public key, salt length (0)
    const seqOver = Uint8Array.from(bytes);
    seqOver[at] = 0x00;
    seqOver[at + 1] = 0x20; // high word 2^21: the seq is 2^53
    expectDecodeError(seqOver, /above 2\^53/);
    const flagsUnknown = Uint8Array.from(bytes);
    flagsUnknown[at + 8] = 0x02;
    expectDecodeError(flagsUnknown, /unknown record flags/);
    const deletedWithContent = Uint8Array.from(bytes);
    deletedWithContent[at + 8] = 0x01;
    expectDecodeError(deletedWithContent, /deletion has no content/);
    const w = new Writer();
    w.u8(0);
    writeMutableRecord(w, { ...r, salt: new Uint8Array(MAX_SALT_BYTES), content: new Uint8Array(MAX_MUTABLE_VALUE_BYTES - MAX_SALT_BYTES) });
    const body = w.finish();
    // Grow the content length by one byte (and the content with it): salt + content is then 4097.
    const contentLenAt = 1 + 32 + 32 + 1 + MAX_SALT_BYTES + 8 + 1;
    const grown = new Uint8Array(body.length + 1);
    grown.set(body.subarray(0, contentLenAt));
    new DataView(grown.buffer).setUint16(contentLenAt, MAX_MUTABLE_VALUE_BYTES - MAX_SALT_BYTES + 1);
    grown.set(body.subarray(contentLenAt + 2), contentLenAt + 2 + 1);
    expectDecodeError(new Uint8Array([...storeBytes(r).subarray(0, 56), ...grown]), /value too large|longer than/);
  });

  it('decodes `not responsible` (8) and refuses unknown STORE_MUTABLE_ACK statuses', () => {
    const ack = encodeMessage({ ...header(), type: MessageType.STORE_MUTABLE_ACK, status: MutableStoreStatus.NOT_RESPONSIBLE, held: undefined });
    const decoded = decodeMessage(ack, NET);
    expect(decoded.ok && decoded.message.type === MessageType.STORE_MUTABLE_ACK && decoded.message.status).toBe(MutableStoreStatus.NOT_RESPONSIBLE);
    const bad = Uint8Array.from(ack);
    bad[56] = MutableStoreStatus.NOT_RESPONSIBLE + 1;
    expectDecodeError(bad, /unknown mutable store status/);
  });
});

function expectDecodeError(bytes: Uint8Array, reason: RegExp): void {
  const res = decodeMessage(bytes, NET);
  expect(res.ok).toBe(false);
  if (!res.ok) {
    expect(res.error.code).toBe('DECODE_ERROR');
    expect(res.error.message).toMatch(reason);
  }
}

describe('key, signature and proof of work', () => {
  it('the key is the public key and salt, domain-separated from immutable keys', async () => {
    const k = mutableKey(crypto, alice.publicKey, utf8('profile'));
    expect(mutableKey(crypto, alice.publicKey, utf8('profile'))).toEqual(k);
    expect(mutableKey(crypto, alice.publicKey, utf8('profil'))).not.toEqual(k);
    expect(mutableKey(crypto, mallory.publicKey, utf8('profile'))).not.toEqual(k);
    // An immutable record over the very same bytes has another key (another tag).
    expect(recordKey(crypto, new Uint8Array(0), utf8('profile'), alice.publicKey)).not.toEqual(k);
    const r = await make({ seq: 1, salt: 'profile' });
    expect(r.key).toEqual(k);
  });

  it('a valid record verifies; a record for another key does not', async () => {
    const r = await make({ seq: 3 });
    expect((await validateMutableRecord(crypto, rules, r, NOW)).ok).toBe(true);
    expect(await verifyMutableForKey(crypto, rules, r, r.key, NOW)).toBe(true);
    expect(await verifyMutableForKey(crypto, rules, r, mutableKey(crypto, alice.publicKey, utf8('x')), NOW)).toBe(false);
  });

  it('another key cannot write the owner\'s key: not with its own signature, not under its own public key', async () => {
    const real = await make({ seq: 1 });
    // Mallory builds a record for Alice's key (right key, right public key, a real proof of work)
    // and signs it herself: only the signature check stands in her way.
    const impostor = { publicKey: alice.publicKey, sign: (m: Uint8Array) => mallory.sign(m) } as unknown as Identity;
    const forged = await make({ seq: 2, owner: impostor, content: 'mallory was here' });
    expect(forged.key).toEqual(real.key);
    expect(await validateMutableRecord(crypto, rules, forged, NOW)).toEqual({ ok: false, reason: 'bad owner signature' });
    // Or signs with her own key and public key but claims Alice's key: the key is not hers.
    const own = await make({ seq: 2, owner: mallory, content: 'mallory was here' });
    expect(await validateMutableRecord(crypto, rules, { ...own, key: real.key }, NOW)).toEqual({ ok: false, reason: 'key is not this public key and salt' });
  });

  it('any change to a signed field breaks the signature (content, seq, expiry, deletion flag)', async () => {
    const r = await make({ seq: 5, content: 'hello' });
    expect(await crypto.verify(r.publicKey, mutableSigningBytes(NET, r), r.signature)).toBe(true);
    for (const tampered of [
      { ...r, content: utf8('hellp') },
      { ...r, seq: 6 },
      { ...r, expiresAt: r.expiresAt + 1 },
      { ...r, deleted: true, content: new Uint8Array(0) },
    ]) {
      expect(await crypto.verify(r.publicKey, mutableSigningBytes(NET, tampered), r.signature)).toBe(false);
      expect((await validateMutableRecord(crypto, rules, tampered, NOW)).ok).toBe(false);
    }
    // And the network: a record signed for another swarm is not valid in this one.
    expect(await crypto.verify(r.publicKey, mutableSigningBytes(Uint8Array.of(9, 8, 7, 5), r), r.signature)).toBe(false);
  });

  it('the proof of work is bound to the seq: an owner cannot reuse one nonce for the next version', async () => {
    // At 16 bits a reused nonce passes by chance once in ~65,000 (this test's false-pass rate).
    const hard = { ...rules, powBaseBits: 16 };
    const v1 = await make({ seq: 1, content: 'same size', rules: hard });
    const v2unpaid = await make({ seq: 2, content: 'same size', rules: { ...hard, powBaseBits: 0 } });
    const reused = { ...v2unpaid, powNonce: v1.powNonce };
    expect(reused.expiresAt).toBe(v1.expiresAt);
    expect(await validateMutableRecord(crypto, hard, reused, NOW)).toEqual({ ok: false, reason: 'insufficient proof of work' });
    expect((await validateMutableRecord(crypto, hard, v1, NOW)).ok).toBe(true);
  });

  it('times: expired, lifetime over the cap', async () => {
    const r = await make({ seq: 1, ttl: 10 });
    expect(await validateMutableRecord(crypto, rules, r, NOW + 10 + rules.maxSkewSeconds)).toEqual({ ok: false, reason: 'expired' });
    const long = await make({ seq: 1, ttl: rules.maxTtlSeconds + rules.maxSkewSeconds + 1 });
    expect(await validateMutableRecord(crypto, rules, long, NOW)).toEqual({ ok: false, reason: 'lifetime over the cap' });
  });

  it('the order: a higher seq wins; at one seq the larger signature tag wins, whichever arrives first', async () => {
    const a = await make({ seq: 4, content: 'writer A' });
    const b = await make({ seq: 4, content: 'writer B' });
    const c = await make({ seq: 5, content: 'later' });
    expect(compareSummaries(summaryOf(a), summaryOf(c))).toBe(-1);
    expect(compareSummaries(summaryOf(c), summaryOf(b))).toBe(1);
    expect(compareSummaries(summaryOf(a), summaryOf(a))).toBe(0);
    expect(compareSummaries(summaryOf(a), summaryOf(b))).toBe(-compareSummaries(summaryOf(b), summaryOf(a)));
    expect(compareSummaries(summaryOf(a), summaryOf(b))).not.toBe(0);
  });
});

describe('holder rules (MutableStore)', () => {
  it('keeps only the newest: a newer seq replaces, an older one or a replay of the held one is refused', async () => {
    const store = new MutableStore();
    const [v1, v2, v3] = await Promise.all([make({ seq: 1 }), make({ seq: 2 }), make({ seq: 3 })]);
    expect(store.put(v2, undefined, NOW_MS).status).toBe(MutableStoreStatus.STORED);
    expect(store.put(v1, undefined, NOW_MS)).toMatchObject({ status: MutableStoreStatus.STALE_SEQ, held: { seq: 2 } });
    expect(store.put(v2, undefined, NOW_MS).status).toBe(MutableStoreStatus.ALREADY_HELD);
    expect(store.put(v3, undefined, NOW_MS)).toMatchObject({ status: MutableStoreStatus.STORED, held: { seq: 3 } });
    expect(store.put(v2, undefined, NOW_MS).status).toBe(MutableStoreStatus.STALE_SEQ);
    expect(store.size).toBe(1);
    expect(store.get(v1.key, NOW)?.seq).toBe(3);
    expect(store.bytes).toBe(v3.content.length);
  });

  it('holds a record in its encoding alone, not the datagram it came in, and a value handed out cannot change it', async () => {
    const store = new MutableStore();
    const r = await make({ seq: 7, content: 'held for hours', salt: 'profile' });
    const datagram = storeBytes(r);
    const decoded = decodeMessage(datagram, NET);
    if (!decoded.ok || decoded.message.type !== MessageType.STORE_MUTABLE) throw new Error('not a STORE_MUTABLE');
    expect(store.put(decoded.message.record, undefined, NOW_MS).status).toBe(MutableStoreStatus.STORED);
    const held = store.get(r.key, NOW)!;
    expect(held).toEqual(r);
    const w = new Writer();
    writeMutableRecord(w, r);
    expect(held.content.buffer.byteLength).toBeLessThanOrEqual(w.length);
    expect(held.content.buffer).not.toBe(datagram.buffer);
    const value = new MutableValue(held);
    value.content.fill(0x21);
    value.salt.fill(0x21);
    expect(store.get(r.key, NOW)).toEqual(r);
  });

  it('keeps each key\'s replica locations beside the record, hashed once at the first put and kept by newer copies', async () => {
    let hashed = 0;
    const store = new MutableStore({}, undefined, { locate: (key) => (hashed++, replicaLocations(crypto, key)) });
    const [v1, v2] = await Promise.all([make({ seq: 1, content: 'first' }), make({ seq: 2, content: 'second' })]);
    store.put(v1, undefined, NOW_MS);
    store.put(v2, undefined, NOW_MS);
    const [entry] = store.held();
    expect([...store.held()]).toHaveLength(1);
    expect(entry!.locations).toEqual(replicaLocations(crypto, v1.key));
    const into = new Uint8Array(32);
    expect(Array.from({ length: entry!.locationCount }, (_, i) => entry!.copyLocation(i, into).slice())).toEqual(replicaLocations(crypto, v1.key));
    expect(hashed).toBe(1);
    // The locations after the encoding do not leak into the record.
    expect(store.get(v1.key, NOW)).toEqual(v2);
  });

  it('two versions at one seq: every holder keeps the same one, whichever arrived first', async () => {
    const a = await make({ seq: 4, content: 'writer A' });
    const b = await make({ seq: 4, content: 'writer B' });
    const first = new MutableStore();
    const second = new MutableStore();
    first.put(a, undefined, NOW_MS);
    first.put(b, undefined, NOW_MS);
    second.put(b, undefined, NOW_MS);
    second.put(a, undefined, NOW_MS);
    expect(first.get(a.key, NOW)!.signature).toEqual(second.get(a.key, NOW)!.signature);
  });

  it('cas: refused when the holder is past it; accepted at it or behind it; a retransmission is not a conflict', async () => {
    const store = new MutableStore();
    const [v5, v6, v6b, v7] = await Promise.all([make({ seq: 5 }), make({ seq: 6 }), make({ seq: 6, content: 'other writer' }), make({ seq: 7 })]);
    store.put(v5, undefined, NOW_MS);
    expect(store.put(v6, 5, NOW_MS).status).toBe(MutableStoreStatus.STORED);
    // The same STORE again (its ACK was lost): still fine.
    expect(store.put(v6, 5, NOW_MS).status).toBe(MutableStoreStatus.ALREADY_HELD);
    // A second writer that also read seq 5: the holder is at 6 now.
    expect(store.put(v6b, 5, NOW_MS)).toMatchObject({ status: MutableStoreStatus.CAS_MISMATCH, held: { seq: 6 } });
    // A holder that missed seq 6 (it is behind cas) takes seq 7 written with cas 6.
    const behind = new MutableStore();
    behind.put(v5, undefined, NOW_MS);
    expect(behind.put(v7, 6, NOW_MS).status).toBe(MutableStoreStatus.STORED);
  });

  it('a deletion replaces the record and refuses every older seq and any replay (DELETED); a later seq is accepted', async () => {
    const store = new MutableStore();
    const [v1, v2] = await Promise.all([make({ seq: 1 }), make({ seq: 2 })]);
    const gone = await make({ seq: 3, deleted: true, content: '', ttl: rules.maxTtlSeconds });
    store.put(v2, undefined, NOW_MS);
    expect(store.put(gone, undefined, NOW_MS)).toMatchObject({ status: MutableStoreStatus.STORED, replaced: { seq: 2 } });
    expect(store.put(v2, undefined, NOW_MS).status).toBe(MutableStoreStatus.DELETED);
    expect(store.put(v1, undefined, NOW_MS).status).toBe(MutableStoreStatus.DELETED);
    expect(store.bytes).toBe(0);
    expect(store.put(await make({ seq: 4, content: 'back' }), undefined, NOW_MS).status).toBe(MutableStoreStatus.STORED);
  });

  it('an expired copy is no obstacle: a fresh put is taken (and sweep drops expired copies)', async () => {
    const store = new MutableStore();
    const short = await make({ seq: 9, ttl: 60 });
    store.put(short, undefined, NOW_MS);
    expect(store.get(short.key, NOW + 61)).toBeUndefined();
    const later = await createMutableRecord({ crypto, rules, owner: alice, salt: new Uint8Array(0), content: utf8('x'), seq: 1, ttlSeconds: DAY, nowSeconds: NOW + 61, solver });
    expect(store.put(later, undefined, (NOW + 61) * 1000).status).toBe(MutableStoreStatus.STORED);
    expect(store.sweep(NOW + DAY + 62)).toBe(1);
    expect(store.size).toBe(0);
  });

  it('mutable and immutable records share one bound: neither kind can push the node past maxRecords or maxBytes', async () => {
    const imm = await createRecord({ crypto, rules, label: utf8(''), content: utf8('0123456789'), ttlSeconds: DAY, nowSeconds: NOW, solver });
    // An immutable record counts its full wire size; a mutable one its salt and content: 100 bytes to spare.
    const maxBytes = recordSize(imm) + 100;
    const local = new LocalStore({ maxRecords: 2, maxBytes });
    const mutable = new MutableStore({ maxRecords: 2, maxBytes }, local);
    local.shareBoundsWith(mutable);
    expect(local.put(imm, NOW_MS)).toBe(StoreStatus.STORED);
    expect(mutable.put(await make({ seq: 1, salt: 'a', content: 'x'.repeat(80) }), undefined, NOW_MS).status).toBe(MutableStoreStatus.STORED);
    // Two records in all: a third of either kind is refused.
    expect(mutable.put(await make({ seq: 1, salt: 'b', content: 'y' }), undefined, NOW_MS).status).toBe(MutableStoreStatus.FULL);
    const imm2 = await createRecord({ crypto, rules, label: utf8(''), content: utf8('z'), ttlSeconds: DAY, nowSeconds: NOW, solver });
    // An immutable record makes room by evicting one of its own kind (a full store evicts rather
    // than refuses), never by growing past the shared bound.
    local.put(imm2, NOW_MS);
    expect(local.size + mutable.size).toBeLessThanOrEqual(2);
    expect(local.bytes + mutable.bytes).toBeLessThanOrEqual(maxBytes);
    // Growing a held key past maxBytes is refused too (its salt and the content alone exceed the room left).
    const room = maxBytes - local.bytes;
    expect(mutable.put(await make({ seq: 2, salt: 'a', content: 'x'.repeat(room) }), undefined, NOW_MS)).toMatchObject({ status: MutableStoreStatus.FULL, held: { seq: 1 } });
  });

  it('a kept record does not keep its datagram alive (copied out of the decoded views)', async () => {
    const r = await make({ seq: 1 });
    const decoded = decodeMessage(storeBytes(r), NET);
    if (!decoded.ok || decoded.message.type !== MessageType.STORE_MUTABLE) throw new Error('no STORE_MUTABLE');
    const store = new MutableStore();
    store.put(decoded.message.record, undefined, NOW_MS);
    const kept = store.get(r.key, NOW)!;
    expect(kept.content).toEqual(r.content);
    expect(kept.content.buffer).not.toBe(decoded.message.record.content.buffer);
  });
});

describe('MutableResponder', () => {
  let verifies = 0;
  const counting = { ...crypto, verify: (pk: Uint8Array, m: Uint8Array, sig: Uint8Array) => (verifies++, crypto.verify(pk, m, sig)) };
  const request = (record: WireMutableRecord): IncomingRequest => ({
    message: { ...header(), type: MessageType.STORE_MUTABLE, cas: undefined, record },
    from: { kind: 2, data: new Uint8Array(6) },
    ip: '192.0.2.1',
    tokenValid: true,
    bodyBudget: 5000,
  });
  const responderWith = (store: MutableStore, counts: string[], responsible: () => boolean, limits = new RequestLimits(undefined, () => NOW_MS)): MutableResponder =>
    new MutableResponder({
      crypto: counting,
      rules,
      store,
      limits,
      clock: { now: () => NOW_MS, setTimeout: () => 0 as never, clearTimeout: () => {} } as never,
      count: (what) => counts.push(what),
      responsible,
      contactsFor: () => [],
    });

  it('a replayed old version is refused before any signature check; a newer one is verified once', async () => {
    verifies = 0;
    const store = new MutableStore();
    const counts: string[] = [];
    const responder = responderWith(store, counts, () => true);
    const [v1, v2] = await Promise.all([make({ seq: 1 }), make({ seq: 2 })]);
    expect(await responder.respond(request(v2))).toMatchObject({ status: MutableStoreStatus.STORED });
    expect(verifies).toBe(1);
    expect(await responder.respond(request(v1))).toMatchObject({ status: MutableStoreStatus.STALE_SEQ, held: { seq: 2 } });
    expect(await responder.respond(request(v2))).toMatchObject({ status: MutableStoreStatus.ALREADY_HELD });
    expect(verifies).toBe(1);
    expect(counts).toEqual(['mutableStale']);
  });

  it('placement: a node not placed to hold a key refuses it (counted, no signature check, the write budget charged), but takes newer versions of a key it holds', async () => {
    verifies = 0;
    const store = new MutableStore();
    const counts: string[] = [];
    let responsible = true;
    const limits = new RequestLimits(undefined, () => NOW_MS);
    const responder = responderWith(store, counts, () => responsible, limits);
    const [held1, held2, other] = await Promise.all([make({ seq: 1 }), make({ seq: 2 }), make({ seq: 1, salt: 'another key' })]);
    expect(await responder.respond(request(held1))).toMatchObject({ status: MutableStoreStatus.STORED });
    responsible = false; // the node has since learnt of 2k nodes nearer to every location of both keys
    verifies = 0;
    expect(await responder.respond(request(other))).toMatchObject({ status: MutableStoreStatus.NOT_RESPONSIBLE, held: undefined });
    expect(verifies).toBe(0);
    expect(store.get(other.key, NOW)).toBeUndefined();
    expect(counts).toEqual(['mutableNotResponsible']);
    // A copy held here is still updated (read repair, hand-over), or it would be served stale.
    expect(await responder.respond(request(held2))).toMatchObject({ status: MutableStoreStatus.STORED });
    expect(store.get(held1.key, NOW)?.seq).toBe(2);
    // Each refusal costs the sender WRITE_REFUSAL_COST writes: a spray of misplaced stores is soon rate limited.
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push(((await responder.respond(request(other))) as { status: number }).status);
    expect(statuses).toContain(MutableStoreStatus.RATE_LIMITED);
  });
});

import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromUtf8, utf8 } from '../../src/bytes.js';
import { Identity } from '../../src/crypto/identity.js';
import { checkPow, inThreadPowSolver, powInput, powTarget, powWork } from '../../src/crypto/pow.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import {
  createDeleteProof,
  createRecord,
  deleteSigningBytes,
  recordKey,
  POW_MIN_TTL_SECONDS,
  recordSize,
  storeSigningBytes,
  validateDeleteProof,
  validateRecord,
  verifyRecordForKey,
  type RecordRules,
} from '../../src/storage/record.js';
import { ipPrefix } from '../../src/ip-prefix.js';
import { LocalStore } from '../../src/storage/store.js';
import { DHTValue } from '../../src/views.js';
import {
  DeleteStatus,
  MAX_LABEL_BYTES,
  MessageType,
  StoreStatus,
  decodeMessage,
  encodeMessage,
  type DeleteProof,
  type WireRecord,
} from '../../src/wire/messages.js';

const crypto = nodeCrypto;
const solver = inThreadPowSolver(crypto);
const WORK = { crypto, solver };
const NET = Uint8Array.from([9, 8, 7, 6]);
const OTHER_NET = Uint8Array.from([9, 8, 7, 5]);
const rules: RecordRules = { networkId: NET, powBaseBits: 8, maxTtlSeconds: 7 * 86400, maxSkewSeconds: 300 };
const NOW = 1_767_225_600; // 2026-01-01, integer seconds
const DAY = 86400;

let alice: Identity;
let mallory: Identity;
beforeAll(async () => {
  alice = await Identity.generate({ crypto, difficulty: 0 });
  mallory = await Identity.generate({ crypto, difficulty: 0 });
});

function make(o: { label?: string | Uint8Array; content?: string | Uint8Array; ttl?: number; now?: number; owner?: Identity }): Promise<WireRecord> {
  const label = o.label ?? 'label';
  const content = o.content ?? 'content';
  return createRecord({
    crypto,
    rules,
    label: typeof label === 'string' ? utf8(label) : label,
    content: typeof content === 'string' ? utf8(content) : content,
    ttlSeconds: o.ttl ?? DAY,
    nowSeconds: o.now ?? NOW,
    owner: o.owner,
    solver,
  });
}

/**
 * An owned record whose owner signature is over arbitrary bytes, with valid key and PoW, so that
 * only the signature check can reject it.
 */
async function withSignatureOver(sign: (key: Uint8Array, expiresAt: number) => Uint8Array, issuedAt = NOW): Promise<WireRecord> {
  const label = utf8('signed');
  const content = utf8('payload');
  const key = recordKey(crypto, label, content, alice.publicKey);
  const expiresAt = NOW + DAY;
  const r: WireRecord = {
    key,
    label,
    content,
    expiresAt,
    owner: { publicKey: alice.publicKey, issuedAt, signature: await alice.sign(sign(key, expiresAt)) },
    powNonce: new Uint8Array(8),
  };
  r.powNonce = await solver(powInput(crypto, { networkId: NET, key, size: recordSize(r), expiresAt }), powTarget(powWork(rules.powBaseBits, recordSize(r), DAY)));
  return r;
}

async function reason(r: WireRecord, now = NOW): Promise<string> {
  const check = await validateRecord(crypto, rules, r, now);
  return check.ok ? 'ok' : check.reason;
}

describe('recordKey', () => {
  it('is length-prefixed: ("ab","c") and ("a","bc") get different keys (hole 7)', () => {
    const k1 = recordKey(crypto, utf8('ab'), utf8('c'));
    const k2 = recordKey(crypto, utf8('a'), utf8('bc'));
    const k3 = recordKey(crypto, utf8(''), utf8('abc'));
    const k4 = recordKey(crypto, utf8('abc'), utf8(''));
    const all = [k1, k2, k3, k4].map((k) => Buffer.from(k).toString('hex'));
    expect(new Set(all).size).toBe(4);
    expect(recordKey(crypto, utf8('ab'), utf8('c'))).toEqual(k1);
  });

  it('includes the owner: unowned and each owner give different keys', () => {
    const l = utf8('same');
    const c = utf8('content');
    const keys = [recordKey(crypto, l, c), recordKey(crypto, l, c, alice.publicKey), recordKey(crypto, l, c, mallory.publicKey)];
    expect(new Set(keys.map((k) => Buffer.from(k).toString('hex'))).size).toBe(3);
  });

  it('a record answered under the other split does not verify for the asked key (hole 7)', async () => {
    const r = await make({ label: 'ab', content: 'c' });
    const forged = { ...r, label: utf8('a'), content: utf8('bc') };
    expect(await verifyRecordForKey(crypto, rules, r, r.key, NOW)).toBe(true);
    expect(await verifyRecordForKey(crypto, rules, forged, r.key, NOW)).toBe(false);
  });
});

describe('createRecord / validateRecord', () => {
  it('accepts a good unowned and a good owned record', async () => {
    expect(await reason(await make({}))).toBe('ok');
    const owned = await make({ owner: alice });
    expect(owned.owner!.issuedAt).toBe(NOW);
    expect(await reason(owned)).toBe('ok');
  });

  it('rejects a wrong key', async () => {
    const r = await make({});
    expect(await reason({ ...r, key: new Uint8Array(randomBytes(32)) })).toMatch(/key/);
    // Claiming an owner that is not part of the key does not verify either.
    const owned = await make({ owner: alice });
    expect(await reason({ ...owned, owner: { ...owned.owner!, publicKey: mallory.publicKey } })).not.toBe('ok');
  });

  it('rejects tampered content or label', async () => {
    const r = await make({ content: 'original' });
    expect(await reason({ ...r, content: utf8('Original') })).toMatch(/key/);
    expect(await reason({ ...r, label: utf8('other') })).toMatch(/key/);
  });

  it('rejects a bad proof of work', async () => {
    const r = await make({ content: 'x'.repeat(1000) });
    const input = powInput(crypto, { networkId: NET, key: r.key, size: recordSize(r), expiresAt: r.expiresAt });
    const target = powTarget(powWork(rules.powBaseBits, recordSize(r), DAY - rules.maxSkewSeconds));
    // Find a nonce that does not meet the target (most do not).
    const bad = new Uint8Array(8);
    for (let i = 0; checkPow(crypto, input, bad, target); i++) new DataView(bad.buffer).setUint32(4, i);
    expect(await reason({ ...r, powNonce: bad })).toMatch(/proof of work/);
    expect(await reason({ ...r, powNonce: r.powNonce.subarray(0, 7) })).toMatch(/proof of work/);
    // The nonce is bound to the network: under another network's rules it fails.
    const other = await validateRecord(crypto, { ...rules, networkId: OTHER_NET }, r, NOW);
    const otherInput = powInput(crypto, { networkId: OTHER_NET, key: r.key, size: recordSize(r), expiresAt: r.expiresAt });
    expect(other.ok).toBe(checkPow(crypto, otherInput, r.powNonce, target));
  });

  it('rejects an expired record', async () => {
    const r = await make({ ttl: 3600, now: NOW - 3600 - rules.maxSkewSeconds });
    expect(await reason(r)).toBe('expired');
    expect(await reason(r, NOW - 10)).toBe('ok');
  });

  it('rejects a lifetime over the cap, accepts one at the cap', async () => {
    expect(await reason(await make({ ttl: rules.maxTtlSeconds }))).toBe('ok');
    const r = await make({ ttl: rules.maxTtlSeconds + rules.maxSkewSeconds + 1 });
    expect(await reason(r)).toMatch(/cap/);
  });

  it('rejects an owner signature over another expiry, network or purpose (hole 8)', async () => {
    const good = await withSignatureOver((key, exp) => storeSigningBytes(NET, key, exp, NOW));
    expect(await reason(good)).toBe('ok');
    const cases = [
      await withSignatureOver((key, exp) => storeSigningBytes(NET, key, exp + 1, NOW)),
      await withSignatureOver((key, exp) => storeSigningBytes(OTHER_NET, key, exp, NOW)),
      await withSignatureOver((key, exp) => storeSigningBytes(NET, key, exp, NOW - 1)),
      await withSignatureOver((_key, exp) => storeSigningBytes(NET, recordKey(crypto, utf8('x'), utf8('y'), alice.publicKey), exp, NOW)),
      // A delete signature is not a store signature.
      await withSignatureOver((key) => deleteSigningBytes(NET, key, NOW)),
    ];
    for (const r of cases) expect(await reason(r)).toMatch(/signature/);
  });

  it('a store signature cannot be used as a delete proof (hole 8)', async () => {
    const owned = await make({ owner: alice });
    const real = await createDeleteProof(rules, alice, owned.key, owned.owner!.issuedAt, WORK);
    expect((await validateDeleteProof(crypto, rules, real, NOW)).ok).toBe(true);
    // The store's signature in place of the delete's (the proof of work is the real delete's).
    const proof: DeleteProof = { ...real, signature: owned.owner!.signature };
    expect(await validateDeleteProof(crypto, rules, proof, NOW)).toEqual({ ok: false, reason: 'bad signature' });
    // Bound to key and network.
    expect((await validateDeleteProof(crypto, rules, { ...real, key: new Uint8Array(32) }, NOW)).ok).toBe(false);
    expect((await validateDeleteProof(crypto, { ...rules, networkId: OTHER_NET }, real, NOW)).ok).toBe(false);
    expect((await validateDeleteProof(crypto, rules, { ...real, issuedAt: real.issuedAt + 1 }, NOW)).ok).toBe(false);
  });

  it('rejects an owner issuedAt beyond the skew, accepts it within', async () => {
    const within = await make({ owner: alice, now: NOW + 299 });
    expect(await reason(within)).toBe('ok');
    const beyond = await withSignatureOver((key, exp) => storeSigningBytes(NET, key, exp, NOW + 301), NOW + 301);
    expect(await reason(beyond)).toMatch(/future/);
    const proof = await createDeleteProof(rules, alice, within.key, NOW + 301, WORK);
    expect((await validateDeleteProof(crypto, rules, proof, NOW)).ok).toBe(false);
  });

  it('prices proof of work on the full wire size and at least an hour of lifetime', async () => {
    // An attacker's short-lived record: it expires in a minute, and the verifier's skew allowance
    // would discount even that to nothing. Solve it at the old price (label and content bytes only,
    // zero lifetime) but not at the new one: validation must refuse it.
    const label = utf8('cheap');
    const content = utf8('x');
    const key = recordKey(crypto, label, content, alice.publicKey);
    const expiresAt = NOW + 60;
    const r: WireRecord = { key, label, content, expiresAt, powNonce: new Uint8Array(8) };
    r.owner = { publicKey: alice.publicKey, issuedAt: NOW, signature: await alice.sign(storeSigningBytes(NET, key, expiresAt, NOW)) };
    const input = powInput(crypto, { networkId: NET, key, size: recordSize(r), expiresAt });
    const oldTarget = powTarget(powWork(rules.powBaseBits, label.length + content.length, 0));
    const newTarget = powTarget(powWork(rules.powBaseBits, recordSize(r), POW_MIN_TTL_SECONDS));
    expect(recordSize(r)).toBe(32 + 1 + 5 + 2 + 1 + 4 + 1 + 100 + 8);
    const nonce = new Uint8Array(8);
    for (let i = 0; !(checkPow(crypto, input, nonce, oldTarget) && !checkPow(crypto, input, nonce, newTarget)); i++) new DataView(nonce.buffer).setUint32(4, i);
    expect(await reason({ ...r, powNonce: nonce })).toMatch(/proof of work/);
    // What createRecord solves for a one-minute record passes.
    expect(await reason(await make({ ttl: 60, owner: alice }))).toBe('ok');
  });

  it('a delete carries proof of work bound to its key, signer and issue time', async () => {
    const real = await createDeleteProof(rules, alice, new Uint8Array(32).fill(3), NOW, WORK);
    expect((await validateDeleteProof(crypto, rules, real, NOW)).ok).toBe(true);
    // Most nonces miss the target (~1 in 300 meets it at 8 base bits): find one that does not.
    let bad: Uint8Array | undefined;
    for (let i = 0; i < 100 && !bad; i++) {
      const nonce = new Uint8Array(8);
      new DataView(nonce.buffer).setUint32(4, i);
      if (!(await validateDeleteProof(crypto, rules, { ...real, powNonce: nonce }, NOW)).ok) bad = nonce;
    }
    expect(bad).toBeDefined();
    expect(await validateDeleteProof(crypto, rules, { ...real, powNonce: bad! }, NOW)).toEqual({ ok: false, reason: 'insufficient proof of work' });
  });

  it('accepts a record made by a clock 4 minutes ahead or behind (hole 9)', async () => {
    for (const skew of [240, -240]) {
      expect(await reason(await make({ now: NOW + skew }))).toBe('ok');
      expect(await reason(await make({ now: NOW + skew, owner: alice }))).toBe('ok');
      expect(await reason(await make({ now: NOW + skew, ttl: rules.maxTtlSeconds }))).toBe('ok');
    }
  });

  it('times are integer seconds: a wire round trip and a fractional "now" still validate (hole 9)', async () => {
    const r = await make({ owner: alice, content: 'wire' });
    expect(Number.isInteger(r.expiresAt)).toBe(true);
    expect(Number.isInteger(r.owner!.issuedAt)).toBe(true);
    const bytes = encodeMessage({ networkId: NET, flags: 0, requestId: new Uint8Array(8), senderId: new Uint8Array(32), token: new Uint8Array(8), type: MessageType.STORE, record: r });
    const decoded = decodeMessage(bytes, NET);
    if (!decoded.ok || decoded.message.type !== MessageType.STORE) throw new Error('decode failed');
    expect(await reason(decoded.message.record)).toBe('ok');
    expect(await reason(decoded.message.record, NOW + 0.999)).toBe('ok');
    expect(await reason(decoded.message.record, NOW + 1234.5)).toBe('ok');
  });

  it('non-ASCII labels and content round-trip byte-exactly (hole 11)', async () => {
    const label = 'étiquette 日本語 🏷️';
    const content = '😀 emoji · 中文内容 · עברית · ünïcødé\u0000end';
    const r = await make({ label, content, owner: alice });
    const bytes = encodeMessage({ networkId: NET, flags: 0, requestId: new Uint8Array(8), senderId: new Uint8Array(32), token: new Uint8Array(8), type: MessageType.VALUE, record: r });
    const decoded = decodeMessage(bytes, NET);
    if (!decoded.ok || decoded.message.type !== MessageType.VALUE) throw new Error('decode failed');
    const back = decoded.message.record;
    expect(fromUtf8(back.label)).toBe(label);
    expect(fromUtf8(back.content)).toBe(content);
    expect(await verifyRecordForKey(crypto, rules, back, r.key, NOW)).toBe(true);
  });

  it('limits the label in bytes, not characters', async () => {
    expect(utf8('日'.repeat(85)).length).toBe(MAX_LABEL_BYTES);
    expect(await reason(await make({ label: '日'.repeat(85) }))).toBe('ok');
    await expect(make({ label: '日'.repeat(86) })).rejects.toThrow(RangeError);
    await expect(make({ content: new Uint8Array(4096 - 4) })).rejects.toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------

let keyCounter = 0;
/** Records for LocalStore tests: the store trusts its caller to have validated them. */
function rec(o: { size?: number; expiresAt?: number; owner?: Uint8Array; issuedAt?: number; key?: Uint8Array } = {}): WireRecord {
  const key = o.key ?? crypto.sha256(utf8(`key ${keyCounter++}`));
  const r: WireRecord = { key, label: new Uint8Array(0), content: new Uint8Array(o.size ?? 10), expiresAt: o.expiresAt ?? NOW + DAY, powNonce: new Uint8Array(8) };
  if (o.owner) r.owner = { publicKey: o.owner, issuedAt: o.issuedAt ?? NOW, signature: new Uint8Array(64) };
  return r;
}

function delProof(key: Uint8Array, publicKey: Uint8Array, issuedAt = NOW + 10): DeleteProof {
  return { key, publicKey, issuedAt, signature: new Uint8Array(64), powNonce: new Uint8Array(8) };
}

const MS = NOW * 1000;

describe('LocalStore', () => {
  it('maxRecords: a full store evicts the record farthest from this node, of the sender holding most', () => {
    const localId = new Uint8Array(32);
    const s = new LocalStore({ maxRecords: 4, ipShare: 1, prefixShare: 1 }, { localId });
    const at = (first: number): Uint8Array => Uint8Array.from({ length: 32 }, (_, i) => (i === 0 ? first : 7));
    const near = rec({ key: at(0x01) });
    const far = rec({ key: at(0xf0) });
    const mid = rec({ key: at(0x40) });
    const other = rec({ key: at(0xff) });
    for (const r of [near, far, mid]) expect(s.put(r, MS, '10.0.0.1')).toBe(StoreStatus.STORED);
    expect(s.put(other, MS, '10.9.9.9')).toBe(StoreStatus.STORED);
    // Full. 10.0.0.0/24 holds the most: its farthest record goes, not the other sender's (farther) one.
    const extra = rec({ key: at(0x02) });
    expect(s.put(extra, MS, '10.5.5.5')).toBe(StoreStatus.STORED);
    expect(s.size).toBe(4);
    expect(s.get(far.key, NOW)).toBeUndefined();
    for (const r of [near, mid, other, extra]) expect(s.get(r.key, NOW)).toEqual(r);
    expect(s.usage('10.0.0.0/24')).toEqual({ records: 2, bytes: 2 * recordSize(near) });
  });

  it('usage per IP and per prefix stays what its records add up to, through stores, newer copies, evictions, deletes and expiry', () => {
    // The totals are kept incrementally (an IP's without a set of its keys): recount them from the
    // records after every step of a random history.
    const ips = ['10.0.0.1', '10.0.0.2', '10.0.1.1', '192.0.2.9', '2001:db8::1', '2001:db8::2'];
    const owner = new Uint8Array(32).fill(9);
    const step = fc.oneof(
      fc.record({ op: fc.constant('put' as const), ip: fc.constantFrom(...ips), size: fc.integer({ min: 1, max: 300 }), ttl: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ op: fc.constant('again' as const), pick: fc.nat(), ip: fc.constantFrom(...ips), later: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }),
      fc.record({ op: fc.constant('sweep' as const), at: fc.integer({ min: 0, max: 60 }) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const s = new LocalStore({ maxRecords: 8, maxBytes: 2000, ipShare: 0.5, prefixShare: 0.75 }, { localId: new Uint8Array(32) });
        const puts: WireRecord[] = [];
        let now = NOW;
        for (const st of steps) {
          if (st.op === 'put') {
            const r = rec({ size: st.size, expiresAt: now + st.ttl, owner, issuedAt: now });
            puts.push(r);
            s.put(r, now * 1000, st.ip);
          } else if (st.op === 'again' && puts.length > 0) {
            const old = puts[st.pick % puts.length]!;
            s.put({ ...old, expiresAt: old.expiresAt + st.later }, now * 1000, st.ip);
          } else if (st.op === 'delete' && puts.length > 0) {
            s.delete(delProof(puts[st.pick % puts.length]!.key, owner, now + 1));
          } else if (st.op === 'sweep') {
            now = NOW + st.at;
            s.sweep(now);
          }
          const want = new Map<string, { records: number; bytes: number }>();
          for (const e of s.entries()) {
            for (const sender of new Set([e.from, ipPrefix(e.from)])) {
              const u = want.get(sender) ?? { records: 0, bytes: 0 };
              u.records++;
              u.bytes += recordSize(e.record);
              want.set(sender, u);
            }
          }
          for (const ip of ips) {
            for (const sender of [ip, ipPrefix(ip)]) expect(s.usage(sender), sender).toEqual(want.get(sender) ?? { records: 0, bytes: 0 });
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('maxBytes: bytes are the records’ wire size; a full store makes room by evicting', () => {
    const one = recordSize(rec({ size: 60 }));
    const s = new LocalStore({ maxBytes: 2 * one, ipShare: 1, prefixShare: 1 });
    const a = rec({ size: 60 });
    expect(s.put(a, MS)).toBe(StoreStatus.STORED);
    expect(s.bytes).toBe(one);
    expect(s.put(rec({ size: 4000 }), MS)).toBe(StoreStatus.FULL); // larger than the whole store
    expect(s.put(rec({ size: 60 }), MS)).toBe(StoreStatus.STORED);
    expect(s.bytes).toBe(2 * one);
    expect(s.put(rec({ size: 60 }), MS)).toBe(StoreStatus.STORED);
    expect(s.size).toBe(2);
    expect(s.bytes).toBe(2 * one);
  });

  it('a flood from one /24 cannot push out other senders’ records, and an honest store still succeeds', () => {
    const s = new LocalStore({ maxRecords: 80 }, { localId: new Uint8Array(32) });
    const honest = Array.from({ length: 20 }, (_, i) => ({ r: rec(), ip: `192.0.${i}.7` }));
    for (const { r, ip } of honest) expect(s.put(r, MS, ip)).toBe(StoreStatus.STORED);
    // 1,000 valid records from 254 addresses of one /24: it fills what is free, then only its quota.
    const statuses = Array.from({ length: 1000 }, (_, i) => s.put(rec(), MS, `203.0.113.${1 + (i % 254)}`));
    expect(statuses.filter((x) => x === StoreStatus.STORED)).toHaveLength(60);
    expect(statuses.filter((x) => x === StoreStatus.FULL)).toHaveLength(940);
    for (const { r } of honest) expect(s.get(r.key, NOW)).toEqual(r);
    // An honest sender during the flood: the flood's own records make room.
    const late = rec();
    expect(s.put(late, MS, '198.51.100.1')).toBe(StoreStatus.STORED);
    expect(s.get(late.key, NOW)).toEqual(late);
    expect(s.usage('203.0.113.0/24').records).toBe(59);
    for (const { r } of honest) expect(s.get(r.key, NOW)).toEqual(r);
    // One IP alone is held to half a prefix's quota (1/16 of the store) once full.
    const lone = new LocalStore({ maxRecords: 32 });
    for (let i = 0; i < 32; i++) lone.put(rec(), MS, `198.18.${i}.1`);
    const one = Array.from({ length: 10 }, () => lone.put(rec(), MS, '203.0.113.9'));
    expect(one.filter((x) => x === StoreStatus.STORED)).toHaveLength(2);
  });

  it('an /64 counts as one sender, and records stored by this node itself are never refused', () => {
    const s = new LocalStore({ maxRecords: 16 });
    for (let i = 0; i < 16; i++) s.put(rec(), MS, `2001:db8:${i}::1`);
    const flood = Array.from({ length: 10 }, (_, i) => s.put(rec(), MS, `2001:db8:ff:1:${i}::1`));
    expect(flood.filter((x) => x === StoreStatus.STORED)).toHaveLength(2);
    expect(s.usage('2001:db8:ff:1::/64').records).toBe(2);
    expect(s.put(rec(), MS)).toBe(StoreStatus.STORED);
  });

  it('the same key keeps the later copy', () => {
    const s = new LocalStore();
    const short = rec({ expiresAt: NOW + 100 });
    const long = { ...short, expiresAt: NOW + 200 };
    expect(s.put(short, MS)).toBe(StoreStatus.STORED);
    expect(s.put(long, MS)).toBe(StoreStatus.STORED);
    expect(s.get(short.key, NOW)).toEqual(long);
    expect(s.put(short, MS)).toBe(StoreStatus.ALREADY_HELD);
    expect(s.get(short.key, NOW)).toEqual(long);
    expect(s.size).toBe(1);
    expect(s.bytes).toBe(recordSize(short));
    // Owned: the later issue wins even with an earlier expiry.
    const o1 = rec({ owner: alice.publicKey, issuedAt: NOW, expiresAt: NOW + 500 });
    const o2 = { ...o1, expiresAt: NOW + 300, owner: { ...o1.owner!, issuedAt: NOW + 5 } };
    s.put(o1, MS);
    expect(s.put(o2, MS)).toBe(StoreStatus.STORED);
    expect(s.get(o1.key, NOW)).toEqual(o2);
    expect(s.put(o1, MS)).toBe(StoreStatus.ALREADY_HELD);
  });

  it('delete checks ownership before removing anything (hole 8)', () => {
    const s = new LocalStore();
    const owned = rec({ owner: alice.publicKey });
    const unowned = rec();
    s.put(owned, MS);
    s.put(unowned, MS);
    expect(s.delete(delProof(owned.key, mallory.publicKey))).toBe(DeleteStatus.NOT_OWNER);
    expect(s.get(owned.key, NOW)).toEqual(owned);
    expect(s.delete(delProof(unowned.key, mallory.publicKey))).toBe(DeleteStatus.NOT_OWNER);
    expect(s.get(unowned.key, NOW)).toEqual(unowned);
    expect(s.tombstones).toBe(0);
    expect(s.delete(delProof(owned.key, alice.publicKey))).toBe(DeleteStatus.DELETED);
    expect(s.get(owned.key, NOW)).toBeUndefined();
    expect(s.size).toBe(1);
    expect(s.bytes).toBe(recordSize(unowned));
  });

  it('an old delete (issued before the stored copy) does not delete', () => {
    const s = new LocalStore();
    const owned = rec({ owner: alice.publicKey, issuedAt: NOW + 100 });
    s.put(owned, MS);
    expect(s.delete(delProof(owned.key, alice.publicKey, NOW + 99))).toBe(DeleteStatus.STALE);
    expect(s.issuedAtOf(owned.key)).toBe(NOW + 100);
    expect(s.get(owned.key, NOW)).toEqual(owned);
    expect(s.delete(delProof(owned.key, alice.publicKey, NOW + 100))).toBe(DeleteStatus.DELETED);
  });

  it('a tombstone refuses the same or an older owner store, not a newer one', () => {
    const s = new LocalStore();
    const owned = rec({ owner: alice.publicKey, issuedAt: NOW });
    s.put(owned, MS);
    s.delete(delProof(owned.key, alice.publicKey, NOW + 10));
    expect(s.tombstones).toBe(1);
    expect(s.put(owned, MS)).toBe(StoreStatus.DELETED);
    const atDelete = { ...owned, owner: { ...owned.owner!, issuedAt: NOW + 10 } };
    expect(s.put(atDelete, MS)).toBe(StoreStatus.DELETED);
    const newer = { ...owned, owner: { ...owned.owner!, issuedAt: NOW + 11 } };
    expect(s.put(newer, MS)).toBe(StoreStatus.STORED);
    expect(s.get(owned.key, NOW)).toEqual(newer);
  });

  it('a delete for a record not held leaves a tombstone against stale copies', () => {
    const s = new LocalStore();
    const owned = rec({ owner: alice.publicKey, issuedAt: NOW });
    expect(s.delete(delProof(owned.key, alice.publicKey))).toBe(DeleteStatus.NOT_HELD);
    expect(s.put(owned, MS)).toBe(StoreStatus.DELETED);
    expect(s.size).toBe(0);
  });

  it('a tombstone from another key does not block the real owner', () => {
    const s = new LocalStore();
    const owned = rec({ owner: alice.publicKey, issuedAt: NOW });
    expect(s.delete(delProof(owned.key, mallory.publicKey, NOW + 299))).toBe(DeleteStatus.NOT_HELD);
    expect(s.put(owned, MS)).toBe(StoreStatus.STORED);
    expect(s.get(owned.key, NOW)).toEqual(owned);
  });

  it('a forged tombstone does not keep the real owner’s delete from refusing stale copies', () => {
    const s = new LocalStore();
    const owned = rec({ owner: alice.publicKey, issuedAt: NOW });
    // Mallory gets in first with a later issue time; then Alice deletes her record everywhere.
    s.delete(delProof(owned.key, mallory.publicKey, NOW + 299));
    expect(s.delete(delProof(owned.key, alice.publicKey, NOW + 10))).toBe(DeleteStatus.NOT_HELD);
    // A stale copy of Alice's record arrives (republished by a node that missed the delete).
    expect(s.put(owned, MS)).toBe(StoreStatus.DELETED);
    expect(s.get(owned.key, NOW)).toBeUndefined();
  });

  it('a flood of deletes for keys not held cannot evict the tombstone of a record that was held', () => {
    const s = new LocalStore({ maxTombstones: 100 });
    const owned = rec({ owner: alice.publicKey, issuedAt: NOW });
    s.put(owned, MS);
    expect(s.delete(delProof(owned.key, alice.publicKey))).toBe(DeleteStatus.DELETED);
    // Mallory's self-signed deletes of made-up keys, ten times the tombstone budget.
    for (let i = 0; i < 1000; i++) expect(s.delete(delProof(rec().key, mallory.publicKey))).toBe(DeleteStatus.NOT_HELD);
    expect(s.tombstones).toBe(101);
    // A replay of the old STORE still finds the tombstone.
    expect(s.put(owned, MS)).toBe(StoreStatus.DELETED);
    expect(s.get(owned.key, NOW)).toBeUndefined();
  });

  it('an expired record is not stored, even inside the validator’s skew allowance', () => {
    const s = new LocalStore();
    expect(s.put(rec({ expiresAt: NOW - 1 }), MS)).toBe(StoreStatus.INVALID);
    expect(s.put(rec({ expiresAt: NOW }), MS)).toBe(StoreStatus.INVALID);
    expect(s.size).toBe(0);
  });

  it('holds a record in its encoding alone, not the datagram it came in, and a value handed out cannot change it', () => {
    const locate = (key: Uint8Array): Uint8Array[] => [key, crypto.sha256(key)];
    const s = new LocalStore({}, { locate });
    const r = rec({ size: 100, owner: Uint8Array.from(randomBytes(32)), issuedAt: NOW - 5 });
    const header = { networkId: NET, flags: 0, requestId: randomBytes(8), senderId: randomBytes(32), token: randomBytes(8) };
    const datagram = encodeMessage({ ...header, type: MessageType.STORE, record: r });
    const decoded = decodeMessage(datagram, NET);
    if (!decoded.ok || decoded.message.type !== MessageType.STORE) throw new Error('not a STORE');
    expect(s.put(decoded.message.record, MS, '10.0.0.1')).toBe(StoreStatus.STORED);
    // The datagram (header, and on the wire a signature trailer) is not kept alive by the copy held.
    const held = s.get(r.key, NOW)!;
    expect(held).toEqual(r);
    // The encoding, and the key's further replica locations (maintenance reads them at every new contact).
    expect(held.content.buffer.byteLength).toBe(recordSize(r) + 32);
    expect(s.entry(r.key)!.locations).toEqual(locate(r.key));
    // The copying form maintenance uses gives the same locations, in the same order.
    const entry = s.entry(r.key)!;
    const into = new Uint8Array(32);
    expect(Array.from({ length: entry.locationCount }, (_, i) => entry.copyLocation(i, into).slice())).toEqual(locate(r.key));
    expect([...s.held()]).toEqual([entry]);
    expect(s.entry(r.key)!.size).toBe(recordSize(r));
    // What a user gets is a copy: writing to it changes nothing held or served.
    const value = new DHTValue(held);
    value.content.fill(0xff);
    value.label.fill(0xff);
    expect(s.get(r.key, NOW)).toEqual(r);
  });

  it('get hides expired records; sweep removes expired records and tombstones', () => {
    // A delete of a key not held is remembered for tombstoneSeconds after its issue time (NOW + 10).
    const s = new LocalStore({}, { tombstoneSeconds: 110 });
    const soon = rec({ expiresAt: NOW + 60, size: 7 });
    const later = rec({ expiresAt: NOW + 600, size: 5 });
    const owned = rec({ owner: alice.publicKey, expiresAt: NOW + 60 });
    s.put(soon, MS);
    s.put(later, MS);
    s.put(owned, MS);
    s.delete(delProof(owned.key, alice.publicKey));
    s.delete(delProof(rec().key, alice.publicKey));
    expect(s.tombstones).toBe(2);
    expect(s.get(soon.key, NOW + 60)).toBeUndefined();
    expect(s.sweep(NOW + 59)).toBe(0);
    expect(s.sweep(NOW + 60)).toBe(1);
    expect(s.size).toBe(1);
    expect(s.bytes).toBe(recordSize(later));
    // The deleted record's tombstone lasts until it would have expired; the other until its bound.
    expect(s.tombstones).toBe(1);
    s.sweep(NOW + 120);
    expect(s.tombstones).toBe(0);
    expect(s.get(later.key, NOW + 120)).toEqual(later);
    expect(s.sweep(NOW + 600)).toBe(1);
    expect(s.size).toBe(0);
    expect(s.bytes).toBe(0);
  });
});


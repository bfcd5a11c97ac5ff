import { describe, expect, it } from 'vitest';
import { SpydhtError } from '../../src/errors.js';
import { ID_BYTES } from '../../src/id.js';
import { AddressKind, encodeIpPort, type PeerAddress } from '../../src/wire/address.js';
import {
  appendAuth,
  AUTH_BYTES,
  decodeMessage,
  DeleteStatus,
  encodeMessage,
  Flags,
  HEADER_BYTES,
  MAX_ADDRESSES_PER_CONTACT,
  MAX_CONTACTS,
  MAX_LABEL_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_PAD_BYTES,
  MAX_VALUE_BYTES,
  MAX_SIGNAL_PAYLOAD_BYTES,
  SignalStatus,
  MessageType,
  StoreStatus,
  type Body,
  type Header,
  type Message,
  type WireContact,
  type WireRecord,
} from '../../src/wire/messages.js';
import { MAX_MUTABLE_VALUE_BYTES, MAX_SALT_BYTES, MAX_SEQ, MutableStoreStatus, type WireMutableRecord } from '../../src/wire/mutable.js';

// ---------------------------------------------------------------------------------------------
// Fixtures

const NET = Uint8Array.of(0xde, 0xad, 0xbe, 0xef);

/** Deterministic PRNG (xorshift32) so any fuzz failure is reproducible. */
function prng(seed: number): { int(n: number): number; bytes(n: number): Uint8Array } {
  let s = seed >>> 0 || 1;
  const next = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  return {
    int: (n) => next() % n,
    bytes: (n) => Uint8Array.from({ length: n }, () => next() & 0xff),
  };
}

/** Distinct, recognisable filler so a field swap in the codec cannot go unnoticed. */
const fill = (n: number, start: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);

function header(flags = 0): Header {
  return {
    networkId: Uint8Array.from(NET),
    flags,
    requestId: fill(8, 1),
    senderId: fill(ID_BYTES, 100),
    token: fill(8, 200),
  };
}

const v4 = (ip: string, port: number): PeerAddress => encodeIpPort(AddressKind.UDP, { ip, port });
const v6 = (ip: string, port: number): PeerAddress => encodeIpPort(AddressKind.UDP, { ip, port });

function contact(i: number, addresses: PeerAddress[]): WireContact {
  return { id: fill(ID_BYTES, i * 7), addresses };
}

function record(owner: boolean, labelLen = 5, contentLen = 11): WireRecord {
  const r: WireRecord = {
    key: fill(ID_BYTES, 50),
    label: fill(labelLen, 60),
    content: fill(contentLen, 70),
    expiresAt: 0xfedcba98,
    powNonce: fill(8, 90),
  };
  if (owner) r.owner = { publicKey: fill(32, 110), issuedAt: 1_700_000_000, signature: fill(64, 140) };
  return r;
}

function mutable(saltLen = 4, contentLen = 9, deleted = false, seq = 7): WireMutableRecord {
  return {
    key: fill(ID_BYTES, 51),
    publicKey: fill(32, 111),
    salt: fill(saltLen, 61),
    seq,
    deleted,
    content: fill(contentLen, 71),
    expiresAt: 0xfedcba97,
    signature: fill(64, 141),
    powNonce: fill(8, 91),
  };
}

type Unsigned = Header & Body;

/** One valid message of every type and variant, named for test titles. */
function samples(): Array<[string, Unsigned]> {
  const h = header();
  return [
    ['PING', { ...h, type: MessageType.PING, pad: 0 }],
    ['PING padded', { ...h, type: MessageType.PING, pad: 37 }],
    ['PING max pad', { ...h, type: MessageType.PING, pad: MAX_PAD_BYTES }],
    ['PONG IPv4', { ...h, type: MessageType.PONG, observed: v4('203.0.113.9', 4001) }],
    ['PONG IPv6', { ...h, type: MessageType.PONG, observed: v6('2001:db8::7', 65535) }],
    ['PONG opaque kind', { ...h, type: MessageType.PONG, observed: { kind: AddressKind.WEBRTC, data: fill(64, 3) } }],
    ['FIND_NODE', { ...h, type: MessageType.FIND_NODE, target: fill(ID_BYTES, 33), pad: 3 }],
    ['NODES empty', { ...h, type: MessageType.NODES, valueWithheld: false, contacts: [] }],
    [
      'NODES mixed',
      {
        ...h,
        type: MessageType.NODES,
        valueWithheld: true,
        contacts: [
          contact(1, [v4('192.0.2.1', 1)]),
          contact(2, [v6('::1', 2), v4('10.0.0.2', 3)]),
          contact(3, [v4('1.1.1.1', 4), v6('fe80::1', 5), { kind: AddressKind.SIM, data: fill(6, 9) }, v4('8.8.8.8', 6)]),
        ],
      },
    ],
    [
      'NODES full',
      {
        ...h,
        type: MessageType.NODES,
        valueWithheld: false,
        contacts: Array.from({ length: MAX_CONTACTS }, (_, i) => contact(i, [v6(`2001:db8::${i + 1}`, 1000 + i)])),
      },
    ],
    ['FIND_VALUE', { ...h, type: MessageType.FIND_VALUE, key: fill(ID_BYTES, 77), pad: 0 }],
    ['FIND_VALUE padded', { ...h, type: MessageType.FIND_VALUE, key: fill(ID_BYTES, 77), pad: 100 }],
    ['VALUE', { ...h, type: MessageType.VALUE, record: record(false) }],
    ['VALUE empty label', { ...h, type: MessageType.VALUE, record: record(false, 0, 1) }],
    ['VALUE owner-signed', { ...h, type: MessageType.VALUE, record: record(true) }],
    ['STORE', { ...h, type: MessageType.STORE, record: record(false) }],
    ['STORE owner-signed', { ...h, type: MessageType.STORE, record: record(true) }],
    [
      'STORE max value',
      { ...h, type: MessageType.STORE, record: record(true, MAX_LABEL_BYTES, MAX_VALUE_BYTES - MAX_LABEL_BYTES) },
    ],
    ...Object.entries(StoreStatus).map(
      ([name, status]): [string, Unsigned] => [`STORE_ACK ${name}`, { ...h, type: MessageType.STORE_ACK, status }],
    ),
    ['SIGNAL', { ...h, type: MessageType.SIGNAL, target: fill(ID_BYTES, 8), source: fill(ID_BYTES, 9), payload: fill(300, 10) }],
    ['HELLO', { ...h, type: MessageType.HELLO }],
    ['SIGNAL max', { ...h, type: MessageType.SIGNAL, target: fill(ID_BYTES, 8), source: fill(ID_BYTES, 9), payload: fill(MAX_SIGNAL_PAYLOAD_BYTES, 11) }],
    ...Object.entries(SignalStatus).map(
      ([name, status]): [string, Unsigned] => [`SIGNAL_ACK ${name}`, { ...h, type: MessageType.SIGNAL_ACK, status }],
    ),
    ['FIND_MUTABLE', { ...h, type: MessageType.FIND_MUTABLE, key: fill(ID_BYTES, 78), known: undefined, pad: 0 }],
    ['FIND_MUTABLE known', { ...h, type: MessageType.FIND_MUTABLE, key: fill(ID_BYTES, 78), known: { seq: MAX_SEQ, tag: fill(8, 5) }, pad: 20 }],
    ['MUTABLE_VALUE record', { ...h, type: MessageType.MUTABLE_VALUE, record: mutable(), contacts: [contact(4, [v4('192.0.2.4', 9)])] }],
    ['MUTABLE_VALUE deletion', { ...h, type: MessageType.MUTABLE_VALUE, record: mutable(0, 0, true, 2 ** 32 + 5), contacts: [] }],
    ['MUTABLE_VALUE summary', { ...h, type: MessageType.MUTABLE_VALUE, summary: { seq: 0, tag: fill(8, 6) }, contacts: [contact(5, [v6('::2', 7)])] }],
    ['STORE_MUTABLE', { ...h, type: MessageType.STORE_MUTABLE, cas: undefined, record: mutable() }],
    ['STORE_MUTABLE cas', { ...h, type: MessageType.STORE_MUTABLE, cas: 6, record: mutable() }],
    [
      'STORE_MUTABLE max value',
      { ...h, type: MessageType.STORE_MUTABLE, cas: MAX_SEQ - 1, record: mutable(MAX_SALT_BYTES, MAX_MUTABLE_VALUE_BYTES - MAX_SALT_BYTES, false, MAX_SEQ) },
    ],
    ...Object.entries(MutableStoreStatus).map(
      ([name, status]): [string, Unsigned] => [`STORE_MUTABLE_ACK ${name}`, { ...h, type: MessageType.STORE_MUTABLE_ACK, status, held: status === 0 ? undefined : { seq: 9, tag: fill(8, status) } }],
    ),
    [
      'DELETE',
      {
        ...h,
        type: MessageType.DELETE,
        proof: { key: fill(ID_BYTES, 5), publicKey: fill(32, 6), issuedAt: 0xffffffff, signature: fill(64, 7), powNonce: fill(8, 8) },
      },
    ],
    ...Object.entries(DeleteStatus).map(
      ([name, status]): [string, Unsigned] => [
        `DELETE_ACK ${name}`,
        // STALE carries the held record's issue time; no other status carries anything.
        status === DeleteStatus.STALE ? { ...h, type: MessageType.DELETE_ACK, status, heldIssuedAt: 0xfffffffe } : { ...h, type: MessageType.DELETE_ACK, status },
      ],
    ),
    ['PING want-auth client', { ...header(Flags.WANT_AUTH | Flags.CLIENT), type: MessageType.PING, pad: 0 }],
  ];
}

const AUTH_KEY = fill(32, 180);
const AUTH_SIG = fill(64, 10);

/** Every sample again, with the AUTH flag and a trailer. */
function signedSamples(): Array<[string, Uint8Array, Unsigned]> {
  return samples().map(([name, m]) => {
    const withFlag = { ...m, flags: m.flags | Flags.AUTH } as Unsigned;
    return [`${name} +auth`, appendAuth(encodeMessage(withFlag), AUTH_KEY, AUTH_SIG), withFlag];
  });
}

/** Every valid encoding, signed or not. */
function allEncodings(): Array<[string, Uint8Array]> {
  return [
    ...samples().map(([name, m]): [string, Uint8Array] => [name, encodeMessage(m)]),
    ...signedSamples().map(([name, bytes]): [string, Uint8Array] => [name, bytes]),
  ];
}

function decodeOk(bytes: Uint8Array): Message {
  const res = decodeMessage(bytes, NET);
  if (!res.ok) throw new Error(`expected a valid message, got ${res.error.code}: ${res.error.message}`);
  return res.message;
}

/** Asserts a rejection with the given code and, when given, the reason (so the right check fired). */
function expectReject(bytes: Uint8Array, code: string, reason?: RegExp): void {
  const res = decodeMessage(bytes, NET);
  expect(res.ok).toBe(false);
  if (res.ok) return;
  expect(res.error).toBeInstanceOf(SpydhtError);
  expect(res.error.code).toBe(code);
  if (reason) expect(res.error.message).toMatch(reason);
}

const concat = (...parts: ArrayLike<number>[]): Uint8Array => {
  const out: number[] = [];
  for (const p of parts) out.push(...Array.from(p));
  return Uint8Array.from(out);
};

/** Encoded header bytes for a type (the body is appended by hand in the rejection tests). */
function rawHeader(type: number, flags = 0): Uint8Array {
  return encodeMessage({ ...header(flags), type: MessageType.PING, pad: 0 }).slice(0, HEADER_BYTES).map((b, i) =>
    i === 5 ? type : b,
  );
}

// Header layout: version(0) network(1..4) type(5) flags(6..7, big-endian) requestId(8..15) sender(16..47) token(48..55)
const TYPE_AT = 5;
const FLAGS_AT = 6;

// ---------------------------------------------------------------------------------------------

describe('round trip', () => {
  it('the header layout is what the rejection tests below assume', () => {
    expect(HEADER_BYTES).toBe(56);
    const bytes = encodeMessage({ ...header(Flags.CLIENT | Flags.ROOM), type: MessageType.STORE_ACK, status: 2 });
    expect(bytes[0]).toBe(3);
    expect(Array.from(bytes.subarray(1, 5))).toEqual(Array.from(NET));
    expect(bytes[TYPE_AT]).toBe(MessageType.STORE_ACK);
    expect((bytes[FLAGS_AT]! << 8) | bytes[FLAGS_AT + 1]!).toBe(Flags.CLIENT | Flags.ROOM);
    expect(bytes.length).toBe(HEADER_BYTES + 1);
  });

  it.each(samples())('%s decodes to the same message and re-encodes to the same bytes', (_name, m) => {
    const bytes = encodeMessage(m);
    const decoded = decodeMessage(bytes, NET);
    expect(decoded).toEqual({ ok: true, message: m });
    if (!decoded.ok) return;
    expect(decoded.message.auth).toBeUndefined();
    expect(encodeMessage(decoded.message)).toEqual(bytes);
  });

  it.each(signedSamples())('%s carries the trailer and what it signs', (_name, bytes, m) => {
    const decoded = decodeOk(bytes);
    const { auth, ...rest } = decoded;
    expect(rest).toEqual(m);
    expect(auth).toBeDefined();
    expect(auth!.publicKey).toEqual(AUTH_KEY);
    expect(auth!.signature).toEqual(AUTH_SIG);
    expect(auth!.signed).toEqual(encodeMessage(m));
    expect(bytes.length).toBe(auth!.signed.length + AUTH_BYTES);
  });

  it('owner-signed record fields survive exactly', () => {
    const m = samples().find(([n]) => n === 'STORE owner-signed')![1];
    const decoded = decodeOk(encodeMessage(m));
    expect(decoded.type).toBe(MessageType.STORE);
    if (decoded.type !== MessageType.STORE) return;
    expect(decoded.record.owner).toEqual({ publicKey: fill(32, 110), issuedAt: 1_700_000_000, signature: fill(64, 140) });
    expect(decoded.record.expiresAt).toBe(0xfedcba98);
    expect(decoded.record.powNonce).toEqual(fill(8, 90));
  });

  it('padding is counted in the size: pad n adds exactly n bytes', () => {
    const base = encodeMessage({ ...header(), type: MessageType.PING, pad: 0 }).length;
    expect(encodeMessage({ ...header(), type: MessageType.PING, pad: 37 }).length).toBe(base + 37);
    const padded = encodeMessage({ ...header(), type: MessageType.FIND_NODE, target: fill(32, 0), pad: 9 });
    expect(Array.from(padded.subarray(padded.length - 9))).toEqual(new Array(9).fill(0));
  });

  it('decoded fields are views into the datagram, not copies (no garbage per field)', () => {
    const m = samples().find(([n]) => n === 'STORE owner-signed')![1];
    const bytes = encodeMessage(m);
    const decoded = decodeOk(bytes);
    expect(decoded).toEqual(m);
    if (decoded.type !== MessageType.STORE) throw new Error('not a STORE');
    for (const field of [decoded.senderId, decoded.requestId, decoded.token, decoded.record.key, decoded.record.content]) {
      expect(field.buffer).toBe(bytes.buffer);
    }
  });

  it('decodes a datagram that is a view into a larger buffer (byteOffset != 0)', () => {
    const bytes = encodeMessage(samples().find(([n]) => n === 'DELETE')![1]);
    const big = new Uint8Array(bytes.length + 20);
    big.set(bytes, 13);
    const view = big.subarray(13, 13 + bytes.length);
    expect(encodeMessage(decodeOk(view))).toEqual(bytes);
  });
});

describe('size cap', () => {
  /** A NODES message of exactly `total` bytes: 18 contacts x 4 addresses, lengths spread evenly. */
  function nodesOfSize(total: number, flags = 0): Unsigned {
    const count = 18;
    const perContact = ID_BYTES + 1 + MAX_ADDRESSES_PER_CONTACT * 2; // id, count, (kind, len) per address
    const dataBytes = total - HEADER_BYTES - 2 - count * perContact;
    const n = count * MAX_ADDRESSES_PER_CONTACT;
    const lens = Array.from({ length: n }, (_, i) => Math.floor(dataBytes / n) + (i < dataBytes % n ? 1 : 0));
    const contacts = Array.from({ length: count }, (_, c) =>
      contact(
        c,
        lens.slice(c * 4, c * 4 + 4).map((len) => ({ kind: AddressKind.SIM, data: fill(len, c) })),
      ),
    );
    return { ...header(flags), type: MessageType.NODES, valueWithheld: false, contacts };
  }

  it('accepts a message of exactly MAX_MESSAGE_BYTES', () => {
    const m = nodesOfSize(MAX_MESSAGE_BYTES);
    const bytes = encodeMessage(m);
    expect(bytes.length).toBe(MAX_MESSAGE_BYTES);
    expect(decodeOk(bytes)).toEqual(m);
  });

  it('encodeMessage throws MESSAGE_TOO_LARGE one byte over the cap', () => {
    const m = nodesOfSize(MAX_MESSAGE_BYTES + 1);
    expect(() => encodeMessage(m)).toThrow(SpydhtError);
    try {
      encodeMessage(m);
    } catch (err) {
      expect((err as SpydhtError).code).toBe('MESSAGE_TOO_LARGE');
    }
  });

  it('encodeMessage leaves room for the auth trailer when AUTH is set', () => {
    const fits = nodesOfSize(MAX_MESSAGE_BYTES - AUTH_BYTES, Flags.AUTH);
    const signed = appendAuth(encodeMessage(fits), AUTH_KEY, AUTH_SIG);
    expect(signed.length).toBe(MAX_MESSAGE_BYTES);
    expect(decodeOk(signed).auth?.signature).toEqual(AUTH_SIG);
    expect(() => encodeMessage(nodesOfSize(MAX_MESSAGE_BYTES - AUTH_BYTES + 1, Flags.AUTH))).toThrow(
      expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }),
    );
  });

  it('encodeMessage throws for a maximal NODES message (20 contacts x 4 x 64-byte addresses)', () => {
    const contacts = Array.from({ length: MAX_CONTACTS }, (_, i) =>
      contact(i, Array.from({ length: MAX_ADDRESSES_PER_CONTACT }, () => ({ kind: 9, data: fill(64, i) }))),
    );
    expect(() => encodeMessage({ ...header(), type: MessageType.NODES, valueWithheld: false, contacts })).toThrow(
      expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }),
    );
  });

  it('decodeMessage rejects input over MAX_MESSAGE_BYTES before parsing', () => {
    const valid = encodeMessage(nodesOfSize(MAX_MESSAGE_BYTES));
    expectReject(concat(valid, [0]), 'MESSAGE_TOO_LARGE');
    // Even from another network: the size check comes first.
    expectReject(new Uint8Array(MAX_MESSAGE_BYTES + 1), 'MESSAGE_TOO_LARGE');
    expectReject(new Uint8Array(65_507), 'MESSAGE_TOO_LARGE');
  });
});

describe('encoder argument checks', () => {
  it('throws for fields the wire cannot carry', () => {
    const h = header();
    expect(() => encodeMessage({ ...h, type: MessageType.PING, pad: MAX_PAD_BYTES + 1 })).toThrow(RangeError);
    expect(() => encodeMessage({ ...h, type: MessageType.PING, pad: -1 })).toThrow(RangeError);
    expect(() => encodeMessage({ ...h, type: MessageType.VALUE, record: record(false, MAX_LABEL_BYTES + 1, 0) })).toThrow(
      RangeError,
    );
    expect(() => encodeMessage({ ...h, type: MessageType.VALUE, record: record(false, 10, MAX_VALUE_BYTES - 9) })).toThrow(
      /value too large/,
    );
    const tooMany = Array.from({ length: MAX_CONTACTS + 1 }, (_, i) => contact(i, [v4('1.2.3.4', 1)]));
    expect(() => encodeMessage({ ...h, type: MessageType.NODES, valueWithheld: false, contacts: tooMany })).toThrow(
      RangeError,
    );
    for (const addresses of [[], Array.from({ length: 5 }, () => v4('1.2.3.4', 1))]) {
      expect(() =>
        encodeMessage({ ...h, type: MessageType.NODES, valueWithheld: false, contacts: [contact(0, addresses)] }),
      ).toThrow(RangeError);
    }
    expect(() => encodeMessage({ ...h, senderId: new Uint8Array(31), type: MessageType.PING, pad: 0 })).toThrow(
      /senderId/,
    );
  });
});

describe('rejections', () => {
  it('every strict prefix of every valid message is DECODE_ERROR', () => {
    for (const [name, bytes] of allEncodings()) {
      for (let len = 0; len < bytes.length; len++) {
        const res = decodeMessage(bytes.subarray(0, len), NET);
        expect(res.ok, `${name} cut to ${len}`).toBe(false);
        if (!res.ok) expect(res.error.code, `${name} cut to ${len}`).toBe('DECODE_ERROR');
      }
    }
  });

  it('one trailing byte is DECODE_ERROR', () => {
    for (const [name, bytes] of allEncodings()) {
      for (const extra of [0, 1, 0xff]) {
        const res = decodeMessage(concat(bytes, [extra]), NET);
        expect(res.ok, name).toBe(false);
        if (!res.ok) expect(res.error.code, name).toBe('DECODE_ERROR');
      }
    }
    expectReject(concat(encodeMessage(samples()[0]![1]), [0]), 'DECODE_ERROR', /1 trailing bytes/);
  });

  it('unknown message types', () => {
    for (const type of [0, 14, 0x80, 0xff]) {
      expectReject(concat(rawHeader(type), [0, 0]), 'DECODE_ERROR', new RegExp(`unknown message type ${type}`));
    }
  });

  it('unknown flags', () => {
    const ping = encodeMessage(samples()[0]![1]);
    for (const high of [0x01, 0x80, 0xff]) {
      const bytes = Uint8Array.from(ping);
      bytes[FLAGS_AT] = high;
      expectReject(bytes, 'DECODE_ERROR', /unknown flags/);
    }
  });

  it('wrong protocol version', () => {
    const ping = encodeMessage(samples()[0]![1]);
    for (const version of [0, 1, 2, 4, 0xff]) {
      const bytes = Uint8Array.from(ping);
      bytes[0] = version;
      expectReject(bytes, 'DECODE_ERROR', /unsupported protocol version/);
    }
  });

  it('wrong network is WRONG_NETWORK, for every network byte', () => {
    for (const [, bytes] of allEncodings().slice(0, 3)) {
      for (let i = 1; i <= 4; i++) {
        const other = Uint8Array.from(bytes);
        other[i] = other[i]! ^ 0x01;
        expectReject(other, 'WRONG_NETWORK');
      }
      // Same bytes, receiver on another network.
      const res = decodeMessage(bytes, Uint8Array.of(0, 0, 0, 0));
      expect(res.ok || res.error.code).toBe('WRONG_NETWORK');
    }
  });

  describe('NODES', () => {
    const one = contact(1, [v4('10.1.2.3', 4000)]);
    const oneBytes = encodeMessage({ ...header(), type: MessageType.NODES, valueWithheld: false, contacts: [one] }).subarray(
      HEADER_BYTES + 2,
    );

    it('sanity: the hand-built body decodes when valid', () => {
      const m = decodeOk(concat(rawHeader(MessageType.NODES), [1, 2], oneBytes, oneBytes));
      expect(m.type === MessageType.NODES && m.contacts.length).toBe(2);
    });

    it('more than 20 contacts', () => {
      const body = concat([0, MAX_CONTACTS + 1], ...Array<Uint8Array>(MAX_CONTACTS + 1).fill(oneBytes));
      expectReject(concat(rawHeader(MessageType.NODES), body), 'DECODE_ERROR', /more than 20 contacts/);
      expectReject(concat(rawHeader(MessageType.NODES), [0, 255]), 'DECODE_ERROR', /more than 20 contacts/);
    });

    it('bad withheld flag', () => {
      expectReject(concat(rawHeader(MessageType.NODES), [2, 1], oneBytes), 'DECODE_ERROR', /bad nodes flags/);
    });

    it('a contact with 0 or 5 addresses', () => {
      const id = one.id;
      const addr = oneBytes.subarray(ID_BYTES + 1); // kind, len, 6 bytes
      expectReject(concat(rawHeader(MessageType.NODES), [0, 1], id, [0]), 'DECODE_ERROR', /1 to 4 addresses/);
      const five = concat(rawHeader(MessageType.NODES), [0, 1], id, [5], ...Array<Uint8Array>(5).fill(addr));
      expectReject(five, 'DECODE_ERROR', /1 to 4 addresses/);
      const four = concat(rawHeader(MessageType.NODES), [0, 1], id, [4], ...Array<Uint8Array>(4).fill(addr));
      expect(decodeMessage(four, NET).ok).toBe(true);
    });
  });

  describe('addresses (PONG)', () => {
    it('address kind 0', () => {
      expectReject(concat(rawHeader(MessageType.PONG), [0, 6, 1, 2, 3, 4, 0, 80]), 'DECODE_ERROR', /address kind 0/);
    });
    it('empty address', () => {
      expectReject(concat(rawHeader(MessageType.PONG), [AddressKind.UDP, 0]), 'DECODE_ERROR', /empty address/);
    });
    it('address longer than 64 bytes', () => {
      expectReject(concat(rawHeader(MessageType.PONG), [7, 65], new Uint8Array(65).fill(1)), 'DECODE_ERROR', /longer than 64/);
      expect(decodeMessage(concat(rawHeader(MessageType.PONG), [7, 64], new Uint8Array(64).fill(1)), NET).ok).toBe(true);
    });
  });

  describe('records (VALUE / STORE)', () => {
    // Record layout: key(32) labelLen(1) label contentLen(2) content expiresAt(4) owner(1) [owner 100] nonce(8)
    const storeBytes = (r: WireRecord): Uint8Array => encodeMessage({ ...header(), type: MessageType.STORE, record: r });

    it('label longer than 255 bytes cannot be encoded (its length is one byte on the wire)', () => {
      expect(() => storeBytes(record(false, 256, 0))).toThrow(/label longer than 255/);
    });

    it('label + content over MAX_VALUE_BYTES', () => {
      for (const type of [MessageType.STORE, MessageType.VALUE]) {
        const r = record(false, MAX_LABEL_BYTES, MAX_VALUE_BYTES - MAX_LABEL_BYTES);
        const ok = encodeMessage({ ...header(), type, record: r });
        expect(decodeMessage(ok, NET).ok).toBe(true);
        // Grow content by one byte: patch its u16 length and insert a byte.
        const contentLenAt = HEADER_BYTES + ID_BYTES + 1 + MAX_LABEL_BYTES;
        const grown = concat(ok.subarray(0, contentLenAt), [0, 0], ok.subarray(contentLenAt + 2, contentLenAt + 2 + 1), ok.subarray(contentLenAt + 2));
        new DataView(grown.buffer).setUint16(contentLenAt, MAX_VALUE_BYTES - MAX_LABEL_BYTES + 1);
        expectReject(grown, 'DECODE_ERROR', /value too large/);
      }
    });

    it('content alone over MAX_VALUE_BYTES', () => {
      const ok = storeBytes(record(false, 0, 1));
      const contentLenAt = HEADER_BYTES + ID_BYTES + 1;
      const bytes = concat(ok.subarray(0, contentLenAt), [0, 0], new Uint8Array(MAX_VALUE_BYTES + 1), ok.subarray(contentLenAt + 3));
      new DataView(bytes.buffer).setUint16(contentLenAt, MAX_VALUE_BYTES + 1);
      expectReject(bytes, 'DECODE_ERROR', /content longer than 4096/);
    });

    it('owner flag other than 0 or 1', () => {
      for (const owner of [false, true]) {
        const ok = storeBytes(record(owner, 2, 3));
        const ownerAt = HEADER_BYTES + ID_BYTES + 1 + 2 + 2 + 3 + 4;
        expect(ok[ownerAt]).toBe(owner ? 1 : 0);
        for (const bad of [2, 0xff]) {
          const bytes = Uint8Array.from(ok);
          bytes[ownerAt] = bad;
          expectReject(bytes, 'DECODE_ERROR', /bad owner flag/);
        }
        // Flipping 0 <-> 1 changes the layout: it must still be rejected (as truncation or trailing bytes).
        const flipped = Uint8Array.from(ok);
        flipped[ownerAt] = flipped[ownerAt]! ^ 1;
        expectReject(flipped, 'DECODE_ERROR');
      }
    });
  });

  describe('padding (PING / FIND_NODE / FIND_VALUE)', () => {
    const padded = (): Array<[string, Uint8Array]> => [
      ['PING', encodeMessage({ ...header(), type: MessageType.PING, pad: 16 })],
      ['FIND_NODE', encodeMessage({ ...header(), type: MessageType.FIND_NODE, target: fill(32, 1), pad: 16 })],
      ['FIND_VALUE', encodeMessage({ ...header(), type: MessageType.FIND_VALUE, key: fill(32, 1), pad: 16 })],
    ];

    it('non-zero padding, at any position', () => {
      for (const [name, bytes] of padded()) {
        for (const back of [1, 8, 16]) {
          const bad = Uint8Array.from(bytes);
          bad[bad.length - back] = 0x01;
          const res = decodeMessage(bad, NET);
          expect(res.ok, name).toBe(false);
          if (!res.ok) expect(res.error.message, name).toMatch(/non-zero padding/);
        }
      }
    });

    it('pad length over MAX_PAD_BYTES', () => {
      for (const [name, bytes] of padded()) {
        const padLenAt = bytes.length - 16 - 2;
        const over = concat(bytes.subarray(0, padLenAt), [0, 0], new Uint8Array(MAX_PAD_BYTES + 1));
        new DataView(over.buffer).setUint16(padLenAt, MAX_PAD_BYTES + 1);
        const res = decodeMessage(over, NET);
        expect(res.ok, name).toBe(false);
        if (!res.ok) expect(res.error.message, name).toMatch(/pad too long/);
      }
    });
  });

  it('store and delete status out of range', () => {
    for (const status of [StoreStatus.NOT_RESPONSIBLE + 1, 0x80, 0xff]) {
      expectReject(concat(rawHeader(MessageType.STORE_ACK), [status]), 'DECODE_ERROR', /unknown store status/);
    }
    for (const status of [DeleteStatus.STALE + 1, 0x80, 0xff]) {
      expectReject(concat(rawHeader(MessageType.DELETE_ACK), [status]), 'DECODE_ERROR', /unknown delete status/);
    }
    for (const status of [SignalStatus.RATE_LIMITED + 1, 0xff]) {
      expectReject(concat(rawHeader(MessageType.SIGNAL_ACK), [status]), 'DECODE_ERROR', /unknown signal status/);
    }
  });

  it('signal payload bounds', () => {
    const base = Array.from(concat(rawHeader(MessageType.SIGNAL), [...fill(ID_BYTES, 1), ...fill(ID_BYTES, 2)]));
    expectReject(Uint8Array.from([...base, 0, 0]), 'DECODE_ERROR', /empty signal payload/);
    const over = MAX_SIGNAL_PAYLOAD_BYTES + 1;
    expectReject(Uint8Array.from([...base, over >> 8, over & 0xff, ...fill(over, 3)]), 'DECODE_ERROR', /signal payload longer/);
  });

  it('AUTH flag without a complete trailer', () => {
    const unsigned = encodeMessage({ ...header(Flags.AUTH), type: MessageType.PING, pad: 0 });
    expectReject(unsigned, 'DECODE_ERROR', /truncated auth public key/);
    expectReject(concat(unsigned, AUTH_KEY, AUTH_SIG.subarray(0, 63)), 'DECODE_ERROR', /truncated auth signature/);
    // A trailer on a message that does not announce one is trailing garbage.
    const plain = encodeMessage({ ...header(), type: MessageType.PING, pad: 0 });
    expectReject(appendAuth(plain, AUTH_KEY, AUTH_SIG), 'DECODE_ERROR', /trailing bytes/);
  });
});

describe('fuzz: decodeMessage never throws and accepts only canonical encodings', () => {
  const CODES = new Set(['DECODE_ERROR', 'WRONG_NETWORK', 'MESSAGE_TOO_LARGE']);

  /** Decodes; if accepted, re-encoding must reproduce the input exactly (one encoding per message). */
  function check(bytes: Uint8Array): boolean {
    let res: ReturnType<typeof decodeMessage>;
    try {
      res = decodeMessage(bytes, NET);
    } catch (err) {
      throw new Error(`decodeMessage threw on ${Buffer.from(bytes).toString('hex')}: ${String(err)}`);
    }
    if (!res.ok) {
      expect(res.error).toBeInstanceOf(SpydhtError);
      expect(CODES.has(res.error.code)).toBe(true);
      return false;
    }
    const { auth, ...m } = res.message;
    const reencoded = encodeMessage(m);
    expect(auth ? appendAuth(reencoded, auth.publicKey, auth.signature) : reencoded).toEqual(bytes);
    return true;
  }

  it('random byte strings, raw and behind a valid header', () => {
    const rng = prng(12345);
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const body = rng.bytes(rng.int(i % 10 === 0 ? 5200 : 300));
      check(body);
      // Behind a valid version/network/type/flags so the body parsers are reached.
      const type = 1 + rng.int(10);
      const flags = rng.int(8);
      // Every fourth: a short body of small byte values, the shape of a valid ACK or empty PING.
      const tail = i % 4 === 0 ? body.subarray(0, rng.int(3)).map((b) => b & 3) : body.subarray(0, rng.int(body.length + 1));
      if (check(concat(rawHeader(type, flags), tail))) accepted++;
    }
    // Short bodies such as a valid STORE_ACK status byte do get through: the fuzz reaches real parsing.
    expect(accepted).toBeGreaterThan(0);
  });

  it('random mutations of valid messages', () => {
    const rng = prng(987654321);
    const valid = allEncodings();
    let accepted = 0;
    for (let i = 0; i < 4000; i++) {
      const [, original] = valid[rng.int(valid.length)]!;
      let bytes: Uint8Array = Uint8Array.from(original);
      const edits = 1 + rng.int(3);
      for (let e = 0; e < edits; e++) {
        const at = rng.int(bytes.length + 1);
        switch (rng.int(5)) {
          case 0: // flip bits in one byte
            if (at < bytes.length) bytes[at] = bytes[at]! ^ (1 + rng.int(255));
            break;
          case 1: // set a byte to an edge value
            if (at < bytes.length) bytes[at] = [0, 1, 2, 4, 5, 20, 21, 64, 65, 0x7f, 0x80, 0xff][rng.int(12)]!;
            break;
          case 2: // insert random bytes
            bytes = concat(bytes.subarray(0, at), rng.bytes(1 + rng.int(4)), bytes.subarray(at));
            break;
          case 3: // delete bytes
            bytes = concat(bytes.subarray(0, at), bytes.subarray(at + 1 + rng.int(4)));
            break;
          case 4: // truncate
            bytes = bytes.subarray(0, at);
            break;
        }
      }
      if (check(bytes)) accepted++;
    }
    expect(accepted).toBeGreaterThan(0);
  });
});

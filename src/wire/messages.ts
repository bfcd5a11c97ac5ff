/**
 * The spydht wire format, version 3 (PROTOCOL.md is the normative description).
 * Every datagram is one message: a fixed header, a type-specific body, and an optional
 * authentication trailer (public key + Ed25519 signature over everything before it).
 */
import { SpydhtError } from '../errors.js';
import { ID_BYTES, type NodeId } from '../id.js';
import { DecodeFailure, Reader, Writer } from './codec.js';
import { MAX_ADDRESS_BYTES, type PeerAddress } from './address.js';
import {
  readFindMutable,
  readMutableRecord,
  readMutableStoreStatus,
  readStoreMutable,
  readSummary,
  writeFindMutable,
  writeMutableRecord,
  writeStoreMutable,
  writeSummary,
  type MutableStoreStatusCode,
  type MutableSummary,
  type WireMutableRecord,
} from './mutable.js';

/** 3: mutable records (message types 16–19, PROTOCOL.md §15); proof of work priced on the record's wire size with a lifetime floor; DELETE carries proof of work; STORE_ACK not responsible; DELETE_ACK stale. */
export const PROTOCOL_VERSION = 3;
/** No datagram over this size is ever sent or accepted (the original's 5 KB cap). */
export const MAX_MESSAGE_BYTES = 5120;
export const NETWORK_ID_BYTES = 4;
export const REQUEST_ID_BYTES = 8;
export const TOKEN_BYTES = 8;
/** Version, network, type, 16 bits of flags, request ID, sender ID, token. */
export const HEADER_BYTES = 1 + NETWORK_ID_BYTES + 1 + 2 + REQUEST_ID_BYTES + ID_BYTES + TOKEN_BYTES;
export const AUTH_BYTES = 32 + 64;
export const MAX_CONTACTS = 20;
export const MAX_ADDRESSES_PER_CONTACT = 4;
export const MAX_LABEL_BYTES = 255;
/** Label + content of one record: leaves room for header, auth trailer and owner fields in 5120. */
export const MAX_VALUE_BYTES = 4096;
export const POW_NONCE_BYTES = 8;
export const MAX_PAD_BYTES = 1024;

export const MessageType = {
  PING: 1,
  PONG: 2,
  FIND_NODE: 3,
  NODES: 4,
  FIND_VALUE: 5,
  VALUE: 6,
  STORE: 7,
  STORE_ACK: 8,
  DELETE: 9,
  DELETE_ACK: 10,
  SIGNAL: 11,
  SIGNAL_ACK: 12,
  /**
   * One way, no reply: "add me". Sent after a reply that carried ROOM; it echoes that reply's
   * token (proving we receive at our address) and carries an auth trailer (proving our key).
   */
  HELLO: 13,
  /** Mutable records (PROTOCOL.md §15): get by key, saying which copy the asker has already. */
  FIND_MUTABLE: 16,
  /** The holder's copy, in full or as a summary (seq and tag), and contacts closer to the key. */
  MUTABLE_VALUE: 17,
  /** Store a mutable record, optionally only if the holder's seq is not above `cas`. */
  STORE_MUTABLE: 18,
  STORE_MUTABLE_ACK: 19,
} as const;
export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType];

export const REQUEST_TYPES: ReadonlySet<number> = new Set([
  MessageType.PING,
  MessageType.FIND_NODE,
  MessageType.FIND_VALUE,
  MessageType.STORE,
  MessageType.DELETE,
  MessageType.SIGNAL,
  MessageType.FIND_MUTABLE,
  MessageType.STORE_MUTABLE,
]);

/** The reply type each request expects. */
export const REPLY_TO: Readonly<Record<number, readonly number[]>> = {
  [MessageType.PING]: [MessageType.PONG],
  [MessageType.FIND_NODE]: [MessageType.NODES],
  [MessageType.FIND_VALUE]: [MessageType.NODES, MessageType.VALUE],
  [MessageType.STORE]: [MessageType.STORE_ACK],
  [MessageType.DELETE]: [MessageType.DELETE_ACK],
  [MessageType.SIGNAL]: [MessageType.SIGNAL_ACK],
  [MessageType.FIND_MUTABLE]: [MessageType.NODES, MessageType.MUTABLE_VALUE],
  [MessageType.STORE_MUTABLE]: [MessageType.STORE_MUTABLE_ACK],
};

export const Flags = {
  /** An authentication trailer follows the body. */
  AUTH: 0x01,
  /** Request: please sign your reply (I have not verified your key at this address yet). */
  WANT_AUTH: 0x02,
  /** Sender does not answer requests (a short-lived client): never add it to a routing table. */
  CLIENT: 0x04,
  /** The sender can be reached over UDP (at the address its datagram came from). */
  SPEAKS_UDP: 0x08,
  /** The sender can be reached over WebRTC (by its node ID, through signaling). */
  SPEAKS_WEBRTC: 0x10,
  /**
   * (FIND_VALUE, STORE from a client) Run the whole operation for me: a UDP-only client cannot
   * reach the WebRTC members that store values, so a bridge that speaks both does it for it.
   */
  PROXY: 0x20,
  /**
   * The sender is a bootstrap server (the signaling server): a full member, but peers send their
   * WebRTC signaling through other members first, so the server stays off the hot path.
   */
  BOOTSTRAP: 0x40,
  /**
   * (reply) The responder has room for the requester in its routing table: the requester may send
   * a HELLO to be added.
   */
  ROOM: 0x80,
} as const;
const KNOWN_FLAGS = Flags.AUTH | Flags.WANT_AUTH | Flags.CLIENT | Flags.SPEAKS_UDP | Flags.SPEAKS_WEBRTC | Flags.PROXY | Flags.BOOTSTRAP | Flags.ROOM;

/** Largest signaling payload a SIGNAL carries (an SDP offer with candidates fits). */
export const MAX_SIGNAL_PAYLOAD_BYTES = 3072;

export const SignalStatus = {
  /** Delivered to the target's transport (we are the target) or forwarded to it. */
  FORWARDED: 0,
  /** The relay has no link to the target. */
  UNKNOWN_TARGET: 1,
  RATE_LIMITED: 2,
} as const;
export type SignalStatusCode = (typeof SignalStatus)[keyof typeof SignalStatus];

export const StoreStatus = {
  STORED: 0,
  /** Already held with the same or a later expiry: counts as stored. */
  ALREADY_HELD: 1,
  FULL: 2,
  INVALID: 3,
  /** The owner deleted this record; the tombstone refuses it. */
  DELETED: 4,
  RATE_LIMITED: 5,
  /**
   * Refused: the responder knows 2k or more nodes closer to every location of the key than
   * itself, so it is not among the nodes that should hold it (placement).
   */
  NOT_RESPONSIBLE: 6,
} as const;
export type StoreStatusCode = (typeof StoreStatus)[keyof typeof StoreStatus];

export const DeleteStatus = {
  DELETED: 0,
  /** No record here, tombstone kept so a stale STORE cannot bring it back. */
  NOT_HELD: 1,
  INVALID: 2,
  NOT_OWNER: 3,
  RATE_LIMITED: 4,
  /**
   * The held record was signed later than the delete (a replayed delete, or a record signed with
   * a clock ahead): nothing removed; the reply carries the record's issuedAt so its owner can sign
   * a delete that is not older.
   */
  STALE: 5,
} as const;
export type DeleteStatusCode = (typeof DeleteStatus)[keyof typeof DeleteStatus];

export interface WireContact {
  id: NodeId;
  addresses: PeerAddress[];
}

export interface RecordOwner {
  publicKey: Uint8Array;
  /** Unix seconds at which the owner signed this store; a later delete must not be older. */
  issuedAt: number;
  /** Ed25519 over ("spydht/store/v1", network, key, expiresAt, issuedAt). */
  signature: Uint8Array;
}

export interface WireRecord {
  key: Uint8Array;
  label: Uint8Array;
  content: Uint8Array;
  /** Unix seconds. */
  expiresAt: number;
  owner?: RecordOwner;
  powNonce: Uint8Array;
}

export interface DeleteProof {
  key: Uint8Array;
  publicKey: Uint8Array;
  issuedAt: number;
  /** Ed25519 over ("spydht/delete/v1", network, key, issuedAt). */
  signature: Uint8Array;
  /** Proof of work over the signed delete: what a tombstone for a key not held costs (PROTOCOL.md §9). */
  powNonce: Uint8Array;
}

export type Body =
  | { type: typeof MessageType.PING; pad: number }
  | { type: typeof MessageType.PONG; observed: PeerAddress }
  | { type: typeof MessageType.FIND_NODE; target: NodeId; pad: number }
  | { type: typeof MessageType.NODES; valueWithheld: boolean; contacts: WireContact[] }
  | { type: typeof MessageType.FIND_VALUE; key: Uint8Array; pad: number }
  | { type: typeof MessageType.VALUE; record: WireRecord }
  | { type: typeof MessageType.STORE; record: WireRecord }
  | { type: typeof MessageType.STORE_ACK; status: StoreStatusCode }
  | { type: typeof MessageType.DELETE; proof: DeleteProof }
  /** `heldIssuedAt`: with status STALE only, the held record's issuedAt. */
  | { type: typeof MessageType.DELETE_ACK; status: DeleteStatusCode; heldIssuedAt?: number }
  /** Signaling for a transport link (WebRTC), relayed by a node linked to the target. */
  | { type: typeof MessageType.SIGNAL; target: NodeId; source: NodeId; payload: Uint8Array }
  | { type: typeof MessageType.SIGNAL_ACK; status: SignalStatusCode }
  | { type: typeof MessageType.HELLO }
  | { type: typeof MessageType.FIND_MUTABLE; key: Uint8Array; known: MutableSummary | undefined; pad: number }
  /** `record` (the full copy) or `summary` (the copy is not preferred to the one the asker has). */
  | { type: typeof MessageType.MUTABLE_VALUE; record?: WireMutableRecord; summary?: MutableSummary; contacts: WireContact[] }
  | { type: typeof MessageType.STORE_MUTABLE; cas: number | undefined; record: WireMutableRecord }
  /** `held`: the copy the holder keeps after this store (none: it holds nothing). */
  | { type: typeof MessageType.STORE_MUTABLE_ACK; status: MutableStoreStatusCode; held: MutableSummary | undefined };

export interface Header {
  networkId: Uint8Array;
  flags: number;
  requestId: Uint8Array;
  senderId: NodeId;
  token: Uint8Array;
}

export type Message = Header & Body & { auth?: Auth };

export interface Auth {
  publicKey: Uint8Array;
  signature: Uint8Array;
  /** The bytes the signature covers (everything before the trailer). */
  signed: Uint8Array;
}

export type DecodeResult = { ok: true; message: Message } | { ok: false; error: SpydhtError };

// ---------------------------------------------------------------------------------------------

/**
 * Where every message is assembled before it is copied out: encoding is synchronous, so one buffer
 * serves them all (room for an oversized message, which is then refused).
 */
const SCRATCH = new Uint8Array(2 * MAX_MESSAGE_BYTES);

/** Encodes header and body. The AUTH flag must be set by the caller iff it will append a trailer. */
export function encodeMessage(message: Header & Body): Uint8Array {
  const w = new Writer(SCRATCH);
  w.u8(PROTOCOL_VERSION)
    .fixed(message.networkId, NETWORK_ID_BYTES, 'networkId')
    .u8(message.type)
    .u16(message.flags)
    .fixed(message.requestId, REQUEST_ID_BYTES, 'requestId')
    .fixed(message.senderId, ID_BYTES, 'senderId')
    .fixed(message.token, TOKEN_BYTES, 'token');
  writeBody(w, message);
  const bytes = w.finish();
  const limit = message.flags & Flags.AUTH ? MAX_MESSAGE_BYTES - AUTH_BYTES : MAX_MESSAGE_BYTES;
  if (bytes.length > limit) throw SpydhtError.tooLarge(bytes.length, limit);
  return bytes;
}

export function appendAuth(unsigned: Uint8Array, publicKey: Uint8Array, signature: Uint8Array): Uint8Array {
  const out = new Uint8Array(unsigned.length + AUTH_BYTES);
  out.set(unsigned);
  out.set(publicKey, unsigned.length);
  out.set(signature, unsigned.length + 32);
  return out;
}

function writeBody(w: Writer, b: Body): void {
  switch (b.type) {
    case MessageType.PING:
      writePad(w, b.pad);
      return;
    case MessageType.PONG:
      writeAddress(w, b.observed);
      return;
    case MessageType.FIND_NODE:
      w.fixed(b.target, ID_BYTES, 'target');
      writePad(w, b.pad);
      return;
    case MessageType.NODES:
      if (b.contacts.length > MAX_CONTACTS) throw new RangeError('too many contacts');
      w.u8(b.valueWithheld ? 1 : 0).u8(b.contacts.length);
      for (const c of b.contacts) writeContact(w, c);
      return;
    case MessageType.FIND_VALUE:
      w.fixed(b.key, ID_BYTES, 'key');
      writePad(w, b.pad);
      return;
    case MessageType.VALUE:
    case MessageType.STORE:
      writeRecord(w, b.record);
      return;
    case MessageType.STORE_ACK:
    case MessageType.SIGNAL_ACK:
      w.u8(b.status);
      return;
    case MessageType.DELETE_ACK:
      w.u8(b.status);
      if (b.status === DeleteStatus.STALE) w.u32(b.heldIssuedAt ?? 0);
      return;
    case MessageType.SIGNAL:
      w.fixed(b.target, ID_BYTES, 'target').fixed(b.source, ID_BYTES, 'source').bytes16(b.payload, MAX_SIGNAL_PAYLOAD_BYTES, 'signal payload');
      return;
    case MessageType.HELLO:
      return;
    case MessageType.FIND_MUTABLE:
      writeFindMutable(w, b.key, b.known);
      writePad(w, b.pad);
      return;
    case MessageType.MUTABLE_VALUE:
      writeMutableValue(w, b);
      return;
    case MessageType.STORE_MUTABLE:
      writeStoreMutable(w, b.cas, b.record);
      return;
    case MessageType.STORE_MUTABLE_ACK:
      w.u8(b.status).u8(b.held ? 1 : 0);
      if (b.held) writeSummary(w, b.held);
      return;
    case MessageType.DELETE:
      w.fixed(b.proof.key, ID_BYTES, 'key')
        .fixed(b.proof.publicKey, 32, 'publicKey')
        .u32(b.proof.issuedAt)
        .fixed(b.proof.signature, 64, 'signature')
        .fixed(b.proof.powNonce, POW_NONCE_BYTES, 'pow nonce');
      return;
  }
}

function writePad(w: Writer, pad: number): void {
  if (!Number.isInteger(pad) || pad < 0 || pad > MAX_PAD_BYTES) throw new RangeError('bad pad length');
  w.u16(pad).zeros(pad);
}

export function writeAddress(w: Writer, a: PeerAddress): void {
  w.u8(a.kind).bytes8(a.data, MAX_ADDRESS_BYTES, 'address');
}

function writeContact(w: Writer, c: WireContact): void {
  if (c.addresses.length < 1 || c.addresses.length > MAX_ADDRESSES_PER_CONTACT) {
    throw new RangeError('a contact has 1 to 4 addresses');
  }
  w.fixed(c.id, ID_BYTES, 'contact id').u8(c.addresses.length);
  for (const a of c.addresses) writeAddress(w, a);
}

export function writeRecord(w: Writer, r: WireRecord): void {
  if (r.label.length + r.content.length > MAX_VALUE_BYTES) throw new RangeError('value too large');
  w.fixed(r.key, ID_BYTES, 'key')
    .bytes8(r.label, MAX_LABEL_BYTES, 'label')
    .bytes16(r.content, MAX_VALUE_BYTES, 'content')
    .u32(r.expiresAt)
    .u8(r.owner ? 1 : 0);
  if (r.owner) {
    w.fixed(r.owner.publicKey, 32, 'owner key').u32(r.owner.issuedAt).fixed(r.owner.signature, 64, 'owner signature');
  }
  w.fixed(r.powNonce, POW_NONCE_BYTES, 'pow nonce');
}

// ---------------------------------------------------------------------------------------------

/**
 * Decodes one datagram. Rejects wrong size, version, network, unknown type or flags, truncation,
 * out-of-range fields and trailing bytes with a typed error; never throws.
 */
export function decodeMessage(bytes: Uint8Array, networkId: Uint8Array): DecodeResult {
  if (bytes.length > MAX_MESSAGE_BYTES) return { ok: false, error: SpydhtError.tooLarge(bytes.length, MAX_MESSAGE_BYTES) };
  try {
    const r = new Reader(bytes);
    const version = r.u8('version');
    if (version !== PROTOCOL_VERSION) throw new DecodeFailure(`unsupported protocol version ${version}`);
    const net = r.fixed(NETWORK_ID_BYTES, 'networkId');
    for (let i = 0; i < NETWORK_ID_BYTES; i++) {
      if (net[i] !== networkId[i]) {
        return { ok: false, error: new SpydhtError('WRONG_NETWORK', 'message from another network') };
      }
    }
    const type = r.u8('type');
    const flags = r.u16('flags');
    if (flags & ~KNOWN_FLAGS) throw new DecodeFailure(`unknown flags 0x${flags.toString(16)}`);
    const requestId = r.fixed(REQUEST_ID_BYTES, 'requestId');
    const senderId = r.fixed(ID_BYTES, 'senderId');
    const token = r.fixed(TOKEN_BYTES, 'token');
    // The body object becomes the message (fresh, so no copy of its fields is needed).
    const message = readBody(r, type) as Message;
    message.networkId = net;
    message.flags = flags;
    message.requestId = requestId;
    message.senderId = senderId;
    message.token = token;
    let auth: Auth | undefined;
    if (flags & Flags.AUTH) {
      const signedLength = r.offset;
      const publicKey = r.fixed(32, 'auth public key');
      const signature = r.fixed(64, 'auth signature');
      auth = { publicKey, signature, signed: bytes.subarray(0, signedLength) };
    }
    r.end();
    if (auth) message.auth = auth;
    return { ok: true, message };
  } catch (err) {
    const reason = err instanceof DecodeFailure ? err.message : 'malformed message';
    return { ok: false, error: SpydhtError.decode(reason) };
  }
}

function readBody(r: Reader, type: number): Body {
  switch (type) {
    case MessageType.PING:
      return { type, pad: readPad(r) };
    case MessageType.PONG:
      return { type, observed: readAddress(r) };
    case MessageType.FIND_NODE:
      return { type, target: r.fixed(ID_BYTES, 'target'), pad: readPad(r) };
    case MessageType.NODES: {
      const withheld = r.u8('nodes flags');
      if (withheld > 1) throw new DecodeFailure('bad nodes flags');
      const count = r.u8('contact count');
      if (count > MAX_CONTACTS) throw new DecodeFailure(`more than ${MAX_CONTACTS} contacts`);
      const contacts: WireContact[] = [];
      for (let i = 0; i < count; i++) contacts.push(readContact(r));
      return { type, valueWithheld: withheld === 1, contacts };
    }
    case MessageType.FIND_VALUE:
      return { type, key: r.fixed(ID_BYTES, 'key'), pad: readPad(r) };
    case MessageType.VALUE:
      return { type, record: readRecord(r) };
    case MessageType.STORE:
      return { type, record: readRecord(r) };
    case MessageType.STORE_ACK: {
      const status = r.u8('status');
      if (status > StoreStatus.NOT_RESPONSIBLE) throw new DecodeFailure(`unknown store status ${status}`);
      return { type, status: status as StoreStatusCode };
    }
    case MessageType.DELETE:
      return {
        type,
        proof: {
          key: r.fixed(ID_BYTES, 'key'),
          publicKey: r.fixed(32, 'publicKey'),
          issuedAt: r.u32('issuedAt'),
          signature: r.fixed(64, 'signature'),
          powNonce: r.fixed(POW_NONCE_BYTES, 'pow nonce'),
        },
      };
    case MessageType.DELETE_ACK: {
      const status = r.u8('status');
      if (status > DeleteStatus.STALE) throw new DecodeFailure(`unknown delete status ${status}`);
      if (status === DeleteStatus.STALE) return { type, status, heldIssuedAt: r.u32('heldIssuedAt') };
      return { type, status: status as DeleteStatusCode };
    }
    case MessageType.SIGNAL: {
      const target = r.fixed(ID_BYTES, 'target');
      const source = r.fixed(ID_BYTES, 'source');
      const payload = r.bytes16(MAX_SIGNAL_PAYLOAD_BYTES, 'signal payload');
      if (payload.length === 0) throw new DecodeFailure('empty signal payload');
      return { type, target, source, payload };
    }
    case MessageType.SIGNAL_ACK: {
      const status = r.u8('status');
      if (status > SignalStatus.RATE_LIMITED) throw new DecodeFailure(`unknown signal status ${status}`);
      return { type, status: status as SignalStatusCode };
    }
    case MessageType.HELLO:
      return { type };
    case MessageType.FIND_MUTABLE:
      return { type, ...readFindMutable(r), pad: readPad(r) };
    case MessageType.MUTABLE_VALUE:
      return readMutableValue(r);
    case MessageType.STORE_MUTABLE:
      return { type, ...readStoreMutable(r) };
    case MessageType.STORE_MUTABLE_ACK: {
      const status = readMutableStoreStatus(r);
      const has = r.u8('held flag');
      if (has > 1) throw new DecodeFailure('bad held flag');
      return { type, status, held: has ? readSummary(r) : undefined };
    }
    default:
      throw new DecodeFailure(`unknown message type ${type}`);
  }
}

function readPad(r: Reader): number {
  const len = r.u16('pad length');
  if (len > MAX_PAD_BYTES) throw new DecodeFailure('pad too long');
  const pad = r.fixed(len, 'pad');
  // Zero padding only: any other bytes would be a covert field another implementation might read.
  for (let i = 0; i < pad.length; i++) if (pad[i] !== 0) throw new DecodeFailure('non-zero padding');
  return len;
}

export function readAddress(r: Reader): PeerAddress {
  const kind = r.u8('address kind');
  if (kind === 0) throw new DecodeFailure('address kind 0');
  const data = r.bytes8(MAX_ADDRESS_BYTES, 'address');
  if (data.length === 0) throw new DecodeFailure('empty address');
  return { kind, data };
}

function readContact(r: Reader): WireContact {
  const id = r.fixed(ID_BYTES, 'contact id');
  const n = r.u8('address count');
  if (n < 1 || n > MAX_ADDRESSES_PER_CONTACT) throw new DecodeFailure('a contact has 1 to 4 addresses');
  const addresses: PeerAddress[] = [];
  for (let i = 0; i < n; i++) addresses.push(readAddress(r));
  return { id, addresses };
}

export function readRecord(r: Reader): WireRecord {
  const key = r.fixed(ID_BYTES, 'key');
  const label = r.bytes8(MAX_LABEL_BYTES, 'label');
  const content = r.bytes16(MAX_VALUE_BYTES, 'content');
  if (label.length + content.length > MAX_VALUE_BYTES) throw new DecodeFailure('value too large');
  const expiresAt = r.u32('expiresAt');
  const hasOwner = r.u8('owner flag');
  if (hasOwner > 1) throw new DecodeFailure('bad owner flag');
  const record: WireRecord = { key, label, content, expiresAt, powNonce: new Uint8Array(0) };
  if (hasOwner) {
    record.owner = { publicKey: r.fixed(32, 'owner key'), issuedAt: r.u32('issuedAt'), signature: r.fixed(64, 'owner signature') };
  }
  record.powNonce = r.fixed(POW_NONCE_BYTES, 'pow nonce');
  return record;
}

/** MUTABLE_VALUE: u8 form (0 record, 1 summary) ‖ record or summary ‖ u8 count ‖ contacts. */
function writeMutableValue(w: Writer, b: Extract<Body, { type: typeof MessageType.MUTABLE_VALUE }>): void {
  if ((b.record === undefined) === (b.summary === undefined)) throw new RangeError('a MUTABLE_VALUE carries a record or a summary');
  if (b.contacts.length > MAX_CONTACTS) throw new RangeError('too many contacts');
  if (b.record) writeMutableRecord(w.u8(0), b.record);
  else writeSummary(w.u8(1), b.summary!);
  w.u8(b.contacts.length);
  for (const c of b.contacts) writeContact(w, c);
}

function readMutableValue(r: Reader): Body {
  const form = r.u8('value form');
  if (form > 1) throw new DecodeFailure('bad value form');
  const value = form === 0 ? { record: readMutableRecord(r) } : { summary: readSummary(r) };
  const count = r.u8('contact count');
  if (count > MAX_CONTACTS) throw new DecodeFailure(`more than ${MAX_CONTACTS} contacts`);
  const contacts: WireContact[] = [];
  for (let i = 0; i < count; i++) contacts.push(readContact(r));
  return { type: MessageType.MUTABLE_VALUE, ...value, contacts };
}

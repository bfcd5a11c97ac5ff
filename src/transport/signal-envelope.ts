/**
 * Signed WebRTC signaling envelopes (docs/DESIGN-webrtc.md, "Signaling"):
 *
 *   u8 version ‖ 32 from ‖ 32 to ‖ 32 publicKey ‖ u16 len ‖ json (len bytes) ‖ 64 signature
 *   signature = Ed25519 by `from` over "spydht/signal/v1" ‖ every byte before the signature
 *
 * The JSON is `{t:'offer'|'answer', s, sdp}` or `{t:'candidate', s, candidate, mid?}`, where `s` is
 * the connection's session ID (16 hex digits chosen by the offerer, echoed by the answer and every
 * candidate) so late candidates or answers of an abandoned connection cannot be mistaken for the
 * current one's.
 *
 * Why signed: relays (the bootstrap server, other DHT nodes) forward these bytes. The SDP carries
 * the DTLS certificate fingerprint, so a verified offer/answer binds the DTLS link to the node ID
 * (ID = SHA-256(publicKey)); a relay that swaps the fingerprint to sit in the middle breaks the
 * signature. Parsing never throws: hostile bytes give `{ok: false, error}`.
 */
import { concatBytes, equalBytes, fromUtf8, utf8 } from '../bytes.js';
import { PUBLIC_KEY_BYTES, SIGNATURE_BYTES, type CryptoBackend } from '../crypto/backend.js';
import type { Identity } from '../crypto/identity.js';
import { ID_BYTES, type NodeId } from '../id.js';

export const SIGNAL_VERSION = 1;
/** The engine's SIGNAL request carries at most this many payload bytes. */
export const MAX_SIGNAL_BYTES = 2048;

const TAG = utf8('spydht/signal/v1');
const HEADER_BYTES = 1 + ID_BYTES + ID_BYTES + PUBLIC_KEY_BYTES + 2;
/** Room left for the JSON once the fixed fields fit in MAX_SIGNAL_BYTES (1885 bytes). */
export const MAX_SIGNAL_JSON_BYTES = MAX_SIGNAL_BYTES - HEADER_BYTES - SIGNATURE_BYTES;
/** A single ICE candidate line is ~100 bytes; anything far longer is not one. */
const MAX_CANDIDATE_CHARS = 512;
const MAX_MID_CHARS = 16;
const SESSION_RE = /^[0-9a-f]{16}$/;

export type SignalMessage =
  | { t: 'offer'; s: string; sdp: string }
  | { t: 'answer'; s: string; sdp: string }
  | { t: 'candidate'; s: string; candidate: string; mid?: string };

export interface SignalEnvelope {
  from: NodeId;
  to: NodeId;
  publicKey: Uint8Array;
  message: SignalMessage;
}

export type SignalErrorCode =
  /** Longer than MAX_SIGNAL_BYTES (or, when sealing, the JSON does not fit). */
  | 'TOO_LARGE'
  /** Shorter than its fixed fields, or `len` disagrees with the byte count. */
  | 'TRUNCATED'
  | 'BAD_VERSION'
  /** Not UTF-8 JSON. */
  | 'BAD_JSON'
  /** JSON of the wrong shape: unknown `t`, missing/oversized fields, bad session ID. */
  | 'BAD_MESSAGE'
  /** SHA-256(publicKey) ≠ from. */
  | 'KEY_MISMATCH'
  /** `to` is not the receiving node. */
  | 'NOT_FOR_US'
  | 'BAD_SIGNATURE';

export type SignalResult<T> = { ok: true; value: T } | { ok: false; error: SignalErrorCode };

const fail = (error: SignalErrorCode): { ok: false; error: SignalErrorCode } => ({ ok: false, error });

/** A fresh random session ID in the form SignalMessage.s expects. */
export function newSessionId(crypto: CryptoBackend): string {
  return Array.from(crypto.randomBytes(8), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Builds and signs an envelope from `identity` to `to`. Fails (does not throw) when it would be too large. */
export async function sealSignal(identity: Identity, to: NodeId, message: SignalMessage): Promise<SignalResult<Uint8Array>> {
  if (to.length !== ID_BYTES || !validMessage(message)) return fail('BAD_MESSAGE');
  const json = utf8(JSON.stringify(message));
  if (json.length > MAX_SIGNAL_JSON_BYTES) return fail('TOO_LARGE');
  const head = new Uint8Array(HEADER_BYTES);
  head[0] = SIGNAL_VERSION;
  head.set(identity.id, 1);
  head.set(to, 1 + ID_BYTES);
  head.set(identity.publicKey, 1 + 2 * ID_BYTES);
  head[HEADER_BYTES - 2] = json.length >> 8;
  head[HEADER_BYTES - 1] = json.length & 0xff;
  const signed = concatBytes(head, json);
  const signature = await identity.sign(concatBytes(TAG, signed));
  return { ok: true, value: concatBytes(signed, signature) };
}

/** Parsed but not yet verified: `signed` is what the signature covers (without the tag). */
export interface ParsedSignal extends SignalEnvelope {
  signed: Uint8Array;
  signature: Uint8Array;
}

/** Checks the layout and the JSON only (synchronous, no crypto). */
export function parseSignal(bytes: Uint8Array): SignalResult<ParsedSignal> {
  if (!(bytes instanceof Uint8Array)) return fail('TRUNCATED');
  if (bytes.length > MAX_SIGNAL_BYTES) return fail('TOO_LARGE');
  if (bytes.length < HEADER_BYTES + SIGNATURE_BYTES) return fail('TRUNCATED');
  if (bytes[0] !== SIGNAL_VERSION) return fail('BAD_VERSION');
  const len = (bytes[HEADER_BYTES - 2]! << 8) | bytes[HEADER_BYTES - 1]!;
  if (HEADER_BYTES + len + SIGNATURE_BYTES !== bytes.length) return fail('TRUNCATED');
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(bytes.subarray(HEADER_BYTES, HEADER_BYTES + len)));
  } catch {
    return fail('BAD_JSON');
  }
  const message = toMessage(value);
  if (!message) return fail('BAD_MESSAGE');
  // Copies, so later mutation of the input cannot change what was checked.
  const at = (start: number, n: number): Uint8Array => bytes.slice(start, start + n);
  return {
    ok: true,
    value: {
      from: at(1, ID_BYTES),
      to: at(1 + ID_BYTES, ID_BYTES),
      publicKey: at(1 + 2 * ID_BYTES, PUBLIC_KEY_BYTES),
      message,
      signed: at(0, HEADER_BYTES + len),
      signature: at(HEADER_BYTES + len, SIGNATURE_BYTES),
    },
  };
}

/**
 * Parses and verifies an envelope addressed to `self`: SHA-256(publicKey) = from, to = self, and
 * the signature. Only a successful result may be acted on.
 */
export async function openSignal(crypto: CryptoBackend, self: NodeId, bytes: Uint8Array): Promise<SignalResult<SignalEnvelope>> {
  const parsed = parseSignal(bytes);
  if (!parsed.ok) return parsed;
  const { from, to, publicKey, message, signed, signature } = parsed.value;
  if (!equalBytes(crypto.sha256(publicKey), from)) return fail('KEY_MISMATCH');
  if (!equalBytes(to, self)) return fail('NOT_FOR_US');
  let good = false;
  try {
    good = await crypto.verify(publicKey, concatBytes(TAG, signed), signature);
  } catch {
    good = false;
  }
  return good ? { ok: true, value: { from, to, publicKey, message } } : fail('BAD_SIGNATURE');
}

/** Copies exactly the known fields of a well-formed message; anything else is undefined. */
function toMessage(value: unknown): SignalMessage | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const { t, s } = v;
  if (typeof s !== 'string') return undefined;
  let message: SignalMessage;
  if ((t === 'offer' || t === 'answer') && typeof v.sdp === 'string') {
    message = { t, s, sdp: v.sdp };
  } else if (t === 'candidate' && typeof v.candidate === 'string' && (v.mid === undefined || typeof v.mid === 'string')) {
    message = v.mid === undefined ? { t, s, candidate: v.candidate } : { t, s, candidate: v.candidate, mid: v.mid };
  } else {
    return undefined;
  }
  return validMessage(message) ? message : undefined;
}

function validMessage(m: SignalMessage): boolean {
  if (!SESSION_RE.test(m.s)) return false;
  if (m.t === 'candidate') {
    return m.candidate.length > 0 && m.candidate.length <= MAX_CANDIDATE_CHARS && (m.mid === undefined || m.mid.length <= MAX_MID_CHARS);
  }
  return (m.t === 'offer' || m.t === 'answer') && m.sdp.length > 0;
}

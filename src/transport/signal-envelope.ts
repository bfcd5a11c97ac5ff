/**
 * Signed WebRTC signaling envelopes (docs/DESIGN-webrtc.md, "Signaling"):
 *
 *   u8 version ‖ 32 from ‖ 32 to ‖ 32 publicKey ‖ u16 len ‖ json (len bytes) ‖ 64 signature
 *   signature = Ed25519 by `from` over "spydht/signal/v1" ‖ every byte before the signature
 *
 * The JSON is `{t:'offer'|'answer', s, sdp, c?}` or `{t:'candidates', s, c}`, where `s` is the
 * connection's session ID (16 hex digits chosen by the offerer, echoed by the answer and every
 * candidate batch) so late candidates or answers of an abandoned connection cannot be mistaken for
 * the current one's, and `c` is a list of ICE candidates `{candidate, mid?}`. Candidates ride with
 * the offer/answer when they are gathered in time, else follow in batches: a link usually costs
 * two envelopes, not one per candidate, so relays (the server first of all) carry less.
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
/**
 * A signed envelope is at most this long. (A SIGNAL request may carry up to
 * MAX_SIGNAL_PAYLOAD_BYTES, 3072: the wire leaves room for other transports' signaling; ours fits
 * in 2048 with the candidates of a typical host.)
 */
export const MAX_ENVELOPE_BYTES = 2048;

const TAG = utf8('spydht/signal/v1');
const HEADER_BYTES = 1 + ID_BYTES + ID_BYTES + PUBLIC_KEY_BYTES + 2;
/** Room left for the JSON once the fixed fields fit in MAX_ENVELOPE_BYTES (1885 bytes). */
export const MAX_ENVELOPE_JSON_BYTES = MAX_ENVELOPE_BYTES - HEADER_BYTES - SIGNATURE_BYTES;
/** A single ICE candidate line is ~100 bytes; anything far longer is not one. */
const MAX_CANDIDATE_CHARS = 512;
const MAX_MID_CHARS = 16;
/** Candidates in one envelope at most (the 2048-byte cap usually binds first). */
export const MAX_CANDIDATES_PER_SIGNAL = 16;
const SESSION_RE = /^[0-9a-f]{16}$/;

export interface IceCandidateLine {
  /** The bare "candidate:…" attribute value. */
  candidate: string;
  mid?: string;
}

export type SignalMessage =
  | { t: 'offer'; s: string; sdp: string; c?: IceCandidateLine[] }
  | { t: 'answer'; s: string; sdp: string; c?: IceCandidateLine[] }
  | { t: 'candidates'; s: string; c: IceCandidateLine[] };

export type DescriptionMessage = Extract<SignalMessage, { t: 'offer' | 'answer' }>;

export interface SignalEnvelope {
  from: NodeId;
  to: NodeId;
  publicKey: Uint8Array;
  message: SignalMessage;
}

export type SignalErrorCode =
  /** Longer than MAX_ENVELOPE_BYTES (or, when sealing, the JSON does not fit). */
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

/** Whether a message fits one envelope. */
export function fitsEnvelope(message: SignalMessage): boolean {
  return utf8(JSON.stringify(message)).length <= MAX_ENVELOPE_JSON_BYTES;
}

/**
 * Packs an offer/answer (optional) and candidates into as few envelopes as fit: the description
 * first, carrying as many candidates as fit beside it, then `candidates` batches. The description
 * is never split or dropped; a candidate that cannot fit even alone is left out (none is that long).
 */
export function packSignals(session: string, description: DescriptionMessage | undefined, candidates: readonly IceCandidateLine[]): SignalMessage[] {
  const out: SignalMessage[] = [];
  let current: SignalMessage | undefined = description ? { ...description } : undefined;
  const add = (c: IceCandidateLine): boolean => {
    if (!current) return false;
    const list = current.c ?? [];
    if (list.length >= MAX_CANDIDATES_PER_SIGNAL) return false;
    const next = { ...current, c: [...list, c] };
    if (!fitsEnvelope(next)) return false;
    current = next;
    return true;
  };
  for (const c of candidates) {
    if (add(c)) continue;
    if (current) out.push(current);
    current = { t: 'candidates', s: session, c: [] };
    if (!add(c)) current = undefined;
  }
  if (current && (current.t !== 'candidates' || current.c.length > 0)) out.push(current);
  return out;
}

/** Builds and signs an envelope from `identity` to `to`. Fails (does not throw) when it would be too large. */
export async function sealSignal(identity: Identity, to: NodeId, message: SignalMessage): Promise<SignalResult<Uint8Array>> {
  if (to.length !== ID_BYTES || !validMessage(message)) return fail('BAD_MESSAGE');
  const json = utf8(JSON.stringify(message));
  if (json.length > MAX_ENVELOPE_JSON_BYTES) return fail('TOO_LARGE');
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
  if (bytes.length > MAX_ENVELOPE_BYTES) return fail('TOO_LARGE');
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
  const c = v.c === undefined ? undefined : toCandidates(v.c);
  if (v.c !== undefined && !c) return undefined;
  let message: SignalMessage;
  if ((t === 'offer' || t === 'answer') && typeof v.sdp === 'string') {
    message = c ? { t, s, sdp: v.sdp, c } : { t, s, sdp: v.sdp };
  } else if (t === 'candidates' && c) {
    message = { t, s, c };
  } else {
    return undefined;
  }
  return validMessage(message) ? message : undefined;
}

function toCandidates(value: unknown): IceCandidateLine[] | undefined {
  if (!Array.isArray(value) || value.length > MAX_CANDIDATES_PER_SIGNAL) return undefined;
  const out: IceCandidateLine[] = [];
  for (const item of value) {
    if (typeof item !== 'object' || item === null) return undefined;
    const { candidate, mid } = item as Record<string, unknown>;
    if (typeof candidate !== 'string' || (mid !== undefined && typeof mid !== 'string')) return undefined;
    out.push(mid === undefined ? { candidate } : { candidate, mid });
  }
  return out;
}

function validCandidate(c: IceCandidateLine): boolean {
  return c.candidate.length > 0 && c.candidate.length <= MAX_CANDIDATE_CHARS && (c.mid === undefined || c.mid.length <= MAX_MID_CHARS);
}

function validMessage(m: SignalMessage): boolean {
  if (!SESSION_RE.test(m.s)) return false;
  if (m.c !== undefined && (m.c.length > MAX_CANDIDATES_PER_SIGNAL || !m.c.every(validCandidate))) return false;
  if (m.t === 'candidates') return m.c.length > 0;
  return (m.t === 'offer' || m.t === 'answer') && m.sdp.length > 0;
}

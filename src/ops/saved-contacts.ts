/**
 * Saved contacts: the verified contacts a node writes down before it stops, so that it can rejoin
 * through them next time, even when its bootstrap addresses are gone. The list is plain JSON
 * (`SavedContact[]`), so it can go to a file, localStorage or anywhere else text can.
 *
 * A saved contact is only a hint: joining pings it like a bootstrap address, and it enters the
 * routing table only through that verified round trip (an edited file can waste pings, never
 * plant a contact).
 */
import { fromHex, toHex } from '../bytes.js';
import { SpydhtError } from '../errors.js';
import { ID_BYTES, type NodeId } from '../id.js';
import type { Contact } from '../routing/contact.js';
import { MAX_ADDRESS_BYTES, type PeerAddress } from '../wire/address.js';

/** A saved list holds at most this many contacts: a handful answering is enough to rejoin. */
export const MAX_SAVED_CONTACTS = 64;
/** Addresses kept per contact (a node speaks a few transports, not more). */
export const MAX_SAVED_ADDRESSES = 4;

/** One address in serialisable form: the transport's address kind (PROTOCOL.md §1) and its bytes in hex. */
export interface SavedAddress {
  /** AddressKind: 1 UDP (ip ‖ port), 3 WebRTC (the node ID), … */
  kind: number;
  /** The address bytes, lowercase hex. */
  data: string;
}

/** A verified contact as `DHT.exportContacts()` writes it; JSON-serialisable as it is. */
export interface SavedContact {
  /** The contact's node ID, 64 hex digits. */
  id: string;
  /** Where it answered, the verified address first. Only transports that are advertised (never the private WebSocket link). */
  addresses: SavedAddress[];
  /** When it was last heard from: ms on the node's clock (Unix ms with the real clock). */
  lastSeen: number;
}

/** A saved contact decoded for joining. */
export interface ParsedContact {
  id: NodeId;
  addresses: PeerAddress[];
  lastSeen: number;
}

/**
 * Picks at most `max` contacts to save: the freshest of each bucket first, taking one bucket at a
 * time round-robin, so the list spans the ID space (a rejoin's lookups start from every region)
 * rather than being all from the crowded far buckets. Freshest first in the result.
 */
export function selectContacts(contacts: readonly Contact[], bucketOf: (id: NodeId) => number, max = MAX_SAVED_CONTACTS): Contact[] {
  const buckets = new Map<number, Contact[]>();
  for (const c of contacts) {
    const b = bucketOf(c.id);
    const list = buckets.get(b);
    if (list) list.push(c);
    else buckets.set(b, [c]);
  }
  const queues = [...buckets.values()].map((list) => list.sort((a, b) => b.lastSeen - a.lastSeen));
  const picked: Contact[] = [];
  for (let round = 0; picked.length < max && queues.some((q) => q.length > round); round++) {
    for (const q of queues) {
      if (picked.length >= max) break;
      const c = q[round];
      if (c) picked.push(c);
    }
  }
  return picked.sort((a, b) => b.lastSeen - a.lastSeen);
}

/** A contact in saved form, keeping only the addresses `keep` accepts. */
export function toSaved(c: Contact, keep: (a: PeerAddress) => boolean): SavedContact | undefined {
  const addresses = c.addresses.filter(keep).slice(0, MAX_SAVED_ADDRESSES);
  if (addresses.length === 0) return undefined;
  return { id: toHex(c.id), addresses: addresses.map((a) => ({ kind: a.kind, data: toHex(a.data) })), lastSeen: c.lastSeen };
}

const HEX = /^(?:[0-9a-f]{2})+$/;

/**
 * Checks and decodes a saved list (what `exportContacts()` returned, possibly after a JSON round
 * trip). Throws SpydhtError INVALID_ARGUMENT naming the first problem: not an array, more than
 * MAX_SAVED_CONTACTS, a bad ID, address or lastSeen.
 */
export function parseSavedContacts(input: unknown): ParsedContact[] {
  const bad = (why: string): SpydhtError => SpydhtError.invalidArgument(`saved contacts: ${why}`);
  if (!Array.isArray(input)) throw bad('expected an array (what exportContacts() returns)');
  if (input.length > MAX_SAVED_CONTACTS) throw bad(`at most ${MAX_SAVED_CONTACTS} contacts, got ${input.length}`);
  return input.map((entry: unknown, i): ParsedContact => {
    if (entry === null || typeof entry !== 'object') throw bad(`contact ${i} is not an object`);
    const { id, addresses, lastSeen } = entry as Record<string, unknown>;
    if (typeof id !== 'string' || id.length !== ID_BYTES * 2 || !HEX.test(id)) throw bad(`contact ${i}: id must be ${ID_BYTES * 2} lowercase hex digits`);
    if (typeof lastSeen !== 'number' || !Number.isFinite(lastSeen) || lastSeen < 0) throw bad(`contact ${i}: lastSeen must be a number ≥ 0`);
    if (!Array.isArray(addresses) || addresses.length === 0 || addresses.length > MAX_SAVED_ADDRESSES) {
      throw bad(`contact ${i}: addresses must be an array of 1 to ${MAX_SAVED_ADDRESSES}`);
    }
    const parsed = addresses.map((a: unknown, j): PeerAddress => {
      const { kind, data } = (a ?? {}) as Record<string, unknown>;
      if (typeof kind !== 'number' || !Number.isInteger(kind) || kind < 1 || kind > 255) throw bad(`contact ${i} address ${j}: kind must be an integer 1–255`);
      if (typeof data !== 'string' || !HEX.test(data) || data.length > MAX_ADDRESS_BYTES * 2) {
        throw bad(`contact ${i} address ${j}: data must be 1 to ${MAX_ADDRESS_BYTES} bytes of lowercase hex`);
      }
      return { kind, data: fromHex(data) };
    });
    return { id: fromHex(id), addresses: parsed, lastSeen };
  });
}

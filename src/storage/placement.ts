/**
 * Where a key's replicas live, and whether this node is plausibly one of them.
 *
 * Locations. Each key is stored at REPLICA_LOCATIONS independent points of the ID space: the key
 * itself and SHA-256("spydht/location/v1" ‖ key ‖ u8 i) for i ≥ 1, with the usual k replicas at
 * each. Node IDs can be ground to sit next to one point (the ID puzzle is the only cost), but the
 * points are unrelated to each other, so eclipsing a key means grinding k IDs next to every one
 * of them (PROTOCOL.md §9, SECURITY.md "Storage").
 *
 * Placement. A node accepts a STORE only when, for some location of the key, fewer than
 * PLACEMENT_SLACK × k of its routing contacts are closer to that location than itself. Why the
 * slack (2k rather than k) is safe:
 * - Every contact counted is a node whose key this node verified, so a high count is evidence,
 *   never a guess: a node refuses only when it knows 2k real nodes nearer than itself.
 * - A sparse table (a young node, a small swarm) knows fewer nodes than exist, which can only
 *   lower the count: it errs toward accepting, never toward refusing what it should hold.
 * - Churn leaves departed nodes in tables for a while; up to k of the 2k closer contacts may be
 *   gone and the node still accepts. A node that should hold a key (one of the live k closest)
 *   knows, by Kademlia's own invariant, almost every node nearer than itself, so it counts fewer
 *   than k of them, not 2k.
 * The price of the slack: a key is accepted by about 2k nodes per location rather than k, so one
 * proof of work buys storage on at most ~2k × REPLICA_LOCATIONS nodes, not on all of them.
 */
import { concatBytes, utf8 } from '../bytes.js';
import type { CryptoBackend } from '../crypto/backend.js';
import { compareDistance, type NodeId } from '../id.js';
import type { Contact } from '../routing/contact.js';

/** Independent points per key, each with k replicas. */
export const REPLICA_LOCATIONS = 2;
/** A node holds a key when fewer than PLACEMENT_SLACK × k known contacts are closer to a location. */
export const PLACEMENT_SLACK = 2;

const LOCATION_TAG = utf8('spydht/location/v1');

/** The key's replica locations; the first is the key itself. */
export function replicaLocations(crypto: CryptoBackend, key: Uint8Array): NodeId[] {
  const out: NodeId[] = [key];
  for (let i = 1; i < REPLICA_LOCATIONS; i++) out.push(crypto.sha256(concatBytes(LOCATION_TAG, key, new Uint8Array([i]))));
  return out;
}

/** The routing table as placement needs it. */
export interface ClosestContacts {
  readonly k: number;
  closest(target: NodeId, count: number): Contact[];
}

/** How many known contacts are closer to `location` than `selfId`, counting up to `limit`. */
export function contactsCloser(table: ClosestContacts, selfId: NodeId, location: NodeId, limit: number): number {
  let n = 0;
  // closest() returns contacts nearest first: stop at the first one not closer than this node.
  for (const c of table.closest(location, limit)) {
    if (compareDistance(c.id, selfId, location) >= 0) break;
    n++;
  }
  return n;
}

/** This node is plausibly among the nodes that should hold `location` (see the file comment). */
export function responsibleFor(table: ClosestContacts, selfId: NodeId, location: NodeId): boolean {
  const limit = PLACEMENT_SLACK * table.k;
  return contactsCloser(table, selfId, location, limit) < limit;
}

/** The locations of `key` this node is plausibly responsible for (none: refuse a STORE). */
export function responsibleLocations(crypto: CryptoBackend, table: ClosestContacts, selfId: NodeId, key: Uint8Array): NodeId[] {
  return replicaLocations(crypto, key).filter((loc) => responsibleFor(table, selfId, loc));
}

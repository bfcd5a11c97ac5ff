/**
 * Where a key's replicas live, and whether this node is plausibly one of them.
 *
 * Locations. Each key is stored at REPLICA_LOCATIONS independent points of the ID space: the key
 * itself and, for i ≥ 1, SHA-256("spydht/location/v2" ‖ key ‖ u8 i) with its first bit set to
 * the opposite of the key's, with the usual k replicas at each. Node IDs can be ground to sit next
 * to one point (the ID puzzle is the only cost), but the points are unrelated to each other, so
 * eclipsing a key means grinding k IDs next to every one of them (PROTOCOL.md §9, SECURITY.md
 * "Storage"). Why the opposite half: a plain hash shares n leading bits with the key once in 2^n,
 * and then the IDs ground next to the key are among the nodes nearest the other location too, and
 * take the room in readers' table buckets toward it (young buckets have room): their lookups there
 * met only the attackers (one key in eight lost ≥ 10 % of its gets). In the opposite half, the
 * ground IDs are farther from that location than every node of its half, and in no table do they
 * share a bucket with it.
 *
 * Placement. A node accepts a STORE only when, for some location of the key, fewer than
 * PLACEMENT_SLACK × k nodes are closer to that location than itself, as far as it can tell: the
 * routing contacts it knows to be closer, or, when the location lies in one of its full buckets
 * far from its own neighbourhood, the nodes that bucket's region must hold. (Every node of bucket i
 * is closer to a location in bucket i than the node itself, but a bucket keeps only k of them:
 * counting known contacts alone, a node far from a key still counts fewer than 2k closer about
 * once in 2^(full buckets deeper than i) and accepts, which lets a key land on ~k × log2(N/k) / 2
 * nodes. The region of bucket i holds about k × 2^(b − i − 1) nodes, b the bits the node shares
 * with its k-th closest contact; half of that is counted, so a true holder, for which fewer than k
 * nodes lie closer, is refused only if that region holds under a quarter of its expected count.)
 * Why the slack (2k rather than k) is safe:
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
import { commonPrefixLength, type NodeId } from '../id.js';

/** Independent points per key, each with k replicas. */
export const REPLICA_LOCATIONS = 2;
/** A node holds a key when fewer than PLACEMENT_SLACK × k known contacts are closer to a location. */
export const PLACEMENT_SLACK = 2;

const LOCATION_TAG = utf8('spydht/location/v2');

/** The key's replica locations; the first is the key itself. */
export function replicaLocations(crypto: CryptoBackend, key: Uint8Array): NodeId[] {
  const out: NodeId[] = [key];
  for (let i = 1; i < REPLICA_LOCATIONS; i++) {
    const loc = crypto.sha256(concatBytes(LOCATION_TAG, key, new Uint8Array([i])));
    // The half of the ID space the key is not in (see the file comment).
    loc[0] = (loc[0]! & 0x7f) | (~key[0]! & 0x80);
    out.push(loc);
  }
  return out;
}

/** The routing table as placement needs it. */
export interface ClosestContacts {
  readonly k: number;
  readonly localId: NodeId;
  bucketSize(index: number): number;
  /** Bits shared with the k-th closest contact (undefined with fewer than k contacts). */
  neighbourhoodBits(): number | undefined;
  /** Known contacts closer to `target` than this node, counted up to `limit`. */
  countCloserThanSelf(target: NodeId, limit: number): number;
}

/**
 * Nodes that must lie closer to `location` than this node, by its own neighbourhood's density:
 * half the expected population of the location's bucket region when that bucket is full, else 0.
 */
export function estimatedCloser(table: ClosestContacts, selfId: NodeId, location: NodeId): number {
  const bits = table.neighbourhoodBits();
  const index = commonPrefixLength(selfId, location);
  if (bits === undefined || index >= bits || table.bucketSize(index) < table.k) return 0;
  return table.k * 2 ** Math.min(30, bits - index - 2);
}

/** This node is plausibly among the nodes that should hold `location` (see the file comment). */
export function responsibleFor(table: ClosestContacts, location: NodeId): boolean {
  const limit = PLACEMENT_SLACK * table.k;
  return estimatedCloser(table, table.localId, location) < limit && table.countCloserThanSelf(location, limit) < limit;
}

/** The locations of `key` this node is plausibly responsible for (none: refuse a STORE). */
export function responsibleLocations(crypto: CryptoBackend, table: ClosestContacts, key: Uint8Array): NodeId[] {
  return replicaLocations(crypto, key).filter((loc) => responsibleFor(table, loc));
}

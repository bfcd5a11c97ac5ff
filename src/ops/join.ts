/**
 * Joining: ping the bootstrap addresses (which admits them and makes them entry peers), look up our
 * own ID, then refresh the buckets nearer the root than our closest neighbour (Kademlia's join), so
 * the table covers the whole ID space from the start.
 */
import { SpydhtError } from '../errors.js';
import { randomIdInBucket } from '../id.js';
import type { PeerAddress } from '../wire/address.js';
import { MessageType } from '../wire/messages.js';
import type { OpContext } from './context.js';

/** Bucket refresh lookups at join, at most (depth of the closest neighbour is ~log2(N/k)). */
const MAX_JOIN_REFRESHES = 16;
/** Extra self-lookups when the first one reached nobody new. */
const JOIN_LOOKUP_RETRIES = 2;
/** A join refresh converges on this many nodes: enough to seed a bucket, a third of the traffic of k. */
const JOIN_REFRESH_K = 8;
/** Transmissions of each bootstrap ping. */
const BOOTSTRAP_PING_ATTEMPTS = 4;

/** Joins through `addresses`; resolves with the routing table's size. */
export async function join(ctx: OpContext, addresses: readonly PeerAddress[], signal: AbortSignal): Promise<number> {
  const { rpc, table, lookups, peers, identity } = ctx;
  const pings = await Promise.allSettled(
    addresses.map(async (address) => {
      const reply = await rpc.request(address, { type: MessageType.PING, pad: 0 }, { attempts: BOOTSTRAP_PING_ATTEMPTS, signal });
      peers.addEntryPeer({ id: reply.message.senderId, address });
    }),
  );
  const answered = pings.filter((p) => p.status === 'fulfilled').length;
  if (answered === 0 && table.size === 0) {
    throw new SpydhtError('BOOTSTRAP_FAILED', `no bootstrap node answered (${addresses.length} tried)`);
  }
  // On a lossy path every answer to the first lookup can be lost; a join that learned nothing
  // beyond its bootstrap nodes tries again rather than leaving the node nearly alone.
  let self = await lookups.nodes(identity.id, signal);
  for (let retry = 0; retry < JOIN_LOOKUP_RETRIES && self.closest.length <= answered; retry++) {
    self = await lookups.nodes(identity.id, signal);
  }
  // Refresh every bucket nearer the root than our closest neighbour that is less than half full.
  const nearest = self.closest[0];
  const depth = nearest ? table.bucketIndex(nearest.id) : 0;
  const refreshes: Promise<unknown>[] = [];
  for (let i = 0; i < Math.min(depth, MAX_JOIN_REFRESHES); i++) {
    if (table.bucketSize(i) >= ctx.k / 2) continue;
    table.markRefreshed(i);
    const target = randomIdInBucket(identity.id, i, ctx.crypto.randomBytes(32));
    refreshes.push(lookups.nodes(target, signal, JOIN_REFRESH_K).catch(() => {}));
  }
  await Promise.all(refreshes);
  return table.size;
}

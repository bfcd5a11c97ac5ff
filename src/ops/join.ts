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
/**
 * A join refresh wants a few verified contacts in a bucket nearer the root, not convergence: it
 * stops after JOIN_REFRESH_QUERIES queries, each answer admitting its sender. A bucket that already
 * holds JOIN_REFRESH_ENOUGH contacts is left alone; the rest fill as others' lookups reach us.
 */
const JOIN_REFRESH_QUERIES = Number(process.env.SPYDHT_RQ ?? 4);
const JOIN_REFRESH_ENOUGH = Number(process.env.SPYDHT_RE ?? 4);
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
  // Refresh the buckets nearer the root than our closest neighbour.
  const nearest = self.closest[0];
  const depth = nearest ? table.bucketIndex(nearest.id) : 0;
  const refreshes: Promise<unknown>[] = [];
  for (let i = 0; i < Math.min(depth, MAX_JOIN_REFRESHES); i++) {
    if (table.bucketSize(i) >= JOIN_REFRESH_ENOUGH) continue;
    table.markRefreshed(i);
    const target = randomIdInBucket(identity.id, i, ctx.crypto.randomBytes(32));
    refreshes.push(lookups.nodes(target, signal, { k: JOIN_REFRESH_ENOUGH, maxQueries: JOIN_REFRESH_QUERIES }).catch(() => {}));
  }
  await Promise.all(refreshes);
  return table.size;
}

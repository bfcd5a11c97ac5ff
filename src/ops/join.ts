/**
 * Joining: ping the bootstrap addresses and any saved contacts (a verified reply admits them; the
 * bootstrap nodes also become entry peers), look up our own ID, then refresh the buckets nearer the
 * root than our closest neighbour (Kademlia's join), so the table covers the whole ID space from
 * the start. A refresh asks strangers the self-lookup's replies named in that bucket when there
 * are any: every query is then a verified round trip with a node that can enter the bucket.
 */
import { SpydhtError } from '../errors.js';
import { compareDistance, equalIds, idKey, randomIdInBucket, type NodeId } from '../id.js';
import type { LookupPeer } from '../lookup/lookup.js';
import type { PeerAddress } from '../wire/address.js';
import { MessageType } from '../wire/messages.js';
import type { OpContext } from './context.js';
import type { ParsedContact } from './saved-contacts.js';

/** Bucket refresh lookups at join, at most (depth of the closest neighbour is ~log2(N/k)). */
const MAX_JOIN_REFRESHES = 16;
/**
 * Extra self-lookups when the first one reached nobody new, or lost some of its queries and left
 * fewer than k contacts (at 10 % loss a join could end with 3 contacts where the others had 20+).
 */
const JOIN_LOOKUP_RETRIES = 2;
/**
 * A join refresh makes sure a bucket nearer the root is not empty, Kademlia's guarantee that
 * every part of the ID space can be reached from here; it does not try to fill it. A bucket that
 * already holds a contact is left alone, and the rest of every bucket fills as others' requests
 * and HELLOs reach us and as maintenance refreshes it. (Asking for 4 contacts per bucket cost 18
 * more datagrams per join at N = 2,000, 104 against 86, for the same gets: BENCHMARKS.md.)
 * Without a stranger heard of in that bucket, a refresh asks one contact elsewhere first (α = 1):
 * it is in the table already and earns nothing itself, but its reply lists strangers in that
 * bucket, and the next query goes to the closest of them; at most JOIN_REFRESH_QUERIES in all.
 */
const JOIN_REFRESH_QUERIES = 3;
const JOIN_REFRESH_ALPHA = 1;
const JOIN_REFRESH_ENOUGH = 1;
/** Strangers kept per bucket from the self-lookup's replies. */
const HEARD_PER_BUCKET = 4;
/**
 * A refresh seeded with such strangers asks one, the nearest its target: its answer puts it in the
 * bucket. If it does not answer (gone, or its reply lost), the bucket is still empty and the join
 * tries once more with another.
 */
const HEARD_REFRESH_QUERIES = 1;
/** Transmissions of each bootstrap ping. */
const BOOTSTRAP_PING_ATTEMPTS = 4;
/** Saved contacts pinged at once: most answer when the list is fresh, so a wave rarely waits on the dead. */
const CONTACT_WAVE = 8;
/** Saved contacts that answered before the rest are left unpinged: enough to seed the self-lookup, which finds the others. */
const CONTACTS_ENOUGH = 3;
/** Transmissions of each saved-contact ping (fewer than a bootstrap's: a dead one is expected). */
const CONTACT_PING_ATTEMPTS = 2;

/**
 * Joins through `addresses` and the `saved` contacts; resolves with the routing table's size.
 * Saved contacts go first when they answer, the join does not wait for the bootstrap addresses
 * (they may be down: that is what saved contacts are for); the bootstrap pings still go out, and
 * any that answers becomes an entry peer.
 */
export async function join(ctx: OpContext, addresses: readonly PeerAddress[], signal: AbortSignal, saved: readonly ParsedContact[] = []): Promise<number> {
  const { rpc, table, lookups, peers, identity } = ctx;
  const bootstrap = Promise.allSettled(
    addresses.map(async (address) => {
      const reply = await rpc.request(address, { type: MessageType.PING, pad: 0 }, { attempts: BOOTSTRAP_PING_ATTEMPTS, signal });
      peers.addEntryPeer({ id: reply.message.senderId, address });
    }),
  ).then((pings) => pings.filter((p) => p.status === 'fulfilled').length);
  bootstrap.catch(() => {});

  // Each saved contact at its first address one of our transports reaches; freshest first.
  const usable = [...saved]
    .filter((c) => !equalIds(c.id, identity.id) && !table.has(c.id))
    .sort((a, b) => b.lastSeen - a.lastSeen)
    .flatMap((c) => {
      const address = c.addresses.find((a) => rpc.canReach(a));
      return address ? [address] : [];
    });
  // Addresses reached through signaling (WebRTC) need a relay that is linked to the contact: ping
  // them once the direct ones (or, failing those, the bootstrap nodes) have given us one.
  const direct = usable.filter((a) => !rpc.needsSignaling(a));
  const signalled = usable.filter((a) => rpc.needsSignaling(a));
  let contacts = await pingInWaves(ctx, direct, 0, signal);
  if (signalled.length > 0 && contacts < CONTACTS_ENOUGH) {
    if (contacts === 0) await bootstrap;
    contacts = await pingInWaves(ctx, signalled, contacts, signal);
  }
  if (contacts > 0) ctx.count('joinedFromSavedContacts');
  // Without a saved contact that answered, the join rests on the bootstrap nodes.
  const answered = contacts > 0 ? contacts : await bootstrap;
  if (answered === 0 && table.size === 0) {
    throw new SpydhtError('BOOTSTRAP_FAILED', `no bootstrap node answered (${addresses.length} tried${usable.length ? `, and none of ${usable.length} saved contacts` : ''})`);
  }
  // On a lossy path every answer to the first lookup can be lost; a join that learned nothing
  // beyond its bootstrap nodes tries again rather than leaving the node nearly alone.
  // The self-lookup's replies name strangers all over the ID space: kept by bucket, they seed the
  // refreshes below, whose every query then goes to a node that can enter that bucket.
  const heard = new Map<number, LookupPeer[]>();
  const onCandidate = (peer: LookupPeer): void => {
    const i = table.bucketIndex(peer.id);
    const list = heard.get(i);
    if (!list) heard.set(i, [peer]);
    else if (list.length < HEARD_PER_BUCKET) list.push(peer);
  };
  let self = await lookups.nodes(identity.id, signal, { onCandidate });
  const poor = (r: typeof self): boolean => r.closest.length <= answered || (table.size < ctx.k && r.responded < r.queried);
  for (let retry = 0; retry < JOIN_LOOKUP_RETRIES && poor(self); retry++) {
    self = await lookups.nodes(identity.id, signal, { onCandidate });
  }
  // Refresh the buckets nearer the root than our closest neighbour, down to the bucket of the
  // farthest of the k closest: a bucket deeper than that holds nodes nearer to us than the k-th
  // closest, all of which the self-lookup has just asked (a refresh there re-asked the same nodes).
  const nearest = self.closest[0];
  const depth = nearest ? table.bucketIndex(nearest.id) : 0;
  const kth = self.closest.length >= ctx.k ? self.closest[self.closest.length - 1] : undefined;
  const deepest = kth ? Math.min(depth, table.bucketIndex(kth.id) + 1) : depth;
  // Strangers heard of in a bucket are asked directly; without any, a contact elsewhere is asked
  // first for some (it earns nothing itself: it is in the table already).
  const asked = new Set<string>();
  const refresh = (i: number): Promise<unknown> => {
    table.markRefreshed(i);
    const target = randomIdInBucket(identity.id, i, ctx.crypto.randomBytes(32));
    const strangers = (heard.get(i) ?? []).filter((p) => !table.has(p.id) && !asked.has(idKey(p.id)));
    const mode =
      strangers.length > 0
        ? { k: JOIN_REFRESH_ENOUGH, maxQueries: HEARD_REFRESH_QUERIES, alpha: HEARD_REFRESH_QUERIES, seeds: strangers }
        : { k: JOIN_REFRESH_ENOUGH, maxQueries: JOIN_REFRESH_QUERIES, alpha: JOIN_REFRESH_ALPHA };
    // The one asked is the stranger nearest the target: not asked again by a second try.
    if (strangers.length > 0) asked.add(idKey(closestTo(target, strangers).id));
    return lookups.nodes(target, signal, mode).catch(() => {});
  };
  const empty = (): number[] => {
    const out: number[] = [];
    for (let i = 0; i < Math.min(deepest, MAX_JOIN_REFRESHES); i++) if (table.bucketSize(i) < JOIN_REFRESH_ENOUGH) out.push(i);
    return out;
  };
  await Promise.all(empty().map(refresh));
  // On a lossy path a single query fails often (a stranger's retry may not be affordable: its
  // address has not proven it receives), and its bucket stays empty: one more try for each.
  await Promise.all(empty().map(refresh));
  return table.size;
}

/**
 * Pings `addresses` a wave at a time until `CONTACTS_ENOUGH` have answered in all (counting
 * `answered` so far); a verified reply admits the contact. A wave ends as soon as enough have
 * answered: the join does not wait out the timeouts of contacts that left (the rest of the
 * wave's pings still finish, and admit whoever answers late). Resolves with the new total.
 */
async function pingInWaves(ctx: OpContext, addresses: readonly PeerAddress[], answered: number, signal: AbortSignal): Promise<number> {
  for (let i = 0; i < addresses.length && answered < CONTACTS_ENOUGH; i += CONTACT_WAVE) {
    signal.throwIfAborted();
    const wave = addresses.slice(i, i + CONTACT_WAVE);
    answered = await new Promise<number>((resolve) => {
      let total = answered;
      let settled = 0;
      for (const address of wave) {
        ctx.rpc
          .request(address, { type: MessageType.PING, pad: 0 }, { attempts: CONTACT_PING_ATTEMPTS, signal })
          .then(
            () => void total++,
            () => {},
          )
          .finally(() => {
            settled++;
            if (total >= CONTACTS_ENOUGH || settled === wave.length) resolve(total);
          });
      }
    });
  }
  return answered;
}

function closestTo(target: NodeId, peers: readonly LookupPeer[]): LookupPeer {
  return peers.reduce((best, p) => (compareDistance(p.id, best.id, target) < 0 ? p : best));
}

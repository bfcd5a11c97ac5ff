/**
 * Putting a record: solve its proof of work while finding the k closest nodes to each replica
 * location of its key (storage/placement.ts), then STORE it on each (keeping a copy here when this node is among
 * them). Republishing and the bridge proxy reuse `replicate`; maintenance hands records to new
 * close nodes with `storeAt`.
 */
import type { Identity } from '../crypto/identity.js';
import { SpydhtError } from '../errors.js';
import { compareDistance, idKey, type NodeId } from '../id.js';
import { ipPrefix } from '../ip-prefix.js';
import type { LookupPeer } from '../lookup/lookup.js';
import { locationMode } from '../lookup/lookups.js';
import type { HelloHold } from '../rpc/rpc.js';
import { replicaLocations } from '../storage/placement.js';
import { checkRecordSizes, createRecord, recordKey } from '../storage/record.js';
import { LOCAL_SENDER } from '../storage/store.js';
import { MessageType, StoreStatus, type StoreStatusCode, type WireRecord } from '../wire/messages.js';
import { proxyPut } from './bridge.js';
import { nowSeconds, type OpContext } from './context.js';

/** Transmissions of each STORE. */
const STORE_ATTEMPTS = 3;
/** Replicas one IP prefix (/24, /64) may hold at one location, by default. */
export const MAX_HOLDERS_PER_PREFIX = 2;

/**
 * Replicas one prefix may hold at one location, given how many routing entries a table allows one
 * prefix (`maxPerPrefix`, default 4): 2 by default; half that bound when a deployment raised it
 * (a swarm on one private network, where every member shares a /24, would otherwise store each
 * value on 4 nodes whatever its size). Raising `maxPerPrefix` already says one prefix is trusted
 * with that many routing entries; the replicas follow it.
 */
export function holdersPerPrefix(maxPerPrefix: number): number {
  return Math.max(MAX_HOLDERS_PER_PREFIX, Math.floor(maxPerPrefix / 2));
}
/** Holders found before a proof of work that took longer than this are looked up again. */
const STALE_HOLDERS_MS = 30_000;
/** Distinct holders a put needs: one ack alone may come from a node that drops the record. */
export const MIN_HOLDERS = 2;

export interface PublishInput {
  label: Uint8Array;
  content: Uint8Array;
  ttlSeconds: number;
  /** Who may delete it; undefined: nobody. */
  owner: Identity | undefined;
}

export interface Published {
  record: WireRecord;
  /** Distinct nodes that confirmed the store, over every replica location (this one included when it is a holder). */
  stored: number;
  /** Distinct IP prefixes (/24, /64) among them; nodes whose address carries no IP count as their own prefix. */
  prefixes: number;
}

/**
 * Creates the record (proof of work, owner signature) and stores it at every replica location of
 * its key. The key is known before the proof of work (it hashes the label, content and owner, not
 * the nonce), so the lookups of the holders run while the work is solved: a put takes the longer
 * of the two, then its STOREs, instead of their sum (with a worker solver, as browsers have, the
 * two truly overlap).
 */
export async function publish(ctx: OpContext, input: PublishInput, signal: AbortSignal): Promise<Published> {
  try {
    checkRecordSizes(input.label, input.content);
  } catch (err) {
    if (err instanceof RangeError) throw SpydhtError.invalidArgument(err.message);
    throw err;
  }
  // A client may not reach the members that should hold it: its bridges store it for it (a bridge
  // answers "stored" only when its own replicate met the rule below).
  const viaBridges = ctx.client && ctx.peers.entryCount > 0;
  const startedAt = ctx.clock.now();
  // Nearly every holder the lookups find answers with ROOM (its table would take us): our STORE
  // to it carries the HELLO's proof, a datagram fewer each. The rest are sent when the put ends.
  return ctx.rpc.withHeldHellos(async (hold) => {
    const found = viaBridges ? undefined : findHolders(ctx, recordKey(ctx.crypto, input.label, input.content, input.owner?.publicKey), signal, undefined, hold);
    // If the work fails, its error is the put's: the lookups' outcome is not waited for.
    found?.catch(() => {});
    const record = await createRecord({
      crypto: ctx.crypto,
      rules: ctx.rules,
      label: input.label,
      content: input.content,
      ttlSeconds: input.ttlSeconds,
      nowSeconds: nowSeconds(ctx),
      owner: input.owner,
      solver: ctx.solver,
      signal,
    });
    // Work that took long (a big record for a long time on a slow device) may have outlived the
    // holders found: look again.
    const closestAt = found && ctx.clock.now() - startedAt <= STALE_HOLDERS_MS ? await found : undefined;
    const proxied = viaBridges ? await proxyPut(ctx, record, signal) : 0;
    if (proxied > 0) return { record, stored: proxied, prefixes: proxied };
    return { record, ...(await replicate(ctx, record, signal, undefined, closestAt)) };
  });
}

/**
 * The k closest nodes that answered at each of `locations` (default: every replica location of
 * `key`), one list per location, closest first: the lookups a put, a mutable put and a delete run,
 * all at once.
 */
export async function findHolders(ctx: OpContext, key: Uint8Array, signal: AbortSignal, locations: NodeId[] = replicaLocations(ctx.crypto, key), holdHello?: HelloHold): Promise<LookupPeer[][]> {
  const results = await Promise.all(locations.map((loc) => ctx.lookups.nodes(loc, signal, { ...locationMode(key, loc), holdHello })));
  return results.map((r) => r.closest);
}

export interface Replicated {
  stored: number;
  prefixes: number;
}

/**
 * Stores a record at its replica locations (default: all of them; a republishing holder passes
 * the ones it serves): at each, on the k closest nodes (`closestAt`, one list per location, from
 * the put's own lookups; looked up when not given) with at most `holdersPerPrefix` per IP
 * prefix, and here when this node is among them. Succeeds when more than one distinct node
 * confirmed (or, in a swarm of one, this node itself): a single ack may be a liar's.
 */
export async function replicate(ctx: OpContext, record: WireRecord, signal: AbortSignal, locations?: NodeId[], closestAt?: LookupPeer[][]): Promise<Replicated> {
  const { k, store } = ctx;
  const targets = locations ?? replicaLocations(ctx.crypto, record.key);
  const lists = closestAt ?? (await findHolders(ctx, record.key, signal, targets));
  const holders = new Set<string>();
  const prefixes = new Set<string>();
  const seen = new Set<string>();
  let selfStored = false;
  let full = 0;
  let deleted = 0;
  const sends: HolderChoice[] = [];
  const queued = new Set<string>();
  const prefixCap = holdersPerPrefix(ctx.table.maxPerPrefix);
  targets.forEach((loc, i) => {
    const closest = lists[i]!;
    for (const p of closest) seen.add(idKey(p.id));
    const farthest = closest[k - 1];
    let room = k;
    if (!ctx.client && !selfStored && (!farthest || compareDistance(ctx.identity.id, farthest.id, loc) < 0)) {
      const status = store.put(record, ctx.clock.now());
      if (status === StoreStatus.STORED || status === StoreStatus.ALREADY_HELD) {
        selfStored = true;
        // This node is one of the k closest: the k-th peer found is the (k+1)-th, not a replica.
        room = k - 1;
      }
    }
    chooseHolders(ctx, closest, room, prefixCap, queued, sends);
  });
  if (selfStored) {
    holders.add(idKey(ctx.identity.id));
    prefixes.add(LOCAL_SENDER);
  }
  await Promise.all(
    sends.map(async ({ peer, prefix }) => {
      const status = await storeAt(ctx, peer, record, signal);
      if (status === StoreStatus.STORED || status === StoreStatus.ALREADY_HELD) {
        holders.add(idKey(peer.id));
        prefixes.add(prefix);
      } else if (status === StoreStatus.FULL) full++;
      else if (status === StoreStatus.DELETED) deleted++;
    }),
  );
  // More than one holder, unless this node is alone in its swarm (it knows and found nobody).
  const needed = seen.size === 0 && ctx.table.size === 0 ? 1 : MIN_HOLDERS;
  if (holders.size === 0 || holders.size < needed) {
    if (deleted > 0) throw new SpydhtError('NOT_STORED', 'the owner deleted this record; its tombstone refuses it');
    if (full > 0 && holders.size === 0) throw new SpydhtError('STORAGE_FULL', `every node asked (${full}) is full`);
    if (seen.size === 0 && !selfStored) throw new SpydhtError('NO_CONTACTS', 'no node to store on: bootstrap first');
    throw new SpydhtError('NOT_STORED', `${holders.size} of ${sends.length + (selfStored ? 1 : 0)} nodes confirmed the store; ${needed} needed`);
  }
  return { stored: holders.size, prefixes: prefixes.size };
}

/** A peer chosen to hold a replica, with the IP prefix it counts against. */
export interface HolderChoice {
  peer: LookupPeer;
  prefix: string;
}

/**
 * Appends to `sends` up to `room` holders from `closest` (nearest first), at most `prefixCap` per
 * IP prefix: a /24 or /64 full of ground IDs next to a location gets `prefixCap` replicas (2 by
 * default), not k. A peer already in `queued` (chosen at another location) takes its slot here but
 * is sent the record once.
 */
export function chooseHolders(ctx: OpContext, closest: readonly LookupPeer[], room: number, prefixCap: number, queued: Set<string>, sends: HolderChoice[]): void {
  const perPrefix = new Map<string, number>();
  for (const peer of closest) {
    if (room <= 0) break;
    const prefix = prefixOf(ctx, peer);
    const n = perPrefix.get(prefix) ?? 0;
    if (n >= prefixCap) continue;
    perPrefix.set(prefix, n + 1);
    room--;
    if (queued.has(idKey(peer.id))) continue;
    queued.add(idKey(peer.id));
    sends.push({ peer, prefix });
  }
}

/** A peer's IP prefix as a holder; a peer reached by node ID (WebRTC) is its own prefix. */
export function prefixOf(ctx: OpContext, peer: LookupPeer): string {
  const ip = ctx.rpc.ipOf(peer.address);
  return ip ? ipPrefix(ip) : `id:${idKey(peer.id)}`;
}

/** One STORE; resolves with the peer's status, or undefined when it did not answer. */
export async function storeAt(ctx: OpContext, peer: LookupPeer, record: WireRecord, signal?: AbortSignal): Promise<StoreStatusCode | undefined> {
  try {
    const reply = await ctx.rpc.request(peer.address, { type: MessageType.STORE, record }, { expectId: peer.id, attempts: STORE_ATTEMPTS, signal });
    return reply.message.type === MessageType.STORE_ACK ? reply.message.status : undefined;
  } catch {
    return undefined;
  }
}

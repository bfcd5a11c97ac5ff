/**
 * Getting a value: an iterative FIND_VALUE lookup that ends at the first value that verifies (key,
 * proof of work, owner signature). A client that cannot reach the members holding it asks its
 * bridges (PROXY) as a last resort.
 */
import { SpydhtError } from '../errors.js';
import { idKey, type NodeId } from '../id.js';
import type { LookupPeer, LookupResult, QueryOutcome } from '../lookup/lookup.js';
import { LOCATION_LOOKUP, VALUE_LOOKUP } from '../lookup/lookups.js';
import { verifyRecordForKey } from '../storage/record.js';
import { MessageType, type WireRecord } from '../wire/messages.js';
import { replicaLocations } from '../storage/placement.js';
import { proxyGet } from './bridge.js';
import { nowSeconds, type OpContext } from './context.js';

/** FIND_VALUE requests in flight at a further replica location. */
const ALPHA_AT_LOCATION = 4;

export interface Found {
  record: WireRecord | undefined;
  /** Sequential lookup rounds until the value arrived (0 when it was held here). */
  hops: number;
  queried: number;
}

/** A held copy of `key` that still verifies, if any. */
export async function localValue(ctx: OpContext, key: NodeId): Promise<WireRecord | undefined> {
  const record = ctx.store.get(key, nowSeconds(ctx));
  return record && (await verifyRecordForKey(ctx.crypto, ctx.rules, record, key, nowSeconds(ctx))) ? record : undefined;
}

/**
 * Looks the value up in the network (not here): at the key first, then, if nobody there had it
 * (an eclipsed key: the nodes closest to it were ground to lie), at its other replica locations.
 */
export async function findValue(ctx: OpContext, key: NodeId, signal: AbortSignal): Promise<Found> {
  const liars = new Set<string>();
  const result = await lookupValue(ctx, key, signal, liars);
  let record = result.value;
  let { hops, queried } = result;
  for (const [i, loc] of replicaLocations(ctx.crypto, key).entries()) {
    if (record) break;
    // The value lookup has searched the key's own location, unless a peer there answered with a
    // value that does not verify: such a reply lists no contacts, so the liars closest to the key
    // hid their neighbours, an honest holder among them. A node lookup (which they answer like
    // anyone, or they are an eclipse the further locations are for) finds those neighbours.
    if (i === 0 && liars.size === 0) continue;
    const found = await valueAtLocation(ctx, key, loc, signal, liars);
    record = found.value;
    hops += found.hops;
    queried += found.queried;
  }
  // A client may not reach the members that store the value (a UDP-only peer in a swarm of
  // WebRTC members): ask its bridges to look it up for it.
  if (!record && ctx.client) record = await proxyGet(ctx, key, signal);
  return { record, hops, queried };
}

/**
 * The value at one replica location: a node lookup to the location (FIND_NODE answers point
 * toward it, where FIND_VALUE answers would point back toward the key), then FIND_VALUE to the
 * closest nodes found that have not already lied in this get, nearest first, α at a time, until
 * one returns a value that verifies.
 */
async function valueAtLocation(
  ctx: OpContext,
  key: NodeId,
  location: NodeId,
  signal: AbortSignal,
  liars: Set<string>,
): Promise<{ value?: WireRecord; hops: number; queried: number }> {
  const nodes = await ctx.lookups.nodes(location, signal, LOCATION_LOOKUP);
  let queried = nodes.queried;
  const peers = nodes.closest.filter((p) => !liars.has(idKey(p.id)));
  while (peers.length > 0) {
    const batch = peers.splice(0, ALPHA_AT_LOCATION);
    queried += batch.length;
    const values = await Promise.all(batch.map((peer) => queryValue(ctx, peer, key, () => {}, signal, liars).then((o) => o.value, () => undefined)));
    const value = values.find((v) => v !== undefined);
    if (value) return { value, hops: nodes.hops + 1, queried };
  }
  return { hops: nodes.hops, queried };
}

/**
 * The FIND_VALUE lookup itself (a bridge runs it for its clients too). `liars` collects the peers
 * (ID keys) that answered with a value that does not verify.
 */
export function lookupValue(ctx: OpContext, key: NodeId, signal: AbortSignal, liars = new Set<string>()): Promise<LookupResult<WireRecord>> {
  return ctx.lookups.run<WireRecord>(key, signal, (peer, onSlow, s) => queryValue(ctx, peer, key, onSlow, s, liars), VALUE_LOOKUP);
}

async function queryValue(
  ctx: OpContext,
  peer: LookupPeer,
  key: NodeId,
  onSlow: () => void,
  signal: AbortSignal,
  liars: Set<string>,
): Promise<QueryOutcome<WireRecord>> {
  // A peer withholds a value from an unproven address; its reply carried a token, so ask once more.
  for (let attempt = 0; attempt < 2; attempt++) {
    const reply = await ctx.rpc.request(
      peer.address,
      { type: MessageType.FIND_VALUE, key, pad: 0 },
      { expectId: peer.id, onSlow, signal, ...(peer.budgets ? { sendBudget: peer.budgets } : {}) },
    );
    const m = reply.message;
    if (m.type === MessageType.VALUE) {
      if (await verifyRecordForKey(ctx.crypto, ctx.rules, m.record, key, nowSeconds(ctx))) return { contacts: [], value: m.record };
      ctx.count('droppedBadValue');
      liars.add(idKey(peer.id));
      throw SpydhtError.invalidRecord('peer returned a value that does not verify');
    }
    if (m.type !== MessageType.NODES) throw SpydhtError.decode('unexpected reply');
    if (!m.valueWithheld || attempt === 1) return { contacts: m.contacts, bytes: reply.size };
  }
  return { contacts: [] };
}

/**
 * Putting a record: solve its proof of work, find the k closest nodes to its key and STORE it on
 * each (keeping a copy here when this node is among them). Republishing and the bridge proxy reuse
 * `replicate`; maintenance hands records to new close nodes with `storeAt`.
 */
import type { Identity } from '../crypto/identity.js';
import { SpydhtError } from '../errors.js';
import { compareDistance } from '../id.js';
import type { LookupPeer } from '../lookup/lookup.js';
import { createRecord } from '../storage/record.js';
import { MessageType, StoreStatus, type StoreStatusCode, type WireRecord } from '../wire/messages.js';
import { proxyPut } from './bridge.js';
import { nowSeconds, type OpContext } from './context.js';

/** Transmissions of each STORE. */
const STORE_ATTEMPTS = 3;

export interface PublishInput {
  label: Uint8Array;
  content: Uint8Array;
  ttlSeconds: number;
  /** Who may delete it; undefined: nobody. */
  owner: Identity | undefined;
}

export interface Published {
  record: WireRecord;
  /** Nodes that confirmed the store (this one included when it is among the closest). */
  stored: number;
}

/** Creates the record (proof of work, owner signature) and stores it on the k closest nodes. */
export async function publish(ctx: OpContext, input: PublishInput, signal: AbortSignal): Promise<Published> {
  let record: WireRecord;
  try {
    record = await createRecord({
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
  } catch (err) {
    if (err instanceof RangeError) throw SpydhtError.invalidArgument(err.message);
    throw err;
  }
  // A client may not reach the members that should hold it: its bridges store it for it.
  const proxied = ctx.client && ctx.peers.entryCount > 0 ? await proxyPut(ctx, record, signal) : 0;
  return { record, stored: proxied > 0 ? proxied : await replicate(ctx, record, signal) };
}

/** Stores a record on the k closest nodes (and here, when this node is among them); resolves with how many confirmed. */
export async function replicate(ctx: OpContext, record: WireRecord, signal: AbortSignal): Promise<number> {
  const { k, store } = ctx;
  const result = await ctx.lookups.nodes(record.key, signal);
  let stored = 0;
  let full = 0;
  let deleted = 0;
  const farthest = result.closest[k - 1];
  const selfAmongClosest = !ctx.client && (!farthest || compareDistance(ctx.identity.id, farthest.id, record.key) < 0);
  let targets = result.closest;
  if (selfAmongClosest) {
    const status = store.put(record, ctx.clock.now());
    if (status === StoreStatus.STORED || status === StoreStatus.ALREADY_HELD) {
      stored++;
      // This node is one of the k closest: the k-th peer found is the (k+1)-th, not a replica.
      targets = result.closest.slice(0, k - 1);
    }
  }
  await Promise.all(
    targets.map(async (peer) => {
      const status = await storeAt(ctx, peer, record, signal);
      if (status === StoreStatus.STORED || status === StoreStatus.ALREADY_HELD) stored++;
      else if (status === StoreStatus.FULL) full++;
      else if (status === StoreStatus.DELETED) deleted++;
    }),
  );
  if (stored === 0) {
    if (deleted > 0) throw new SpydhtError('NOT_STORED', 'the owner deleted this record; its tombstone refuses it');
    if (full > 0) throw new SpydhtError('STORAGE_FULL', `every node asked (${full}) is full`);
    if (result.closest.length === 0) throw new SpydhtError('NO_CONTACTS', 'no node to store on: bootstrap first');
    throw new SpydhtError('NOT_STORED', `none of ${result.closest.length} nodes confirmed the store`);
  }
  return stored;
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

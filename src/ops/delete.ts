/**
 * Deleting an owned record everywhere it is stored: the owner signs a delete (with a small proof
 * of work, the price of a tombstone), every holder at every replica location checks it and keeps
 * a tombstone, so a stale copy cannot be stored again.
 */
import type { Identity } from '../crypto/identity.js';
import { SpydhtError } from '../errors.js';
import { equalIds, idKey, type NodeId } from '../id.js';
import type { LookupPeer } from '../lookup/lookup.js';
import type { HelloHold } from '../rpc/rpc.js';
import { createDeleteProof } from '../storage/record.js';
import { DeleteStatus, MessageType, type DeleteProof } from '../wire/messages.js';
import { nowSeconds, type OpContext } from './context.js';
import { findHolders } from './put.js';

/** Transmissions of each DELETE. */
const DELETE_ATTEMPTS = 3;

/**
 * Resolves with how many nodes removed a copy of the record (0 when nobody held one: the nodes
 * asked still keep a tombstone against a stale copy). A holder whose copy was signed later than
 * the delete (a clock ahead of ours when it was stored) answers with that issue time; the delete
 * is then signed again at that time, as long as it is not beyond the skew every node tolerates.
 */
export async function deleteEverywhere(ctx: OpContext, key: NodeId, owner: Identity, signal: AbortSignal): Promise<number> {
  const held = ctx.store.entry(key)?.record;
  if (held && (!held.owner || !equalIds(held.owner.publicKey, owner.publicKey))) {
    throw new SpydhtError('NOT_OWNER', 'this identity does not own that record');
  }
  // As a put's: the HELLOs its lookups owe ride on the DELETEs to those nodes (ops/put.ts).
  return ctx.rpc.withHeldHellos((hold) => deleteFrom(ctx, key, owner, signal, hold));
}

async function deleteFrom(ctx: OpContext, key: NodeId, owner: Identity, signal: AbortSignal, hold: HelloHold): Promise<number> {
  const work = { crypto: ctx.crypto, solver: ctx.solver, signal };
  const [proof, lists] = await Promise.all([createDeleteProof(ctx.rules, owner, key, nowSeconds(ctx), work), findHolders(ctx, key, signal, undefined, hold)]);
  const peers = new Map<string, LookupPeer>();
  for (const list of lists) for (const p of list) peers.set(idKey(p.id), p);

  let removed = 0;
  let notOwner = 0;
  const stale: { peer: LookupPeer | undefined; issuedAt: number }[] = [];
  const apply = async (p: DeleteProof, targets: (LookupPeer | undefined)[]): Promise<void> => {
    await Promise.all(
      targets.map(async (peer) => {
        if (!peer) {
          // This node's own copy.
          const status = ctx.store.delete(p);
          if (status === DeleteStatus.DELETED) removed++;
          if (status === DeleteStatus.STALE) stale.push({ peer, issuedAt: ctx.store.issuedAtOf(key) ?? 0 });
          return;
        }
        try {
          const reply = await ctx.rpc.request(peer.address, { type: MessageType.DELETE, proof: p }, { expectId: peer.id, attempts: DELETE_ATTEMPTS, signal });
          if (reply.message.type !== MessageType.DELETE_ACK) return;
          const { status, heldIssuedAt } = reply.message;
          if (status === DeleteStatus.DELETED) removed++;
          if (status === DeleteStatus.NOT_OWNER) notOwner++;
          if (status === DeleteStatus.STALE && heldIssuedAt !== undefined) stale.push({ peer, issuedAt: heldIssuedAt });
        } catch {
          // Unreachable peers simply do not count.
        }
      }),
    );
  };
  await apply(proof, [...(ctx.client ? [] : [undefined]), ...peers.values()]);

  // Copies signed ahead of our clock: sign again at the latest such time we may sign (a time
  // beyond now + SKEW would be refused by every node, and could be a liar's bait to make our
  // tombstone outlive our next put).
  const limit = nowSeconds(ctx) + ctx.rules.maxSkewSeconds;
  const retry = stale.filter((s) => s.issuedAt > proof.issuedAt && s.issuedAt <= limit);
  if (retry.length > 0) {
    const issuedAt = Math.max(...retry.map((s) => s.issuedAt));
    const again = await createDeleteProof(ctx.rules, owner, key, issuedAt, work);
    stale.length = 0;
    await apply(again, retry.map((s) => s.peer));
  }
  // Holders that refuse prove the record exists under another owner; nodes that merely do not
  // hold it (and only keep a tombstone) must not turn a non-owner's delete into a "success".
  if (removed === 0 && notOwner > 0) throw new SpydhtError('NOT_OWNER', 'this identity does not own that record');
  return removed;
}

/**
 * Deleting an owned record everywhere it is stored: the owner signs a delete, every one of the k
 * closest nodes checks it and keeps a tombstone, so a stale copy cannot be stored again.
 */
import type { Identity } from '../crypto/identity.js';
import { SpydhtError } from '../errors.js';
import { equalIds, type NodeId } from '../id.js';
import { createDeleteProof } from '../storage/record.js';
import { DeleteStatus, MessageType } from '../wire/messages.js';
import { nowSeconds, type OpContext } from './context.js';

/** Transmissions of each DELETE. */
const DELETE_ATTEMPTS = 3;

/** Resolves with how many nodes accepted the delete (removed the record or kept a tombstone). */
export async function deleteEverywhere(ctx: OpContext, key: NodeId, owner: Identity, signal: AbortSignal): Promise<number> {
  const held = ctx.store.entry(key)?.record;
  if (held && (!held.owner || !equalIds(held.owner.publicKey, owner.publicKey))) {
    throw new SpydhtError('NOT_OWNER', 'this identity does not own that record');
  }
  const proof = await createDeleteProof(ctx.rules, owner, key, nowSeconds(ctx));
  let accepted = 0;
  let deleted = 0;
  let notOwner = 0;
  if (!ctx.client && ctx.store.delete(proof) === DeleteStatus.DELETED) {
    accepted++;
    deleted++;
  }
  const closest = await ctx.lookups.nodes(key, signal);
  await Promise.all(
    closest.closest.map(async (peer) => {
      try {
        const reply = await ctx.rpc.request(peer.address, { type: MessageType.DELETE, proof }, { expectId: peer.id, attempts: DELETE_ATTEMPTS, signal });
        if (reply.message.type !== MessageType.DELETE_ACK) return;
        const status = reply.message.status;
        if (status === DeleteStatus.DELETED || status === DeleteStatus.NOT_HELD) accepted++;
        if (status === DeleteStatus.DELETED) deleted++;
        if (status === DeleteStatus.NOT_OWNER) notOwner++;
      } catch {
        // Unreachable peers simply do not count.
      }
    }),
  );
  // Holders that refuse prove the record exists under another owner; nodes that merely do not
  // hold it (and only keep a tombstone) must not turn a non-owner's delete into a "success".
  if (deleted === 0 && notOwner > 0) throw new SpydhtError('NOT_OWNER', 'this identity does not own that record');
  return accepted;
}

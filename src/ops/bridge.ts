/**
 * The client side of the bridge proxy (PROTOCOL.md §12): a client that cannot reach every member
 * (a UDP-only peer in a swarm of WebRTC members) asks its entry peers, the bridges, to run a get
 * or a put for it. The bridge side is relay/proxy.ts.
 */
import type { NodeId } from '../id.js';
import type { PeerAddress } from '../wire/address.js';
import { verifyRecordForKey } from '../storage/record.js';
import { Flags, MessageType, StoreStatus, type WireRecord } from '../wire/messages.js';
import { nowSeconds, type OpContext } from './context.js';

/** How long a client waits for a bridge to finish its get or put (first attempt). */
export const PROXY_TIMEOUT_MS = 5_000;
const PROXY_ATTEMPTS = 2;

/**
 * A bridge serves PROXY only to an address that proved it receives (it echoes the bridge's
 * token): one PING fetches the token if we have none yet (usually the join left us one).
 */
async function proven(ctx: OpContext, bridge: { id: NodeId; address: PeerAddress }, signal: AbortSignal): Promise<boolean> {
  if (ctx.rpc.receivesAt(bridge.address)) return true;
  try {
    await ctx.rpc.request(bridge.address, { type: MessageType.PING, pad: 0 }, { expectId: bridge.id, signal });
    return true;
  } catch {
    return false;
  }
}

/** Asks each bridge in turn to find `key`; the value is verified here as any other. */
export async function proxyGet(ctx: OpContext, key: NodeId, signal: AbortSignal): Promise<WireRecord | undefined> {
  for (const bridge of ctx.peers.entryPeers()) {
    if (!(await proven(ctx, bridge, signal))) continue;
    // A value too big for the reply budget is withheld once: the second try carries the token.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const reply = await ctx.rpc.request(
          bridge.address,
          { type: MessageType.FIND_VALUE, key, pad: 0 },
          { expectId: bridge.id, flags: Flags.PROXY, minTimeoutMs: PROXY_TIMEOUT_MS, attempts: PROXY_ATTEMPTS, signal },
        );
        const m = reply.message;
        if (m.type === MessageType.VALUE && (await verifyRecordForKey(ctx.crypto, ctx.rules, m.record, key, nowSeconds(ctx)))) return m.record;
        if (m.type !== MessageType.NODES || !m.valueWithheld) break; // not found by this bridge
      } catch {
        break;
      }
    }
  }
  return undefined;
}

/** Asks each bridge in turn to store `record` on the k closest members; 1 when one confirmed, else 0. */
export async function proxyPut(ctx: OpContext, record: WireRecord, signal: AbortSignal): Promise<number> {
  for (const bridge of ctx.peers.entryPeers()) {
    if (!(await proven(ctx, bridge, signal))) continue;
    try {
      const reply = await ctx.rpc.request(
        bridge.address,
        { type: MessageType.STORE, record },
        { expectId: bridge.id, flags: Flags.PROXY, minTimeoutMs: PROXY_TIMEOUT_MS, attempts: PROXY_ATTEMPTS, signal },
      );
      if (reply.message.type === MessageType.STORE_ACK && reply.message.status === StoreStatus.STORED) return 1;
    } catch {
      // Next bridge.
    }
  }
  return 0;
}

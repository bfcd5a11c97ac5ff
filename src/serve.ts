/**
 * Answers requests from other nodes: PING, FIND_NODE, FIND_VALUE, STORE, DELETE. Replies fit the
 * byte budget the RPC layer allows (no amplification toward an unproven address), and nothing
 * from the network is stored or deleted before it is fully validated.
 */
import type { CryptoBackend } from './crypto/backend.js';
import { equalIds } from './id.js';
import type { NetworkConfig } from './network.js';
import { canReachKind, type IncomingRequest } from './rpc/rpc.js';
import type { Contact } from './routing/contact.js';
import type { RateLimiter } from './rpc/rate-limit.js';
import type { RoutingTable } from './routing/table.js';
import { validateDeleteProof, validateRecord, type RecordRules } from './storage/record.js';
import type { LocalStore } from './storage/store.js';
import { addressKey, type PeerAddress } from './wire/address.js';
import {
  DeleteStatus,
  MessageType,
  StoreStatus,
  writeRecord,
  type Body,
  type DeleteStatusCode,
  type StoreStatusCode,
  type WireContact,
} from './wire/messages.js';
import { Writer } from './wire/codec.js';

export interface ServeContext {
  crypto: CryptoBackend;
  config: NetworkConfig;
  rules: RecordRules;
  table: RoutingTable;
  store: LocalStore;
  /** Limits STORE and DELETE per IP, on top of the RPC layer's request limit. */
  writeLimiter: RateLimiter;
  ipOf: (addr: PeerAddress) => string | undefined;
  /** Which address kinds the asker can use (all of ours, for now). */
  nowMs: () => number;
  republishAt: () => number;
  count: (what: string) => void;
  onStored?: (key: Uint8Array) => void;
  onDeleted?: (key: Uint8Array) => void;
}

export async function serveRequest(ctx: ServeContext, req: IncomingRequest): Promise<Body | undefined> {
  const m = req.message;
  switch (m.type) {
    case MessageType.PING:
      return { type: MessageType.PONG, observed: req.from };
    case MessageType.FIND_NODE:
      return { type: MessageType.NODES, valueWithheld: false, contacts: closestFor(ctx, m.target, req) };
    case MessageType.FIND_VALUE:
      return findValue(ctx, req, m.key);
    case MessageType.STORE:
      return { type: MessageType.STORE_ACK, status: await store(ctx, req) };
    case MessageType.DELETE:
      return { type: MessageType.DELETE_ACK, status: await remove(ctx, req) };
    default:
      return undefined;
  }
}

const NODES_BODY_BASE = 2;

function contactSize(c: WireContact): number {
  let n = 32 + 1;
  for (const a of c.addresses) n += 2 + a.data.length;
  return n;
}

/**
 * The k closest contacts to `target` that the asker can reach (by the SPEAKS_* flags it sent),
 * never the asker itself, cut to fit the reply budget.
 */
function closestFor(ctx: ServeContext, target: Uint8Array, req: IncomingRequest): WireContact[] {
  const asker = req.message.senderId;
  const flags = req.message.flags;
  const reachable = (c: Contact): boolean => c.addresses.some((a) => canReachKind(flags, a.kind));
  const out: WireContact[] = [];
  let size = NODES_BODY_BASE;
  for (const c of ctx.table.closest(target, ctx.table.k + 1, reachable)) {
    if (equalIds(c.id, asker)) continue;
    const wc: WireContact = { id: c.id, addresses: c.addresses.filter((a) => canReachKind(flags, a.kind)).slice(0, 4) };
    const s = contactSize(wc);
    if (size + s > req.bodyBudget || out.length >= ctx.table.k) break;
    size += s;
    out.push(wc);
  }
  return out;
}

function findValue(ctx: ServeContext, req: IncomingRequest, key: Uint8Array): Body {
  const record = ctx.store.get(key, Math.floor(ctx.nowMs() / 1000));
  if (record) {
    const w = new Writer();
    writeRecord(w, record);
    if (req.tokenValid && w.length <= req.bodyBudget) return { type: MessageType.VALUE, record };
    // The value would be an amplified reply to an address not yet proven: say we have it, and the
    // token in this reply lets the asker fetch it at once.
    return { type: MessageType.NODES, valueWithheld: true, contacts: closestFor(ctx, key, req) };
  }
  return { type: MessageType.NODES, valueWithheld: false, contacts: closestFor(ctx, key, req) };
}

async function store(ctx: ServeContext, req: IncomingRequest): Promise<StoreStatusCode> {
  if (req.message.type !== MessageType.STORE) return StoreStatus.INVALID;
  if (!ctx.writeLimiter.take(ctx.ipOf(req.from) ?? addressKey(req.from))) {
    ctx.count('storeRateLimited');
    return StoreStatus.RATE_LIMITED;
  }
  const record = req.message.record;
  const now = ctx.nowMs();
  const check = await validateRecord(ctx.crypto, ctx.rules, record, Math.floor(now / 1000));
  if (!check.ok) {
    ctx.count('storeInvalid');
    return StoreStatus.INVALID;
  }
  const status = ctx.store.put(record, now, ctx.republishAt());
  if (status === StoreStatus.STORED) ctx.onStored?.(record.key);
  if (status === StoreStatus.FULL) ctx.count('storeFull');
  return status;
}

async function remove(ctx: ServeContext, req: IncomingRequest): Promise<DeleteStatusCode> {
  if (req.message.type !== MessageType.DELETE) return DeleteStatus.INVALID;
  if (!ctx.writeLimiter.take(ctx.ipOf(req.from) ?? addressKey(req.from))) return DeleteStatus.RATE_LIMITED;
  const proof = req.message.proof;
  const nowSeconds = Math.floor(ctx.nowMs() / 1000);
  // Signature first, then ownership inside the store: nothing is removed on an unchecked claim.
  if (!(await validateDeleteProof(ctx.crypto, ctx.rules, proof, nowSeconds)).ok) {
    ctx.count('deleteInvalid');
    return DeleteStatus.INVALID;
  }
  const status = ctx.store.delete(proof, proof.issuedAt + ctx.config.maxTtlSeconds + ctx.config.maxSkewSeconds);
  if (status === DeleteStatus.DELETED) ctx.onDeleted?.(proof.key);
  return status;
}

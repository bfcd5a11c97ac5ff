/**
 * Mutable records (PROTOCOL.md §15): get, put and delete.
 *
 * A get does not stop at the first copy: a holder may serve an old one (it missed an update, or
 * lies by omission), so the lookup runs on to the k closest nodes, like a node lookup, and keeps
 * the newest verified copy. Each query says which copy the asker already has, so a holder with
 * nothing newer answers with a 17-byte summary instead of the record. Holders seen with an older
 * copy are sent the newest (read repair).
 *
 * A put looks the key up the same way (that gives both the newest seq and the k closest nodes),
 * signs the next seq, solves its proof of work and stores it on the k closest. With `cas`, each
 * holder refuses it when its seq is above `cas`, and any such refusal fails the put.
 */
import type { Identity } from '../crypto/identity.js';
import { SpydhtError } from '../errors.js';
import { compareDistance, idKey, type NodeId } from '../id.js';
import type { LookupPeer } from '../lookup/lookup.js';
import { compareSummaries, createMutableRecord, mutableKey, summaryOf, verifyMutableForKey } from '../storage/mutable-record.js';
import { Flags, MessageType } from '../wire/messages.js';
import { MAX_SEQ, MutableStoreStatus, type MutableStoreStatusCode, type MutableSummary, type WireMutableRecord } from '../wire/mutable.js';
import { PROXY_TIMEOUT_MS } from './bridge.js';
import { nowSeconds, type OpContext } from './context.js';

/** Transmissions of each STORE_MUTABLE. */
const STORE_ATTEMPTS = 3;
const PROXY_ATTEMPTS = 2;

export interface MutableFound {
  /** The newest verified copy (a deletion included), if any node had one. */
  newest: WireMutableRecord | undefined;
  /** Up to k nodes closest to the key that answered, closest first. */
  closest: LookupPeer[];
  /** Nodes that answered with an older copy than `newest` (they are sent the newest). */
  stale: LookupPeer[];
  /** Nodes that answered with a copy (any). */
  holders: number;
  queried: number;
}

/**
 * Looks `key` up to the k closest nodes, collecting every copy; resolves with the newest. The
 * node's own copy counts as one. Does not repair: `repair` does.
 */
export async function lookupMutable(ctx: OpContext, key: NodeId, signal: AbortSignal): Promise<MutableFound> {
  let best = ctx.mutableStore.get(key, nowSeconds(ctx));
  /** The copy each answering node holds (undefined: none). */
  const copies = new Map<string, { peer: LookupPeer; copy: MutableSummary | undefined }>();
  const consider = async (record: WireMutableRecord): Promise<boolean> => {
    if (!(await verifyMutableForKey(ctx.crypto, ctx.rules, record, key, nowSeconds(ctx)))) return false;
    if (!best || compareSummaries(summaryOf(record), summaryOf(best)) > 0) best = record;
    return true;
  };
  const result = await ctx.lookups.run<never>(
    key,
    signal,
    async (peer, onSlow, s) => {
      // A holder withholds a record from an unproven address; its reply carried a token, so ask once more.
      for (let attempt = 0; attempt < 2; attempt++) {
        const known = best ? summaryOf(best) : undefined;
        const reply = await ctx.rpc.request(
          peer.address,
          { type: MessageType.FIND_MUTABLE, key, known, pad: 0 },
          { expectId: peer.id, onSlow, signal: s, ...(peer.budgets ? { sendBudget: peer.budgets } : {}) },
        );
        const m = reply.message;
        if (m.type === MessageType.MUTABLE_VALUE) {
          if (m.record && !(await consider(m.record))) {
            ctx.count('droppedBadValue');
            throw SpydhtError.invalidRecord('peer returned a mutable record that does not verify');
          }
          copies.set(idKey(peer.id), { peer, copy: m.record ? summaryOf(m.record) : m.summary });
          return { contacts: m.contacts, bytes: reply.size };
        }
        if (m.type !== MessageType.NODES) throw SpydhtError.decode('unexpected reply');
        if (!m.valueWithheld || attempt === 1) {
          if (!m.valueWithheld) copies.set(idKey(peer.id), { peer, copy: undefined });
          return { contacts: m.contacts, bytes: reply.size };
        }
      }
      return { contacts: [] };
    },
    // Converge like a node lookup, then ask every remaining one of the k closest at once.
    { burst: true },
  );
  let newest: WireMutableRecord | undefined = best;
  // A client may not reach the members that hold the key (a UDP-only peer in a swarm of WebRTC
  // members): its bridges look it up too, and the newer answer wins.
  if (ctx.client && ctx.peers.entryCount > 0) {
    const proxied = await proxyFindMutable(ctx, key, newest, signal);
    if (proxied && (!newest || compareSummaries(summaryOf(proxied), summaryOf(newest)) > 0)) newest = proxied;
  }
  const stale: LookupPeer[] = [];
  let holders = 0;
  for (const { peer, copy } of copies.values()) {
    if (!copy) continue;
    holders++;
    if (newest && compareSummaries(copy, summaryOf(newest)) < 0) stale.push(peer);
  }
  return { newest, closest: result.closest, stale, holders, queried: result.queried };
}

/** A get: the newest copy, after which the holders seen with older copies (and this node) get it. */
export async function getMutable(ctx: OpContext, key: NodeId, signal: AbortSignal): Promise<MutableFound> {
  const found = await lookupMutable(ctx, key, signal);
  if (found.newest) repair(ctx, found.newest, found.stale, signal);
  return found;
}

/**
 * Read repair: sends `newest` to each node seen with an older copy, and keeps it here if this
 * node holds an older one. Not awaited by the get (a stale holder that does not answer would
 * otherwise cost the reader its retries); `close()` ends what is in flight.
 */
export function repair(ctx: OpContext, newest: WireMutableRecord, stale: LookupPeer[], signal: AbortSignal): void {
  const mine = ctx.mutableStore.get(newest.key, nowSeconds(ctx));
  if (mine && compareSummaries(summaryOf(mine), summaryOf(newest)) < 0) ctx.mutableStore.put(newest, undefined, ctx.clock.now());
  for (const peer of stale) {
    void storeMutableAt(ctx, peer, newest, undefined, signal).then((ack) => {
      if (ack?.status === MutableStoreStatus.STORED) ctx.count('mutableRepaired');
    });
  }
}

export interface MutablePutInput {
  owner: Identity;
  salt: Uint8Array;
  content: Uint8Array;
  /** Default: one above the newest found (or `cas` + 1). */
  seq: number | undefined;
  cas: number | undefined;
  ttlSeconds: number;
  /** A deletion (no content). */
  deleted?: boolean;
}

export interface MutablePublished {
  record: WireMutableRecord;
  /** Nodes that confirmed the store (this one included when it is among the closest). */
  stored: number;
}

export async function putMutable(ctx: OpContext, input: MutablePutInput, signal: AbortSignal): Promise<MutablePublished> {
  let key: Uint8Array;
  try {
    key = mutableKey(ctx.crypto, input.owner.publicKey, input.salt);
  } catch (err) {
    if (err instanceof RangeError) throw SpydhtError.invalidArgument(err.message);
    throw err;
  }
  const found = await lookupMutable(ctx, key, signal);
  const newest = found.newest;
  if (input.cas !== undefined && newest && newest.seq > input.cas) throw casConflict(input.cas, newest.seq);
  const seq = input.seq ?? (input.cas !== undefined ? input.cas + 1 : newest ? newest.seq + 1 : 1);
  if (seq > MAX_SEQ) throw SpydhtError.invalidArgument('seq above 2^53 − 1');
  if (newest && seq <= newest.seq) throw staleSeq(seq, newest.seq);
  let record: WireMutableRecord;
  try {
    record = await createMutableRecord({
      crypto: ctx.crypto,
      rules: ctx.rules,
      owner: input.owner,
      salt: input.salt,
      content: input.content,
      seq,
      deleted: input.deleted ?? false,
      ttlSeconds: input.ttlSeconds,
      nowSeconds: nowSeconds(ctx),
      solver: ctx.solver,
      signal,
    });
  } catch (err) {
    if (err instanceof RangeError) throw SpydhtError.invalidArgument(err.message);
    throw err;
  }
  // A client may not reach the members that should hold it: its bridges store it for it.
  if (ctx.client && ctx.peers.entryCount > 0) {
    const proxied = await proxyStoreMutable(ctx, record, input.cas, signal);
    if (proxied) return { record, stored: outcome(proxied, input.cas, record) };
  }
  const tally = await storeOnClosest(ctx, record, input.cas, found.closest, signal);
  return { record, stored: outcome(tally, input.cas, record) };
}

/** What the k closest said to one STORE_MUTABLE. */
export interface StoreTally {
  stored: number;
  casMismatch: number;
  stale: number;
  deleted: number;
  full: number;
  asked: number;
  /** The highest seq a refusing holder reported. */
  highestHeld: number | undefined;
}

function emptyTally(): StoreTally {
  return { stored: 0, casMismatch: 0, stale: 0, deleted: 0, full: 0, asked: 0, highestHeld: undefined };
}

function note(t: StoreTally, status: MutableStoreStatusCode | undefined, held: MutableSummary | undefined): void {
  if (status === MutableStoreStatus.STORED || status === MutableStoreStatus.ALREADY_HELD) t.stored++;
  else if (status === MutableStoreStatus.CAS_MISMATCH) t.casMismatch++;
  else if (status === MutableStoreStatus.STALE_SEQ) t.stale++;
  else if (status === MutableStoreStatus.DELETED) t.deleted++;
  else if (status === MutableStoreStatus.FULL) t.full++;
  if (held && status !== MutableStoreStatus.STORED && status !== MutableStoreStatus.ALREADY_HELD) {
    t.highestHeld = Math.max(t.highestHeld ?? 0, held.seq);
  }
}

/**
 * Stores `record` on `targets` (the k closest; looked up when not given) and here when this node
 * is among them. Resolves with what they said; never throws for a refusal (`outcome` decides).
 */
export async function storeOnClosest(ctx: OpContext, record: WireMutableRecord, cas: number | undefined, targets: LookupPeer[] | undefined, signal: AbortSignal): Promise<StoreTally> {
  const { k } = ctx;
  const closest = targets ?? (await ctx.lookups.nodes(record.key, signal)).closest;
  const tally = emptyTally();
  const farthest = closest[k - 1];
  let peers = closest;
  if (!ctx.client && (!farthest || compareDistance(ctx.identity.id, farthest.id, record.key) < 0)) {
    const mine = ctx.mutableStore.put(record, cas, ctx.clock.now());
    note(tally, mine.status, mine.held);
    tally.asked++;
    // This node is one of the k closest: the k-th peer found is the (k+1)-th, not a replica.
    if (mine.status === MutableStoreStatus.STORED || mine.status === MutableStoreStatus.ALREADY_HELD) peers = closest.slice(0, k - 1);
  }
  tally.asked += peers.length;
  await Promise.all(
    peers.map(async (peer) => {
      const ack = await storeMutableAt(ctx, peer, record, cas, signal);
      note(tally, ack?.status, ack?.held);
    }),
  );
  return tally;
}

/** How a put ends, from what the holders said: the number that hold it, or a typed error. */
export function outcome(t: StoreTally, cas: number | undefined, record: WireMutableRecord): number {
  // One holder past `cas` means another writer got in between: the caller must read again.
  if (cas !== undefined && t.casMismatch > 0) throw casConflict(cas, t.highestHeld ?? cas + 1);
  if (t.stored > 0) return t.stored;
  if (t.deleted > 0 && !record.deleted) throw new SpydhtError('NOT_STORED', 'the owner deleted this key at a higher seq');
  if (t.stale > 0 || t.deleted > 0) throw staleSeq(record.seq, t.highestHeld ?? record.seq);
  if (t.full > 0) throw new SpydhtError('STORAGE_FULL', `every node asked (${t.full}) is full`);
  if (t.asked === 0) throw new SpydhtError('NO_CONTACTS', 'no node to store on: bootstrap first');
  throw new SpydhtError('NOT_STORED', `none of ${t.asked} nodes confirmed the store`);
}

/** One STORE_MUTABLE; resolves with the peer's answer, or undefined when it did not answer. */
export async function storeMutableAt(
  ctx: OpContext,
  peer: LookupPeer,
  record: WireMutableRecord,
  cas: number | undefined,
  signal?: AbortSignal,
): Promise<{ status: MutableStoreStatusCode; held: MutableSummary | undefined } | undefined> {
  try {
    const reply = await ctx.rpc.request(peer.address, { type: MessageType.STORE_MUTABLE, cas, record }, { expectId: peer.id, attempts: STORE_ATTEMPTS, signal });
    const m = reply.message;
    return m.type === MessageType.STORE_MUTABLE_ACK ? { status: m.status, held: m.held } : undefined;
  } catch {
    return undefined;
  }
}

/** Asks each bridge in turn to look `key` up; the copy is verified here as any other. */
async function proxyFindMutable(ctx: OpContext, key: NodeId, have: WireMutableRecord | undefined, signal: AbortSignal): Promise<WireMutableRecord | undefined> {
  const known = have ? summaryOf(have) : undefined;
  for (const bridge of ctx.peers.entryPeers()) {
    // A bridge withholds the record from an unproven address: its reply's token makes the second try count.
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const reply = await ctx.rpc.request(
          bridge.address,
          { type: MessageType.FIND_MUTABLE, key, known, pad: 0 },
          { expectId: bridge.id, flags: Flags.PROXY, minTimeoutMs: PROXY_TIMEOUT_MS, attempts: PROXY_ATTEMPTS, signal },
        );
        const m = reply.message;
        if (m.type === MessageType.MUTABLE_VALUE) {
          if (m.record && (await verifyMutableForKey(ctx.crypto, ctx.rules, m.record, key, nowSeconds(ctx)))) return m.record;
          return undefined; // a summary: nothing newer than ours
        }
        if (m.type !== MessageType.NODES || !m.valueWithheld) break; // not found by this bridge
      } catch {
        break;
      }
    }
  }
  return undefined;
}

/** Asks each bridge in turn to store `record` on the k closest members; the first answer counts. */
async function proxyStoreMutable(ctx: OpContext, record: WireMutableRecord, cas: number | undefined, signal: AbortSignal): Promise<StoreTally | undefined> {
  for (const bridge of ctx.peers.entryPeers()) {
    try {
      const reply = await ctx.rpc.request(
        bridge.address,
        { type: MessageType.STORE_MUTABLE, cas, record },
        { expectId: bridge.id, flags: Flags.PROXY, minTimeoutMs: PROXY_TIMEOUT_MS, attempts: PROXY_ATTEMPTS, signal },
      );
      const m = reply.message;
      if (m.type !== MessageType.STORE_MUTABLE_ACK || m.status === MutableStoreStatus.RATE_LIMITED) continue;
      const tally = emptyTally();
      tally.asked = 1;
      note(tally, m.status, m.held);
      return tally;
    } catch {
      // Next bridge.
    }
  }
  return undefined;
}

/** The status a bridge answers a client's proxied STORE_MUTABLE with, from its own tally. */
export function tallyStatus(t: StoreTally, cas: number | undefined): MutableStoreStatusCode {
  if (cas !== undefined && t.casMismatch > 0) return MutableStoreStatus.CAS_MISMATCH;
  if (t.stored > 0) return MutableStoreStatus.STORED;
  if (t.deleted > 0) return MutableStoreStatus.DELETED;
  if (t.stale > 0) return MutableStoreStatus.STALE_SEQ;
  return MutableStoreStatus.FULL;
}

function casConflict(cas: number, current: number): SpydhtError {
  return new SpydhtError('CAS_CONFLICT', `the key is at seq ${current}, not ${cas}: another writer updated it; read it again and retry`);
}

function staleSeq(seq: number, newest: number): SpydhtError {
  return new SpydhtError('STALE_SEQ', `seq ${seq} is not above the newest copy (seq ${newest})`);
}

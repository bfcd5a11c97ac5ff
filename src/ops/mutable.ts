/**
 * Mutable records (PROTOCOL.md §15): get, put and delete.
 *
 * Storage rules as for immutable records (ops/put.ts, storage/placement.ts): a key lives at each of
 * its REPLICA_LOCATIONS, on the k nodes closest to each (at most holdersPerPrefix per IP
 * prefix per location), and a put needs MIN_HOLDERS distinct confirmations. IDs ground next to the
 * key then eclipse one location, not the record.
 *
 * A get does not stop at the first copy: a holder may serve an old one (it missed an update, or
 * lies by omission), so it asks the k closest nodes of every location, not just the first that
 * answers, and keeps the newest verified copy. Every location is asked on every get, in parallel:
 * a location whose holders all serve one old, valid copy looks like any other, so "ask the next
 * location only when this one gave nothing" (what an immutable get does) would return that copy.
 * Each query says which copy the asker already has, so a holder with nothing newer answers with a
 * 17-byte summary instead of the record. Holders seen with an older copy are sent the newest (read
 * repair), at whichever location they were seen.
 *
 * A put looks the key up the same way (that gives both the newest seq and the k closest nodes of
 * each location), signs the next seq, solves its proof of work and stores it on those nodes. With
 * `cas`, each holder refuses it when its seq is above `cas`, and any such refusal, at any location,
 * fails the put.
 */
import type { Identity } from '../crypto/identity.js';
import { SpydhtError } from '../errors.js';
import { compareDistance, idKey, type NodeId } from '../id.js';
import type { LookupPeer, QueryOutcome } from '../lookup/lookup.js';
import { LOCATION_LOOKUP } from '../lookup/lookups.js';
import type { HelloHold } from '../rpc/rpc.js';
import { compareSummaries, createMutableRecord, mutableKey, summaryOf, verifyMutableForKey } from '../storage/mutable-record.js';
import { replicaLocations } from '../storage/placement.js';
import { LOCAL_SENDER } from '../storage/store.js';
import { Flags, MessageType } from '../wire/messages.js';
import { MAX_SEQ, MutableStoreStatus, type MutableStoreStatusCode, type MutableSummary, type WireMutableRecord } from '../wire/mutable.js';
import { PROXY_TIMEOUT_MS } from './bridge.js';
import { nowSeconds, type OpContext } from './context.js';
import { chooseHolders, findHolders, holdersPerPrefix, MIN_HOLDERS, type HolderChoice } from './put.js';

/** Transmissions of each STORE_MUTABLE. */
const STORE_ATTEMPTS = 3;
const PROXY_ATTEMPTS = 2;
/** FIND_MUTABLE requests sent first at a further location, before the newest copy seen is known. */
const FIRST_AT_LOCATION = 3;

export interface MutableFound {
  /** The newest verified copy (a deletion included), if any node had one. */
  newest: WireMutableRecord | undefined;
  /** For each replica location of the key (the key first): up to k nodes closest to it that answered, closest first. */
  closestAt: LookupPeer[][];
  /** Nodes that answered with an older copy than `newest` (they are sent the newest). */
  stale: LookupPeer[];
  /** Nodes that answered with a copy (any). */
  holders: number;
  queried: number;
}

/**
 * Looks `key` up to the k closest nodes of each of its replica locations, collecting every copy;
 * resolves with the newest. The node's own copy counts as one. Does not repair: `repair` does.
 */
export async function lookupMutable(ctx: OpContext, key: NodeId, signal: AbortSignal, holdHello?: HelloHold): Promise<MutableFound> {
  let best = ctx.mutableStore.get(key, nowSeconds(ctx));
  /** The copy each answering node holds (undefined: none). */
  const copies = new Map<string, { peer: LookupPeer; copy: MutableSummary | undefined }>();
  /** Nodes that answered with a copy that does not verify (ID keys). */
  const liars = new Set<string>();
  const consider = async (record: WireMutableRecord): Promise<boolean> => {
    if (!(await verifyMutableForKey(ctx.crypto, ctx.rules, record, key, nowSeconds(ctx)))) return false;
    if (!best || compareSummaries(summaryOf(record), summaryOf(best)) > 0) best = record;
    return true;
  };
  const query = async (peer: LookupPeer, onSlow: () => void, s: AbortSignal): Promise<QueryOutcome<never>> => {
    // A holder withholds a record from an unproven address; its reply carried a token, so ask once more.
    for (let attempt = 0; attempt < 2; attempt++) {
      const known = best ? summaryOf(best) : undefined;
      const reply = await ctx.rpc.request(
        peer.address,
        { type: MessageType.FIND_MUTABLE, key, known, pad: 0 },
        { expectId: peer.id, onSlow, signal: s, ...(peer.budgets ? { sendBudget: peer.budgets } : {}), holdHello },
      );
      const m = reply.message;
      if (m.type === MessageType.MUTABLE_VALUE) {
        if (m.record && !(await consider(m.record))) {
          ctx.count('droppedBadValue');
          // Not a copy, and not a holder to store at or repair; but the contacts beside it are as
          // good as any reply's: dropping them would let liars nearest the key hide an honest
          // holder that only they know.
          liars.add(idKey(peer.id));
          return { contacts: m.contacts, bytes: reply.size };
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
  };
  // Every location at once (see the file comment). At the key, FIND_MUTABLE is the lookup itself:
  // converge like a node lookup, then ask every remaining one of the k closest at once.
  const [atKey, ...further] = await Promise.all([
    ctx.lookups.run<never>(key, signal, query, { burst: true }),
    ...replicaLocations(ctx.crypto, key)
      .slice(1)
      .map((loc) => copiesAtLocation(ctx, loc, query, (peer) => copies.has(idKey(peer.id)) || liars.has(idKey(peer.id)), () => best !== undefined, signal, holdHello)),
  ]);
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
  const honest = (peers: LookupPeer[]): LookupPeer[] => (liars.size === 0 ? peers : peers.filter((p) => !liars.has(idKey(p.id))));
  const closestAt = [atKey!.closest, ...further.map((f) => f.closest)].map(honest);
  const queried = atKey!.queried + further.reduce((n, f) => n + f.queried, 0);
  return { newest, closestAt, stale, holders, queried };
}

/**
 * The copies at a further replica location: a node lookup to the location (FIND_MUTABLE answers
 * list contacts near the key, not near the location), then FIND_MUTABLE to the k closest found, all
 * at once when a copy is already known (the lookup at the key usually found one meanwhile), else a
 * few first, so that most queries carry a copy and a holder with nothing newer answers with a
 * summary, not the record. Nodes already asked at another location are not asked again.
 */
async function copiesAtLocation(
  ctx: OpContext,
  location: NodeId,
  query: (peer: LookupPeer, onSlow: () => void, signal: AbortSignal) => Promise<unknown>,
  asked: (peer: LookupPeer) => boolean,
  haveCopy: () => boolean,
  signal: AbortSignal,
  holdHello?: HelloHold,
): Promise<{ closest: LookupPeer[]; queried: number }> {
  const nodes = await ctx.lookups.nodes(location, signal, holdHello ? { ...LOCATION_LOOKUP, holdHello } : LOCATION_LOOKUP);
  const peers = nodes.closest.filter((p) => !asked(p));
  const ask = (batch: LookupPeer[]): Promise<unknown> => Promise.all(batch.map((p) => query(p, () => {}, signal).catch(() => undefined)));
  const first = haveCopy() ? peers.length : FIRST_AT_LOCATION;
  await ask(peers.slice(0, first));
  await ask(peers.slice(first));
  return { closest: nodes.closest, queried: nodes.queried + peers.length };
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
  /** Distinct nodes that confirmed the store, over every replica location (this one included when it is a holder). */
  stored: number;
  /** Distinct IP prefixes (/24, /64) among them; nodes whose address carries no IP count as their own prefix. */
  prefixes: number;
}

export async function putMutable(ctx: OpContext, input: MutablePutInput, signal: AbortSignal): Promise<MutablePublished> {
  let key: Uint8Array;
  try {
    key = mutableKey(ctx.crypto, input.owner.publicKey, input.salt);
  } catch (err) {
    if (err instanceof RangeError) throw SpydhtError.invalidArgument(err.message);
    throw err;
  }
  // As a put's: the HELLOs its lookups owe ride on its later requests to those nodes (ops/put.ts).
  return ctx.rpc.withHeldHellos((hold) => putMutableHolding(ctx, input, key, signal, hold));
}

async function putMutableHolding(ctx: OpContext, input: MutablePutInput, key: Uint8Array, signal: AbortSignal, hold: HelloHold): Promise<MutablePublished> {
  const found = await lookupMutable(ctx, key, signal, hold);
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
  // A client may not reach the members that should hold it: its bridges store it for it (a bridge
  // answers "stored" only when its own put met the rules below).
  if (ctx.client && ctx.peers.entryCount > 0) {
    const proxied = await proxyStoreMutable(ctx, record, input.cas, signal);
    if (proxied) return { record, ...outcome(proxied, input.cas, record) };
  }
  const tally = await storeOnClosest(ctx, record, input.cas, signal, undefined, found.closestAt);
  return { record, ...outcome(tally, input.cas, record) };
}

/** What the holders said to one STORE_MUTABLE, over every location it went to. */
export interface StoreTally {
  /** Distinct holders that confirmed (this node included). */
  stored: number;
  /** Distinct IP prefixes among them. */
  prefixes: number;
  /** Confirmations the put needs: MIN_HOLDERS, or 1 for a node alone in its swarm (or a bridge's word). */
  needed: number;
  casMismatch: number;
  stale: number;
  deleted: number;
  full: number;
  notResponsible: number;
  asked: number;
  /** The highest seq a refusing holder reported. */
  highestHeld: number | undefined;
}

function emptyTally(): StoreTally {
  return { stored: 0, prefixes: 0, needed: MIN_HOLDERS, casMismatch: 0, stale: 0, deleted: 0, full: 0, notResponsible: 0, asked: 0, highestHeld: undefined };
}

const confirms = (status: MutableStoreStatusCode | undefined): boolean => status === MutableStoreStatus.STORED || status === MutableStoreStatus.ALREADY_HELD;

/** Counts a refusal (a confirmation is counted by holder, in storeOnClosest). */
function note(t: StoreTally, status: MutableStoreStatusCode | undefined, held: MutableSummary | undefined): void {
  if (status === MutableStoreStatus.CAS_MISMATCH) t.casMismatch++;
  else if (status === MutableStoreStatus.STALE_SEQ) t.stale++;
  else if (status === MutableStoreStatus.DELETED) t.deleted++;
  else if (status === MutableStoreStatus.FULL) t.full++;
  else if (status === MutableStoreStatus.NOT_RESPONSIBLE) t.notResponsible++;
  if (held && !confirms(status)) t.highestHeld = Math.max(t.highestHeld ?? 0, held.seq);
}

/**
 * Stores `record` at `locations` (default: every replica location of its key; a republishing
 * holder passes the ones it serves): at each, on the k closest nodes (`closestAt`, one list per
 * location, from the put's own lookup; looked up when not given) with at most
 * holdersPerPrefix per IP prefix, and here when this node is among them. Each node is sent
 * the record once, however many locations it is close to. Resolves with what they said; never
 * throws for a refusal (`outcome` decides).
 */
export async function storeOnClosest(
  ctx: OpContext,
  record: WireMutableRecord,
  cas: number | undefined,
  signal: AbortSignal,
  locations?: NodeId[],
  closestAt?: LookupPeer[][],
): Promise<StoreTally> {
  const { k } = ctx;
  const prefixCap = holdersPerPrefix(ctx.table.maxPerPrefix);
  const targets = locations ?? replicaLocations(ctx.crypto, record.key);
  const lists = closestAt ?? (await findHolders(ctx, record.key, signal, targets));
  const tally = emptyTally();
  const holders = new Set<string>();
  const prefixes = new Set<string>();
  const seen = new Set<string>();
  const sends: HolderChoice[] = [];
  const queued = new Set<string>();
  let selfTried = false;
  let selfStored = false;
  targets.forEach((loc, i) => {
    const closest = lists[i] ?? [];
    for (const p of closest) seen.add(idKey(p.id));
    const farthest = closest[k - 1];
    let room = k;
    if (!ctx.client && (!farthest || compareDistance(ctx.identity.id, farthest.id, loc) < 0)) {
      if (!selfTried) {
        selfTried = true;
        const mine = ctx.mutableStore.put(record, cas, ctx.clock.now());
        tally.asked++;
        selfStored = confirms(mine.status);
        if (!selfStored) note(tally, mine.status, mine.held);
      }
      // This node is one of the k closest: the k-th peer found is the (k+1)-th, not a replica.
      if (selfStored) room = k - 1;
    }
    chooseHolders(ctx, closest, room, prefixCap, queued, sends);
  });
  if (selfStored) {
    holders.add(idKey(ctx.identity.id));
    prefixes.add(LOCAL_SENDER);
  }
  tally.asked += sends.length;
  await Promise.all(
    sends.map(async ({ peer, prefix }) => {
      const ack = await storeMutableAt(ctx, peer, record, cas, signal);
      if (confirms(ack?.status)) {
        holders.add(idKey(peer.id));
        prefixes.add(prefix);
      } else note(tally, ack?.status, ack?.held);
    }),
  );
  tally.stored = holders.size;
  tally.prefixes = prefixes.size;
  // More than one holder, unless this node is alone in its swarm (it knows and found nobody).
  if (seen.size === 0 && ctx.table.size === 0) tally.needed = 1;
  return tally;
}

/** How a put ends, from what the holders said: how many hold it (and in how many prefixes), or a typed error. */
export function outcome(t: StoreTally, cas: number | undefined, record: WireMutableRecord): { stored: number; prefixes: number } {
  // One holder past `cas`, at any location, means another writer got in between: the caller must read again.
  if (cas !== undefined && t.casMismatch > 0) throw casConflict(cas, t.highestHeld ?? cas + 1);
  if (t.stored > 0 && t.stored >= t.needed) return { stored: t.stored, prefixes: t.prefixes };
  if (t.deleted > 0 && !record.deleted) throw new SpydhtError('NOT_STORED', 'the owner deleted this key at a higher seq');
  if (t.stale > 0 || t.deleted > 0) throw staleSeq(record.seq, t.highestHeld ?? record.seq);
  if (t.full > 0 && t.stored === 0) throw new SpydhtError('STORAGE_FULL', `every node asked (${t.full}) is full`);
  if (t.asked === 0) throw new SpydhtError('NO_CONTACTS', 'no node to store on: bootstrap first');
  throw new SpydhtError('NOT_STORED', `${t.stored} of ${t.asked} nodes confirmed the store; ${t.needed} needed`);
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
      // The bridge answers "stored" only when its own put met the rules: its word is one confirmation.
      const tally = emptyTally();
      tally.asked = 1;
      tally.needed = 1;
      if (confirms(m.status)) tally.stored = tally.prefixes = 1;
      else note(tally, m.status, m.held);
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
  if (t.stored > 0 && t.stored >= t.needed) return MutableStoreStatus.STORED;
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

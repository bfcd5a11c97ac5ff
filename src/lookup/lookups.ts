/**
 * The lookup peer policy: which contacts seed a lookup, which contacts from NODES replies become
 * candidates, and which peers to skip for a while because they just timed out. `lookup.ts` is the
 * pure iteration; this class feeds it from the routing table and the RPC layer.
 */
import type { Clock } from '../clock.js';
import type { CryptoBackend } from '../crypto/backend.js';
import { solvesIdPuzzle } from '../crypto/identity.js';
import { SpydhtError, isSpydhtError } from '../errors.js';
import { equalIds, idKey, type NodeId } from '../id.js';
import { LruMap } from '../lru.js';
import { UNPADDED_LOOKUP_BYTES, budgetLeft, type HelloHold, type Rpc } from '../rpc/rpc.js';
import type { Contact } from '../routing/contact.js';
import type { RoutingTable } from '../routing/table.js';
import { MessageType, type WireContact } from '../wire/messages.js';
import { lookup, type LookupPeer, type LookupResult, type QueryOutcome } from './lookup.js';

/**
 * A peer whose lookup query timed out is skipped as a lookup candidate for this long, unless it
 * is heard from meanwhile: after churn, the departed stay in other nodes' tables and NODES lists
 * for a while, and every lookup would otherwise wait out their timeouts again.
 */
export const UNRESPONSIVE_MS = 30_000;
const MAX_UNRESPONSIVE = 1024;
/** Consecutive failed requests after which a contact leaves the table. */
export const MAX_FAILURES = 3;

export type Query<V> = (peer: LookupPeer, onSlow: () => void, signal: AbortSignal) => Promise<QueryOutcome<V>>;

/** How a lookup spends its queries (see LookupOptions in lookup.ts). */
export interface LookupMode {
  /** The k of the convergence (default: the bucket size). */
  k?: number;
  burst?: boolean;
  narrow?: number;
  maxQueries?: number;
  /** Queries in flight before convergence (default: the node's α). */
  alpha?: number;
  /** Contacts from other buckets asked in the first round whatever their distance (probesFor). */
  probes?: number;
  /** Seeds instead of the table's closest contacts (e.g. strangers a lookup was just told of). */
  seeds?: LookupPeer[];
  /** Every new candidate a reply introduced (it has not answered us: it is no table contact). */
  onCandidate?: (peer: LookupPeer) => void;
  /** Node lookups: HELLOs the replies call for wait here for the operation's next requests (RequestOptions.holdHello). */
  holdHello?: HelloHold;
}

/** A get: α seeds, then one query at a time toward the value (loss widens it again). */
export const VALUE_LOOKUP: LookupMode = { narrow: 1 };

/**
 * A node lookup to a further replica location of a key (storage/placement.ts): IDs ground next to
 * the key may fill the bucket of our table that holds the location too (a young table has room
 * there), and then every seed is one of them and lists only the others. Three probes from other
 * buckets find the nodes really nearest the location (SECURITY.md, "Storage").
 */
export const LOCATION_LOOKUP: LookupMode = { burst: true, probes: 3 };

/** How to look up replica location `location` of `key`: the key itself plainly, a further one with probes. */
export function locationMode(key: NodeId, location: NodeId): LookupMode {
  return equalIds(key, location) ? {} : LOCATION_LOOKUP;
}

export interface LookupsOptions {
  selfId: NodeId;
  crypto: CryptoBackend;
  idDifficulty: number;
  k: number;
  alpha: number;
  rpc: Rpc;
  table: RoutingTable;
  clock: Clock;
  count: (what: string) => void;
  /**
   * `by` listed `contactId`, whose address is reached through signaling: `by` has it in its table,
   * so it can relay our signaling to it.
   */
  onListed?: (contactId: NodeId, by: LookupPeer) => void;
}

export class Lookups {
  readonly k: number;
  readonly #options: Required<Omit<LookupsOptions, 'onListed'>> & Pick<LookupsOptions, 'onListed'>;
  /** ID (idKey) → clock ms when a lookup query to it timed out (see UNRESPONSIVE_MS). */
  readonly #unresponsive = new LruMap<string, number>(MAX_UNRESPONSIVE);

  constructor(options: LookupsOptions) {
    this.#options = options;
    this.k = options.k;
  }

  /** Runs a lookup toward `target` with `query`. */
  run<V>(target: NodeId, signal: AbortSignal, query: Query<V>, mode: LookupMode = {}): Promise<LookupResult<V>> {
    const k = mode.k ?? this.k;
    const { table, clock } = this.#options;
    const seeds = mode.seeds ?? this.seeds(target);
    const onCandidate = mode.onCandidate;
    return lookup<V>({
      target,
      selfId: this.#options.selfId,
      k,
      alpha: mode.alpha ?? this.#options.alpha,
      seeds,
      ...(mode.probes ? { probes: this.probesFor(target, mode.probes, seeds) } : {}),
      query: async (peer, onSlow, s) => {
        try {
          return await query(peer, onSlow, s);
        } catch (err) {
          if (!s.aborted && table.fail(peer.id) >= MAX_FAILURES) table.remove(peer.id);
          if (!s.aborted && isSpydhtError(err, 'REQUEST_TIMEOUT')) this.#unresponsive.set(idKey(peer.id), clock.now());
          throw err;
        }
      },
      accept: (contact, from, budget) => {
        const peer = this.#accept(contact, from, budget);
        if (peer && onCandidate) onCandidate(peer);
        return peer;
      },
      affordable: (peer) => !peer.budgets || budgetLeft(peer.budgets) >= UNPADDED_LOOKUP_BYTES || this.#options.rpc.receivesAt(peer.address),
      signal,
      ...(mode.burst ? { burst: true, radiusBits: table.neighbourhoodBits() } : {}),
      ...(mode.narrow !== undefined ? { narrow: mode.narrow } : {}),
      ...(mode.maxQueries !== undefined ? { maxQueries: mode.maxQueries } : {}),
    });
  }

  /** The `k` closest nodes to `target` that answer. A `k` below the bucket size is a cheaper lookup that still lands near the target. */
  nodes(target: NodeId, signal: AbortSignal, mode: LookupMode = {}): Promise<LookupResult<never>> {
    return this.run<never>(
      target,
      signal,
      async (peer, onSlow, s) => {
        const reply = await this.#options.rpc.request(
          peer.address,
          { type: MessageType.FIND_NODE, target, pad: 0 },
          { expectId: peer.id, onSlow, signal: s, ...(peer.budgets ? { sendBudget: peer.budgets } : {}), holdHello: mode.holdHello },
        );
        if (reply.message.type !== MessageType.NODES) throw SpydhtError.decode('unexpected reply');
        return { contacts: reply.message.contacts, bytes: reply.size };
      },
      // Converge α at a time, then ask every remaining candidate among the k closest at once.
      { burst: true, ...mode },
    );
  }

  /** The closest contacts that have not timed out lately (all of them if every one has). */
  seeds(target: NodeId): LookupPeer[] {
    const closest = this.#options.table.closest(target, this.k);
    const live = closest.filter((c) => !this.#isUnresponsive(c.id));
    // Everyone timed out lately (our own network blinked?): try them anyway rather than not at all.
    return (live.length > 0 ? live : closest).map(peerOf);
  }

  /**
   * Up to `count` contacts outside the target's bucket and not among `seeds`, one per bucket, the
   * nearest buckets first: each bucket's contacts are independent views of the target's region,
   * so an attacker who crowded the target's own bucket still faces honest probes.
   */
  probesFor(target: NodeId, count: number, seeds: LookupPeer[]): LookupPeer[] {
    const { table } = this.#options;
    const own = table.bucketIndex(target);
    const skip = new Set(seeds.map((s) => idKey(s.id)));
    const buckets = new Set<number>();
    const out: LookupPeer[] = [];
    const usable = (c: Contact): boolean => table.bucketIndex(c.id) !== own && !skip.has(idKey(c.id)) && !this.#isUnresponsive(c.id);
    const near = table.closest(target, this.k * 2, usable);
    for (const c of near) {
      if (out.length >= count) break;
      const b = table.bucketIndex(c.id);
      if (buckets.has(b)) continue;
      buckets.add(b);
      out.push(peerOf(c));
    }
    // Fewer buckets than probes: the nearest of the rest.
    for (const c of near) {
      if (out.length >= count) break;
      if (!out.some((p) => equalIds(p.id, c.id))) out.push(peerOf(c));
    }
    return out;
  }

  /** Every request and reply passes here: no key is made unless some peer is marked. */
  heardFrom(id: NodeId): void {
    if (this.#unresponsive.size > 0) this.#unresponsive.delete(idKey(id));
  }

  /**
   * A contact from a NODES reply that we can reach and that is worth a datagram. One whose address
   * has not proven it receives draws on `budget`, the listing reply's size: a node that lists
   * made-up contacts at a victim's address cannot make us send more there than it sent us.
   */
  #accept(contact: WireContact, from: LookupPeer, budget: { left: number } | undefined): LookupPeer | undefined {
    const { crypto, rpc } = this.#options;
    if (equalIds(contact.id, this.#options.selfId)) return undefined;
    // One hash weeds out IDs that do not solve the puzzle before we spend a datagram on them.
    if (!solvesIdPuzzle(crypto, contact.id, this.#options.idDifficulty)) {
      this.#options.count('droppedBadContact');
      return undefined;
    }
    const address = contact.addresses.find((a) => rpc.canReach(a));
    if (!address) return undefined;
    if (this.#isUnresponsive(contact.id)) {
      this.#options.count('skippedUnresponsive');
      return undefined;
    }
    if (rpc.needsSignaling(address)) this.#options.onListed?.(contact.id, from);
    const peer: LookupPeer = { id: contact.id, address, addresses: contact.addresses };
    if (budget && !rpc.receivesAt(address)) peer.budgets = [budget];
    return peer;
  }

  #isUnresponsive(id: NodeId): boolean {
    const key = idKey(id);
    const at = this.#unresponsive.peek(key);
    if (at === undefined) return false;
    if (this.#options.clock.now() - at < UNRESPONSIVE_MS) return true;
    this.#unresponsive.delete(key);
    return false;
  }
}

/** A routing-table contact as a lookup peer. */
export function peerOf(c: Contact): LookupPeer {
  return { id: c.id, address: c.address, addresses: c.addresses };
}

/**
 * Iterative Kademlia lookup: α queries in flight, converging on the k closest nodes to a target.
 * It owns no timers: it reacts to each query's outcome. A query whose first datagram timed out
 * ("slow") stops counting against α, so a lost datagram costs a retry elsewhere, not a wait;
 * the lookup ends as soon as its k closest live candidates have all answered, whatever farther
 * queries are still out.
 */
import { onAbort as watchAbort } from '../abort.js';
import { SpydhtError } from '../errors.js';
import { commonPrefixLength, compareDistance, equalIds, idKey, type NodeId } from '../id.js';
import { sameAddress, type PeerAddress } from '../wire/address.js';
import type { WireContact } from '../wire/messages.js';

export interface LookupPeer {
  id: NodeId;
  address: PeerAddress;
  addresses: PeerAddress[];
  /**
   * Bytes we may still send to this peer's address while it has not proven it receives there: the
   * budgets of the replies that listed it at this address (each shared by that reply's contacts).
   */
  budgets?: { left: number }[];
}

export interface QueryOutcome<V> {
  contacts: WireContact[];
  value?: V;
  /** Size of the reply datagram: the byte budget of the addresses it introduces. */
  bytes?: number;
}

export interface LookupOptions<V> {
  target: NodeId;
  selfId: NodeId;
  k: number;
  alpha: number;
  seeds: LookupPeer[];
  /**
   * Peers asked in the first round whatever their distance, and waited for (until they answer,
   * fail or turn slow) before the lookup may end. A table whose bucket toward the target was
   * filled by IDs ground near some point there (an attacker's cluster) seeds only those, and they
   * list only each other; a node from elsewhere in the table has its own view of that region and
   * lists who is really nearest. (Lookups.probesFor picks them.)
   */
  probes?: LookupPeer[];
  /** Sends one query; resolves with what the peer returned, rejects on timeout or bad reply. */
  query: (peer: LookupPeer, onSlow: () => void, signal: AbortSignal) => Promise<QueryOutcome<V>>;
  /**
   * Turns a contact returned by `from` into a peer we can query, or undefined to ignore it.
   * `budget` is shared by every contact of that one reply (see LookupPeer.budgets).
   */
  accept: (contact: WireContact, from: LookupPeer, budget: { left: number } | undefined) => LookupPeer | undefined;
  /**
   * Whether a candidate may be queried now (its budgets cover a request). One that may not is
   * passed over without failing: another reply listing it at the same address adds its budget.
   */
  affordable?: (peer: LookupPeer) => boolean;
  signal?: AbortSignal;
  /** Candidates kept at most (the closest win). */
  maxCandidates?: number;
  /**
   * Node lookups: once a reply brings no candidate closer than the closest already known, query
   * every unqueried candidate among the k closest at once (the Kademlia paper's last round), instead
   * of α at a time: the lookup then takes a few round trips, not k/α.
   */
  burst?: boolean;
  /**
   * With `burst`: the k nodes closest to any point share about this many leading bits with it (the
   * node estimates it from its own neighbourhood). Once the k-th closest candidate shares as many
   * with the target, the lookup has found the target's neighbourhood and bursts at once, without
   * first walking down to the very closest node.
   */
  radiusBits?: number;
  /**
   * Value lookups: after the first reply, keep at most this many queries in flight beyond the
   * seeds, each to the closest candidate not yet asked. With good tables the first such query
   * reaches a holder, so a get asks α + 1 nodes instead of 2α. A query whose first datagram timed
   * out ("slow") stops counting, so loss widens the search again.
   */
  narrow?: number;
  /**
   * Stop launching queries after this many (the lookup then ends when those settle). For a bucket
   * refresh: a few verified contacts in the bucket are what it wants, not convergence.
   */
  maxQueries?: number;
}

export interface LookupResult<V> {
  /** Up to k peers that answered, closest first. */
  closest: LookupPeer[];
  value?: V;
  valueFrom?: LookupPeer;
  /** Sequential rounds to the value (or to the closest answering peer). */
  hops: number;
  queried: number;
  responded: number;
}

type State = 'fresh' | 'waiting' | 'slow' | 'done' | 'failed';

/**
 * Budgets kept per candidate (LookupPeer.budgets). Each is a whole reply's size (hundreds of bytes
 * at least), so a few cover a query and its retry; a candidate near the target that every reply
 * lists would otherwise carry one per reply, and summing them for every candidate at every step
 * was 5 % of a 16,000-node simulation's CPU.
 */
const MAX_BUDGETS = 4;

/** Adds `budget` to `budgets`; at MAX_BUDGETS it takes the place of the most spent one, if it holds more. */
function addBudget(budgets: { left: number }[], budget: { left: number }): void {
  if (budgets.length < MAX_BUDGETS) {
    budgets.push(budget);
    return;
  }
  let least = 0;
  for (let i = 1; i < budgets.length; i++) if (budgets[i]!.left < budgets[least]!.left) least = i;
  if (budget.left > budgets[least]!.left) budgets[least] = budget;
}

/** Why a finished lookup's remaining queries are cancelled. */
const FINISHED = new SpydhtError('ABORTED', 'the lookup has finished');

interface Candidate {
  peer: LookupPeer;
  hex: string;
  hop: number;
  state: State;
}

export function lookup<V>(o: LookupOptions<V>): Promise<LookupResult<V>> {
  return new Promise((resolve, reject) => {
    const maxCandidates = o.maxCandidates ?? Math.max(4 * o.k, 64);
    const sorted: Candidate[] = [];
    /** Every ID offered so far → its candidate (undefined once dropped from `sorted` or for ourselves). */
    const known = new Map<string, Candidate | undefined>();
    const inner = new AbortController();
    let queried = 0;
    let responded = 0;
    let finished = false;
    /** The closest peer ever offered, and whether the reply being processed offered a closer one. */
    let closestKnown: LookupPeer | undefined;
    let improved = false;
    let bursting = false;
    /** Probes (LookupOptions.probes) whose answer is still awaited. */
    const probing = new Set<Candidate>();
    let unwatch = (): void => {};

    const add = (peer: LookupPeer, hop: number): void => {
      const hex = idKey(peer.id);
      if (known.has(hex) || equalIds(peer.id, o.selfId)) return;
      const c: Candidate = { peer, hex, hop, state: 'fresh' };
      known.set(hex, c);
      if (!closestKnown || compareDistance(peer.id, closestKnown.id, o.target) < 0) {
        closestKnown = peer;
        improved = true;
      }
      let lo = 0;
      let hi = sorted.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (compareDistance(sorted[mid]!.peer.id, peer.id, o.target) < 0) lo = mid + 1;
        else hi = mid;
      }
      sorted.splice(lo, 0, c);
      // Bounded: drop the farthest candidate that is not in flight.
      if (sorted.length > maxCandidates) {
        for (let i = sorted.length - 1; i >= 0; i--) {
          const s = sorted[i]!.state;
          if (s !== 'waiting' && s !== 'slow') {
            known.set(sorted[i]!.hex, undefined);
            sorted.splice(i, 1);
            break;
          }
        }
      }
    };

    const finish = (value?: V, from?: Candidate): void => {
      if (finished) return;
      finished = true;
      unwatch();
      // With a reason: a bare abort() builds a DOMException (and its stack) per lookup.
      inner.abort(FINISHED);
      const done = sorted.filter((c) => c.state === 'done').slice(0, o.k);
      const hops = from ? from.hop : done.length ? Math.max(...done.map((c) => c.hop)) : 0;
      const result: LookupResult<V> = { closest: done.map((c) => c.peer), hops, queried, responded };
      if (from && value !== undefined) {
        result.value = value;
        result.valueFrom = from.peer;
      }
      resolve(result);
    };

    const onAbort = (): void => {
      if (finished) return;
      finished = true;
      inner.abort(FINISHED);
      reject(SpydhtError.aborted(o.signal?.reason));
    };

    const launch = (c: Candidate): void => {
      c.state = 'waiting';
      queried++;
      const onSlow = (): void => {
        if (c.state === 'waiting') {
          c.state = 'slow';
          probing.delete(c);
          step();
        }
      };
      o.query(c.peer, onSlow, inner.signal).then(
        (outcome) => {
          if (finished) return;
          c.state = 'done';
          probing.delete(c);
          responded++;
          improved = false;
          const budget = outcome.bytes !== undefined ? { left: outcome.bytes } : undefined;
          for (const contact of outcome.contacts) {
            // Known already (or ourselves): skip it before `accept` spends a hash on its puzzle.
            const hex = idKey(contact.id);
            if (known.has(hex)) {
              const listed = known.get(hex);
              if (budget && listed?.state === 'fresh' && listed.peer.budgets && contact.addresses.some((a) => sameAddress(a, listed.peer.address))) {
                addBudget(listed.peer.budgets, budget);
              }
              continue;
            }
            const peer = o.accept(contact, c.peer, budget);
            if (peer) add(peer, c.hop + 1);
          }
          // Converged (nothing closer came back, and the closest candidate has answered): one round
          // to every unqueried candidate among the k closest.
          if (o.burst && ((!improved && closestLive()?.state === 'done') || neighbourhoodFound())) bursting = true;
          if (outcome.value !== undefined) finish(outcome.value, c);
          else step();
        },
        () => {
          if (finished) return;
          c.state = 'failed';
          probing.delete(c);
          step();
        },
      );
    };

    /** Out of the running for now: failed, or not affordable yet (see LookupOptions.affordable). */
    const idle = (c: Candidate): boolean => c.state === 'failed' || (c.state === 'fresh' && o.affordable !== undefined && !o.affordable(c.peer));
    const closestLive = (): Candidate | undefined => sorted.find((c) => !idle(c));
    /** The k-th closest live candidate is as close to the target as the k closest nodes usually are. */
    const neighbourhoodFound = (): boolean => {
      if (o.radiusBits === undefined) return false;
      let live = 0;
      for (const c of sorted) {
        if (idle(c)) continue;
        if (++live === o.k) return commonPrefixLength(c.peer.id, o.target) >= o.radiusBits;
      }
      return false;
    };

    /**
     * Node lookups (burst): a candidate whose first datagram timed out gives up its place among
     * the k closest to the next one, which is asked at once; the lookup ends when k have answered
     * without it (its retry may still answer first). A lost datagram then costs one more query,
     * not the wait for a retransmission: at 10 % loss every round of a lookup lost one. Were all k
     * slow, it waits for them. A value lookup keeps waiting: the slow node may be a holder.
     */
    const passOverSlow = o.burst === true;
    const step = (): void => {
      if (finished) return;
      let waiting = 0;
      let inFlight = 0;
      let slow = 0;
      let fresh = 0;
      let live = 0;
      // Narrowed, only the queries sent after the seeds count against the limit.
      const narrowed = o.narrow !== undefined && responded > 0;
      for (const c of sorted) {
        if (idle(c)) continue;
        if (passOverSlow && c.state === 'slow') {
          slow++;
          continue;
        }
        if (live >= o.k) break; // only the k closest live candidates decide the outcome
        live++;
        if (c.state === 'waiting') {
          waiting++;
          if (!narrowed || c.hop > 1) inFlight++;
        } else if (c.state === 'slow') slow++;
        else if (c.state === 'fresh') fresh++;
      }
      // Out of budget, candidates not yet asked no longer keep the lookup open.
      const maxQueries = o.maxQueries ?? Infinity;
      const spent = queried >= maxQueries;
      if (passOverSlow) {
        // k answered without the slow ones (or nothing else left to ask, and none slow): done.
        if (waiting + (spent ? 0 : fresh) + probing.size === 0 && (live >= o.k || slow === 0)) return finish();
      } else if (waiting + slow + (spent ? 0 : fresh) + probing.size === 0) return finish();
      const limit = bursting ? Infinity : narrowed ? o.narrow! : o.alpha;
      bursting = false;
      live = 0;
      for (const c of sorted) {
        // A burst launches several at once: the query budget is checked for each one.
        if (inFlight >= limit || queried >= maxQueries) break;
        if (idle(c) || (passOverSlow && c.state === 'slow')) continue;
        if (live++ >= o.k) break;
        if (c.state === 'fresh') {
          inFlight++;
          launch(c);
          if (finished) return;
        }
      }
    };

    if (o.signal?.aborted) return onAbort();
    unwatch = o.signal ? watchAbort(o.signal, onAbort) : () => {};
    for (const s of o.seeds) add(s, 1);
    for (const p of o.probes ?? []) {
      add(p, 1);
      const c = known.get(idKey(p.id));
      if (c?.state !== 'fresh') continue;
      probing.add(c);
      launch(c);
    }
    step();
  });
}

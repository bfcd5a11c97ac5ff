/**
 * Iterative Kademlia lookup: α queries in flight, converging on the k closest nodes to a target.
 * It owns no timers: it reacts to each query's outcome. A query whose first datagram timed out
 * ("slow") stops counting against α, so a lost datagram costs a retry elsewhere, not a wait;
 * the lookup ends as soon as its k closest live candidates have all answered, whatever farther
 * queries are still out.
 */
import { onAbort as watchAbort } from '../abort.js';
import { SpydhtError } from '../errors.js';
import { compareDistance, equalIds, idKey, type NodeId } from '../id.js';
import type { PeerAddress } from '../wire/address.js';
import type { WireContact } from '../wire/messages.js';

export interface LookupPeer {
  id: NodeId;
  address: PeerAddress;
  addresses: PeerAddress[];
}

export interface QueryOutcome<V> {
  contacts: WireContact[];
  value?: V;
}

export interface LookupOptions<V> {
  target: NodeId;
  selfId: NodeId;
  k: number;
  alpha: number;
  seeds: LookupPeer[];
  /** Sends one query; resolves with what the peer returned, rejects on timeout or bad reply. */
  query: (peer: LookupPeer, onSlow: () => void, signal: AbortSignal) => Promise<QueryOutcome<V>>;
  /** Turns a contact returned by `from` into a peer we can query, or undefined to ignore it. */
  accept: (contact: WireContact, from: LookupPeer) => LookupPeer | undefined;
  signal?: AbortSignal;
  /** Candidates kept at most (the closest win). */
  maxCandidates?: number;
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
    const known = new Set<string>();
    const inner = new AbortController();
    let queried = 0;
    let responded = 0;
    let finished = false;
    let unwatch = (): void => {};

    const add = (peer: LookupPeer, hop: number): void => {
      const hex = idKey(peer.id);
      if (known.has(hex) || equalIds(peer.id, o.selfId)) return;
      known.add(hex);
      const c: Candidate = { peer, hex, hop, state: 'fresh' };
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
      inner.abort();
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
      inner.abort();
      reject(SpydhtError.aborted(o.signal?.reason));
    };

    const launch = (c: Candidate): void => {
      c.state = 'waiting';
      queried++;
      const onSlow = (): void => {
        if (c.state === 'waiting') {
          c.state = 'slow';
          step();
        }
      };
      o.query(c.peer, onSlow, inner.signal).then(
        (outcome) => {
          if (finished) return;
          c.state = 'done';
          responded++;
          for (const contact of outcome.contacts) {
            const peer = o.accept(contact, c.peer);
            if (peer) add(peer, c.hop + 1);
          }
          if (outcome.value !== undefined) finish(outcome.value, c);
          else step();
        },
        () => {
          if (finished) return;
          c.state = 'failed';
          step();
        },
      );
    };

    const step = (): void => {
      if (finished) return;
      let inFlight = 0;
      let slow = 0;
      let fresh = 0;
      let live = 0;
      for (const c of sorted) {
        if (c.state === 'failed') continue;
        if (live >= o.k) break; // only the k closest live candidates decide the outcome
        live++;
        if (c.state === 'waiting') inFlight++;
        else if (c.state === 'slow') slow++;
        else if (c.state === 'fresh') fresh++;
      }
      if (inFlight + slow + fresh === 0) return finish();
      live = 0;
      for (const c of sorted) {
        if (inFlight >= o.alpha) break;
        if (c.state === 'failed') continue;
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
    step();
  });
}

/**
 * Per-peer round-trip estimates (RFC 6298 smoothing) that set request timeouts. A peer never
 * measured starts from what the whole network has shown so far, so a lost datagram to a fresh
 * contact costs a few RTTs, not bittorrent-dht's fixed 2 s.
 */
import { LruMap } from '../lru.js';
import type { PeerKey } from '../wire/address.js';

export const MIN_RTO_MS = 20;
export const MAX_RTO_MS = 3000;
/** Before any sample at all (first contact with the network). */
export const INITIAL_RTO_MS = 1000;
const MAX_TRACKED_PEERS = 4096;

interface Estimate {
  srtt: number;
  rttvar: number;
}

export class RttEstimator {
  readonly #peers = new LruMap<PeerKey, Estimate>(MAX_TRACKED_PEERS);
  /** Network-wide smoothed RTT and deviation, fed by every sample. */
  #global: Estimate | undefined;

  sample(peer: PeerKey, rtt: number): void {
    const r = Math.max(0, rtt);
    this.#peers.set(peer, smooth(this.#peers.peek(peer), r));
    this.#global = smooth(this.#global, r);
  }

  srtt(peer: PeerKey): number | undefined {
    return this.#peers.peek(peer)?.srtt;
  }

  /** Retransmission timeout for the first attempt to `peer`. */
  rto(peer: PeerKey): number {
    const e = this.#peers.peek(peer);
    if (e) return clamp(e.srtt + 4 * e.rttvar);
    // Unknown peer: assume it is like the rest of the network but allow for a slower path.
    if (this.#global) return clamp(2 * (this.#global.srtt + 4 * this.#global.rttvar));
    return INITIAL_RTO_MS;
  }
}

function smooth(prev: Estimate | undefined, r: number): Estimate {
  if (!prev) return { srtt: r, rttvar: r / 2 };
  const rttvar = 0.75 * prev.rttvar + 0.25 * Math.abs(prev.srtt - r);
  return { srtt: 0.875 * prev.srtt + 0.125 * r, rttvar };
}

function clamp(ms: number): number {
  return Math.min(MAX_RTO_MS, Math.max(MIN_RTO_MS, Math.ceil(ms)));
}

/** What the routing table keeps about a verified peer. */
import type { NodeId } from '../id.js';
import type { PeerAddress } from '../wire/address.js';

export interface Contact {
  readonly id: NodeId;
  /** The address the round trip was verified at: the one we send to. */
  address: PeerAddress;
  /** Every address the contact can be reached at, verified one first (what we hand to others). */
  addresses: PeerAddress[];
  /** IP the verified address belongs to, as observed on the wire (per-IP limit). */
  ip: string;
  /** Smoothed round-trip time in ms, when measured. */
  rtt: number | undefined;
  /** Clock ms of the last verified reply or request from this contact. */
  lastSeen: number;
  addedAt: number;
  /** Consecutive failed requests; reset by any reply. */
  failures: number;
}

/** A JSON-friendly view for the demo page and CLI. */
export interface ContactInfo {
  id: string;
  address: string;
  transport: number;
  ip: string;
  rtt: number | null;
  lastSeen: number;
}

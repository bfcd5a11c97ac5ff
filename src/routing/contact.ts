/** What the routing table keeps about a verified peer. */
import type { NodeId } from '../id.js';
import type { TransportName } from '../transport/transport.js';
import type { PeerAddress } from '../wire/address.js';
import { Flags } from '../wire/messages.js';

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
  /**
   * The header flags of the verified reply that admitted it (its SPEAKS_* flags say which
   * transports reach it); undefined where the admitting code did not record them.
   */
  flags?: number;
}

/** Transports a node can say it speaks (the SPEAKS_* header flags). */
export type SpokenTransport = Extract<TransportName, 'udp' | 'webrtc'>;

/** A JSON-friendly view of a contact, for pages, scripts and the CLI. */
export interface ContactInfo {
  /** Node ID, 64 hex digits: SHA-256 of its public key. */
  id: string;
  /** The address this node reaches it at, formatted by its transport ("1.2.3.4:4000", "webrtc:…"). */
  address: string;
  /** The transport this node reaches it through. */
  transport: TransportName;
  /**
   * The transports it says it can be reached over (its SPEAKS_* flags): `['udp', 'webrtc']` for a
   * Node peer that bridges both, `['webrtc']` for a browser tab; empty when not known.
   */
  speaks: SpokenTransport[];
  /** It is a bootstrap (signaling) server: a member that relays WebRTC signaling only as a last resort. */
  bootstrapServer: boolean;
  /** Its IP as observed on the wire ('' when not known). */
  ip: string;
  /** Smoothed round-trip time in ms, null until measured. */
  rtt: number | null;
  /** Clock ms of the last verified reply or request from it; 0 when it is not in the routing table. */
  lastSeen: number;
}

/** The transports a node's header flags say it speaks. */
export function spokenTransports(flags: number | undefined): SpokenTransport[] {
  if (flags === undefined) return [];
  const out: SpokenTransport[] = [];
  if (flags & Flags.SPEAKS_UDP) out.push('udp');
  if (flags & Flags.SPEAKS_WEBRTC) out.push('webrtc');
  return out;
}

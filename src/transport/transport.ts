/**
 * One interface for unreliable datagram transports (UDP, WebRTC data channels, the simulated
 * network). The engine never looks inside an address: the transport that owns its `kind` does.
 */
import type { PeerAddress } from '../wire/address.js';

export type DatagramHandler = (data: Uint8Array, from: PeerAddress) => void;

export interface Transport {
  /** The address kind this transport sends to and receives from (AddressKind). */
  readonly kind: number;
  /** Set by the engine; called once per received datagram. */
  onDatagram: DatagramHandler | undefined;
  /**
   * Best-effort send: may drop, duplicate or reorder, exactly like UDP. Never throws for a
   * network problem (an unreachable peer is a lost datagram).
   */
  send(to: PeerAddress, data: Uint8Array): void;
  /** The IP address a peer's datagrams came from, for the per-IP routing limit. */
  ipOf(address: PeerAddress): string | undefined;
  /** Human-readable form for logs and the demo page. */
  format(address: PeerAddress): string;
  /** Addresses this node can be reached at, when the transport knows them (else peers tell us via PONG). */
  localAddresses(): PeerAddress[];
  /** Releases sockets and timers; the engine calls it from DHT.close(). */
  close(): Promise<void>;
}

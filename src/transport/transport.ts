/**
 * One interface for unreliable datagram transports (UDP, WebRTC data channels, the WebSocket link
 * to the signaling server, the simulated network). The engine never looks inside an address and
 * never names a transport: each transport says what it is called, which SPEAKS_* flag it earns the
 * node, and how a peer is addressed on it.
 */
import { SpydhtError } from '../errors.js';
import type { NodeId } from '../id.js';
import type { PeerAddress } from '../wire/address.js';

/**
 * What a transport says of a signaling payload handed to it: taken (to be verified and acted on),
 * or refused for now because the peer that relayed it is over its budget (the relay then answers
 * the SIGNAL with RATE_LIMITED).
 */
export type SignalVerdict = 'accepted' | 'rate-limited';

/**
 * Carries opaque signaling payloads to a peer known only by its ID, relayed through the DHT
 * (or the bootstrap server). Payloads must be authenticated end to end by the transport.
 */
export interface SignalingChannel {
  send(to: Uint8Array, payload: Uint8Array): void;
  /**
   * Set by the transport. `relay` names the peer that handed us the payload (its IP, canonical,
   * or its address key when its IP is unknown), so the transport can budget what each relay
   * may make it do; undefined when the channel cannot tell.
   */
  onSignal: ((from: Uint8Array, payload: Uint8Array, relay?: string) => SignalVerdict | void) | undefined;
}

export type DatagramHandler = (data: Uint8Array, from: PeerAddress) => void;

/**
 * Every transport's name: the prefix of its counters in `DHT.stats()` and `ContactInfo.transport`.
 * A closed union, so a misspelt name is a compile error; a new transport adds its name here.
 */
export type TransportName = 'udp' | 'webrtc' | 'ws' | 'sim';

export interface Transport {
  /** The address kind this transport sends to and receives from (AddressKind). */
  readonly kind: number;
  /** Short lowercase name ("udp", "webrtc" …): the prefix of its counters in DHT.stats(). */
  readonly name: TransportName;
  /**
   * The SPEAKS_* header flag (Flags in wire/messages.ts) this transport earns the node: every
   * message carries it, telling peers they can reach us this way. 0 for a private link that is never
   * advertised (the WebSocket between a browser and the signaling server).
   */
  readonly speaks: number;
  /**
   * How a peer that set our `speaks` flag is reached through this transport, as we list it to
   * others: a UDP-like transport gives the source of a datagram that came through it (undefined
   * for one that came another way: we saw no address of ours for that peer); a transport that
   * reaches peers by node ID (WebRTC) gives the ID.
   */
  addressOf(peerId: NodeId, from: PeerAddress): PeerAddress | undefined;
  /** Set by the engine; called once per received datagram. */
  onDatagram: DatagramHandler | undefined;
  /**
   * Set by the engine. A transport that learns a peer left for good (its WebSocket closed, or it
   * closed a WebRTC link that was in use) calls it, so the peer leaves the routing table at once
   * rather than after failed pings, and is no longer handed to others or used as a relay.
   */
  onPeerGone?: ((address: PeerAddress) => void) | undefined;
  /**
   * Best-effort send: may drop, duplicate or reorder, exactly like UDP. Never throws for a
   * network problem (an unreachable peer is a lost datagram).
   */
  send(to: PeerAddress, data: Uint8Array): void;
  /**
   * The IP a peer's datagrams come from, canonical (canonicalIp in wire/address.ts), for per-IP
   * limits; undefined while the transport does not know it.
   */
  ipOf(address: PeerAddress): string | undefined;
  /** Human-readable form for logs and the demo page. */
  format(address: PeerAddress): string;
  /**
   * The address a user typed ("1.2.3.4:4000", "[::1]:4000"), for transports whose peers have a
   * textual address (UDP, the simulated network); undefined when the text is not one of this
   * transport's addresses. `DHT.bootstrap` and `DHT.ping` accept such strings through it.
   */
  parseAddress?(text: string): PeerAddress | undefined;
  /** Addresses this node can be reached at, when the transport knows them (else peers tell us via PONG). */
  localAddresses(): PeerAddress[];
  /**
   * Extra ms before a datagram to `to` actually leaves (a link still being opened); the RPC layer
   * adds it to the first timeout. Omit for transports that send at once.
   */
  connectDelay?(to: PeerAddress): number;
  /**
   * Called by the engine when the peer at `address` passed a signed round trip
   * (it holds the key of its ID and receives at this address). A transport that keeps per-peer
   * resources (WebRTC links) may then favour it over peers that proved nothing.
   */
  peerVerified?(address: PeerAddress): void;
  /**
   * Implemented by transports that reach peers through signaling (WebRTC): the engine attaches its
   * relay, and remembers which peers listed a contact of this kind, as relays toward it.
   */
  attachSignaling?(channel: SignalingChannel): void;
  /**
   * Counters (numbers, nested objects of numbers) that DHT.stats() reports as
   * "<name>.<counter>", e.g. "webrtc.linksOpened". Functions are not read.
   */
  readonly stats?: object;
  /** Releases sockets and timers; the engine calls it from DHT.close(). */
  close(): Promise<void>;
}

/** Every transport's numeric counters, flattened: { "webrtc.linksOpened": 3, "webrtc.rejectedSignals.BAD_SIGNATURE": 0, … }. */
export function transportCounters(transports: readonly Transport[]): Record<`${TransportName}.${string}`, number> {
  const out: Record<string, number> = {};
  const walk = (prefix: string, value: unknown): void => {
    if (typeof value === 'number') out[prefix] = value;
    else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(`${prefix}.${k}`, v);
  };
  for (const t of transports) walk(t.name, t.stats);
  return out;
}

/** An address as the public API takes it: text ("1.2.3.4:4000", "[::1]:4000") or a `PeerAddress`. */
export type AddressInput = string | PeerAddress;

/** `input` as a PeerAddress: text is read by the first of `transports` that understands it. */
export function toPeerAddress(transports: readonly Transport[], input: AddressInput): PeerAddress {
  if (typeof input !== 'string') return input;
  const text = input.trim();
  for (const t of transports) {
    const address = t.parseAddress?.(text);
    if (address) return address;
  }
  const names = transports.filter((t) => t.parseAddress).map((t) => t.name);
  throw SpydhtError.invalidArgument(
    names.length > 0
      ? `bad address "${input}": expected ip:port or [ipv6]:port (this node reads addresses for ${names.join(', ')})`
      : `bad address "${input}": none of this node's transports (${transports.map((t) => t.name).join(', ')}) has textual addresses; pass a PeerAddress`,
  );
}

/**
 * WebRTC data-channel transport (docs/DESIGN-webrtc.md). A WEBRTC address is the peer's 32-byte
 * node ID: the first `send` to a peer without a link opens one, signalling through the
 * `SignalingChannel` the engine provides, and queues a few datagrams until the channel opens.
 *
 * Channels are `{ordered: false, maxRetransmits: 0}`, so the engine sees unreliable, unordered
 * datagrams exactly as over UDP (its own retries handle loss; SCTP retransmits would only add
 * head-of-line delay). Every offer, answer and candidate travels in a signed envelope
 * (signal-envelope.ts): the SDP carries the DTLS fingerprint, so a verified offer/answer binds the
 * encrypted link to the peer's node ID and a relay cannot sit in the middle.
 *
 * Environments: pass the RTCPeerConnection constructor, `globalThis.RTCPeerConnection` in browsers,
 * `(await import('node-datachannel/polyfill')).RTCPeerConnection` in Node.
 *
 * Connection setup, in order of events: `send` → offer (we become the DTLS client, see
 * offererIsDtlsClient), held until ICE gathering ends (≤ gatherWaitMs) so the candidates ride
 * with it → answer, likewise → late candidates in batches; every envelope is tagged with the
 * connection's session ID → channel open → queued datagrams flushed. Glare (both offer) is settled by ID
 * order; a failed attempt, or one that stalls, is retried with a fresh offer
 * (see #onFailure, #awaitOpen).
 *
 * Node process exit: node-datachannel keeps a data channel's native callbacks (and with them the
 * process) alive until that channel itself is closed; `pc.close()` alone does not release a
 * channel that never opened. So every link closes its channel and then its pc, and after `close()`
 * a Node program exits by itself. node-datachannel's global `cleanup()` is deliberately NOT called
 * here: it would tear down every other connection in the process. A program that also uses
 * node-datachannel directly and still hangs at exit can call
 * `(await import('node-datachannel')).cleanup()` once everything is closed.
 *
 * Nothing here throws for a network or peer problem: every lost datagram or rejected signal is
 * counted in `stats`.
 */
import { equalBytes, toHex } from '../bytes.js';
import { realClock, Timers, type Clock } from '../clock.js';
import type { CryptoBackend } from '../crypto/backend.js';
import type { Identity } from '../crypto/identity.js';
import { ID_BYTES, type NodeId } from '../id.js';
import { IpCounts } from '../ip-prefix.js';
import { LruMap } from '../lru.js';
import { TokenBucket } from '../rate-limit.js';
import { AddressKind, addressKey, canonicalIp, type PeerAddress } from '../wire/address.js';
import { Flags, MAX_MESSAGE_BYTES } from '../wire/messages.js';
import {
  MAX_ENVELOPE_BYTES,
  newSessionId,
  openSignal,
  packSignals,
  parseSignal,
  sealSignal,
  type DescriptionMessage,
  type IceCandidateLine,
  type SignalErrorCode,
  type SignalMessage,
} from './signal-envelope.js';
import type { DatagramHandler, SignalingChannel, SignalVerdict, Transport } from './transport.js';
import type { IceServer } from '../dom-types.js';

// How signed envelopes reach a peer (the engine relays them as SIGNAL requests): the transport
// sets `onSignal`; the relay calls it with the originating node's ID and the envelope bytes.
export type { SignalingChannel } from './transport.js';

/**
 * An RTCPeerConnection constructor: the browser's native one or node-datachannel's polyfill. Typed
 * loosely on purpose: the polyfill implements the standard API, but its declared types differ from
 * lib.dom's (private fields in its event classes), so `typeof globalThis.RTCPeerConnection` would
 * force a cast on every Node caller.
 */
export type RTCPeerConnectionConstructor = new (configuration?: { iceServers?: IceServer[] }) => object;

export interface WebRtcTransportOptions {
  identity: Identity;
  crypto: CryptoBackend;
  /** Native in browsers; `node-datachannel/polyfill`'s in Node. */
  RTCPeerConnection: RTCPeerConnectionConstructor;
  /** Usually left out: the engine attaches its relay (attachSignaling) when the DHT is created. */
  signaling?: SignalingChannel;
  iceServers?: IceServer[];
  /** Extra RTCPeerConnection configuration, e.g. node-datachannel's `bindAddress` on a loopback-only host. */
  rtcConfig?: Record<string, unknown>;
  /** Open and connecting links together (default 32). */
  maxLinks?: number;
  /**
   * Links offered to us that are not open yet (unproven: anyone can sign an offer with a fresh
   * identity), all relays together (default maxLinks / 4, at least 2). See "Links are earned".
   */
  maxInboundConnecting?: number;
  /** Of those, at most this many arrived through one relay (default 2). */
  maxConnectingPerRelay?: number;
  /**
   * Unproven links (offered to us, not yet earned) from one IP, and from one /24 (IPv4) or /64
   * (IPv6), by the ICE pair's remote IP (default 4 and 8). Loopback peers are exempt unless
   * `limitLoopback` (a process on this machine has easier ways to hurt the node).
   */
  maxUnprovenPerIp?: number;
  maxUnprovenPerPrefix?: number;
  limitLoopback?: boolean;
  /** A link with no datagram either way for this long is closed (default 120 s). */
  idleTimeoutMs?: number;
  /** A link not open after this long is abandoned with its queued datagrams (default 15 s). */
  connectTimeoutMs?: number;
  /**
   * Our offer/answer waits at most this long for ICE gathering to end, so the candidates travel in
   * the same signed envelope (default 50 ms; the end of gathering sends it sooner).
   */
  gatherWaitMs?: number;
  clock?: Clock;
  /** Sends are dropped while the channel's bufferedAmount exceeds this (default 256 KiB). */
  highWaterMark?: number;
  /** Fallback for ipOf before ICE has selected a pair, e.g. the IP the signaling server saw. */
  observedIp?: (id: NodeId) => string | undefined;
  /**
   * The IP to count a peer under when ICE hides its address: browsers replace host candidates by
   * mDNS names, so a browser-to-browser pair of host candidates shows no address at all. Such a
   * pair only connects within one network, so the peer is behind our own address — in a browser,
   * the one the signaling server saw. Without it such a peer has no IP and is never admitted.
   */
  sameNetworkIp?: () => string | undefined;
}

export interface WebRtcStats {
  /** Datagrams handed to an open channel. */
  sent: number;
  /** Datagrams delivered to `onDatagram` (or that would have been, had no handler been set). */
  received: number;
  signalsSent: number;
  /** Envelopes that verified. */
  signalsReceived: number;
  linksOpened: number;
  /** Open links that closed, for any reason. */
  linksClosed: number;
  /** Open links the peer closed while they were in use: reported gone (onPeerGone). */
  linksClosedByPeer: number;
  /** Open links closed to make room under maxLinks. */
  linksEvicted: number;
  /** Of those, links whose peer had passed a signed round trip (only ever for a link we open ourselves). */
  earnedEvicted: number;
  /** Links whose peer passed a signed round trip over them (peerVerified). */
  linksEarned: number;
  /** Unproven incoming links closed for a newer offer through the same (or a busier) relay. */
  connectingReplaced: number;
  linksIdleClosed: number;
  connectTimeouts: number;
  /** Connection attempts that failed before opening (ICE/DTLS failure, bad SDP, closed channel). */
  connectFailures: number;
  /** Fresh offers made after a failed or stalled attempt (see MAX_CONNECT_ATTEMPTS). */
  connectRetries: number;
  /** Offers whose link had not connected ICE within the stall wait (see #awaitOpen); each is offered again. */
  offersStalled: number;
  /** Glare: we abandoned our offer and answered the peer's (our ID is the larger). */
  glareYielded: number;
  /** Glare: we ignored the peer's offer and kept ours (our ID is the smaller). */
  glareKept: number;
  /** Envelopes that failed verification, by reason. */
  rejectedSignals: Record<SignalErrorCode | 'FROM_MISMATCH', number>;
  dropped: {
    /** `send` after `close()`, or queued when close() ran. */
    closed: number;
    /** `to.kind` is not WEBRTC. */
    wrongKind: number;
    /** Not a 32-byte ID, or our own ID. */
    badAddress: number;
    /** Outgoing datagram over MAX_MESSAGE_BYTES. */
    oversize: number;
    /** Incoming datagram over MAX_MESSAGE_BYTES. */
    receivedOversize: number;
    /** Incoming text (not binary) message. */
    notBinary: number;
    /** Oldest queued datagram pushed out by a newer one while connecting. */
    queueOverflow: number;
    /** No link and none could be closed to make room (all connecting). */
    noCapacity: number;
    /** No link and no signaling channel attached yet to open one. */
    noSignaling: number;
    /** Queued datagrams of a connection attempt that timed out. */
    connectTimeout: number;
    /** Queued datagrams of a connection attempt that failed. */
    linkFailed: number;
    /** bufferedAmount above highWaterMark. */
    congested: number;
    /** The channel refused the datagram. */
    sendError: number;
    /** `onDatagram` threw. */
    handlerError: number;
    /** Envelopes that failed verification (total of `rejectedSignals`). */
    badSignal: number;
    /** Verified envelopes for no current connection (old session, duplicate or replayed offer). */
    staleSignal: number;
    /** More candidates than we hold (remote ones waiting for the remote description, or local ones not sent yet). */
    candidateOverflow: number;
    /** A remote candidate the RTCPeerConnection refused. */
    badCandidate: number;
    /** Incoming envelopes beyond the verification backlog. */
    signalBacklog: number;
    /** Offers over the budget of the relay that brought them (the relay answers RATE_LIMITED). */
    offerRelayLimited: number;
    /** Verified offers over their signer's budget. */
    offerSourceLimited: number;
    /** Unproven links closed because their IP or its prefix already had its share (maxUnprovenPerIp). */
    unprovenIpLimit: number;
    /** Our own envelope did not fit MAX_ENVELOPE_BYTES (e.g. an enormous SDP). */
    signalTooLarge: number;
    /** Signing or SignalingChannel.send threw. */
    signalSendError: number;
    /** A second or wrongly labelled data channel from the peer. */
    extraChannel: number;
  };
}

export interface WebRtcLinkInfo {
  /** The peer's node ID, hex. */
  id: string;
  state: 'connecting' | 'open';
  role: 'offerer' | 'answerer';
  /** The peer passed a signed round trip over this link (or an earlier one): incoming offers never evict it. */
  earned: boolean;
  session: string;
  ip: string | undefined;
  bufferedAmount: number;
  /** Datagrams waiting for the channel to open. */
  queued: number;
}

const LABEL = 'spydht';
const CHANNEL_INIT: RTCDataChannelInit = { ordered: false, maxRetransmits: 0, negotiated: false };
/** Datagrams held per connecting link: enough for a lookup's burst, bounded so memory is too. */
const MAX_QUEUED = 16;
/** Remote candidates held until the remote description is set (a host has a handful). */
const MAX_PENDING_CANDIDATES = 32;
/** Incoming envelopes waiting for verification; more are dropped so a flood cannot queue work. */
const MAX_SIGNAL_BACKLOG = 64;
/**
 * Offers each relay may bring us: 10/s, 20 at once. Checked before any crypto (the relay's ack
 * says RATE_LIMITED), so a relay's flood costs one token-bucket lookup per offer.
 */
const OFFERS_PER_RELAY_RATE = 10;
const OFFERS_PER_RELAY_BURST = 20;
/**
 * Offers one (verified) peer may make us: 4 at once, then one per 5 s. An honest peer offers once
 * per link, and again only after a failure or a stall (MAX_CONNECT_ATTEMPTS).
 */
const OFFERS_PER_SOURCE_RATE = 0.2;
const OFFERS_PER_SOURCE_BURST = 4;
/** Relays and sources whose offer budgets are remembered (least recently active forgotten). */
const OFFER_BUDGET_KEYS = 1024;
/** Peers that earned a link lately: a new link of theirs is earned from the start. */
const EARNED_IDS = 1024;
/** Sessions seen per peer: a replayed (old) offer must not replace a working link. */
const SEEN_SESSIONS = 4096;
const KNOWN_IPS = 1024;
const DEFAULT_CONNECT_ESTIMATE_MS = 1000;
const MIN_CONNECT_ESTIMATE_MS = 250;
/** Offers per send before giving up on a peer (after a failure, or a stall). */
const MAX_CONNECT_ATTEMPTS = 5;
/**
 * An offer's first stall wait (#awaitOpen) is at least this, and twice the connect estimate (itself
 * twice the smoothed connect time); each retry waits twice as long, so a slow but live path is
 * offered again at most three times before its wait outgrows the connect timeout.
 */
const MIN_STALL_WAIT_MS = 2000;
/**
 * The selected ICE pair (and with it the peer's IP) is usually in the stats as soon as the channel
 * opens; when it is not, ask again after these delays (ms, 1.5 s in all) before giving up.
 */
const IP_RETRY_DELAYS_MS = [100, 400, 1000];
/**
 * Our offer/answer waits this long at most for ICE gathering, so the candidates ride in the same
 * envelope. It goes sooner at the end of gathering (browsers: a null candidate) or once candidates
 * pause for CANDIDATE_QUIET_MS (node-datachannel hands out its host candidates in one burst, a few
 * ms after the offer, and never a null one). Later candidates are batched over CANDIDATE_BATCH_MS.
 * Each envelope is a relayed SIGNAL, so this keeps a new link at about two relayed frames instead
 * of one per candidate, for a few ms of connect time.
 */
const DEFAULT_GATHER_WAIT_MS = 50;
const CANDIDATE_QUIET_MS = 5;
const CANDIDATE_BATCH_MS = 20;

type RemoveReason = 'timeout' | 'failed' | 'stalled' | 'idle' | 'evicted' | 'replaced' | 'closed';

interface Link {
  readonly peer: NodeId;
  /** Hex of `peer`: the key of `#links`. */
  readonly key: string;
  /** Chosen by the offerer; every envelope of this connection carries it. */
  readonly session: string;
  readonly role: 'offerer' | 'answerer';
  /** Answerers: who relayed the offer (see SignalingChannel.onSignal), the key of its budget. */
  readonly relay: string;
  /**
   * The peer passed a signed round trip over this link (peerVerified), or did over an earlier
   * one: an incoming offer never evicts such a link.
   */
  earned: boolean;
  /** Offerers: 1 for a first offer, counting retries after failures (bounded). */
  readonly attempt: number;
  readonly pc: RTCPeerConnection;
  channel: RTCDataChannel | undefined;
  state: 'connecting' | 'open';
  /** Removed: every callback still in flight checks this and does nothing. */
  dead: boolean;
  queue: Uint8Array[];
  /** Our offer/answer, held (gatherWaitMs) so candidates gathered meanwhile ride with it. */
  description: DescriptionMessage | undefined;
  /** Our offer/answer is on its way: candidates may follow it (never precede it). */
  described: boolean;
  /** Local candidates not sent yet (bounded). */
  heldCandidates: IceCandidateLine[];
  /** Cancels the pending flush of `description`/`heldCandidates`, if one is armed. */
  cancelFlush: (() => void) | undefined;
  /** When a held description goes at the latest (clock ms). */
  flushBy: number;
  /** Offerer: an answer was accepted (a second one is stale). */
  answered: boolean;
  remoteDescribed: boolean;
  pendingCandidates: IceCandidateLine[];
  /** Serializes our signed envelopes: signing is async, and order matters (offer before candidates). */
  outbound: Promise<void>;
  readonly createdAt: number;
  lastUsed: number;
  ip: string | undefined;
  /**
   * Datagrams that arrived before ICE told us the peer's IP. The engine admits contacts by IP
   * (per-IP limit), so they wait (bounded) until the IP is known, or every lookup of it failed,
   * instead of arriving from a peer with no IP.
   */
  inbox: Uint8Array[] | undefined;
  /** Cancels the current timer: the connect timeout, then the idle check. */
  cancelTimer: () => void;
}

/**
 * Of one relay's unproven incoming links (oldest first), the one a newer offer replaces: the
 * oldest whose ICE has not connected, else the oldest. A connected ICE check is the first thing a
 * throwaway identity's offer cannot give for free: the peer must answer our checks at the address
 * it gave, with the credentials of its own SDP.
 */
function replaceable(links: readonly Link[]): Link {
  for (const link of links) {
    const ice = link.pc.iceConnectionState;
    if (ice !== 'connected' && ice !== 'completed') return link;
  }
  return links[0]!;
}

export class WebRtcTransport implements Transport {
  readonly kind = AddressKind.WEBRTC;
  readonly name = 'webrtc';
  readonly speaks = Flags.SPEAKS_WEBRTC;
  onDatagram: DatagramHandler | undefined = undefined;
  onPeerGone: ((address: PeerAddress) => void) | undefined = undefined;
  readonly stats: WebRtcStats = newStats();

  readonly #identity: Identity;
  readonly #crypto: CryptoBackend;
  readonly #RTCPeerConnection: typeof globalThis.RTCPeerConnection;
  #signaling: SignalingChannel | undefined;
  readonly #iceServers: RTCIceServer[];
  readonly #rtcConfig: Record<string, unknown>;
  readonly #maxLinks: number;
  readonly #maxInboundConnecting: number;
  readonly #maxConnectingPerRelay: number;
  readonly #maxUnprovenPerIp: number;
  readonly #maxUnprovenPerPrefix: number;
  readonly #limitLoopback: boolean;
  readonly #offersPerRelay = new LruMap<string, TokenBucket>(OFFER_BUDGET_KEYS);
  readonly #offersPerSource = new LruMap<string, TokenBucket>(OFFER_BUDGET_KEYS);
  readonly #earnedIds = new LruMap<string, true>(EARNED_IDS);
  readonly #idleTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #gatherWaitMs: number;
  readonly #highWaterMark: number;
  readonly #observedIp: ((id: NodeId) => string | undefined) | undefined;
  readonly #sameNetworkIp: (() => string | undefined) | undefined;
  readonly #clock: Clock;
  readonly #timers: Timers;
  readonly #links = new Map<string, Link>();
  /** Datagrams of failed answerer links, waiting for the peer's next connection (see #park). */
  readonly #parked = new Map<string, { datagrams: Uint8Array[]; cancel: () => void }>();
  readonly #seenSessions = new LruMap<string, true>(SEEN_SESSIONS);
  /** Remote IPs of links that have closed: the routing table still asks about those contacts. */
  readonly #knownIps = new LruMap<string, string>(KNOWN_IPS);
  readonly #signalHandler = (from: Uint8Array, payload: Uint8Array, relay?: string): SignalVerdict => this.#onSignal(from, payload, relay);
  /** Smoothed time from creating a link to its channel opening (ms), like TCP's SRTT. */
  #connectAvgMs: number | undefined;
  #inbound: Promise<void> = Promise.resolve();
  #inboundPending = 0;
  #closed = false;

  constructor(options: WebRtcTransportOptions) {
    this.#identity = options.identity;
    this.#crypto = options.crypto;
    this.#RTCPeerConnection = options.RTCPeerConnection as typeof globalThis.RTCPeerConnection;
    this.#iceServers = options.iceServers ?? [];
    this.#rtcConfig = options.rtcConfig ?? {};
    this.#maxLinks = Math.max(1, options.maxLinks ?? 32);
    this.#maxInboundConnecting = Math.max(1, options.maxInboundConnecting ?? Math.max(2, Math.floor(this.#maxLinks / 4)));
    this.#maxConnectingPerRelay = Math.max(1, options.maxConnectingPerRelay ?? 2);
    this.#maxUnprovenPerIp = Math.max(1, options.maxUnprovenPerIp ?? 4);
    this.#maxUnprovenPerPrefix = Math.max(1, options.maxUnprovenPerPrefix ?? 8);
    this.#limitLoopback = options.limitLoopback ?? false;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 15_000;
    this.#gatherWaitMs = options.gatherWaitMs ?? DEFAULT_GATHER_WAIT_MS;
    this.#highWaterMark = options.highWaterMark ?? 256 * 1024;
    this.#observedIp = options.observedIp;
    this.#sameNetworkIp = options.sameNetworkIp;
    this.#clock = options.clock ?? realClock;
    this.#timers = new Timers(this.#clock);
    if (options.signaling) this.attachSignaling(options.signaling);
  }

  // -------------------------------------------------------------------------------------------
  // Transport interface

  send(to: PeerAddress, data: Uint8Array): void {
    const d = this.stats.dropped;
    if (this.#closed) return void d.closed++;
    if (to.kind !== this.kind) return void d.wrongKind++;
    if (to.data.length !== ID_BYTES || equalBytes(to.data, this.#identity.id)) return void d.badAddress++;
    if (data.length > MAX_MESSAGE_BYTES) return void d.oversize++;
    const key = toHex(to.data);
    let link = this.#links.get(key);
    if (link?.state === 'open') return this.#sendNow(link, data);
    if (!link) {
      if (!this.#signaling) return void d.noSignaling++;
      if (!this.#makeRoom('outbound')) return void d.noCapacity++;
      link = this.#startOffer(Uint8Array.from(to.data), key);
      if (!link) return void d.linkFailed++;
    }
    this.#enqueue(link, data);
  }

  /** Sends and receives signaling through `channel` (the engine's relay) from now on. */
  attachSignaling(channel: SignalingChannel): void {
    if (this.#closed) return;
    if (this.#signaling?.onSignal === this.#signalHandler) this.#signaling.onSignal = undefined;
    this.#signaling = channel;
    channel.onSignal = this.#signalHandler;
  }

  /**
   * How much later than usual a datagram sent to `to` now will leave: 0 over an open link, else
   * what is left of a typical connect (see #connectEstimate), so the RPC layer does not time out
   * and retransmit while the link is still being opened.
   */
  connectDelay(to: PeerAddress): number {
    if (to.kind !== this.kind || to.data.length !== ID_BYTES) return 0;
    const link = this.#links.get(toHex(to.data));
    if (link?.state === 'open') return 0;
    const elapsed = link ? this.#clock.now() - link.createdAt : 0;
    return Math.max(0, this.#connectEstimate() - elapsed);
  }

  /**
   * The peer at `address` passed a signed round trip over its link: the link is earned, and no
   * incoming offer will evict it (see #makeRoom).
   */
  peerVerified(address: PeerAddress): void {
    if (address.kind !== this.kind || address.data.length !== ID_BYTES) return;
    const key = toHex(address.data);
    const link = this.#links.get(key);
    if (!link || link.state !== 'open') return;
    this.#earnedIds.set(key, true);
    if (link.earned) return;
    link.earned = true;
    this.stats.linksEarned++;
  }

  /** A WebRTC peer is reached by its node ID, whichever transport its message came over. */
  addressOf(peerId: NodeId): PeerAddress {
    return { kind: this.kind, data: peerId };
  }

  ipOf(address: PeerAddress): string | undefined {
    if (address.kind !== this.kind || address.data.length !== ID_BYTES) return undefined;
    const key = toHex(address.data);
    return this.#links.get(key)?.ip ?? this.#knownIps.peek(key) ?? this.#observedIp?.(address.data);
  }

  format(address: PeerAddress): string {
    if (address.kind !== this.kind) return addressKey(address);
    return `webrtc:${toHex(address.data).slice(0, 16)}`;
  }

  localAddresses(): PeerAddress[] {
    return [{ kind: this.kind, data: this.#identity.id }];
  }

  /** Current links, for the demo page and tests. */
  links(): WebRtcLinkInfo[] {
    return [...this.#links.values()].map((l) => ({
      id: l.key,
      state: l.state,
      role: l.role,
      earned: l.earned,
      session: l.session,
      ip: l.ip ?? this.#observedIp?.(l.peer),
      bufferedAmount: l.channel?.readyState === 'open' ? l.channel.bufferedAmount : 0,
      queued: l.queue.length,
    }));
  }

  /** Closes every channel and peer connection and clears every timer. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#signaling?.onSignal === this.#signalHandler) this.#signaling.onSignal = undefined;
    for (const link of [...this.#links.values()]) this.#remove(link, 'closed');
    for (const { datagrams } of this.#parked.values()) this.stats.dropped.closed += datagrams.length;
    this.#parked.clear();
    this.#timers.close();
  }

  // -------------------------------------------------------------------------------------------
  // Datagrams

  #enqueue(link: Link, data: Uint8Array): void {
    // Copy: the caller may reuse its buffer before the channel opens.
    link.queue.push(data.slice());
    if (link.queue.length > MAX_QUEUED) {
      link.queue.shift();
      this.stats.dropped.queueOverflow++;
    }
  }

  #sendNow(link: Link, data: Uint8Array): void {
    const channel = link.channel!;
    // An unreliable channel still buffers when the sender outpaces the link; past the mark a
    // datagram would only arrive late, so it is dropped like a full UDP socket buffer would.
    if (channel.bufferedAmount > this.#highWaterMark) return void this.stats.dropped.congested++;
    try {
      channel.send(data as Uint8Array<ArrayBuffer>);
      link.lastUsed = this.#clock.now();
      this.stats.sent++;
    } catch {
      this.stats.dropped.sendError++;
    }
  }

  #onMessage(link: Link, data: unknown): void {
    if (link.dead) return;
    if (!(data instanceof ArrayBuffer)) return void this.stats.dropped.notBinary++;
    if (data.byteLength > MAX_MESSAGE_BYTES) return void this.stats.dropped.receivedOversize++;
    link.lastUsed = this.#clock.now();
    this.stats.received++;
    const bytes = new Uint8Array(data);
    if (link.inbox) {
      if (link.inbox.length < MAX_QUEUED) link.inbox.push(bytes);
      else this.stats.dropped.queueOverflow++;
      return;
    }
    this.#deliver(link, bytes);
  }

  #deliver(link: Link, bytes: Uint8Array): void {
    const handler = this.onDatagram;
    if (!handler) return;
    try {
      handler(bytes, { kind: this.kind, data: link.peer });
    } catch {
      this.stats.dropped.handlerError++;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Link lifecycle

  /**
   * Under maxLinks, or made so by closing a link. Links are earned: for an incoming offer (a peer
   * that has proved nothing: a signed offer costs a throwaway identity) only the least recently
   * used open link whose peer has not passed a signed round trip may go. For a link we open
   * ourselves (our own lookups need it) an earned link may go too, the least recently used, once
   * no unproven one is left; failing that, the oldest unproven incoming link still connecting.
   * Our own connecting links are never closed: that would waste the handshake and its datagrams.
   */
  #makeRoom(forWhom: 'inbound' | 'outbound'): boolean {
    if (this.#links.size < this.#maxLinks) return true;
    let unproven: Link | undefined;
    let earned: Link | undefined;
    let connecting: Link | undefined;
    for (const link of this.#links.values()) {
      if (link.state === 'open') {
        if (!link.earned && (!unproven || link.lastUsed < unproven.lastUsed)) unproven = link;
        if (link.earned && (!earned || link.lastUsed < earned.lastUsed)) earned = link;
      } else if (link.role === 'answerer' && (!connecting || link.createdAt < connecting.createdAt)) {
        connecting = link;
      }
    }
    const victim = forWhom === 'inbound' ? unproven : (unproven ?? earned);
    if (victim) {
      this.stats.linksEvicted++;
      if (victim.earned) this.stats.earnedEvicted++;
      this.#remove(victim, 'evicted');
      return true;
    }
    if (forWhom === 'outbound' && connecting) {
      this.stats.connectingReplaced++;
      this.#remove(connecting, 'evicted');
      return true;
    }
    return false;
  }

  /**
   * Room for one more unproven incoming link through `relay`: each relay has at most
   * maxConnectingPerRelay of them (a newer offer through a relay at its share replaces one of that
   * relay's), and all together at most maxInboundConnecting (when full, one of the busiest relay's
   * goes if that relay holds more than `relay` would, else one of `relay`'s own). So a flood
   * through one relay, or through many, churns its own share and leaves others' newcomers their
   * slots. Within a share the link that goes is the oldest whose ICE has not connected
   * (`replaceable`): an honest newcomer's agent answers our checks before our answer reaches it
   * (2–3 ms after the link is made, on loopback), while a flood's offers never connect unless the
   * attacker runs an ICE agent that answers our checks for every throwaway identity; so once
   * connected, a link keeps its slot however many offers follow it through the same relay.
   */
  #admitInbound(relay: string): boolean {
    const byRelay = new Map<string, Link[]>();
    let total = 0;
    for (const link of this.#links.values()) {
      if (link.role !== 'answerer' || link.state !== 'connecting') continue;
      total++;
      const list = byRelay.get(link.relay);
      if (list) list.push(link);
      else byRelay.set(link.relay, [link]);
    }
    // Insertion order of #links is creation order: each list is oldest first.
    const mine = byRelay.get(relay) ?? [];
    let victim: Link | undefined;
    if (mine.length >= this.#maxConnectingPerRelay) victim = replaceable(mine);
    else if (total >= this.#maxInboundConnecting) {
      let busiest: Link[] = [];
      for (const list of byRelay.values()) if (list.length > busiest.length) busiest = list;
      // The busiest relay gives up a link if it holds more than this one would; else this relay's
      // own makes way (within one relay a newer offer wins, so a flood through it cannot park
      // there and lock out the next honest offer).
      if (busiest.length > mine.length + 1) victim = replaceable(busiest);
      else if (mine.length > 0) victim = replaceable(mine);
      else return false;
    }
    if (victim) {
      this.stats.connectingReplaced++;
      this.#remove(victim, 'evicted');
    }
    return this.#makeRoom('inbound');
  }

  /**
   * Creates the RTCPeerConnection and registers the link, which takes over `inherited` datagrams
   * and any parked for the peer. Undefined (datagrams counted as lost) if the constructor throws.
   */
  #newLink(peer: NodeId, key: string, role: Link['role'], session: string, attempt = 1, inherited: Uint8Array[] = [], relay = ''): Link | undefined {
    const queue = this.#unpark(key).concat(inherited);
    let pc: RTCPeerConnection;
    try {
      // A fresh config object each time: node-datachannel's polyfill normalizes it in place.
      pc = new this.#RTCPeerConnection({ ...this.#rtcConfig, iceServers: this.#iceServers.map((s) => ({ ...s })) });
    } catch {
      this.stats.dropped.linkFailed += queue.length;
      return undefined;
    }
    const link: Link = {
      peer,
      key,
      session,
      role,
      relay,
      earned: false,
      attempt,
      pc,
      channel: undefined,
      state: 'connecting',
      dead: false,
      queue: this.#bounded(queue),
      description: undefined,
      described: false,
      heldCandidates: [],
      cancelFlush: undefined,
      flushBy: 0,
      answered: false,
      remoteDescribed: false,
      pendingCandidates: [],
      outbound: Promise.resolve(),
      createdAt: this.#clock.now(),
      lastUsed: this.#clock.now(),
      ip: undefined,
      inbox: [],
      cancelTimer: () => {},
    };
    // Not onicegatheringstatechange: node-datachannel reports 'complete' before it hands out the candidates.
    pc.onicecandidate = (e) => this.#onLocalCandidate(link, e.candidate);
    pc.onconnectionstatechange = () => {
      const state = pc.connectionState;
      if (state === 'failed' || state === 'closed') this.#onFailure(link);
    };
    // Only answerers expect a channel from the peer; an offerer closes any it is sent.
    pc.ondatachannel = (e) => this.#attachChannel(link, e.channel);
    if (role === 'offerer') this.#awaitOpen(link);
    else link.cancelTimer = this.#timers.after(this.#connectTimeoutMs, () => this.#remove(link, 'timeout'));
    this.#links.set(key, link);
    this.#seenSessions.set(`${key}:${session}`, true);
    return link;
  }

  /**
   * An offerer's timer: the stall wait, then the rest of the connect timeout. A link whose ICE has
   * not connected by then is offered again (fresh session) instead of waiting out the connect
   * timeout, which would outlast the request that asked for the link. Silence is all the offerer
   * sees when the peer dropped the connecting link to make room, before or after answering (a flood
   * of offers through the same relay churns that relay's share, see #admitInbound), or when a relay
   * lost the offer or the answer. A late answer to the old offer is stale (its session is gone);
   * the peer follows the newer offer (#onOffer). A link whose ICE has connected has only the DTLS
   * handshake left (a few round trips, 15-26 ms here), so it gets one more stall wait, in case the
   * machine is slow; a link still closed after that is offered again too. Its ICE stays 'connected'
   * when the peer dropped it between ICE and DTLS (consent checks take ~30 s to notice), so waiting
   * for the connect timeout there would lose the request as surely as silence does.
   */
  #awaitOpen(link: Link): void {
    const wait = Math.max(MIN_STALL_WAIT_MS, 2 * this.#connectEstimate()) * 2 ** (link.attempt - 1);
    const timeout = () => this.#remove(link, 'timeout');
    if (wait >= this.#connectTimeoutMs) {
      link.cancelTimer = this.#timers.after(this.#connectTimeoutMs, timeout);
      return;
    }
    const stalled = () => {
      this.stats.offersStalled++;
      this.#onFailure(link, 'stalled');
    };
    link.cancelTimer = this.#timers.after(wait, () => {
      const ice = link.pc.iceConnectionState;
      if (ice !== 'connected' && ice !== 'completed') return stalled();
      // No stall wait runs past the connect timeout: there the link simply times out.
      if (2 * wait >= this.#connectTimeoutMs) link.cancelTimer = this.#timers.after(this.#connectTimeoutMs - wait, timeout);
      else link.cancelTimer = this.#timers.after(wait, stalled);
    });
  }

  #startOffer(peer: NodeId, key: string, attempt = 1, inherited: Uint8Array[] = []): Link | undefined {
    const link = this.#newLink(peer, key, 'offerer', newSessionId(this.#crypto), attempt, inherited);
    if (!link) return undefined;
    try {
      this.#attachChannel(link, link.pc.createDataChannel(LABEL, CHANNEL_INIT));
    } catch {
      this.#remove(link, 'failed');
      return undefined;
    }
    void this.#offer(link);
    return link;
  }

  async #offer(link: Link): Promise<void> {
    try {
      const offer = await link.pc.createOffer();
      if (link.dead) return;
      // Held before setLocalDescription, so the candidates that call gathers can ride with it.
      this.#sendDescription(link, { t: 'offer', s: link.session, sdp: offererIsDtlsClient(offer.sdp ?? '') });
      await link.pc.setLocalDescription(offer);
    } catch {
      this.#onFailure(link);
    }
  }

  async #answer(link: Link, sdp: string): Promise<void> {
    try {
      await link.pc.setRemoteDescription({ type: 'offer', sdp });
      if (link.dead) return;
      this.#setRemoteDescribed(link);
      const answer = await link.pc.createAnswer();
      if (link.dead) return;
      this.#sendDescription(link, { t: 'answer', s: link.session, sdp: answer.sdp ?? '' });
      await link.pc.setLocalDescription(answer);
    } catch {
      this.#onFailure(link);
    }
  }

  #attachChannel(link: Link, channel: RTCDataChannel): void {
    // One channel per link: ours (offerer) or the first 'spydht' one the peer opens (answerer).
    if (link.dead || link.channel !== undefined || channel.label !== LABEL) {
      if (!link.dead) this.stats.dropped.extraChannel++;
      // Close it anyway: an unclosed node-datachannel channel keeps the process alive.
      closeQuietly(channel);
      return;
    }
    link.channel = channel;
    channel.binaryType = 'arraybuffer';
    channel.onopen = () => this.#onOpen(link);
    channel.onclose = () => this.#onFailure(link);
    channel.onmessage = (e: MessageEvent) => this.#onMessage(link, e.data);
    // node-datachannel hands the answerer a channel that is already open and never fires 'open'.
    if (channel.readyState === 'open') this.#onOpen(link);
  }

  #onOpen(link: Link): void {
    if (link.dead || link.state === 'open') return;
    link.state = 'open';
    // A peer that earned a link before, and signed this one's offer or answer (the DTLS
    // fingerprint binds it to its key), is the same proven peer.
    link.earned = this.#earnedIds.has(link.key);
    link.cancelTimer();
    link.lastUsed = this.#clock.now();
    this.#sampleConnect(link.lastUsed - link.createdAt);
    this.stats.linksOpened++;
    const queued = link.queue;
    link.queue = [];
    for (const data of queued) this.#sendNow(link, data);
    this.#armIdleTimer(link);
    void this.#learnIp(link);
  }

  #sampleConnect(ms: number): void {
    this.#connectAvgMs = this.#connectAvgMs === undefined ? ms : this.#connectAvgMs + (ms - this.#connectAvgMs) / 8;
  }

  /**
   * Twice the smoothed connect time, within [250 ms, connectTimeoutMs]; 1 s before any link has
   * opened (measured here: Node↔Node 10–60 ms, Chromium↔Node 70–160 ms, plus relay hops).
   */
  #connectEstimate(): number {
    const guess = this.#connectAvgMs === undefined ? DEFAULT_CONNECT_ESTIMATE_MS : 2 * this.#connectAvgMs;
    return Math.min(this.#connectTimeoutMs, Math.max(MIN_CONNECT_ESTIMATE_MS, Math.round(guess)));
  }

  /** One timer per link, re-armed lazily: sends and receives only update `lastUsed`. */
  #armIdleTimer(link: Link): void {
    const wait = Math.max(1, link.lastUsed + this.#idleTimeoutMs - this.#clock.now());
    link.cancelTimer = this.#timers.after(wait, () => {
      if (this.#clock.now() - link.lastUsed >= this.#idleTimeoutMs) {
        this.stats.linksIdleClosed++;
        this.#remove(link, 'idle');
      } else {
        this.#armIdleTimer(link);
      }
    });
  }

  /**
   * A link failed or closed, or it stalled (#awaitOpen). An offerer still connecting retries with
   * a fresh offer, keeping its queued datagrams: libdatachannel sometimes fails the DTLS handshake
   * ("certificate verify failed") when ICE completes while the answer is being applied (rare since
   * offererIsDtlsClient, still seen); a fresh offer almost always succeeds. An answerer's
   * datagrams (it yielded in glare) are parked for the link the offerer's retry makes.
   */
  #onFailure(link: Link, reason: 'failed' | 'stalled' = 'failed'): void {
    if (link.dead) return;
    const queue = link.queue;
    link.queue = [];
    this.#remove(link, reason);
    if (this.#closed) return;
    if (link.state === 'open') {
      // An open link the other side closed while it was in use: a closed tab, a stopped process.
      // Its peer leaves routing tables at once, so no one is handed it for lookups and offers that
      // would wait out a connect timeout. A link quiet for half the idle timeout may have been
      // closed by the peer's own idle timer: that says nothing about the peer, so it stays.
      if (this.#clock.now() - link.lastUsed < this.#idleTimeoutMs / 2) {
        this.stats.linksClosedByPeer++;
        this.onPeerGone?.({ kind: this.kind, data: link.peer });
      }
      return;
    }
    if (link.role === 'answerer') return this.#park(link.key, queue);
    if (link.attempt >= MAX_CONNECT_ATTEMPTS) return void (this.stats.dropped.linkFailed += queue.length);
    // #startOffer counts the datagrams itself if it cannot even create a connection.
    if (this.#startOffer(link.peer, link.key, link.attempt + 1, queue)) this.stats.connectRetries++;
  }

  /** Holds a failed answerer's datagrams for the peer's next connection, for one connect timeout. */
  #park(key: string, queue: Uint8Array[]): void {
    if (queue.length === 0) return;
    const old = this.#parked.get(key);
    old?.cancel();
    const datagrams = this.#bounded((old?.datagrams ?? []).concat(queue));
    const cancel = this.#timers.after(this.#connectTimeoutMs, () => {
      this.#parked.delete(key);
      this.stats.dropped.linkFailed += datagrams.length;
    });
    this.#parked.set(key, { datagrams, cancel });
  }

  #unpark(key: string): Uint8Array[] {
    const parked = this.#parked.get(key);
    if (!parked) return [];
    parked.cancel();
    this.#parked.delete(key);
    return parked.datagrams;
  }

  /** Keeps the newest MAX_QUEUED datagrams, counting the rest. */
  #bounded(queue: Uint8Array[]): Uint8Array[] {
    if (queue.length <= MAX_QUEUED) return queue;
    this.stats.dropped.queueOverflow += queue.length - MAX_QUEUED;
    return queue.slice(-MAX_QUEUED);
  }

  #remove(link: Link, reason: RemoveReason): void {
    if (link.dead) return;
    link.dead = true;
    link.cancelTimer();
    link.cancelFlush?.();
    if (this.#links.get(link.key) === link) this.#links.delete(link.key);
    this.#countLostQueue(link, reason);
    if (link.state === 'open') this.stats.linksClosed++;
    else if (reason === 'failed') this.stats.connectFailures++;
    else if (reason === 'timeout') this.stats.connectTimeouts++;
    if (link.ip) this.#knownIps.set(link.key, link.ip);
    // Channel first, then the pc: see the note at the top about node-datachannel and process exit.
    if (link.channel) closeQuietly(link.channel);
    try {
      link.pc.close();
    } catch {
      // Already closed.
    }
  }

  #countLostQueue(link: Link, reason: RemoveReason): void {
    const lost = link.queue.length;
    link.queue = [];
    if (lost === 0) return;
    const d = this.stats.dropped;
    if (reason === 'timeout') d.connectTimeout += lost;
    else if (reason === 'closed') d.closed += lost;
    else d.linkFailed += lost;
  }

  /** ICE has picked a path once the channel is open: remember the remote IP for ipOf. */
  async #learnIp(link: Link): Promise<void> {
    for (let attempt = 0; attempt <= IP_RETRY_DELAYS_MS.length && !link.dead && !link.ip; attempt++) {
      if (attempt > 0) await this.#timers.sleep(IP_RETRY_DELAYS_MS[attempt - 1]!);
      if (link.dead) return;
      try {
        const remote = remoteIpFromStats(await link.pc.getStats());
        const sameNetwork = remote === HIDDEN_HOST ? this.#sameNetworkIp?.() : undefined;
        link.ip = remote === HIDDEN_HOST ? sameNetwork && canonicalIp(sameNetwork) : remote;
      } catch {
        // Stats unavailable (closing): observedIp still answers.
      }
    }
    if (link.dead) return;
    if (link.ip && !this.#ipHasRoom(link)) {
      this.stats.dropped.unprovenIpLimit++;
      return this.#remove(link, 'evicted');
    }
    // Known now, or never will be: release what arrived meanwhile (ipOf falls back to observedIp).
    this.#releaseInbox(link);
  }

  /**
   * An unproven incoming link may stay only while its IP, and its /24 or /64, hold fewer than
   * maxUnprovenPerIp / maxUnprovenPerPrefix other unproven incoming links (the ICE pair's IP
   * is what the peer cannot fake: the DTLS handshake ran with it).
   */
  #ipHasRoom(link: Link): boolean {
    if (link.role !== 'answerer' || link.earned || !link.ip) return true;
    if (!this.#limitLoopback && isLoopback(link.ip)) return true;
    const counts = new IpCounts();
    for (const other of this.#links.values()) {
      if (other === link || other.role !== 'answerer' || other.earned) continue;
      const ip = other.ip ?? this.#observedIp?.(other.peer);
      if (ip) counts.add(ip);
    }
    return counts.fits(link.ip, this.#maxUnprovenPerIp, this.#maxUnprovenPerPrefix);
  }

  #releaseInbox(link: Link): void {
    const held = link.inbox;
    if (!held) return;
    link.inbox = undefined;
    if (!link.dead) for (const bytes of held) this.#deliver(link, bytes);
  }

  // -------------------------------------------------------------------------------------------
  // Signaling out

  #onLocalCandidate(link: Link, candidate: RTCIceCandidate | null): void {
    if (link.dead) return;
    // null (or an empty string) marks the end of gathering: send what we hold now.
    if (!candidate?.candidate) return this.#flushSignals(link);
    if (link.heldCandidates.length >= MAX_PENDING_CANDIDATES) return void this.stats.dropped.candidateOverflow++;
    link.heldCandidates.push({
      // node-datachannel prefixes "a="; browsers expect the bare "candidate:…" form.
      candidate: candidate.candidate.replace(/^a=/, ''),
      ...(candidate.sdpMid != null ? { mid: candidate.sdpMid } : {}),
    });
    if (link.described) this.#armFlush(link, CANDIDATE_BATCH_MS);
    // A held description waits for the burst to pause; before it exists, it will carry these.
    else if (link.description) this.#armFlush(link, CANDIDATE_QUIET_MS, true);
  }

  /** Holds our offer/answer until gathering ends, pauses, or gatherWaitMs pass (see DEFAULT_GATHER_WAIT_MS). */
  #sendDescription(link: Link, message: DescriptionMessage): void {
    link.description = message;
    link.flushBy = this.#clock.now() + this.#gatherWaitMs;
    this.#armFlush(link, link.heldCandidates.length > 0 ? CANDIDATE_QUIET_MS : this.#gatherWaitMs, true);
  }

  /** Arms the flush in `ms` unless one is armed; `rearm` moves an armed one (never past flushBy). */
  #armFlush(link: Link, ms: number, rearm = false): void {
    if (link.cancelFlush && !rearm) return;
    link.cancelFlush?.();
    const wait = rearm ? Math.max(0, Math.min(ms, link.flushBy - this.#clock.now())) : ms;
    link.cancelFlush = this.#timers.after(wait, () => {
      link.cancelFlush = undefined;
      this.#flushSignals(link);
    });
  }

  /** Sends the held description (if any) with the held candidates, in as few envelopes as fit. */
  #flushSignals(link: Link): void {
    link.cancelFlush?.();
    link.cancelFlush = undefined;
    // Candidates never go before the description they belong to.
    if (link.dead || (!link.described && !link.description)) return;
    const messages = packSignals(link.session, link.description, link.heldCandidates);
    link.description = undefined;
    link.heldCandidates = [];
    link.described = true;
    for (const m of messages) this.#signal(link, m);
  }

  #signal(link: Link, message: SignalMessage): void {
    link.outbound = link.outbound.then(async () => {
      if (link.dead) return;
      try {
        const sealed = await sealSignal(this.#identity, link.peer, message);
        if (link.dead) return;
        if (!sealed.ok) {
          this.stats.dropped.signalTooLarge++;
          // Without its offer or answer the connection cannot succeed: fail it now, not at the timeout.
          if (message.t !== 'candidates') this.#remove(link, 'failed');
          return;
        }
        if (!this.#signaling) return void this.stats.dropped.noSignaling++;
        this.#signaling.send(link.peer, sealed.value);
        this.stats.signalsSent++;
      } catch {
        // Signing or the relay threw: the peer never hears of it, as if the signal were lost.
        this.stats.dropped.signalSendError++;
      }
    });
  }

  // -------------------------------------------------------------------------------------------
  // Signaling in

  #onSignal(from: Uint8Array, payload: Uint8Array, relay = ''): SignalVerdict {
    if (this.#closed) return 'accepted';
    if (!(payload instanceof Uint8Array) || payload.length > MAX_ENVELOPE_BYTES) {
      this.#reject('TOO_LARGE');
      return 'accepted';
    }
    if (this.#inboundPending >= MAX_SIGNAL_BACKLOG) {
      this.stats.dropped.signalBacklog++;
      return 'rate-limited';
    }
    // The relay's offer budget, before any crypto: a parse is cheap, a verification is not.
    const parsed = parseSignal(payload);
    if (parsed.ok && parsed.value.message.t === 'offer' && !this.#takeToken(this.#offersPerRelay, relay, OFFERS_PER_RELAY_RATE, OFFERS_PER_RELAY_BURST)) {
      this.stats.dropped.offerRelayLimited++;
      return 'rate-limited';
    }
    this.#inboundPending++;
    // Copies: the relay may reuse its buffers while we verify.
    const fromCopy = Uint8Array.from(from);
    const copy = payload.slice();
    // One at a time: verification may be async (WebCrypto) and an offer must be handled before
    // the candidates that follow it.
    this.#inbound = this.#inbound.then(async () => {
      try {
        await this.#handleSignal(fromCopy, copy, relay);
      } catch {
        this.stats.dropped.badSignal++;
      } finally {
        this.#inboundPending--;
      }
    });
    return 'accepted';
  }

  /** One token of `key`'s bucket in `buckets` (created full). */
  #takeToken(buckets: LruMap<string, TokenBucket>, key: string, rate: number, burst: number): boolean {
    const now = this.#clock.now();
    let bucket = buckets.get(key);
    if (!bucket) {
      bucket = new TokenBucket(rate, burst, now);
      buckets.set(key, bucket);
    }
    return bucket.take(now);
  }

  async #handleSignal(from: Uint8Array, payload: Uint8Array, relay: string): Promise<void> {
    const opened = await openSignal(this.#crypto, this.#identity.id, payload);
    if (this.#closed) return;
    if (!opened.ok) return this.#reject(opened.error);
    const { from: signer, message } = opened.value;
    // The relay's claim of who sent it must agree with who signed it.
    if (!equalBytes(signer, from)) return this.#reject('FROM_MISMATCH');
    if (equalBytes(signer, this.#identity.id)) return void this.stats.dropped.staleSignal++;
    this.stats.signalsReceived++;
    const key = toHex(signer);
    const link = this.#links.get(key);
    if (message.t === 'offer') return this.#onOffer(signer, key, link, message, relay);
    if (!link || link.session !== message.s) return void this.stats.dropped.staleSignal++;
    // Not awaited: applying the answer must not hold up other peers' signals (candidates that
    // arrive meanwhile wait in pendingCandidates).
    if (message.t === 'answer') return void this.#onAnswer(link, message);
    this.#onRemoteCandidates(link, message.c);
  }

  #reject(code: SignalErrorCode | 'FROM_MISMATCH'): void {
    this.stats.rejectedSignals[code]++;
    this.stats.dropped.badSignal++;
  }

  #onOffer(peer: NodeId, key: string, existing: Link | undefined, offer: DescriptionMessage, relay: string): void {
    // A duplicate, or a replay of an old offer: must not replace the link it once made.
    if (this.#seenSessions.has(`${key}:${offer.s}`)) return void this.stats.dropped.staleSignal++;
    if (!this.#takeToken(this.#offersPerSource, key, OFFERS_PER_SOURCE_RATE, OFFERS_PER_SOURCE_BURST)) {
      return void this.stats.dropped.offerSourceLimited++;
    }
    let queue: Uint8Array[] = [];
    if (existing) {
      if (existing.role === 'offerer' && existing.state === 'connecting' && !existing.answered) {
        // Glare: both sides offered. The numerically smaller ID keeps its offer; the peer (larger)
        // does the same comparison, drops its own offer and answers ours.
        if (compareIds(this.#identity.id, peer) < 0) return void this.stats.glareKept++;
        this.stats.glareYielded++;
      }
      // Otherwise the peer has started over (it lost the link, abandoned the answer it gave us,
      // or restarted): follow it.
      queue = existing.queue;
      existing.queue = [];
      this.#remove(existing, 'replaced');
    } else if (!this.#admitInbound(relay)) {
      return void this.stats.dropped.noCapacity++;
    }
    const link = this.#newLink(peer, key, 'answerer', offer.s, 1, queue, relay);
    if (!link) return;
    // Held until the offer is applied (#setRemoteDescribed).
    this.#onRemoteCandidates(link, offer.c ?? []);
    void this.#answer(link, offer.sdp);
  }

  async #onAnswer(link: Link, answer: DescriptionMessage): Promise<void> {
    if (link.role !== 'offerer' || link.answered) return void this.stats.dropped.staleSignal++;
    link.answered = true;
    this.#onRemoteCandidates(link, answer.c ?? []);
    try {
      await link.pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
      if (!link.dead) this.#setRemoteDescribed(link);
    } catch {
      this.#onFailure(link);
    }
  }

  #onRemoteCandidates(link: Link, candidates: readonly IceCandidateLine[]): void {
    for (const c of candidates) {
      if (link.remoteDescribed) this.#addCandidate(link, c);
      // Candidates can overtake the description they belong to, or come with it: hold them.
      else if (link.pendingCandidates.length < MAX_PENDING_CANDIDATES) link.pendingCandidates.push(c);
      else this.stats.dropped.candidateOverflow++;
    }
  }

  #setRemoteDescribed(link: Link): void {
    link.remoteDescribed = true;
    const pending = link.pendingCandidates;
    link.pendingCandidates = [];
    for (const c of pending) this.#addCandidate(link, c);
  }

  #addCandidate(link: Link, line: IceCandidateLine): void {
    // sdpMLineIndex 0 as well: node-datachannel's polyfill insists on one of the two being set.
    const init: RTCIceCandidateInit = { candidate: line.candidate, sdpMid: line.mid ?? null, sdpMLineIndex: 0 };
    link.pc.addIceCandidate(init).catch(() => {
      if (!link.dead) this.stats.dropped.badCandidate++;
    });
  }
}

// ---------------------------------------------------------------------------------------------

function newStats(): WebRtcStats {
  return {
    sent: 0,
    received: 0,
    signalsSent: 0,
    signalsReceived: 0,
    linksOpened: 0,
    linksClosed: 0,
    linksClosedByPeer: 0,
    linksEvicted: 0,
    earnedEvicted: 0,
    linksEarned: 0,
    connectingReplaced: 0,
    linksIdleClosed: 0,
    connectTimeouts: 0,
    connectFailures: 0,
    connectRetries: 0,
    offersStalled: 0,
    glareYielded: 0,
    glareKept: 0,
    rejectedSignals: {
      TOO_LARGE: 0,
      TRUNCATED: 0,
      BAD_VERSION: 0,
      BAD_JSON: 0,
      BAD_MESSAGE: 0,
      KEY_MISMATCH: 0,
      NOT_FOR_US: 0,
      BAD_SIGNATURE: 0,
      FROM_MISMATCH: 0,
    },
    dropped: {
      closed: 0,
      wrongKind: 0,
      badAddress: 0,
      oversize: 0,
      receivedOversize: 0,
      notBinary: 0,
      queueOverflow: 0,
      noCapacity: 0,
      noSignaling: 0,
      connectTimeout: 0,
      linkFailed: 0,
      congested: 0,
      sendError: 0,
      handlerError: 0,
      badSignal: 0,
      staleSignal: 0,
      candidateOverflow: 0,
      badCandidate: 0,
      signalBacklog: 0,
      offerRelayLimited: 0,
      offerSourceLimited: 0,
      unprovenIpLimit: 0,
      signalTooLarge: 0,
      signalSendError: 0,
      extraChannel: 0,
    },
  };
}

/**
 * The offer we send says `a=setup:active` instead of `actpass` (our own local description keeps
 * actpass), so the answerer picks `passive` (RFC 4145 §4.1; browsers and libdatachannel both
 * follow it) and we, the offerer, start the DTLS handshake. Why: the answerer's ICE usually
 * completes before the answer has crossed the relay, and a libdatachannel offerer that is the DTLS
 * server drops the early ClientHello (the handshake then waits for a 1 s retransmission: 31 of
 * 150 in-process connects here) or fails it outright (~2–3 %). As DTLS client the offerer sends
 * its first flight only once it has the answer, to an answerer that has had the offer all along:
 * measured 0–2 slow and 1 failed connect in 400.
 */
function offererIsDtlsClient(sdp: string): string {
  return sdp.replace(/^a=setup:actpass(\r?)$/gm, 'a=setup:active$1');
}

/** 127.0.0.0/8 or ::1: a peer on this very machine. */
function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

/** Big-endian comparison: the numeric order of two IDs. */
function compareIds(a: NodeId, b: NodeId): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function closeQuietly(channel: RTCDataChannel): void {
  try {
    channel.close();
  } catch {
    // Already closed.
  }
}

/** The selected pair's remote candidate is a host candidate whose address the browser hides (mDNS). */
const HIDDEN_HOST = Symbol('hidden host');

/**
 * The remote IP of the selected ICE candidate pair. Browsers name it in the transport's
 * `selectedCandidatePairId` (Firefox marks the pair `selected`); node-datachannel reports just the
 * one pair, `succeeded` and `nominated`. Remote candidates give `address` (older: `ip`); a host
 * candidate shown as an mDNS name (`….local`) or an empty address gives HIDDEN_HOST.
 */
function remoteIpFromStats(report: RTCStatsReport): string | typeof HIDDEN_HOST | undefined {
  const byId = new Map<string, Record<string, unknown>>();
  report.forEach((s: Record<string, unknown>) => byId.set(String(s.id), s));
  let pair: Record<string, unknown> | undefined;
  for (const s of byId.values()) {
    if (s.type === 'transport' && typeof s.selectedCandidatePairId === 'string') pair = byId.get(s.selectedCandidatePairId);
  }
  pair ??= [...byId.values()].find(
    (s) => s.type === 'candidate-pair' && (s.selected === true || (s.nominated === true && s.state === 'succeeded')),
  );
  const remote = pair ? byId.get(String(pair.remoteCandidateId)) : undefined;
  const ip = remote?.address ?? remote?.ip;
  const canonical = typeof ip === 'string' ? canonicalIp(ip) : undefined;
  if (canonical) return canonical;
  // Chromium reports a host candidate it resolved over mDNS with an empty address.
  if (remote?.candidateType === 'host' && (ip === '' || ip === undefined || (typeof ip === 'string' && ip.endsWith('.local')))) return HIDDEN_HOST;
  return undefined;
}

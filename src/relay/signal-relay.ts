/**
 * Signaling through the DHT: a transport that reaches peers by ID (WebRTC) hands opaque, signed
 * payloads to this relay, which sends them as SIGNAL requests to a node linked to the target —
 * a node that told us about the target (or forwarded the target's signal to us), the contacts
 * closest to it, or a peer we joined through — and that node forwards them. The signaling server
 * is just the first such relay: members are always tried before bootstrap servers (peers whose
 * replies carry the BOOTSTRAP flag), so once a swarm has formed, ordinary members carry the
 * signaling and the server is off the hot path (it still introduces each newcomer to its first
 * contacts).
 */
import { equalIds, idKey, type NodeId } from '../id.js';
import { ipPrefix } from '../ip-prefix.js';
import { LruMap } from '../lru.js';
import { RateLimiter, type RateLimitOptions } from '../rate-limit.js';
import type { Rpc } from '../rpc/rpc.js';
import type { KnownPeers, RelayPeer } from '../routing/known-peers.js';
import type { RoutingTable } from '../routing/table.js';
import type { SignalingChannel, SignalVerdict } from '../transport/transport.js';
import { addressKey, type PeerAddress } from '../wire/address.js';
import { MessageType, SignalStatus, type Body, type Message, type SignalStatusCode } from '../wire/messages.js';

export type { RelayPeer } from '../routing/known-peers.js';

/** Targets with relay hints kept (target → the peers that listed it). */
const MAX_HINTS = 4096;
/** Hints kept per target, most recent first. */
const HINTS_PER_TARGET = 3;
/** Relays tried per payload before giving up (the transport's connect timeout handles the rest). */
const MAX_RELAYS_PER_SIGNAL = 4;

/**
 * SIGNALs we take (to deliver or forward) per requesting IP, and per its /24 or /64: a link costs
 * each side one or two, so an honest node stays far below; a flood is answered RATE_LIMITED
 * after one token-bucket lookup, before anything is forwarded or verified.
 */
export const SIGNALS_PER_IP: Readonly<RateLimitOptions> = { perKeyRate: 20, perKeyBurst: 80, globalRate: 2000, globalBurst: 4000, maxKeys: 4096 };
export const SIGNALS_PER_PREFIX: Readonly<RateLimitOptions> = { perKeyRate: 40, perKeyBurst: 160, globalRate: 2000, globalBurst: 4000, maxKeys: 4096 };
/**
 * SIGNALs one requester (by address: a WebSocket client, a UDP port) may send toward one target:
 * a link takes two or three, a failed one is retried a few times; a flood of offers at one victim
 * through us is not passed on.
 */
export const SIGNALS_PER_REQUESTER_TARGET: Readonly<RateLimitOptions> = { perKeyRate: 1, perKeyBurst: 8, globalRate: 2000, globalBurst: 4000, maxKeys: 8192 };
/**
 * SIGNALs one IP may send toward one target, whatever its ports: half of what a target takes from
 * one relay (the WebRTC transport's offer budget, 10/s and 20 at once), so one host cannot spend a
 * target's whole budget for this relay and have its newcomers' offers refused with the flood's.
 * Per requester alone it could: 7 UDP ports of one IP passed 80 at once and 20/s. Honest tabs
 * behind one NAT linking to the same member take one or two each.
 */
export const SIGNALS_PER_IP_TARGET: Readonly<RateLimitOptions> = { perKeyRate: 5, perKeyBurst: 10, globalRate: 2000, globalBurst: 4000, maxKeys: 8192 };

/** Who handed us a SIGNAL: its address and the IP its transport saw (or the address key). */
export interface SignalRequester {
  address: PeerAddress;
  ip: string;
}

export interface SignalRelayOptions {
  selfId: NodeId;
  rpc: Rpc;
  table: RoutingTable;
  /** Entry peers (relays of our first signals) and bootstrap servers (relays of last resort). */
  peers: KnownPeers;
  count: (what: string) => void;
  now: () => number;
}

export class SignalRelay implements SignalingChannel {
  onSignal: ((from: Uint8Array, payload: Uint8Array, relay?: string) => SignalVerdict | void) | undefined;
  readonly #options: SignalRelayOptions;
  readonly #hints = new LruMap<string, RelayPeer[]>(MAX_HINTS);
  /** Source → the peer that just forwarded its signal to us: a proven path for our answer. */
  readonly #returnPaths = new LruMap<string, RelayPeer>(MAX_HINTS);
  readonly #perIp: RateLimiter;
  readonly #perPrefix: RateLimiter;
  readonly #perTarget: RateLimiter;
  readonly #perIpTarget: RateLimiter;

  constructor(options: SignalRelayOptions) {
    this.#options = options;
    this.#perIp = new RateLimiter(SIGNALS_PER_IP, options.now);
    this.#perPrefix = new RateLimiter(SIGNALS_PER_PREFIX, options.now);
    this.#perTarget = new RateLimiter(SIGNALS_PER_REQUESTER_TARGET, options.now);
    this.#perIpTarget = new RateLimiter(SIGNALS_PER_IP_TARGET, options.now);
  }

  /** Remembers that `relay` listed `target`: it has `target` in its table, so it can forward to it. */
  hint(target: NodeId, relay: RelayPeer): void {
    if (equalIds(target, relay.id) || equalIds(relay.id, this.#options.selfId)) return;
    const key = idKey(target);
    const others = (this.#hints.peek(key) ?? []).filter((p) => !equalIds(p.id, relay.id));
    // Copies: the lookup's peers are views into NODES replies, which must not stay alive for a hint.
    const kept: RelayPeer = { id: relay.id.slice(), address: { kind: relay.address.kind, data: relay.address.data.slice() } };
    this.#hints.set(key, [kept, ...others].slice(0, HINTS_PER_TARGET));
  }

  send(to: Uint8Array, payload: Uint8Array): void {
    this.#sendVia(this.#relaysFor(to), to, payload).catch(() => this.#options.count('signalUndeliverable'));
  }

  async #sendVia(relays: RelayPeer[], to: NodeId, payload: Uint8Array): Promise<void> {
    for (const [i, relay] of relays.entries()) {
      if (i > 0) this.#options.count('signalRelayRetries');
      try {
        const reply = await this.#options.rpc.request(
          relay.address,
          { type: MessageType.SIGNAL, target: to, source: this.#options.selfId, payload },
          { expectId: relay.id, attempts: 2 },
        );
        if (reply.message.type === MessageType.SIGNAL_ACK && reply.message.status === SignalStatus.FORWARDED) {
          this.#options.count('signalsSent');
          if (this.#isBootstrapServer(relay)) this.#options.count('signalsSentViaServer');
          return;
        }
      } catch {
        /* try the next relay */
      }
    }
    throw new Error('no relay forwarded the signal');
  }

  /**
   * Candidate relays, best first, without duplicates and never the target itself: the relay that
   * brought us the target's last signal, members that listed the target, then the members closest
   * to it (the likeliest to have it in their tables), and only then servers (BOOTSTRAP flag), even
   * when they listed it too, and our entry peers.
   */
  #relaysFor(to: NodeId): RelayPeer[] {
    const hints = this.#hints.get(idKey(to)) ?? [];
    const back = this.#returnPaths.get(idKey(to));
    const out: RelayPeer[] = [];
    const seen = new Set<string>([idKey(to), idKey(this.#options.selfId)]);
    const add = (p: RelayPeer): void => {
      if (out.length >= MAX_RELAYS_PER_SIGNAL) return;
      const hex = idKey(p.id);
      if (seen.has(hex) || !this.#options.rpc.canReach(p.address)) return;
      seen.add(hex);
      out.push(p);
    };
    // The relay that just brought us the target's signal reaches it, server or not: a newcomer
    // is linked to nobody but the server yet.
    if (back) add(back);
    for (const p of hints) if (!this.#isBootstrapServer(p)) add(p);
    for (const c of this.#options.table.closest(to, 2)) if (!this.#isBootstrapServer(c)) add(c);
    for (const p of hints) add(p);
    for (const p of this.#options.peers.entryPeers()) add(p);
    return out;
  }

  /**
   * A peer that announced itself as a bootstrap server (BOOTSTRAP flag): a relay of last resort.
   * An entry peer without the flag is an ordinary member we happened to join through, and ranks as one.
   */
  #isBootstrapServer(p: RelayPeer): boolean {
    return this.#options.peers.isBootstrapServer(p.id);
  }

  /**
   * Serves a SIGNAL request: deliver it here, or forward it to a contact we are linked to.
   * `via` is the peer that sent it when it is a verified contact or entry peer: it reached the
   * source, so our answer goes back through it.
   */
  handle(m: Message & { type: typeof MessageType.SIGNAL }, requester: SignalRequester, via?: RelayPeer): Body {
    const ack = (status: SignalStatusCode): Body => ({ type: MessageType.SIGNAL_ACK, status });
    const forSelf = equalIds(m.target, this.#options.selfId);
    // A target we cannot reach costs one table lookup: answered before any budget is charged, so
    // a node answering strangers' offers (its answers go out through every relay it knows, and
    // are refused here) does not spend its budget for the answers that do reach someone.
    const contact = forSelf ? undefined : this.#options.table.get(m.target);
    if (!forSelf && !contact) return ack(SignalStatus.UNKNOWN_TARGET);
    // Cheapest first, and the prefix only once the IP passed, so one IP cannot drain its prefix.
    // The per-target budget binds the first hop only: delivered to us, a relay's SIGNALs carry
    // many sources' signaling, which our transport budgets per relay itself.
    if (
      (!forSelf && !this.#perTarget.take(`${addressKey(requester.address)}>${idKey(m.target)}`)) ||
      (!forSelf && !this.#perIpTarget.take(`${requester.ip}>${idKey(m.target)}`)) ||
      !this.#perIp.take(requester.ip) ||
      !this.#perPrefix.take(ipPrefix(requester.ip))
    ) {
      this.#options.count('signalsRateLimited');
      return ack(SignalStatus.RATE_LIMITED);
    }
    if (!contact) {
      const verdict: SignalVerdict | void = this.onSignal?.(m.source, m.payload, requester.ip);
      if (verdict === 'rate-limited') {
        this.#options.count('signalsRateLimited');
        return ack(SignalStatus.RATE_LIMITED);
      }
      this.#options.count('signalsReceived');
      if (via && !equalIds(via.id, m.source)) this.#returnPaths.set(idKey(m.source), via);
      return ack(SignalStatus.FORWARDED);
    }
    this.#options.count('signalsRelayed');
    this.#options.rpc
      .request(contact.address, { type: MessageType.SIGNAL, target: m.target, source: m.source, payload: m.payload }, { expectId: m.target, attempts: 2 })
      .catch(() => this.#options.count('signalRelayFailed'));
    return ack(SignalStatus.FORWARDED);
  }
}

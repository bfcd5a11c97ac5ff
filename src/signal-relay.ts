/**
 * Signaling through the DHT: a transport that reaches peers by ID (WebRTC) hands opaque, signed
 * payloads to this relay, which sends them as SIGNAL requests to a node linked to the target —
 * a node that told us about the target (or forwarded the target's signal to us), the contacts
 * closest to it, or a bootstrap node — and that node forwards them. The signaling server is just
 * the first such relay: members are always tried before servers (peers whose replies carry the
 * BOOTSTRAP flag), so once a swarm has formed, ordinary members carry the signaling and the server
 * is off the hot path (it still introduces each newcomer to its first contacts).
 */
import { equalIds, idToHex, type NodeId } from './id.js';
import { LruMap } from './lru.js';
import type { Rpc } from './rpc/rpc.js';
import type { RoutingTable } from './routing/table.js';
import type { SignalingChannel } from './transport/transport.js';
import type { PeerAddress } from './wire/address.js';
import { MessageType, SignalStatus, type Body, type Message, type SignalStatusCode } from './wire/messages.js';

/** Targets with relay hints kept (target → the peers that listed it). */
const MAX_HINTS = 4096;
/** Hints kept per target, most recent first. */
const HINTS_PER_TARGET = 3;
/** Relays tried per payload before giving up (the transport's connect timeout handles the rest). */
const MAX_RELAYS_PER_SIGNAL = 4;

export interface RelayPeer {
  id: NodeId;
  address: PeerAddress;
}

export interface SignalRelayHost {
  selfId: NodeId;
  rpc: Rpc;
  table: RoutingTable;
  /** Peers that answered our bootstrap pings (e.g. the signaling server). */
  bootstrapPeers: () => RelayPeer[];
  /** Whether a peer announced itself as a bootstrap server (the BOOTSTRAP flag). */
  isServer: (id: NodeId) => boolean;
  count: (what: string) => void;
}

export class SignalRelay implements SignalingChannel {
  onSignal: ((from: Uint8Array, payload: Uint8Array) => void) | undefined;
  readonly #h: SignalRelayHost;
  readonly #hints = new LruMap<string, RelayPeer[]>(MAX_HINTS);
  /** Source → the peer that just forwarded its signal to us: a proven path for our answer. */
  readonly #returnPaths = new LruMap<string, RelayPeer>(MAX_HINTS);

  constructor(host: SignalRelayHost) {
    this.#h = host;
  }

  /** Remembers that `relay` listed `target`: it has `target` in its table, so it can forward to it. */
  hint(target: NodeId, relay: RelayPeer): void {
    if (equalIds(target, relay.id) || equalIds(relay.id, this.#h.selfId)) return;
    const key = idToHex(target);
    const others = (this.#hints.peek(key) ?? []).filter((p) => !equalIds(p.id, relay.id));
    this.#hints.set(key, [relay, ...others].slice(0, HINTS_PER_TARGET));
  }

  send(to: Uint8Array, payload: Uint8Array): void {
    this.#sendVia(this.#relaysFor(to), to, payload).catch(() => this.#h.count('signalUndeliverable'));
  }

  async #sendVia(relays: RelayPeer[], to: NodeId, payload: Uint8Array): Promise<void> {
    for (const [i, relay] of relays.entries()) {
      if (i > 0) this.#h.count('signalRelayRetries');
      try {
        const reply = await this.#h.rpc.request(
          relay.address,
          { type: MessageType.SIGNAL, target: to, source: this.#h.selfId, payload },
          { expectId: relay.id, attempts: 2 },
        );
        if (reply.message.type === MessageType.SIGNAL_ACK && reply.message.status === SignalStatus.FORWARDED) {
          this.#h.count('signalsSent');
          if (this.#isServer(relay)) this.#h.count('signalsSentViaServer');
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
   * when they listed it too, and our bootstrap peers.
   */
  #relaysFor(to: NodeId): RelayPeer[] {
    const hints = this.#hints.get(idToHex(to)) ?? [];
    const back = this.#returnPaths.get(idToHex(to));
    const out: RelayPeer[] = [];
    const seen = new Set<string>([idToHex(to), idToHex(this.#h.selfId)]);
    const add = (p: RelayPeer): void => {
      if (out.length >= MAX_RELAYS_PER_SIGNAL) return;
      const hex = idToHex(p.id);
      if (seen.has(hex) || !this.#h.rpc.canReach(p.address)) return;
      seen.add(hex);
      out.push(p);
    };
    // The relay that just brought us the target's signal reaches it, server or not: a newcomer
    // is linked to nobody but the server yet.
    if (back) add(back);
    for (const p of hints) if (!this.#isServer(p)) add(p);
    for (const c of this.#h.table.closest(to, 2)) if (!this.#isServer(c)) add(c);
    for (const p of hints) add(p);
    for (const p of this.#h.bootstrapPeers()) add(p);
    return out;
  }

  /**
   * A peer that announced itself as a server (BOOTSTRAP flag): a relay of last resort. A bootstrap
   * peer without the flag is an ordinary member we happened to join through, and ranks as one.
   */
  #isServer(p: RelayPeer): boolean {
    return this.#h.isServer(p.id);
  }

  /**
   * Serves a SIGNAL request: deliver it here, or forward it to a contact we are linked to.
   * `via` is the peer that sent it when it is a verified contact or bootstrap peer: it reached the
   * source, so our answer goes back through it.
   */
  handle(m: Message & { type: typeof MessageType.SIGNAL }, via?: RelayPeer): Body {
    const ack = (status: SignalStatusCode): Body => ({ type: MessageType.SIGNAL_ACK, status });
    if (equalIds(m.target, this.#h.selfId)) {
      this.#h.count('signalsReceived');
      if (via && !equalIds(via.id, m.source)) this.#returnPaths.set(idToHex(m.source), via);
      this.onSignal?.(m.source, m.payload);
      return ack(SignalStatus.FORWARDED);
    }
    const contact = this.#h.table.get(m.target);
    if (!contact) return ack(SignalStatus.UNKNOWN_TARGET);
    this.#h.count('signalsRelayed');
    this.#h.rpc
      .request(contact.address, { type: MessageType.SIGNAL, target: m.target, source: m.source, payload: m.payload }, { expectId: m.target, attempts: 2 })
      .catch(() => this.#h.count('signalRelayFailed'));
    return ack(SignalStatus.FORWARDED);
  }
}

/**
 * Signaling through the DHT: a transport that reaches peers by ID (WebRTC) hands opaque, signed
 * payloads to this relay, which sends them as SIGNAL requests to a node linked to the target —
 * the node that told us about the target, a bootstrap node, or the contacts closest to it — and
 * that node forwards them. The signaling server is just the first such relay; once a swarm has
 * formed, ordinary members carry the signaling and the server is off the hot path.
 */
import { equalIds, idToHex, type NodeId } from './id.js';
import { LruMap } from './lru.js';
import type { Rpc } from './rpc/rpc.js';
import type { RoutingTable } from './routing/table.js';
import type { SignalingChannel } from './transport/transport.js';
import type { PeerAddress } from './wire/address.js';
import { MessageType, SignalStatus, type Body, type Message, type SignalStatusCode } from './wire/messages.js';

/** Relay hints kept (target → the peer that listed it). */
const MAX_HINTS = 4096;
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
  count: (what: string) => void;
}

export class SignalRelay implements SignalingChannel {
  onSignal: ((from: Uint8Array, payload: Uint8Array) => void) | undefined;
  readonly #h: SignalRelayHost;
  readonly #hints = new LruMap<string, RelayPeer>(MAX_HINTS);

  constructor(host: SignalRelayHost) {
    this.#h = host;
  }

  /** Remembers that `relay` listed `target`: it has `target` in its table, so it can forward to it. */
  hint(target: NodeId, relay: RelayPeer): void {
    if (!equalIds(target, relay.id)) this.#hints.set(idToHex(target), relay);
  }

  send(to: Uint8Array, payload: Uint8Array): void {
    this.#sendVia(this.#relaysFor(to), to, payload).catch(() => this.#h.count('signalUndeliverable'));
  }

  async #sendVia(relays: RelayPeer[], to: NodeId, payload: Uint8Array): Promise<void> {
    for (const relay of relays) {
      try {
        const reply = await this.#h.rpc.request(
          relay.address,
          { type: MessageType.SIGNAL, target: to, source: this.#h.selfId, payload },
          { expectId: relay.id, attempts: 2 },
        );
        if (reply.message.type === MessageType.SIGNAL_ACK && reply.message.status === SignalStatus.FORWARDED) {
          this.#h.count('signalsSent');
          return;
        }
      } catch {
        /* try the next relay */
      }
    }
    throw new Error('no relay forwarded the signal');
  }

  /** Candidate relays, best first, without duplicates and never the target itself. */
  #relaysFor(to: NodeId): RelayPeer[] {
    const out: RelayPeer[] = [];
    const seen = new Set<string>([idToHex(to), idToHex(this.#h.selfId)]);
    const add = (p: RelayPeer | undefined): void => {
      if (!p || out.length >= MAX_RELAYS_PER_SIGNAL) return;
      const hex = idToHex(p.id);
      if (seen.has(hex) || !this.#h.rpc.canReach(p.address)) return;
      seen.add(hex);
      out.push(p);
    };
    add(this.#hints.get(idToHex(to)));
    // Nodes close to the target in ID space are the likeliest to have it in their tables.
    for (const c of this.#h.table.closest(to, 2)) add(c);
    for (const p of this.#h.bootstrapPeers()) add(p);
    return out;
  }

  /** Serves a SIGNAL request: deliver it here, or forward it to a contact we are linked to. */
  handle(m: Message & { type: typeof MessageType.SIGNAL }): Body {
    const ack = (status: SignalStatusCode): Body => ({ type: MessageType.SIGNAL_ACK, status });
    if (equalIds(m.target, this.#h.selfId)) {
      this.#h.count('signalsReceived');
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

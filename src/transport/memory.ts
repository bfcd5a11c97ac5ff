/**
 * An in-memory simulated network for tests and benchmarks: every node gets an IP and port, and
 * datagrams suffer configurable latency, jitter (which also reorders), loss, duplication and
 * partitions. Delivery is scheduled on the (usually virtual) clock.
 */
import type { Clock } from '../clock.js';
import { seededRandom } from '../random.js';
import { AddressKind, addressKey, decodeIpPort, encodeIpPort, formatIpPort, ipOfIpPort, parseIpPort, peerKey, type PeerAddress, type PeerKey } from '../wire/address.js';
import { Flags, MAX_MESSAGE_BYTES, MessageType } from '../wire/messages.js';
import type { NodeId } from '../id.js';
import type { DatagramHandler, Transport } from './transport.js';

/** Message type code (byte 5 of every datagram) → name. */
const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MessageType).map(([name, code]) => [code, name]));

export interface NetworkConditions {
  /** One-way latency in ms. */
  latency: number;
  /** Uniform extra delay in [0, jitter) ms per datagram; reorders datagrams. */
  jitter: number;
  /** Probability that a datagram is lost. */
  loss: number;
  /** Probability that a delivered datagram arrives twice. */
  duplicate: number;
}

export interface SimNetworkOptions extends Partial<NetworkConditions> {
  clock: Clock;
  /** Seed for the network's deterministic random choices. */
  seed?: number;
}

export class SimNetwork {
  readonly clock: Clock;
  conditions: NetworkConditions;
  readonly stats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    blocked: 0,
    bytes: 0,
    /** Datagrams sent, by message type name (PING, NODES …): what a benchmark attributes costs to. */
    byType: {} as Record<string, number>,
  };
  readonly #endpoints = new Map<PeerKey, MemoryTransport>();
  /** IP → partition group; datagrams cross groups only when both are in the same group. */
  readonly #groups = new Map<string, number>();
  #rand: () => number;
  #nextIp = 1;

  constructor({ clock, seed = 1, latency = 10, jitter = 5, loss = 0, duplicate = 0 }: SimNetworkOptions) {
    this.clock = clock;
    this.conditions = { latency, jitter, loss, duplicate };
    this.#rand = seededRandom(seed);
  }

  random(): number {
    return this.#rand();
  }

  /**
   * A fresh IPv4 address in 10.0.0.0/8 (simulated only: nothing is sent on a real network). Each of
   * the first 65,535 falls in a /24 of its own, as strangers on the internet do: per-prefix limits
   * then bite only where a test puts nodes in one prefix on purpose.
   */
  allocateIp(): string {
    const n = this.#nextIp++;
    return `10.${n & 255}.${(n >> 8) & 255}.${((n >> 16) & 255) + 1}`;
  }

  /** Attaches an endpoint at ip:port (a fresh IP when omitted). */
  createTransport(opts: { ip?: string; port?: number } = {}): MemoryTransport {
    const ip = opts.ip ?? this.allocateIp();
    const port = opts.port ?? 4000;
    const t = new MemoryTransport(this, encodeIpPort(AddressKind.SIM, { ip, port }));
    const key = peerKey(t.address);
    if (this.#endpoints.has(key)) throw new Error(`address ${ip}:${port} already in use`);
    this.#endpoints.set(key, t);
    return t;
  }

  /** Splits IPs into groups that cannot reach each other; `heal()` undoes it. */
  partition(groups: string[][]): void {
    this.#groups.clear();
    groups.forEach((ips, i) => ips.forEach((ip) => this.#groups.set(ip, i)));
  }

  heal(): void {
    this.#groups.clear();
  }

  /** @internal */
  detach(t: MemoryTransport): void {
    this.#endpoints.delete(peerKey(t.address));
  }

  /** @internal */
  deliver(from: MemoryTransport, to: PeerAddress, data: Uint8Array): void {
    this.stats.sent++;
    this.stats.bytes += data.length;
    const type = TYPE_NAMES[data[5] ?? 0] ?? 'other';
    this.stats.byType[type] = (this.stats.byType[type] ?? 0) + 1;
    const target = this.#endpoints.get(peerKey(to));
    if (this.#groups.size > 0) {
      const toIp = decodeIpPort(to)?.ip;
      if (toIp !== undefined && this.#groups.get(from.ip) !== this.#groups.get(toIp)) {
        this.stats.blocked++;
        return;
      }
    }
    const c = this.conditions;
    if (!target || this.#rand() < c.loss) {
      this.stats.lost++;
      return;
    }
    const copies = this.#rand() < c.duplicate ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      // Whole milliseconds: datagrams due in the same millisecond are delivered in one batch, which
      // keeps large simulations fast without changing what the engine sees.
      const delay = Math.round(c.latency + this.#rand() * c.jitter);
      // The same bytes, not a copy: no one writes to a datagram once it is sent.
      this.clock.setTimeout(() => {
        this.stats.delivered++;
        target.receive(data, from.address);
      }, delay);
    }
  }
}

export class MemoryTransport implements Transport {
  readonly kind = AddressKind.SIM;
  readonly name = 'sim';
  /** The simulated network stands in for UDP: peers reach us at our datagrams' source. */
  readonly speaks = Flags.SPEAKS_UDP;
  onDatagram: DatagramHandler | undefined;
  readonly ip: string;
  #closed = false;

  constructor(
    private readonly network: SimNetwork,
    readonly address: PeerAddress,
  ) {
    this.ip = decodeIpPort(address)!.ip;
  }

  send(to: PeerAddress, data: Uint8Array): void {
    if (this.#closed || to.kind !== this.kind || data.length > MAX_MESSAGE_BYTES) return;
    this.network.deliver(this, to, data);
  }

  addressOf(_peerId: NodeId, from: PeerAddress): PeerAddress | undefined {
    return from.kind === this.kind ? from : undefined;
  }

  /** @internal called by the network */
  receive(data: Uint8Array, from: PeerAddress): void {
    if (!this.#closed) this.onDatagram?.(data, from);
  }

  ipOf(address: PeerAddress): string | undefined {
    return ipOfIpPort(address);
  }

  format(address: PeerAddress): string {
    const ipPort = decodeIpPort(address);
    return ipPort ? formatIpPort(ipPort) : addressKey(address);
  }

  /** Simulated nodes are addressed like UDP ones: "10.0.0.1:4000". */
  parseAddress(text: string): PeerAddress | undefined {
    try {
      return encodeIpPort(this.kind, parseIpPort(text));
    } catch {
      return undefined;
    }
  }

  localAddresses(): PeerAddress[] {
    return [this.address];
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.network.detach(this);
  }
}

/**
 * A hand-driven peer on the simulated network that speaks the wire protocol: it sends exactly the
 * datagrams a test builds, so it can play an attacker (forged senders, missing tokens, lies).
 */
import { toHex } from '../../src/bytes.js';
import { Identity } from '../../src/crypto/identity.js';
import type { NodeId } from '../../src/id.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import type { MemoryTransport } from '../../src/transport/memory.js';
import type { PeerAddress } from '../../src/wire/address.js';
import { Flags, REQUEST_TYPES, appendAuth, decodeMessage, encodeMessage, type Body, type Message } from '../../src/wire/messages.js';
import { SIM_NETWORK, type Testnet } from './testnet.js';

const ZERO8 = new Uint8Array(8);
const newIdentity = (): Promise<Identity> => Identity.generate({ crypto: nodeCrypto, difficulty: SIM_NETWORK.idDifficulty ?? 0 });

/** The message a raw datagram carries (throws on a malformed one: tests build them). */
export async function build(
  networkId: Uint8Array,
  body: Body,
  o: { senderId: NodeId; requestId?: Uint8Array; signer?: Identity; flags?: number; token?: Uint8Array },
): Promise<Uint8Array> {
  // Like a real node on this network: reachable over the (UDP-like) simulated transport.
  const flags = (o.flags ?? 0) | Flags.SPEAKS_UDP | (o.signer ? Flags.AUTH : 0);
  let bytes = encodeMessage({ networkId, flags, requestId: o.requestId ?? nodeCrypto.randomBytes(8), senderId: o.senderId, token: o.token ?? ZERO8, ...body } as Message);
  if (o.signer) bytes = appendAuth(bytes, o.signer.publicKey, await o.signer.sign(bytes));
  return bytes;
}

export interface Received {
  message: Message;
  bytes: Uint8Array;
  from: PeerAddress;
}

/**
 * A hand-driven peer speaking the wire protocol: sends exactly what a test builds, and answers
 * requests with whatever `serve` returns (signed when asked), so it can play an attacker.
 */
export class Raw {
  readonly received: Received[] = [];
  serve: ((m: Message, from: PeerAddress) => Body | undefined) | undefined;
  #waiters = new Map<string, (r: Received) => void>();

  private constructor(
    readonly transport: MemoryTransport,
    readonly identity: Identity,
    readonly networkId: Uint8Array,
  ) {
    transport.onDatagram = (bytes, from) => {
      const d = decodeMessage(bytes, networkId);
      if (!d.ok) return;
      const r = { message: d.message, bytes, from };
      this.received.push(r);
      if (REQUEST_TYPES.has(d.message.type)) {
        const body = this.serve?.(d.message, from);
        if (body) {
          const signer = d.message.flags & Flags.WANT_AUTH ? this.identity : undefined;
          void build(networkId, body, { senderId: this.identity.id, requestId: d.message.requestId, signer }).then((b) => this.transport.send(from, b));
        }
        return;
      }
      const key = toHex(d.message.requestId);
      this.#waiters.get(key)?.(r);
      this.#waiters.delete(key);
    };
  }

  static async create(t: Testnet, o: { ip?: string; identity?: Identity } = {}): Promise<Raw> {
    return new Raw(t.net.createTransport(o.ip ? { ip: o.ip } : {}), o.identity ?? (await newIdentity()), t.nodes[0]!.config.networkId);
  }

  get address(): PeerAddress {
    return this.transport.address;
  }

  build(body: Body, o: { senderId?: NodeId; requestId?: Uint8Array; signer?: Identity; flags?: number; token?: Uint8Array } = {}): Promise<Uint8Array> {
    return build(this.networkId, body, { senderId: this.identity.id, ...o });
  }

  /** Sends a request and resolves with the first reply carrying its request ID. */
  async request(to: PeerAddress, body: Body, o: { senderId?: NodeId; signer?: Identity; flags?: number; token?: Uint8Array } = {}): Promise<Received> {
    const requestId = nodeCrypto.randomBytes(8);
    const bytes = await this.build(body, { ...o, requestId });
    const reply = new Promise<Received>((resolve) => this.#waiters.set(toHex(requestId), resolve));
    this.transport.send(to, bytes);
    return reply;
  }
}


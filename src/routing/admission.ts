/**
 * The one way into the routing table, and the checks that keep it live:
 * - a verified reply (signed round trip, from a node that is not a client) becomes a contact,
 *   reachable at the addresses its SPEAKS_* flags advertise;
 * - an unknown node that sends us a request gets a signed PING back (a handshake, rate limited),
 *   whose verified reply admits it;
 * - a full bucket pings its least-recently-seen contact, which leaves only if that ping fails.
 */
import type { Clock } from '../clock.js';
import { idToHex, type NodeId } from '../id.js';
import { LruMap } from '../lru.js';
import type { Reply, Rpc } from '../rpc/rpc.js';
import { addressKey, sameAddress, type PeerAddress } from '../wire/address.js';
import { MessageType } from '../wire/messages.js';
import type { Contact } from './contact.js';
import type { RoutingTable } from './table.js';

/** The least-recently-seen contact of a full bucket is pinged at most this often. */
const STALE_PING_MIN_GAP_MS = 30_000;
/** Unknown senders are pinged back (to verify them) at most this often each (per ID and address). */
const HANDSHAKE_MIN_GAP_MS = 60_000;
/** Handshakes started at once; the rest wait in a bounded queue for the next maintenance tick. */
export const MAX_HANDSHAKES_AT_ONCE = 16;
const MAX_HANDSHAKE_QUEUE = 256;
const MAX_RECENT = 4096;
/** Transmissions of a liveness ping before its contact is given up on. */
const PING_ATTEMPTS = 3;
const HANDSHAKE_ATTEMPTS = 2;

export interface AdmissionOptions {
  rpc: Rpc;
  table: RoutingTable;
  clock: Clock;
  /** A client never enters tables and verifies nobody back. */
  client: boolean;
  count: (what: string) => void;
}

export class Admission {
  readonly #rpc: Rpc;
  readonly #table: RoutingTable;
  readonly #clock: Clock;
  readonly #client: boolean;
  readonly #count: (what: string) => void;
  /** "id@address" → clock ms of the last handshake we started with it. */
  readonly #handshakes = new LruMap<string, number>(MAX_RECENT);
  readonly #handshakeQueue: { id: NodeId; address: PeerAddress }[] = [];
  /** Hex ID → clock ms of the last ping a full bucket asked of it. */
  readonly #stalePings = new LruMap<string, number>(MAX_RECENT);
  /** Hex IDs with a liveness ping in flight. */
  readonly #pinging = new Set<string>();
  #closed = false;

  constructor(options: AdmissionOptions) {
    this.#rpc = options.rpc;
    this.#table = options.table;
    this.#clock = options.clock;
    this.#client = options.client;
    this.#count = options.count;
  }

  /** A verified reply from a node that is not a client: it enters the table if there is room. */
  admit(reply: Reply): void {
    if (this.#closed) return;
    const id = reply.message.senderId;
    // A WebRTC link holds datagrams until ICE tells it the peer's IP; one with no IP even then
    // cannot be counted by the per-IP limit, so it is not admitted.
    const ip = this.#rpc.ipOf(reply.from);
    if (ip === undefined) return this.#count('unadmittedNoIp');
    const now = this.#clock.now();
    const result = this.#table.insert({
      id,
      address: reply.from,
      addresses: this.#rpc.advertisedAddresses(reply.message.flags, id, reply.from),
      ip,
      rtt: this.#rpc.rtt.srtt(addressKey(reply.from)),
      lastSeen: now,
      addedAt: now,
      failures: 0,
      flags: reply.message.flags,
    });
    if (result.status === 'full') this.#bucketFull(result.stale);
    else if (result.status === 'ip-limit') this.#count('ipLimited');
  }

  /** A node that is not a client sent us a request: refresh it, or verify it with a signed round trip. */
  sawRequest(id: NodeId, from: PeerAddress): void {
    const known = this.#table.get(id);
    if (known && sameAddress(known.address, from)) return this.#table.touch(id);
    if (this.#client || this.#closed) return;
    const key = `${idToHex(id)}@${addressKey(from)}`;
    const now = this.#clock.now();
    if (now - (this.#handshakes.peek(key) ?? -Infinity) < HANDSHAKE_MIN_GAP_MS) return;
    this.#handshakes.set(key, now);
    if (this.#handshakeQueue.length < MAX_HANDSHAKE_QUEUE) this.#handshakeQueue.push({ id, address: from });
    // Handshakes are cheap and make joins fast: start a few right away instead of at the next tick.
    this.drainHandshakes(MAX_HANDSHAKES_AT_ONCE);
  }

  /** Starts up to `max` queued handshakes; the verified PONG admits the peer by itself. */
  /** `id` left `address` for good (its transport said so): a request from it there is handshaked again at once. */
  forgetHandshake(id: NodeId, address: PeerAddress): void {
    this.#handshakes.delete(`${idToHex(id)}@${addressKey(address)}`);
  }

  drainHandshakes(max: number): void {
    for (let i = 0; i < max && this.#handshakeQueue.length > 0; i++) {
      const { id, address } = this.#handshakeQueue.shift()!;
      this.#rpc.request(address, { type: MessageType.PING, pad: 0 }, { expectId: id, attempts: HANDSHAKE_ATTEMPTS }).catch(() => {});
    }
  }

  /** Pings a contact (one ping in flight per contact); it leaves the table if the ping fails. */
  checkAlive(c: Contact): void {
    const hex = idToHex(c.id);
    if (this.#pinging.has(hex) || this.#closed) return;
    this.#pinging.add(hex);
    this.ping(c)
      .then((alive) => {
        if (!alive && !this.#closed) this.#table.remove(c.id);
      })
      .finally(() => this.#pinging.delete(hex));
  }

  /** Whether the contact answered a ping (it is then most recently seen). */
  async ping(c: Contact): Promise<boolean> {
    try {
      await this.#rpc.request(c.address, { type: MessageType.PING, pad: 0 }, { expectId: c.id, attempts: PING_ATTEMPTS });
      this.#table.touch(c.id);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.#closed = true;
    this.#handshakeQueue.length = 0;
  }

  /** Ping-before-evict: the bucket's least-recently-seen contact stays if it answers. */
  #bucketFull(stale: Contact): void {
    const hex = idToHex(stale.id);
    const now = this.#clock.now();
    if (now - (this.#stalePings.peek(hex) ?? -Infinity) < STALE_PING_MIN_GAP_MS) return;
    this.#stalePings.set(hex, now);
    this.checkAlive(stale);
  }
}

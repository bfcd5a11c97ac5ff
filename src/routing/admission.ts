/**
 * The one way into the routing table, and the checks that keep it live. Every contact is earned by
 * a verified round trip:
 * - a verified reply to our own request (signed, from a node that is not a client) admits its
 *   sender at the address we asked;
 * - a node that asks us something while its bucket has room gets ROOM in our reply, and may answer
 *   with a HELLO: that reply's token (it receives at its address) and its signature (it holds the
 *   key of its ID). We never send unsolicited datagrams to verify a stranger;
 * - a full bucket pings its least-recently-seen contact (ping-before-evict). When a stranger's
 *   request set off that ping and the contact does not answer, the stranger takes its place, as in
 *   the Kademlia paper, but only through a signed round trip: we ping it, and its verified reply
 *   admits it (else the freshest verified replacement does).
 */
import type { Clock } from '../clock.js';
import { idKey, keepId, type NodeId } from '../id.js';
import { LruMap } from '../lru.js';
import type { Reply, Rpc } from '../rpc/rpc.js';
import { peerKey, sameAddress, type PeerAddress } from '../wire/address.js';
import { MessageType, type Message } from '../wire/messages.js';
import type { Contact } from './contact.js';
import type { RoutingTable } from './table.js';

/**
 * A full bucket pings its least-recently-seen contact at most this often (per bucket, not per
 * contact: a contact that answered moves to the tail, and a per-contact gap alone let every
 * stranger's request ping the next oldest, up to k pings of live contacts per gap).
 */
const STALE_PING_MIN_GAP_MS = 30_000;
/** Strangers waiting on a ping-before-evict they set off, at most. */
const MAX_CANDIDATES = 256;
/** Transmissions of a liveness ping before its contact is given up on. */
const PING_ATTEMPTS = 3;

export interface AdmissionOptions {
  rpc: Rpc;
  table: RoutingTable;
  clock: Clock;
  /** A client never enters tables and verifies nobody back. */
  client: boolean;
  count: (what: string) => void;
}

/** A stranger that asked us something while its bucket was full. */
interface Candidate {
  id: NodeId;
  address: PeerAddress;
  /** Its request echoed our token: it receives at that address, so pinging it amplifies nothing. */
  proven: boolean;
}

export class Admission {
  readonly #rpc: Rpc;
  readonly #table: RoutingTable;
  readonly #clock: Clock;
  readonly #client: boolean;
  readonly #count: (what: string) => void;
  /** The stale contact being pinged (idKey) → the latest stranger that would take its place. */
  readonly #candidates = new LruMap<string, Candidate>(MAX_CANDIDATES);
  /**
   * Bucket index → clock ms of its last ping-before-evict (one entry per bucket: bounded by the ID
   * length). A contact never changes bucket, so this also bounds the pings of any one contact.
   */
  readonly #bucketPings = new Map<number, number>();
  /** IDs (idKey) with a liveness ping in flight. */
  readonly #pinging = new Set<string>();
  #closed = false;

  constructor(options: AdmissionOptions) {
    this.#rpc = options.rpc;
    this.#table = options.table;
    this.#clock = options.clock;
    this.#client = options.client;
    this.#count = options.count;
  }

  /** A verified reply or HELLO from a node that is not a client: it enters the table if there is room. */
  admit(reply: Reply): void {
    if (this.#closed) return;
    // Copied: the message's ID is a view into its datagram, which must not stay alive for it.
    const id = keepId(reply.message.senderId);
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
      rtt: this.#rpc.rtt.srtt(peerKey(reply.from)),
      lastSeen: now,
      addedAt: now,
      failures: 0,
      flags: reply.message.flags,
    });
    if (result.status === 'full') this.#bucketFull(result.stale);
    else if (result.status === 'ip-limit') this.#count('ipLimited');
  }

  /**
   * Whether a requester (not a client) would be added now: it is not in the table at this address,
   * its bucket has room, and neither its IP nor its prefix is at its limit. Our reply then carries ROOM.
   */
  wouldAdmit(message: Message, from: PeerAddress): boolean {
    if (this.#client || this.#closed) return false;
    const id = message.senderId;
    const known = this.#table.get(id);
    if (known) return !sameAddress(known.address, from);
    if (!this.#table.hasRoomFor(id)) return false;
    const ip = this.#rpc.ipOf(from);
    return ip !== undefined && this.#table.ipHasRoom(ip);
  }

  /**
   * A node that is not a client sent us a request: a known contact is refreshed; a stranger whose
   * bucket is full waits as a replacement candidate while the bucket's oldest contact is pinged.
   */
  sawRequest(id: NodeId, from: PeerAddress, proven: boolean): void {
    const known = this.#table.get(id);
    if (known && sameAddress(known.address, from)) return this.#table.touch(id);
    if (this.#client || this.#closed || known || this.#table.hasRoomFor(id)) return;
    const stale = this.#table.oldestIn(this.#table.bucketIndex(id));
    if (!stale) return;
    this.#candidates.set(idKey(stale.id), { id: id.slice(), address: from, proven });
    this.#bucketFull(stale);
  }

  /**
   * Pings a contact (one ping in flight per contact); it leaves the table if the ping fails, and a
   * stranger that set the ping off is verified to take its place.
   */
  checkAlive(c: Contact): void {
    const key = idKey(c.id);
    if (this.#pinging.has(key) || this.#closed) return;
    this.#pinging.add(key);
    this.ping(c)
      .then((alive) => {
        const candidate = this.#candidates.peek(key);
        this.#candidates.delete(key);
        if (alive || this.#closed) return;
        this.#table.remove(c.id, !candidate);
        if (candidate) this.#tryCandidate(candidate, this.#table.bucketIndex(c.id));
      })
      .finally(() => this.#pinging.delete(key));
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
    this.#candidates.clear();
  }

  /** Ping-before-evict: the bucket's least-recently-seen contact stays if it answers. */
  #bucketFull(stale: Contact): void {
    const now = this.#clock.now();
    const bucket = this.#table.bucketIndex(stale.id);
    if (now - (this.#bucketPings.get(bucket) ?? -Infinity) < STALE_PING_MIN_GAP_MS) return;
    this.#bucketPings.set(bucket, now);
    this.checkAlive(stale);
  }

  /** Verifies a stranger for a freed slot: its signed PONG admits it; if it fails, a verified replacement gets the slot. */
  #tryCandidate(candidate: Candidate, bucket: number): void {
    this.#count('candidatesTried');
    this.#rpc
      // Paid from what the stranger sent us (≤ 3× in all with our reply) until it proves its address.
      .request(candidate.address, { type: MessageType.PING, pad: 0 }, { expectId: candidate.id, attempts: 2, triggered: !candidate.proven })
      .catch(() => {})
      .finally(() => {
        if (!this.#closed) this.#table.promoteReplacement(bucket);
      });
  }
}

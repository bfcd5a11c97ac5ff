/**
 * The spydht node: routing table, RPC, lookups and storage wired together behind a small
 * promise-based API (put / get / delete / close). It never asks which environment it runs in:
 * transports and the crypto backend are given to it.
 */
import { onAbort } from './abort.js';
import { fromUtf8, toHex, utf8 } from './bytes.js';
import { Timers, realClock, type Clock } from './clock.js';
import type { CryptoBackend } from './crypto/backend.js';
import { Identity, solvesIdPuzzle } from './crypto/identity.js';
import { nobleCrypto } from './crypto/noble.js';
import { inThreadPowSolver, type PowSolver } from './crypto/pow.js';
import { SpydhtError, isSpydhtError } from './errors.js';
import { Emitter } from './events.js';
import { compareDistance, equalIds, idFromHex, idToHex, isId, randomIdInBucket, type NodeId } from './id.js';
import { lookup, type LookupPeer, type LookupResult, type QueryOutcome } from './lookup/lookup.js';
import { LruMap } from './lru.js';
import { Maintenance } from './maintenance.js';
import { networkConfig, type NetworkConfig, type NetworkOptions } from './network.js';
import { RateLimiter, type RateLimitOptions } from './rpc/rate-limit.js';
import { Rpc, speaksFlagOf, type IncomingRequest, type Reply } from './rpc/rpc.js';
import { SignalRelay, type RelayPeer } from './signal-relay.js';
import type { Contact, ContactInfo } from './routing/contact.js';
import { RoutingTable, type BucketSnapshot } from './routing/table.js';
import { serveRequest } from './serve.js';
import { createDeleteProof, createRecord, validateRecord, verifyRecordForKey, type RecordRules } from './storage/record.js';
import { LocalStore, type LocalStoreOptions } from './storage/store.js';
import { transportCounters, type Transport } from './transport/transport.js';
import { AddressKind, addressKey, sameAddress, type PeerAddress } from './wire/address.js';
import {
  DeleteStatus,
  Flags,
  MessageType,
  StoreStatus,
  type Body,
  type WireContact,
  type WireRecord,
} from './wire/messages.js';

export const DEFAULT_ALPHA = 3;
/** Default lifetime of a put, seconds (capped by the network's maxTtlSeconds). */
export const DEFAULT_TTL_SECONDS = 24 * 3600;
/** Default deadline of one put/get/delete/lookup. */
export const DEFAULT_OPERATION_TIMEOUT_MS = 30_000;
/** Bucket refresh lookups at join, at most (depth of the closest neighbour is ~log2(N/k)). */
const MAX_JOIN_REFRESHES = 16;
const MAX_AWAITING_IP = 256;
/** Bootstrap servers remembered (a swarm has a handful). */
const MAX_KNOWN_SERVERS = 64;
/**
 * A peer whose lookup query timed out is skipped as a lookup candidate for this long, unless it
 * is heard from meanwhile: after churn, the departed stay in other nodes' tables and NODES lists
 * for a while, and every lookup would otherwise wait out their timeouts again.
 */
const UNRESPONSIVE_MS = 30_000;
const MAX_UNRESPONSIVE = 1024;
/** WebRTC stats usually know the ICE pair within a second of the channel opening. */
const IP_RETRY_DELAY_MS = 1_500;
/** A bridge runs at most this many client operations at once. */
const MAX_PROXY_OPERATIONS = 32;
/** How long a client waits for a bridge to finish its get or put (first attempt). */
const PROXY_TIMEOUT_MS = 5_000;
/** Extra self-lookups when the first one reached nobody new. */
const JOIN_LOOKUP_RETRIES = 2;
/** A join refresh converges on this many nodes: enough to seed a bucket, a third of the traffic of k. */
const JOIN_REFRESH_K = 8;
/** Consecutive failed requests after which a contact leaves the table. */
const MAX_FAILURES = 3;

export interface DHTOptions {
  /** Datagram transports this node speaks (UDP, simulated, WebRTC …). */
  transports: Transport[];
  /** Crypto implementation; defaults to @noble (works everywhere). */
  crypto?: CryptoBackend;
  /** This node's key pair; generated (solving the ID puzzle) when omitted. */
  identity?: Identity;
  network?: NetworkOptions;
  /** Addresses of known nodes to join through. */
  bootstrap?: PeerAddress[];
  /** Time source; tests pass a virtual clock. */
  clock?: Clock;
  k?: number;
  alpha?: number;
  /** Per-IP limit of routing-table entries (default 2). */
  maxPerIp?: number;
  storage?: LocalStoreOptions;
  /** Client mode: sends requests only, stores nothing for others, never enters routing tables. */
  client?: boolean;
  /**
   * This node is a bootstrap server (the signaling server sets it): it takes part as a full
   * member, but tells peers to send WebRTC signaling through other members first.
   */
  bootstrapServer?: boolean;
  /** Where proof of work runs (default: in this thread, in slices that yield to the event loop). */
  powSolver?: PowSolver;
  rateLimit?: Partial<RateLimitOptions>;
  /** Default deadline for operations, ms. */
  operationTimeoutMs?: number;
}

export interface OperationOptions {
  signal?: AbortSignal;
  /** Deadline in ms for this operation (default: the node's operationTimeoutMs). */
  timeoutMs?: number;
}

export interface PutOptions extends OperationOptions {
  /** Lifetime in seconds (default 24 h, at most the network's maxTtlSeconds). */
  ttl?: number;
  /**
   * Who may delete the record: an Identity, or null for an unowned record nobody can delete.
   * Default: this node's identity.
   */
  owner?: Identity | null;
}

export interface DeleteOptions extends OperationOptions {
  /** The owner's identity (default: this node's). */
  owner?: Identity;
}

export interface PutResult {
  key: string;
  /** Nodes that confirmed the store (this one included when it is among the closest). */
  stored: number;
}

export interface FindValueResult {
  value: DHTValue | undefined;
  /** Sequential lookup rounds until the value arrived (0 when it was held locally). */
  hops: number;
  queried: number;
}

export interface DHTEvents extends Record<string, unknown> {
  'contact-added': ContactInfo;
  'contact-removed': ContactInfo;
  'contact-updated': ContactInfo;
  /** A record was stored here at another node's request. */
  stored: { key: string };
  /** A record held here was deleted by its owner. */
  deleted: { key: string };
  /** Every message sent or received (only computed while someone listens): the demo's log. */
  message: DHTMessageEvent;
}

export interface DHTMessageEvent {
  direction: 'in' | 'out';
  /** PING, NODES, STORE … */
  type: string;
  /** The peer's address, formatted by its transport. */
  peer: string;
  bytes: number;
}

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MessageType).map(([name, code]) => [code, name]));

export interface RoutingSnapshot {
  id: string;
  size: number;
  buckets: { index: number; contacts: ContactInfo[]; replacements: number }[];
}

/** A verified value returned by `get`. */
export class DHTValue {
  readonly key: string;
  readonly label: Uint8Array;
  readonly content: Uint8Array;
  readonly expiresAt: Date;
  /** Hex public key of the owner, when the record has one. */
  readonly owner: string | undefined;

  /** @internal */
  constructor(record: WireRecord) {
    this.key = toHex(record.key);
    this.label = record.label;
    this.content = record.content;
    this.expiresAt = new Date(record.expiresAt * 1000);
    this.owner = record.owner ? toHex(record.owner.publicKey) : undefined;
  }

  /** Content as UTF-8 text (throws TypeError if it is not valid UTF-8). */
  text(): string {
    return fromUtf8(this.content);
  }

  labelText(): string {
    return fromUtf8(this.label);
  }
}

export class DHT extends Emitter<DHTEvents> {
  readonly identity: Identity;
  readonly crypto: CryptoBackend;
  readonly config: NetworkConfig;
  readonly table: RoutingTable;
  readonly store: LocalStore;
  readonly rpc: Rpc;
  readonly clock: Clock;
  readonly k: number;
  readonly alpha: number;
  readonly client: boolean;
  readonly #timers: Timers;
  readonly #transports: Transport[];
  readonly #rules: RecordRules;
  readonly #solver: PowSolver;
  readonly #writeLimiter: RateLimiter;
  readonly #maintenance: Maintenance;
  readonly #counters: Record<string, number> = {};
  /** Controllers of the operations in flight, so close() can abort them. */
  readonly #operations = new Set<AbortController>();
  readonly #operationTimeoutMs: number;
  #bootstrap: PeerAddress[];
  /** Hex ID → clock ms when a lookup query to it timed out (see UNRESPONSIVE_MS). */
  readonly #unresponsive = new LruMap<string, number>(MAX_UNRESPONSIVE);
  /** Peers whose replies (to our requests) carried the BOOTSTRAP flag (hex IDs): last-choice relays. */
  readonly #servers = new LruMap<string, true>(MAX_KNOWN_SERVERS);
  /** Who answered our bootstrap pings: first signaling relays. */
  readonly #bootstrapPeers = new Map<string, RelayPeer>();
  readonly #signals: SignalRelay;
  /** Verified peers waiting for their transport to learn their IP (hex IDs), bounded. */
  readonly #awaitingIp = new Set<string>();
  /** PROXY operations running for clients (request keys), bounded. */
  readonly #proxying = new Set<string>();
  #closed = false;

  /** Creates a node, generating an identity (ID puzzle) when none is given. Call `bootstrap()` next. */
  static async create(options: DHTOptions): Promise<DHT> {
    const crypto = options.crypto ?? nobleCrypto;
    const config = networkConfig(crypto, options.network);
    const identity = options.identity ?? (await Identity.generate({ crypto, difficulty: config.idDifficulty }));
    return new DHT(options, crypto, config, identity);
  }

  private constructor(options: DHTOptions, crypto: CryptoBackend, config: NetworkConfig, identity: Identity) {
    super();
    if (!solvesIdPuzzle(crypto, identity.id, config.idDifficulty)) {
      throw SpydhtError.invalidArgument(`identity does not solve this network's ID puzzle (difficulty ${config.idDifficulty})`);
    }
    if (!options.transports?.length) throw SpydhtError.invalidArgument('at least one transport is required');
    this.identity = identity;
    this.crypto = crypto;
    this.config = config;
    this.clock = options.clock ?? realClock;
    this.k = options.k ?? 20;
    this.alpha = options.alpha ?? DEFAULT_ALPHA;
    this.client = options.client ?? false;
    this.#operationTimeoutMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    this.#timers = new Timers(this.clock);
    this.#transports = options.transports;
    this.#bootstrap = options.bootstrap ?? [];
    this.#rules = {
      networkId: config.networkId,
      powBaseBits: config.powBaseBits,
      maxTtlSeconds: config.maxTtlSeconds,
      maxSkewSeconds: config.maxSkewSeconds,
    };
    this.#solver = options.powSolver ?? inThreadPowSolver(crypto);
    this.#writeLimiter = new RateLimiter(
      { perKeyRate: 20, perKeyBurst: 40, globalRate: 1000, globalBurst: 2000, maxKeys: 4096 },
      () => this.clock.now(),
    );
    this.table = new RoutingTable({ localId: identity.id, k: this.k, maxPerIp: options.maxPerIp, now: () => this.clock.now() });
    this.store = new LocalStore(options.storage);
    this.rpc = new Rpc({
      identity,
      crypto,
      networkId: config.networkId,
      idDifficulty: config.idDifficulty,
      transports: options.transports,
      clock: this.clock,
      timers: this.#timers,
      client: this.client,
      bootstrapServer: options.bootstrapServer,
      rateLimit: options.rateLimit,
      onRequest: (req) => this.#onRequest(req),
      onVerifiedReply: (reply) => this.#onVerifiedReply(reply),
      // Before the caller resumes, so the relay already ranks a server last for the contacts it lists.
      onReply: (reply) => {
        this.#heardFrom(reply.message.senderId);
        if (reply.message.flags & Flags.BOOTSTRAP) this.#servers.set(idToHex(reply.message.senderId), true);
      },
      onTraffic: (e) => {
        if (this.listenerCount('message') === 0) return;
        this.emit('message', { direction: e.direction, type: TYPE_NAMES[e.type] ?? String(e.type), peer: this.rpc.format(e.peer), bytes: e.bytes });
      },
    });
    this.#signals = new SignalRelay({
      selfId: identity.id,
      rpc: this.rpc,
      table: this.table,
      bootstrapPeers: () => [...this.#bootstrapPeers.values()],
      isServer: (id) => this.#servers.has(idToHex(id)),
      count: (what) => this.#count(what),
    });
    for (const t of options.transports) {
      t.attachSignaling?.(this.#signals);
      t.onPeerGone = (address) => this.#peerGone(address);
    }
    this.table.on('added', (c) => {
      this.emit('contact-added', this.#info(c));
      this.#maintenance.contactAdded(c);
    });
    this.table.on('removed', (c) => this.emit('contact-removed', this.#info(c)));
    this.table.on('updated', (c) => this.emit('contact-updated', this.#info(c)));
    this.#maintenance = new Maintenance({
      dht: this,
      timers: this.#timers,
      random: (n) => crypto.randomBytes(n),
      hasBootstrap: () => this.#bootstrap.length > 0,
      rebootstrap: () => this.bootstrap().then(() => undefined),
      refresh: (target) => this.findNode(target).then(() => undefined),
      pingContact: (c) => this.#pingContact(c),
      republish: (record) => this.#replicate(record, undefined).then(() => undefined),
      storeAt: (contact, record) => this.#storeAt(this.#peerOf(contact), record, undefined).then(() => undefined),
      handshake: (id, address) =>
        this.rpc.request(address, { type: MessageType.PING, pad: 0 }, { expectId: id, attempts: 2 }).then(() => undefined),
    });
    this.#maintenance.start();
  }

  /** This node's ID, hex. */
  get id(): string {
    return idToHex(this.identity.id);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Counters for drops, retries and stores: every silent drop is counted here. Transport counters
   * follow under their transport's name, e.g. "webrtc.linksOpened", "udp.sent".
   */
  stats(): Record<string, number> {
    return {
      ...transportCounters(this.#transports),
      ...this.rpc.stats,
      ...this.#counters,
      contacts: this.table.size,
      records: this.store.size,
      storedBytes: this.store.bytes,
      pendingRequests: this.rpc.pendingCount,
    };
  }

  /** Addresses this node can be reached at, as far as its transports know. */
  localAddresses(): PeerAddress[] {
    return this.#transports.flatMap((t) => t.localAddresses());
  }

  /** Human-readable form of an address (e.g. "127.0.0.1:4000"). */
  formatAddress(addr: PeerAddress): string {
    return this.rpc.format(addr);
  }

  /**
   * Joins the network through `addresses` (default: the `bootstrap` option): pings them, then looks
   * up its own ID and fills the buckets beyond its closest neighbour. Resolves with the table size.
   */
  async bootstrap(addresses: PeerAddress[] = this.#bootstrap, options: OperationOptions = {}): Promise<number> {
    this.#assertOpen();
    if (addresses !== this.#bootstrap && addresses.length) this.#bootstrap = addresses;
    return this.#operation(options, async (signal) => {
      const pings = await Promise.allSettled(
        addresses.map(async (addr) => {
          const reply = await this.rpc.request(addr, { type: MessageType.PING, pad: 0 }, { attempts: 4, signal });
          this.#bootstrapPeers.set(addressKey(addr), { id: reply.message.senderId, address: addr });
        }),
      );
      const answered = pings.filter((p) => p.status === 'fulfilled').length;
      if (answered === 0 && this.table.size === 0) {
        throw new SpydhtError('BOOTSTRAP_FAILED', `no bootstrap node answered (${addresses.length} tried)`);
      }
      // On a lossy path every answer to the first lookup can be lost; a join that learned nothing
      // beyond its bootstrap nodes tries again rather than leaving the node nearly alone.
      let self = await this.#lookupNodes(this.identity.id, signal);
      for (let retry = 0; retry < JOIN_LOOKUP_RETRIES && self.closest.length <= answered; retry++) {
        self = await this.#lookupNodes(this.identity.id, signal);
      }
      // Kademlia's join: refresh every bucket nearer the root than our closest neighbour that is
      // less than half full, so the table covers the whole ID space from the start.
      const nearest = self.closest[0];
      const depth = nearest ? this.table.bucketIndex(nearest.id) : 0;
      const refreshes: Promise<unknown>[] = [];
      for (let i = 0; i < Math.min(depth, MAX_JOIN_REFRESHES); i++) {
        if (this.table.bucketSize(i) >= this.k / 2) continue;
        this.table.markRefreshed(i);
        const target = randomIdInBucket(this.identity.id, i, this.crypto.randomBytes(32));
        refreshes.push(this.#lookupNodes(target, signal, JOIN_REFRESH_K).catch(() => {}));
      }
      await Promise.all(refreshes);
      return this.table.size;
    });
  }

  /** Pings an address; resolves with the verified contact's ID (hex) and the round trip in ms. */
  async ping(address: PeerAddress, options: OperationOptions = {}): Promise<{ id: string; rtt: number }> {
    this.#assertOpen();
    return this.#operation(options, async (signal) => {
      const reply = await this.rpc.request(address, { type: MessageType.PING, pad: 0 }, { attempts: 3, signal });
      return { id: idToHex(reply.message.senderId), rtt: reply.rtt };
    });
  }

  /**
   * Stores an immutable value on the k nodes closest to its key and resolves with the key (hex).
   * Label and content may be text (UTF-8) or bytes; together at most 4096 bytes, label ≤ 255.
   */
  async put(label: string | Uint8Array, content: string | Uint8Array, options: PutOptions = {}): Promise<string> {
    return (await this.publish(label, content, options)).key;
  }

  /** Like `put`, also telling how many nodes confirmed the store. */
  async publish(label: string | Uint8Array, content: string | Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    this.#assertOpen();
    const labelBytes = asBytes(label, 'label');
    const contentBytes = asBytes(content, 'content');
    const ttl = options.ttl ?? Math.min(DEFAULT_TTL_SECONDS, this.config.maxTtlSeconds);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > this.config.maxTtlSeconds) {
      throw SpydhtError.invalidArgument(`ttl must be an integer from 1 to ${this.config.maxTtlSeconds} seconds`);
    }
    const owner = options.owner === undefined ? this.identity : options.owner ?? undefined;
    return this.#operation(options, async (signal) => {
      let record: WireRecord;
      try {
        record = await createRecord({
          crypto: this.crypto,
          rules: this.#rules,
          label: labelBytes,
          content: contentBytes,
          ttlSeconds: ttl,
          nowSeconds: this.#nowSeconds(),
          owner,
          solver: this.#solver,
          signal,
        });
      } catch (err) {
        if (err instanceof RangeError) throw SpydhtError.invalidArgument(err.message);
        throw err;
      }
      const stored = this.client && this.#bootstrapPeers.size > 0 ? await this.#proxyPut(record, signal) : 0;
      if (stored > 0) return { key: toHex(record.key), stored };
      return { key: toHex(record.key), stored: await this.#replicate(record, signal) };
    });
  }

  /** Finds a value by key (hex or bytes); resolves undefined when no node has it. Verified before returning. */
  async get(key: string | Uint8Array, options: OperationOptions = {}): Promise<DHTValue | undefined> {
    return (await this.findValue(key, options)).value;
  }

  /** Like `get`, also reporting lookup hops and queries. */
  async findValue(key: string | Uint8Array, options: OperationOptions = {}): Promise<FindValueResult> {
    this.#assertOpen();
    const keyBytes = asKey(key);
    const local = this.store.get(keyBytes, this.#nowSeconds());
    if (local && (await verifyRecordForKey(this.crypto, this.#rules, local, keyBytes, this.#nowSeconds()))) {
      return { value: new DHTValue(local), hops: 0, queried: 0 };
    }
    return this.#operation(options, async (signal) => {
      const result = await this.#lookup<WireRecord>(keyBytes, signal, (peer, onSlow, s) => this.#queryValue(peer, keyBytes, onSlow, s));
      let value = result.value;
      // A client may not reach the members that store the value (a UDP-only peer in a swarm of
      // WebRTC members): ask its bridges to look it up for it.
      if (!value && this.client) value = await this.#proxyGet(keyBytes, signal);
      return { value: value ? new DHTValue(value) : undefined, hops: result.hops, queried: result.queried };
    });
  }

  async #proxyGet(key: NodeId, signal: AbortSignal): Promise<WireRecord | undefined> {
    for (const bridge of this.#bootstrapPeers.values()) {
      for (let attempt = 0; attempt < 2; attempt++) {
        try {
          const reply = await this.rpc.request(
            bridge.address,
            { type: MessageType.FIND_VALUE, key, pad: 0 },
            { expectId: bridge.id, flags: Flags.PROXY, minTimeoutMs: PROXY_TIMEOUT_MS, attempts: 2, signal },
          );
          const m = reply.message;
          if (m.type === MessageType.VALUE && (await verifyRecordForKey(this.crypto, this.#rules, m.record, key, this.#nowSeconds()))) {
            return m.record;
          }
          if (m.type !== MessageType.NODES || !m.valueWithheld) break; // not found by this bridge
        } catch {
          break;
        }
      }
    }
    return undefined;
  }

  /** A client stores through a bridge, which replicates to the k closest members it can reach. */
  async #proxyPut(record: WireRecord, signal: AbortSignal): Promise<number> {
    for (const bridge of this.#bootstrapPeers.values()) {
      try {
        const reply = await this.rpc.request(
          bridge.address,
          { type: MessageType.STORE, record },
          { expectId: bridge.id, flags: Flags.PROXY, minTimeoutMs: PROXY_TIMEOUT_MS, attempts: 2, signal },
        );
        if (reply.message.type === MessageType.STORE_ACK && reply.message.status === StoreStatus.STORED) return 1;
      } catch {
        /* next bridge */
      }
    }
    return 0;
  }

  /** Serves a PROXY request: the whole get or put, for a client that cannot reach every member. */
  async #serveProxy(req: IncomingRequest): Promise<Body | undefined> {
    const m = req.message;
    if (this.client || this.#proxying.size >= MAX_PROXY_OPERATIONS) return undefined;
    // The client retransmits while we work: one operation per request, duplicates get no reply.
    const dedupe = `${addressKey(req.from)}/${toHex(m.requestId)}`;
    if (this.#proxying.has(dedupe)) return undefined;
    this.#proxying.add(dedupe);
    this.#count('proxied');
    try {
      if (m.type === MessageType.FIND_VALUE) {
        const key = m.key;
        const record =
          this.store.get(key, this.#nowSeconds()) ??
          (await this.#operation({ timeoutMs: PROXY_TIMEOUT_MS }, (signal) =>
            this.#lookup<WireRecord>(key, signal, (peer, onSlow, s) => this.#queryValue(peer, key, onSlow, s)),
          ).then((r) => r.value, () => undefined));
        if (record && req.tokenValid) return { type: MessageType.VALUE, record };
        return { type: MessageType.NODES, valueWithheld: record !== undefined, contacts: [] };
      }
      if (m.type === MessageType.STORE) {
        const check = await validateRecord(this.crypto, this.#rules, m.record, this.#nowSeconds());
        if (!check.ok) return { type: MessageType.STORE_ACK, status: StoreStatus.INVALID };
        const stored = await this.#operation({ timeoutMs: PROXY_TIMEOUT_MS }, (signal) => this.#replicate(m.record, signal)).catch(() => 0);
        return { type: MessageType.STORE_ACK, status: stored > 0 ? StoreStatus.STORED : StoreStatus.FULL };
      }
      return undefined;
    } finally {
      this.#proxying.delete(dedupe);
    }
  }

  /**
   * Deletes an owned record everywhere it is stored. The owner's signed delete leaves a tombstone,
   * so a stale copy cannot be stored again. Resolves with how many nodes accepted the delete.
   */
  async delete(key: string | Uint8Array, options: DeleteOptions = {}): Promise<number> {
    this.#assertOpen();
    const keyBytes = asKey(key);
    const owner = options.owner ?? this.identity;
    const held = this.store.entry(keyBytes)?.record;
    if (held && (!held.owner || !equalIds(held.owner.publicKey, owner.publicKey))) {
      throw new SpydhtError('NOT_OWNER', 'this identity does not own that record');
    }
    return this.#operation(options, async (signal) => {
      const proof = await createDeleteProof(this.#rules, owner, keyBytes, this.#nowSeconds());
      let accepted = 0;
      let deleted = 0;
      let notOwner = 0;
      if (!this.client) {
        const local = this.store.delete(proof, proof.issuedAt + this.config.maxTtlSeconds + this.config.maxSkewSeconds);
        if (local === DeleteStatus.DELETED) {
          accepted++;
          deleted++;
        }
      }
      const closest = await this.#lookupNodes(keyBytes, signal);
      await Promise.all(
        closest.closest.map(async (peer) => {
          try {
            const reply = await this.rpc.request(peer.address, { type: MessageType.DELETE, proof }, { expectId: peer.id, attempts: 3, signal });
            if (reply.message.type !== MessageType.DELETE_ACK) return;
            if (reply.message.status === DeleteStatus.DELETED || reply.message.status === DeleteStatus.NOT_HELD) accepted++;
            if (reply.message.status === DeleteStatus.DELETED) deleted++;
            if (reply.message.status === DeleteStatus.NOT_OWNER) notOwner++;
          } catch {
            /* unreachable peers simply do not count */
          }
        }),
      );
      // Holders that refuse prove the record exists under another owner; nodes that merely do not
      // hold it (and only keep a tombstone) must not turn a non-owner's delete into a "success".
      if (deleted === 0 && notOwner > 0) throw new SpydhtError('NOT_OWNER', 'this identity does not own that record');
      return accepted;
    });
  }

  /** The k closest nodes to `target` that answered, closest first. */
  async findNode(target: string | Uint8Array, options: OperationOptions = {}): Promise<ContactInfo[]> {
    this.#assertOpen();
    const t = asKey(target);
    return this.#operation(options, async (signal) => {
      const result = await this.#lookupNodes(t, signal);
      return result.closest.map((p) => ({
        id: idToHex(p.id),
        address: this.rpc.format(p.address),
        transport: p.address.kind,
        ip: this.rpc.ipOf(p.address) ?? '',
        rtt: this.rpc.rtt.srtt(addressKey(p.address)) ?? null,
        lastSeen: this.table.get(p.id)?.lastSeen ?? 0,
      }));
    });
  }

  /** The routing table as the demo page draws it. */
  snapshot(): RoutingSnapshot {
    return {
      id: this.id,
      size: this.table.size,
      buckets: this.table.snapshot().map((b: BucketSnapshot) => ({
        index: b.index,
        contacts: b.contacts.map((c) => this.#info(c)),
        replacements: b.replacements,
      })),
    };
  }

  /** Stops everything: timers, pending requests, transports. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Operations in flight end with CLOSED instead of finishing against a dead node (a put would
    // otherwise "succeed" with only its local copy, a get report "not found").
    for (const c of [...this.#operations]) c.abort(SpydhtError.closed());
    this.#timers.close();
    this.rpc.close();
    for (const t of this.#transports) t.onPeerGone = undefined;
    await Promise.all(this.#transports.map((t) => t.close().catch(() => {})));
    this.removeAllListeners();
  }

  // --- internals --------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closed) throw SpydhtError.closed();
  }

  #nowSeconds(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  #count(what: string): void {
    this.#counters[what] = (this.#counters[what] ?? 0) + 1;
  }

  /** Runs `fn` with one signal that fires on the caller's abort, the deadline, or close(). */
  async #operation<T>(options: OperationOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const controller = new AbortController();
    const outer = options.signal;
    if (outer?.aborted) throw SpydhtError.aborted(outer.reason);
    this.#assertOpen();
    this.#operations.add(controller);
    const unwatch = outer ? onAbort(outer, () => controller.abort(outer.reason)) : () => {};
    let timedOut = false;
    const cancel = this.#timers.after(options.timeoutMs ?? this.#operationTimeoutMs, () => {
      timedOut = true;
      controller.abort(SpydhtError.deadline());
    });
    try {
      return await fn(controller.signal);
    } catch (err) {
      if (timedOut) throw SpydhtError.deadline();
      if (this.#closed) throw SpydhtError.closed();
      throw err;
    } finally {
      this.#operations.delete(controller);
      cancel();
      unwatch();
    }
  }

  #info(c: Contact): ContactInfo {
    return {
      id: idToHex(c.id),
      address: this.rpc.format(c.address),
      transport: c.address.kind,
      ip: c.ip,
      rtt: c.rtt ?? null,
      lastSeen: c.lastSeen,
    };
  }

  #peerOf(c: Contact): LookupPeer {
    return { id: c.id, address: c.address, addresses: c.addresses };
  }

  /** Only verified round trips from non-clients reach here: the one way into the routing table. */
  #onVerifiedReply(reply: Reply, retried = false): void {
    if (this.#closed) return;
    const id = reply.message.senderId;
    const ip = this.rpc.ipOf(reply.from);
    if (ip === undefined) {
      // A link whose transport has not learned the peer's IP yet (WebRTC before ICE stats): try
      // once more a little later rather than admit a contact the per-IP limit cannot count.
      if (!retried && this.#awaitingIp.size < MAX_AWAITING_IP) {
        const key = idToHex(id);
        if (!this.#awaitingIp.has(key)) {
          this.#awaitingIp.add(key);
          this.#timers.after(IP_RETRY_DELAY_MS, () => {
            this.#awaitingIp.delete(key);
            this.#onVerifiedReply(reply, true);
          });
        }
        return;
      }
      return this.#count('unadmittedNoIp');
    }
    const now = this.clock.now();
    const result = this.table.insert({
      id,
      address: reply.from,
      addresses: advertisedAddresses(reply.message.flags, id, reply.from),
      ip,
      rtt: this.rpc.rtt.srtt(addressKey(reply.from)),
      lastSeen: now,
      addedAt: now,
      failures: 0,
    });
    if (result.status === 'full') this.#maintenance.bucketFull(result.stale);
    else if (result.status === 'ip-limit') this.#count('ipLimited');
  }

  async #onRequest(req: IncomingRequest): Promise<Body | undefined> {
    if (this.#closed) return undefined;
    const m = req.message;
    // A node that asks us something is a routing candidate, but only after our own signed round trip.
    if (!(m.flags & Flags.CLIENT)) this.#maintenance.sawRequest(m.senderId, req.from);
    this.#heardFrom(m.senderId);
    if (m.type === MessageType.SIGNAL) return this.#signals.handle(m, this.#knownPeer(m.senderId, req.from));
    if (m.flags & Flags.PROXY) return this.#serveProxy(req);
    return serveRequest(
      {
        crypto: this.crypto,
        config: this.config,
        rules: this.#rules,
        table: this.table,
        store: this.store,
        writeLimiter: this.#writeLimiter,
        ipOf: (a) => this.rpc.ipOf(a),
        nowMs: () => this.clock.now(),
        republishAt: () => this.#maintenance.nextRepublishAt(),
        count: (what) => this.#count(what),
        onStored: (key) => this.emit('stored', { key: toHex(key) }),
        onDeleted: (key) => this.emit('deleted', { key: toHex(key) }),
      },
      req,
    );
  }

  /** A transport knows this peer left for good: drop it now (a replacement may take its place). */
  #peerGone(address: PeerAddress): void {
    if (this.#closed) return;
    const contact = this.table.all().find((c) => sameAddress(c.address, address));
    if (contact && this.table.remove(contact.id)) this.#count('contactsGone');
  }

  /** The sender as a relay, if it is a verified contact or a bootstrap peer at this very address. */
  #knownPeer(id: NodeId, address: PeerAddress): RelayPeer | undefined {
    const contact = this.table.get(id);
    if (contact && sameAddress(contact.address, address)) return { id: contact.id, address: contact.address };
    const boot = this.#bootstrapPeers.get(addressKey(address));
    return boot && equalIds(boot.id, id) ? boot : undefined;
  }

  async #pingContact(c: Contact): Promise<boolean> {
    try {
      await this.rpc.request(c.address, { type: MessageType.PING, pad: 0 }, { expectId: c.id, attempts: 3 });
      this.table.touch(c.id);
      return true;
    } catch {
      return false;
    }
  }

  /** A verified contact from a lookup answer we can actually reach. */
  #accept = (contact: WireContact, from: LookupPeer): LookupPeer | undefined => {
    if (equalIds(contact.id, this.identity.id)) return undefined;
    // One hash weeds out IDs that do not solve the puzzle before we spend a datagram on them.
    if (!solvesIdPuzzle(this.crypto, contact.id, this.config.idDifficulty)) {
      this.#count('droppedBadContact');
      return undefined;
    }
    const address = contact.addresses.find((a) => this.rpc.canReach(a));
    if (!address) return undefined;
    if (this.#isUnresponsive(contact.id)) {
      this.#count('skippedUnresponsive');
      return undefined;
    }
    // `from` has this contact in its table: it can relay our signaling to it.
    if (address.kind === AddressKind.WEBRTC) this.#signals.hint(contact.id, { id: from.id, address: from.address });
    return { id: contact.id, address, addresses: contact.addresses };
  };

  #seeds(target: NodeId): LookupPeer[] {
    const closest = this.table.closest(target, this.k);
    const live = closest.filter((c) => !this.#isUnresponsive(c.id));
    // Everyone timed out lately (our own network blinked?): try them anyway rather than not at all.
    return (live.length > 0 ? live : closest).map((c) => this.#peerOf(c));
  }

  /** Every request and reply passes here: no hex conversion unless some peer is marked. */
  #heardFrom(id: NodeId): void {
    if (this.#unresponsive.size > 0) this.#unresponsive.delete(idToHex(id));
  }

  #isUnresponsive(id: NodeId): boolean {
    const hex = idToHex(id);
    const at = this.#unresponsive.peek(hex);
    if (at === undefined) return false;
    if (this.clock.now() - at < UNRESPONSIVE_MS) return true;
    this.#unresponsive.delete(hex);
    return false;
  }

  #lookup<V>(
    target: NodeId,
    signal: AbortSignal,
    query: (peer: LookupPeer, onSlow: () => void, signal: AbortSignal) => Promise<QueryOutcome<V>>,
    k = this.k,
  ): Promise<LookupResult<V>> {
    return lookup<V>({
      target,
      selfId: this.identity.id,
      k,
      alpha: this.alpha,
      seeds: this.#seeds(target),
      query: async (peer, onSlow, s) => {
        try {
          return await query(peer, onSlow, s);
        } catch (err) {
          if (!s.aborted && this.table.fail(peer.id) >= MAX_FAILURES) this.table.remove(peer.id);
          if (!s.aborted && isSpydhtError(err, 'REQUEST_TIMEOUT')) this.#unresponsive.set(idToHex(peer.id), this.clock.now());
          throw err;
        }
      },
      accept: this.#accept,
      signal,
    });
  }

  /** `k` below the bucket size makes a cheaper lookup that still lands among nodes near the target. */
  #lookupNodes(target: NodeId, signal: AbortSignal, k = this.k): Promise<LookupResult<never>> {
    return this.#lookup<never>(
      target,
      signal,
      async (peer, onSlow, s) => {
        const reply = await this.rpc.request(peer.address, { type: MessageType.FIND_NODE, target, pad: 0 }, { expectId: peer.id, onSlow, signal: s });
        if (reply.message.type !== MessageType.NODES) throw SpydhtError.decode('unexpected reply');
        return { contacts: reply.message.contacts };
      },
      k,
    );
  }

  async #queryValue(peer: LookupPeer, key: NodeId, onSlow: () => void, signal: AbortSignal): Promise<QueryOutcome<WireRecord>> {
    // A peer withholds a value from an unproven address; its reply carried a token, so ask once more.
    for (let attempt = 0; attempt < 2; attempt++) {
      const reply = await this.rpc.request(peer.address, { type: MessageType.FIND_VALUE, key, pad: 0 }, { expectId: peer.id, onSlow, signal });
      const m = reply.message;
      if (m.type === MessageType.VALUE) {
        if (await verifyRecordForKey(this.crypto, this.#rules, m.record, key, this.#nowSeconds())) return { contacts: [], value: m.record };
        this.#count('droppedBadValue');
        throw SpydhtError.invalidRecord('peer returned a value that does not verify');
      }
      if (m.type !== MessageType.NODES) throw SpydhtError.decode('unexpected reply');
      if (!m.valueWithheld || attempt === 1) return { contacts: m.contacts };
    }
    return { contacts: [] };
  }

  /** Stores a record on the k closest nodes (and here, when this node is among them). */
  async #replicate(record: WireRecord, signal: AbortSignal | undefined): Promise<number> {
    const s = signal ?? new AbortController().signal;
    const result = await this.#lookupNodes(record.key, s);
    let stored = 0;
    let full = 0;
    let deleted = 0;
    const farthest = result.closest[this.k - 1];
    const selfAmongClosest = !this.client && (!farthest || compareDistance(this.identity.id, farthest.id, record.key) < 0);
    let targets = result.closest;
    if (selfAmongClosest) {
      const status = this.store.put(record, this.clock.now(), this.#maintenance.nextRepublishAt());
      if (status === StoreStatus.STORED || status === StoreStatus.ALREADY_HELD) {
        stored++;
        // This node is one of the k closest: the k-th peer found is the (k+1)-th, not a replica.
        targets = result.closest.slice(0, this.k - 1);
      }
    }
    await Promise.all(
      targets.map(async (peer) => {
        const status = await this.#storeAt(peer, record, signal);
        if (status === StoreStatus.STORED || status === StoreStatus.ALREADY_HELD) stored++;
        else if (status === StoreStatus.FULL) full++;
        else if (status === StoreStatus.DELETED) deleted++;
      }),
    );
    if (stored === 0) {
      if (deleted > 0) throw new SpydhtError('NOT_STORED', 'the owner deleted this record; its tombstone refuses it');
      if (full > 0) throw new SpydhtError('STORAGE_FULL', `every node asked (${full}) is full`);
      if (result.closest.length === 0) throw new SpydhtError('NO_CONTACTS', 'no node to store on: bootstrap first');
      throw new SpydhtError('NOT_STORED', `none of ${result.closest.length} nodes confirmed the store`);
    }
    return stored;
  }

  async #storeAt(peer: LookupPeer, record: WireRecord, signal: AbortSignal | undefined): Promise<number | undefined> {
    try {
      const reply = await this.rpc.request(peer.address, { type: MessageType.STORE, record }, { expectId: peer.id, attempts: 3, signal });
      return reply.message.type === MessageType.STORE_ACK ? reply.message.status : undefined;
    } catch {
      return undefined;
    }
  }
}

/**
 * Where other nodes can reach a contact, from the SPEAKS_* flags it sent: the observed source
 * address when it speaks UDP and the datagram came over UDP, and its ID when it speaks WebRTC.
 * A link only we can use (the WebSocket to the bootstrap server) is never advertised.
 */
function advertisedAddresses(flags: number, id: NodeId, from: PeerAddress): PeerAddress[] {
  const out: PeerAddress[] = [];
  if (flags & Flags.SPEAKS_UDP && speaksFlagOf(from.kind) === Flags.SPEAKS_UDP) out.push(from);
  if (flags & Flags.SPEAKS_WEBRTC) out.push({ kind: AddressKind.WEBRTC, data: id });
  return out;
}

function asBytes(value: string | Uint8Array, what: string): Uint8Array {
  if (typeof value === 'string') return utf8(value);
  if (value instanceof Uint8Array) return value;
  throw SpydhtError.invalidArgument(`${what} must be a string or a Uint8Array`);
}

function asKey(key: string | Uint8Array): NodeId {
  if (isId(key)) return key;
  if (typeof key === 'string' && /^[0-9a-fA-F]{64}$/.test(key)) return idFromHex(key);
  throw SpydhtError.invalidArgument('a key is 64 hex digits or 32 bytes');
}

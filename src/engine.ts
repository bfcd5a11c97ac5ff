/**
 * Builds a node's parts once and wires them, in one style: each part gets an options object with
 * the parts it needs and named callbacks, never a reference back to the DHT. The engine also owns
 * the request switchboard (which part answers which request) and close().
 *
 *   transports → Rpc → (requests) → Admission, SignalRelay, ProxyServer, Responder
 *                    → (verified replies) → Admission → RoutingTable
 *   operations (ops/) → Lookups → Rpc
 */
import { toHex } from './bytes.js';
import { Timers, type Clock } from './clock.js';
import type { CryptoBackend } from './crypto/backend.js';
import type { Identity } from './crypto/identity.js';
import { inThreadPowSolver, type PowSolver } from './crypto/pow.js';
import { idToHex, type NodeId } from './id.js';
import { Lookups, peerOf } from './lookup/lookups.js';
import { Maintenance } from './maintenance.js';
import type { NetworkConfig } from './network.js';
import type { OpContext } from './ops/context.js';
import { join } from './ops/join.js';
import { Operations } from './ops/operations.js';
import { storeMutableAt, storeOnClosest } from './ops/mutable.js';
import { replicate, storeAt } from './ops/put.js';
import { ProxyServer } from './relay/proxy.js';
import { SignalRelay } from './relay/signal-relay.js';
import { RequestLimits, type LimitOverrides } from './rpc/limits.js';
import { Rpc, type IncomingRequest, type TrafficEvent } from './rpc/rpc.js';
import { Admission } from './routing/admission.js';
import { spokenTransports, type Contact, type ContactInfo } from './routing/contact.js';
import { KnownPeers, type RelayPeer } from './routing/known-peers.js';
import { DEFAULT_MAX_PER_IP, RoutingTable } from './routing/table.js';
import { Responder } from './serve.js';
import { MutableResponder } from './serve-mutable.js';
import { MutableStore } from './storage/mutable-store.js';
import type { RecordRules } from './storage/record.js';
import { replicaLocations, responsibleLocations } from './storage/placement.js';
import { LocalStore, type LocalStoreOptions } from './storage/store.js';
import type { Transport } from './transport/transport.js';
import { sameAddress, type PeerAddress } from './wire/address.js';
import { Flags, MessageType, type Body } from './wire/messages.js';

export const DEFAULT_K = 20;
export const DEFAULT_ALPHA = 3;
/** Default deadline of one put/get/delete/lookup. */
export const DEFAULT_OPERATION_TIMEOUT_MS = 30_000;

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MessageType).map(([name, code]) => [code, name]));

/** Every event a node emits, and what it carries. */
export interface DHTEvents {
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

export interface EngineInit {
  identity: Identity;
  crypto: CryptoBackend;
  config: NetworkConfig;
  transports: Transport[];
  bootstrap: PeerAddress[];
  clock: Clock;
  k: number;
  alpha: number;
  client: boolean;
  bootstrapServer: boolean;
  maxPerIp: number | undefined;
  maxPerPrefix: number | undefined;
  storage: LocalStoreOptions | undefined;
  limits: LimitOverrides | undefined;
  powSolver: PowSolver | undefined;
  operationTimeoutMs: number;
  emit: <K extends keyof DHTEvents>(event: K, payload: DHTEvents[K]) => void;
  listens: (event: keyof DHTEvents) => boolean;
}

export class Engine implements OpContext {
  readonly identity: Identity;
  readonly crypto: CryptoBackend;
  readonly config: NetworkConfig;
  readonly rules: RecordRules;
  readonly clock: Clock;
  readonly k: number;
  readonly client: boolean;
  readonly timers: Timers;
  readonly transports: readonly Transport[];
  readonly rpc: Rpc;
  readonly table: RoutingTable;
  readonly store: LocalStore;
  readonly mutableStore: MutableStore;
  readonly lookups: Lookups;
  readonly peers = new KnownPeers();
  readonly admission: Admission;
  readonly solver: PowSolver;
  readonly operations: Operations;
  readonly counters: Record<string, number> = {};
  /** Where join() and re-bootstrapping go (replaced by an explicit bootstrap(addresses)). */
  bootstrapAddresses: PeerAddress[];
  readonly #signals: SignalRelay;
  readonly #proxy: ProxyServer;
  readonly #responder: Responder;
  readonly #mutableResponder: MutableResponder;
  readonly #maintenance: Maintenance;
  readonly #emit: EngineInit['emit'];
  readonly #listens: EngineInit['listens'];

  constructor(init: EngineInit) {
    const { identity, crypto, config, clock } = init;
    this.identity = identity;
    this.crypto = crypto;
    this.config = config;
    this.clock = clock;
    this.k = init.k;
    this.client = init.client;
    this.transports = init.transports;
    this.bootstrapAddresses = init.bootstrap;
    this.#emit = init.emit;
    this.#listens = init.listens;
    this.rules = { networkId: config.networkId, powBaseBits: config.powBaseBits, maxTtlSeconds: config.maxTtlSeconds, maxSkewSeconds: config.maxSkewSeconds };
    this.timers = new Timers(clock);
    this.operations = new Operations(this.timers, init.operationTimeoutMs);
    this.solver = init.powSolver ?? inThreadPowSolver(crypto);
    const count = (what: string): void => this.count(what);
    const random = (): number => new DataView(crypto.randomBytes(4).buffer).getUint32(0) / 2 ** 32;
    // Nodes per IP the table allows, in default-sized shares: each gets its own crypto budget.
    const nodesPerIp = Math.max(1, (init.maxPerIp ?? DEFAULT_MAX_PER_IP) / DEFAULT_MAX_PER_IP);
    const limits = new RequestLimits(init.limits, () => clock.now(), nodesPerIp);

    this.table = new RoutingTable({ localId: identity.id, k: this.k, maxPerIp: init.maxPerIp, ...prefixLimits(init), now: () => clock.now() });
    this.store = new LocalStore(init.storage, {
      tombstoneSeconds: config.maxTtlSeconds + config.maxSkewSeconds,
      random,
      localId: identity.id,
      locate: (key) => replicaLocations(crypto, key),
      count,
    });
    this.mutableStore = new MutableStore(init.storage, this.store, { random, locate: (key) => replicaLocations(crypto, key) });
    this.store.shareBoundsWith(this.mutableStore);
    this.rpc = new Rpc({
      identity,
      crypto,
      networkId: config.networkId,
      idDifficulty: config.idDifficulty,
      transports: init.transports,
      clock,
      timers: this.timers,
      limits,
      client: init.client,
      bootstrapServer: init.bootstrapServer,
      onRequest: (req) => this.#onRequest(req),
      admits: (message, from) => this.admission.wouldAdmit(message, from),
      wantsProof: (id) => this.table.wouldKeep(id),
      onVerifiedReply: (reply) => this.admission.admit(reply),
      onHello: (hello) => this.admission.admit(hello),
      // Before the caller resumes, so the relay already ranks a server last for the contacts it lists.
      onReply: (reply) => {
        this.lookups.heardFrom(reply.message.senderId);
        if (reply.message.flags & Flags.BOOTSTRAP) this.peers.noteBootstrapServer(reply.message.senderId);
      },
      onTraffic: (e) => this.#onTraffic(e),
    });
    this.admission = new Admission({ rpc: this.rpc, table: this.table, clock, client: init.client, count });
    this.#signals = new SignalRelay({ selfId: identity.id, rpc: this.rpc, table: this.table, peers: this.peers, count, now: () => clock.now() });
    this.lookups = new Lookups({
      selfId: identity.id,
      crypto,
      idDifficulty: config.idDifficulty,
      k: this.k,
      alpha: init.alpha,
      rpc: this.rpc,
      table: this.table,
      clock,
      count,
      onListed: (id, by) => this.#signals.hint(id, { id: by.id, address: by.address }),
    });
    this.#responder = new Responder({
      crypto,
      rules: this.rules,
      rpc: this.rpc,
      table: this.table,
      store: this.store,
      limits,
      clock,
      count,
      onStored: (key) => this.#emit('stored', { key: toHex(key) }),
      onDeleted: (key) => this.#emit('deleted', { key: toHex(key) }),
    });
    this.#mutableResponder = new MutableResponder({
      crypto,
      rules: this.rules,
      store: this.mutableStore,
      limits,
      clock,
      count,
      responsible: (key) => responsibleLocations(crypto, this.table, key).length > 0,
      contactsFor: (target, req, budget) => this.#responder.contactsFor(target, req, budget),
      onStored: (key) => this.#emit('stored', { key: toHex(key) }),
      onDeleted: (key) => this.#emit('deleted', { key: toHex(key) }),
    });
    this.#proxy = new ProxyServer(this, (options, fn) => this.operations.run(options, fn), limits);
    this.#maintenance = new Maintenance({
      selfId: identity.id,
      k: this.k,
      client: init.client,
      clock,
      timers: this.timers,
      table: this.table,
      store: this.store,
      admission: this.admission,
      random,
      isClosed: () => this.operations.closed,
      hasBootstrap: () => this.bootstrapAddresses.length > 0,
      rebootstrap: () => this.operations.run({}, (signal) => join(this, this.bootstrapAddresses, signal)),
      refresh: (target) => this.operations.run({}, (signal) => this.lookups.nodes(target, signal)),
      // A holder re-stores at the locations it serves, so each location keeps itself alive on its own.
      republish: (record) => this.operations.run({}, (signal) => replicate(this, record, signal, this.#republishLocations(record.key))),
      storeAt: (contact, record) => storeAt(this, peerOf(contact), record),
      mutable: {
        store: this.mutableStore,
        // As for immutable records: each holder re-stores at the locations it serves.
        republish: (record) => this.operations.run({}, (signal) => storeOnClosest(this, record, undefined, signal, this.#republishLocations(record.key))),
        storeAt: (contact, record) => storeMutableAt(this, peerOf(contact), record, undefined),
      },
    });

    for (const t of init.transports) {
      t.attachSignaling?.(this.#signals);
      t.onPeerGone = (address) => this.#peerGone(address);
    }
    // A contact's description formats its ID and address: built only when someone listens (a join
    // adds dozens of contacts, each a few hex and address strings nobody would read).
    const emitContact = (event: 'contact-added' | 'contact-removed' | 'contact-updated', c: Contact): void => {
      if (this.#listens(event)) this.#emit(event, this.contactInfo(c));
    };
    this.table.on('added', (c) => {
      emitContact('contact-added', c);
      this.#maintenance.contactAdded(c);
    });
    this.table.on('removed', (c) => emitContact('contact-removed', c));
    this.table.on('updated', (c) => emitContact('contact-updated', c));
    this.#maintenance.start();
  }

  #republishLocations(key: Uint8Array): NodeId[] | undefined {
    const mine = responsibleLocations(this.crypto, this.table, key);
    return mine.length > 0 ? mine : undefined;
  }

  count(what: string): void {
    this.counters[what] = (this.counters[what] ?? 0) + 1;
  }

  contactInfo(c: Contact): ContactInfo {
    return {
      id: idToHex(c.id),
      address: this.rpc.format(c.address),
      // A contact was verified over one of our transports, so one has its address kind.
      transport: this.transports.find((t) => t.kind === c.address.kind)!.name,
      speaks: spokenTransports(c.flags),
      bootstrapServer: this.peers.isBootstrapServer(c.id),
      ip: c.ip,
      rtt: c.rtt ?? null,
      lastSeen: c.lastSeen,
    };
  }

  /** Stops timers, operations, pending requests and transports. */
  async close(): Promise<void> {
    // Operations in flight end with CLOSED instead of finishing against a dead node.
    this.operations.close();
    this.admission.close();
    this.timers.close();
    this.rpc.close();
    for (const t of this.transports) t.onPeerGone = undefined;
    await Promise.all(this.transports.map((t) => t.close().catch(() => {})));
  }

  /** The request switchboard: every request from a peer lands here once. */
  async #onRequest(req: IncomingRequest): Promise<Body | undefined> {
    if (this.operations.closed) return undefined;
    const m = req.message;
    // A node that asks us something is a routing candidate, but only after our own signed round trip.
    if (!(m.flags & Flags.CLIENT)) this.admission.sawRequest(m.senderId, req.from, req.tokenValid);
    this.lookups.heardFrom(m.senderId);
    if (m.type === MessageType.SIGNAL) return this.#signals.handle(m, { address: req.from, ip: req.ip }, this.#knownPeer(m.senderId, req.from));
    if (m.flags & Flags.PROXY) return this.#proxy.serve(req);
    if (m.type === MessageType.FIND_MUTABLE || m.type === MessageType.STORE_MUTABLE) return this.#mutableResponder.respond(req);
    return this.#responder.respond(req);
  }

  #onTraffic(e: TrafficEvent): void {
    if (!this.#listens('message')) return;
    this.#emit('message', { direction: e.direction, type: TYPE_NAMES[e.type] ?? String(e.type), peer: this.rpc.format(e.peer), bytes: e.bytes });
  }

  /** A transport knows this peer left for good: drop it now (a replacement may take its place). */
  #peerGone(address: PeerAddress): void {
    if (this.operations.closed) return;
    const contact = this.table.all().find((c) => sameAddress(c.address, address));
    // It left for good; if it comes back (a reloaded tab, same ID), it finds room and HELLOs at once.
    if (contact && this.table.remove(contact.id)) this.count('contactsGone');
  }

  /** The sender as a relay, if it is a verified contact or an entry peer at this very address. */
  #knownPeer(id: NodeId, address: PeerAddress): RelayPeer | undefined {
    const contact = this.table.get(id);
    if (contact && sameAddress(contact.address, address)) return { id: contact.id, address: contact.address };
    return this.peers.entryPeerAt(id, address);
  }
}

/** The table's per-prefix bounds: the /48 bound follows a /64 bound the user set. */
function prefixLimits(init: EngineInit): { maxPerPrefix?: number; maxPerWidePrefix?: number } {
  return init.maxPerPrefix === undefined ? {} : { maxPerPrefix: init.maxPerPrefix, maxPerWidePrefix: 2 * init.maxPerPrefix };
}

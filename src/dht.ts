/**
 * The spydht node: a thin facade over the engine (engine.ts builds the parts) and the operations
 * (ops/): options, the promise-based API (bootstrap, put, get, delete, findNode …), events and
 * read-only views. It never asks which environment it runs in: transports and the crypto backend
 * are given to it.
 */
import { toHex, utf8 } from './bytes.js';
import { realClock, type Clock } from './clock.js';
import type { CryptoBackend } from './crypto/backend.js';
import { Identity, solvesIdPuzzle } from './crypto/identity.js';
import { nobleCrypto } from './crypto/noble.js';
import type { PowSolver } from './crypto/pow.js';
import { Engine, DEFAULT_ALPHA, DEFAULT_K, DEFAULT_OPERATION_TIMEOUT_MS, type DHTEvents } from './engine.js';
import { SpydhtError } from './errors.js';
import { Emitter } from './events.js';
import { idToHex } from './id.js';
import { networkConfig, type NetworkConfig, type NetworkOptions } from './network.js';
import { deleteEverywhere } from './ops/delete.js';
import { findValue, localValue } from './ops/get.js';
import { join } from './ops/join.js';
import type { OperationOptions } from './ops/operations.js';
import { MAX_SAVED_CONTACTS, parseSavedContacts, selectContacts, toSaved, type ParsedContact, type SavedContact } from './ops/saved-contacts.js';
import { getMutable, putMutable } from './ops/mutable.js';
import { publish } from './ops/put.js';
import type { LimitOverrides } from './rpc/limits.js';
import type { ContactInfo } from './routing/contact.js';
import type { LocalStoreOptions } from './storage/store.js';
import { toPeerAddress, transportCounters, type AddressInput, type Transport } from './transport/transport.js';
import type { DHTStats } from './stats.js';
import { mutableKey } from './storage/mutable-record.js';
import { DHTValue, MutableValue, asKey, routingView, storageView, type RoutingView, type StorageView } from './views.js';
import { peerKey, type PeerAddress } from './wire/address.js';
import { MessageType } from './wire/messages.js';
import { MAX_SALT_BYTES, MAX_SEQ } from './wire/mutable.js';

export { DEFAULT_ALPHA, DEFAULT_K, DEFAULT_OPERATION_TIMEOUT_MS, DHTValue, MutableValue, MAX_SALT_BYTES, MAX_SEQ };
export type { DHTEvents, DHTMessageEvent } from './engine.js';
export type { OperationOptions } from './ops/operations.js';
export type { RoutingView, StorageView } from './views.js';
export type { DHTStats, DHTCounterName, TransportCounterKey } from './stats.js';
export type { AddressInput } from './transport/transport.js';
export type { SavedAddress, SavedContact } from './ops/saved-contacts.js';
export { MAX_SAVED_CONTACTS };

/** Default lifetime of a put, seconds (capped by the network's maxTtlSeconds). */
export const DEFAULT_TTL_SECONDS = 24 * 3600;

export interface DHTOptions {
  /** Datagram transports this node speaks (UDP, simulated, WebRTC …). */
  transports: Transport[];
  /** Crypto implementation; defaults to @noble (works everywhere). */
  crypto?: CryptoBackend;
  /** This node's key pair; generated (solving the ID puzzle) when omitted. */
  identity?: Identity;
  network?: NetworkOptions;
  /** Nodes to join through: "ip:port" / "[ipv6]:port" text, or `PeerAddress`es (e.g. from `localAddresses()`). */
  bootstrap?: readonly AddressInput[];
  /**
   * Contacts saved by `exportContacts()` in an earlier run: joining pings them first and, when some
   * answer, does not wait for `bootstrap` (which may be down). Each enters the routing table only
   * through a verified reply; contacts on transports this node lacks are skipped. A malformed list
   * throws INVALID_ARGUMENT.
   */
  contacts?: readonly SavedContact[];
  /** Time source; tests pass a virtual clock. */
  clock?: Clock;
  k?: number;
  alpha?: number;
  /** Per-IP limit of routing-table entries (default 2). */
  maxPerIp?: number;
  /**
   * Routing-table entries per IPv4 /24 or IPv6 /64 (default max(4, 2 × maxPerIp); an IPv6 /48 gets
   * twice this). Raise it for a swarm on one private network, where every member shares a /24.
   */
  maxPerPrefix?: number;
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
  /** Inbound rate limits per IP (requests, and STORE/DELETE writes); see DEFAULT_LIMITS. */
  limits?: LimitOverrides;
  /** Default deadline for operations, ms. */
  operationTimeoutMs?: number;
}

export interface ExportContactsOptions {
  /** At most this many (default and ceiling: MAX_SAVED_CONTACTS, 64). */
  max?: number;
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
  /**
   * Distinct nodes that confirmed the store, over all the key's replica locations (this one
   * included when it is a holder). A put succeeds only when more than one did (or every node of a
   * swarm of one or two): one ack may come from a node that drops the record.
   */
  stored: number;
  /** Distinct IP prefixes (/24 IPv4, /64 IPv6) among those nodes. */
  prefixes: number;
}

export interface FindValueResult {
  value: DHTValue | undefined;
  /** Sequential lookup rounds until the value arrived (0 when it was held locally). */
  hops: number;
  queried: number;
}

export interface PutMutableOptions extends OperationOptions {
  /** Tells apart several records of one owner: the key is SHA-256 of the public key and the salt (≤ 64 bytes). Default: empty. */
  salt?: string | Uint8Array;
  /** The version to write. Default: one above the newest found (`cas` + 1 with `cas`). Must be above every existing copy's. */
  seq?: number;
  /**
   * Compare-and-swap: write only if the key is still at this seq. A holder already past it refuses,
   * and the put rejects with CAS_CONFLICT: another writer got in between; read and retry.
   */
  cas?: number;
  /** Lifetime in seconds (default 24 h, at most the network's maxTtlSeconds). */
  ttl?: number;
  /** Whose key: the signing identity (default: this node's). */
  owner?: Identity;
}

export interface PutMutableResult {
  /** The record's key (hex): the same for every version. */
  key: string;
  /** The seq written. */
  seq: number;
  /** Distinct nodes that confirmed the store, over both replica locations of the key (this one included when it is a holder). */
  stored: number;
  /** Distinct IP prefixes (/24 IPv4, /64 IPv6) among those nodes. */
  prefixes: number;
}

export interface GetMutableOptions extends OperationOptions {
  salt?: string | Uint8Array;
}

export interface DeleteMutableOptions extends OperationOptions {
  salt?: string | Uint8Array;
  /** Delete only if the key is still at this seq (as `putMutable`'s `cas`). */
  cas?: number;
  /** The owner's identity (default: this node's). */
  owner?: Identity;
}

export interface RoutingSnapshot {
  id: string;
  size: number;
  buckets: { index: number; contacts: ContactInfo[]; replacements: number }[];
}

export class DHT extends Emitter<DHTEvents> {
  readonly identity: Identity;
  readonly crypto: CryptoBackend;
  readonly config: NetworkConfig;
  readonly clock: Clock;
  readonly k: number;
  readonly client: boolean;
  /** The routing table, read-only. */
  readonly routing: RoutingView;
  /** What this node stores for the swarm, read-only. */
  readonly storage: StorageView;
  readonly #engine: Engine;
  /** From the `contacts` option: tried by every bootstrap(). */
  readonly #saved: readonly ParsedContact[];
  /** Run by close() alongside the engine's shutdown (bounded by its callers: a few savers per node). */
  readonly #closeHooks = new Set<() => void | Promise<void>>();
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
    this.#saved = options.contacts === undefined ? [] : parseSavedContacts(options.contacts);
    this.identity = identity;
    this.crypto = crypto;
    this.config = config;
    this.clock = options.clock ?? realClock;
    this.k = options.k ?? DEFAULT_K;
    this.client = options.client ?? false;
    this.#engine = new Engine({
      identity,
      crypto,
      config,
      transports: options.transports,
      bootstrap: (options.bootstrap ?? []).map((a) => toPeerAddress(options.transports, a)),
      clock: this.clock,
      k: this.k,
      alpha: options.alpha ?? DEFAULT_ALPHA,
      client: this.client,
      bootstrapServer: options.bootstrapServer ?? false,
      maxPerIp: options.maxPerIp,
      maxPerPrefix: options.maxPerPrefix,
      storage: options.storage,
      limits: options.limits,
      powSolver: options.powSolver,
      operationTimeoutMs: options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS,
      emit: (event, payload) => this.emit(event, payload),
      listens: (event) => this.listenerCount(event) > 0,
    });
    this.routing = routingView(this.#engine);
    this.storage = storageView(this.#engine);
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
  stats(): DHTStats {
    const e = this.#engine;
    // The engine counts by name at run time; DHT_COUNTERS lists those names (checked by a test).
    return {
      ...transportCounters(e.transports),
      ...e.rpc.stats,
      ...e.counters,
      contacts: e.table.size,
      records: e.store.size,
      mutableRecords: e.mutableStore.size,
      storedBytes: e.store.bytes + e.mutableStore.bytes,
      pendingRequests: e.rpc.pendingCount,
    } as DHTStats;
  }

  /** Addresses this node can be reached at, as far as its transports know. */
  localAddresses(): PeerAddress[] {
    return this.#engine.transports.flatMap((t) => t.localAddresses());
  }

  /** Human-readable form of an address (e.g. "127.0.0.1:4000"). */
  formatAddress(addr: PeerAddress): string {
    return this.#engine.rpc.format(addr);
  }

  /**
   * Joins the network through `addresses` (default: the `bootstrap` option): pings them, then looks
   * up its own ID and fills the buckets beyond its closest neighbour. Resolves with the table size.
   * Addresses are text ("1.2.3.4:4000", "[::1]:4000") or `PeerAddress`es, as everywhere.
   */
  async bootstrap(addresses?: readonly AddressInput[], options: OperationOptions = {}): Promise<number> {
    this.#assertOpen();
    const e = this.#engine;
    const parsed = addresses?.map((a) => toPeerAddress(e.transports, a));
    if (parsed?.length) e.bootstrapAddresses = parsed;
    const list = parsed ?? e.bootstrapAddresses;
    return e.operations.run(options, (signal) => join(e, list, signal, this.#saved));
  }

  /**
   * The routing table's contacts in a JSON-serialisable form, to save and pass back as the
   * `contacts` option next time (see SavedContact). At most `max` (≤ 64): the freshest of each
   * bucket first, round-robin over the buckets, so the list spans the ID space. Only addresses of
   * advertised transports are kept (a browser's WebSocket link to its server is private to it).
   */
  exportContacts(options: ExportContactsOptions = {}): SavedContact[] {
    const max = options.max ?? MAX_SAVED_CONTACTS;
    if (!Number.isInteger(max) || max < 0 || max > MAX_SAVED_CONTACTS) throw SpydhtError.invalidArgument(`max must be an integer from 0 to ${MAX_SAVED_CONTACTS}`);
    const e = this.#engine;
    const advertised = (a: PeerAddress): boolean => (e.rpc.transportFor(a.kind)?.speaks ?? 0) !== 0;
    const saved: SavedContact[] = [];
    // Select among contacts that keep an address, so a browser's server link does not take a place.
    const candidates = e.table.all().filter((c) => c.addresses.some(advertised));
    for (const c of selectContacts(candidates, (id) => e.table.bucketIndex(id), max)) {
      const s = toSaved(c, advertised);
      if (s) saved.push(s);
    }
    return saved;
  }

  /** Pings an address ("ip:port" or a PeerAddress); resolves with the verified contact's ID (hex) and the round trip in ms. */
  async ping(address: AddressInput, options: OperationOptions = {}): Promise<{ id: string; rtt: number }> {
    this.#assertOpen();
    const e = this.#engine;
    const to = toPeerAddress(e.transports, address);
    return e.operations.run(options, async (signal) => {
      const reply = await e.rpc.request(to, { type: MessageType.PING, pad: 0 }, { attempts: 3, signal });
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

  /** Like `put`, also telling how many distinct nodes (and IP prefixes) confirmed the store. */
  async publish(label: string | Uint8Array, content: string | Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    this.#assertOpen();
    const input = {
      label: asBytes(label, 'label'),
      content: asBytes(content, 'content'),
      ttlSeconds: this.#ttl(options.ttl),
      owner: options.owner === undefined ? this.identity : options.owner ?? undefined,
    };
    const e = this.#engine;
    const { record, stored, prefixes } = await e.operations.run(options, (signal) => publish(e, input, signal));
    return { key: toHex(record.key), stored, prefixes };
  }

  /** Finds a value by key (hex or bytes); resolves undefined when no node has it. Verified before returning. */
  async get(key: string | Uint8Array, options: OperationOptions = {}): Promise<DHTValue | undefined> {
    return (await this.findValue(key, options)).value;
  }

  /** Like `get`, also reporting lookup hops and queries. */
  async findValue(key: string | Uint8Array, options: OperationOptions = {}): Promise<FindValueResult> {
    this.#assertOpen();
    const keyBytes = asKey(key);
    const e = this.#engine;
    const local = await localValue(e, keyBytes);
    if (local) return { value: new DHTValue(local), hops: 0, queried: 0 };
    const found = await e.operations.run(options, (signal) => findValue(e, keyBytes, signal));
    return { value: found.record ? new DHTValue(found.record) : undefined, hops: found.hops, queried: found.queried };
  }

  /**
   * Deletes an owned record everywhere it is stored. The owner's signed delete leaves a tombstone,
   * so a stale copy cannot be stored again. Resolves with how many nodes removed a copy (0 when
   * none held one); rejects with NOT_OWNER when holders say the record is someone else's.
   */
  async delete(key: string | Uint8Array, options: DeleteOptions = {}): Promise<number> {
    this.#assertOpen();
    const keyBytes = asKey(key);
    const e = this.#engine;
    return e.operations.run(options, (signal) => deleteEverywhere(e, keyBytes, options.owner ?? this.identity, signal));
  }

  /**
   * Stores a mutable record: `content` signed by the owner (default: this node's identity) under
   * the key of its public key and `salt`, with a sequence number one above the newest copy found.
   * Holders keep only the newest version. Resolves with the key (hex), the seq written and how many
   * nodes confirmed. Rejects with CAS_CONFLICT (`cas` given and the key moved past it) or STALE_SEQ
   * (`seq` given and not above the newest copy). Salt + content ≤ 4096 bytes.
   */
  async putMutable(content: string | Uint8Array, options: PutMutableOptions = {}): Promise<PutMutableResult> {
    this.#assertOpen();
    const input = {
      owner: options.owner ?? this.identity,
      salt: asBytes(options.salt ?? new Uint8Array(0), 'salt'),
      content: asBytes(content, 'content'),
      seq: seqOption(options.seq, 'seq'),
      cas: seqOption(options.cas, 'cas'),
      ttlSeconds: this.#ttl(options.ttl),
    };
    const e = this.#engine;
    const { record, stored, prefixes } = await e.operations.run(options, (signal) => putMutable(e, input, signal));
    return { key: toHex(record.key), seq: record.seq, stored, prefixes };
  }

  /**
   * The newest version of the mutable record of `publicKey` (hex or 32 bytes) and `salt`, verified
   * (key, proof of work, owner's signature), or undefined (none, or deleted). The lookup asks the
   * k closest nodes, not just the first holder, and sends the newest to holders seen with an older
   * copy.
   */
  async getMutable(publicKey: string | Uint8Array, options: GetMutableOptions = {}): Promise<MutableValue | undefined> {
    this.#assertOpen();
    const key = this.#mutableKey(publicKey, options.salt);
    const e = this.#engine;
    const found = await e.operations.run(options, (signal) => getMutable(e, key, signal));
    return found.newest && !found.newest.deleted ? new MutableValue(found.newest) : undefined;
  }

  /**
   * Deletes a mutable record everywhere: stores a deletion signed by the owner at the next seq,
   * which replaces every older copy and refuses them (and replays of them) until it expires. The
   * owner may write the key again later, at a higher seq. Resolves like `putMutable`.
   */
  async deleteMutable(options: DeleteMutableOptions = {}): Promise<PutMutableResult> {
    this.#assertOpen();
    const input = {
      owner: options.owner ?? this.identity,
      salt: asBytes(options.salt ?? new Uint8Array(0), 'salt'),
      content: new Uint8Array(0),
      seq: undefined,
      cas: seqOption(options.cas, 'cas'),
      // As long as any copy it deletes could live.
      ttlSeconds: this.config.maxTtlSeconds,
      deleted: true,
    };
    const e = this.#engine;
    const { record, stored, prefixes } = await e.operations.run(options, (signal) => putMutable(e, input, signal));
    return { key: toHex(record.key), seq: record.seq, stored, prefixes };
  }

  /** The key (hex) of the mutable record of `publicKey` (hex or 32 bytes) and `salt`. */
  mutableKey(publicKey: string | Uint8Array, salt?: string | Uint8Array): string {
    return toHex(this.#mutableKey(publicKey, salt));
  }

  #mutableKey(publicKey: string | Uint8Array, salt: string | Uint8Array | undefined): Uint8Array {
    const saltBytes = asBytes(salt ?? new Uint8Array(0), 'salt');
    if (saltBytes.length > MAX_SALT_BYTES) throw SpydhtError.invalidArgument(`salt longer than ${MAX_SALT_BYTES} bytes`);
    let pk: Uint8Array;
    try {
      pk = asKey(publicKey);
    } catch {
      throw SpydhtError.invalidArgument('a public key is 64 hex digits or 32 bytes');
    }
    return mutableKey(this.crypto, pk, saltBytes);
  }

  /** The k closest nodes to `target` that answered, closest first. */
  async findNode(target: string | Uint8Array, options: OperationOptions = {}): Promise<ContactInfo[]> {
    this.#assertOpen();
    const t = asKey(target);
    const e = this.#engine;
    const result = await e.operations.run(options, (signal) => e.lookups.nodes(t, signal));
    return result.closest.map((p): ContactInfo => {
      const contact = e.table.get(p.id);
      if (contact) return e.contactInfo(contact);
      return {
        id: idToHex(p.id),
        address: e.rpc.format(p.address),
        // A lookup only reaches addresses of this node's own transports.
        transport: e.transports.find((t) => t.kind === p.address.kind)!.name,
        speaks: [],
        bootstrapServer: e.peers.isBootstrapServer(p.id),
        ip: e.rpc.ipOf(p.address) ?? '',
        rtt: e.rpc.rtt.srtt(peerKey(p.address)) ?? null,
        lastSeen: 0,
      };
    });
  }

  /** The routing table as the demo page draws it. */
  snapshot(): RoutingSnapshot {
    const e = this.#engine;
    return {
      id: this.id,
      size: e.table.size,
      buckets: e.table.snapshot().map((b) => ({ index: b.index, contacts: b.contacts.map((c) => e.contactInfo(c)), replacements: b.replacements })),
    };
  }

  /**
   * Runs `hook` when the node closes, alongside the engine's shutdown: it still sees the routing
   * table (a failure in it is ignored; close() waits for it). For helpers that own timers of their
   * own, e.g. the contact saver of `keepContacts`. Returns a function that removes the hook.
   */
  onClose(hook: () => void | Promise<void>): () => void {
    this.#assertOpen();
    this.#closeHooks.add(hook);
    return () => void this.#closeHooks.delete(hook);
  }

  /** Stops everything: timers, operations and pending requests (they end with CLOSED), transports. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // The engine's shutdown starts first, in this very tick: a page closing on pagehide gets its
    // links closed (peers see them go at once) before the document dies, whatever the hooks await.
    // Hooks run from the next microtask and still see the routing table (close leaves it as it was).
    const hooks = [...this.#closeHooks];
    this.#closeHooks.clear();
    const engine = this.#engine.close();
    await Promise.all([engine, Promise.allSettled(hooks.map((hook) => Promise.resolve().then(hook)))]);
    this.removeAllListeners();
  }

  /**
   * The engine's parts, for tests and tools inside this repository. Not a public API: it changes
   * without notice and is left out of the published type declarations.
   * @internal
   */
  get internals(): Engine {
    return this.#engine;
  }

  #assertOpen(): void {
    if (this.#closed) throw SpydhtError.closed();
  }

  #ttl(ttl: number | undefined): number {
    const max = this.config.maxTtlSeconds;
    const value = ttl ?? Math.min(DEFAULT_TTL_SECONDS, max);
    if (!Number.isInteger(value) || value < 1 || value > max) throw SpydhtError.invalidArgument(`ttl must be an integer from 1 to ${max} seconds`);
    return value;
  }
}

function seqOption(value: number | undefined, what: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isSafeInteger(value) || value < 0) throw SpydhtError.invalidArgument(`${what} must be an integer from 0 to 2^53 − 1`);
  return value;
}

function asBytes(value: string | Uint8Array, what: string): Uint8Array {
  if (typeof value === 'string') return utf8(value);
  if (value instanceof Uint8Array) return value;
  throw SpydhtError.invalidArgument(`${what} must be a string or a Uint8Array`);
}

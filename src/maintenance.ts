/**
 * One maintenance tick drives everything periodic: re-bootstrap when nearly
 * alone, the expiry sweep, bucket refresh, freshness pings, republishing, and handing records to
 * new close nodes. Each tick does a bounded amount of work; every timer belongs to the node's
 * Timers, so close() stops all of it.
 */
import type { Clock, Timers } from './clock.js';
import { equalIds, randomIdInBucket, type NodeId } from './id.js';
import type { Admission } from './routing/admission.js';
import type { Contact } from './routing/contact.js';
import type { RoutingTable } from './routing/table.js';
import type { HeldEncoding } from './storage/held-encoding.js';
import type { MutableStore } from './storage/mutable-store.js';
import type { LocalStore } from './storage/store.js';
import type { WireRecord } from './wire/messages.js';
import type { WireMutableRecord } from './wire/mutable.js';

export const TICK_MS = 5_000;
/** A bucket untouched this long gets a lookup into it. */
export const REFRESH_IDLE_MS = 15 * 60_000;
/** A contact not heard from this long gets a ping. */
export const FRESHNESS_IDLE_MS = 10 * 60_000;
export const SWEEP_EVERY_MS = 60_000;
const REBOOTSTRAP_MIN_GAP_MS = 30_000;
/** A node that knows fewer contacts than this joins again (lost datagrams, a restarted network). */
const REBOOTSTRAP_BELOW = 3;
const MAX_PINGS_PER_TICK = 4;
const MAX_REPUBLISH_PER_TICK = 8;
const MAX_HANDOVERS_PER_TICK = 4;
const MAX_HANDOVER_QUEUE = 256;

export interface MaintenanceOptions {
  selfId: NodeId;
  k: number;
  client: boolean;
  clock: Clock;
  timers: Timers;
  table: RoutingTable;
  store: LocalStore;
  admission: Admission;
  /** Uniform in [0, 1). */
  random: () => number;
  isClosed: () => boolean;
  hasBootstrap: () => boolean;
  rebootstrap: () => Promise<unknown>;
  /** A node lookup for `target` (its verified replies fill the table by themselves). */
  refresh: (target: NodeId) => Promise<unknown>;
  republish: (record: WireRecord) => Promise<unknown>;
  storeAt: (contact: Contact, record: WireRecord) => Promise<unknown>;
  /** Mutable records are swept, republished and handed over like immutable ones. */
  mutable?: {
    store: MutableStore;
    republish: (record: WireMutableRecord) => Promise<unknown>;
    storeAt: (contact: Contact, record: WireMutableRecord) => Promise<unknown>;
  };
}

/**
 * Whether a record at `location` goes to the new contact `newcomer`: we are the nearest holder we
 * know of (the newcomer aside), and it is among the k nearest. The first is one bit per bucket
 * (RoutingTable.nearestTo) and rules out most records at once; a sorted k nearest per record
 * location, at every new contact, was most of what an idle node allocated (a heap profile of 200
 * idle UDP nodes: 80 %). Maintenance asks it for every location of every record held.
 */
export function handsOver(table: RoutingTable, k: number, newcomer: NodeId, location: NodeId): boolean {
  return table.nearestTo(location, newcomer) && table.closest(location, k).some((x) => equalIds(x.id, newcomer));
}

/**
 * Calls `send` for each held record (immutable or mutable) that goes to `newcomer` at any of its
 * key's locations (each has its own k holders). Each location is copied into `scratch` (32 bytes)
 * in turn: this runs over every held record at every new contact, and nothing is allocated per
 * record (the arrays and views it once made were most of what an idle node allocated).
 */
export function handOverEach<T extends HeldEncoding>(table: RoutingTable, k: number, newcomer: NodeId, held: Iterable<T>, scratch: Uint8Array, send: (entry: T) => void): void {
  for (const entry of held) {
    for (let i = 0; i < entry.locationCount; i++) {
      if (handsOver(table, k, newcomer, entry.copyLocation(i, scratch))) {
        send(entry);
        break;
      }
    }
  }
}

export class Maintenance {
  readonly #options: MaintenanceOptions;
  readonly #handovers: Contact[] = [];
  /** Where #handOver copies each held record's location in turn (nothing is allocated per record). */
  readonly #location = new Uint8Array(32);
  #lastSweep = 0;
  #lastRebootstrap = 0;
  /** A refresh lookup is running: background lookups go one at a time, never flooding a slow link. */
  #refreshing = false;

  constructor(options: MaintenanceOptions) {
    this.#options = options;
  }

  start(): void {
    const { clock, timers, random } = this.#options;
    this.#lastSweep = clock.now();
    // Spread ticks of many nodes (a simulation starts them all at once).
    timers.after(Math.floor(random() * TICK_MS), () => {
      this.#tick();
      timers.every(TICK_MS, () => this.#tick());
    });
  }

  /** A new contact: if it is now among the k closest to keys we hold, it may get them from us. */
  contactAdded(c: Contact): void {
    if (this.#options.store.size + (this.#options.mutable?.store.size ?? 0) > 0 && this.#handovers.length < MAX_HANDOVER_QUEUE) this.#handovers.push(c);
  }

  #tick(): void {
    const o = this.#options;
    if (o.isClosed()) return;
    const now = o.clock.now();

    if (o.table.size < REBOOTSTRAP_BELOW && o.hasBootstrap() && now - this.#lastRebootstrap >= REBOOTSTRAP_MIN_GAP_MS) {
      this.#lastRebootstrap = now;
      o.rebootstrap().catch(() => {});
    }

    if (now - this.#lastSweep >= SWEEP_EVERY_MS) {
      this.#lastSweep = now;
      o.store.sweep(Math.floor(now / 1000));
      o.mutable?.store.sweep(Math.floor(now / 1000));
    }

    if (!this.#refreshing && o.table.size > 0) {
      const stale = o.table.staleBuckets(REFRESH_IDLE_MS);
      if (stale.length) {
        const index = stale[Math.floor(o.random() * stale.length)]!;
        o.table.markRefreshed(index);
        this.#refreshing = true;
        o.refresh(randomIdInBucket(o.selfId, index, randomBytes(o.random)))
          .catch(() => {})
          .finally(() => (this.#refreshing = false));
      }
    }

    for (const c of o.table.staleContacts(FRESHNESS_IDLE_MS).slice(0, MAX_PINGS_PER_TICK)) o.admission.checkAlive(c);

    if (!o.client) {
      for (const record of o.store.dueForRepublish(now, MAX_REPUBLISH_PER_TICK)) o.republish(record).catch(() => {});
      const m = o.mutable;
      if (m) for (const record of m.store.dueForRepublish(now, MAX_REPUBLISH_PER_TICK)) m.republish(record).catch(() => {});
      this.#handOver();
    }
  }

  /**
   * A new contact that is now among the k closest to keys we hold gets those records from us, if
   * we are the closest holder we know of (so one node, not k, sends each record).
   */
  #handOver(): void {
    const { table, store, k } = this.#options;
    for (let n = 0; n < MAX_HANDOVERS_PER_TICK && this.#handovers.length; n++) {
      const c = this.#handovers.shift()!;
      if (!table.has(c.id)) continue;
      handOverEach(table, k, c.id, store.held(), this.#location, (entry) => void this.#options.storeAt(c, entry.record).catch(() => {}));
      const m = this.#options.mutable;
      if (m) handOverEach(table, k, c.id, m.store.held(), this.#location, (entry) => void m.storeAt(c, entry.record).catch(() => {}));
    }
  }
}

/** 32 bytes for a refresh target: it need only be spread over the bucket, not secret. */
function randomBytes(random: () => number): Uint8Array {
  return Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
}

/**
 * One maintenance tick drives everything periodic: re-bootstrap when alone, bucket refresh,
 * freshness pings, the expiry sweep, republishing, and handing records to new close nodes.
 * Each tick does a bounded amount of work; every timer belongs to the node's Timers, so
 * close() stops all of it.
 */
import type { Timers } from './clock.js';
import { compareDistance, equalIds, idToHex, randomIdInBucket, type NodeId } from './id.js';
import { LruMap } from './lru.js';
import type { Contact } from './routing/contact.js';
import type { RoutingTable } from './routing/table.js';
import type { LocalStore } from './storage/store.js';
import { addressKey, type PeerAddress } from './wire/address.js';
import type { WireRecord } from './wire/messages.js';

export const TICK_MS = 5_000;
/** A bucket untouched this long gets a lookup into it. */
export const REFRESH_IDLE_MS = 15 * 60_000;
/** A contact not heard from this long gets a ping. */
export const FRESHNESS_IDLE_MS = 10 * 60_000;
export const SWEEP_EVERY_MS = 60_000;
export const REPUBLISH_EVERY_MS = 60 * 60_000;
/** The least-recently-seen contact of a full bucket is pinged at most this often. */
const STALE_PING_MIN_GAP_MS = 30_000;
/** Unknown senders are pinged back (to verify them) at most this often each. */
const HANDSHAKE_MIN_GAP_MS = 60_000;
const REBOOTSTRAP_MIN_GAP_MS = 30_000;
const REBOOTSTRAP_BELOW = 3;
const MAX_HANDSHAKES_PER_TICK = 16;
const MAX_PINGS_PER_TICK = 4;
const MAX_REPUBLISH_PER_TICK = 8;
const MAX_HANDOVERS_PER_TICK = 4;
const MAX_QUEUE = 256;

export interface MaintenanceHost {
  dht: { table: RoutingTable; store: LocalStore; identity: { id: NodeId }; clock: { now(): number }; client: boolean; closed: boolean; k: number };
  timers: Timers;
  random: (n: number) => Uint8Array;
  hasBootstrap: () => boolean;
  rebootstrap: () => Promise<void>;
  refresh: (target: NodeId) => Promise<void>;
  pingContact: (c: Contact) => Promise<boolean>;
  republish: (record: WireRecord) => Promise<void>;
  storeAt: (c: Contact, record: WireRecord) => Promise<void>;
  /** Pings an unverified sender at its address; a verified reply enters the table by itself. */
  handshake?: (id: NodeId, address: PeerAddress) => Promise<void>;
}

export class Maintenance {
  readonly #h: MaintenanceHost;
  readonly #recentPings = new LruMap<string, number>(1024);
  readonly #handshakes = new LruMap<string, number>(4096);
  readonly #handshakeQueue: { id: NodeId; address: PeerAddress }[] = [];
  readonly #handovers: Contact[] = [];
  readonly #pinging = new Set<string>();
  #lastSweep = 0;
  #lastRebootstrap = 0;
  #busy = false;

  constructor(host: MaintenanceHost) {
    this.#h = host;
  }

  start(): void {
    const now = this.#h.dht.clock.now();
    this.#lastSweep = now;
    // Spread ticks of many nodes (a simulation starts them all at once).
    const offset = Math.floor((this.#h.random(2)[0]! / 256) * TICK_MS);
    this.#h.timers.after(offset, () => {
      this.#tick();
      this.#h.timers.every(TICK_MS, () => this.#tick());
    });
  }

  nextRepublishAt(): number {
    const jitter = (this.#h.random(1)[0]! / 256) * 0.1 * REPUBLISH_EVERY_MS;
    return this.#h.dht.clock.now() + REPUBLISH_EVERY_MS + jitter;
  }

  /** A full bucket: ping its least-recently-seen contact; if it fails, it goes and a replacement comes in. */
  bucketFull(stale: Contact): void {
    const hex = idToHex(stale.id);
    const now = this.#h.dht.clock.now();
    if (this.#pinging.has(hex) || now - (this.#recentPings.peek(hex) ?? -Infinity) < STALE_PING_MIN_GAP_MS) return;
    this.#recentPings.set(hex, now);
    this.#ping(stale);
  }

  /** Someone sent us a request: if we do not know it, verify it with a signed round trip (rate limited). */
  sawRequest(id: NodeId, from: PeerAddress): void {
    const { table, clock } = this.#h.dht;
    const known = table.get(id);
    if (known && addressKey(known.address) === addressKey(from)) {
      table.touch(id);
      return;
    }
    if (this.#h.dht.client || !this.#h.handshake) return;
    const key = `${idToHex(id)}@${addressKey(from)}`;
    const now = clock.now();
    if (now - (this.#handshakes.peek(key) ?? -Infinity) < HANDSHAKE_MIN_GAP_MS) return;
    this.#handshakes.set(key, now);
    if (this.#handshakeQueue.length < MAX_QUEUE) this.#handshakeQueue.push({ id, address: from });
    // Handshakes are cheap and make joins fast: run a few right away instead of waiting for a tick.
    this.#drainHandshakes(MAX_HANDSHAKES_PER_TICK);
  }

  contactAdded(c: Contact): void {
    if (this.#h.dht.store.size > 0 && this.#handovers.length < MAX_QUEUE) this.#handovers.push(c);
  }

  #drainHandshakes(max: number): void {
    for (let i = 0; i < max && this.#handshakeQueue.length; i++) {
      const { id, address } = this.#handshakeQueue.shift()!;
      this.#h.handshake!(id, address).catch(() => {});
    }
  }

  #ping(c: Contact): void {
    const hex = idToHex(c.id);
    this.#pinging.add(hex);
    this.#h
      .pingContact(c)
      .then((alive) => {
        if (!alive && !this.#h.dht.closed) this.#h.dht.table.remove(c.id);
      })
      .finally(() => this.#pinging.delete(hex));
  }

  #tick(): void {
    const { dht } = this.#h;
    if (dht.closed) return;
    const now = dht.clock.now();
    this.#drainHandshakes(MAX_HANDSHAKES_PER_TICK);

    // Alone, or knowing only a bootstrap node or two: join again (lost datagrams, a restarted network).
    if (dht.table.size < REBOOTSTRAP_BELOW && this.#h.hasBootstrap() && now - this.#lastRebootstrap >= REBOOTSTRAP_MIN_GAP_MS) {
      this.#lastRebootstrap = now;
      this.#h.rebootstrap().catch(() => {});
    }

    if (now - this.#lastSweep >= SWEEP_EVERY_MS) {
      this.#lastSweep = now;
      dht.store.sweep(Math.floor(now / 1000));
    }

    // Background lookups one at a time, so maintenance never floods a slow link.
    if (!this.#busy && dht.table.size > 0) {
      const stale = dht.table.staleBuckets(REFRESH_IDLE_MS);
      if (stale.length) {
        const index = stale[Math.floor((this.#h.random(1)[0]! / 256) * stale.length)]!;
        dht.table.markRefreshed(index);
        this.#busy = true;
        this.#h
          .refresh(randomIdInBucket(dht.identity.id, index, this.#h.random(32)))
          .catch(() => {})
          .finally(() => (this.#busy = false));
      }
    }

    let pings = 0;
    for (const c of dht.table.staleContacts(FRESHNESS_IDLE_MS)) {
      if (pings >= MAX_PINGS_PER_TICK) break;
      if (this.#pinging.has(idToHex(c.id))) continue;
      pings++;
      this.#ping(c);
    }

    if (!dht.client) {
      this.#republishDue(now);
      this.#handOver();
    }
  }

  #republishDue(now: number): void {
    let n = 0;
    for (const entry of this.#h.dht.store.entries()) {
      if (n >= MAX_REPUBLISH_PER_TICK) break;
      if (entry.republishAt > now || entry.record.expiresAt <= now / 1000) continue;
      entry.republishAt = this.nextRepublishAt();
      n++;
      this.#h.republish(entry.record).catch(() => {});
    }
  }

  /**
   * A new contact that is now among the k closest to keys we hold gets those records from us, if
   * we are the closest holder we know of (so one node, not k, sends each record).
   */
  #handOver(): void {
    const { dht } = this.#h;
    for (let n = 0; n < MAX_HANDOVERS_PER_TICK && this.#handovers.length; n++) {
      const c = this.#handovers.shift()!;
      if (!dht.table.has(c.id)) continue;
      for (const { record } of dht.store.entries()) {
        const closest = dht.table.closest(record.key, dht.k + 1);
        const others = closest.filter((x) => !equalIds(x.id, c.id));
        const newIsClose = closest.slice(0, dht.k).some((x) => equalIds(x.id, c.id));
        const selfIsPrimary = others.length === 0 || compareDistance(dht.identity.id, others[0]!.id, record.key) < 0;
        if (newIsClose && selfIsPrimary) this.#h.storeAt(c, record).catch(() => {});
      }
    }
  }
}

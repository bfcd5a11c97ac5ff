/**
 * What an operation (join, put, get, delete, the bridge proxy) needs of a node: its parts, each
 * built once by the engine. An operation is a plain function of this context and an AbortSignal,
 * so it can be tested with any set of parts, without a whole DHT.
 */
import type { Clock } from '../clock.js';
import type { CryptoBackend } from '../crypto/backend.js';
import type { Identity } from '../crypto/identity.js';
import type { PowSolver } from '../crypto/pow.js';
import type { Lookups } from '../lookup/lookups.js';
import type { NetworkConfig } from '../network.js';
import type { Rpc } from '../rpc/rpc.js';
import type { KnownPeers } from '../routing/known-peers.js';
import type { RoutingTable } from '../routing/table.js';
import type { RecordRules } from '../storage/record.js';
import type { MutableStore } from '../storage/mutable-store.js';
import type { LocalStore } from '../storage/store.js';

export interface OpContext {
  readonly identity: Identity;
  readonly crypto: CryptoBackend;
  readonly config: NetworkConfig;
  readonly rules: RecordRules;
  readonly clock: Clock;
  /** Bucket size and replication factor. */
  readonly k: number;
  /** A client stores nothing for others and is in nobody's table. */
  readonly client: boolean;
  readonly rpc: Rpc;
  readonly table: RoutingTable;
  readonly store: LocalStore;
  /** Mutable records held for the swarm (one copy per key, the newest). */
  readonly mutableStore: MutableStore;
  readonly lookups: Lookups;
  readonly peers: KnownPeers;
  readonly solver: PowSolver;
  /** Adds one to a counter of `DHT.stats()`. */
  count(what: string): void;
}

/** The context's clock in whole Unix seconds, as records and deletes use it. */
export function nowSeconds(ctx: Pick<OpContext, 'clock'>): number {
  return Math.floor(ctx.clock.now() / 1000);
}

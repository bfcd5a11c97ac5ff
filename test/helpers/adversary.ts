/**
 * Hostile members for simulations: real engines on the simulated network whose parts are bent to
 * lie. bench/lib/adversary.js is the same for `npm run sim` (it runs on dist/).
 */
import { utf8 } from '../../src/bytes.js';
import type { DHT } from '../../src/dht.js';
import { idKey, type NodeId } from '../../src/id.js';
import type { Contact } from '../../src/routing/contact.js';
import { StoreStatus, type WireRecord } from '../../src/wire/messages.js';
import { MutableStoreStatus, type WireMutableRecord } from '../../src/wire/mutable.js';

export type Misbehaviour = 'silent' | 'liar' | 'dropper' | 'forger';
export const MISBEHAVIOURS: readonly Misbehaviour[] = ['silent', 'liar', 'dropper', 'forger'];

/**
 * Turns `node` hostile, in every way at once that its kind allows:
 * - silent: closed (every request to it times out);
 * - liar: answers FIND_NODE / FIND_VALUE with fellow attackers only, never the honest nodes nearer;
 * - dropper: acknowledges every STORE and STORE_MUTABLE and keeps nothing (and lies like a liar);
 * - forger: answers FIND_VALUE with a forged record for the key asked (and lies, and drops).
 * `allies` is the set of attackers' IDs (idKey) the liars point to.
 */
export async function makeHostile(node: DHT, kind: Misbehaviour, allies: Set<string>): Promise<void> {
  if (kind === 'silent') {
    await node.close();
    return;
  }
  const e = node.internals;
  const closest = e.table.closest.bind(e.table);
  e.table.closest = (target: NodeId, count?: number, filter?: (c: Contact) => boolean): Contact[] =>
    closest(target, 256, (c) => allies.has(idKey(c.id)) && (!filter || filter(c))).slice(0, count ?? e.k);
  if (kind === 'liar') return;
  e.store.put = () => StoreStatus.STORED;
  e.mutableStore.put = () => ({ status: MutableStoreStatus.STORED, held: undefined });
  if (kind === 'dropper') return;
  e.store.get = (key: Uint8Array): WireRecord => ({ key, label: utf8('forged'), content: utf8('forged value'), expiresAt: Math.floor(e.clock.now() / 1000) + 3600, powNonce: new Uint8Array(8) });
}

/** A hostile `node` (made so above) also serves `old`, a genuine older version, for its key, whatever newer version it is sent. */
export function serveStale(node: DHT, old: WireMutableRecord): void {
  const e = node.internals;
  const get = e.mutableStore.get.bind(e.mutableStore);
  e.mutableStore.get = (key: Uint8Array, nowSeconds: number) => (idKey(key) === idKey(old.key) ? old : get(key, nowSeconds));
}

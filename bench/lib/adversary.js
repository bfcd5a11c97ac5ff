/**
 * Hostile members for `npm run sim -- --sybil`: real engines on the simulated network whose parts
 * are bent to lie (test/helpers/adversary.ts is the same for the tests, on src/).
 *
 * - silent: closed (every request to it times out);
 * - liar: answers FIND_NODE / FIND_VALUE with fellow attackers only, never the honest nodes nearer;
 * - dropper: acknowledges every STORE and STORE_MUTABLE and keeps nothing (and lies like a liar);
 * - forger: answers FIND_VALUE with a forged record for the key asked (and lies, and drops).
 */
export const MISBEHAVIOURS = ['silent', 'liar', 'dropper', 'forger'];

const STORED = 0;
const enc = new TextEncoder();

/** `allies`: a Set of the attackers' IDs (hex), which liars point to; it may grow later. */
export async function makeHostile(node, kind, allies) {
  allies.add(node.id);
  if (kind === 'silent') {
    await node.close();
    return;
  }
  const e = node.internals;
  const closest = e.table.closest.bind(e.table);
  const hex = (id) => Buffer.from(id).toString('hex');
  e.table.closest = (target, count, filter) => closest(target, 256, (c) => allies.has(hex(c.id)) && (!filter || filter(c))).slice(0, count ?? e.k);
  if (kind === 'liar') return;
  e.store.put = () => STORED;
  e.mutableStore.put = () => ({ status: STORED, held: undefined });
  if (kind === 'dropper') return;
  e.store.get = (key) => ({ key, label: enc.encode('forged'), content: enc.encode('forged value'), expiresAt: Math.floor(e.clock.now() / 1000) + 3600, powNonce: new Uint8Array(8) });
}

/** Helpers over the nodes of a bench swarm, through their public API only. */

/** The sum of one `stats()` counter over `nodes` (a counter a node has not touched yet counts 0). */
export const sumOf = (nodes, key) => nodes.reduce((a, n) => a + (n.stats()[key] ?? 0), 0);

/**
 * A random node that is not the putter and holds no replica of `want.key`, so the get crosses the
 * network; undefined when every node holds one. `pickIndex(n)` draws from the section's seeded
 * sequence, and only when there is a candidate, so the sequence of draws stays the same.
 */
export function pickGetter(nodes, want, pickIndex) {
  const candidates = nodes.filter((n) => n !== want.putter && !n.storage.has(want.key));
  return candidates.length ? candidates[pickIndex(candidates.length)] : undefined;
}

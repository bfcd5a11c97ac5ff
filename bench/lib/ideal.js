/**
 * The ideal-table limit: the same lookup code (dist/lookup/lookup.js) run over routing tables that
 * are as full as Kademlia allows — every bucket holds k nodes drawn from its whole subtree — with the
 * same one-way latency. It tells how many round trips and queries a get or a node lookup needs when
 * the tables are perfect, so the simulated swarm's figures have something to be measured against.
 */
import { commonPrefixLength, compareDistance } from '../../dist/id.js';
import { lookup } from '../../dist/lookup/lookup.js';
import { SimClock, seededRandom } from '../../dist/index.js';

const ID_BYTES = 32;

/** `n` random IDs, sorted (so a subtree is a contiguous range). */
function randomIds(n, random) {
  const ids = Array.from({ length: n }, () => Uint8Array.from({ length: ID_BYTES }, () => Math.floor(random() * 256)));
  return ids.sort((a, b) => compareDistance(a, b, new Uint8Array(ID_BYTES)));
}

/** Bit `i` of an ID, big-endian. */
const bit = (id, i) => (id[i >> 3] >> (7 - (i & 7))) & 1;

/** The index range [lo, hi) of sorted `ids` that share the first `bits` bits of `id`. */
function prefixRange(ids, id, bits) {
  const cmp = (x) => {
    for (let i = 0; i < bits; i++) {
      const d = bit(x, i) - bit(id, i);
      if (d !== 0) return d;
    }
    return 0;
  };
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cmp(ids[mid]) < 0) lo = mid + 1;
    else hi = mid;
  }
  const start = lo;
  hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cmp(ids[mid]) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return [start, lo];
}

/** Ideal tables: for every node and every bucket i, min(k, |subtree|) random nodes of the subtree. */
function idealTables(ids, k, random) {
  return ids.map((id) => {
    const contacts = [];
    for (let i = 0; i < 256; i++) {
      // Bucket i: share exactly i bits, differ at bit i.
      const sibling = Uint8Array.from(id);
      sibling[i >> 3] ^= 0x80 >> (i & 7);
      const [lo, hi] = prefixRange(ids, sibling, i + 1);
      const size = hi - lo;
      if (size === 0) {
        if (prefixRange(ids, id, i + 1)[1] - prefixRange(ids, id, i + 1)[0] <= 1) break; // alone below here
        continue;
      }
      if (size <= k) for (let j = lo; j < hi; j++) contacts.push(j);
      else {
        const chosen = new Set();
        while (chosen.size < k) chosen.add(lo + Math.floor(random() * size));
        contacts.push(...chosen);
      }
    }
    return contacts;
  });
}

/**
 * Runs `gets` value lookups and `puts` puts (each `locations` node lookups and a STORE round,
 * see wholePuts) over ideal tables of `n` nodes with the lookup code the nodes use. Latency:
 * `latency + U[0, jitter)` ms one way, as SimNetwork.
 */
export async function idealLimit({ n, k = 20, alpha = 3, gets = 200, puts = 50, locations = 2, latency = 10, jitter = 20, seed = 1, lookupOptions = {} }) {
  const random = seededRandom(seed);
  const ids = randomIds(n, random);
  const tables = idealTables(ids, k, random);
  const clock = new SimClock();
  const delay = () => latency + random() * jitter;
  const peer = (i) => ({ id: ids[i], address: { kind: 2, data: Uint8Array.of(i >> 24, i >> 16, i >> 8, i & 255) }, addresses: [], index: i });
  const closestTo = (indices, target, count) => [...indices].sort((a, b) => compareDistance(ids[a], ids[b], target)).slice(0, count);
  /** What a node estimates from its table: the prefix it shares with its own k-th closest contact. */
  const radiusBitsOf = (self) => {
    const kth = closestTo(tables[self], ids[self], k)[k - 1];
    return kth === undefined ? 0 : commonPrefixLength(ids[self], ids[kth]);
  };

  async function one(target, value, self = Math.floor(random() * n)) {
    const holders = value ? new Set(closestTo(ids.keys(), target, k)) : new Set();
    let queried = 0;
    const start = clock.now();
    const result = clock.run(
      lookup({
        target,
        selfId: ids[self],
        k,
        alpha,
        seeds: closestTo(tables[self], target, k).map(peer),
        ...lookupOptions,
        ...(lookupOptions.radiusBits === 'auto' ? { radiusBits: radiusBitsOf(self) } : {}),
        query: (p) => {
          queried++;
          return new Promise((resolve) => {
            clock.setTimeout(() => {
              if (holders.has(p.index)) return resolve({ contacts: [], value: true });
              const contacts = closestTo(tables[p.index], target, k).map((i) => ({ id: ids[i], addresses: [peer(i).address] }));
              resolve({ contacts });
            }, delay() + delay());
          });
        },
        accept: (c) => peer(c.addresses[0].data.reduce((x, b) => x * 256 + b, 0)),
      }),
    );
    const r = await result;
    return { queried, hops: r.hops, ms: clock.now() - start, found: r.value !== undefined };
  }

  const randomTarget = () => Uint8Array.from({ length: ID_BYTES }, () => Math.floor(random() * 256));
  const getRuns = [];
  for (let i = 0; i < gets; i++) getRuns.push(await one(randomTarget(), true));
  const putRuns = [];
  /**
   * A whole put as spydht makes one: a node lookup to each of the key's `locations` replica
   * locations (independent targets, run side by side: the slower one counts), then one round of
   * STOREs to the k closest of each, done when the last acknowledgement is in (the slowest of
   * locations × k round trips). No proof of work, no handshakes.
   */
  const wholePuts = [];
  for (let i = 0; i < puts; i++) {
    const self = Math.floor(random() * n);
    const lookups = [];
    for (let l = 0; l < locations; l++) lookups.push(await one(randomTarget(), false, self));
    putRuns.push(...lookups);
    let storeMs = 0;
    for (let r = 0; r < locations * k; r++) storeMs = Math.max(storeMs, delay() + delay());
    const lookupMs = Math.max(...lookups.map((x) => x.ms));
    wholePuts.push({ ms: lookupMs + storeMs, lookupMs, storeMs, queried: lookups.reduce((sum, x) => sum + x.queried, 0) });
  }
  return { n, k, alpha, meanRttMs: 2 * (latency + jitter / 2), gets: getRuns, puts: putRuns, wholePuts };
}

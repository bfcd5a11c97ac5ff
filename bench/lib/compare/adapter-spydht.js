/**
 * spydht for the side-by-side run (drive.js): `createNode` on its own loopback address (node:crypto), joined
 * through the first node; ready = `createNode` resolved, i.e. its join (bootstrap) finished.
 *
 * Identities are made before the clock starts (an ID is made once and persisted, so it is not
 * part of joining); their cost is reported apart. Proof of work runs at the network default
 * (powBaseBits 14) in this thread, without yielding (see powSolver below), and each solve is
 * timed, so a put is reported with and without it.
 */
import { performance } from 'node:perf_hooks';

/** Loaded from dist/ when the adapter is made (after `npm run build`). */
export async function spydhtAdapter() {
  const { createNode, reachableAddresses, Identity, DEFAULT_POW_BASE_BITS, nodePoolCrypto } = await import('../../../dist/node/index.js');
  const { powSearch, nonceAt } = await import('../../../dist/crypto/pow-search.js');
  const { readFileSync } = await import('node:fs');
  const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
  // A cheap ID puzzle (it only changes how long identities take to make, which is not timed here);
  // the default proof of work. Every other option is the default: each node has an IP of its own.
  const network = { name: 'bench-compare', idDifficulty: 4 };
  const identities = [];
  /** Wall ms spent in proof of work, all nodes: puts are sequential, so a put's share is the delta. */
  let powMs = 0;
  // The solve runs without yielding, so its time is the work alone. A put looks up its holders
  // while its work is solved; the default solver yields every 8 ms, and in this one-process swarm
  // the lookups' CPU (every node's) would run inside the solve's wall time and be subtracted from
  // "PoW excluded" with it. Blocking, nothing overlaps: the figure stays the non-PoW time.
  const powSolver = async (input, target) => {
    const t = performance.now();
    try {
      const search = powSearch(input, Number(target >> 32n), Number(target & 0xffffffffn));
      for (let hi = 0; ; hi++) {
        const tried = search.run(hi, 0, 2 ** 32 - 1);
        if (tried >= 0) return nonceAt(hi, 0, tried);
      }
    } finally {
      powMs += performance.now() - t;
    }
  };
  const make = (host, bootstrap) => createNode({ host, port: 0, network, identity: identities.pop(), powSolver, bootstrap });

  return {
    name: 'spydht',
    version,
    settings: `network ${JSON.stringify(network)} (powBaseBits ${DEFAULT_POW_BASE_BITS}, the default), node:crypto (createNode's default: Ed25519 on the thread pool), other options default`,
    async prepare(n) {
      const t = performance.now();
      for (let i = 0; i < n; i++) identities.push(await Identity.generate({ crypto: nodePoolCrypto, difficulty: network.idDifficulty }));
      return { identityMsPerNode: (performance.now() - t) / n, idDifficulty: network.idDifficulty };
    },
    createFirst: (host) => make(host, []),
    createJoining: (host, boot) => make(host, [boot]),
    addressOf: (dht) => reachableAddresses(dht)[0],
    tableSize: (dht) => dht.routing.size,
    holds: (dht, key) => dht.storage.has(key),
    async put(dht, content) {
      const pow0 = powMs;
      const r = await dht.publish(`compare ${content.slice(0, 24)}`, content);
      return { key: r.key, stored: r.stored, powMs: powMs - pow0 };
    },
    async get(dht, key) {
      return (await dht.get(key))?.text();
    },
    close: (dht) => dht.close(),
  };
}

/**
 * spydht for the side-by-side run (drive.js): `createNode` on its own loopback address (node:crypto), joined
 * through the first node; ready = `createNode` resolved, i.e. its join (bootstrap) finished.
 *
 * Identities are made before the clock starts (an ID is made once and persisted, so it is not
 * part of joining); their cost is reported apart. Proof of work runs at the network default
 * (powBaseBits 14) in this thread, without yielding (see powSolver below), and each solve is
 * timed, so a put is reported with and without it.
 */
import { diffieHellman, generateKeyPairSync } from 'node:crypto';
import { performance } from 'node:perf_hooks';

/**
 * What the signatures section swaps in for Ed25519 (bench/sections/signatures.js), both bench only:
 * - 'free': every signature is 64 zero bytes and every check passes;
 * - 'x25519': signing is free and each check costs one X25519 key agreement in this thread, then
 *   passes: the CPU a pair of nodes would pay if they proved their keys to each other by static
 *   X25519 agreement and MACs (each side one agreement per pair, kept for the pair's later
 *   messages) instead of a signature and a check per side. A cost model, not that protocol.
 * Either way anyone could claim any ID: never a backend to run a node with. The rest of `base`
 * (SHA-256, HMAC, key generation) is unchanged.
 */
function withModelledSignatures(base, model) {
  if (model !== 'free' && model !== 'x25519') throw new Error(`unknown signature model ${model}: real, free or x25519`);
  const zeros = async () => new Uint8Array(64);
  let verify = async () => true;
  if (model === 'x25519') {
    const ours = generateKeyPairSync('x25519');
    const theirs = generateKeyPairSync('x25519');
    verify = async () => diffieHellman({ privateKey: ours.privateKey, publicKey: theirs.publicKey }).length === 32;
  }
  const label = model === 'free' ? 'Ed25519 made free' : 'signing free, each check one X25519 agreement';
  return { ...base, name: `${base.name}, ${label} (INSECURE, bench only)`, sign: zeros, signer: () => zeros, verify };
}

/**
 * Loaded from dist/ when the adapter is made (after `npm run build`). `signatures`: 'real' (the
 * default), or 'free' / 'x25519' (withModelledSignatures), to measure what the signatures cost
 * this one-process run.
 */
export async function spydhtAdapter({ signatures = 'real' } = {}) {
  const { createNode, reachableAddresses, Identity, DEFAULT_POW_BASE_BITS, nodePoolCrypto } = await import('../../../dist/node/index.js');
  const modelled = signatures !== 'real';
  const crypto = modelled ? withModelledSignatures(nodePoolCrypto, signatures) : nodePoolCrypto;
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
  const make = (host, bootstrap) => createNode({ host, port: 0, network, identity: identities.pop(), powSolver, bootstrap, crypto });

  return {
    name: modelled ? `spydht-${signatures}-signatures` : 'spydht',
    version,
    settings: `network ${JSON.stringify(network)} (powBaseBits ${DEFAULT_POW_BASE_BITS}, the default), ${modelled ? crypto.name : "node:crypto (createNode's default: Ed25519 on the thread pool)"}, other options default`,
    async prepare(n) {
      const t = performance.now();
      for (let i = 0; i < n; i++) identities.push(await Identity.generate({ crypto, difficulty: network.idDifficulty }));
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

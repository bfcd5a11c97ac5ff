/**
 * `createTestnet(n)`: n nodes on the simulated network, on a virtual clock, joined through the
 * first one. Tests, benchmarks and the README's simulation example all build on it, and it is
 * exported so applications can test their own code against a swarm of any size in milliseconds.
 *
 * ```js
 * import { createTestnet } from 'spydht/node';
 * const tn = await createTestnet(50, { latency: 20, loss: 0.05 });
 * const key = await tn.run(tn.nodes[3].put('label', 'content'));
 * console.log((await tn.run(tn.nodes[40].get(key)))?.text()); // content
 * await tn.close();
 * ```
 */
import type { CryptoBackend } from './crypto/backend.js';
import { Identity } from './crypto/identity.js';
import { nobleCrypto } from './crypto/noble.js';
import { DHT, type DHTOptions } from './dht.js';
import type { NetworkOptions } from './network.js';
import { SimNetwork, type NetworkConditions } from './transport/memory.js';
import { SimClock } from './transport/sim-clock.js';

/**
 * Cheap settings for simulations (a 2-bit ID puzzle, 6-bit proof of work): the puzzle and the
 * proof of work are measured on their own, and at full price they would dominate a big simulation.
 */
export const SIM_NETWORK: NetworkOptions = { name: 'sim', idDifficulty: 2, powBaseBits: 6 };

export interface TestnetOptions extends Partial<NetworkConditions> {
  /** Seed of the network's random choices (latency, loss): the same seed, the same run. */
  seed?: number;
  /** Nodes joining at once; the rest wait their turn (default 20). */
  joinBatch?: number;
  /** The swarm's settings (default SIM_NETWORK). */
  network?: NetworkOptions;
  /** Options for every node (k, storage, client …). */
  node?: Partial<DHTOptions>;
  /** Crypto backend of every node (default @noble; `spydht/node` passes node:crypto, ~20× faster). */
  crypto?: CryptoBackend;
  /** Called after each batch of joins, e.g. to print progress in a long simulation. */
  onJoined?: (joined: number, total: number, net: SimNetwork) => void;
}

export interface Testnet {
  clock: SimClock;
  net: SimNetwork;
  /** Every node, the first one (the bootstrap node) first. */
  nodes: DHT[];
  /** Creates one more node and joins it through the first. */
  addNode(extra?: Partial<DHTOptions>): Promise<DHT>;
  /** Runs virtual time until `p` settles (or `maxMs` of virtual time pass: then it rejects). */
  run<T>(p: Promise<T>, maxMs?: number): Promise<T>;
  /** Closes every node. */
  close(): Promise<void>;
}

export async function createTestnet(n: number, options: TestnetOptions = {}): Promise<Testnet> {
  const { seed = 1, latency = 10, jitter = 10, loss = 0, duplicate = 0, joinBatch = 20, network = SIM_NETWORK, crypto = nobleCrypto } = options;
  const clock = new SimClock();
  const net = new SimNetwork({ clock, seed, latency, jitter, loss, duplicate });
  const nodes: DHT[] = [];

  const make = async (extra: Partial<DHTOptions> = {}): Promise<DHT> => {
    const identity = await Identity.generate({ crypto, difficulty: network.idDifficulty ?? 0 });
    const dht = await DHT.create({ transports: [net.createTransport()], crypto, identity, network, clock, ...options.node, ...extra });
    nodes.push(dht);
    return dht;
  };
  const run = <T>(p: Promise<T>, maxMs?: number): Promise<T> => clock.run(p, maxMs);
  const addNode = async (extra?: Partial<DHTOptions>): Promise<DHT> => {
    const first = nodes[0];
    const dht = await make({ ...extra, bootstrap: first ? first.localAddresses() : [] });
    if (first) await run(dht.bootstrap());
    return dht;
  };

  if (n > 0) await make();
  // Each batch is created just before it joins: a node created earlier would sit alone while
  // virtual time runs for the batches before it, and its maintenance would join on its own.
  for (let joined = 1; joined < n; ) {
    const batch: DHT[] = [];
    for (let i = 0; i < joinBatch && joined + i < n; i++) batch.push(await make({ bootstrap: nodes[0]!.localAddresses() }));
    await run(Promise.all(batch.map((d) => d.bootstrap())));
    joined += batch.length;
    options.onJoined?.(joined, n, net);
  }
  return { clock, net, nodes, addNode, run, close: async () => void (await Promise.all(nodes.map((d) => d.close()))) };
}

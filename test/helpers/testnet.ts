/**
 * createTestnet(n): n nodes on the simulated network, joined through the first, on a virtual
 * clock. Every engine test builds on this.
 */
import { DHT, type DHTOptions } from '../../src/dht.js';
import { Identity } from '../../src/crypto/identity.js';
import { SimNetwork, type NetworkConditions } from '../../src/transport/memory.js';
import { SimClock } from '../../src/transport/sim-clock.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import type { NetworkOptions } from '../../src/network.js';

/** Cheap settings for simulations: the puzzle and PoW are tested on their own. */
export const SIM_NETWORK: NetworkOptions = { name: 'sim', idDifficulty: 2, powBaseBits: 6 };

export interface Testnet {
  clock: SimClock;
  net: SimNetwork;
  nodes: DHT[];
  /** Adds and joins one more node. */
  addNode(extra?: Partial<DHTOptions>): Promise<DHT>;
  /** Runs virtual time until the promise settles. */
  run<T>(p: Promise<T>, maxMs?: number): Promise<T>;
  close(): Promise<void>;
}

export interface TestnetOptions extends Partial<NetworkConditions> {
  seed?: number;
  /** Nodes joining at once (the rest wait their turn). */
  joinBatch?: number;
  network?: NetworkOptions;
  node?: Partial<DHTOptions>;
}

export async function createTestnet(n: number, o: TestnetOptions = {}): Promise<Testnet> {
  const clock = new SimClock();
  const net = new SimNetwork({ clock, seed: o.seed ?? 1, latency: o.latency ?? 10, jitter: o.jitter ?? 10, loss: o.loss ?? 0, duplicate: o.duplicate ?? 0 });
  const network = o.network ?? SIM_NETWORK;
  const nodes: DHT[] = [];

  const make = async (extra: Partial<DHTOptions> = {}): Promise<DHT> => {
    const identity = await Identity.generate({ crypto: nodeCrypto, difficulty: network.idDifficulty ?? 0 });
    const dht = await DHT.create({
      transports: [net.createTransport()],
      crypto: nodeCrypto,
      identity,
      network,
      clock,
      ...o.node,
      ...extra,
    });
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
  const rest: DHT[] = [];
  for (let i = 1; i < n; i++) rest.push(await make({ bootstrap: nodes[0]!.localAddresses() }));
  const batch = o.joinBatch ?? 20;
  for (let i = 0; i < rest.length; i += batch) {
    await run(Promise.all(rest.slice(i, i + batch).map((d) => d.bootstrap())));
  }
  return {
    clock,
    net,
    nodes,
    addNode,
    run,
    close: async () => {
      await Promise.all(nodes.map((d) => d.close()));
    },
  };
}

/** A deterministic pseudo-random integer in [0, n). */
export function pick(n: number, seed: { s: number }): number {
  seed.s = (Math.imul(seed.s, 1103515245) + 12345) >>> 0;
  return seed.s % n;
}

/** Median of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

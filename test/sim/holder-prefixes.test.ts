/**
 * Replicas per IP prefix (SECURITY.md, "Eclipse a key"): a /24 full of nodes gets at most 2
 * replicas per location of a key, so IDs ground inside one prefix cannot take all of them; a
 * deployment that raised `maxPerPrefix` (a swarm on one private network) gets replicas to match,
 * for immutable and mutable records alike.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { DHT } from '../../src/dht.js';
import { createTestnet, type Testnet } from '../helpers/testnet.js';

let tn: Testnet | undefined;
afterEach(async () => {
  await tn?.close();
  tn = undefined;
});

const holders = (nodes: DHT[], hex: string): number => nodes.filter((n) => n.internals.store.entry(Uint8Array.from(Buffer.from(hex, 'hex')))).length;

/** `n` nodes, every one in 10.77.0.0/24, with `maxPerPrefix` for all of them. */
async function swarmInOnePrefix(n: number, maxPerPrefix?: number): Promise<Testnet> {
  const t = await createTestnet(0, maxPerPrefix === undefined ? {} : { node: { maxPerPrefix } });
  for (let i = 1; i <= n; i++) await t.addNode({ transports: [t.net.createTransport({ ip: `10.77.0.${i}` })] });
  return t;
}

describe('replicas per IP prefix', () => {
  it('a /24 full of nodes holds at most 2 replicas per location of any key', async () => {
    tn = await createTestnet(30);
    const t = tn;
    for (let i = 1; i <= 30; i++) await t.addNode({ transports: [t.net.createTransport({ ip: `10.77.0.${i}` })] });
    const crowd = t.nodes.slice(30);
    let most = 0;
    for (let i = 0; i < 8; i++) {
      const r = await t.run(t.nodes[i]!.publish(`crowded ${i}`, 'value'));
      most = Math.max(most, holders(crowd, r.key));
      expect(r.prefixes).toBeGreaterThanOrEqual(2);
    }
    console.log(`most replicas held in the crowded /24: ${most}`);
    expect(most).toBeLessThanOrEqual(4);
  });

  it('a swarm on one private network that raised maxPerPrefix stores each value on as many nodes as it allows', async () => {
    // The contrast: with the default bound, tables hold 4 nodes of the /24 and a put finds few more.
    tn = await swarmInOnePrefix(30);
    const capped = await tn.run(tn.nodes[3]!.publish('one prefix', 'value'));
    expect(capped.stored).toBeLessThanOrEqual(5);
    await tn.close();

    tn = await swarmInOnePrefix(30, 64);
    const raised = await tn.run(tn.nodes[3]!.publish('one prefix', 'value'));
    expect(raised.stored).toBeGreaterThanOrEqual(15);
    expect(holders(tn.nodes, raised.key)).toBe(raised.stored);
    // And every node of the swarm finds it.
    for (const n of tn.nodes.slice(10, 15)) expect((await tn.run(n.findValue(raised.key))).value?.text()).toBe('value');

    // Mutable records follow the same bound.
    const owner = tn.nodes[4]!;
    const mutable = await tn.run(owner.putMutable('v1'));
    expect(mutable.stored).toBeGreaterThanOrEqual(15);
    const key = Uint8Array.from(Buffer.from(mutable.key, 'hex'));
    expect(tn.nodes.filter((n) => n.internals.mutableStore.get(key, n.internals.clock.now() / 1000)).length).toBe(mutable.stored);
  });
});

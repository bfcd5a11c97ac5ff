import { afterEach, describe, expect, it } from 'vitest';
import { createTestnet, type Testnet } from '../helpers/testnet.js';

let tn: Testnet | undefined;
afterEach(async () => {
  await tn?.close();
  tn = undefined;
});

describe('small simulated swarm', () => {
  it('20 nodes: every node knows others, a put is gettable from every node', async () => {
    tn = await createTestnet(20);
    for (const n of tn.nodes) expect(n.table.size).toBeGreaterThan(5);
    const key = await tn.run(tn.nodes[3]!.put('greeting', 'hello, swarm'));
    for (const n of tn.nodes) {
      const v = await tn.run(n.get(key));
      expect(v?.text()).toBe('hello, swarm');
    }
  });
});

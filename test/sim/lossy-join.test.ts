/**
 * Joining itself under 10 % loss: a node whose first exchange is lost must still join (the
 * bootstrap ping is retried), and every put must be gettable afterwards.
 */
import { afterEach, expect, it } from 'vitest';
import { createTestnet, pick, type Testnet } from '../helpers/testnet.js';

let tn: Testnet | undefined;
afterEach(async () => {
  await tn?.close();
  tn = undefined;
});

it('150 nodes join at 10 % loss; 50 puts and 50 gets from random nodes all succeed', { timeout: 300_000 }, async () => {
  tn = await createTestnet(150, { seed: 3, latency: 20, jitter: 20, loss: 0.1 });
  const t = tn;
  // Every node joined (a lost first exchange is retried) and knows enough to route; a join's
  // refresh lookups can lose a few replies, so one node may end with fewer than k contacts (15 of
  // 20 seen), while the swarm as a whole fills its tables.
  const sizes = t.nodes.map((n) => n.routing.size).sort((a, b) => a - b);
  expect(sizes[0]).toBeGreaterThanOrEqual(10);
  expect(sizes[Math.floor(sizes.length / 2)]).toBeGreaterThanOrEqual(20);
  const rnd = { s: 5 };
  const puts = await t.run(
    Promise.all(Array.from({ length: 50 }, (_, i) => t.nodes[pick(150, rnd)]!.put(`lossy ${i}`, `content ${i}`).then((key) => ({ key, i })))),
  );
  const got = await t.run(Promise.all(puts.map(({ key }) => t.nodes[pick(150, rnd)]!.get(key))));
  got.forEach((v, i) => expect(v?.text()).toBe(`content ${puts[i]!.i}`));
});

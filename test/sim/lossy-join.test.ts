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
  for (const n of t.nodes) expect(n.routing.size).toBeGreaterThanOrEqual(20);
  const rnd = { s: 5 };
  const puts = await t.run(
    Promise.all(Array.from({ length: 50 }, (_, i) => t.nodes[pick(150, rnd)]!.put(`lossy ${i}`, `content ${i}`).then((key) => ({ key, i })))),
  );
  const got = await t.run(Promise.all(puts.map(({ key }) => t.nodes[pick(150, rnd)]!.get(key))));
  got.forEach((v, i) => expect(v?.text()).toBe(`content ${puts[i]!.i}`));
});

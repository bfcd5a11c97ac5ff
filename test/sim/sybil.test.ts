/**
 * The Sybil curve, small: a fifth of a 300-node swarm hostile (silent, lying about contacts,
 * acknowledging stores they drop, forging values), and honest nodes still put and get. The full
 * curve (1,000 nodes, 10–40 %) is `npm run sim -- --nodes 1000 --sybil 0.1,0.2,0.3,0.4`.
 */
import { afterEach, expect, it } from 'vitest';
import { idKey } from '../../src/id.js';
import type { DHT } from '../../src/dht.js';
import { MISBEHAVIOURS, makeHostile } from '../helpers/adversary.js';
import { createTestnet, pick, type Testnet } from '../helpers/testnet.js';

let tn: Testnet | undefined;
afterEach(async () => {
  await tn?.close();
  tn = undefined;
});

it('with 20 % of nodes hostile, honest gets succeed at least 99 % of the time', async () => {
  tn = await createTestnet(300, { seed: 7 });
  const t = tn;
  const seed = { s: 11 };
  const allies = new Set<string>();
  const hostile = new Set<DHT>();
  while (hostile.size < 60) {
    const n = t.nodes[1 + pick(t.nodes.length - 1, seed)]!;
    if (hostile.has(n)) continue;
    hostile.add(n);
    allies.add(idKey(n.identity.id));
  }
  let i = 0;
  for (const n of hostile) await makeHostile(n, MISBEHAVIOURS[i++ % MISBEHAVIOURS.length]!, allies);
  const honest = t.nodes.filter((n) => !hostile.has(n));
  const keys: string[] = [];
  for (let p = 0; p < 40; p++) keys.push(await t.run(honest[pick(honest.length, seed)]!.put(`sybil ${p}`, `value ${p}`)));
  let found = 0;
  const gets = 200;
  for (let g = 0; g < gets; g++) {
    const k = g % keys.length;
    const reader = honest[pick(honest.length, seed)]!;
    if ((await t.run(reader.get(keys[k]!)))?.text() === `value ${k}`) found++;
  }
  expect(found / gets).toBeGreaterThanOrEqual(0.99);
}, 120_000);

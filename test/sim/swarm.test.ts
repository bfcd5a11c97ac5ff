/**
 * The engine's headline property on the simulated network: 1,000 nodes, 200 puts and 200 gets
 * from random nodes; 100 % success without loss and ≥ 99.9 % with 10 % datagram loss.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createTestnet, median, pick, type Testnet } from '../helpers/testnet.js';

const N = Number(process.env.SPYDHT_SIM_NODES ?? 1000);
const OPS = 200;

let tn: Testnet | undefined;
afterEach(async () => {
  await tn?.close();
  tn = undefined;
});

async function putsAndGets(t: Testnet, seed: number): Promise<{ putOk: number; getOk: number; hops: number[] }> {
  const rnd = { s: seed };
  const keys: { key: string; content: string }[] = [];
  let putOk = 0;
  // Puts and gets run 20 at a time, from random nodes, as independent users would.
  for (let i = 0; i < OPS; i += 20) {
    const batch = Array.from({ length: Math.min(20, OPS - i) }, (_, j) => {
      const content = `value ${i + j} from seed ${seed}`;
      const node = t.nodes[pick(t.nodes.length, rnd)]!;
      return node.put(`label-${i + j}`, content).then(
        (key) => {
          putOk++;
          keys.push({ key, content });
        },
        () => {},
      );
    });
    await t.run(Promise.all(batch));
  }
  let getOk = 0;
  const hops: number[] = [];
  for (let i = 0; i < OPS; i += 20) {
    const batch = Array.from({ length: Math.min(20, OPS - i) }, (_, j) => {
      const want = keys[(i + j) % keys.length]!;
      const node = t.nodes[pick(t.nodes.length, rnd)]!;
      return node.findValue(want.key).then(
        (r) => {
          if (r.value?.text() === want.content) {
            getOk++;
            hops.push(r.hops);
          }
        },
        () => {},
      );
    });
    await t.run(Promise.all(batch));
  }
  return { putOk, getOk, hops };
}

describe(`simulated swarm of ${N} nodes`, () => {
  // One swarm for both phases: joining 1,000 nodes is most of the cost. The lossy phase uses new
  // keys, new putters and new getters, so nothing it checks was settled before the loss began.
  it('200 puts + 200 gets: all succeed at 0 % loss, ≥ 99.9 % at 10 % loss', { timeout: 1_200_000 }, async () => {
    const started = Date.now();
    tn = await createTestnet(N, { seed: 7, latency: 20, jitter: 20 });
    const joined = Date.now();
    const clean = await putsAndGets(tn, 11);
    console.log(
      `[sim] ${N} nodes, 0% loss: join ${((joined - started) / 1000).toFixed(1)} s real, puts ${clean.putOk}/${OPS}, gets ${clean.getOk}/${OPS}, median hops ${median(clean.hops)}, ${tn.net.stats.sent} datagrams`,
    );
    expect(clean.putOk).toBe(OPS);
    expect(clean.getOk).toBe(OPS);

    tn.net.conditions.loss = 0.1;
    const lossy = await putsAndGets(tn, 12);
    console.log(`[sim] ${N} nodes, 10% loss: puts ${lossy.putOk}/${OPS}, gets ${lossy.getOk}/${OPS}, median hops ${median(lossy.hops)}`);
    expect(lossy.putOk).toBe(OPS);
    // 99.9 % of 200 rounds up to all 200.
    expect(lossy.getOk / OPS).toBeGreaterThanOrEqual(0.999);
  });
});

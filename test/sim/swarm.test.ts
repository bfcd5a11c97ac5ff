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
  it('no loss: 200 puts and 200 gets all succeed', { timeout: 600_000 }, async () => {
    const started = Date.now();
    tn = await createTestnet(N, { seed: 7, latency: 20, jitter: 20 });
    const joined = Date.now();
    const r = await putsAndGets(tn, 11);
    console.log(
      `[sim] ${N} nodes, 0% loss: join ${((joined - started) / 1000).toFixed(1)} s real, puts ${r.putOk}/${OPS}, gets ${r.getOk}/${OPS}, median hops ${median(r.hops)}, ${tn.net.stats.sent} datagrams`,
    );
    expect(r.putOk).toBe(OPS);
    expect(r.getOk).toBe(OPS);
  });

  it('10 % loss: at least 99.9 % of gets succeed', { timeout: 600_000 }, async () => {
    tn = await createTestnet(N, { seed: 8, latency: 20, jitter: 20, loss: 0.1 });
    const r = await putsAndGets(tn, 12);
    console.log(`[sim] ${N} nodes, 10% loss: puts ${r.putOk}/${OPS}, gets ${r.getOk}/${OPS}, median hops ${median(r.hops)}, ${tn.net.stats.sent} datagrams`);
    expect(r.putOk).toBe(OPS);
    // 99.9 % of 200 rounds up to all 200.
    expect(r.getOk / OPS).toBeGreaterThanOrEqual(0.999);
  });
});

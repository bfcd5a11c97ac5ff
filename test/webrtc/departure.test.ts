/**
 * A tab that closes leaves the others' routing tables at once (its WebRTC links close while in use),
 * so a tab opened right after is not handed the departed one and does not wait out connect timeouts
 * toward it. Real WebRTC (node-datachannel) between browser-like nodes, a real signaling server.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DHT } from '../../src/dht.js';
import { startLocalSwarm, type LocalSwarm } from '../../src/node/index.js';
import { browserLikeNode } from '../helpers/browser-like.js';

const NETWORK = { name: 'departure-test', idDifficulty: 4, powBaseBits: 8 };
let swarm: LocalSwarm;
const tabs: DHT[] = [];

function openTab(): Promise<DHT> {
  return browserLikeNode(NETWORK, { signalingUrl: swarm.url, maxPerIp: swarm.maxPerIp });
}

beforeAll(async () => {
  swarm = await startLocalSwarm({ host: '127.0.0.1', network: NETWORK, bridges: 1, clients: 0 });
  for (let i = 0; i < 3; i++) tabs.push(await openTab());
}, 120_000);

afterAll(async () => {
  await Promise.all(tabs.map((n) => n.close()));
  await swarm?.close();
});

it('a closed tab leaves the other tabs’ tables within seconds, not after failed pings', { timeout: 60_000 }, async () => {
  const [a, b, leaving] = tabs as [DHT, DHT, DHT];
  // Traffic over the links (a lookup each way) so they are in use, as in a live swarm.
  for (const t of [a, b]) expect((await t.findNode(leaving.id)).map((c) => c.id)).toContain(leaving.id);
  const gone = (t: DHT): Promise<void> =>
    new Promise((resolve) => {
      if (!t.internals.table.all().some((c) => Buffer.from(c.id).toString('hex') === leaving.id)) return resolve();
      const onRemoved = (c: { id: string }): void => {
        if (c.id !== leaving.id) return;
        t.off('contact-removed', onRemoved);
        resolve();
      };
      t.on('contact-removed', onRemoved);
    });
  const waits = [gone(a), gone(b)];
  await leaving.close();
  tabs.splice(tabs.indexOf(leaving), 1);
  // Bounded: the maintenance pings that would otherwise notice take minutes (10 min of silence).
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('still in a table after 10 s')), 10_000)));
  await Promise.race([Promise.all(waits), deadline]).finally(() => clearTimeout(timer));
  // And a tab opened now is not handed the departed one.
  const late = await openTab();
  tabs.push(late);
  expect(late.internals.table.all().map((c) => Buffer.from(c.id).toString('hex'))).not.toContain(leaving.id);
  expect((a.stats() as Record<string, number | undefined>)['webrtc.linksClosedByPeer'] ?? 0).toBeGreaterThan(0);
});

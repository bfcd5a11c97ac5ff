/**
 * Mutable records over real UDP sockets (loopback, one IP and one /24 per node so the per-IP and
 * per-prefix limits stay at their defaults): updates, a holder that missed an update (read repair), writers racing with cas,
 * and a replayed old version.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../src/bytes.js';
import { Identity } from '../../src/crypto/identity.js';
import type { DHT } from '../../src/dht.js';
import { isSpydhtError } from '../../src/errors.js';
import { createNode } from '../../src/node/create-node.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { MessageType } from '../../src/wire/messages.js';
import { MutableStoreStatus, type WireMutableRecord } from '../../src/wire/mutable.js';
import { until } from '../helpers/wait.js';

const NETWORK = { name: 'spydht-udp-mutable', idDifficulty: 4, powBaseBits: 8 };
const nodes: DHT[] = [];

beforeAll(async () => {
  const first = await createNode({ host: '127.31.1.1', network: NETWORK });
  nodes.push(first);
  const [bootstrap] = first.localAddresses().map((a) => first.formatAddress(a));
  for (let i = 2; i <= 10; i++) nodes.push(await createNode({ host: `127.31.${i}.1`, network: NETWORK, bootstrap: [bootstrap!] }));
}, 60_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
});

const held = (n: DHT, key: string): WireMutableRecord | undefined => n.internals.mutableStore.get(fromHex(key), Math.floor(Date.now() / 1000));

describe('mutable records over UDP', () => {
  it('updates reach every node; a holder that missed one is repaired by the next get', { timeout: 30_000 }, async () => {
    const writer = nodes[1]!;
    const { key } = await writer.putMutable('one', { salt: 'udp' });
    const holders = nodes.filter((n) => held(n, key));
    expect(holders.length).toBeGreaterThanOrEqual(8);
    // One holder misses the update: it refuses every store while the update is written.
    const stale = holders.find((n) => n !== writer)!;
    const put = stale.internals.mutableStore.put.bind(stale.internals.mutableStore);
    stale.internals.mutableStore.put = (record) => ({ status: MutableStoreStatus.FULL, held: { seq: record.seq - 1, tag: new Uint8Array(8) } });
    try {
      expect((await writer.putMutable('two', { salt: 'udp' })).seq).toBe(2);
    } finally {
      stale.internals.mutableStore.put = put;
    }
    expect(held(stale, key)?.seq).toBe(1);
    const reader = nodes.find((n) => n !== writer && n !== stale)!;
    const v = await reader.getMutable(writer.identity.publicKey, { salt: 'udp' });
    expect([v?.seq, v?.text()]).toEqual([2, 'two']);
    await until(() => held(stale, key)?.seq === 2, 'the stale holder to be repaired');
    for (const n of nodes) expect((await n.getMutable(writer.identity.publicKey, { salt: 'udp' }))?.text()).toBe('two');
  });

  it('two writers sharing an identity race with cas: at most one wins, every reader sees one copy', { timeout: 30_000 }, async () => {
    const owner = await Identity.generate({ crypto: nodeCrypto, difficulty: NETWORK.idDifficulty });
    const [a, b] = [nodes[2]!, nodes[7]!];
    await a.putMutable('base', { owner });
    const results = await Promise.allSettled([a.putMutable('from a', { owner, cas: 1 }), b.putMutable('from b', { owner, cas: 1 })]);
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won.length).toBeLessThanOrEqual(1);
    for (const r of results) if (r.status === 'rejected') expect(isSpydhtError(r.reason, 'CAS_CONFLICT'), String(r.reason)).toBe(true);
    const texts = new Set<string | undefined>();
    for (const n of nodes) texts.add((await n.getMutable(owner.publicKey))?.text());
    expect(texts.size).toBe(1);
    expect([...texts][0]).toMatch(/^from [ab]$/);
  });

  it('a replayed old version is refused by the holders of the newer one', { timeout: 30_000 }, async () => {
    const writer = nodes[4]!;
    const { key } = await writer.putMutable('first', { salt: 'replay' });
    const old = nodes.map((n) => held(n, key)).find((r) => r)!;
    await writer.putMutable('second', { salt: 'replay' });
    const attacker = nodes[9]!;
    const target = nodes.find((n) => n !== attacker && held(n, key)?.seq === 2)!;
    const reply = await attacker.internals.rpc.request(target.localAddresses()[0]!, { type: MessageType.STORE_MUTABLE, cas: undefined, record: old }, { expectId: target.identity.id, attempts: 3 });
    expect(reply.message.type === MessageType.STORE_MUTABLE_ACK && reply.message.status).toBe(MutableStoreStatus.STALE_SEQ);
    expect(held(target, key)?.seq).toBe(2);
  });
});

import { afterEach, describe, expect, it } from 'vitest';
import type { DHT } from '../../src/dht.js';
import { inThreadPowSolver } from '../../src/crypto/pow.js';
import { Identity } from '../../src/crypto/identity.js';
import { compareDistance } from '../../src/id.js';
import { TICK_MS } from '../../src/maintenance.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { networkConfig } from '../../src/network.js';
import { SIM_NETWORK } from '../../src/testnet.js';
import { addressKey, decodeIpPort } from '../../src/wire/address.js';
import { decodeMessage, MessageType, REQUEST_TYPES } from '../../src/wire/messages.js';
import { createTestnet, type Testnet } from '../helpers/testnet.js';

let tn: Testnet | undefined;
afterEach(async () => {
  await tn?.close();
  tn = undefined;
});

/**
 * Watches what `node` sends: where HELLO datagrams went, where a request of ours carried the
 * HELLO's proof instead (a write, or a lookup's query to a node the other location's lookup met
 * first), and where requests of type `writes` went.
 */
function traceProofs(node: DHT, writes: number): { hellos: Set<string>; written: Set<string>; proven: Set<string>; piggybacked: number; reset(): void } {
  const networkId = networkConfig(nodeCrypto, SIM_NETWORK).networkId;
  const transport = node.internals.transports[0]!;
  const send = transport.send.bind(transport);
  const trace = {
    hellos: new Set<string>(),
    written: new Set<string>(),
    proven: new Set<string>(),
    piggybacked: 0,
    reset(): void {
      trace.hellos = new Set();
      trace.written = new Set();
      trace.proven = new Set();
    },
  };
  transport.send = (to, bytes) => {
    const d = decodeMessage(bytes, networkId);
    if (d.ok && d.message.type === MessageType.HELLO) trace.hellos.add(addressKey(to));
    else if (d.ok && REQUEST_TYPES.has(d.message.type) && d.message.auth) {
      trace.proven.add(addressKey(to));
      trace.piggybacked++;
    }
    if (d.ok && d.message.type === writes) trace.written.add(addressKey(to));
    send(to, bytes);
  };
  return trace;
}

describe('small simulated swarm', () => {
  it('20 nodes: every node knows others, a put is gettable from every node', async () => {
    tn = await createTestnet(20);
    for (const n of tn.nodes) expect(n.routing.size).toBeGreaterThan(5);
    const key = await tn.run(tn.nodes[3]!.put('greeting', 'hello, swarm'));
    for (const n of tn.nodes) {
      const v = await tn.run(n.get(key));
      expect(v?.text()).toBe('hello, swarm');
    }
  });

  it('after churn, a peer that timed out is skipped by later lookups (30 s), yet comes back once heard from', async () => {
    tn = await createTestnet(20);
    const asker = tn.nodes[5]!;
    // Five nodes vanish without a word: still in every table, silent.
    const gone = tn.nodes.splice(10, 5);
    await Promise.all(gone.map((n) => n.close()));
    const goneIds = new Set(gone.map((n) => n.id));
    const t0 = tn.clock.now();
    await tn.run(asker.findNode(asker.id));
    const firstMs = tn.clock.now() - t0;
    const sentBefore = asker.stats().sent ?? 0;
    const t1 = tn.clock.now();
    const found = await tn.run(asker.findNode(asker.id));
    const secondMs = tn.clock.now() - t1;
    expect(found.some((c) => goneIds.has(c.id))).toBe(false);
    expect(asker.stats().skippedUnresponsive ?? 0).toBeGreaterThan(0);
    // The first lookup waited out the departed (timeouts); the second never asks them.
    expect(secondMs).toBeLessThan(firstMs / 2);
    expect((asker.stats().sent ?? 0) - sentBefore).toBeLessThan(40);
    // A live peer cut off for a moment is skipped too, and is a candidate again once heard from.
    const cut = tn.nodes[12]!;
    const ipOf = (n: DHT): string => decodeIpPort(n.localAddresses()[0]!)!.ip;
    tn.net.partition([[ipOf(cut)], tn.nodes.filter((n) => n !== cut).map(ipOf)]);
    await tn.run(asker.findNode(cut.id));
    tn.net.heal();
    expect((await tn.run(asker.findNode(cut.id))).map((c) => c.id)).not.toContain(cut.id);
    await tn.run(cut.ping(asker.localAddresses()[0]!));
    expect((await tn.run(asker.findNode(cut.id))).map((c) => c.id)).toContain(cut.id);
  });

  it('a put’s STOREs carry the HELLOs its lookups were asked for: no HELLO datagram to a holder, and the holder admits the putter', async () => {
    tn = await createTestnet(300);
    const putter = await tn.addNode();
    const trace = traceProofs(putter, MessageType.STORE);
    const byAddress = new Map(tn.nodes.map((n) => [addressKey(n.localAddresses()[0]!), n]));
    for (let i = 0; i < 3; i++) {
      trace.reset();
      expect((await tn.run(putter.publish(`hello-riding-${i}`, `value ${i}`))).stored).toBeGreaterThan(20);
      await tn.clock.advance(1000);
      const { hellos, written, proven } = trace;
      // A newcomer's first put meets mostly nodes that have room for it (a 300-node swarm's
      // tables hold ~40 each); later ones meet more that admitted it already, and need no proof.
      if (i === 0) expect([...written].filter((a) => proven.has(a)).length).toBeGreaterThanOrEqual(written.size / 4);
      expect([...written].filter((a) => hellos.has(a))).toEqual([]);
      for (const a of proven) expect(byAddress.get(a)!.internals.table.get(putter.internals.identity.id), `node ${a}`).toBeDefined();
    }
    expect(putter.stats().hellosPiggybacked).toBe(trace.piggybacked);
  });

  it('a mutable put’s and a delete’s requests carry the HELLOs their lookups were asked for, as a put’s do', async () => {
    tn = await createTestnet(300);
    const byAddress = new Map(tn.nodes.map((n) => [addressKey(n.localAddresses()[0]!), n]));
    /** Runs `op` on a node that just joined: its first operation meets mostly nodes with room for it. */
    const watch = async (op: (node: DHT) => Promise<unknown>, writes: number): Promise<void> => {
      const node = await tn!.addNode();
      const trace = traceProofs(node, writes);
      await tn!.run(op(node));
      await tn!.clock.advance(1000);
      const { hellos, written, proven } = trace;
      expect(written.size).toBeGreaterThan(20);
      // No node the operation wrote to got a HELLO datagram: each proof rode on a request.
      expect([...written].filter((a) => hellos.has(a))).toEqual([]);
      expect([...written].filter((a) => proven.has(a)).length).toBeGreaterThanOrEqual(written.size / 4);
      for (const a of proven) expect(byAddress.get(a)!.internals.table.get(node.internals.identity.id), `node ${a}`).toBeDefined();
      expect(node.stats().hellosPiggybacked ?? 0).toBe(trace.piggybacked);
    };
    await watch((node) => node.putMutable('first version'), MessageType.STORE_MUTABLE);
    // A record owned by an identity of its own, put by a member, deleted by a newcomer holding that identity.
    const owner = tn.nodes[5]!.internals.identity;
    const key = await tn.run(tn.nodes[5]!.put('to delete', 'soon gone', { owner }));
    await watch(async (node) => expect(await node.delete(key, { owner })).toBeGreaterThan(0), MessageType.DELETE);
  });

  it('a put looks up its holders while its proof of work is solved, and stores once the work is done', async () => {
    tn = await createTestnet(30);
    // A solver that takes 400 ms of (virtual) time, as a worker does on a slow device.
    const solve = inThreadPowSolver(nodeCrypto);
    const sentDuringWork: number[] = [];
    const putter = await tn.addNode({
      powSolver: (input, target, signal) =>
        new Promise((resolve, reject) => {
          const before = putter.stats().sent ?? 0;
          tn!.clock.setTimeout(() => {
            sentDuringWork.push((putter.stats().sent ?? 0) - before);
            solve(input, target, signal).then(resolve, reject);
          }, 400);
        }),
    });
    const t0 = tn.clock.now();
    const result = await tn.run(putter.publish('overlap', 'looked up meanwhile'));
    const elapsed = tn.clock.now() - t0;
    expect(result.stored).toBeGreaterThanOrEqual(2);
    // Both locations' lookups went out during the work: their queries, not just a STORE or two.
    expect(sentDuringWork).toHaveLength(1);
    expect(sentDuringWork[0]).toBeGreaterThanOrEqual(6);
    // So the put ends one round of STOREs after the work (a round trip here is 20–40 ms; 437 ms
    // in all as written), not after the work and then the lookups (505 ms before this change).
    expect(elapsed).toBeLessThan(400 + 2 * 40);
    const reader = tn.nodes[4]!;
    expect((await tn.run(reader.get(result.key)))?.text()).toBe('looked up meanwhile');
  });

  it('a newcomer among the k closest to a held key gets the record from the nearest holder within a few maintenance ticks', async () => {
    tn = await createTestnet(30, { node: { k: 8 } });
    const t = tn;
    const key = await t.run(t.nodes[3]!.put('hand-over', 'kept where it belongs'));
    const keyBytes = Uint8Array.from(Buffer.from(key, 'hex'));
    // An identity nearer the key than every member: its join's self-lookup then meets the key's
    // nearest holder, the one node that hands the record over (maintenance.ts handsOver). A
    // newcomer merely among the k closest may sit in another subtree that the nearest holder never
    // hears from; it gets the record at the hourly republish instead (seen once in 200 runs when
    // this test allowed 3 members nearer).
    let identity: Identity;
    do identity = await Identity.generate({ crypto: nodeCrypto, difficulty: SIM_NETWORK.idDifficulty ?? 0 });
    while (t.nodes.some((n) => compareDistance(n.identity.id, identity.id, keyBytes) < 0));
    const newcomer = await t.addNode({ identity });
    // Republishing is hourly and a join fetches no records: within a few 5 s ticks only a hand-over
    // brings it. (It may already be there when the join returns: a holder that admitted the
    // newcomer hands over at its next tick, which can fall inside the join: 4 runs in 120.)
    await t.clock.advance(4 * TICK_MS);
    expect(newcomer.internals.store.entry(keyBytes)?.record.content).toEqual(new TextEncoder().encode('kept where it belongs'));
  });
});

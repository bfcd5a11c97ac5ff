/**
 * One test per hole of the original spydht (see ORIGINAL-NOTES.md), end to end through DHT nodes
 * on the simulated network in virtual time. Each would fail on the original's behaviour.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { equalBytes, fromUtf8, toHex, utf8 } from '../../src/bytes.js';
import type { Clock } from '../../src/clock.js';
import { Identity, idPuzzleBits } from '../../src/crypto/identity.js';
import type { DHT } from '../../src/dht.js';
import { isSpydhtError } from '../../src/errors.js';
import { compareDistance, idToHex, type NodeId } from '../../src/id.js';
import { REFRESH_IDLE_MS } from '../../src/maintenance.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { inThreadPowSolver } from '../../src/crypto/pow.js';
import { replicaLocations } from '../../src/storage/placement.js';
import { createDeleteProof, type RecordRules } from '../../src/storage/record.js';
import type { MemoryTransport } from '../../src/transport/memory.js';
import type { SimClock } from '../../src/transport/sim-clock.js';
import { AddressKind, addressKey, decodeIpPort, encodeIpPort, type PeerAddress } from '../../src/wire/address.js';
import {
  DeleteStatus,
  Flags,
  MessageType,
  REQUEST_TYPES,
  StoreStatus,
  decodeMessage,
  type Body,
  type WireContact,
} from '../../src/wire/messages.js';
import { identityInBucket } from '../helpers/identity-in-bucket.js';
import { Raw, build } from '../helpers/raw-peer.js';
import { SIM_NETWORK, createTestnet, type Testnet } from '../helpers/testnet.js';

let tn: Testnet | undefined;
afterEach(async () => {
  await tn?.close();
  tn = undefined;
});

const DIFFICULTY = SIM_NETWORK.idDifficulty ?? 0;
const ZERO8 = new Uint8Array(8);
const transportOf = (n: DHT): MemoryTransport => n.internals.rpc.transportFor(AddressKind.SIM) as MemoryTransport;
const addrOf = (n: DHT): PeerAddress => n.localAddresses()[0]!;
const simAddr = (ip: string, port = 4000): PeerAddress => encodeIpPort(AddressKind.SIM, { ip, port });
const hexes = (ids: { id: NodeId }[] | NodeId[]): string[] => ids.map((x) => idToHex(x instanceof Uint8Array ? x : x.id));
const newIdentity = (): Promise<Identity> => Identity.generate({ crypto: nodeCrypto, difficulty: DIFFICULTY });

function rulesOf(n: DHT): RecordRules {
  return { networkId: n.config.networkId, powBaseBits: n.config.powBaseBits, maxTtlSeconds: n.config.maxTtlSeconds, maxSkewSeconds: n.config.maxSkewSeconds };
}

function closestNodes(nodes: DHT[], target: NodeId, count: number): DHT[] {
  return [...nodes].sort((a, b) => compareDistance(a.identity.id, b.identity.id, target)).slice(0, count);
}

const PING: Body = { type: MessageType.PING, pad: 0 };

// ---------------------------------------------------------------------------------------------

describe('holes of the original spydht, end to end', () => {
  it('hole 1: FIND_NODE answers with the nodes closest to the target, so lookups converge', async () => {
    tn = await createTestnet(40, { node: { k: 8 }, joinBatch: 1 });
    const t = tn;
    const b = t.nodes[5]!;
    const asker = await Raw.create(t);
    // The target as far from the asker as possible: the original would answer with the asker's neighbours.
    const target = asker.identity.id.map((x) => ~x & 0xff);
    // b's table may change while the request is in flight (maintenance goes on), so compare with
    // the table as it was when b sent its reply: b's closest at each of its sends to the asker.
    const tablesWhenSending: string[][] = [];
    const bTransport = transportOf(b);
    const send = bTransport.send.bind(bTransport);
    bTransport.send = (to, data) => {
      if (addressKey(to) === addressKey(asker.address)) tablesWhenSending.push(hexes(b.internals.table.closest(target, 8)));
      send(to, data);
    };
    const reply = await t.run(asker.request(addrOf(b), { type: MessageType.FIND_NODE, target, pad: 400 }));
    bTransport.send = send;
    if (reply.message.type !== MessageType.NODES) throw new Error('expected NODES');
    const got = reply.message.contacts.map((c) => idToHex(c.id));
    expect(got).toHaveLength(8);
    expect(tablesWhenSending).toContainEqual(got);
    expect(got).not.toEqual(hexes(b.internals.table.closest(asker.identity.id, 8)));

    // And lookups find exactly the k closest nodes of the whole network.
    const a = t.nodes[17]!;
    for (let i = 0; i < 5; i++) {
      const target2 = nodeCrypto.sha256(utf8(`hole 1 target ${i}`));
      const found = await t.run(a.findNode(target2));
      const others = t.nodes.filter((n) => n !== a);
      expect(found.map((c) => c.id)).toEqual(closestNodes(others, target2, 8).map((n) => n.id));
    }
  });

  it('hole 2: the boot node is not a central replica; records go to the nodes closest to their keys', async () => {
    tn = await createTestnet(40, { node: { k: 8 }, joinBatch: 1 });
    const t = tn;
    const boot = t.nodes[0]!;
    const keys: string[] = [];
    for (let i = 0; i < 20; i++) keys.push(await t.run(t.nodes[1 + (i % 39)]!.put(`hole 2 #${i}`, `value ${i}`)));
    // The boot node holds only the records whose keys it is close to, not all of them.
    expect(boot.storage.size).toBeLessThan(keys.length);
    // The k closest to each of the key's replica locations (the key itself and one derived from it),
    // and the 2k closest: placement's own bound (a node refuses a key unless fewer than 2k nodes
    // are closer to one of its locations).
    const replicas = (keyBytes: Uint8Array, n = 8): DHT[] => [...new Set(replicaLocations(nodeCrypto, keyBytes).flatMap((loc) => closestNodes(t.nodes, loc, n)))];
    for (const key of keys) {
      const keyBytes = Uint8Array.from(Buffer.from(key, 'hex'));
      const holders = new Set(t.nodes.filter((n) => n.internals.store.entry(keyBytes)).map((n) => n.id));
      // Only nodes near the key's locations hold it (the publisher and the boot node only when among them) …
      const near = new Set(replicas(keyBytes, 16).map((n) => n.id));
      expect([...holders].filter((id) => !near.has(id))).toEqual([]);
      // … and the k closest to them do, all but at most one (a lookup may settle one node short).
      const closest = replicas(keyBytes).map((n) => n.id);
      expect(closest.filter((id) => holders.has(id)).length).toBeGreaterThanOrEqual(closest.length - 1);
    }
    const bootNear = keys.filter((key) => replicas(Uint8Array.from(Buffer.from(key, 'hex')), 16).includes(boot));
    expect(boot.storage.size).toBeLessThanOrEqual(bootNear.length);
  });

  it('hole 3: a datagram with a spoofed source address never gets its ID into a routing table', async () => {
    tn = await createTestnet(12);
    const t = tn;
    const victim = t.nodes[4]!;
    const spoofer = await newIdentity();
    const realNode = t.nodes[7]!;
    const networkId = victim.config.networkId;
    const spoofed = simAddr('10.200.1.1'); // nobody there: replies vanish
    // Everything the victim sends toward the spoofed addresses.
    const toSpoofed: number[] = [];
    const send = transportOf(victim).send.bind(transportOf(victim));
    transportOf(victim).send = (to, data) => {
      if (decodeIpPort(to)?.ip.startsWith('10.200.1.')) toSpoofed.push(data[5]!);
      send(to, data);
    };
    for (let i = 0; i < 20; i++) {
      // Signed by the spoofer's own key (a valid ID), and claiming a real node's ID (cannot sign).
      transportOf(victim).receive(await build(networkId, PING, { senderId: spoofer.id, signer: spoofer, flags: Flags.WANT_AUTH }), spoofed);
      transportOf(victim).receive(await build(networkId, { type: MessageType.FIND_NODE, target: spoofer.id, pad: 0 }, { senderId: spoofer.id, signer: spoofer }), spoofed);
      transportOf(victim).receive(await build(networkId, PING, { senderId: realNode.identity.id }), simAddr('10.200.1.2'));
      // "Add me", signed, but without the token only a node that receives at that address has.
      for (const token of [ZERO8, nodeCrypto.randomBytes(8)]) {
        transportOf(victim).receive(await build(networkId, { type: MessageType.HELLO }, { senderId: spoofer.id, signer: spoofer, token }), spoofed);
      }
      await t.clock.advance(1_000);
    }
    await t.clock.advance(120_000);
    for (const n of t.nodes) {
      expect(n.internals.table.has(spoofer.id)).toBe(false);
      const c = n.internals.table.get(realNode.identity.id);
      if (c) expect(addressKey(c.address)).toBe(addressKey(addrOf(realNode)));
    }
    // The victim only ever answered: no datagram of its own went to an address that never proved it receives.
    expect(toSpoofed.length).toBeGreaterThan(0);
    expect(toSpoofed.filter((type) => REQUEST_TYPES.has(type) || type === MessageType.HELLO)).toEqual([]);
    expect(victim.stats().droppedHelloToken).toBe(40);
    expect(victim.internals.rpc.pendingCount).toBe(0);
  });

  it('hole 4: contacts from NODES replies are verified before use; fake ones never enter a table', async () => {
    tn = await createTestnet(16);
    const t = tn;
    const mallory = await Raw.create(t);
    const sybilTransport = await Raw.create(t); // answers as a real node's ID, but cannot sign as it
    const impersonated = t.nodes[9]!;
    sybilTransport.serve = (m) => (m.type === MessageType.PING ? { type: MessageType.PONG, observed: simAddr('10.0.0.1') } : undefined);
    // IDs that fail the puzzle.
    const weak: NodeId[] = [];
    for (let i = 0; weak.length < 5; i++) {
      const id = nodeCrypto.sha256(utf8(`weak ${i}`));
      if (idPuzzleBits(nodeCrypto, id) < DIFFICULTY) weak.push(id);
    }
    // Valid IDs at addresses where nobody answers.
    const ghosts = await Promise.all(Array.from({ length: 5 }, () => newIdentity()));
    const fakes: WireContact[] = [
      ...weak.map((id, i) => ({ id, addresses: [simAddr(`10.201.0.${i + 1}`)] })),
      ...ghosts.map((g, i) => ({ id: g.id, addresses: [simAddr(`10.202.0.${i + 1}`)] })),
      { id: impersonated.identity.id, addresses: [sybilTransport.address] },
    ];
    mallory.serve = (m, from) => {
      if (m.type === MessageType.PING) return { type: MessageType.PONG, observed: from };
      if (m.type === MessageType.FIND_NODE || m.type === MessageType.FIND_VALUE) return { type: MessageType.NODES, valueWithheld: false, contacts: fakes };
      return undefined;
    };
    const victim = t.nodes[3]!;
    await t.run(victim.ping(mallory.address));
    expect(victim.internals.table.has(mallory.identity.id)).toBe(true);
    for (let i = 0; i < 4; i++) await t.run(victim.findNode(nodeCrypto.sha256(utf8(`hole 4 ${i}`))));
    await t.run(victim.get(nodeCrypto.sha256(utf8('hole 4 value'))));
    await t.clock.advance(120_000);

    expect(victim.stats().droppedBadContact ?? 0).toBeGreaterThan(0);
    for (const n of t.nodes) {
      for (const f of [...weak, ...ghosts.map((g) => g.id)]) expect(n.internals.table.has(f)).toBe(false);
      const c = n.internals.table.get(impersonated.identity.id);
      if (c) expect(addressKey(c.address)).toBe(addressKey(addrOf(impersonated)));
      // Every contact in every table answered a signed round trip at the address the table holds.
      for (const c2 of n.internals.table.all()) expect(n.internals.rpc.isVerified(c2.id, c2.address)).toBe(true);
    }
  });

  it('hole 5: one ping gets one pong, no bigger than 3× the ping', async () => {
    tn = await createTestnet(4);
    const t = tn;
    const raw = await Raw.create(t);
    const ping = await raw.build(PING, { flags: Flags.WANT_AUTH });
    raw.transport.send(addrOf(t.nodes[2]!), ping);
    await t.clock.advance(10_000);
    const replies = raw.received.filter((r) => !REQUEST_TYPES.has(r.message.type));
    expect(replies).toHaveLength(1);
    expect(replies[0]!.message.type).toBe(MessageType.PONG);
    expect(replies[0]!.bytes.length).toBeLessThanOrEqual(3 * ping.length);
  });

  it('hole 6: replies only from the node asked; the pending table drains after timeouts', async () => {
    tn = await createTestnet(10);
    const t = tn;
    const a = t.nodes[2]!;
    const b = t.nodes[6]!;
    const eavesdropper = await Raw.create(t);
    // The eavesdropper sees B's incoming requests and races B with a forged reply from its own address.
    const deliver = transportOf(b).onDatagram!;
    let forged = 0;
    transportOf(b).onDatagram = (bytes, from) => {
      const d = decodeMessage(bytes, b.config.networkId);
      if (d.ok && d.message.type === MessageType.PING && addressKey(from) === addressKey(addrOf(a))) {
        forged++;
        void eavesdropper
          .build({ type: MessageType.PONG, observed: from }, { senderId: b.identity.id, requestId: d.message.requestId, signer: eavesdropper.identity })
          .then((x) => eavesdropper.transport.send(from, x));
        // B answers late (later than any jitter), so the forgery always arrives first.
        t.clock.setTimeout(() => deliver(bytes, from), 30);
        return;
      }
      deliver(bytes, from);
    };
    const before = a.internals.rpc.stats.droppedWrongSource ?? 0;
    const pong = await t.run(a.ping(addrOf(b)));
    expect(pong.id).toBe(b.id);
    expect(forged).toBeGreaterThan(0);
    const wrongSource = (a.internals.rpc.stats.droppedWrongSource ?? 0) - before;
    expect(wrongSource).toBeGreaterThan(0);
    expect(wrongSource).toBeLessThanOrEqual(forged);
    expect(a.internals.table.get(b.identity.id) && addressKey(a.internals.table.get(b.identity.id)!.address)).toBe(addressKey(addrOf(b)));

    // Cut A off: every request it makes times out, and none lingers.
    t.net.partition([[transportOf(a).ip], t.nodes.filter((n) => n !== a).map((n) => transportOf(n).ip)]);
    const found = await t.run(a.findNode(nodeCrypto.sha256(utf8('hole 6'))));
    expect(found).toEqual([]);
    expect(a.internals.rpc.stats.timeouts ?? 0).toBeGreaterThan(0);
    // Every request times out within 30 s; maintenance (bucket refresh, pings) may start new ones
    // at any instant, so the table must reach empty within a bounded time, not at one given instant.
    await t.clock.advance(30_000);
    for (let s = 0; s < 60 && a.internals.rpc.pendingCount > 0; s++) await t.clock.advance(1_000);
    expect(a.internals.rpc.pendingCount).toBe(0);
    t.net.heal();
  });

  it('hole 7: ("ab","c") and ("a","bc") are different records; a re-split value never verifies', async () => {
    tn = await createTestnet(24, { node: { k: 8 }, joinBatch: 1 });
    const t = tn;
    const writer = t.nodes[3]!;
    const k1 = await t.run(writer.put('ab', 'c', { owner: null }));
    const k2 = await t.run(writer.put('a', 'bc', { owner: null }));
    expect(k1).not.toBe(k2);
    // A reader that holds neither (with 2 keys × 2 locations × 8 holders, all 24 nodes may hold one:
    // then a newcomer reads, which joined after the puts).
    const reader =
      t.nodes.find((n) => !n.internals.store.entry(Buffer.from(k1, 'hex')) && !n.internals.store.entry(Buffer.from(k2, 'hex'))) ?? (await t.addNode());
    const v1 = await t.run(reader.get(k1));
    const v2 = await t.run(reader.get(k2));
    expect([v1?.labelText(), v1?.text()]).toEqual(['ab', 'c']);
    expect([v2?.labelText(), v2?.text()]).toEqual(['a', 'bc']);

    // Every holder of k1 now serves ("a","bc") under k1: the reader must not accept it.
    const key1 = Uint8Array.from(Buffer.from(k1, 'hex'));
    const holders = t.nodes.filter((n) => n.internals.store.entry(key1));
    expect(holders.length).toBeGreaterThan(0);
    // (Each holder's store answers for k1 with the re-split record, as a lying node's would.)
    const honest = holders[0]!.internals.store.entry(key1)!.record;
    const forged = { ...honest, label: utf8('a'), content: utf8('bc') };
    for (const h of holders) {
      const store = h.internals.store;
      const get = store.get.bind(store);
      store.get = (key, nowSeconds) => (equalBytes(key, key1) ? forged : get(key, nowSeconds));
    }
    expect(await t.run(reader.get(k1))).toBeUndefined();
    expect(reader.stats().droppedBadValue ?? 0).toBeGreaterThan(0);
    // One honest holder left: the reader skips the forgeries and gets the real value.
    const store = holders[holders.length - 1]!.internals.store as { get?: unknown };
    delete store.get;
    const again = await t.run(reader.get(k1));
    expect([again?.labelText(), again?.text()]).toEqual(['ab', 'c']);
  });

  it('hole 7, hidden holder: liars that answer with a forged value do not hide the honest holder behind them', async () => {
    tn = await createTestnet(24, { node: { k: 8 }, joinBatch: 1 });
    const t = tn;
    const k1 = await t.run(t.nodes[3]!.put('ab', 'c', { owner: null }));
    const key1 = Uint8Array.from(Buffer.from(k1, 'hex'));
    const holders = t.nodes.filter((n) => n.internals.store.entry(key1));
    const reader = t.nodes.find((n) => !holders.includes(n)) ?? (await t.addNode());
    // The honest holder: the one nearest the key that a node lookup to the key's other location
    // does not reach, so only a search at the key itself can find it.
    const [, location2] = replicaLocations(nodeCrypto, key1);
    const nearLocation2 = closestNodes(t.nodes, location2!, 8);
    const honest = closestNodes(holders, key1, holders.length).find((h) => !nearLocation2.includes(h))!;
    expect(honest).toBeDefined();
    // Every other holder lies about the value (a FIND_VALUE reply with a value lists no contacts),
    // and no node but the liars knows the honest holder: the liars are the only way to it.
    const forged = { ...honest.internals.store.entry(key1)!.record, label: utf8('a'), content: utf8('bc') };
    for (const h of holders) {
      if (h === honest) continue;
      const store = h.internals.store;
      const get = store.get.bind(store);
      store.get = (key, nowSeconds) => (equalBytes(key, key1) ? forged : get(key, nowSeconds));
    }
    for (const n of t.nodes) if (!holders.includes(n)) n.internals.table.remove(honest.identity.id);
    const value = await t.run(reader.get(k1));
    expect([value?.labelText(), value?.text()]).toEqual(['ab', 'c']);
    expect(reader.stats().droppedBadValue ?? 0).toBeGreaterThan(0);
  });

  it('hole 8: a delete needs the owner’s signature for that very key; nothing is removed on a bad one', async () => {
    tn = await createTestnet(16, { node: { k: 8 } });
    const t = tn;
    const owner = t.nodes[3]!;
    const k1 = await t.run(owner.put('one', '1'));
    const k2 = await t.run(owner.put('two', '2'));
    const key1 = Uint8Array.from(Buffer.from(k1, 'hex'));
    const key2 = Uint8Array.from(Buffer.from(k2, 'hex'));
    const holders = t.nodes.filter((n) => n !== owner && n.internals.store.entry(key2));
    expect(holders.length).toBeGreaterThan(3);
    const originals = new Map(holders.map((h) => [h, h.internals.store.entry(key2)!.record]));
    const original = originals.get(holders[0]!)!;

    const attacker = await Raw.create(t);
    const rules = rulesOf(owner);
    const now = Math.floor(t.clock.now() / 1000);
    const work = { crypto: nodeCrypto, solver: inThreadPowSolver(nodeCrypto) };
    const validForK1 = await createDeleteProof(rules, owner.identity, key1, now, work);
    const attackersOwn = await createDeleteProof(rules, attacker.identity, key2, now, work);
    const attempts = [
      { proof: { ...validForK1, key: key2 }, want: DeleteStatus.INVALID }, // replayed against another key
      { proof: { ...validForK1, key: key2, signature: nodeCrypto.randomBytes(64) }, want: DeleteStatus.INVALID },
      { proof: attackersOwn, want: DeleteStatus.NOT_OWNER },
    ];
    for (const h of holders) {
      for (const { proof, want } of attempts) {
        const r = await t.run(attacker.request(addrOf(h), { type: MessageType.DELETE, proof }));
        expect(r.message.type === MessageType.DELETE_ACK && r.message.status).toBe(want);
      }
      // The original's variant: re-send the owner's record with a bad nonce (it deleted before checking PoW).
      const badNonce = { ...original, powNonce: original.powNonce.map((x) => x ^ 0xff) };
      const r = await t.run(attacker.request(addrOf(h), { type: MessageType.STORE, record: badNonce }));
      expect(r.message.type === MessageType.STORE_ACK && [StoreStatus.INVALID, StoreStatus.ALREADY_HELD]).toContain(
        r.message.type === MessageType.STORE_ACK ? r.message.status : -1,
      );
      expect(h.internals.store.entry(key2)!.record).toEqual(originals.get(h));
    }
    // A node that does not own the record cannot delete it through the API either, even when its
    // lookup also reaches nodes that do not hold the record (a wider k: 8 holders refuse, the rest
    // only say "not held"). A client, so that it does not itself become one of the closest nodes.
    const stranger = await t.addNode({ k: 12, client: true });
    const err = await t.run(stranger.delete(k2)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isSpydhtError(err, 'NOT_OWNER')).toBe(true);
    expect((await t.run(stranger.get(k2)))?.text()).toBe('2');

    // The owner can, everywhere, and the value is gone.
    expect(await t.run(owner.delete(k2))).toBeGreaterThan(3);
    for (const h of holders) expect(h.internals.store.entry(key2)).toBeUndefined();
    expect(await t.run(stranger.get(k2))).toBeUndefined();
    expect((await t.run(stranger.get(k1)))?.text()).toBe('1');
  });

  it('hole 9: nodes whose clocks are 4 minutes ahead or behind can store, read and delete', async () => {
    tn = await createTestnet(12);
    const t = tn;
    const skewed = (offsetMs: number): Clock => ({
      now: () => t.clock.now() + offsetMs,
      setTimeout: (fn, ms) => t.clock.setTimeout(fn, ms),
      clearTimeout: (h) => t.clock.clearTimeout(h),
    });
    const ahead = await t.addNode({ clock: skewed(240_000) });
    const behind = await t.addNode({ clock: skewed(-240_000) });
    const normal = t.nodes[2]!;
    // Each skewed node against the on-time nodes (ahead and behind differ by 8 minutes between
    // themselves, beyond the 5-minute tolerance).
    for (const [writer, readers] of [
      [ahead, [ahead, normal, t.nodes[5]!]],
      [behind, [behind, normal, t.nodes[5]!]],
      [normal, [ahead, behind, normal]],
    ] as const) {
      const r = await t.run(writer.publish(`hole 9 from ${writer.id.slice(0, 8)}`, 'on time'));
      expect(r.stored).toBeGreaterThan(8);
      for (const reader of readers) expect((await t.run(reader.get(r.key)))?.text()).toBe('on time');
    }
    const key = await t.run(ahead.put('hole 9 delete', 'soon gone'));
    expect(await t.run(ahead.delete(key))).toBeGreaterThan(8);
    expect(await t.run(normal.get(key))).toBeUndefined();

    // The tolerance is bounded: a clock 10 minutes ahead signs "in the future" and is refused.
    const far = await t.addNode({ clock: skewed(600_000) });
    const before = new Set(t.nodes.flatMap((n) => n.internals.store.entries().map((e) => toHex(e.record.key))));
    // At most its own copy: one holder is not a successful put.
    const err = await t.run(far.publish('hole 9 far', 'too early')).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isSpydhtError(err, 'NOT_STORED')).toBe(true);
    const others = t.nodes.filter((n) => n !== far).flatMap((n) => n.internals.store.entries().map((e) => toHex(e.record.key)));
    expect(others.filter((k) => !before.has(k))).toHaveLength(0);
  });

  it('hole 10: a full bucket pings its oldest contact: kept if it answers, replaced if not', async () => {
    tn = await createTestnet(14, { node: { k: 2 } });
    const t = tn;
    const a = t.nodes[0]!;
    const bucket0 = (): string[] => (a.snapshot().buckets.find((b) => b.index === 0)?.contacts ?? []).map((c) => c.id);
    // Random IDs put only one of the 13 others in A's bucket 0 about once in 600 swarms: fill it.
    while (bucket0().length < 2) await t.addNode({ identity: await identityInBucket(a.identity.id, 0) });
    const olds = bucket0();
    expect(olds).toHaveLength(2);
    // Count the PINGs A sends to each old contact.
    const pingsFromA = new Map<string, number>();
    for (const id of olds) {
      const node = t.nodes.find((n) => n.id === id)!;
      const deliver = transportOf(node).onDatagram!;
      transportOf(node).onDatagram = (bytes, from) => {
        const d = decodeMessage(bytes, node.config.networkId);
        if (d.ok && d.message.type === MessageType.PING && addressKey(from) === addressKey(addrOf(a))) pingsFromA.set(id, (pingsFromA.get(id) ?? 0) + 1);
        deliver(bytes, from);
      };
    }
    // A newcomer in the same (full) bucket of A talks to A (after the joins' pings have aged).
    await t.clock.advance(60_000);
    const newcomer = await t.addNode({ identity: await identityInBucket(a.identity.id, 0) });
    await t.run(newcomer.ping(addrOf(a)));
    await t.clock.advance(10_000);
    expect([...pingsFromA.values()].reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
    expect(bucket0().sort()).toEqual([...olds].sort());
    expect(a.internals.table.has(newcomer.identity.id)).toBe(false);

    // Later the least recently seen old contact dies; the newcomer talks to A again.
    await t.clock.advance(61_000);
    const stale = bucket0()[0]!;
    await t.nodes.find((n) => n.id === stale)!.close();
    await t.run(newcomer.ping(addrOf(a)));
    await t.clock.advance(30_000);
    expect(a.internals.table.has(newcomer.identity.id)).toBe(true);
    expect(bucket0()).not.toContain(stale);
    expect(bucket0()).toHaveLength(2);
  });

  it('hole 10: strangers knocking at a full bucket set off one ping of it per 30 s, not one per live contact', async () => {
    tn = await createTestnet(14, { node: { k: 2 } });
    const t = tn;
    const a = t.nodes[0]!;
    const bucket0 = (): string[] => (a.snapshot().buckets.find((b) => b.index === 0)?.contacts ?? []).map((c) => c.id);
    // Random IDs put only one of the 13 others in A's bucket 0 about once in 600 swarms: fill it.
    while (bucket0().length < 2) await t.addNode({ identity: await identityInBucket(a.identity.id, 0) });
    const olds = bucket0();
    expect(olds).toHaveLength(2);
    let pings = 0;
    for (const id of olds) {
      const node = t.nodes.find((n) => n.id === id)!;
      const deliver = transportOf(node).onDatagram!;
      transportOf(node).onDatagram = (bytes, from) => {
        const d = decodeMessage(bytes, node.config.networkId);
        if (d.ok && d.message.type === MessageType.PING && addressKey(from) === addressKey(addrOf(a))) pings++;
        deliver(bytes, from);
      };
    }
    await t.clock.advance(60_000);
    // Three strangers of that bucket, one after another: the first ping's answer moves the oldest
    // contact to the tail, so a per-contact gap alone let the next stranger ping the other one.
    for (let i = 0; i < 3; i++) {
      const stranger = await t.addNode({ identity: await identityInBucket(a.identity.id, 0) });
      await t.run(stranger.ping(addrOf(a)));
      await t.clock.advance(2_000);
    }
    expect(pings).toBe(1);
    // Past the gap, the next stranger sets off the next ping.
    await t.clock.advance(30_000);
    const late = await t.addNode({ identity: await identityInBucket(a.identity.id, 0) });
    await t.run(late.ping(addrOf(a)));
    await t.clock.advance(2_000);
    expect(pings).toBe(2);
  });

  it('hole 10: maintenance runs on the clock with no traffic: refreshes, pings, and forgets the dead', async () => {
    tn = await createTestnet(16);
    const t = tn;
    const dead = t.nodes[7]!;
    const live = t.nodes.filter((n) => n !== dead);
    expect(live.filter((n) => n.internals.table.has(dead.identity.id)).length).toBeGreaterThan(0);
    await dead.close();
    const start = t.clock.now();
    const sentBefore = live.map((n) => n.internals.rpc.stats.sent ?? 0);
    await t.clock.advance(20 * 60_000); // no operation is started by the test
    live.forEach((n, i) => expect(n.internals.rpc.stats.sent ?? 0).toBeGreaterThan(sentBefore[i]!));
    for (const n of live) {
      expect(n.internals.table.has(dead.identity.id)).toBe(false);
      expect(n.internals.table.staleBuckets(REFRESH_IDLE_MS)).toEqual([]);
      // Every contact was heard from during the quiet period (freshness pings).
      for (const c of n.internals.table.all()) expect(c.lastSeen).toBeGreaterThan(start);
    }
  });

  it('hole 11: non-ASCII labels and content round-trip; concurrent operations on one node all succeed', async () => {
    tn = await createTestnet(12);
    const t = tn;
    const label = 'ラベル · étiquette · 🏷️';
    const content = '😀 emoji, 中文, العربية, עברית, ünïcødé — and a NUL \u0000 in the middle';
    const key = await t.run(t.nodes[1]!.put(label, content));
    const v = await t.run(t.nodes[8]!.get(key));
    expect(v?.labelText()).toBe(label);
    expect(v?.text()).toBe(content);
    expect(fromUtf8(v!.content)).toBe(content);
    // Arbitrary bytes are fine as content too; text() refuses invalid UTF-8 instead of mangling it.
    const binary = Uint8Array.from([0xff, 0xfe, 0x00, 0xc3, 0x28]);
    const bkey = await t.run(t.nodes[2]!.put(utf8('bin'), binary));
    const bv = await t.run(t.nodes[9]!.get(bkey));
    expect(bv?.content).toEqual(binary);
    expect(() => bv!.text()).toThrow(TypeError);

    const writer = t.nodes[4]!;
    const keys = await t.run(Promise.all(Array.from({ length: 20 }, (_, i) => writer.put(`concurrent ${i}`, `v${i}`))));
    const values = await t.run(Promise.all(keys.map((k) => t.nodes[10]!.get(k))));
    expect(values.map((x) => x?.text())).toEqual(keys.map((_, i) => `v${i}`));
  });

  it('hole 11: close() stops a node cleanly: operations in flight reject CLOSED and no timer is left', async () => {
    tn = await createTestnet(10);
    const t = tn;
    const n = t.nodes[3]!;
    const get = n.get(nodeCrypto.sha256(utf8('nobody has this'))).then(
      () => 'resolved',
      (e: unknown) => (isSpydhtError(e, 'CLOSED') ? 'CLOSED' : String(e)),
    );
    const put = n.put('closing', 'value').then(
      () => 'resolved',
      (e: unknown) => (isSpydhtError(e, 'CLOSED') ? 'CLOSED' : String(e)),
    );
    await t.clock.advance(15); // the lookup has queries in flight
    await n.close();
    expect(await t.run(Promise.all([get, put]))).toEqual(['CLOSED', 'CLOSED']);
    expect(n.internals.rpc.pendingCount).toBe(0);
    await expect(n.get(nodeCrypto.sha256(utf8('x')))).rejects.toMatchObject({ code: 'CLOSED' });

    await Promise.all(t.nodes.map((x) => x.close()));
    // Datagrams already on the wire still arrive (and are ignored); after that nothing is scheduled.
    await t.clock.advance(60_000);
    expect((t.clock as SimClock).pendingTimers).toBe(0);
    const sent = t.net.stats.sent;
    await t.clock.advance(3_600_000);
    expect(t.net.stats.sent).toBe(sent);
  });
});

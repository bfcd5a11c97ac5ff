/**
 * Mutable records end to end on the simulated network (virtual time): updates, concurrent writers
 * with and without cas, holders serving a stale seq, replays, forgeries and deletes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../src/bytes.js';
import { Identity } from '../../src/crypto/identity.js';
import type { DHT } from '../../src/dht.js';
import { isSpydhtError } from '../../src/errors.js';
import { compareDistance } from '../../src/id.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { createMutableRecord } from '../../src/storage/mutable-record.js';
import { replicaLocations } from '../../src/storage/placement.js';
import { decodeIpPort } from '../../src/wire/address.js';
import { MessageType } from '../../src/wire/messages.js';
import { MutableStoreStatus, type WireMutableRecord } from '../../src/wire/mutable.js';
import { SIM_NETWORK, createTestnet, type Testnet } from '../helpers/testnet.js';

let tn: Testnet | undefined;
afterEach(async () => {
  await tn?.close();
  tn = undefined;
});

const nowSeconds = (n: DHT): number => Math.floor(n.clock.now() / 1000);
const held = (n: DHT, key: string): WireMutableRecord | undefined => n.internals.mutableStore.get(fromHex(key), nowSeconds(n));
const holdersOf = (t: Testnet, key: string): DHT[] => t.nodes.filter((n) => held(n, key));
const ipOf = (n: DHT): string => decodeIpPort(n.localAddresses()[0]!)!.ip;
const newIdentity = (): Promise<Identity> => Identity.generate({ crypto: nodeCrypto, difficulty: SIM_NETWORK.idDifficulty ?? 0 });

/** Resolves when `n` stores a record under `key` at another node's request. */
function storedAt(n: DHT, key: string): Promise<void> {
  return new Promise((resolve) => {
    const off = n.on('stored', (e) => {
      if (e.key === key) {
        off();
        resolve();
      }
    });
  });
}

describe('mutable records in a simulated swarm', () => {
  it('put, update, get from every node: the newest seq, verified, with its owner', async () => {
    tn = await createTestnet(30);
    const [writer, ...readers] = tn.nodes.slice(1);
    const first = await tn.run(writer!.putMutable('version one'));
    expect(first.seq).toBe(1);
    expect(first.key).toBe(writer!.mutableKey(writer!.identity.publicKey));
    expect(first.stored).toBeGreaterThanOrEqual(15);
    const second = await tn.run(writer!.putMutable('version two', { ttl: 3600 }));
    expect(second).toMatchObject({ key: first.key, seq: 2 });
    for (const r of readers) {
      const v = await tn.run(r.getMutable(toHex(writer!.identity.publicKey)));
      expect(v && { text: v.text(), seq: v.seq, owner: v.owner, key: v.key }).toEqual({ text: 'version two', seq: 2, owner: toHex(writer!.identity.publicKey), key: first.key });
    }
    // Holders keep one copy per key, the newest.
    expect(holdersOf(tn, first.key).every((n) => held(n, first.key)!.seq === 2)).toBe(true);
    // A salt is another record of the same owner; an unknown one is undefined.
    await tn.run(writer!.putMutable('settings', { salt: 'settings' }));
    expect((await tn.run(readers[0]!.getMutable(writer!.identity.publicKey, { salt: 'settings' })))?.text()).toBe('settings');
    expect((await tn.run(readers[0]!.getMutable(writer!.identity.publicKey)))?.text()).toBe('version two');
    expect(await tn.run(readers[0]!.getMutable(writer!.identity.publicKey, { salt: 'nothing here' }))).toBeUndefined();
  });

  it('a get returns the newest even when the closest holders serve a stale seq, and repairs them at both locations', async () => {
    // k = 8: the k closest to the key are then not also the nodes nearest the other location.
    tn = await createTestnet(30, { node: { k: 8 } });
    const t = tn;
    const writer = t.nodes[1]!;
    const { key } = await t.run(writer.putMutable('v1'));
    // The three nodes closest to each location of the key miss the update (cut off while it is
    // written): they keep seq 1. The first copy a get meets is theirs.
    const nearest = (loc: Uint8Array): DHT[] => [...t.nodes].filter((n) => n !== writer).sort((a, b) => compareDistance(a.identity.id, b.identity.id, loc)).slice(0, 3);
    const closest = replicaLocations(nodeCrypto, fromHex(key)).flatMap(nearest);
    expect(closest.every((n) => held(n, key)?.seq === 1)).toBe(true);
    const cutIps = new Set(closest.map(ipOf));
    t.net.partition([[...cutIps], t.nodes.filter((n) => !cutIps.has(ipOf(n))).map(ipOf)]);
    expect((await t.run(writer.putMutable('v2'))).seq).toBe(2);
    t.net.heal();
    expect(closest.every((n) => held(n, key)?.seq === 1)).toBe(true);

    // A reader that holds no copy of its own (with two locations of 20 in 30 nodes, nearly every node holds one: drop it).
    const reader = t.nodes.find((n) => n !== writer && !closest.includes(n))!;
    reader.internals.mutableStore.clear();
    const repaired = Promise.all(closest.map((n) => storedAt(n, key)));
    const v = await t.run(reader.getMutable(writer.identity.publicKey));
    expect([v?.seq, v?.text()]).toEqual([2, 'v2']);
    // Read repair: the stale holders are sent seq 2 and keep it.
    await t.run(repaired, 30_000);
    expect(closest.map((n) => held(n, key)?.seq)).toEqual([2, 2, 2, 2, 2, 2]);
    await t.clock.advance(1_000); // the STORE_MUTABLE_ACKs travel back to the reader
    expect(reader.stats().mutableRepaired).toBe(6);
  });

  it('holders that lie with an old copy cannot hide the newest while one honest holder answers', async () => {
    tn = await createTestnet(30);
    const writer = tn.nodes[1]!;
    const { key } = await tn.run(writer.putMutable('old'));
    const old = held(writer, key) ?? holdersOf(tn, key).map((n) => held(n, key)!)[0]!;
    await tn.run(writer.putMutable('new'));
    // Every holder but two serves seq 1 forever, whatever it is sent.
    const holders = holdersOf(tn, key);
    const liars = holders.slice(2);
    for (const n of liars) n.internals.mutableStore.get = () => old;
    const reader = tn.nodes.find((n) => n !== writer && !holders.includes(n)) ?? tn.nodes[0]!;
    const v = await tn.run(reader.getMutable(writer.identity.publicKey));
    expect([v?.seq, v?.text()]).toEqual([2, 'new']);
  });

  it('liars that serve a forged copy do not hide the honest holder behind them', async () => {
    tn = await createTestnet(24, { node: { k: 8 }, joinBatch: 1 });
    const t = tn;
    const writer = t.nodes[1]!;
    const { key } = await t.run(writer.putMutable('real'));
    const holders = holdersOf(t, key);
    // The honest holder: the one nearest the key that a node lookup to the key's other location
    // does not reach, so only the search at the key can find it.
    const [atKey, location2] = replicaLocations(nodeCrypto, fromHex(key));
    const near = (loc: Uint8Array, among: DHT[], count: number): DHT[] => [...among].sort((a, b) => compareDistance(a.identity.id, b.identity.id, loc)).slice(0, count);
    const nearLocation2 = near(location2!, t.nodes, 8);
    const honest = near(atKey!, holders, holders.length).find((h) => h !== writer && !nearLocation2.includes(h))!;
    expect(honest).toBeDefined();
    // Every other holder serves a copy whose signature fails, and no node but the liars (and the
    // writer, which keeps out of it) knows the honest holder.
    const forged = { ...held(honest, key)!, content: utf8('forged') };
    for (const n of holders) if (n !== honest) n.internals.mutableStore.get = () => forged;
    for (const n of t.nodes) if (!holders.includes(n) || n === writer) n.internals.table.remove(honest.identity.id);
    const reader = t.nodes.find((n) => n !== writer && !holders.includes(n)) ?? (await t.addNode());
    reader.internals.mutableStore.clear();
    const v = await t.run(reader.getMutable(writer.identity.publicKey));
    expect(v?.text()).toBe('real');
    expect(reader.stats().droppedBadValue ?? 0).toBeGreaterThan(0);
  });

  it('concurrent writers with cas: at most one wins, the others get CAS_CONFLICT, and every reader sees the same winner', async () => {
    tn = await createTestnet(30);
    const owner = await newIdentity();
    const writers = tn.nodes.slice(1, 4);
    const { key } = await tn.run(writers[0]!.putMutable('base', { owner }));
    for (let round = 1; round <= 3; round++) {
      // Each writer read seq `round`, and writes seq round + 1 on condition it is still at `round`.
      const results = await tn.run(Promise.allSettled(writers.map((w, i) => w.putMutable(`round ${round} by writer ${i}`, { owner, cas: round }))));
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      for (const r of results) if (r.status === 'rejected') expect(isSpydhtError(r.reason, 'CAS_CONFLICT'), String(r.reason)).toBe(true);
      expect(won.length).toBeLessThanOrEqual(1);
      // Reads converge on one copy: the winner's when there is one.
      const seen = new Set<string>();
      for (const n of tn.nodes.slice(5, 15)) {
        const v = await tn.run(n.getMutable(owner.publicKey));
        expect(v?.seq).toBe(round + 1);
        seen.add(v!.text());
      }
      expect(seen.size).toBe(1);
      if (won.length === 1) expect([...seen]).toEqual([`round ${round} by writer ${won[0]}`]);
      // A writer that lost reads again and retries with the seq it now sees: that goes through.
      if (won.length === 0) {
        const retry = await tn.run(writers[0]!.putMutable(`round ${round} retried`, { owner, cas: round + 1 }));
        expect(retry.seq).toBe(round + 2);
        break;
      }
    }
    // A write with a stale cas is refused before anything is stored.
    const current = (await tn.run(tn.nodes[9]!.getMutable(owner.publicKey)))!;
    const stale = await tn.run(writers[1]!.putMutable('too late', { owner, cas: current.seq - 1 }).catch((e: unknown) => e));
    expect(isSpydhtError(stale, 'CAS_CONFLICT')).toBe(true);
    expect((await tn.run(tn.nodes[9]!.getMutable(owner.publicKey)))?.seq).toBe(current.seq);
    expect(key).toBe(writers[0]!.mutableKey(owner.publicKey));
  });

  it('concurrent writers without cas, at one seq: every holder and reader settles on the same copy', async () => {
    tn = await createTestnet(30);
    const owner = await newIdentity();
    const writers = tn.nodes.slice(1, 4);
    const { key } = await tn.run(writers[0]!.putMutable('base', { owner }));
    const results = await tn.run(Promise.allSettled(writers.map((w, i) => w.putMutable(`writer ${i}`, { owner, seq: 2 }))));
    // Unconditional writes: each is stored by the holders it reached first (none rejects with CAS_CONFLICT).
    for (const r of results) if (r.status === 'rejected') expect(isSpydhtError(r.reason, 'STALE_SEQ'), String(r.reason)).toBe(true);
    const texts = new Set<string>();
    for (const n of tn.nodes.slice(5, 15)) texts.add((await tn.run(n.getMutable(owner.publicKey)))!.text());
    expect(texts.size).toBe(1);
    // Read repair settled the holders too: one copy of seq 2 everywhere.
    await tn.clock.advance(5_000);
    const copies = new Set(holdersOf(tn, key).map((n) => toHex(held(n, key)!.signature)));
    expect(copies.size).toBe(1);
  });

  it('a replay of an old seq after an update is refused by every holder (STALE_SEQ); a forged update is INVALID', async () => {
    tn = await createTestnet(30);
    const writer = tn.nodes[1]!;
    const { key } = await tn.run(writer.putMutable('v1'));
    const v1 = holdersOf(tn, key).map((n) => held(n, key)!)[0]!;
    await tn.run(writer.putMutable('v2'));
    const attacker = tn.nodes[2]!;
    const holders = holdersOf(tn, key).filter((n) => n !== attacker);
    expect(holders.length).toBeGreaterThan(10);
    const statuses = await tn.run(
      Promise.all(
        holders.map(async (h) => {
          const reply = await attacker.internals.rpc.request(h.localAddresses()[0]!, { type: MessageType.STORE_MUTABLE, cas: undefined, record: v1 }, { expectId: h.identity.id });
          return reply.message.type === MessageType.STORE_MUTABLE_ACK ? reply.message.status : undefined;
        }),
      ),
    );
    expect(new Set(statuses)).toEqual(new Set([MutableStoreStatus.STALE_SEQ]));
    // A newer seq for the writer's key (its public key, a real proof of work) signed by the attacker.
    const impostor = { publicKey: writer.identity.publicKey, sign: (m: Uint8Array) => attacker.identity.sign(m) } as unknown as Identity;
    const asOwner = await createMutableRecord({
      crypto: nodeCrypto,
      rules: { networkId: writer.config.networkId, powBaseBits: writer.config.powBaseBits, maxTtlSeconds: writer.config.maxTtlSeconds, maxSkewSeconds: writer.config.maxSkewSeconds },
      owner: impostor,
      salt: new Uint8Array(0),
      content: utf8('defaced'),
      seq: 99,
      ttlSeconds: 3600,
      nowSeconds: nowSeconds(attacker),
      solver: attacker.internals.solver,
    });
    const h = holders[0]!;
    const reply = await tn.run(attacker.internals.rpc.request(h.localAddresses()[0]!, { type: MessageType.STORE_MUTABLE, cas: undefined, record: asOwner }, { expectId: h.identity.id }));
    expect(reply.message.type === MessageType.STORE_MUTABLE_ACK && reply.message.status).toBe(MutableStoreStatus.INVALID);
    expect(h.stats().mutableInvalid).toBe(1);
    for (const n of tn.nodes.slice(10, 15)) expect((await tn.run(n.getMutable(writer.identity.publicKey)))?.text()).toBe('v2');
    // The writer asked for an old seq itself: refused before anything is signed.
    const again = await tn.run(writer.putMutable('v1 again', { seq: 1 }).catch((e: unknown) => e));
    expect(isSpydhtError(again, 'STALE_SEQ')).toBe(true);
  });

  it('delete: the owner\'s deletion hides the record, refuses replays of it, and a later put brings the key back', async () => {
    tn = await createTestnet(30);
    const writer = tn.nodes[1]!;
    const { key } = await tn.run(writer.putMutable('soon gone'));
    const v1 = holdersOf(tn, key).map((n) => held(n, key)!)[0]!;
    const deleted = await tn.run(writer.deleteMutable());
    expect(deleted).toMatchObject({ key, seq: 2 });
    expect(deleted.stored).toBeGreaterThanOrEqual(15);
    expect(await tn.run(tn.nodes[7]!.getMutable(writer.identity.publicKey))).toBeUndefined();
    const h = holdersOf(tn, key).find((n) => n !== writer)!;
    expect(held(h, key)?.deleted).toBe(true);
    const replayer = tn.nodes.find((n) => n !== h && n !== writer)!;
    const reply = await tn.run(replayer.internals.rpc.request(h.localAddresses()[0]!, { type: MessageType.STORE_MUTABLE, cas: undefined, record: v1 }, { expectId: h.identity.id }));
    expect(reply.message.type === MessageType.STORE_MUTABLE_ACK && reply.message.status).toBe(MutableStoreStatus.DELETED);
    // Only the owner can delete: another node's deletion is for its own key, not this one.
    await tn.run(tn.nodes[4]!.deleteMutable());
    const back = await tn.run(writer.putMutable('back again'));
    expect(back.seq).toBe(3);
    expect((await tn.run(tn.nodes[7]!.getMutable(writer.identity.publicKey)))?.text()).toBe('back again');
  });

  it('the newest copy outlives its holders: hand-over to new close nodes and hourly republishing', async () => {
    tn = await createTestnet(30, { node: { k: 8 } });
    const t = tn;
    const writer = t.nodes[1]!;
    await t.run(writer.putMutable('v1'));
    const { key } = await t.run(writer.putMutable('v2'));
    // All but two holders leave; newcomers join (some of them now among the closest).
    const leaving = holdersOf(t, key).filter((n) => n !== writer && n !== t.nodes[0]).slice(2);
    expect(leaving.length).toBeGreaterThanOrEqual(4);
    for (const n of leaving) {
      t.nodes.splice(t.nodes.indexOf(n), 1);
      await n.close();
    }
    for (let i = 0; i < 12; i++) await t.addNode();
    // An hour and a bit: the writer's republish (and hand-overs as contacts arrive) restore k copies.
    await t.clock.advance(70 * 60_000);
    const holders = holdersOf(t, key);
    expect(holders.length).toBeGreaterThanOrEqual(6);
    expect(holders.every((n) => held(n, key)!.seq === 2)).toBe(true);
    const reader = t.nodes.find((n) => !holders.includes(n))!;
    expect((await t.run(reader.getMutable(writer.identity.publicKey)))?.text()).toBe('v2');
  });

  it('a get asks every holder once, and holders with nothing newer answer with a summary, not the record', async () => {
    tn = await createTestnet(30);
    const writer = tn.nodes[1]!;
    const big = 'x'.repeat(3000);
    await tn.run(writer.putMutable(big));
    const reader = tn.nodes[20]!;
    // Replies carrying the 3000-byte record, and those carrying only a summary (and contacts).
    let full = 0;
    let summaries = 0;
    reader.on('message', (e) => {
      if (e.direction === 'in' && e.type === 'MUTABLE_VALUE') {
        if (e.bytes > 3000) full++;
        else summaries++;
      }
    });
    const v = await tn.run(reader.getMutable(writer.identity.publicKey));
    expect(v?.text()).toBe(big);
    expect(full + summaries).toBeGreaterThanOrEqual(15);
    // The first α queries go out before any copy is known; every later one says which copy the
    // reader has, and a holder with the same copy sends a summary.
    expect(full).toBeLessThanOrEqual(3);
  });
});

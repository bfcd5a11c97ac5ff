/**
 * Attacks on storage, end to end on the simulated network (SECURITY.md, "Storage: exhaustion,
 * eclipse, deletes"): each test plays the attacker and fails when its defence is taken out.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, toHex, utf8 } from '../../src/bytes.js';
import type { Clock } from '../../src/clock.js';
import { Identity, solvesIdPuzzle } from '../../src/crypto/identity.js';
import { DHT } from '../../src/dht.js';
import { isSpydhtError } from '../../src/errors.js';
import { commonPrefixLength, compareDistance, idKey, randomIdInBucket, type NodeId } from '../../src/id.js';
import type { LookupPeer } from '../../src/lookup/lookup.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { storeMutableAt } from '../../src/ops/mutable.js';
import { replicate, storeAt } from '../../src/ops/put.js';
import { createMutableRecord, mutableKey } from '../../src/storage/mutable-record.js';
import { replicaLocations, responsibleLocations } from '../../src/storage/placement.js';
import { createRecord, recordKey } from '../../src/storage/record.js';
import { DeleteStatus, MessageType, StoreStatus, type DeleteProof, type WireRecord } from '../../src/wire/messages.js';
import { MutableStoreStatus, type WireMutableRecord } from '../../src/wire/mutable.js';
import { makeHostile, serveStale } from '../helpers/adversary.js';
import { SIM_NETWORK, createTestnet, type Testnet } from '../helpers/testnet.js';

let tn: Testnet | undefined;
const extra: DHT[] = [];
afterEach(async () => {
  await Promise.all(extra.splice(0).map((d) => d.close()));
  await tn?.close();
  tn = undefined;
});

const peerOf = (n: DHT): LookupPeer => ({ id: n.identity.id, address: n.localAddresses()[0]!, addresses: n.localAddresses() });
const keyOf = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));
const holdersOf = (nodes: DHT[], key: Uint8Array): DHT[] => nodes.filter((n) => n.internals.store.entry(key));
const closestNodes = (nodes: DHT[], target: NodeId, count: number): DHT[] =>
  [...nodes].sort((a, b) => compareDistance(a.identity.id, b.identity.id, target)).slice(0, count);

/** A valid record made by `n` (proof of work and all), not stored anywhere yet. */
function recordBy(n: DHT, label: string, content: string, ttlSeconds = 3600): Promise<WireRecord> {
  const e = n.internals;
  return createRecord({ crypto: e.crypto, rules: e.rules, label: utf8(label), content: utf8(content), ttlSeconds, nowSeconds: Math.floor(e.clock.now() / 1000), owner: e.identity, solver: e.solver });
}

/** `record` stored by `owner` at its k closest nodes, as its put would, under `owner`'s operations. */
function replicated(owner: DHT, record: WireRecord): Promise<unknown> {
  return owner.internals.operations.run({}, (signal) => replicate(owner.internals, record, signal));
}

/** A valid mutable record of `n`'s key under `salt` (proof of work and all), not stored anywhere yet. */
function mutableBy(n: DHT, salt: string, content: string): Promise<WireMutableRecord> {
  const e = n.internals;
  return createMutableRecord({ crypto: e.crypto, rules: e.rules, owner: e.identity, salt: utf8(salt), content: utf8(content), seq: 1, ttlSeconds: 3600, nowSeconds: Math.floor(e.clock.now() / 1000), solver: e.solver });
}

/** A client node of the testnet at a chosen IP (not joined: it only sends). */
async function clientAt(t: Testnet, ip: string): Promise<DHT> {
  const identity = await Identity.generate({ crypto: nodeCrypto, difficulty: SIM_NETWORK.idDifficulty ?? 0 });
  const d = await DHT.create({ transports: [t.net.createTransport({ ip })], crypto: nodeCrypto, identity, network: SIM_NETWORK, clock: t.clock, client: true });
  extra.push(d);
  return d;
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => undefined,
    (e: unknown) => e,
  );
}

describe('storage attacks', () => {
  it('placement: one proof of work buys room near the key’s locations only, not on every node', async () => {
    // Small buckets, so that tables hold several times 2k contacts (as they do in big swarms with k = 20).
    const k = 4;
    tn = await createTestnet(200, { node: { k } });
    const t = tn;
    // What bucket refreshes do in the first quarter hour: fill the far buckets, as in a settled swarm.
    for (let b = 0; b < 4; b++) await t.run(Promise.all(t.nodes.map((n) => n.findNode(randomIdInBucket(n.identity.id, b, nodeCrypto.randomBytes(32))))));
    const attacker = t.nodes[1]!;
    const record = await recordBy(attacker, 'spam', 'everywhere');
    const targets = t.nodes.slice(2);
    const statuses = await t.run(Promise.all(targets.map((n) => storeAt(attacker.internals, peerOf(n), record))));
    const accepted = targets.filter((_, i) => statuses[i] === StoreStatus.STORED);
    const refused = statuses.filter((s) => s === StoreStatus.NOT_RESPONSIBLE).length;
    // Each accepting node knows of fewer than 2k nodes nearer to a location than itself: a few
    // times k per location, far from all 198 (measured: 36).
    expect(accepted.length).toBeLessThanOrEqual(targets.length / 4);
    expect(refused).toBe(targets.length - accepted.length);
    // The nodes that should hold it all did.
    for (const loc of replicaLocations(nodeCrypto, record.key)) {
      for (const n of closestNodes(targets, loc, k)) expect(accepted).toContain(n);
    }
    const counted = targets.reduce((sum, n) => sum + (n.stats().storeNotResponsible ?? 0), 0);
    expect(counted).toBe(refused);

    // The same for a mutable record (STORE_MUTABLE), from another sender: refused as `not
    // responsible` by every node not near one of its key's two locations, and counted.
    const sprayer = t.nodes[0]!;
    const mutable = await mutableBy(sprayer, 'spam', 'everywhere');
    const acks = await t.run(Promise.all(targets.map((n) => storeMutableAt(sprayer.internals, peerOf(n), mutable, undefined))));
    const took = targets.filter((_, i) => acks[i]?.status === MutableStoreStatus.STORED);
    const notResponsible = acks.filter((a) => a?.status === MutableStoreStatus.NOT_RESPONSIBLE).length;
    // Measured: 23 and 31 of 198 (without the check: all 198).
    expect(took.length).toBeLessThanOrEqual(targets.length / 4);
    expect(notResponsible).toBe(targets.length - took.length);
    for (const loc of replicaLocations(nodeCrypto, mutable.key)) {
      for (const n of closestNodes(targets, loc, k)) expect(took).toContain(n);
    }
    expect(targets.reduce((sum, n) => sum + (n.stats().mutableNotResponsible ?? 0), 0)).toBe(notResponsible);

    // A refusal costs the sender its write budget: a burst of misplaced STOREs is soon rate limited.
    const far = targets[statuses.indexOf(StoreStatus.NOT_RESPONSIBLE)]!;
    const burst = [];
    // Records `far` is not placed to hold (a random key lands near it now and then, and is stored).
    const misplaced = async (i: number): Promise<WireRecord> => {
      for (let j = 0; ; j++) {
        const r = await recordBy(attacker, 'spam', `burst ${i}.${j}`);
        if (responsibleLocations(nodeCrypto, far.internals.table, r.key).length === 0) return r;
      }
    };
    for (let i = 0; i < 6; i++) burst.push(await t.run(storeAt(attacker.internals, peerOf(far), await misplaced(i))));
    expect(burst).toContain(StoreStatus.RATE_LIMITED);

    // Honest puts, republishing and gets still work: holders are the nodes placement accepts.
    const key = await t.run(t.nodes[40]!.put('honest', 'value'));
    expect(holdersOf(t.nodes, keyOf(key)).length).toBeGreaterThanOrEqual(2 * k - 1);
    expect((await t.run(t.nodes[70]!.get(key)))?.text()).toBe('value');
    const put = await t.run(t.nodes[41]!.putMutable('mutable value'));
    const nowS = Math.floor(t.clock.now() / 1000);
    expect(put.stored).toBeGreaterThanOrEqual(2 * k - 1);
    expect(t.nodes.filter((n) => n.internals.mutableStore.get(keyOf(put.key), nowS)).length).toBe(put.stored);
    expect((await t.run(t.nodes[71]!.getMutable(t.nodes[41]!.identity.publicKey)))?.text()).toBe('mutable value');
  }, 120_000);

  it('a flood of valid records from one /24 fills only its quota; others’ records stay and an honest put succeeds', async () => {
    tn = await createTestnet(10, { node: { storage: { maxRecords: 60 } } });
    const t = tn;
    const victim = t.nodes[4]!;
    const honest: string[] = [];
    for (let i = 0; i < 10; i++) honest.push(await t.run(t.nodes[i]!.put(`honest ${i}`, 'before the flood')));
    expect(victim.storage.size).toBe(10);
    // Eight addresses of 203.0.113.0/24, 30 records each, all valid and all for the victim.
    const flood: (number | undefined)[] = [];
    for (let a = 0; a < 8; a++) {
      const sender = await clientAt(t, `203.0.113.${10 + a}`);
      const records = await Promise.all(Array.from({ length: 30 }, (_, i) => recordBy(sender, `flood ${a}`, `${i}`)));
      flood.push(...(await t.run(Promise.all(records.map((r) => storeAt(sender.internals, peerOf(victim), r))))));
    }
    // It takes what was free (50 places), then nothing more: the store is full and the /24 is over its quota.
    expect(flood.filter((s) => s === StoreStatus.STORED)).toHaveLength(50);
    expect(flood.filter((s) => s === StoreStatus.FULL)).toHaveLength(190);
    expect(victim.stats().storeOverQuota).toBe(190);
    for (const key of honest) expect(victim.internals.store.entry(keyOf(key))).toBeDefined();
    // An honest put during the flood: the victim evicts a flood record to make room.
    const late = await t.run(t.nodes[7]!.put('honest late', 'during the flood'));
    expect(victim.internals.store.entry(keyOf(late))).toBeDefined();
    expect(victim.stats().storeEvicted).toBe(1);
    for (const key of honest) expect(victim.internals.store.entry(keyOf(key))).toBeDefined();
    expect(victim.internals.store.usage('203.0.113.0/24').records).toBe(49);
  });

  it('delete() counts real removals only: 0 for a key nobody held', async () => {
    tn = await createTestnet(12);
    const t = tn;
    const record = await recordBy(t.nodes[3]!, 'never', 'stored');
    expect(await t.run(t.nodes[3]!.delete(record.key))).toBe(0);
    const key = await t.run(t.nodes[3]!.put('held', 'then deleted'));
    const holders = holdersOf(t.nodes, keyOf(key)).length;
    expect(await t.run(t.nodes[3]!.delete(key))).toBe(holders);
    expect(await t.run(t.nodes[3]!.delete(key))).toBe(0);
  });

  it('a record its owner signed with a clock ahead is deleted once the clock is right again', async () => {
    tn = await createTestnet(12);
    const t = tn;
    let offsetMs = 240_000;
    const clock: Clock = { now: () => t.clock.now() + offsetMs, setTimeout: (fn, ms) => t.clock.setTimeout(fn, ms), clearTimeout: (h) => t.clock.clearTimeout(h) };
    const owner = await t.addNode({ clock });
    const key = await t.run(owner.put('signed ahead', 'by four minutes'));
    const holders = holdersOf(t.nodes, keyOf(key));
    expect(holders.length).toBeGreaterThan(5);
    offsetMs = 0; // NTP fixed the owner's clock: its delete is now older than its record
    expect(await t.run(owner.delete(key))).toBe(holders.length);
    expect(holdersOf(t.nodes, keyOf(key))).toHaveLength(0);
    expect(await t.run(t.nodes[2]!.get(key))).toBeUndefined();
  });

  it('replays: an old STORE after a delete and an old DELETE after a new put are both refused', async () => {
    tn = await createTestnet(12);
    const t = tn;
    const owner = t.nodes[3]!;
    const attacker = t.nodes[9]!;
    const old = await recordBy(owner, 'replayed', 'v1');
    await t.run(replicated(owner, old));
    const holders = holdersOf(t.nodes, old.key).filter((n) => n !== owner && n !== attacker);
    expect(holders.length).toBeGreaterThan(5);
    // The attacker records the owner's DELETE as it passes (a holder's view of it).
    let captured: DeleteProof | undefined;
    const seen = holders[0]!.internals.store;
    const del = seen.delete.bind(seen);
    seen.delete = (p: DeleteProof) => ((captured = { ...p }), del(p));
    t.clock.advance(2_000);
    expect(await t.run(owner.delete(old.key))).toBeGreaterThan(5);
    // Replaying the old STORE: every holder's tombstone refuses it.
    for (const h of holders) expect(await t.run(storeAt(attacker.internals, peerOf(h), old))).toBe(StoreStatus.DELETED);

    // The owner stores again (a later issuedAt); the replayed old DELETE removes nothing.
    t.clock.advance(2_000);
    const again = await recordBy(owner, 'replayed', 'v1');
    for (const h of holders) expect(await t.run(storeAt(owner.internals, peerOf(h), again))).toBe(StoreStatus.STORED);
    for (const h of holders) {
      const reply = await t.run(attacker.internals.rpc.request(peerOf(h).address, { type: MessageType.DELETE, proof: captured! }, { expectId: h.identity.id }));
      expect(reply.message.type === MessageType.DELETE_ACK && reply.message.status).toBe(DeleteStatus.STALE);
      expect(h.internals.store.entry(old.key)).toBeDefined();
    }
  });

  it('a holder acknowledges a byte-for-byte copy of a record it holds without checking it again; any other copy is checked', async () => {
    tn = await createTestnet(12);
    const t = tn;
    const owner = t.nodes[3]!;
    const sender = t.nodes[9]!;
    const record = await recordBy(owner, 'republished', 'v1');
    await t.run(replicated(owner, record));
    const holder = holdersOf(t.nodes, record.key).find((n) => n !== owner && n !== sender)!;
    // Every signature the swarm checks, by its bytes (its nodes share one backend).
    const checked: string[] = [];
    const backend = holder.internals.crypto;
    const verify = backend.verify.bind(backend);
    backend.verify = (publicKey, message, signature) => (checked.push(toHex(signature)), verify(publicKey, message, signature));
    try {
      // What a republishing holder sends: the same bytes. Acknowledged, the owner's signature unchecked.
      expect(await t.run(storeAt(sender.internals, peerOf(holder), record))).toBe(StoreStatus.ALREADY_HELD);
      expect(holder.stats().storeHeldCopy).toBe(1);
      expect(checked).not.toContain(toHex(record.owner!.signature));
      // A copy that differs in one bit of its owner signature is checked (its proof of work, which
      // covers the signature, fails first), and refused.
      const signature = record.owner!.signature.map((b, i) => (i === 0 ? b ^ 1 : b));
      expect(await t.run(storeAt(sender.internals, peerOf(holder), { ...record, owner: { ...record.owner!, signature } }))).toBe(StoreStatus.INVALID);
      expect(holder.stats().storeInvalid).toBe(1);
      expect(holder.stats().storeHeldCopy).toBe(1);
      expect(holder.internals.store.entry(record.key)!.isCopyOf(record)).toBe(true);
    } finally {
      backend.verify = verify;
    }
  });

  describe('no eclipse by grinding', () => {
    // One swarm for both kinds of record: 150 honest nodes and 20 IDs ground next to an immutable
    // key, which ack every store, drop it, and answer lookups with each other only.
    let sw: { t: Testnet; owner: DHT; label: string; key: Uint8Array; bits: number; allies: Set<string>; attackers: DHT[]; honest: DHT[] } | undefined;
    beforeAll(async () => {
      const t = await createTestnet(150);
      const owner = t.nodes[10]!;
      // The victim's record, known in advance (its key is fixed by label, content and owner). The
      // hard case, one key in eight: the hash that places its second location shares 3 leading bits
      // with the key. Were that hash the location, the IDs ground next to the key would be among the
      // nodes nearest it too, and take the room in readers' table buckets toward it (young tables
      // have room there); placement moves the location to the other half of the ID space.
      const hashed = (k: Uint8Array): Uint8Array => nodeCrypto.sha256(concatBytes(utf8('spydht/location/v2'), k, Uint8Array.of(1)));
      // The key is also one no honest node happens to share more than MAX_HONEST_BITS leading bits
      // with (3 keys in 4 of 150 random IDs): the attackers must out-grind the closest honest node,
      // and a key with an unluckily close one made that search unbounded (2^bits keys each; once
      // 13 bits, 20 minutes of a core that blocked even the hook's timeout).
      const MAX_HONEST_BITS = 8;
      const honestBits = (k: Uint8Array): number => Math.max(...t.nodes.map((n) => commonPrefixLength(n.identity.id, k)));
      let label: string;
      let key: Uint8Array;
      let tries = 0;
      do {
        label = `eclipsed ${tries++}`;
        key = (await recordBy(owner, label, 'target')).key;
      } while (commonPrefixLength(key, hashed(key)) < 3 || honestBits(key) > MAX_HONEST_BITS);
      // Grind 20 identities whose IDs share more leading bits with the key than any honest node's
      // (≤ 2^9 keys each, times the ID puzzle's 2^2), with node:crypto's key generation (~3× @noble's
      // public key derivation): the seed is read only from a key that qualifies.
      const bits = 1 + honestBits(key);
      const ground: Identity[] = [];
      for (let n = 1; ground.length < 20; n++) {
        const pair = generateKeyPairSync('ed25519');
        const id = nodeCrypto.sha256(new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32)));
        if (commonPrefixLength(id, key) >= bits && solvesIdPuzzle(nodeCrypto, id, SIM_NETWORK.idDifficulty ?? 0)) {
          const seed = new Uint8Array(pair.privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(-32));
          ground.push(Identity.fromSeed(nodeCrypto, seed));
          expect(toHex(ground.at(-1)!.id)).toBe(toHex(id));
        }
        // Yield now and then, so a timeout can still end the hook.
        if (n % 1024 === 0) await new Promise((r) => setImmediate(r));
      }
      const attackers: DHT[] = [];
      for (const identity of ground) attackers.push(await t.addNode({ identity }));
      const allies = new Set(attackers.map((a) => idKey(a.identity.id)));
      for (const a of attackers) await makeHostile(a, 'dropper', allies);
      const honest = t.nodes.filter((n) => !allies.has(idKey(n.identity.id)) && n !== owner);
      sw = { t, owner, label, key, bits, allies, attackers, honest };
    }, 300_000);
    afterAll(async () => {
      await sw?.t.close();
      sw = undefined;
    });

    it('the 20 IDs closest to a key ack stores, drop them and lie, and the value is still found', async () => {
      const { t, owner, label, key, allies, honest } = sw!;
      expect(closestNodes(t.nodes, key, 20).every((n) => allies.has(idKey(n.identity.id)))).toBe(true);
      const published = await t.run(owner.publish(label, 'target'));
      expect(published.key).toBe(toHex(key));
      // The honest nodes nearest the second location hold it (not ones the liars steered the put to).
      const loc1 = replicaLocations(nodeCrypto, key)[1]!;
      const nearest = closestNodes(honest, loc1, 5);
      expect(holdersOf(nearest, key)).toHaveLength(5);
      const missed: string[] = [];
      const readers = honest.slice(0, 100);
      for (const reader of readers) {
        const r = await t.run(reader.findValue(published.key));
        if (r.value?.text() !== 'target') {
          // Why: how many of the 20 contacts its table knows nearest the second location are liars.
          const liars = reader.internals.table.closest(loc1, 20).filter((c) => allies.has(idKey(c.id))).length;
          missed.push(`${reader.id.slice(0, 8)}: ${r.hops} hops, ${r.queried} queried, ${liars}/20 liars nearest loc 2 in its table`);
        }
      }
      // ≥ 99 % of honest gets. Measured without the defences (SECURITY.md, "Targeted eclipse"): with
      // the location hash as is and no probes, 15 missed, or the put itself met only liars at the
      // second location; probes alone, 21 and 8; the other half alone, 3 and 3.
      expect(missed.length, `${missed.length} missed: ${missed.join('; ')}`).toBeLessThanOrEqual(readers.length / 100);
    }, 400_000);

    it('a mutable key: the same 20 IDs ack its updates and drop them or serve an old version, and gets still return the newest', async () => {
      const { t, key, bits, allies, attackers, honest } = sw!;
      const writer = honest[120]!;
      // A salt that puts the writer's mutable key inside the attackers' cluster: it shares ≥ `bits`
      // leading bits with the immutable key, so the 20 ground IDs are its 20 closest nodes too.
      let salt = '';
      for (let i = 0; commonPrefixLength(mutableKey(nodeCrypto, writer.identity.publicKey, utf8(salt)), key) < bits; i++) salt = `grind ${i}`;
      const mkey = mutableKey(nodeCrypto, writer.identity.publicKey, utf8(salt));
      expect(closestNodes(t.nodes, mkey, 20).every((n) => allies.has(idKey(n.identity.id)))).toBe(true);
      // The attackers see the first version as it passes (they ack it and keep nothing).
      const seen: WireMutableRecord[] = [];
      for (const a of attackers) a.internals.mutableStore.put = (r: WireMutableRecord) => (seen.push(r), { status: MutableStoreStatus.STORED, held: undefined });
      const first = await t.run(writer.putMutable('old', { salt }));
      // Half the attackers serve that first version forever (a genuine, signed, older copy); the
      // other half keep nothing. All of them ack every STORE_MUTABLE.
      const old = seen[0]!;
      expect(old.seq).toBe(first.seq);
      for (const a of attackers.slice(0, 10)) serveStale(a, old);
      const second = await t.run(writer.putMutable('newest', { salt }));
      expect(second.seq).toBe(first.seq + 1);
      // The honest nodes nearest the second location hold the newest.
      const loc1 = replicaLocations(nodeCrypto, mkey)[1]!;
      const nearest = closestNodes(honest, loc1, 5);
      expect(nearest.map((n) => n.internals.mutableStore.get(mkey, Math.floor(t.clock.now() / 1000))?.seq)).toEqual([2, 2, 2, 2, 2]);
      const missed: string[] = [];
      const readers = honest.filter((n) => n !== writer).slice(0, 100);
      for (const reader of readers) {
        const v = await t.run(reader.getMutable(writer.identity.publicKey, { salt }));
        if (v?.text() !== 'newest') missed.push(`${reader.id.slice(0, 8)}: ${v ? `seq ${v.seq}` : 'nothing'}`);
      }
      // ≥ 99 % of honest gets. Without the second location (a mutable key kept at the key only, as
      // before), every get met only the attackers: see SECURITY.md, "Mutable records".
      expect(missed.length, `${missed.length} missed: ${missed.join('; ')}`).toBeLessThanOrEqual(readers.length / 100);
    }, 400_000);
  });

  it('a put (immutable or mutable) that only one node confirms fails', async () => {
    tn = await createTestnet(30);
    const t = tn;
    // Every node refuses but the one closest to the key's first location (a k-closest holder
    // whatever the IDs; the putter itself may be none of them): one confirmation is not enough.
    const putter = t.nodes[5]!;
    const key = recordKey(nodeCrypto, utf8('alone'), utf8('one copy'), putter.identity.publicKey);
    const acceptor = closestNodes(t.nodes.filter((n) => n !== putter), replicaLocations(nodeCrypto, key)[0]!, 1)[0]!;
    for (const n of t.nodes) if (n !== acceptor) n.internals.store.put = () => StoreStatus.FULL;
    const err = await rejection(t.run(putter.publish('alone', 'one copy')));
    expect(isSpydhtError(err, 'NOT_STORED'), String(err)).toBe(true);
    expect(acceptor.storage.size).toBe(1);

    // The same for a mutable record.
    const mkey = mutableKey(nodeCrypto, putter.identity.publicKey, new Uint8Array(0));
    const mutableAcceptor = closestNodes(t.nodes.filter((n) => n !== putter), mkey, 1)[0]!;
    for (const n of t.nodes) if (n !== mutableAcceptor) n.internals.mutableStore.put = () => ({ status: MutableStoreStatus.FULL, held: undefined });
    const merr = await rejection(t.run(putter.putMutable('one copy')));
    expect(isSpydhtError(merr, 'NOT_STORED'), String(merr)).toBe(true);
    expect(mutableAcceptor.internals.mutableStore.size).toBe(1);
  });
});

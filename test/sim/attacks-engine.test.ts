/**
 * Attacks on the engine (SECURITY.md, "Engine"), each played by a hand-driven peer on the simulated
 * network against real DHT nodes in virtual time. Each test fails when its defence is removed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Identity, solvesIdPuzzle } from '../../src/crypto/identity.js';
import type { DHT } from '../../src/dht.js';
import { commonPrefixLength, type NodeId } from '../../src/id.js';
import { ipPrefixes } from '../../src/ip-prefix.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import type { MemoryTransport } from '../../src/transport/memory.js';
import { AddressKind, decodeIpPort, encodeIpPort, type PeerAddress } from '../../src/wire/address.js';
import { Flags, MessageType, type Body } from '../../src/wire/messages.js';
import { identityInBucket } from '../helpers/identity-in-bucket.js';
import { Raw, build } from '../helpers/raw-peer.js';
import { SIM_NETWORK, createTestnet, type Testnet } from '../helpers/testnet.js';

let tn: Testnet | undefined;
afterEach(async () => {
  await tn?.close();
  tn = undefined;
});

const DIFFICULTY = SIM_NETWORK.idDifficulty ?? 0;
const transportOf = (n: DHT): MemoryTransport => n.internals.rpc.transportFor(AddressKind.SIM) as MemoryTransport;
const addrOf = (n: DHT): PeerAddress => n.localAddresses()[0]!;
const simAddr = (ip: string, port = 4000): PeerAddress => encodeIpPort(AddressKind.SIM, { ip, port });

/** A puzzle-valid ID (no key behind it) sharing `bits` leading bits with `near`. */
function idNear(near: NodeId, bits: number): NodeId {
  for (;;) {
    const id = nodeCrypto.randomBytes(32);
    for (let i = 0; i < bits; i++) {
      const mask = 0x80 >> (i & 7);
      id[i >> 3] = (id[i >> 3]! & ~mask) | (near[i >> 3]! & mask);
    }
    if (commonPrefixLength(id, near) >= bits && solvesIdPuzzle(nodeCrypto, id, DIFFICULTY)) return id;
  }
}

/** Counts the bytes `node` sends to addresses whose IP starts with `prefix`. */
function bytesSentTo(node: DHT, prefix: string): { bytes: number } {
  const counter = { bytes: 0 };
  const t = transportOf(node);
  const send = t.send.bind(t);
  t.send = (to, data) => {
    if (decodeIpPort(to)?.ip.startsWith(prefix)) counter.bytes += data.length;
    send(to, data);
  };
  return counter;
}

describe('engine attacks', () => {
  it('amplification: whatever IDs a forged source rotates through, it gets back at most 3× what it sent', async () => {
    // Small buckets, so strangers land in full ones and set off ping-before-evict (whose verifying
    // ping to the stranger is the "anything it triggers" of the 3× rule).
    tn = await createTestnet(14, { node: { k: 2 } });
    const t = tn;
    const victimNode = t.nodes[0]!;
    // Its contacts in the far half go away: every stale ping there fails, freeing a slot for a stranger.
    const bucket0 = (): { id: string }[] => victimNode.snapshot().buckets.find((b) => b.index === 0)?.contacts ?? [];
    // Random IDs put only one of the 13 others in its bucket 0 about once in 600 swarms: fill it.
    while (bucket0().length < 2) await t.addNode({ identity: await identityInBucket(victimNode.identity.id, 0) });
    const far = bucket0();
    expect(far).toHaveLength(2);
    await t.clock.advance(60_000);
    for (const c of far) await t.nodes.find((n) => n.id === c.id)!.close();
    const forged = simAddr('10.250.0.1'); // the victim of the reflection: nobody that speaks the protocol
    const toVictim = bytesSentTo(victimNode, '10.250.0.');
    let fromVictim = 0;
    for (let round = 0; round < 2; round++) {
      // A fresh puzzle-valid ID each time (no key needed), in the far half of the node's ID space.
      const far0 = victimNode.identity.id.map((x) => ~x & 0xff);
      const body: Body = { type: MessageType.PING, pad: 0 };
      const bytes = await build(victimNode.config.networkId, body, { senderId: idNear(far0, 1) });
      fromVictim += bytes.length;
      transportOf(victimNode).receive(bytes, forged);
      await t.clock.advance(31_000); // past the ping-before-evict gap: every round may set one off
    }
    await t.clock.advance(60_000);
    expect(victimNode.stats().candidatesTried ?? 0).toBeGreaterThan(0);
    expect(toVictim.bytes).toBeGreaterThan(0);
    console.log(`amplification toward a forged address: ${toVictim.bytes} B sent for ${fromVictim} B received (${(toVictim.bytes / fromVictim).toFixed(2)}×)`);
    expect(toVictim.bytes / fromVictim).toBeLessThanOrEqual(3);
  });

  it('reflection: a node listing made-up contacts at a victim’s address gets no more sent there than it sent; gets still succeed', async () => {
    tn = await createTestnet(30);
    const t = tn;
    const key = await t.run(t.nodes[7]!.put('near the liar', 'the value'));
    const keyBytes = Uint8Array.from(Buffer.from(key, 'hex'));
    // The liar's ID shares 8 bits with the key: closer than any of 30 honest nodes is likely to be.
    let liarIdentity: Identity;
    do liarIdentity = await Identity.generate({ crypto: nodeCrypto, difficulty: DIFFICULTY });
    while (commonPrefixLength(liarIdentity.id, keyBytes) < 8);
    const liar = await Raw.create(t, { identity: liarIdentity });
    // The liar's contact sits in every node's table (as if it had earned its place honestly).
    for (const n of t.nodes) {
      const ip = decodeIpPort(liar.address)!.ip;
      n.internals.table.insert({ id: liar.identity.id, address: liar.address, addresses: [liar.address], ip, rtt: undefined, lastSeen: 0, addedAt: 0, failures: 0 });
    }
    let liarBytes = 0;
    const liarSend = liar.transport.send.bind(liar.transport);
    liar.transport.send = (to, data) => {
      liarBytes += data.length;
      liarSend(to, data);
    };
    // To every lookup it answers with 20 made-up contacts right next to the target, all at the victim's IP.
    liar.serve = (m) => {
      const target = m.type === MessageType.FIND_NODE ? m.target : m.type === MessageType.FIND_VALUE ? m.key : undefined;
      if (!target) return m.type === MessageType.PING ? { type: MessageType.PONG, observed: liar.address } : undefined;
      const contacts = Array.from({ length: 20 }, (_, i) => ({ id: idNear(target, 24), addresses: [simAddr('10.251.0.1', 5000 + i)] }));
      return { type: MessageType.NODES, valueWithheld: false, contacts };
    };
    const toVictim = t.nodes.map((n) => bytesSentTo(n, '10.251.0.'));
    // Every node gets the value whose key sits next to the liar: each lookup asks the liar first.
    let found = 0;
    for (const n of t.nodes) if ((await t.run(n.get(key)))?.text() === 'the value') found++;
    // And node lookups into the liar's own neighbourhood.
    for (const n of t.nodes.slice(0, 10)) await t.run(n.findNode(idNear(liar.identity.id, 16)));
    const sentToVictim = toVictim.reduce((sum, c) => sum + c.bytes, 0);
    console.log(`reflection: ${sentToVictim} B sent to the victim for ${liarBytes} B the liar sent (${(sentToVictim / liarBytes).toFixed(2)}×)`);
    expect(found).toBe(30);
    expect(liarBytes).toBeGreaterThan(0);
    expect(sentToVictim / liarBytes).toBeLessThanOrEqual(1);
    expect(t.nodes.reduce((sum, n) => sum + (n.stats().reflectionLimited ?? 0), 0)).toBeGreaterThan(0);
  });

  it('prefix limits: a /24 and a /64 get a few slots of a routing table each, whatever their number of hosts', async () => {
    tn = await createTestnet(20);
    const t = tn;
    const v4 = Array.from({ length: 20 }, (_, i) => `10.99.0.${i + 1}`);
    const v6 = Array.from({ length: 20 }, (_, i) => `2001:db8:0:7::${(i + 1).toString(16)}`);
    for (const ip of [...v4, ...v6]) await t.addNode({ transports: [t.net.createTransport({ ip })] });
    for (const n of t.nodes.slice(0, 20)) {
      const ips = n.internals.table.all().map((c) => c.ip);
      const in24 = ips.filter((ip) => ipPrefixes(ip).narrow === '10.99.0.0/24').length;
      const in64 = ips.filter((ip) => ipPrefixes(ip).narrow === '2001:db8:0:7::/64').length;
      expect(in24).toBeLessThanOrEqual(4);
      expect(in64).toBeLessThanOrEqual(4);
    }
    // And the honest nodes, one per /24, still all find each other.
    const honest = t.nodes.slice(0, 20);
    for (const n of honest.slice(0, 5)) {
      const ids = new Set(n.internals.table.all().map((c) => Buffer.from(c.id).toString('hex')));
      expect(honest.filter((m) => m !== n && ids.has(m.id)).length).toBeGreaterThanOrEqual(10);
    }
  });

  it('PROXY: a bridge runs nothing for an address that has not proven it receives, and limits what a proven one asks', async () => {
    tn = await createTestnet(12, { node: { limits: { writes: { perKeyRate: 1, perKeyBurst: 3 } } } });
    const t = tn;
    const bridge = t.nodes[2]!;
    const key = await t.run(t.nodes[5]!.put('proxied', 'value'));
    const keyBytes = Uint8Array.from(Buffer.from(key, 'hex'));
    const raw = await Raw.create(t, { ip: '10.252.0.1' });
    const ask: Body = { type: MessageType.FIND_VALUE, key: keyBytes, pad: 400 };
    // Unproven (no token): no lookup is run, nothing comes back.
    void raw.request(addrOf(bridge), ask, { flags: Flags.PROXY | Flags.CLIENT });
    await t.clock.advance(5_000);
    expect(bridge.stats().proxyUnproven).toBe(1);
    expect(bridge.stats().proxied ?? 0).toBe(0);
    expect(raw.received).toHaveLength(0);
    // Proven: a PING fetches the token; then proxied gets run, within the write limit of its IP.
    const pong = await t.run(raw.request(addrOf(bridge), { type: MessageType.PING, pad: 60 }));
    const token = pong.message.token.slice();
    for (let i = 0; i < 6; i++) void raw.request(addrOf(bridge), ask, { flags: Flags.PROXY | Flags.CLIENT, token });
    await t.clock.advance(10_000);
    const values = raw.received.filter((r) => r.message.type === MessageType.VALUE);
    expect(values).toHaveLength(3);
    expect(bridge.stats().proxied).toBe(3);
    expect(bridge.stats().proxyRateLimited).toBe(3);
  });

  it('crypto work for strangers: a flood asking for signed replies from one /24 gets a bounded number of signatures', async () => {
    tn = await createTestnet(6);
    const t = tn;
    const target = t.nodes[1]!;
    const networkId = target.config.networkId;
    const attackers = await Promise.all(Array.from({ length: 8 }, (_, i) => Raw.create(t, { ip: `10.253.0.${i + 1}` })));
    const signedReplies = (): number => attackers.reduce((sum, a) => sum + a.received.filter((r) => r.message.auth).length, 0);
    // 8 hosts of one /24, 100 requests each within a second, each from a fresh key-less ID asking for a signature.
    for (let i = 0; i < 100; i++) {
      for (const a of attackers) {
        const bytes = await build(networkId, { type: MessageType.PING, pad: 60 }, { senderId: idNear(nodeCrypto.randomBytes(32), 0), flags: Flags.WANT_AUTH });
        a.transport.send(addrOf(target), bytes);
      }
      await t.clock.advance(10);
    }
    await t.clock.advance(100);
    // Alone, each host would get 40 (its burst) + 20/s: 480 in all. The /24 shares 4 hosts' worth: 160 + 80/s.
    expect(signedReplies()).toBeLessThanOrEqual(160 + 80 * 1.2);
    expect(target.stats().unsignedOverBudget ?? 0).toBeGreaterThan(0);
    // A stranger from another prefix still gets its signed reply at once.
    const stranger = await Raw.create(t, { ip: '10.254.0.1' });
    const pong = await t.run(stranger.request(addrOf(target), { type: MessageType.PING, pad: 60 }, { flags: Flags.WANT_AUTH }));
    expect(pong.message.auth).toBeDefined();
  });
});

/**
 * Which relay carries a WebRTC signal: members before the signaling server, so the server is off
 * the hot path once a swarm has formed, yet a newcomer (linked to nobody but the server) is still
 * reached through it. The RPC layer is a stand-in that records where each SIGNAL went.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ID_BYTES, idToHex, type NodeId } from '../../src/id.js';
import type { Contact } from '../../src/routing/contact.js';
import { RoutingTable } from '../../src/routing/table.js';
import type { Rpc } from '../../src/rpc/rpc.js';
import { SIGNALS_PER_IP, SIGNALS_PER_IP_TARGET, SIGNALS_PER_PREFIX, SIGNALS_PER_REQUESTER_TARGET, SignalRelay, type RelayPeer } from '../../src/relay/signal-relay.js';
import { KnownPeers } from '../../src/routing/known-peers.js';
import { AddressKind, encodeIpPort, type PeerAddress } from '../../src/wire/address.js';
import { MessageType, SignalStatus, type Message } from '../../src/wire/messages.js';

const rnd = (): NodeId => new Uint8Array(randomBytes(ID_BYTES));
let port = 4000;
const peer = (): RelayPeer => ({ id: rnd(), address: encodeIpPort(AddressKind.SIM, { ip: '10.0.0.1', port: port++ }) });

interface Setup {
  self: NodeId;
  relay: SignalRelay;
  table: RoutingTable;
  /** Hex IDs of the relays asked, in order. */
  asked: string[];
  /** Relays that forward (answer FORWARDED); every other one answers UNKNOWN_TARGET. */
  forwarders: Set<string>;
  counts: Record<string, number>;
  /** Resolves once a send settles (forwarded, or every relay refused). */
  settled: () => Promise<void>;
  /** The relay's clock, ms: its budgets refill as it moves. */
  clock: { t: number };
}

function setup({ bootstrap = [] as RelayPeer[], servers = [] as RelayPeer[] } = {}): Setup {
  const self = rnd();
  const asked: string[] = [];
  const forwarders = new Set<string>();
  const counts: Record<string, number> = {};
  let pending = Promise.resolve();
  const rpc = {
    canReach: (_a: PeerAddress) => true,
    request: (_to: PeerAddress, _body: unknown, options: { expectId: NodeId }) => {
      const hex = idToHex(options.expectId);
      asked.push(hex);
      const status = forwarders.has(hex) ? SignalStatus.FORWARDED : SignalStatus.UNKNOWN_TARGET;
      const p = Promise.resolve({ message: { type: MessageType.SIGNAL_ACK, status } });
      pending = pending.then(() => p.then(() => undefined));
      return p;
    },
  } as unknown as Rpc;
  const table = new RoutingTable({ localId: self, k: 20, maxPerIp: 64, now: () => 0 });
  const peers = new KnownPeers();
  for (const p of bootstrap) peers.addEntryPeer(p);
  for (const p of servers) peers.noteBootstrapServer(p.id);
  const clock = { t: 0 };
  const relay = new SignalRelay({ selfId: self, rpc, table, peers, count: (what) => void (counts[what] = (counts[what] ?? 0) + 1), now: () => clock.t });
  // Each relay answers in a microtask; a few turns of the event loop let a send try them all.
  const settled = async (): Promise<void> => {
    for (let i = 0; i < 10; i++) await new Promise<void>((r) => setImmediate(r));
    await pending;
  };
  return { self, relay, table, asked, forwarders, counts, settled, clock };
}

function addContact(table: RoutingTable, p: RelayPeer): void {
  const c: Contact = { id: p.id, address: p.address, addresses: [p.address], ip: `10.1.${port >> 8}.${port & 255}`, rtt: undefined, lastSeen: 0, addedAt: 0, failures: 0 };
  expect(table.insert(c).status).toBe('added');
}

const hex = (p: RelayPeer): string => idToHex(p.id);

describe('SignalRelay: which relay carries a signal', () => {
  it('a member that listed the target goes before the server, even when the server listed it last', async () => {
    const server = peer();
    const member = peer();
    const s = setup({ bootstrap: [server], servers: [server] });
    const target = rnd();
    s.relay.hint(target, member);
    s.relay.hint(target, server);
    s.forwarders.add(hex(member));
    s.relay.send(target, new Uint8Array([1]));
    await s.settled();
    expect(s.asked).toEqual([hex(member)]);
    expect(s.counts.signalsSent).toBe(1);
    expect(s.counts.signalsSentViaServer).toBeUndefined();
  });

  it('a bootstrap peer without the flag is an ordinary member: a server that listed the target later still goes after it', async () => {
    const server = peer();
    const joinedThrough = peer();
    const s = setup({ bootstrap: [joinedThrough], servers: [server] });
    const target = rnd();
    s.relay.hint(target, joinedThrough);
    s.relay.hint(target, server);
    s.forwarders.add(hex(joinedThrough));
    s.relay.send(target, new Uint8Array([1]));
    await s.settled();
    expect(s.asked).toEqual([hex(joinedThrough)]);
  });

  it('a peer announcing itself as a server (BOOTSTRAP flag) is a last resort too, though not our bootstrap', async () => {
    const announcedServer = peer();
    const member = peer();
    const s = setup({ servers: [announcedServer] });
    const target = rnd();
    s.relay.hint(target, member);
    s.relay.hint(target, announcedServer);
    s.relay.send(target, new Uint8Array([1]));
    await s.settled();
    // The member refuses (UNKNOWN_TARGET): then, and only then, the server.
    expect(s.asked).toEqual([hex(member), hex(announcedServer)]);
    expect(s.counts.signalUndeliverable).toBe(1);
  });

  it('order: listing members, closest members, listing servers, bootstrap peers; at most 4 tried', async () => {
    const server = peer();
    const lister = peer();
    const s = setup({ bootstrap: [server], servers: [server] });
    const target = rnd();
    const near = [peer(), peer(), peer()];
    for (const p of near) addContact(s.table, p);
    s.relay.hint(target, server);
    s.relay.hint(target, lister);
    s.relay.send(target, new Uint8Array([1]));
    await s.settled();
    const closestTwo = s.table.closest(target, 2).map((c) => idToHex(c.id));
    expect(s.asked).toEqual([hex(lister), ...closestTwo, hex(server)]);
    expect(s.counts.signalRelayRetries).toBe(3);
  });

  it('the answer to a newcomer goes back through the relay that brought its offer, even the server', async () => {
    const server = peer();
    const s = setup({ bootstrap: [server], servers: [server] });
    for (const p of [peer(), peer()]) addContact(s.table, p);
    const newcomer = rnd();
    // The newcomer's offer, addressed to us, forwarded by the server.
    const offer = { type: MessageType.SIGNAL, target: s.self, source: newcomer, payload: new Uint8Array([1]) } as unknown as Message & { type: typeof MessageType.SIGNAL };
    const ack = s.relay.handle(offer, { address: server.address, ip: '10.0.0.1' }, server);
    expect(ack).toEqual({ type: MessageType.SIGNAL_ACK, status: SignalStatus.FORWARDED });
    s.forwarders.add(hex(server));
    s.relay.send(newcomer, new Uint8Array([2]));
    await s.settled();
    // No detour through members that cannot know the newcomer yet.
    expect(s.asked).toEqual([hex(server)]);
    expect(s.counts.signalsSentViaServer).toBe(1);
  });
});

describe('SignalRelay: budgets (a signed offer costs an attacker only a throwaway identity)', () => {
  const signal = (target: NodeId, source = rnd()): Message & { type: typeof MessageType.SIGNAL } =>
    ({ type: MessageType.SIGNAL, target, source, payload: new Uint8Array([1]) }) as unknown as Message & { type: typeof MessageType.SIGNAL };
  const status = (b: unknown): number => (b as { status: number }).status;

  it('forwards a requester’s burst toward one target, then answers RATE_LIMITED; another requester is unaffected', () => {
    const s = setup();
    const target = peer();
    addContact(s.table, target);
    const flooder = { address: peer().address, ip: '10.9.0.1' };
    const results = Array.from({ length: 40 }, () => status(s.relay.handle(signal(target.id), flooder)));
    expect(results.filter((r) => r === SignalStatus.FORWARDED)).toHaveLength(SIGNALS_PER_REQUESTER_TARGET.perKeyBurst);
    expect(results.slice(SIGNALS_PER_REQUESTER_TARGET.perKeyBurst).every((r) => r === SignalStatus.RATE_LIMITED)).toBe(true);
    expect(status(s.relay.handle(signal(target.id), { address: peer().address, ip: '10.8.0.1' }))).toBe(SignalStatus.FORWARDED);
  });

  it('one IP on many ports passes at most half of what a target takes from one relay', () => {
    // The attack: a flood of offers toward one victim from many ports of one IP. Per port it stays
    // under the requester budget; the relay must not pass more than the victim's per-relay offer
    // budget can spare (20 at once, 10/s: the WebRTC transport's OFFERS_PER_RELAY_*), or the
    // victim refuses every offer through this relay, newcomers' with the flood's.
    const s = setup();
    const victim = peer();
    addContact(s.table, victim);
    const ports = Array.from({ length: 40 }, () => ({ address: peer().address, ip: '10.4.0.1' }));
    const first = ports.flatMap((p) => Array.from({ length: 3 }, () => status(s.relay.handle(signal(victim.id), p))));
    const passed = first.filter((r) => r === SignalStatus.FORWARDED).length;
    expect(passed).toBe(SIGNALS_PER_IP_TARGET.perKeyBurst);
    expect(passed).toBeLessThanOrEqual(20 / 2);
    // And 5/s after the burst: one second later, five more.
    s.clock.t += 1000;
    const later = ports.map((p) => status(s.relay.handle(signal(victim.id), p)));
    expect(later.filter((r) => r === SignalStatus.FORWARDED)).toHaveLength(SIGNALS_PER_IP_TARGET.perKeyRate);
    // Another IP, and the same IP toward another target, still pass.
    expect(status(s.relay.handle(signal(victim.id), { address: peer().address, ip: '10.3.0.1' }))).toBe(SignalStatus.FORWARDED);
    const other = peer();
    addContact(s.table, other);
    expect(status(s.relay.handle(signal(other.id), ports[0]!))).toBe(SignalStatus.FORWARDED);
  });

  it('one IP is held to its budget whatever it targets, and its /24 with it', () => {
    const s = setup();
    const flood = (ip: string, n: number): number[] => Array.from({ length: n }, () => status(s.relay.handle(signal(s.self), { address: peer().address, ip })));
    s.relay.onSignal = () => 'accepted';
    expect(flood('10.7.0.1', 200).filter((r) => r === SignalStatus.FORWARDED)).toHaveLength(SIGNALS_PER_IP.perKeyBurst);
    // Other addresses of the same /24 share the prefix's budget (what the first IP left of it).
    const rest = SIGNALS_PER_PREFIX.perKeyBurst - SIGNALS_PER_IP.perKeyBurst;
    expect(flood('10.7.0.2', 200).filter((r) => r === SignalStatus.FORWARDED)).toHaveLength(rest);
    expect(flood('10.6.0.1', 1)).toEqual([SignalStatus.FORWARDED]);
  });

  it('an unknown target costs no budget; the transport’s verdict becomes RATE_LIMITED', () => {
    const s = setup();
    const ip = { address: peer().address, ip: '10.5.0.1' };
    for (let i = 0; i < 500; i++) expect(status(s.relay.handle(signal(rnd()), ip))).toBe(SignalStatus.UNKNOWN_TARGET);
    const relays: (string | undefined)[] = [];
    s.relay.onSignal = (_from, _payload, relay) => (relays.push(relay), 'rate-limited');
    expect(status(s.relay.handle(signal(s.self), ip))).toBe(SignalStatus.RATE_LIMITED);
    // The transport learns who relayed it, to budget per relay.
    expect(relays).toEqual(['10.5.0.1']);
  });
});

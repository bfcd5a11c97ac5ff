/**
 * Links are earned: a flood of WebRTC offers, each validly signed by a fresh throwaway identity
 * (what an attacker gets for ~0.25 s of CPU each on the real network), must neither close a
 * victim's links to peers that passed a signed round trip nor keep an honest newcomer from linking
 * to it. Real everything: the signaling server (UDP + WebSocket + WebRTC), a victim node speaking
 * UDP and WebRTC (node-datachannel), Node peers linked to it, a browser-like newcomer joining
 * through the server, and an attacker sending SIGNAL requests from its own UDP socket on another
 * loopback address (127.66.0.1), both straight to the victim and through the server.
 */
import { createSocket, type Socket } from 'node:dgram';
import { RTCPeerConnection } from 'node-datachannel/polyfill';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBrowserNode } from '../../src/browser-node.js';
import { fromHex } from '../../src/bytes.js';
import { Identity } from '../../src/crypto/identity.js';
import { inThreadPowSolver } from '../../src/crypto/pow.js';
import { DHT } from '../../src/dht.js';
import { networkConfig } from '../../src/network.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { startSignalingServer, type SignalingServer } from '../../src/node/signaling/index.js';
import { UdpTransport } from '../../src/node/udp.js';
import { newSessionId, sealSignal } from '../../src/transport/signal-envelope.js';
import { WebRtcTransport, type RTCPeerConnectionConstructor } from '../../src/transport/webrtc.js';
import type { WebSocketConstructor } from '../../src/transport/ws-client.js';
import { AddressKind, type PeerAddress } from '../../src/wire/address.js';
import { decodeMessage, encodeMessage, MessageType, SignalStatus, TOKEN_BYTES } from '../../src/wire/messages.js';
import { until } from '../helpers/wait.js';

const NETWORK = { name: 'offer-flood-test', idDifficulty: 4, powBaseBits: 8 };
const NETWORK_ID = networkConfig(nodeCrypto, NETWORK).networkId;
const RTC = RTCPeerConnection as unknown as RTCPeerConnectionConstructor;
const ATTACKER_IP = '127.66.0.1';
/** Small, so a few dozen offers would fill it many times over. */
const MAX_LINKS = 12;
const PEERS = 4;
const OFFERS = 120;
/**
 * The attacker's UDP ports: the server passes 1 offer/s (12 at once) per port toward one target.
 * The first wave comes from one; the second from the others, to pass more through the server.
 */
const ATTACKER_PORTS = 8;
/** While the newcomer links, an offer through the server this often (the victim takes 10/s per relay). */
const WAVE_GAP_MS = 100;
const WAIT_MS = 20_000;

const webrtc = (id: string): PeerAddress => ({ kind: AddressKind.WEBRTC, data: fromHex(id) });
const newIdentity = (): Promise<Identity> => Identity.generate({ crypto: nodeCrypto, difficulty: NETWORK.idDifficulty });

/** A member speaking UDP and WebRTC, whose WebRTC transport the test can inspect. */
interface Member {
  dht: DHT;
  rtc: WebRtcTransport;
  udp: UdpTransport;
}

async function member(bootstrap: string, maxLinks = 32): Promise<Member> {
  const identity = await newIdentity();
  const rtc = new WebRtcTransport({ identity, crypto: nodeCrypto, RTCPeerConnection: RTC, maxLinks });
  const udp = await UdpTransport.bind({ host: '127.0.0.1' });
  const dht = await DHT.create({ transports: [udp, rtc], crypto: nodeCrypto, identity, network: NETWORK, maxPerIp: 64, bootstrap: [bootstrap] });
  return { dht, rtc, udp };
}

/**
 * Sends signed offers from throwaway identities as SIGNAL requests, and counts the acks by status.
 * It sends from several ports: a relay budgets each requester (address) per target, so more ports
 * push more offers through one relay, up to its per-IP budget.
 */
class Attacker {
  readonly acks = new Map<number, number>();
  sent = 0;
  #sdp = '';
  #pc: RTCPeerConnection | undefined;
  private constructor(readonly sockets: Socket[]) {
    for (const socket of sockets) {
      socket.on('message', (data) => {
        const d = decodeMessage(new Uint8Array(data), NETWORK_ID);
        if (d.ok && d.message.type === MessageType.SIGNAL_ACK) this.acks.set(d.message.status, (this.acks.get(d.message.status) ?? 0) + 1);
      });
    }
  }

  static async open(ports: number): Promise<Attacker> {
    const sockets: Socket[] = [];
    for (let i = 0; i < ports; i++) {
      const socket = createSocket('udp4');
      await new Promise<void>((resolve) => socket.bind(0, ATTACKER_IP, resolve));
      sockets.push(socket);
    }
    const a = new Attacker(sockets);
    // A real offer SDP (a DTLS fingerprint, ICE credentials): the victim accepts it and starts ICE.
    a.#pc = new RTCPeerConnection() as unknown as RTCPeerConnection;
    a.#pc.createDataChannel('spydht');
    a.#sdp = (await a.#pc.createOffer()).sdp ?? '';
    return a;
  }

  /** One SIGNAL carrying a valid offer signed by a brand-new identity, sent to `via` (ip, port) from socket `from`. */
  async offer(target: string, via: { ip: string; port: number }, from = 0): Promise<void> {
    const throwaway = await newIdentity();
    const sealed = await sealSignal(throwaway, fromHex(target), { t: 'offer', s: newSessionId(nodeCrypto), sdp: this.#sdp });
    if (!sealed.ok) throw new Error(sealed.error);
    const bytes = encodeMessage({
      networkId: NETWORK_ID,
      flags: 0,
      requestId: nodeCrypto.randomBytes(8),
      senderId: throwaway.id,
      token: new Uint8Array(TOKEN_BYTES),
      type: MessageType.SIGNAL,
      target: fromHex(target),
      source: throwaway.id,
      payload: sealed.value,
    });
    this.sent++;
    this.sockets[from]!.send(bytes, via.port, via.ip);
  }

  acked(status: number): number {
    return this.acks.get(status) ?? 0;
  }

  close(): void {
    this.#pc?.close();
    for (const socket of this.sockets) socket.close();
  }
}

let server: SignalingServer;
let victim: Member;
const peers: Member[] = [];
const others: DHT[] = [];
let attacker: Attacker;

beforeAll(async () => {
  server = await startSignalingServer({ host: '127.0.0.1', port: 0, network: NETWORK, crypto: nodeCrypto, dht: { maxPerIp: 64 }, logger: () => {} });
  victim = await member(server.udpAddress, MAX_LINKS);
  for (let i = 0; i < PEERS; i++) peers.push(await member(server.udpAddress));
  attacker = await Attacker.open(ATTACKER_PORTS);
}, 60_000);

afterAll(async () => {
  attacker?.close();
  await Promise.all([...others, ...peers.map((p) => p.dht), victim?.dht].filter(Boolean).map((d) => d!.close()));
  await server?.close();
});

describe('links are earned: a flood of offers from throwaway identities', () => {
  it('leaves the links of proven peers open and lets an honest newcomer link, while the flood is answered RATE_LIMITED', async () => {
    // The victim links to each peer over WebRTC; their signed round trips earn the links.
    // Relays forward only to contacts in their tables: wait until the server (every member's
    // relay of last resort) has all of them.
    const known = () => new Set(server.dht.snapshot().buckets.flatMap((b) => b.contacts.map((c) => c.id)));
    await until(() => [victim, ...peers].every((m) => known().has(m.dht.id)), 'the server to know every member', WAIT_MS);
    for (const p of peers) await victim.dht.ping(webrtc(p.dht.id), { timeoutMs: WAIT_MS });
    const peerIds = new Set(peers.map((p) => p.dht.id));
    const proven = () => victim.rtc.links().filter((l) => peerIds.has(l.id) && l.state === 'open' && l.earned);
    await until(() => proven().length === PEERS, 'the victim to hold an earned link to every peer', WAIT_MS);
    const sessions = new Map(proven().map((l) => [l.id, l.session]));

    // The flood: half straight at the victim (it relays to itself), half through the server's UDP
    // node, which forwards to the victim. All from one throwaway identity each.
    const viaVictim = { ip: '127.0.0.1', port: victim.udp.address().port };
    const viaServer = { ip: '127.0.0.1', port: server.udpPort };
    for (let i = 0; i < OFFERS; i++) await attacker.offer(victim.dht.id, i % 2 === 0 ? viaVictim : viaServer);

    // The newcomer joins through the server while the flood's links are still connecting
    // (their ICE never completes: they hold a slot until the connect timeout, 15 s).
    const identity = await newIdentity();
    const newcomer = await createBrowserNode({
      signalingUrl: server.url,
      network: NETWORK,
      identityStorage: false,
      identity,
      crypto: nodeCrypto,
      powSolver: inThreadPowSolver(nodeCrypto),
      maxPerIp: 64,
      RTCPeerConnection: RTC,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    });
    others.push(newcomer);
    // A second wave, through the server (the newcomer's relay too), for as long as the newcomer
    // links: as many offers as the server passes and the victim takes through one relay. Each
    // takes a slot of that relay's share at the victim, whose newer offers replace older ones; the
    // newcomer's link keeps its slot once its ICE has connected (a flood's offers never do), so it
    // links within its ping's retries instead of being knocked out again and again.
    let linking = true;
    const wave = (async () => {
      for (let i = 0; linking; i++) {
        await attacker.offer(victim.dht.id, viaServer, 1 + (i % (ATTACKER_PORTS - 1)));
        await new Promise((resolve) => setTimeout(resolve, WAVE_GAP_MS));
      }
    })();
    try {
      expect((await newcomer.ping(webrtc(victim.dht.id), { timeoutMs: WAIT_MS })).id).toBe(victim.dht.id);
    } finally {
      linking = false;
      await wave;
    }

    // Every proven link is still the same open link (not closed and reopened).
    for (const p of peers) expect((await victim.dht.ping(webrtc(p.dht.id), { timeoutMs: WAIT_MS })).id).toBe(p.dht.id);
    expect(new Map(proven().map((l) => [l.id, l.session]))).toEqual(sessions);
    const stats = victim.rtc.stats;
    expect(stats.earnedEvicted).toBe(0);
    // The victim never held more unproven incoming links than its budget, and most offers were refused cheaply.
    await until(() => attacker.acked(SignalStatus.RATE_LIMITED) + attacker.acked(SignalStatus.FORWARDED) >= attacker.sent - 10, 'the acks of the flood');
    expect(attacker.acked(SignalStatus.RATE_LIMITED)).toBeGreaterThan(OFFERS / 2);
    const unproven = victim.rtc.links().filter((l) => l.role === 'answerer' && l.state === 'connecting').length;
    expect(unproven).toBeLessThanOrEqual(Math.max(2, Math.floor(MAX_LINKS / 4)));
  }, 120_000);
});

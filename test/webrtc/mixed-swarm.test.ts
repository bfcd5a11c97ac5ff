/**
 * A mixed swarm in Node, before any browser: the signaling server (UDP + WebSocket + WebRTC),
 * Node peers speaking UDP and WebRTC and UDP-only clients (startLocalSwarm), and "browser-like"
 * nodes built by createBrowserNode — the very code a tab runs — with node-datachannel's
 * RTCPeerConnection and ws's WebSocket injected. Real UDP, real WebSocket, real WebRTC. Every put
 * is gettable from every member.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DHT } from '../../src/dht.js';
import { startLocalSwarm, type LocalSwarm } from '../../src/node/index.js';
import { Identity } from '../../src/crypto/identity.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { StoreStatus } from '../../src/wire/messages.js';
import { browserLikeNode } from '../helpers/browser-like.js';

const NETWORK = { name: 'mixed-test', idDifficulty: 4, powBaseBits: 8 };
/**
 * No Chromium here (node-datachannel, unlike Chromium, connects over loopback), so the server
 * listens on loopback alone. UDP-only clients take part through a bridge (a member speaking UDP
 * and WebRTC): here through the server only, so the last test can see it run a get for them.
 */
let swarm: LocalSwarm;
const tabs: DHT[] = [];

beforeAll(async () => {
  swarm = await startLocalSwarm({ host: '127.0.0.1', network: NETWORK, bridges: 3, clients: 2, clientsJoin: 'server' });
  for (let i = 0; i < 3; i++) {
    tabs.push(await browserLikeNode(NETWORK, { signalingUrl: swarm.url, maxPerIp: swarm.maxPerIp }));
  }
}, 120_000);

afterAll(async () => {
  await Promise.all(tabs.map((n) => n.close()));
  await swarm?.close();
});

describe('mixed swarm: signaling server + Node peers (UDP+WebRTC) + UDP-only clients + browser-like nodes', () => {
  it('no routing table hands out a contact its asker cannot reach: UDP-only clients are in no table', () => {
    const clientIds = new Set(swarm.clients.map((n) => n.id));
    for (const m of [...swarm.bridges, ...tabs, swarm.server.dht]) {
      for (const b of m.snapshot().buckets) for (const c of b.contacts) expect(clientIds.has(c.id)).toBe(false);
    }
  });

  it('browser-like nodes hold WebRTC contacts', () => {
    for (const t of tabs) {
      const kinds = t.snapshot().buckets.flatMap((b) => b.contacts.map((c) => c.transport));
      expect(kinds).toContain('webrtc');
    }
  });

  it('contacts say what they are: bridges speak UDP and WebRTC, tabs WebRTC only, the server is the bootstrap server', () => {
    const bridgeIds = new Set(swarm.bridges.map((n) => n.id));
    const tabIds = new Set(tabs.map((t) => t.id));
    const seen = { bridge: 0, tab: 0, server: 0 };
    for (const t of tabs) {
      for (const c of t.routing.contacts()) {
        if (c.id === swarm.server.dht.id) {
          seen.server++;
          expect(c).toMatchObject({ transport: 'ws', bootstrapServer: true });
        } else if (bridgeIds.has(c.id)) {
          seen.bridge++;
          expect(c).toMatchObject({ transport: 'webrtc', speaks: ['udp', 'webrtc'], bootstrapServer: false });
        } else if (tabIds.has(c.id)) {
          seen.tab++;
          expect(c).toMatchObject({ transport: 'webrtc', speaks: ['webrtc'], bootstrapServer: false });
        }
      }
    }
    expect(seen.server).toBeGreaterThan(0);
    expect(seen.bridge).toBeGreaterThan(0);
    expect(seen.tab).toBeGreaterThan(0);
  });

  it('a put from every member is gettable from every other member', { timeout: 120_000 }, async () => {
    const members = [...swarm.bridges, ...tabs, ...swarm.clients];
    const keys = await Promise.all(members.map((m, i) => m.put(`member ${i}`, `content from member ${i}`)));
    for (const [i, key] of keys.entries()) {
      for (const [j, m] of members.entries()) {
        if (i === j) continue;
        const v = await m.get(key);
        expect(v?.text(), `member ${j} getting member ${i}'s value`).toBe(`content from member ${i}`);
      }
    }
  });

  it('once the swarm has formed, members carry the signaling of new links, not the server', { timeout: 60_000 }, async () => {
    const webrtcMembers = (): DHT[] => [swarm.server.dht, ...swarm.bridges, ...tabs];
    const links = (): number => webrtcMembers().reduce((sum, m) => sum + (m.stats()['webrtc.linksOpened'] ?? 0), 0) / 2;
    const relayedByServer = (): number => swarm.server.dht.stats().signalsRelayed ?? 0;
    // Joining, a newcomer's first few links are signalled by the server: it is their only common contact.
    expect(relayedByServer()).toBeGreaterThan(0);
    const [links0, relayed0] = [links(), relayedByServer()];
    // Two new bridges join through a member; the tabs then look them up: every such link is new.
    for (let i = 0; i < 2; i++) {
      const late = await swarm.addBridge();
      for (const t of tabs) expect((await t.findNode(late.id)).map((c) => c.id)).toContain(late.id);
    }
    const newLinks = links() - links0;
    const perLink = (relayedByServer() - relayed0) / newLinks;
    console.log(`server frames per new link once formed: ${perLink.toFixed(2)} (${relayedByServer() - relayed0} relayed for ${newLinks} links)`);
    expect(newLinks).toBeGreaterThanOrEqual(2 * tabs.length);
    // Signalling a link takes two envelopes (offer and answer, candidates inside): 2 per link if
    // the server carried them all. Members carry them: near zero (a relay that times out falls back).
    expect(perLink).toBeLessThanOrEqual(0.25);
    // Envelopes per link (about two: the candidates ride with the offer and the answer) depend on
    // how fast ICE gathers on a busy host: test/webrtc/webrtc-transport.test.ts checks the batching
    // itself, and `npm run bench` reports the figure.
  });

  it('browser-like nodes, Node peers and UDP-only clients update one mutable key in turn; every member reads the newest', { timeout: 120_000 }, async () => {
    // One owner shared by every writer (as one user on several devices); each writes the next seq.
    const owner = await Identity.generate({ crypto: nodeCrypto, difficulty: NETWORK.idDifficulty });
    const writers = [tabs[0]!, swarm.bridges[0]!, swarm.clients[0]!, tabs[1]!, swarm.clients[1]!, swarm.bridges[1]!];
    const members = [...swarm.bridges, ...tabs, ...swarm.clients];
    // The clients reach WebRTC-only members through their bridge (the server here): it runs their gets and puts.
    const proxied = (): number => [swarm.server.dht, ...swarm.bridges].reduce((sum, m) => sum + (m.stats().proxied ?? 0), 0);
    const proxiedBefore = proxied();
    for (const [i, w] of writers.entries()) {
      // cas: each writer read the previous version, so none may be overwritten unseen.
      const r = await w.putMutable(`version ${i + 1}`, { owner, salt: 'shared', cas: i === 0 ? undefined : i });
      expect(r.seq, `writer ${i}`).toBe(i + 1);
      for (const m of members) {
        const v = await m.getMutable(owner.publicKey, { salt: 'shared' });
        expect([v?.seq, v?.text()], `member ${members.indexOf(m)} after writer ${i}`).toEqual([i + 1, `version ${i + 1}`]);
      }
    }
    expect(proxied() - proxiedBefore).toBeGreaterThanOrEqual(2 * swarm.clients.length);
    // A client whose cas is stale is refused through its bridge too.
    const late = await swarm.clients[0]!.putMutable('too late', { owner, salt: 'shared', cas: 2 }).catch((e: unknown) => e);
    expect((late as { code?: string }).code).toBe('CAS_CONFLICT');
  });

  it('a UDP-only client gets a value only browser members hold, through its bridge', { timeout: 60_000 }, async () => {
    // The members a UDP-only client reaches itself hold no copy, and take none while this runs: a
    // STORE still in flight or a replication to a bridge found later would otherwise put one back.
    const reachable = [...swarm.bridges, swarm.server.dht];
    const puts = reachable.map((m) => m.internals.store.put);
    const key = await tabs[0]!.put('only in tabs', 'held by WebRTC members only');
    for (const m of reachable) {
      m.internals.store.clear();
      m.internals.store.put = () => StoreStatus.FULL;
    }
    try {
      const proxied = (): number => reachable.reduce((sum, m) => sum + (m.stats().proxied ?? 0), 0);
      const before = proxied();
      const v = await swarm.clients[0]!.get(key);
      expect(v?.text()).toBe('held by WebRTC members only');
      expect(proxied()).toBeGreaterThan(before);
    } finally {
      reachable.forEach((m, i) => (m.internals.store.put = puts[i]!));
    }
  });
});

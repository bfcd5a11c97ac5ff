/**
 * A browser-like node (WsClientTransport over `ws`, the only transport it has) joins the swarm
 * through the signaling server and exchanges records with the server's node and with a Node UDP
 * peer bootstrapped to the server's UDP address. Real sockets on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { equalBytes, toHex } from '../../src/bytes.js';
import { DHT } from '../../src/dht.js';
import { createNode } from '../../src/node/index.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { startSignalingServer, type SignalingLogEntry, type SignalingServer } from '../../src/node/signaling/index.js';
import { WsClientTransport, WsCloseCode, wsAddress } from '../../src/transport/ws-client.js';
import { AddressKind } from '../../src/wire/address.js';
import { until } from '../helpers/wait.js';
import { NETWORK, NETWORK_ID, WAIT_MS, WS, newIdentity, within } from './helpers.js';

let server: SignalingServer;
let browser: DHT;
let link: WsClientTransport;
let peer: DHT;
const log: SignalingLogEntry[] = [];

beforeAll(async () => {
  server = await startSignalingServer({ host: '127.0.0.1', port: 0, network: NETWORK, logger: (e) => log.push(e) });
  const identity = await newIdentity();
  link = await WsClientTransport.connect({ url: server.url, identity, crypto: nodeCrypto, networkId: NETWORK_ID, WebSocket: WS });
  browser = await DHT.create({
    transports: [link],
    crypto: nodeCrypto,
    identity,
    network: NETWORK,
    bootstrap: [wsAddress(link.serverId)],
  });
  peer = await createNode({ host: '127.0.0.1', bootstrap: [server.udpAddress], network: NETWORK });
}, 20_000);

afterAll(async () => {
  await Promise.all([browser?.close(), peer?.close()]);
  await server?.close();
});

describe('signaling server as a DHT node', () => {
  it('authenticates the client: server ID, observed IP, kind-4 addresses', () => {
    expect(server.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    expect(server.udpAddress).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(equalBytes(link.serverId, server.dht.identity.id)).toBe(true);
    expect(link.observedIp).toBe('127.0.0.1');
    expect(AddressKind.WS).toBe(4);
    expect(link.kind).toBe(4);
    expect(link.localAddresses()).toEqual([]);
    expect(server.transport.localAddresses()).toEqual([]);
    const clientAddr = wsAddress(browser.identity.id);
    expect(server.transport.ipOf(clientAddr)).toBe('127.0.0.1');
    expect(server.transport.clientIds()).toEqual([toHex(browser.identity.id)]);
    expect(log.some((e) => e.event === 'join' && e.id === toHex(browser.identity.id))).toBe(true);
  });

  it('bootstraps through the server over WebSocket', async () => {
    const size = await browser.bootstrap();
    expect(size).toBeGreaterThanOrEqual(1);
    const contacts = browser.snapshot().buckets.flatMap((b) => b.contacts);
    expect(contacts.map((c) => c.id)).toContain(server.dht.id);
    expect(contacts.find((c) => c.id === server.dht.id)).toMatchObject({ transport: 'ws', bootstrapServer: true });
    const pong = await browser.ping(wsAddress(link.serverId));
    expect(pong.id).toBe(server.dht.id);
  });

  it('the server adds the browser to its routing table (it is reachable over its link)', async () => {
    await until(() => server.dht.routing.size >= 1 && server.dht.snapshot().buckets.some((b) => b.contacts.some((c) => c.id === browser.id)), 'the server to add the browser');
  });

  it('put/get between the browser and the server', async () => {
    const key = await browser.put('from-browser', 'hello from the browser');
    const onServer = await server.dht.get(key);
    expect(onServer?.text()).toBe('hello from the browser');

    const key2 = await server.dht.put('from-server', 'hello from the server');
    const inBrowser = await browser.get(key2);
    expect(inBrowser?.text()).toBe('hello from the server');
  });

  it('stats() reports the WebSocket counters of both ends as ws.*', () => {
    const serverStats = server.dht.stats();
    expect(serverStats['ws.joins']).toBe(1);
    expect(serverStats['ws.clients']).toBe(1);
    expect(serverStats['ws.framesIn']).toBeGreaterThan(0);
    expect(serverStats['udp.received']).toBeGreaterThan(0);
    const browserStats = browser.stats();
    expect(browserStats['ws.framesIn']).toBeGreaterThan(0);
    expect(browserStats['ws.framesOut']).toBeGreaterThan(0);
  });

  it('put/get between the browser and a Node UDP peer (through the server)', async () => {
    const key = await browser.put('browser-to-udp', 'over WS then UDP');
    expect((await peer.get(key))?.text()).toBe('over WS then UDP');

    const key2 = await peer.put('udp-to-browser', 'over UDP then WS');
    expect((await browser.get(key2))?.text()).toBe('over UDP then WS');
  });

  it('counts frames both ways', () => {
    const s = server.stats();
    expect(s.connections).toBe(1);
    expect(s.clients).toBe(1);
    expect(s.joins).toBe(1);
    expect(s.framesIn).toBeGreaterThan(0);
    expect(s.framesOut).toBeGreaterThan(0);
    expect(s.contacts).toBeGreaterThanOrEqual(2);
    expect(s.udp.received).toBeGreaterThan(0);
    expect(link.stats.framesIn).toBeGreaterThan(0);
    expect(link.stats.framesOut).toBeGreaterThan(0);
  });

  it("closing the browser's node closes its link (1000) and the server logs the leave", async () => {
    const id = browser.id;
    await browser.close();
    const info = await within(link.closed, WAIT_MS, 'the link to close');
    expect(info).toMatchObject({ code: WsCloseCode.NORMAL, local: true });
    await until(() => server.stats().connections === 0, 'the server to see the close');
    expect(server.stats().closes[WsCloseCode.NORMAL]).toBe(1);
    expect(log.some((e) => e.event === 'leave' && e.id === id && e.code === 1000)).toBe(true);
    expect(server.transport.ipOf(wsAddress(browser.identity.id))).toBeUndefined();
    // Gone for good: out of the server's routing table at once, so it is neither handed to
    // newcomers nor relayed to.
    const inTable = (): boolean => server.dht.snapshot().buckets.some((b) => b.contacts.some((c) => c.id === id));
    expect(inTable()).toBe(false);
    expect(server.dht.stats().contactsGone).toBe(1);
    expect((await peer.findNode(id)).map((c) => c.id)).not.toContain(id);
  });
});

/**
 * How the server names its clients: the IP it reports and limits by (same canonical form as the
 * UDP transport), X-Forwarded-For only when told to trust a proxy, and IPv6 loopback when available.
 */
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startSignalingServer, type SignalingServer } from '../../src/node/signaling/index.js';
import { WsClientTransport, wsAddress } from '../../src/transport/ws-client.js';
import { NETWORK, NETWORK_ID, RawClient, WS, newIdentity } from './helpers.js';

const servers: SignalingServer[] = [];
const clients: RawClient[] = [];

afterAll(async () => {
  for (const c of clients) c.terminate();
  await Promise.all(servers.map((s) => s.close()));
});

const ipv6 = await new Promise<boolean>((resolve) => {
  const probe = createServer();
  probe.once('error', () => resolve(false));
  probe.listen(0, '::1', () => probe.close(() => resolve(true)));
});

describe('client IPs', () => {
  it('ignores X-Forwarded-For by default, uses its last entry with trustProxy', async () => {
    const plain = await startSignalingServer({ host: '127.0.0.1', port: 0, network: NETWORK });
    const proxied = await startSignalingServer({ host: '127.0.0.1', port: 0, network: NETWORK, limits: { trustProxy: true } });
    servers.push(plain, proxied);
    const headers = { 'x-forwarded-for': '203.0.113.9, ::ffff:198.51.100.7' };
    const a = await RawClient.open(plain.url, { headers });
    const b = await RawClient.open(proxied.url, { headers });
    clients.push(a, b);
    const identity = await newIdentity();
    expect((await a.authenticate(identity)).ip).toBe('127.0.0.1');
    expect((await b.authenticate(identity)).ip).toBe('198.51.100.7');
    expect(proxied.transport.ipOf(wsAddress(identity.id))).toBe('198.51.100.7');
  });

  it.skipIf(!ipv6)('serves IPv6 loopback: [::1] URL and observed IP', async () => {
    const s = await startSignalingServer({ host: '::1', port: 0, network: NETWORK });
    servers.push(s);
    expect(s.url).toMatch(/^ws:\/\/\[::1\]:\d+$/);
    expect(s.udpAddress).toMatch(/^\[::1\]:\d+$/);
    const link = await WsClientTransport.connect({ url: s.url, identity: await newIdentity(), networkId: NETWORK_ID, WebSocket: WS });
    expect(link.observedIp).toBe('::1');
    expect(link.ipOf(wsAddress(link.serverId))).toBe('::1');
    await link.close();
  });
});

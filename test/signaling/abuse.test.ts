/**
 * Bad input and abuse against a real signaling server on 127.0.0.1: every case closes the
 * offending connection with its WsCloseCode, never crashes the server, and leaves other clients served.
 * Limits are small so each case takes milliseconds; every wait is bounded.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket, type ClientOptions } from 'ws';
import { toHex } from '../../src/bytes.js';
import { DHT } from '../../src/dht.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { startSignalingServer, WS_MAX_PAYLOAD, type SignalingServer, type WsServerLimits } from '../../src/node/signaling/index.js';
import { WsClientTransport, WsCloseCode, WsLinkError, wsAddress, wsHelloMessage } from '../../src/transport/ws-client.js';
import { MAX_MESSAGE_BYTES } from '../../src/wire/messages.js';
import { until } from '../helpers/wait.js';
import { NETWORK, NETWORK_ID, RawClient, WAIT_MS, WS, newIdentity, weakIdentity, within } from './helpers.js';

const open: { terminate(): void }[] = [];
const servers: SignalingServer[] = [];

async function server(limits: Partial<WsServerLimits> = {}): Promise<SignalingServer> {
  const s = await startSignalingServer({ host: '127.0.0.1', port: 0, network: NETWORK, limits });
  servers.push(s);
  return s;
}

async function raw(url: string, options: ClientOptions = {}): Promise<RawClient> {
  const c = await RawClient.open(url, options);
  open.push(c);
  return c;
}

/** The server is still healthy: a fresh client authenticates and gets a datagram answered. */
async function assertServing(s: SignalingServer): Promise<void> {
  const identity = await newIdentity();
  const link = await WsClientTransport.connect({ url: s.url, identity, networkId: NETWORK_ID, WebSocket: WS });
  const dht = await DHT.create({ transports: [link], crypto: nodeCrypto, identity, network: NETWORK, client: true });
  try {
    expect((await dht.ping(wsAddress(link.serverId), { timeoutMs: WAIT_MS })).id).toBe(s.dht.id);
  } finally {
    await dht.close();
  }
}

afterEach(() => {
  for (const c of open.splice(0)) c.terminate();
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('handshake', () => {
  let s: SignalingServer;
  beforeAll(async () => {
    s = await server();
  });

  it('sends a challenge bound to the network', async () => {
    const c = await raw(s.url);
    const msg = await c.nextJson();
    expect(msg).toMatchObject({ t: 'challenge', v: 1, network: toHex(NETWORK_ID) });
    expect(msg.challenge).toMatch(/^[0-9a-f]{64}$/);
  });

  it('malformed JSON → 4007', async () => {
    const c = await raw(s.url);
    await c.challenge();
    c.ws.send('{"t":"hello",');
    expect(await c.closeCode()).toBe(WsCloseCode.PROTOCOL_ERROR);
    expect(c.closeEvent!.reason).toBe('bad JSON');
  });

  it('JSON that is not an object, or an unknown frame type → 4007', async () => {
    const a = await raw(s.url);
    a.ws.send('[1,2,3]');
    const b = await raw(s.url);
    b.sendJson({ t: 'welcome', id: 'ff' });
    const k = await raw(s.url);
    k.sendJson({ t: 'keepalive' }); // only after the welcome
    expect(await a.closeCode()).toBe(WsCloseCode.PROTOCOL_ERROR);
    expect(await b.closeCode()).toBe(WsCloseCode.PROTOCOL_ERROR);
    expect(await k.closeCode()).toBe(WsCloseCode.PROTOCOL_ERROR);
  });

  it('hello with a bad signature → 4006', async () => {
    const identity = await newIdentity();
    const c = await raw(s.url);
    const challenge = await c.challenge();
    const wrong = challenge.slice();
    wrong[0]! ^= 1;
    const signature = await identity.sign(wsHelloMessage(NETWORK_ID, wrong));
    c.sendJson({ t: 'hello', publicKey: toHex(identity.publicKey), signature: toHex(signature) });
    expect(await c.closeCode()).toBe(WsCloseCode.AUTH_FAILED);
    expect(c.closeEvent!.reason).toBe('bad signature');
  });

  it('hello signed for another network → 4006', async () => {
    const identity = await newIdentity();
    const c = await raw(s.url);
    const challenge = await c.challenge();
    const signature = await identity.sign(wsHelloMessage(Uint8Array.of(1, 2, 3, 4), challenge));
    c.sendJson({ t: 'hello', publicKey: toHex(identity.publicKey), signature: toHex(signature) });
    expect(await c.closeCode()).toBe(WsCloseCode.AUTH_FAILED);
  });

  it('hello with an ID under the network puzzle → 4006', async () => {
    const identity = await weakIdentity();
    const c = await raw(s.url);
    const challenge = await c.challenge();
    const signature = await identity.sign(wsHelloMessage(NETWORK_ID, challenge));
    c.sendJson({ t: 'hello', publicKey: toHex(identity.publicKey), signature: toHex(signature) });
    expect(await c.closeCode()).toBe(WsCloseCode.AUTH_FAILED);
    expect(c.closeEvent!.reason).toMatch(/puzzle/);
    // The client transport reports the refusal with the server's code.
    const err = await WsClientTransport.connect({ url: s.url, identity, networkId: NETWORK_ID, WebSocket: WS }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsLinkError);
    expect((err as WsLinkError).closeCode).toBe(WsCloseCode.AUTH_FAILED);
  });

  it('malformed hello fields → 4006', async () => {
    const cases = [
      { t: 'hello' },
      { t: 'hello', publicKey: 'zz', signature: 'zz' },
      { t: 'hello', publicKey: 'ab'.repeat(32), signature: 12 },
      { t: 'hello', publicKey: 'AB'.repeat(32), signature: 'ab'.repeat(64) },
    ];
    const clients = await Promise.all(cases.map(() => raw(s.url)));
    clients.forEach((c, i) => c.sendJson(cases[i]));
    for (const c of clients) expect(await c.closeCode()).toBe(WsCloseCode.AUTH_FAILED);
  });

  it("hello claiming the server's own ID → 4006", async () => {
    // Only the server can sign for its ID; an attacker replaying its public key fails the signature.
    const c = await raw(s.url);
    await c.challenge();
    c.sendJson({ t: 'hello', publicKey: toHex(s.dht.identity.publicKey), signature: 'ab'.repeat(64) });
    expect(await c.closeCode()).toBe(WsCloseCode.AUTH_FAILED);
  });

  it('a binary frame before the hello → 4007', async () => {
    const c = await raw(s.url);
    c.ws.send(Buffer.from([1, 2, 3]));
    expect(await c.closeCode()).toBe(WsCloseCode.PROTOCOL_ERROR);
    expect(c.closeEvent!.reason).toBe('datagram before welcome');
  });

  it('a second hello after the welcome → 4007', async () => {
    const identity = await newIdentity();
    const c = await raw(s.url);
    await c.authenticate(identity);
    c.sendJson({ t: 'hello', publicKey: toHex(identity.publicKey), signature: 'ab'.repeat(64) });
    expect(await c.closeCode()).toBe(WsCloseCode.PROTOCOL_ERROR);
  });

  it('a client on another network is refused by its own transport before it signs anything', async () => {
    const identity = await newIdentity();
    const err = await WsClientTransport.connect({ url: s.url, identity, networkId: Uint8Array.of(9, 9, 9, 9), WebSocket: WS }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WsLinkError);
    expect((err as Error).message).toMatch(/another network/);
  });

  it('the server survived all of it', async () => {
    await assertServing(s);
    await until(() => s.stats().connections === 0, 'every bad connection to be gone');
    const closes = s.stats().closes;
    expect(closes[WsCloseCode.PROTOCOL_ERROR]).toBeGreaterThanOrEqual(6);
    expect(closes[WsCloseCode.AUTH_FAILED]).toBeGreaterThanOrEqual(8);
  });
});

describe('frame size', () => {
  let s: SignalingServer;
  beforeAll(async () => {
    s = await server();
  });

  it('a datagram of MAX_MESSAGE_BYTES is accepted', async () => {
    const c = await raw(s.url);
    await c.authenticate(await newIdentity());
    const before = s.stats().framesIn;
    c.ws.send(Buffer.alloc(MAX_MESSAGE_BYTES, 7));
    await until(() => s.stats().framesIn === before + 1, 'the frame to arrive');
    expect(c.closeEvent).toBeUndefined();
    expect(s.stats().connections).toBe(1);
  });

  it('a datagram over MAX_MESSAGE_BYTES (under the ws maxPayload) → 4003', async () => {
    const c = await raw(s.url);
    await c.authenticate(await newIdentity());
    c.ws.send(Buffer.alloc(MAX_MESSAGE_BYTES + 1));
    expect(await c.closeCode()).toBe(WsCloseCode.FRAME_TOO_LARGE);
  });

  it('a frame over the ws maxPayload → 4003 (not ws’s 1009)', async () => {
    const c = await raw(s.url);
    await c.authenticate(await newIdentity());
    c.ws.send(Buffer.alloc(WS_MAX_PAYLOAD + 1));
    expect(await c.closeCode()).toBe(WsCloseCode.FRAME_TOO_LARGE);
    const d = await raw(s.url);
    d.ws.send(Buffer.alloc(1024 * 1024)); // before the hello, 1 MiB
    expect(await d.closeCode()).toBe(WsCloseCode.FRAME_TOO_LARGE);
  });

  it('an oversize text frame → 4003', async () => {
    const c = await raw(s.url);
    await c.challenge();
    c.ws.send(JSON.stringify({ t: 'hello', pad: 'x'.repeat(2000) }));
    expect(await c.closeCode()).toBe(WsCloseCode.FRAME_TOO_LARGE);
  });

  it('the server survived', async () => {
    await assertServing(s);
    await until(() => s.stats().connections === 0, 'every bad connection to be gone');
    expect(s.stats().closes[WsCloseCode.FRAME_TOO_LARGE]).toBe(4);
  });
});

describe('rate limit', () => {
  it('a flood → 4004; frames over the limit are dropped, not delivered', async () => {
    const s = await server({ messagesPerSecond: 20, messageBurst: 20, rateLimitDropsBeforeClose: 10 });
    const c = await raw(s.url);
    await c.authenticate(await newIdentity());
    for (let i = 0; i < 200 && c.ws.readyState === c.ws.OPEN; i++) c.ws.send(Buffer.from([i & 255, 1, 2, 3]));
    expect(await c.closeCode()).toBe(WsCloseCode.RATE_LIMITED);
    await until(() => s.stats().connections === 0, 'the server to see the close');
    const st = s.stats();
    expect(st.drops.rateLimited).toBeGreaterThanOrEqual(10);
    expect(st.closes[WsCloseCode.RATE_LIMITED]).toBe(1);
    await assertServing(s);
  });

  it('a ping flood counts against the same limit → 4004', async () => {
    const s = await server({ messagesPerSecond: 20, messageBurst: 20, rateLimitDropsBeforeClose: 10 });
    const c = await raw(s.url);
    await c.authenticate(await newIdentity());
    for (let i = 0; i < 200 && c.ws.readyState === c.ws.OPEN; i++) c.ws.ping();
    expect(await c.closeCode()).toBe(WsCloseCode.RATE_LIMITED);
  });

  it('keeps serving a well-behaved client while another floods', async () => {
    const s = await server({ messagesPerSecond: 200, messageBurst: 200, rateLimitDropsBeforeClose: 500 });
    const identity = await newIdentity();
    const link = await WsClientTransport.connect({ url: s.url, identity, networkId: NETWORK_ID, WebSocket: WS });
    const good = await DHT.create({ transports: [link], crypto: nodeCrypto, identity, network: NETWORK, bootstrap: [wsAddress(link.serverId)] });
    try {
      await good.bootstrap();
      // The flooder: authenticated, then junk datagrams as fast as its socket drains, reconnecting when closed.
      let flooding = true;
      let floodConnections = 0;
      let floodFrames = 0;
      const floodIdentity = await newIdentity();
      const flood = (async () => {
        while (flooding) {
          const f = await raw(s.url);
          floodConnections++;
          await f.authenticate(floodIdentity);
          const junk = Buffer.alloc(MAX_MESSAGE_BYTES, 0xee);
          while (flooding && f.ws.readyState === f.ws.OPEN) {
            if (f.ws.bufferedAmount < 256 * 1024) {
              f.ws.send(junk);
              floodFrames++;
            } else await new Promise<void>((r) => setImmediate(r));
            if (floodFrames % 64 === 0) await new Promise<void>((r) => setImmediate(r));
          }
          f.terminate();
        }
      })();
      await until(() => floodFrames > 1000, 'the flood to start');
      const rtts: number[] = [];
      for (let i = 0; i < 10; i++) rtts.push((await good.ping(wsAddress(link.serverId), { timeoutMs: WAIT_MS })).rtt);
      const key = await good.put('during-the-flood', 'still served');
      expect((await s.dht.get(key))?.text()).toBe('still served');
      flooding = false;
      await within(flood, WAIT_MS, 'the flooder to stop');
      expect(rtts).toHaveLength(10);
      expect(Math.max(...rtts)).toBeLessThan(2000);
      expect(floodConnections).toBeGreaterThanOrEqual(1);
      const st = s.stats();
      expect(st.drops.rateLimited).toBeGreaterThan(0);
      expect(link.isOpen).toBe(true);
    } finally {
      await good.close();
    }
  });
});

describe('connection limits', () => {
  it('too many from one IP → 4002; pending pool full → 4001; clients full → 4001; the observed IP is reported', async () => {
    const s = await server({ maxPendingConnections: 3, maxConnectionsPerIp: 2, maxConnections: 1 });
    const a = await raw(s.url);
    const b = await raw(s.url);
    const third = await raw(s.url);
    expect(await third.closeCode()).toBe(WsCloseCode.TOO_MANY_FROM_IP);
    // Another loopback address is another IP (Linux routes 127/8 to lo).
    const identity = await newIdentity();
    const other = await WsClientTransport.connect({
      url: s.url,
      identity,
      networkId: NETWORK_ID,
      WebSocket: class extends WebSocket {
        constructor(url: string) {
          super(url, { localAddress: '127.0.0.2' });
        }
      },
    });
    expect(other.observedIp).toBe('127.0.0.2');
    expect(s.transport.ipOf(wsAddress(identity.id))).toBe('127.0.0.2');
    // Authenticated, it left the pending pool: two pending (a, b), room for one more.
    expect(s.stats()).toMatchObject({ connections: 3, pending: 2, clients: 1 });
    const fourth = await raw(s.url, { localAddress: '127.0.0.3' });
    expect((await fourth.nextJson()).t).toBe('challenge');
    // Pending pool full, and every pending socket is in the newcomer's own /24: refused.
    const fifth = await raw(s.url, { localAddress: '127.0.0.4' });
    expect(await fifth.closeCode()).toBe(WsCloseCode.TOO_MANY_CONNECTIONS);
    // Room again after one leaves; but the clients' pool (1) is full: a valid hello is refused.
    a.terminate();
    await until(() => s.stats().pending === 2, 'the server to see the close');
    const late = await raw(s.url, { localAddress: '127.0.0.5' });
    const challenge = await late.challenge();
    const lateId = await newIdentity();
    late.sendJson({ t: 'hello', publicKey: toHex(lateId.publicKey), signature: toHex(await lateId.sign(wsHelloMessage(NETWORK_ID, challenge))) });
    expect(await late.closeCode()).toBe(WsCloseCode.TOO_MANY_CONNECTIONS);
    expect(s.stats().clients).toBe(1);
    await other.close();
    b.terminate();
    fourth.terminate();
  });

  it('a second connection with the same ID replaces the first (4008)', async () => {
    const s = await server();
    const identity = await newIdentity();
    const first = await WsClientTransport.connect({ url: s.url, identity, networkId: NETWORK_ID, WebSocket: WS });
    const second = await WsClientTransport.connect({ url: s.url, identity, networkId: NETWORK_ID, WebSocket: WS });
    expect(await within(first.closed, WAIT_MS, 'the first link to close')).toMatchObject({ code: WsCloseCode.REPLACED, local: false });
    expect(second.isOpen).toBe(true);
    await until(() => s.stats().connections === 1, 'the replaced socket to be gone');
    expect(s.stats().clients).toBe(1);
    // The new link is the one the server sends to.
    const dht = await DHT.create({ transports: [second], crypto: nodeCrypto, identity, network: NETWORK, client: true });
    expect((await dht.ping(wsAddress(second.serverId))).id).toBe(s.dht.id);
    await dht.close();
  });
});

describe('timeouts and heartbeat', () => {
  it('no hello within helloTimeoutMs → 4005', async () => {
    const s = await server({ helloTimeoutMs: 200 });
    const c = await raw(s.url);
    await c.challenge();
    expect(await c.closeCode()).toBe(WsCloseCode.TIMEOUT);
    expect(c.closeEvent!.reason).toBe('hello timeout');
  });

  it('no frame within idleTimeoutMs after the welcome → 4005', async () => {
    const s = await server({ idleTimeoutMs: 300 });
    const c = await raw(s.url);
    await c.authenticate(await newIdentity());
    const t0 = Date.now();
    expect(await c.closeCode()).toBe(WsCloseCode.TIMEOUT);
    expect(c.closeEvent!.reason).toBe('idle timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });

  it("the client transport's keepalives hold an otherwise idle link open", async () => {
    const s = await server({ idleTimeoutMs: 300 });
    const link = await WsClientTransport.connect({ url: s.url, identity: await newIdentity(), networkId: NETWORK_ID, WebSocket: WS, keepaliveMs: 50 });
    // Ten keepalive periods ≈ twice the idle timeout.
    await until(() => link.stats.keepalives >= 10, 'ten keepalives');
    expect(link.isOpen).toBe(true);
    expect(s.stats().closes[WsCloseCode.TIMEOUT]).toBeUndefined();
    await link.close();
  });

  it('a client that does not answer pings is terminated', async () => {
    const s = await server({ heartbeatMs: 100 });
    const c = await raw(s.url, { autoPong: false });
    await c.authenticate(await newIdentity());
    expect(await c.closeCode(2000)).toBe(1006);
    expect(s.stats().heartbeatTimeouts).toBe(1);
    await until(() => s.stats().connections === 0, 'the server to drop it');
  });

  it('a client that answers pings is kept', async () => {
    const s = await server({ heartbeatMs: 50 });
    const link = await WsClientTransport.connect({ url: s.url, identity: await newIdentity(), networkId: NETWORK_ID, WebSocket: WS });
    const pings = { n: 0 };
    // A second client counts the server's pings as it sees them (ws answers them by itself).
    const c = await raw(s.url);
    c.ws.on('ping', () => pings.n++);
    await c.authenticate(await newIdentity());
    await until(() => pings.n >= 5, 'five heartbeats');
    expect(c.closeEvent).toBeUndefined();
    expect(link.isOpen).toBe(true);
    expect(s.stats().heartbeatTimeouts).toBe(0);
    await link.close();
  });
});

describe('shutdown', () => {
  it('close() sends 1001 to every client, handshaking or not, and is idempotent', async () => {
    const s = await startSignalingServer({ host: '127.0.0.1', port: 0, network: NETWORK });
    const link = await WsClientTransport.connect({ url: s.url, identity: await newIdentity(), networkId: NETWORK_ID, WebSocket: WS });
    const handshaking = await raw(s.url);
    await handshaking.challenge();
    await Promise.all([s.close(), s.close()]);
    expect(await within(link.closed, WAIT_MS, 'the link to close')).toMatchObject({ code: WsCloseCode.GOING_AWAY });
    expect(await handshaking.closeCode()).toBe(WsCloseCode.GOING_AWAY);
    expect(s.stats().connections).toBe(0);
    // Nothing listens any more.
    const err = await RawClient.open(s.url).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
  });
});

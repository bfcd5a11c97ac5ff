/**
 * Fuzzing the signaling server where browsers reach it: mutants of real captured WebSocket frames
 * (test/fuzz/mutate.ts) on real connections to a real server. Binary frames (DHT datagrams) go
 * over an authenticated connection; text frames (the hello and keepalive JSON) over fresh ones,
 * before and after the hello. The server must not crash, must not leave an unhandled rejection,
 * must keep its heap bounded, and must still serve a get afterwards.
 */
import fc from 'fast-check';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex, utf8 } from '../../src/bytes.js';
import type { Identity } from '../../src/crypto/identity.js';
import { DHT } from '../../src/dht.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { createNode } from '../../src/node/create-node.js';
import { startSignalingServer, type SignalingServer } from '../../src/node/signaling/index.js';
import { WsClientTransport, wsAddress, wsHelloMessage } from '../../src/transport/ws-client.js';
import type { PeerAddress } from '../../src/wire/address.js';
import { NETWORK, NETWORK_ID, RawClient, WS, newIdentity } from '../signaling/helpers.js';
import { FUZZ_SEED, fuzzCases, fuzzTimeoutMs, liveHeapBytes, mutants } from './mutate.js';

const OPEN_LIMITS = {
  requests: { perKeyRate: 1e6, perKeyBurst: 1e6, globalRate: 1e6, globalBurst: 1e6 },
  writes: { perKeyRate: 1e6, perKeyBurst: 1e6, globalRate: 1e6, globalBurst: 1e6 },
};
const VALUE = utf8('the value a fuzzed server must still serve');
const MAX_HEAP_GROWTH = 48 * 1024 * 1024;
const BATCH = 25;

let server: SignalingServer;
const nodes: DHT[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
const binaryCorpus: Uint8Array[] = [];
const textCorpus: Uint8Array[] = [];
let key: string;

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  server = await startSignalingServer({
    host: '127.0.0.1',
    port: 0,
    network: NETWORK,
    // Frame limits out of the way, so mutants reach the parsers instead of a token bucket.
    limits: { messagesPerSecond: 1e6, messageBurst: 1e6 },
    dht: { limits: OPEN_LIMITS, maxPerIp: 64 },
    logger: () => {},
  });
  // A member that stores the value, through the server's UDP node.
  const member = await createNode({ host: '127.0.0.1', network: NETWORK, maxPerIp: 64, limits: OPEN_LIMITS, bootstrap: [server.udpAddress] });
  nodes.push(member);
  key = await member.put('fuzz', VALUE);

  // Captures: a browser-like client's datagrams over its WebSocket, and its control frames.
  const identity = await newIdentity();
  const link = await WsClientTransport.connect({ url: server.url, identity, networkId: NETWORK_ID, WebSocket: WS });
  const send = link.send.bind(link);
  link.send = (to: PeerAddress, data: Uint8Array) => {
    binaryCorpus.push(data.slice());
    send(to, data);
  };
  const client = await DHT.create({ transports: [link], crypto: nodeCrypto, identity, network: NETWORK, client: true });
  nodes.push(client);
  await client.ping(wsAddress(link.serverId));
  expect((await client.get(key))?.content).toEqual(VALUE);
  await client.findNode(member.id);
  await client.put('fuzz-client', utf8('a put by the client')).catch(() => undefined);
  await client.get(member.id).catch(() => undefined);
  const signature = await identity.sign(wsHelloMessage(NETWORK_ID, new Uint8Array(32)));
  textCorpus.push(utf8(JSON.stringify({ t: 'hello', publicKey: toHex(identity.publicKey), signature: toHex(signature) })), utf8(JSON.stringify({ t: 'keepalive' })));
  expect(binaryCorpus.length).toBeGreaterThanOrEqual(3);
}, 60_000);

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await Promise.all(nodes.map((n) => n.close()));
  await server?.close();
});

/** An authenticated raw connection, reopened whenever the server closes it for a bad frame. */
class Session {
  #client: RawClient | undefined;
  #identity: Identity | undefined;
  reopened = 0;

  async ready(): Promise<RawClient> {
    if (this.#client && this.#client.closeEvent === undefined && this.#client.ws.readyState === WebSocket.OPEN) return this.#client;
    this.#client?.terminate();
    this.#identity ??= await newIdentity();
    const c = await RawClient.open(server.url);
    await c.authenticate(this.#identity);
    this.reopened++;
    this.#client = c;
    return c;
  }

  close(): void {
    this.#client?.terminate();
  }
}

async function assertStillServes(): Promise<void> {
  expect(unhandled).toEqual([]);
  // A fresh browser-like client joins and gets the value through the server.
  const identity = await newIdentity();
  const link = await WsClientTransport.connect({ url: server.url, identity, networkId: NETWORK_ID, WebSocket: WS });
  const client = await DHT.create({ transports: [link], crypto: nodeCrypto, identity, network: NETWORK, client: true });
  nodes.push(client);
  expect((await client.ping(wsAddress(link.serverId))).id).toBe(server.dht.id);
  expect((await client.get(key))?.content).toEqual(VALUE);
  // And a UDP node that knows only the server gets it too.
  const newcomer = await createNode({ host: '127.0.0.1', network: NETWORK, maxPerIp: 64, bootstrap: [server.udpAddress] });
  nodes.push(newcomer);
  expect((await newcomer.get(key))?.content).toEqual(VALUE);
}

describe('structure-aware fuzzing of the signaling server', () => {
  it('binary frames (datagrams) on an authenticated connection, text frames before and after the hello', async () => {
    const before = await liveHeapBytes();
    const session = new Session();
    let n = 0;
    const binaryCases = Math.ceil(fuzzCases(0.3) * 0.9);
    try {
      await fc.assert(
        fc.asyncProperty(mutants(binaryCorpus), async (bytes) => {
          const c = await session.ready();
          c.ws.send(bytes, { binary: true });
          if (++n % BATCH === 0) await new Promise((resolve) => setTimeout(resolve, 1));
          return unhandled.length === 0;
        }),
        { numRuns: binaryCases, seed: FUZZ_SEED, endOnFailure: true },
      );
      // Text: each case on a fresh connection, half before the hello, half as a second frame after it.
      await fc.assert(
        fc.asyncProperty(mutants(textCorpus), fc.boolean(), async (bytes, afterHello) => {
          const c = await RawClient.open(server.url);
          try {
            if (afterHello) await c.authenticate(await newIdentity());
            c.ws.send(Buffer.from(bytes).toString('latin1'));
            // The server answers, closes, or ignores (a keepalive): any of them, never a crash.
            await Promise.race([c.closed, c.next(200).catch(() => undefined)]);
          } finally {
            c.terminate();
          }
          return unhandled.length === 0;
        }),
        { numRuns: fuzzCases(0.3) - binaryCases, seed: FUZZ_SEED, endOnFailure: true },
      );
    } finally {
      session.close();
    }
    expect(server.stats().framesIn).toBeGreaterThan(binaryCases / 2);
    await assertStillServes();
    expect((await liveHeapBytes()) - before).toBeLessThan(MAX_HEAP_GROWTH);
  }, fuzzTimeoutMs(fuzzCases(0.3)));
});

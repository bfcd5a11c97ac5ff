/**
 * Several signaling servers, in Node with the code a tab runs (createBrowserNode with
 * node-datachannel's RTCPeerConnection and ws's WebSocket): real WebSocket servers, real WebRTC,
 * real UDP between the servers. Two servers that share nothing form one swarm through a bridge;
 * a node skips a server that is down at start, fails over when its server stops, keeps working
 * over WebRTC meanwhile, and a closed node stops reconnecting.
 */
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signalingUrlOf, type BrowserNodeOptions } from '../../src/browser-node.js';
import { Identity } from '../../src/crypto/identity.js';
import type { DHT } from '../../src/dht.js';
import { isSpydhtError } from '../../src/errors.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { startLocalSwarm, type LocalSwarm } from '../../src/node/index.js';
import { networkConfig } from '../../src/network.js';
import type { WebSocketConstructor } from '../../src/transport/ws-client.js';
import { FailoverWsTransport } from '../../src/transport/ws-failover.js';
import { browserLikeNode } from '../helpers/browser-like.js';
import { until } from '../helpers/wait.js';

const NETWORK = { name: 'failover-test', idDifficulty: 4, powBaseBits: 8 };
/** A port nothing listens on (the discard port: refused at once on loopback). */
const DEAD_URL = 'ws://127.0.0.1:9';

let swarm: LocalSwarm;
const nodes: DHT[] = [];

async function tab(options: Partial<BrowserNodeOptions>): Promise<DHT> {
  const node = await browserLikeNode(NETWORK, { maxPerIp: swarm.maxPerIp, reconnect: { minMs: 50, maxMs: 400 }, ...options });
  nodes.push(node);
  return node;
}

beforeAll(async () => {
  swarm = await startLocalSwarm({ host: '127.0.0.1', network: NETWORK, servers: 2, bridges: 1, clients: 0 });
}, 60_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  await swarm?.close();
});

describe('several signaling servers', () => {
  it('servers that share nothing are one swarm: each knows the other and the bridge', () => {
    const [a, b] = swarm.servers;
    expect(swarm.urls).toEqual([a!.url, b!.url]);
    expect(a!.dht.routing.has(b!.dht.id)).toBe(true);
    expect(b!.dht.routing.has(a!.dht.id)).toBe(true);
    for (const s of swarm.servers) expect(s.dht.routing.has(swarm.bridges[0]!.id)).toBe(true);
  });

  it('skips a server that is down at start, in the order given; refuses a bad list', async () => {
    const seen: (string | undefined)[] = [];
    const node = await tab({ signalingUrls: [DEAD_URL, swarm.urls[1]!, swarm.urls[0]!], signalingOrder: 'in-order', onSignalingChange: (u) => seen.push(u) });
    expect(signalingUrlOf(node)).toBe(swarm.urls[1]);
    expect(seen).toEqual([swarm.urls[1]]);
    for (const bad of [[], ['http://x'], Array.from({ length: 17 }, (_, i) => `ws://127.0.0.1:${1000 + i}`)]) {
      const err = await tab({ signalingUrls: bad }).catch((e: unknown) => e);
      expect(isSpydhtError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
    }
  });

  it('tabs on both servers reach each other; when one server stops its tabs fail over to the other and every value stays gettable', async () => {
    const changes: (string | undefined)[] = [];
    const onA = await tab({ signalingUrls: [swarm.urls[0]!, swarm.urls[1]!], signalingOrder: 'in-order', onSignalingChange: (u) => changes.push(u) });
    const onB = await tab({ signalingUrl: swarm.urls[1]! });
    expect(signalingUrlOf(onA)).toBe(swarm.urls[0]);
    const fromA = await onA.put('from a tab on server A', 'a');
    const fromB = await onB.put('from a tab on server B', 'b');
    expect((await onB.get(fromA))?.text()).toBe('a');
    expect((await onA.get(fromB))?.text()).toBe('b');

    const gone = swarm.servers[0]!.dht.id;
    await swarm.servers[0]!.close();
    await until(() => signalingUrlOf(onA) === swarm.urls[1], 'the tab on server A to link to server B', 10_000);
    expect(changes).toEqual([swarm.urls[0], undefined, swarm.urls[1]]);
    expect(onA.stats()['ws.linksLost']).toBe(1);
    // It joined through B: B is in its table, the stopped server is not.
    await until(() => onA.routing.has(swarm.servers[1]!.dht.id), 'server B in the table', 10_000);
    expect(onA.routing.has(gone)).toBe(false);
    for (const [node, key, text] of [[onA, fromA, 'a'], [onA, fromB, 'b'], [onB, fromA, 'a'], [onB, fromB, 'b']] as const) {
      expect((await node.get(key))?.text()).toBe(text);
    }
    // A new tab listing both joins through the one still up.
    const late = await tab({ signalingUrls: swarm.urls, signalingOrder: 'in-order' });
    expect(signalingUrlOf(late)).toBe(swarm.urls[1]);
    expect((await late.get(fromA))?.text()).toBe('a');
  });

  it('with no server at all it keeps working over WebRTC, and close() stops the reconnects', async () => {
    const [x, y] = nodes.slice(-3, -1); // onA and onB, linked over WebRTC by now
    await swarm.servers[1]!.close();
    await until(() => signalingUrlOf(x!) === undefined && signalingUrlOf(y!) === undefined, 'both links lost');
    const key = await x!.put('no server', 'over WebRTC only');
    expect((await y!.get(key))?.text()).toBe('over WebRTC only');
    await until(() => (x!.stats()['ws.reconnectAttempts'] ?? 0) >= 2, 'reconnect attempts with backoff');
    const link = x!.internals.transports.find((t) => t instanceof FailoverWsTransport) as FailoverWsTransport;
    expect(link.reconnecting).toBe(true);
    await x!.close();
    expect(link.reconnecting).toBe(false);
  });

  it('FailoverWsTransport.connect rejects naming every server when none welcomes it', async () => {
    const identity = await Identity.generate({ crypto: nodeCrypto, difficulty: NETWORK.idDifficulty });
    const err = await FailoverWsTransport.connect({
      urls: [DEAD_URL, 'ws://127.0.0.1:7'],
      identity,
      networkId: networkConfig(nodeCrypto, NETWORK).networkId,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    }).catch((e: unknown) => e as Error);
    expect(String(err)).toMatch(/127\.0\.0\.1:9.*127\.0\.0\.1:7/);
  });
});

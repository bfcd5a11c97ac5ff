/**
 * A "browser-like" node in Node: the very code a tab runs (createBrowserNode), with
 * node-datachannel's RTCPeerConnection and ws's WebSocket injected, a throwaway identity, node:crypto
 * and proof of work on this thread (in a tab those come from a Web Worker; vitest runs sources).
 */
import { RTCPeerConnection } from 'node-datachannel/polyfill';
import { WebSocket } from 'ws';
import { createBrowserNode, type BrowserNodeOptions } from '../../src/browser-node.js';
import { Identity } from '../../src/crypto/identity.js';
import { inThreadPowSolver } from '../../src/crypto/pow.js';
import type { DHT } from '../../src/dht.js';
import type { NetworkOptions } from '../../src/network.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import type { RTCPeerConnectionConstructor } from '../../src/transport/webrtc.js';
import type { WebSocketConstructor } from '../../src/transport/ws-client.js';

export async function browserLikeNode(network: NetworkOptions & { idDifficulty: number }, options: Partial<BrowserNodeOptions>): Promise<DHT> {
  return createBrowserNode({
    network,
    identityStorage: false,
    identity: await Identity.generate({ crypto: nodeCrypto, difficulty: network.idDifficulty }),
    crypto: nodeCrypto,
    powSolver: inThreadPowSolver(nodeCrypto),
    RTCPeerConnection: RTCPeerConnection as unknown as RTCPeerConnectionConstructor,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    ...options,
  });
}

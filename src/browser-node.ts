/**
 * A full DHT node in a browser tab (or anywhere with RTCPeerConnection and WebSocket): it joins
 * through the signaling server over WebSocket, then opens WebRTC data channels to its contacts
 * on demand, signalling through the server first and through the DHT once it has contacts.
 * Nothing here is browser-specific code: the environment's constructors are defaults, injectable.
 */
import type { CryptoBackend } from './crypto/backend.js';
import { Identity } from './crypto/identity.js';
import { createWorkerPowSolver, generateIdentityInWorker } from './crypto/pow-worker.js';
import type { PowSolver } from './crypto/pow.js';
import { createWebCryptoBackend } from './crypto/webcrypto.js';
import { assembleNode } from './assemble.js';
import type { DHT, DHTOptions } from './dht.js';
import { SpydhtError } from './errors.js';
import { loadOrCreateIdentity, type IdentityStorage } from './identity-store.js';
import { networkConfig, type NetworkOptions } from './network.js';
import { WebRtcTransport, type RTCPeerConnectionConstructor } from './transport/webrtc.js';
import { WsClientTransport, wsAddress, type WebSocketConstructor } from './transport/ws-client.js';
import type { IceServer } from './dom-types.js';

export interface BrowserNodeOptions extends Omit<DHTOptions, 'transports' | 'bootstrap' | 'crypto' | 'identity' | 'network'> {
  /** ws:// or wss:// URL of the signaling/bootstrap server. */
  signalingUrl: string;
  network?: NetworkOptions;
  /** Keep the identity across reloads ('indexeddb' default), or not (false: a new ID each time). */
  identityStorage?: 'indexeddb' | 'localstorage' | IdentityStorage | false;
  /** An identity to use instead of a stored or generated one. */
  identity?: Identity;
  iceServers?: IceServer[];
  /** WebRTC links kept open at most. */
  maxLinks?: number;
  /** Default: WebCrypto Ed25519 where the page may use it, else @noble. */
  crypto?: CryptoBackend;
  /** Default: proof of work in a Web Worker, so the page never freezes. */
  powSolver?: PowSolver;
  RTCPeerConnection?: RTCPeerConnectionConstructor;
  WebSocket?: WebSocketConstructor;
  /** Join right away (default true). */
  autoBootstrap?: boolean;
}

export async function createBrowserNode(options: BrowserNodeOptions): Promise<DHT> {
  const {
    signalingUrl,
    network,
    identityStorage = 'indexeddb',
    iceServers,
    maxLinks,
    RTCPeerConnection = globalThis.RTCPeerConnection,
    WebSocket,
    autoBootstrap = true,
    ...rest
  } = options;
  if (!RTCPeerConnection) throw SpydhtError.invalidArgument('no RTCPeerConnection in this environment: pass one');
  const crypto = options.crypto ?? (await createWebCryptoBackend());
  const config = networkConfig(crypto, network);
  const generate = (o: { crypto: CryptoBackend; difficulty: number; signal?: AbortSignal }): Promise<Identity> =>
    generateIdentityInWorker({ crypto: o.crypto, difficulty: o.difficulty, signal: o.signal });
  const identity =
    options.identity ??
    (identityStorage === false
      ? await generate({ crypto, difficulty: config.idDifficulty })
      : await loadOrCreateIdentity({ crypto, difficulty: config.idDifficulty, storage: identityStorage, generate }));

  let ws: WsClientTransport | undefined;
  return assembleNode({
    ...rest,
    crypto,
    identity,
    network,
    transports: [
      async () => (ws = await WsClientTransport.connect({ url: signalingUrl, identity, crypto, networkId: config.networkId, WebSocket })),
      () =>
        new WebRtcTransport({
          identity,
          crypto,
          RTCPeerConnection,
          iceServers,
          maxLinks,
          // Until ICE picks a pair, a peer's IP is unknown here.
          observedIp: () => undefined,
          // Another tab on our network shows only an mDNS name: count it under our own address.
          sameNetworkIp: () => ws?.observedIp,
        }),
    ],
    bootstrap: () => [wsAddress(ws!.serverId)],
    autoBootstrap,
    powSolver: options.powSolver ?? createWorkerPowSolver({ crypto }),
  });
}

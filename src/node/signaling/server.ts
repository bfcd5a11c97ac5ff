/**
 * The bootstrap / signaling server: one DHT node reachable two ways, over UDP by Node peers and
 * over WebSocket by browsers (WsServerTransport). Browsers join the swarm through it; later the
 * engine relays their SIGNAL messages over the same links (nothing here is specific to that).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { isIP } from 'node:net';
import { assembleNode, type TransportOpener } from '../../assemble.js';
import type { DHT, DHTOptions } from '../../dht.js';
import type { CryptoBackend } from '../../crypto/backend.js';
import { Identity } from '../../crypto/identity.js';
import { SpydhtError } from '../../errors.js';
import { networkConfig, type NetworkOptions } from '../../network.js';
import type { AddressInput } from '../../transport/transport.js';
import { formatIpPort, type PeerAddress } from '../../wire/address.js';
import { nodePoolCrypto } from '../crypto-node.js';
import { importOptional } from '../optional-dependency.js';
import { resolveUdpAddress } from '../resolve.js';
import { createNodeWebRtcTransport, type NodeWebRtcOptions } from '../webrtc-node.js';
import { UdpTransport } from '../udp.js';
import {
  WsServerTransport,
  wsServerOptions,
  type SignalingLogger,
  type WsServerLimits,
  type WsServerStats,
} from './ws-server-transport.js';

export interface SignalingServerOptions {
  /** WebSocket (TCP) port; 0 (the default) picks a free one. */
  port?: number;
  /** Literal IP the WebSocket server binds (default "0.0.0.0"; "::" for IPv6). */
  host?: string;
  /** UDP port of the DHT node (default: the same number as `port`, or a free one when `port` is 0). */
  udpPort?: number;
  /** Literal IP the UDP socket binds (default: `host`). */
  udpHost?: string;
  /** The swarm's settings; every node and browser must use the same. */
  network?: NetworkOptions;
  /** The server's node identity (default: a new one for this network). */
  identity?: Identity;
  /** Default `nodePoolCrypto`: the clients' challenge signatures are checked off the event loop. */
  crypto?: CryptoBackend;
  limits?: Partial<WsServerLimits>;
  /** Receives joins, leaves, refusals (level 'debug') and start/stop lines. */
  logger?: SignalingLogger;
  /** UDP nodes ("ip:port", "host:port" or PeerAddress) to join an existing swarm through (default: none, a new swarm). */
  bootstrap?: readonly AddressInput[];
  /** Also speak WebRTC (node-datachannel), so the server is a full member browsers can reach. */
  webrtc?: boolean | NodeWebRtcOptions;
  /** Further engine options (k, maxPerIp, storage, rateLimit …). */
  dht?: Omit<DHTOptions, 'transports' | 'crypto' | 'identity' | 'network' | 'bootstrap'>;
}

export interface SignalingServerStats extends WsServerStats {
  /** Routing table size of the server's node. */
  contacts: number;
  /** Records the server's node stores. */
  records: number;
  udp: { sent: number; received: number };
}

export interface SignalingServer {
  /** The server's DHT node (UDP + WebSocket transports). */
  readonly dht: DHT;
  readonly transport: WsServerTransport;
  readonly udp: UdpTransport;
  /** ws://host:port (a loopback host when bound to a wildcard). */
  readonly url: string;
  /** "ip:port" of the UDP node, for createNode({ bootstrap }) (loopback when bound to a wildcard). */
  readonly udpAddress: string;
  readonly port: number;
  readonly udpPort: number;
  stats(): SignalingServerStats;
  /** Closes every client (1001), the DHT node and both sockets; leaves no handle behind. Idempotent. */
  close(): Promise<void>;
}

export async function startSignalingServer(options: SignalingServerOptions = {}): Promise<SignalingServer> {
  const host = options.host ?? '0.0.0.0';
  const port = options.port ?? 0;
  const udpHost = options.udpHost ?? host;
  const udpPort = options.udpPort ?? port;
  const crypto = options.crypto ?? nodePoolCrypto;
  for (const [name, value] of [['host', host], ['udpHost', udpHost]] as const) {
    if (isIP(value) === 0 || value.includes('%')) throw SpydhtError.invalidArgument(`${name} must be a literal IP address, got "${value}"`);
  }
  for (const [name, value] of [['port', port], ['udpPort', udpPort]] as const) {
    if (!Number.isInteger(value) || value < 0 || value > 65535) throw SpydhtError.invalidArgument(`${name} must be an integer from 0 to 65535`);
  }
  const bootstrap: PeerAddress[] = await Promise.all((options.bootstrap ?? []).map((a) => (typeof a === 'string' ? resolveUdpAddress(a) : a)));
  // `ws` is an optional dependency: without it, say how to get it before anything is opened.
  const { WebSocketServer } = await importOptional('ws', 'The signaling server', () => import('ws'));
  const config = networkConfig(crypto, options.network);
  const identity = options.identity ?? (await Identity.generate({ crypto, difficulty: config.idDifficulty }));
  const logger = options.logger;
  const log: SignalingLogger = (entry) => {
    try {
      logger?.(entry);
    } catch {
      // a logger's bug must not break the server
    }
  };

  const udp = await UdpTransport.bind({ host: udpHost, port: udpPort });
  const transport = new WsServerTransport({
    identity,
    crypto,
    networkId: config.networkId,
    idDifficulty: config.idDifficulty,
    limits: options.limits,
    logger,
  });
  const limits = transport.limits;
  // Slow or half-sent HTTP requests must not hold sockets for long, and the timeout must really
  // bite: Node checks it every connectionsCheckingInterval (30 s by default).
  const httpOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.headersTimeoutMs,
    connectionsCheckingInterval: limits.headersCheckIntervalMs,
  };
  const http = createServer(httpOptions, (_req, res) => {
    res.writeHead(426, { 'content-type': 'text/plain; charset=utf-8', upgrade: 'websocket', connection: 'close' });
    res.end('spydht signaling server: connect with a WebSocket\n');
  });
  const wss = new WebSocketServer({ ...wsServerOptions(), server: http });
  wss.on('error', () => {}); // re-emitted HTTP server errors; listen() below reports the one that matters
  wss.on('connection', (ws, req) => transport.handleConnection(ws, req));

  // assembleNode closes whichever of these it opened if anything fails.
  const openers: TransportOpener[] = [() => udp, () => transport];
  if (options.webrtc) openers.push((id) => createNodeWebRtcTransport(id, crypto, options.webrtc === true ? {} : (options.webrtc as NodeWebRtcOptions)));
  let dht: DHT;
  try {
    dht = await assembleNode({
      // Members relay each other's signaling before the server does (BOOTSTRAP flag).
      bootstrapServer: true,
      ...options.dht,
      crypto,
      identity,
      network: options.network,
      transports: openers,
      bootstrap,
      ready: () => listen(http, port, host),
    });
  } catch (err) {
    await Promise.all([udp.close(), transport.close()]);
    await closeHttp(http, wss);
    throw err;
  }
  http.on('error', () => {});
  const wsPort = (http.address() as { port: number }).port;
  const udpBound = udp.address();
  const url = `ws://${formatIpPort({ ip: displayIp(host), port: wsPort })}`;
  const udpAddress = formatIpPort({ ip: displayIp(udpBound.ip), port: udpBound.port });

  log({ level: 'info', event: 'listening', message: `listening on ${url} (WebSocket) and ${formatIpPort(udpBound)} (UDP), node ${dht.id}` });

  let closing: Promise<void> | undefined;
  return {
    dht,
    transport,
    udp,
    url,
    udpAddress,
    port: wsPort,
    udpPort: udpBound.port,
    stats: () => ({
      ...transport.stats,
      contacts: dht.routing.size,
      records: dht.storage.size,
      udp: { sent: udp.stats.sent, received: udp.stats.received },
    }),
    close: () =>
      (closing ??= (async () => {
        log({ level: 'info', event: 'closing', message: `closing: ${transport.stats.clients} clients` });
        // The DHT closes its transports: every client gets 1001, the UDP socket closes.
        await dht.close();
        await transport.close();
        await closeHttp(http, wss);
        log({ level: 'info', event: 'closed', message: 'closed' });
      })()),
  };
}

function listen(http: HttpServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      http.off('error', reject);
      resolve();
    });
  });
}

async function closeHttp(http: HttpServer, wss: { close(cb: () => void): void }): Promise<void> {
  await new Promise<void>((resolve) => wss.close(() => resolve()));
  await new Promise<void>((resolve) => {
    if (!http.listening) return resolve();
    http.close(() => resolve());
    http.closeAllConnections();
  });
}

/** A wildcard bind is shown as loopback of its family (reachable from this machine). */
function displayIp(ip: string): string {
  if (ip === '0.0.0.0') return '127.0.0.1';
  if (ip === '::') return '::1';
  return ip;
}

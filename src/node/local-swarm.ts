/**
 * A mixed swarm on this machine in one call: the signaling server, Node bridges (UDP + WebRTC) and
 * UDP-only Node clients. `npm start`, the Playwright specs and the mixed-swarm test all start
 * theirs here; an app does the same to run Node peers beside its own browser tabs.
 */
import { onAbort } from '../abort.js';
import type { DHT, DHTOptions } from '../dht.js';
import { SpydhtError } from '../errors.js';
import type { NetworkOptions } from '../network.js';
import { createNode, reachableAddresses, type CreateNodeOptions } from './create-node.js';
import { lanAddress } from './lan-address.js';
import { startSignalingServer, type SignalingLogger, type SignalingServer } from './signaling/index.js';
import type { NodeWebRtcOptions } from './webrtc-node.js';

/** Engine options given to every node of a local swarm (the swarm itself sets the rest). */
export type LocalSwarmDhtOptions = Omit<DHTOptions, 'transports' | 'crypto' | 'identity' | 'network' | 'bootstrap' | 'client' | 'bootstrapServer' | 'maxPerIp'>;

export interface LocalSwarmOptions {
  /** Literal IP the signaling server's WebSocket binds (default "0.0.0.0", so tabs reach it at this machine's LAN address). */
  host?: string;
  /** WebSocket port of the (first) signaling server (default 0: a free port). Server i listens on `port + i` (each on a free port when 0). */
  port?: number;
  /**
   * Signaling servers (default 1). They share nothing: each is a DHT node of its own, the second
   * and later ones join through the first one's UDP address, and every bridge joins through all of
   * them, so they are one swarm, and tabs on any of them reach each other. Tabs list them all
   * (`createBrowserNode({ signalingUrls: swarm.urls })`) and fail over when one stops.
   */
  servers?: number;
  /** Literal IP the bridges, the clients and the server's UDP socket bind (default "127.0.0.1"). */
  udpHost?: string;
  /** Node peers speaking UDP and WebRTC (default 3). Started one at a time: each joins a swarm holding the ones before it. */
  bridges?: number;
  /** Node peers speaking UDP only (default 2). They take part as clients: they enter no routing table. */
  clients?: number;
  /**
   * Whom each client joins through, which is also whom it asks first to run a get or put it cannot
   * finish itself: `'bridge'` (default) the first bridge, then the server; `'server'` the server
   * only (also what `'bridge'` means when there is no bridge).
   */
  clientsJoin?: 'bridge' | 'server';
  /** The swarm's settings; every browser tab that joins must use the same. */
  network?: NetworkOptions;
  /**
   * Routing-table contacts per IP of the server and the bridges (default 64). Every peer here shares
   * this machine's IPs, so a real node's limit of 2 would keep most of them out of each other's
   * tables. Tabs that join should use the same (`swarm.maxPerIp`); clients keep the default.
   */
  maxPerIp?: number;
  /** WebRTC settings of the server and the bridges. */
  webrtc?: NodeWebRtcOptions;
  /** Further engine options for every node: server, bridges and clients. */
  dht?: LocalSwarmDhtOptions;
  /** Receives the signaling server's log: joins, leaves, refusals. */
  logger?: SignalingLogger;
  /**
   * Deadline, ms, of the Node peers joining, at start and in each `addBridge()` (default 60,000).
   * Past it, whatever was started is closed again and the promise rejects with DEADLINE_EXCEEDED.
   * (Starting the server and creating each node involve no network wait.)
   */
  timeoutMs?: number;
  /** Aborts starting: whatever was started is closed again and the promise rejects with ABORTED. */
  signal?: AbortSignal;
}

export interface LocalSwarm {
  /**
   * The (first) signaling server: WebSocket for tabs, UDP for Node peers, and a full member over
   * WebRTC. It may be closed on its own (to see the swarm carry on without it); `close()` allows for that.
   */
  readonly server: SignalingServer;
  /** Every signaling server, `server` first. Any may be closed on its own. */
  readonly servers: readonly SignalingServer[];
  /** Node peers speaking UDP and WebRTC: full members that tabs reach directly. `addBridge()` adds to these. */
  readonly bridges: readonly DHT[];
  /** Node peers speaking UDP only: clients, in no routing table, served by a bridge for what only tabs hold. */
  readonly clients: readonly DHT[];
  /** "ip:port" of the server's UDP socket: what `createNode({ bootstrap })` and the CLI join through. */
  readonly bootstrap: string;
  /**
   * The WebSocket URL tabs join through (`createBrowserNode({ signalingUrl })`). With a wildcard
   * `host` it names this machine's LAN address (`lanAddress()`): Chromium never uses loopback
   * addresses for WebRTC, so tabs reaching the server at 127.0.0.1 could open no link. Without a
   * LAN address it falls back to loopback.
   */
  readonly url: string;
  /** The WebSocket URL of every server, in the order of `servers` (`url` first). */
  readonly urls: readonly string[];
  /** Routing-table contacts per IP of the server and the bridges; give tabs the same. */
  readonly maxPerIp: number;
  /** Starts one more bridge, joining through the first bridge (not the server, which may be closed). */
  addBridge(): Promise<DHT>;
  /** Closes every node, then the server; leaves no socket, WebRTC channel or timer behind. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_PER_IP = 64;
/** Signaling servers in one local swarm at most. */
const MAX_SERVERS = 8;

/**
 * Starts a mixed swarm on this machine: one or more signaling servers (WebSocket for browser tabs,
 * UDP for Node peers, WebRTC as a full member), `bridges` Node peers speaking UDP and WebRTC, and `clients`
 * Node peers speaking UDP only. Tabs join through `url`; Node peers and the CLI through
 * `bootstrap`. Useful to run Node peers beside browsers, e.g. across many Playwright tabs.
 * If anything fails, or the deadline passes, whatever was started is closed before it rejects.
 *
 * @example
 * ```js
 * import { lanAddress, startLocalSwarm } from 'spydht/node';
 *
 * const swarm = await startLocalSwarm({ servers: 2, bridges: 3, clients: 2 });
 * // Each tab joins as a full member, through either server (it fails over to the other):
 * //   createBrowserNode({ signalingUrls: swarm.urls, maxPerIp: swarm.maxPerIp })
 * // swarm.url is on the LAN address: Chromium's WebRTC never uses loopback. The page may be served
 * // there or from localhost (a secure context: WebCrypto).
 * console.log(`serve your page at http://${lanAddress()}:5173/; tabs join through ${swarm.url}`);
 * const key = await swarm.bridges[0].put('greeting', 'hello from Node');
 * console.log((await swarm.clients[0].get(key))?.text()); // hello from Node
 * await swarm.close(); // every socket and WebRTC channel closed: the process exits by itself
 * ```
 */
export async function startLocalSwarm(options: LocalSwarmOptions = {}): Promise<LocalSwarm> {
  const {
    host = '0.0.0.0',
    port = 0,
    udpHost = '127.0.0.1',
    servers: serverCount = 1,
    bridges: bridgeCount = 3,
    clients: clientCount = 2,
    clientsJoin = 'bridge',
    network,
    maxPerIp = DEFAULT_MAX_PER_IP,
    webrtc = {},
    dht = {},
    logger,
    timeoutMs = DEFAULT_TIMEOUT_MS,
    signal,
  } = options;
  for (const [name, value] of [['bridges', bridgeCount], ['clients', clientCount]] as const) {
    if (!Number.isInteger(value) || value < 0) throw SpydhtError.invalidArgument(`${name} must be an integer ≥ 0, got ${value}`);
  }
  if (!Number.isInteger(serverCount) || serverCount < 1 || serverCount > MAX_SERVERS) {
    throw SpydhtError.invalidArgument(`servers must be an integer from 1 to ${MAX_SERVERS}, got ${serverCount}`);
  }
  if (!(timeoutMs > 0)) throw SpydhtError.invalidArgument(`timeoutMs must be positive, got ${timeoutMs}`);
  if (signal?.aborted) throw SpydhtError.aborted(signal.reason);

  const servers: SignalingServer[] = [];
  try {
    for (let i = 0; i < serverCount; i++) {
      // Each later server joins the first one's swarm over UDP: they share nothing else.
      const bootstrap = i === 0 ? [] : [servers[0]!.udpAddress];
      servers.push(await startSignalingServer({ host, port: port === 0 ? 0 : port + i, udpHost, udpPort: 0, network, webrtc, logger, bootstrap, dht: { ...dht, maxPerIp } }));
      if (signal?.aborted) throw SpydhtError.aborted(signal.reason);
    }
  } catch (err) {
    await Promise.allSettled(servers.map((s) => s.close()));
    throw err;
  }
  const server = servers[0]!;
  const serverAddresses = servers.map((s) => s.udpAddress);
  const bridges: DHT[] = [];
  const clients: DHT[] = [];
  /** Every node started, joined or still joining: what close() closes. */
  const started = new Set<DHT>();
  let closing: Promise<void> | undefined;
  const member: CreateNodeOptions = { ...dht, host: udpHost, network, webrtc, maxPerIp };

  /** Creates a node and joins under `deadline`, then adds it to `into`; one that fails is closed again. */
  const join = async (into: DHT[], nodeOptions: CreateNodeOptions, deadline: AbortSignal): Promise<DHT> => {
    if (closing) throw SpydhtError.closed();
    deadline.throwIfAborted();
    const node = await createNode({ ...nodeOptions, autoBootstrap: false });
    started.add(node);
    try {
      if (closing) throw SpydhtError.closed(); // close() ran while the node was being created
      await node.bootstrap(undefined, { signal: deadline });
    } catch (err) {
      started.delete(node);
      await node.close();
      throw err;
    }
    into.push(node);
    return node;
  };

  const swarm: LocalSwarm = {
    server,
    servers,
    bridges,
    clients,
    bootstrap: server.udpAddress,
    url: swarmUrl(host, server),
    urls: servers.map((s) => swarmUrl(host, s)),
    maxPerIp,
    addBridge: () =>
      withDeadline('a new bridge to join', timeoutMs, undefined, (deadline) => {
        // The first bridge, not the server: a test may have closed the server to see the swarm carry on.
        const via = bridges.length > 0 ? reachableAddresses(bridges[0]!)[0]! : server.udpAddress;
        return join(bridges, { ...member, bootstrap: [via] }, deadline);
      }),
    close: () => (closing ??= closeAll([...started], servers)),
  };

  try {
    await withDeadline('the local swarm to start', timeoutMs, signal, async (deadline) => {
      // Through every server: each admits the bridge, so the servers' tables overlap from the start.
      for (let i = 0; i < bridgeCount; i++) await join(bridges, { ...member, bootstrap: serverAddresses }, deadline);
      // A UDP-only peer joins through a bridge (the server is one too): in a mixed swarm it can
      // reach only part of the members, and asks its bridge to get or put what it cannot.
      const via = clientsJoin === 'bridge' && bridges.length > 0 ? [reachableAddresses(bridges[0]!)[0]!, server.udpAddress] : [server.udpAddress];
      for (let i = 0; i < clientCount; i++) await join(clients, { ...dht, host: udpHost, network, client: true, bootstrap: via }, deadline);
    });
  } catch (err) {
    await swarm.close().catch(() => {});
    throw err;
  }
  return swarm;
}

/** The URL tabs join through: a wildcard bind is named by this machine's LAN address when it has one. */
function swarmUrl(host: string, server: SignalingServer): string {
  const lan = host === '0.0.0.0' || host === '::' ? lanAddress() : undefined;
  return lan ? `ws://${lan}:${server.port}` : server.url;
}

/**
 * Runs `fn` with a signal that aborts at the deadline or when `outer` does (or did); rejects with
 * DEADLINE_EXCEEDED or ABORTED then, whatever error the aborted work ended with.
 */
async function withDeadline<T>(what: string, timeoutMs: number, outer: AbortSignal | undefined, fn: (deadline: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new SpydhtError('DEADLINE_EXCEEDED', `timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  const abort = (): void => controller.abort(SpydhtError.aborted(outer?.reason));
  const unwatch = outer ? onAbort(outer, abort) : () => {};
  if (outer?.aborted) abort();
  try {
    return await fn(controller.signal);
  } catch (err) {
    throw controller.signal.aborted ? (controller.signal.reason as SpydhtError) : err;
  } finally {
    clearTimeout(timer);
    unwatch();
  }
}

/**
 * Closes the nodes, then the servers (idempotent, so one already closed is fine). Every node's
 * WebRTC transport closes each data channel before its peer connection: node-datachannel keeps
 * the process alive while any channel is open, so this is what lets a program exit by itself.
 */
async function closeAll(nodes: DHT[], servers: readonly SignalingServer[]): Promise<void> {
  const results = await Promise.allSettled(nodes.map((n) => n.close()));
  results.push(...(await Promise.allSettled(servers.map((s) => s.close()))));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) throw new AggregateError(failures, `closing the local swarm: ${failures.length} of ${results.length} failed`);
}

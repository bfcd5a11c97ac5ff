/**
 * The server end of the WebSocket links (protocol in src/transport/ws-client.ts): a DHT transport
 * whose peers are the authenticated clients, addressed WS(node ID). It does not listen by itself:
 * hand it every connection of a `ws` WebSocketServer created with `wsServerOptions()`.
 *
 * Every limit is per connection (or per IP) and every per-frame path is O(1) before the datagram
 * reaches the engine, so one abusive client cannot slow the others: frames over the size cap,
 * floods, silence and protocol violations close that client alone with a WsCloseCode.
 */
import type { IncomingMessage } from 'node:http';
// Types only, kept out of the public declarations (see WsServerSocket): `ws` is an optional dependency.
import type { RawData, WebSocket } from 'ws';
import { equalBytes, fromHex, toHex } from '../../bytes.js';
import type { CryptoBackend } from '../../crypto/backend.js';
import { idFromPublicKey, solvesIdPuzzle, type Identity } from '../../crypto/identity.js';
import type { DatagramHandler, Transport } from '../../transport/transport.js';
import {
  WS_CHALLENGE_BYTES,
  WS_MAX_CONTROL_BYTES,
  WS_PROTOCOL_VERSION,
  WsCloseCode,
  wsHelloMessage,
} from '../../transport/ws-client.js';
import { IpCounts, ipPrefix } from '../../ip-prefix.js';
import { TokenBucket } from '../../rate-limit.js';
import { AddressKind, canonicalIp, type PeerAddress } from '../../wire/address.js';
import { MAX_MESSAGE_BYTES } from '../../wire/messages.js';

export { WsCloseCode } from '../../transport/ws-client.js';

/**
 * The `ws` maxPayload: a datagram plus slack. ws enforces it while reading (before buffering a
 * frame); a frame over it is closed with FRAME_TOO_LARGE like any other oversize frame.
 */
export const WS_MAX_PAYLOAD = MAX_MESSAGE_BYTES + 256;

export interface WsServerLimits {
  /** Authenticated clients (after a valid hello) at most (default 1000). Over it: 4001. */
  maxConnections: number;
  /**
   * Connections still before their hello, a pool of their own (default 128), so sockets that
   * never authenticate cannot take the clients' slots. When it is full, a newcomer takes the
   * oldest pending slot of the /24 or /64 holding the most, if that prefix holds more than the
   * newcomer's would; else 4001.
   */
  maxPendingConnections: number;
  /** Pending connections from one IP (default 4), and from one /24 or /64 (default 16). Over it: 4002. */
  maxPendingPerIp: number;
  maxPendingPerPrefix: number;
  /** Open connections from one IP (default 16), and from one /24 or /64 (default 64). Over it: 4002. */
  maxConnectionsPerIp: number;
  maxConnectionsPerPrefix: number;
  /** Frames (and pings) per second per connection, sustained (default 100). */
  messagesPerSecond: number;
  /** Token bucket depth (default 200). */
  messageBurst: number;
  /** Frames dropped by the rate limit within 10 s after which the connection is closed with 4004 (default 50). */
  rateLimitDropsBeforeClose: number;
  /** From connection to a valid hello, ms (default 3000: one round trip and a signature). Over it: 4005. */
  helloTimeoutMs: number;
  /**
   * The HTTP server's headers and request timeouts (startSignalingServer), ms (default 5000), and
   * how often it checks them (default 500: Node's own default check runs every 30 s, so a 10 s
   * timeout held slow requests for up to 40 s).
   */
  headersTimeoutMs: number;
  headersCheckIntervalMs: number;
  /** Longest time without a frame from an authenticated client, ms (default 60 000). Over it: 4005. */
  idleTimeoutMs: number;
  /** A ws ping is sent this often; a connection that has not answered the previous one is terminated (default 20 000). */
  heartbeatMs: number;
  /** Outgoing datagrams are dropped (and counted) while more than this many bytes wait for a client (default 256 KiB). */
  maxBufferedBytes: number;
  /** After we close a connection, how long the client gets to finish the closing handshake, ms (default 2000). */
  closeGraceMs: number;
  /** Take the client IP from the last X-Forwarded-For entry (only behind a reverse proxy you control). Default false. */
  trustProxy: boolean;
}

export const DEFAULT_WS_SERVER_LIMITS: WsServerLimits = {
  maxConnections: 1000,
  maxPendingConnections: 128,
  maxPendingPerIp: 4,
  maxPendingPerPrefix: 16,
  maxConnectionsPerIp: 16,
  maxConnectionsPerPrefix: 64,
  messagesPerSecond: 100,
  messageBurst: 200,
  rateLimitDropsBeforeClose: 50,
  helloTimeoutMs: 3000,
  headersTimeoutMs: 5000,
  headersCheckIntervalMs: 500,
  idleTimeoutMs: 60_000,
  heartbeatMs: 20_000,
  maxBufferedBytes: 256 * 1024,
  closeGraceMs: 2000,
  trustProxy: false,
};

export interface SignalingLogEntry {
  /** 'info': joins, leaves, start/stop. 'debug': refused connections and protocol violations. */
  level: 'info' | 'debug';
  event: 'join' | 'leave' | 'refused' | 'replaced' | 'listening' | 'closing' | 'closed';
  message: string;
  id?: string;
  ip?: string;
  code?: number;
  connections?: number;
  clients?: number;
}

export type SignalingLogger = (entry: SignalingLogEntry) => void;

export interface WsServerStats {
  /** Open sockets, handshaking or authenticated. */
  connections: number;
  /** Of those, sockets before their hello (the pending pool). */
  pending: number;
  /** Pending connections closed to give their slot to a newcomer from a less busy prefix. */
  pendingEvicted: number;
  /** Authenticated clients (entries by node ID). */
  clients: number;
  /** Successful hellos since start. */
  joins: number;
  /** Connections that ended, by close code (1006: terminated, e.g. no pong). */
  closes: Record<number, number>;
  /** Connections terminated because they did not answer a heartbeat ping. */
  heartbeatTimeouts: number;
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  /** Socket 'error' events (counted, never thrown). */
  socketErrors: number;
  drops: {
    /** Incoming frames over the rate limit. */
    rateLimited: number;
    /** Outgoing datagrams dropped because the client's buffer was over maxBufferedBytes. */
    backpressure: number;
    /** Outgoing datagrams to an ID with no open link. */
    noLink: number;
    /** Outgoing datagrams of the wrong kind, empty or over MAX_MESSAGE_BYTES. */
    badSend: number;
    /** Incoming empty datagrams. */
    empty: number;
    /** onDatagram threw. */
    handlerError: number;
  };
}

export interface WsServerTransportOptions {
  identity: Identity;
  crypto: CryptoBackend;
  networkId: Uint8Array;
  /** The network's ID puzzle difficulty: client IDs must solve it. */
  idDifficulty: number;
  limits?: Partial<WsServerLimits>;
  logger?: SignalingLogger;
}

/**
 * A `ws` WebSocket as `handleConnection` takes it: only what the public type needs, so the published
 * declarations do not import `ws` (an optional dependency; a consumer's strict type check would
 * need its types). Every `ws` WebSocket fits.
 */
export interface WsServerSocket {
  readonly readyState: number;
  readonly bufferedAmount: number;
  terminate(): void;
}

/** `ws` WebSocketServer options (a subset of its ServerOptions) that `wsServerOptions()` sets. */
export interface WsServerOptionsSubset {
  maxPayload: number;
  perMessageDeflate: boolean;
  clientTracking: boolean;
  maxFragments: number;
  maxBufferedChunks: number;
}

/** Options every WebSocketServer fed to a WsServerTransport should use (spread your own after). */
export function wsServerOptions(): WsServerOptionsSubset {
  return {
    maxPayload: WS_MAX_PAYLOAD,
    // No compression: a 5 KB frame could inflate to anything, and datagrams are mostly signatures and IDs.
    perMessageDeflate: false,
    clientTracking: false,
    // A datagram in more than 64 fragments, or trickled in more than 8192 TCP chunks, is abuse (ws closes with 1008).
    maxFragments: 64,
    maxBufferedChunks: 8192,
  };
}

type ConnState = 'hello' | 'verifying' | 'open' | 'closed';

interface Conn {
  readonly ws: WebSocket;
  readonly ip: string;
  readonly challenge: Uint8Array;
  readonly openedAt: number;
  state: ConnState;
  id: Uint8Array | undefined;
  key: string | undefined;
  address: PeerAddress | undefined;
  /** Frames and pings: limits.messagesPerSecond, limits.messageBurst. */
  frames: TokenBucket;
  dropWindowStart: number;
  dropsInWindow: number;
  lastFrameAt: number;
  alive: boolean;
  /** The code we closed with (the close event reports the peer's echo, or 1006). */
  closeCode: number | undefined;
  closeReason: string;
  helloTimer: ReturnType<typeof setTimeout> | undefined;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
  graceTimer: ReturnType<typeof setTimeout> | undefined;
}

const OPEN = 1;
/** Refused sockets given a closing handshake at once; beyond this they are terminated. */
const MAX_REFUSED_CLOSING = 256;
const TEXT = new TextDecoder();
const HEX32 = /^[0-9a-f]{64}$/;
const HEX64 = /^[0-9a-f]{128}$/;

export class WsServerTransport implements Transport {
  readonly kind = AddressKind.WS;
  readonly name = 'ws';
  /** Browsers' links to the server are private: never advertised to other nodes. */
  readonly speaks = 0;
  onDatagram: DatagramHandler | undefined = undefined;
  onPeerGone: ((address: PeerAddress) => void) | undefined = undefined;
  readonly limits: WsServerLimits;
  readonly #options: WsServerTransportOptions;
  readonly #log: SignalingLogger;
  /** Every open socket, handshaking or not. */
  readonly #conns = new Set<Conn>();
  /** Authenticated clients by node ID (hex). */
  readonly #byId = new Map<string, Conn>();
  /** Every open socket, by IP and by prefix. */
  readonly #open = new IpCounts();
  /** Sockets before their hello, by IP and prefix, and by prefix in arrival order (oldest first). */
  readonly #pendingCounts = new IpCounts();
  readonly #pendingByPrefix = new Map<string, Set<Conn>>();
  #pendingTotal = 0;
  /** Sockets refused at connection time, still finishing their closing handshake. */
  readonly #refused = new Set<WebSocket>();
  readonly #stats: WsServerStats = {
    connections: 0,
    pending: 0,
    pendingEvicted: 0,
    clients: 0,
    joins: 0,
    closes: {},
    heartbeatTimeouts: 0,
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    socketErrors: 0,
    drops: { rateLimited: 0, backpressure: 0, noLink: 0, badSend: 0, empty: 0, handlerError: 0 },
  };
  readonly #heartbeat: ReturnType<typeof setInterval>;
  #closing: Promise<void> | undefined;

  constructor(options: WsServerTransportOptions) {
    this.#options = options;
    this.limits = { ...DEFAULT_WS_SERVER_LIMITS, ...definedOnly(options.limits ?? {}) };
    const logger = options.logger;
    this.#log = (entry) => {
      try {
        logger?.(entry);
      } catch {
        // a logger's bug must not break the transport
      }
    };
    this.#heartbeat = setInterval(() => this.#beat(), this.limits.heartbeatMs);
    this.#heartbeat.unref?.();
  }

  /** Counts so far (a copy; DHT.stats() reports them as "ws.*"). */
  get stats(): WsServerStats {
    return {
      ...this.#stats,
      connections: this.#conns.size,
      pending: this.#pendingTotal,
      clients: this.#byId.size,
      closes: { ...this.#stats.closes },
      drops: { ...this.#stats.drops },
    };
  }

  /** IDs (hex) of the authenticated clients. */
  clientIds(): string[] {
    return [...this.#byId.keys()];
  }

  /** Takes over one connection of a WebSocketServer: `wss.on('connection', (ws, req) => t.handleConnection(ws, req))`. */
  handleConnection(socket: WsServerSocket, request: IncomingMessage): void {
    const ws = socket as WebSocket;
    // A listener for the whole life of the socket: an unhandled 'error' event would be thrown.
    ws.on('error', () => void this.#stats.socketErrors++);
    const ip = clientIp(request, this.limits.trustProxy);
    if (this.#closing) return this.#refuse(ws, ip, WsCloseCode.GOING_AWAY, 'server shutting down');
    const l = this.limits;
    if (!this.#open.fits(ip, l.maxConnectionsPerIp, l.maxConnectionsPerPrefix) || !this.#pendingCounts.fits(ip, l.maxPendingPerIp, l.maxPendingPerPrefix)) {
      return this.#refuse(ws, ip, WsCloseCode.TOO_MANY_FROM_IP, 'too many connections from your IP');
    }
    if (!this.#pendingRoomFor(ip)) return this.#refuse(ws, ip, WsCloseCode.TOO_MANY_CONNECTIONS, 'too many connections');

    const now = Date.now();
    const conn: Conn = {
      ws,
      ip,
      challenge: this.#options.crypto.randomBytes(WS_CHALLENGE_BYTES),
      openedAt: now,
      state: 'hello',
      id: undefined,
      key: undefined,
      address: undefined,
      frames: new TokenBucket(this.limits.messagesPerSecond, this.limits.messageBurst, now),
      dropWindowStart: now,
      dropsInWindow: 0,
      lastFrameAt: now,
      alive: true,
      closeCode: undefined,
      closeReason: '',
      helloTimer: undefined,
      idleTimer: undefined,
      graceTimer: undefined,
    };
    this.#conns.add(conn);
    this.#open.add(ip);
    this.#addPending(conn);

    // ws closes a frame over maxPayload itself, with 1009: report it as FRAME_TOO_LARGE like ours.
    const close = ws.close.bind(ws);
    ws.close = (code?: number, reason?: string | Buffer) => {
      if (code === 1009) [code, reason] = [WsCloseCode.FRAME_TOO_LARGE, 'frame too large'];
      if (conn.closeCode === undefined && code !== undefined) {
        conn.closeCode = code;
        conn.closeReason = typeof reason === 'string' ? reason : '';
      }
      close(code, reason);
    };

    ws.on('message', (data, isBinary) => this.#onFrame(conn, data, isBinary));
    ws.on('ping', () => {
      // ws answers pings itself; a ping flood still costs a token each.
      if (!this.#takeToken(conn)) this.#overLimit(conn);
    });
    ws.on('pong', () => {
      conn.alive = true;
    });
    ws.on('close', (code, reason) => this.#onClosed(conn, code, reason.toString()));

    conn.helloTimer = setTimeout(() => {
      if (conn.state === 'hello' || conn.state === 'verifying') this.#close(conn, WsCloseCode.TIMEOUT, 'hello timeout');
    }, this.limits.helloTimeoutMs);
    this.#sendText(conn, { t: 'challenge', v: WS_PROTOCOL_VERSION, challenge: toHex(conn.challenge), network: toHex(this.#options.networkId) });
  }

  send(to: PeerAddress, data: Uint8Array): void {
    const drops = this.#stats.drops;
    if (to.kind !== AddressKind.WS || data.length === 0 || data.length > MAX_MESSAGE_BYTES) return void drops.badSend++;
    const conn = this.#byId.get(toHex(to.data));
    if (!conn || conn.state !== 'open' || conn.ws.readyState !== OPEN) return void drops.noLink++;
    if (conn.ws.bufferedAmount > this.limits.maxBufferedBytes) return void drops.backpressure++;
    conn.ws.send(data, { binary: true }, (err) => {
      if (err) drops.noLink++;
    });
    this.#stats.framesOut++;
    this.#stats.bytesOut += data.length;
  }

  addressOf(): undefined {
    return undefined;
  }

  ipOf(address: PeerAddress): string | undefined {
    if (address.kind !== AddressKind.WS) return undefined;
    return this.#byId.get(toHex(address.data))?.ip;
  }

  format(address: PeerAddress): string {
    const hex = toHex(address.data);
    const ip = address.kind === AddressKind.WS ? this.#byId.get(hex)?.ip : undefined;
    return `ws:${hex.slice(0, 16)}…${ip ? `@${ip}` : ''}`;
  }

  /** WS addresses are never advertised to other nodes. */
  localAddresses(): PeerAddress[] {
    return [];
  }

  /**
   * Closes every client with 1001 and refuses new ones; resolves when every socket is gone
   * (bounded by closeGraceMs: stragglers are terminated). Idempotent; the DHT calls it from close().
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#heartbeat);
      const all = [...this.#conns];
      const gone = all.map((c) => new Promise<void>((resolve) => c.ws.once('close', () => resolve())));
      const refused = [...this.#refused].map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())));
      for (const c of all) this.#close(c, WsCloseCode.GOING_AWAY, 'server shutting down');
      for (const ws of this.#refused) ws.terminate();
      await Promise.all([...gone, ...refused]);
    })();
    return this.#closing;
  }

  // --- internals ----------------------------------------------------------------------------

  /**
   * A pending slot for a newcomer from `ip`: free, or taken from the prefix with the most pending
   * sockets (its oldest) if that prefix holds more than the newcomer's prefix would. A flood of
   * sockets that never say hello, from however many addresses, churns its own slots; a newcomer
   * from a quieter prefix always finds one, and keeps it for its few hundred ms of handshake.
   */
  #pendingRoomFor(ip: string): boolean {
    if (this.#pendingTotal < this.limits.maxPendingConnections) return true;
    const mine = this.#pendingByPrefix.get(ipPrefix(ip))?.size ?? 0;
    let busiest: Set<Conn> | undefined;
    for (const set of this.#pendingByPrefix.values()) if (!busiest || set.size > busiest.size) busiest = set;
    if (!busiest || busiest.size <= mine + 1) return false;
    const oldest = busiest.values().next().value!;
    this.#stats.pendingEvicted++;
    this.#removePending(oldest);
    this.#close(oldest, WsCloseCode.TOO_MANY_CONNECTIONS, 'too many connections');
    return true;
  }

  #addPending(conn: Conn): void {
    const prefix = ipPrefix(conn.ip);
    let set = this.#pendingByPrefix.get(prefix);
    if (!set) this.#pendingByPrefix.set(prefix, (set = new Set()));
    set.add(conn);
    this.#pendingCounts.add(conn.ip);
    this.#pendingTotal++;
  }

  /** Leaves the pending pool (authenticated, closed or evicted); idempotent. */
  #removePending(conn: Conn): void {
    const prefix = ipPrefix(conn.ip);
    const set = this.#pendingByPrefix.get(prefix);
    if (!set?.delete(conn)) return;
    if (set.size === 0) this.#pendingByPrefix.delete(prefix);
    this.#pendingCounts.remove(conn.ip);
    this.#pendingTotal--;
  }

  #refuse(ws: WebSocket, ip: string, code: number, reason: string): void {
    this.#stats.closes[code] = (this.#stats.closes[code] ?? 0) + 1;
    this.#log({ level: 'debug', event: 'refused', message: `refused ${ip}: ${reason} (${code})`, ip, code, connections: this.#conns.size });
    // Under a flood of connections, refused sockets are cut at once rather than each given a
    // closing handshake (and the memory it holds) for closeGraceMs.
    if (this.#refused.size >= MAX_REFUSED_CLOSING) return ws.terminate();
    this.#refused.add(ws);
    const grace = setTimeout(() => ws.terminate(), this.limits.closeGraceMs);
    ws.once('close', () => {
      clearTimeout(grace);
      this.#refused.delete(ws);
    });
    ws.close(code, reason);
  }

  #onFrame(conn: Conn, raw: RawData, isBinary: boolean): void {
    if (conn.state === 'closed' || conn.closeCode !== undefined) return;
    const data = toBytes(raw);
    conn.lastFrameAt = Date.now();
    this.#stats.framesIn++;
    this.#stats.bytesIn += data.length;
    if (!this.#takeToken(conn)) return this.#overLimit(conn);

    if (isBinary) {
      if (conn.state !== 'open') return this.#close(conn, WsCloseCode.PROTOCOL_ERROR, 'datagram before welcome');
      if (data.length > MAX_MESSAGE_BYTES) return this.#close(conn, WsCloseCode.FRAME_TOO_LARGE, 'frame too large');
      if (data.length === 0) return void this.#stats.drops.empty++;
      try {
        this.onDatagram?.(data, conn.address!);
      } catch {
        this.#stats.drops.handlerError++;
      }
      return;
    }

    if (data.length > WS_MAX_CONTROL_BYTES) return this.#close(conn, WsCloseCode.FRAME_TOO_LARGE, 'control frame too large');
    let msg: Record<string, unknown> | undefined;
    try {
      const v: unknown = JSON.parse(TEXT.decode(data));
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) msg = v as Record<string, unknown>;
    } catch {
      return this.#close(conn, WsCloseCode.PROTOCOL_ERROR, 'bad JSON');
    }
    if (!msg) return this.#close(conn, WsCloseCode.PROTOCOL_ERROR, 'control frame is not an object');
    if (conn.state === 'hello' && msg.t === 'hello') {
      conn.state = 'verifying';
      void this.#verifyHello(conn, msg);
      return;
    }
    if (conn.state === 'open' && msg.t === 'keepalive') return;
    this.#close(conn, WsCloseCode.PROTOCOL_ERROR, `unexpected frame ${JSON.stringify(String(msg.t)).slice(0, 40)}`);
  }

  async #verifyHello(conn: Conn, msg: Record<string, unknown>): Promise<void> {
    const { publicKey, signature } = msg;
    if (typeof publicKey !== 'string' || !HEX32.test(publicKey) || typeof signature !== 'string' || !HEX64.test(signature)) {
      return this.#close(conn, WsCloseCode.AUTH_FAILED, 'malformed hello');
    }
    const crypto = this.#options.crypto;
    const pk = fromHex(publicKey);
    const id = idFromPublicKey(crypto, pk);
    if (!solvesIdPuzzle(crypto, id, this.#options.idDifficulty)) return this.#close(conn, WsCloseCode.AUTH_FAILED, "ID does not solve the network's puzzle");
    if (equalBytes(id, this.#options.identity.id)) return this.#close(conn, WsCloseCode.AUTH_FAILED, "that is the server's ID");
    let ok = false;
    try {
      ok = await crypto.verify(pk, wsHelloMessage(this.#options.networkId, conn.challenge), fromHex(signature));
    } catch {
      ok = false;
    }
    if (conn.state !== 'verifying') return; // closed while we verified
    if (!ok) return this.#close(conn, WsCloseCode.AUTH_FAILED, 'bad signature');

    const key = toHex(id);
    const previous = this.#byId.get(key);
    // The clients' pool: a replacement takes its predecessor's slot.
    if (!previous && this.#byId.size >= this.limits.maxConnections) return this.#close(conn, WsCloseCode.TOO_MANY_CONNECTIONS, 'too many clients');
    this.#removePending(conn);
    if (previous && previous !== conn) {
      // Unmap first, so the old socket's close does not remove the new entry.
      this.#byId.delete(key);
      previous.state = 'closed';
      this.#log({ level: 'info', event: 'replaced', message: `replaced ${key.slice(0, 16)} (${previous.ip}) by a new connection from ${conn.ip}`, id: key, ip: conn.ip });
      this.#close(previous, WsCloseCode.REPLACED, 'replaced by a newer connection');
    }
    conn.state = 'open';
    conn.id = id;
    conn.key = key;
    conn.address = { kind: AddressKind.WS, data: id };
    clearTimeout(conn.helloTimer);
    conn.helloTimer = undefined;
    this.#byId.set(key, conn);
    this.#stats.joins++;
    this.#sendText(conn, { t: 'welcome', id: toHex(this.#options.identity.id), ip: conn.ip });
    this.#armIdle(conn);
    this.#log({
      level: 'info',
      event: 'join',
      message: `join  ${key.slice(0, 16)} from ${conn.ip} (${this.#byId.size} clients, ${this.#conns.size} connections)`,
      id: key,
      ip: conn.ip,
      connections: this.#conns.size,
      clients: this.#byId.size,
    });
  }

  /** One timer per connection, re-armed lazily: frames only update lastFrameAt. */
  #armIdle(conn: Conn): void {
    const idle = this.limits.idleTimeoutMs;
    const due = conn.lastFrameAt + idle - Date.now();
    conn.idleTimer = setTimeout(() => {
      conn.idleTimer = undefined;
      if (conn.state !== 'open') return;
      if (Date.now() - conn.lastFrameAt >= idle) this.#close(conn, WsCloseCode.TIMEOUT, 'idle timeout');
      else this.#armIdle(conn);
    }, Math.max(due, 1));
  }

  #takeToken(conn: Conn): boolean {
    return conn.frames.take(Date.now());
  }

  #overLimit(conn: Conn): void {
    this.#stats.drops.rateLimited++;
    const now = Date.now();
    if (now - conn.dropWindowStart > 10_000) {
      conn.dropWindowStart = now;
      conn.dropsInWindow = 0;
    }
    if (++conn.dropsInWindow >= this.limits.rateLimitDropsBeforeClose) this.#close(conn, WsCloseCode.RATE_LIMITED, 'rate limited');
  }

  #beat(): void {
    for (const conn of this.#conns) {
      if (conn.state === 'closed') continue;
      if (!conn.alive) {
        this.#stats.heartbeatTimeouts++;
        conn.closeCode ??= 1006;
        conn.closeReason ||= 'no pong';
        conn.ws.terminate();
        continue;
      }
      conn.alive = false;
      try {
        conn.ws.ping();
      } catch {
        // closing already
      }
    }
  }

  #sendText(conn: Conn, msg: object): void {
    if (conn.ws.readyState !== OPEN) return;
    conn.ws.send(JSON.stringify(msg), (err) => {
      if (err) this.#stats.socketErrors++;
    });
  }

  /** Closes one connection with `code`; the client gets closeGraceMs to answer, then it is terminated. */
  #close(conn: Conn, code: number, reason: string): void {
    if (conn.graceTimer) return;
    if (conn.state !== 'open' && conn.state !== 'closed') {
      this.#log({ level: 'debug', event: 'refused', message: `closed ${conn.ip} during the handshake: ${reason} (${code})`, ip: conn.ip, code });
    }
    if (conn.state !== 'closed' && conn.key === undefined) conn.state = 'closed';
    // A socket we close before its hello gives its pending slot back now, not after the grace.
    if (conn.key === undefined) this.#removePending(conn);
    conn.graceTimer = setTimeout(() => conn.ws.terminate(), this.limits.closeGraceMs);
    conn.ws.close(code, reason);
  }

  #onClosed(conn: Conn, code: number, rawReason: string): void {
    // The client chooses its close reason: keep it printable and short before it reaches a log.
    const reason = rawReason.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
    const wasOpen = conn.key !== undefined;
    conn.state = 'closed';
    clearTimeout(conn.helloTimer);
    clearTimeout(conn.idleTimer);
    clearTimeout(conn.graceTimer);
    if (!this.#conns.delete(conn)) return;
    this.#open.remove(conn.ip);
    this.#removePending(conn);
    if (conn.key !== undefined && this.#byId.get(conn.key) === conn) {
      this.#byId.delete(conn.key);
      // Only the server reaches a tab over its WebSocket: gone for us, it must not be handed out.
      this.onPeerGone?.({ kind: AddressKind.WS, data: fromHex(conn.key) });
    }
    const finalCode = conn.closeCode ?? code;
    this.#stats.closes[finalCode] = (this.#stats.closes[finalCode] ?? 0) + 1;
    if (wasOpen) {
      const why = conn.closeCode !== undefined ? `${conn.closeCode} ${conn.closeReason}`.trim() : `${code}${reason ? ` ${reason}` : ''} by client`;
      this.#log({
        level: 'info',
        event: 'leave',
        message: `leave ${conn.key!.slice(0, 16)} from ${conn.ip} after ${Math.round((Date.now() - conn.openedAt) / 1000)} s: ${why} (${this.#byId.size} clients, ${this.#conns.size} connections)`,
        id: conn.key,
        ip: conn.ip,
        code: finalCode,
        connections: this.#conns.size,
        clients: this.#byId.size,
      });
    }
  }
}

function toBytes(raw: RawData): Uint8Array {
  // A plain Uint8Array view: Buffer's slice() shares memory where Uint8Array's copies.
  if (raw instanceof ArrayBuffer) return new Uint8Array(raw);
  if (Array.isArray(raw)) {
    const b = Buffer.concat(raw);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  return new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
}

function clientIp(request: IncomingMessage, trustProxy: boolean): string {
  if (trustProxy) {
    const header = request.headers['x-forwarded-for'];
    const list = (Array.isArray(header) ? header.join(',') : header ?? '').split(',').map((s) => s.trim()).filter(Boolean);
    const last = list[list.length - 1];
    const forwarded = last && canonicalIp(last);
    if (forwarded) return forwarded;
  }
  return canonicalIp(request.socket.remoteAddress ?? '') ?? 'unknown';
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

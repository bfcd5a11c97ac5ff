/**
 * The browser's link to the bootstrap / signaling server: one WebSocket that carries DHT datagrams
 * both ways once the client has proved its node ID. Browser-safe (uses the global WebSocket; Node
 * tests inject `ws`'s constructor). The server side is src/node/signaling/ws-server-transport.ts.
 *
 * Protocol (version 1). Control frames are text JSON, datagrams are binary frames:
 *   server → client  {"t":"challenge","v":1,"challenge":<hex 32 B>,"network":<hex network ID>}
 *   client → server  {"t":"hello","publicKey":<hex 32 B>,"signature":<hex 64 B>}
 *                    signature = Ed25519 over "spydht/ws-hello/v1" ‖ networkId ‖ challenge
 *   server → client  {"t":"welcome","id":<hex server node ID>,"ip":<client IP as the server saw it>}
 * then binary frames (1 … MAX_MESSAGE_BYTES bytes) are DHT datagrams in either direction, and the
 * client may send {"t":"keepalive"} (no reply) so an otherwise quiet link outlives the idle timeout.
 * Anything else closes the link with one of the WsCloseCode codes below.
 *
 * Addresses are AddressKind.WS with the 32-byte node ID of the other end. A client's only peer is
 * its server; WS addresses are never advertised to other nodes.
 */
import { concatBytes, equalBytes, fromHex, toHex, utf8 } from '../bytes.js';
import type { CryptoBackend } from '../crypto/backend.js';
import type { Identity } from '../crypto/identity.js';
import { AddressKind, type PeerAddress } from '../wire/address.js';
import { MAX_MESSAGE_BYTES } from '../wire/messages.js';
import type { DatagramHandler, Transport } from './transport.js';

export const WS_PROTOCOL_VERSION = 1;
/** Domain separation tag of the hello signature. */
export const WS_HELLO_TAG = 'spydht/ws-hello/v1';
export const WS_CHALLENGE_BYTES = 32;
/** Largest text (control) frame either side accepts. */
export const WS_MAX_CONTROL_BYTES = 1024;

/** Close codes of the WebSocket link (4000–4999 are the application range of RFC 6455). */
export const WsCloseCode = {
  NORMAL: 1000,
  /** The server is shutting down. */
  GOING_AWAY: 1001,
  TOO_MANY_CONNECTIONS: 4001,
  TOO_MANY_FROM_IP: 4002,
  FRAME_TOO_LARGE: 4003,
  RATE_LIMITED: 4004,
  /** No hello within the hello timeout, or no frame within the idle timeout. */
  TIMEOUT: 4005,
  /** Malformed hello, bad signature, ID not SHA-256(publicKey) or under the network's ID puzzle. */
  AUTH_FAILED: 4006,
  /** Bad JSON, unknown or unexpected frame (e.g. a datagram before the welcome). */
  PROTOCOL_ERROR: 4007,
  /** Another connection authenticated with the same node ID. */
  REPLACED: 4008,
} as const;

/** The bytes a client signs in its hello. */
export function wsHelloMessage(networkId: Uint8Array, challenge: Uint8Array): Uint8Array {
  return concatBytes(utf8(WS_HELLO_TAG), networkId, challenge);
}

/** A WS peer address: the 32-byte node ID of the other end. */
export function wsAddress(id: Uint8Array): PeerAddress {
  return { kind: AddressKind.WS, data: Uint8Array.from(id) };
}

/** The subset of the WebSocket API used here (the browser's and `ws`'s both fit). */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  onopen: ((event: never) => void) | null;
  onmessage: ((event: never) => void) | null;
  onclose: ((event: never) => void) | null;
  onerror: ((event: never) => void) | null;
  send(data: string | ArrayBufferView | ArrayBuffer): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

const OPEN = 1;

export interface WsCloseInfo {
  code: number;
  reason: string;
  /** True when this side asked to close (close() or a protocol error it detected). */
  local: boolean;
}

/** connect() failed: the server refused us (closeCode tells why), the handshake timed out, or a bad frame. */
export class WsLinkError extends Error {
  readonly closeCode: number | undefined;
  constructor(message: string, closeCode?: number) {
    super(message);
    this.name = 'WsLinkError';
    this.closeCode = closeCode;
  }
}

export interface WsClientConnectOptions {
  /** ws:// or wss:// URL of the signaling server. */
  url: string;
  /** This node's identity: the link is bound to its ID. */
  identity: Identity;
  /** Accepted for symmetry with the server; the identity signs with the backend it was made with. */
  crypto?: CryptoBackend;
  /** The network ID (networkConfig(crypto, network).networkId); the server rejects another network. */
  networkId: Uint8Array;
  /** WebSocket constructor (default: the global one; Node 20 has none, pass `ws`'s WebSocket). */
  WebSocket?: WebSocketConstructor;
  /** Deadline of the whole handshake, ms (default 10 000). */
  timeoutMs?: number;
  /** Sends a keepalive when nothing was sent for this long, ms (default 20 000; 0 = never). */
  keepaliveMs?: number;
  /** Drop outgoing datagrams while this many bytes wait in the socket's buffer (default 256 KiB). */
  maxBufferedBytes?: number;
  signal?: AbortSignal;
}

export interface WsClientStats {
  framesIn: number;
  framesOut: number;
  bytesIn: number;
  bytesOut: number;
  keepalives: number;
  dropped: {
    /** send() after close, or the socket is not open. */
    closed: number;
    /** Not WS(serverId): the client can reach its server only. */
    wrongAddress: number;
    oversize: number;
    /** bufferedAmount over the bound: the network is slower than we send. */
    backpressure: number;
    /** onDatagram threw. */
    handlerError: number;
  };
}

interface Challenge {
  challenge: Uint8Array;
  network: Uint8Array;
}

const HEX32 = /^[0-9a-f]{64}$/;

export class WsClientTransport implements Transport {
  readonly kind = AddressKind.WS;
  readonly name = 'ws';
  /** A private link to the server: never advertised, never a way for others to reach us. */
  readonly speaks = 0;
  onDatagram: DatagramHandler | undefined = undefined;
  /** Called once when the link closes, for any reason. */
  onClose: ((info: WsCloseInfo) => void) | undefined = undefined;
  /** Resolves once when the link closes, for any reason (never rejects). */
  readonly closed: Promise<WsCloseInfo>;
  /** The server's node ID (from its welcome). */
  readonly serverId: Uint8Array;
  /** This client's IP as the server observed it (from its welcome). */
  readonly observedIp: string;
  readonly url: string;
  readonly stats: WsClientStats = {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    keepalives: 0,
    dropped: { closed: 0, wrongAddress: 0, oversize: 0, backpressure: 0, handlerError: 0 },
  };

  readonly #socket: WebSocketLike;
  readonly #serverAddress: PeerAddress;
  readonly #host: string;
  readonly #maxBuffered: number;
  #resolveClosed!: (info: WsCloseInfo) => void;
  #closeInfo: WsCloseInfo | undefined;
  #localClose = false;
  #keepalive: ReturnType<typeof setInterval> | undefined;
  #lastSentAt = Date.now();

  private constructor(socket: WebSocketLike, url: string, serverId: Uint8Array, observedIp: string, options: WsClientConnectOptions) {
    this.#socket = socket;
    this.url = url;
    this.serverId = serverId;
    this.observedIp = observedIp;
    this.#serverAddress = wsAddress(serverId);
    this.#host = hostOf(url);
    this.#maxBuffered = options.maxBufferedBytes ?? 256 * 1024;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    socket.onmessage = ((event: { data: unknown }) => this.#onMessage(event.data)) as (event: never) => void;
    socket.onclose = ((event: { code: number; reason: string }) => this.#onClosed(event.code, event.reason)) as (event: never) => void;
    socket.onerror = null;
    const keepaliveMs = options.keepaliveMs ?? 20_000;
    if (keepaliveMs > 0) {
      this.#keepalive = setInterval(() => {
        if (Date.now() - this.#lastSentAt < keepaliveMs * 0.9 || this.#socket.readyState !== OPEN) return;
        this.#sendRaw(JSON.stringify({ t: 'keepalive' }));
        this.stats.keepalives++;
      }, keepaliveMs);
    }
  }

  /**
   * Opens the socket, answers the server's challenge and resolves once welcomed. Rejects with a
   * WsLinkError (closeCode = the server's close code when it refused us) or the abort reason.
   */
  static connect(options: WsClientConnectOptions): Promise<WsClientTransport> {
    const Ctor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Ctor) return Promise.reject(new WsLinkError('no WebSocket implementation: pass options.WebSocket (e.g. the "ws" package)'));
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    const { url, identity, networkId } = options;
    let socket: WebSocketLike;
    try {
      socket = new Ctor(url);
    } catch (err) {
      return Promise.reject(new WsLinkError(`cannot open ${url}: ${(err as Error).message}`));
    }
    socket.binaryType = 'arraybuffer';

    return new Promise<WsClientTransport>((resolve, reject) => {
      let state: 'challenge' | 'signing' | 'welcome' | 'done' = 'challenge';
      let challenge: Challenge | undefined;
      const detach = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
      };
      const fail = (error: unknown, closeCode?: number): void => {
        if (state === 'done') return;
        state = 'done';
        detach();
        socket.onmessage = null;
        socket.onopen = null;
        if (closeCode !== undefined) closeQuietly(socket, closeCode, error instanceof Error ? error.message : 'error');
        else socket.onclose = null;
        reject(error);
      };
      const onAbort = (): void => fail(options.signal!.reason, WsCloseCode.NORMAL);
      const timer = setTimeout(
        () => fail(new WsLinkError(`handshake with ${url} timed out`), WsCloseCode.TIMEOUT),
        options.timeoutMs ?? 10_000,
      );
      options.signal?.addEventListener('abort', onAbort, { once: true });

      socket.onerror = (() => {
        // Browsers give no detail; the close event that follows carries the code.
      }) as (event: never) => void;
      socket.onclose = ((event: { code: number; reason: string }) => {
        const why = event.reason ? `${event.code} ${event.reason}` : String(event.code);
        fail(new WsLinkError(`${url} closed the connection during the handshake (${why})`, event.code));
      }) as (event: never) => void;
      socket.onmessage = ((event: { data: unknown }) => {
        if (state === 'done') return;
        const text = typeof event.data === 'string' ? event.data : undefined;
        if (text === undefined || text.length > WS_MAX_CONTROL_BYTES) {
          return fail(new WsLinkError('server sent a binary or oversize frame during the handshake'), WsCloseCode.PROTOCOL_ERROR);
        }
        const msg = parseControl(text);
        if (state === 'challenge') {
          challenge = msg ? parseChallenge(msg) : undefined;
          if (!challenge) return fail(new WsLinkError('server sent a malformed challenge'), WsCloseCode.PROTOCOL_ERROR);
          if (!equalBytes(challenge.network, networkId)) {
            return fail(new WsLinkError(`server is on another network (${toHex(challenge.network)}, we are ${toHex(networkId)})`), WsCloseCode.PROTOCOL_ERROR);
          }
          state = 'signing';
          const signed = wsHelloMessage(networkId, challenge.challenge);
          identity.sign(signed).then(
            (signature) => {
              if (state !== 'signing') return;
              state = 'welcome';
              socket.send(JSON.stringify({ t: 'hello', publicKey: toHex(identity.publicKey), signature: toHex(signature) }));
            },
            (err: unknown) => fail(err, WsCloseCode.NORMAL),
          );
          return;
        }
        if (state === 'welcome' && msg?.t === 'welcome' && typeof msg.id === 'string' && HEX32.test(msg.id) && typeof msg.ip === 'string' && msg.ip.length <= 64) {
          state = 'done';
          detach();
          socket.onopen = null;
          resolve(new WsClientTransport(socket, url, fromHex(msg.id), msg.ip, options));
          return;
        }
        fail(new WsLinkError(`unexpected frame from the server during the handshake: ${text.slice(0, 80)}`), WsCloseCode.PROTOCOL_ERROR);
      }) as (event: never) => void;
    });
  }

  get isOpen(): boolean {
    return this.#closeInfo === undefined && this.#socket.readyState === OPEN;
  }

  /** Bytes waiting in the socket's send buffer. */
  get bufferedAmount(): number {
    return this.#socket.bufferedAmount;
  }

  send(to: PeerAddress, data: Uint8Array): void {
    const drop = this.stats.dropped;
    if (!this.isOpen) return void drop.closed++;
    if (to.kind !== AddressKind.WS || !equalBytes(to.data, this.serverId)) return void drop.wrongAddress++;
    if (data.length === 0 || data.length > MAX_MESSAGE_BYTES) return void drop.oversize++;
    if (this.#socket.bufferedAmount > this.#maxBuffered) return void drop.backpressure++;
    if (this.#sendRaw(data)) {
      this.stats.framesOut++;
      this.stats.bytesOut += data.length;
    }
  }

  addressOf(): undefined {
    return undefined;
  }

  ipOf(address: PeerAddress): string | undefined {
    // The browser cannot see the server's IP: its host name stands in for it.
    return address.kind === AddressKind.WS && equalBytes(address.data, this.serverId) ? this.#host : undefined;
  }

  format(address: PeerAddress): string {
    if (address.kind !== AddressKind.WS) return `${address.kind}:${toHex(address.data)}`;
    return equalBytes(address.data, this.serverId) ? `${this.url} (${toHex(this.serverId).slice(0, 16)}…)` : `ws:${toHex(address.data).slice(0, 16)}…`;
  }

  /** WS addresses are never advertised: only our server can reach us, and it knows how. */
  localAddresses(): PeerAddress[] {
    return [];
  }

  /** Closes the link (code 1000) and resolves once it is closed (bounded: 2 s, then the socket is dropped). */
  async close(): Promise<void> {
    if (this.#closeInfo) return;
    this.#localClose = true;
    this.#stopKeepalive();
    closeQuietly(this.#socket, WsCloseCode.NORMAL, 'client closing');
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        // ws has terminate(); a browser socket is simply abandoned.
        (this.#socket as { terminate?: () => void }).terminate?.();
        this.#onClosed(1006, 'close timed out');
        resolve();
      }, 2000);
    });
    await Promise.race([this.closed.then(() => undefined), bound]);
    clearTimeout(timer);
  }

  #sendRaw(data: string | Uint8Array): boolean {
    try {
      this.#socket.send(data);
      this.#lastSentAt = Date.now();
      return true;
    } catch {
      this.stats.dropped.closed++;
      return false;
    }
  }

  #onMessage(data: unknown): void {
    if (this.#closeInfo) return;
    let bytes: Uint8Array;
    if (typeof data === 'string') {
      // The server sends no control frame after its welcome.
      return this.#protocolError('unexpected text frame');
    } else if (data instanceof ArrayBuffer) {
      bytes = new Uint8Array(data);
    } else if (ArrayBuffer.isView(data)) {
      bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } else {
      return this.#protocolError('unsupported frame type');
    }
    if (bytes.length === 0 || bytes.length > MAX_MESSAGE_BYTES) return this.#protocolError('bad datagram size', WsCloseCode.FRAME_TOO_LARGE);
    this.stats.framesIn++;
    this.stats.bytesIn += bytes.length;
    try {
      this.onDatagram?.(bytes, this.#serverAddress);
    } catch {
      this.stats.dropped.handlerError++;
    }
  }

  #protocolError(reason: string, code: number = WsCloseCode.PROTOCOL_ERROR): void {
    this.#localClose = true;
    this.#stopKeepalive();
    closeQuietly(this.#socket, code, reason);
  }

  #onClosed(code: number, reason: string): void {
    if (this.#closeInfo) return;
    this.#stopKeepalive();
    this.#socket.onmessage = null;
    this.#socket.onclose = null;
    this.#closeInfo = { code, reason, local: this.#localClose };
    this.#resolveClosed(this.#closeInfo);
    try {
      this.onClose?.(this.#closeInfo);
    } catch {
      // a listener's bug must not break the transport
    }
  }

  #stopKeepalive(): void {
    if (this.#keepalive !== undefined) clearInterval(this.#keepalive);
    this.#keepalive = undefined;
  }
}

function closeQuietly(socket: WebSocketLike, code: number, reason: string): void {
  try {
    // A close reason is at most 123 bytes of UTF-8.
    socket.close(code, reason.slice(0, 100));
  } catch {
    // already closing
  }
}

function parseControl(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function parseChallenge(msg: Record<string, unknown>): Challenge | undefined {
  if (msg.t !== 'challenge' || msg.v !== WS_PROTOCOL_VERSION) return undefined;
  if (typeof msg.challenge !== 'string' || !HEX32.test(msg.challenge)) return undefined;
  if (typeof msg.network !== 'string' || !/^[0-9a-f]{2,64}$/.test(msg.network) || msg.network.length % 2) return undefined;
  return { challenge: fromHex(msg.challenge), network: fromHex(msg.network) };
}

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return url;
  }
}

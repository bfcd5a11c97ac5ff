/**
 * The browser's link to *some* signaling server out of several: one WsClientTransport at a time,
 * to the first server of the list that welcomes us; when that link closes, the next servers are
 * tried in the background, with backoff, until one welcomes us. The node never stops for it: once
 * it has WebRTC contacts it keeps working through them (and signals through the DHT) while no
 * server is reachable at all.
 *
 * To the engine this is one transport of kind WS whose peer (the server) may change: a link that
 * closes reports its server gone (onPeerGone), and `onServerChange` tells the owner (createBrowserNode)
 * to join through the new server, which makes it an entry peer and the node's bootstrap address.
 */
import { toHex } from '../bytes.js';
import type { CryptoBackend } from '../crypto/backend.js';
import type { Identity } from '../crypto/identity.js';
import { AddressKind, type PeerAddress } from '../wire/address.js';
import type { DatagramHandler, Transport } from './transport.js';
import { WsClientTransport, WsCloseCode, WsLinkError, wsAddress, type WebSocketConstructor, type WsClientStats } from './ws-client.js';

/** Default first reconnect delay (then doubled per failed round of the list, with jitter). */
export const DEFAULT_RECONNECT_MIN_MS = 1_000;
/** Default longest delay between rounds of reconnect attempts. */
export const DEFAULT_RECONNECT_MAX_MS = 30_000;
/** Most signaling URLs a node takes (each is tried in turn: a long list only delays failover). */
export const MAX_SIGNALING_URLS = 16;

export interface FailoverWsOptions {
  /** ws:// or wss:// URLs of signaling servers, tried in this order (shuffle them before, if wanted). */
  urls: readonly string[];
  identity: Identity;
  crypto?: CryptoBackend;
  networkId: Uint8Array;
  WebSocket?: WebSocketConstructor;
  /** Handshake deadline per server, ms (default 10 000). */
  timeoutMs?: number;
  keepaliveMs?: number;
  /** Backoff between rounds of reconnect attempts: `{ minMs, maxMs }` (default 1 s … 30 s). */
  reconnect?: { minMs?: number; maxMs?: number };
  /** Uniform in [0, 1), for the backoff's jitter (default Math.random). */
  random?: () => number;
  signal?: AbortSignal;
}

/** Counters of the link: the current WebSocket's and every earlier one's, added up. */
export interface FailoverWsStats extends Omit<WsClientStats, 'dropped'> {
  /** Links that closed under us and were replaced (or are being replaced). */
  linksLost: number;
  /** Connection attempts after the first link (successful or not). */
  reconnectAttempts: number;
  /** Links to a server after the first one. */
  reconnects: number;
  dropped: WsClientStats['dropped'] & {
    /** No server link at the time (between a loss and a reconnect). */
    noLink: number;
  };
}

export class FailoverWsTransport implements Transport {
  readonly kind = AddressKind.WS;
  readonly name = 'ws';
  /** A private link to the server: never advertised. */
  readonly speaks = 0;
  onDatagram: DatagramHandler | undefined = undefined;
  onPeerGone: ((address: PeerAddress) => void) | undefined = undefined;
  /**
   * The server changed: `link` is the new one, or undefined when the link was lost (a reconnect
   * is under way). Set by the owner; a throw is ignored.
   */
  onServerChange: ((link: WsClientTransport | undefined) => void) | undefined = undefined;
  readonly urls: readonly string[];

  readonly #options: FailoverWsOptions;
  readonly #closing = new AbortController();
  readonly #past = emptyStats();
  #link: WsClientTransport | undefined;
  /** Index in `urls` of the current (or last) server: reconnects start with the one after it. */
  #index = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #delay: number;
  #inRound = false;
  #closed = false;

  private constructor(options: FailoverWsOptions, link: WsClientTransport, index: number) {
    this.#options = options;
    this.urls = options.urls;
    this.#delay = options.reconnect?.minMs ?? DEFAULT_RECONNECT_MIN_MS;
    this.#adopt(link, index);
  }

  /**
   * Connects to the first server of `urls` that welcomes us, trying each once, in order. Rejects
   * with a WsLinkError naming every failure when none does (or with the abort reason).
   */
  static async connect(options: FailoverWsOptions): Promise<FailoverWsTransport> {
    const { urls } = options;
    if (urls.length === 0 || urls.length > MAX_SIGNALING_URLS) throw new WsLinkError(`give 1 to ${MAX_SIGNALING_URLS} signaling URLs, got ${urls.length}`);
    const failures: string[] = [];
    for (let i = 0; i < urls.length; i++) {
      try {
        const link = await connectOne(options, urls[i]!, options.signal);
        return new FailoverWsTransport(options, link, i);
      } catch (err) {
        if (options.signal?.aborted) throw options.signal.reason;
        failures.push(err instanceof Error ? err.message : String(err));
      }
    }
    throw new WsLinkError(`no signaling server welcomed us: ${failures.join('; ')}`);
  }

  /** The current link, if any. */
  get link(): WsClientTransport | undefined {
    return this.#link?.isOpen ? this.#link : undefined;
  }

  /** URL of the server we are linked to now (undefined while reconnecting). */
  get url(): string | undefined {
    return this.link?.url;
  }

  /** A reconnect is scheduled or under way (false once closed). */
  get reconnecting(): boolean {
    return !this.#closed && (this.#timer !== undefined || this.#inRound);
  }

  /** This client's IP as the current (or last) server saw it. */
  get observedIp(): string | undefined {
    return this.#link?.observedIp;
  }

  get stats(): FailoverWsStats {
    const now = this.#link?.stats ?? emptyStats();
    const p = this.#past;
    return {
      framesIn: p.framesIn + now.framesIn,
      framesOut: p.framesOut + now.framesOut,
      bytesIn: p.bytesIn + now.bytesIn,
      bytesOut: p.bytesOut + now.bytesOut,
      keepalives: p.keepalives + now.keepalives,
      linksLost: p.linksLost,
      reconnectAttempts: p.reconnectAttempts,
      reconnects: p.reconnects,
      dropped: {
        closed: p.dropped.closed + now.dropped.closed,
        wrongAddress: p.dropped.wrongAddress + now.dropped.wrongAddress,
        oversize: p.dropped.oversize + now.dropped.oversize,
        backpressure: p.dropped.backpressure + now.dropped.backpressure,
        handlerError: p.dropped.handlerError + now.dropped.handlerError,
        noLink: p.dropped.noLink,
      },
    };
  }

  send(to: PeerAddress, data: Uint8Array): void {
    const link = this.link;
    if (!link) return void this.#past.dropped.noLink++;
    link.send(to, data);
  }

  addressOf(): undefined {
    return undefined;
  }

  ipOf(address: PeerAddress): string | undefined {
    return this.#link?.ipOf(address);
  }

  format(address: PeerAddress): string {
    return this.#link?.format(address) ?? `ws:${toHex(address.data).slice(0, 16)}…`;
  }

  localAddresses(): PeerAddress[] {
    return [];
  }

  /** Closes the link and stops reconnecting; resolves once the link is closed. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(new WsLinkError('closed'));
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const link = this.#link;
    this.#link = undefined;
    if (link) {
      link.onClose = undefined;
      this.#retire(link);
      await link.close();
    }
  }

  #adopt(link: WsClientTransport, index: number): void {
    this.#link = link;
    this.#index = index;
    link.onDatagram = (data, from) => this.onDatagram?.(data, from);
    link.onClose = (info) => {
      if (this.#closed || this.#link !== link) return;
      this.#link = undefined;
      this.#retire(link);
      this.#past.linksLost++;
      this.onPeerGone?.(wsAddress(link.serverId));
      this.#notify(undefined);
      // Another document took over this identity at that server: competing for it would only
      // make the two replace each other forever.
      if (info.code === WsCloseCode.REPLACED) return;
      this.#schedule(this.#jitter(this.#options.reconnect?.minMs ?? DEFAULT_RECONNECT_MIN_MS));
    };
  }

  /** Keeps a finished link's counters in the totals. */
  #retire(link: WsClientTransport): void {
    const s = link.stats;
    const p = this.#past;
    p.framesIn += s.framesIn;
    p.framesOut += s.framesOut;
    p.bytesIn += s.bytesIn;
    p.bytesOut += s.bytesOut;
    p.keepalives += s.keepalives;
    for (const k of Object.keys(s.dropped) as (keyof WsClientStats['dropped'])[]) p.dropped[k] += s.dropped[k];
  }

  #schedule(ms: number): void {
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#inRound = true;
      void this.#round().finally(() => (this.#inRound = false));
    }, ms);
  }

  /** One round: every URL once, starting after the server we lost. */
  async #round(): Promise<void> {
    const n = this.urls.length;
    for (let step = 1; step <= n; step++) {
      if (this.#closed) return;
      const index = (this.#index + step) % n;
      this.#past.reconnectAttempts++;
      try {
        const link = await connectOne(this.#options, this.urls[index]!, this.#closing.signal);
        if (this.#closed) {
          await link.close();
          return;
        }
        this.#past.reconnects++;
        this.#delay = this.#options.reconnect?.minMs ?? DEFAULT_RECONNECT_MIN_MS;
        this.#adopt(link, index);
        this.#notify(link);
        return;
      } catch {
        // the next server
      }
    }
    const max = this.#options.reconnect?.maxMs ?? DEFAULT_RECONNECT_MAX_MS;
    this.#delay = Math.min(max, this.#delay * 2);
    this.#schedule(this.#jitter(this.#delay));
  }

  /** A delay in [ms/2, ms): tabs that lost one server do not all knock on the next at once. */
  #jitter(ms: number): number {
    return ms / 2 + (this.#options.random ?? Math.random)() * (ms / 2);
  }

  #notify(link: WsClientTransport | undefined): void {
    try {
      this.onServerChange?.(link);
    } catch {
      // the owner's bug must not stop the reconnects
    }
  }
}

function connectOne(options: FailoverWsOptions, url: string, signal: AbortSignal | undefined): Promise<WsClientTransport> {
  return WsClientTransport.connect({
    url,
    identity: options.identity,
    crypto: options.crypto,
    networkId: options.networkId,
    WebSocket: options.WebSocket,
    timeoutMs: options.timeoutMs,
    keepaliveMs: options.keepaliveMs,
    signal,
  });
}

function emptyStats(): FailoverWsStats {
  return {
    framesIn: 0,
    framesOut: 0,
    bytesIn: 0,
    bytesOut: 0,
    keepalives: 0,
    linksLost: 0,
    reconnectAttempts: 0,
    reconnects: 0,
    dropped: { closed: 0, wrongAddress: 0, oversize: 0, backpressure: 0, handlerError: 0, noLink: 0 },
  };
}

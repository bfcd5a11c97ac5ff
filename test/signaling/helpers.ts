/**
 * Helpers for the signaling server tests: a raw `ws` client that speaks the link protocol by hand
 * (to send bad input), and bounded waits. Every wait is for an event, with a deadline that fails the test.
 */
import { WebSocket, type ClientOptions, type RawData } from 'ws';
import { toHex } from '../../src/bytes.js';
import { Identity, solvesIdPuzzle } from '../../src/crypto/identity.js';
import { networkConfig } from '../../src/network.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { wsHelloMessage, type WebSocketConstructor } from '../../src/transport/ws-client.js';

/** Cheap puzzle and proof of work, the same for every node of a test. */
export const NETWORK = { name: 'spydht-ws-test', idDifficulty: 4, powBaseBits: 8 } as const;
export const NETWORK_ID = networkConfig(nodeCrypto, NETWORK).networkId;
/** `ws`'s WebSocket as the client transport's injectable constructor (Node 20 has no global one). */
export const WS: WebSocketConstructor = WebSocket;
export const WAIT_MS = 5000;

export function newIdentity(): Promise<Identity> {
  return Identity.generate({ crypto: nodeCrypto, difficulty: NETWORK.idDifficulty });
}

/** An identity whose ID does NOT solve the test network's puzzle. */
export async function weakIdentity(): Promise<Identity> {
  for (;;) {
    const id = await Identity.generate({ crypto: nodeCrypto, difficulty: 0 });
    if (!solvesIdPuzzle(nodeCrypto, id.id, NETWORK.idDifficulty)) return id;
  }
}

/** Rejects with `what` if `p` does not settle within `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

export interface Frame {
  data: Buffer;
  isBinary: boolean;
}

export interface CloseEvent {
  code: number;
  reason: string;
}

/** A hand-driven client: queues every frame from the moment the socket exists. */
export class RawClient {
  readonly frames: Frame[] = [];
  readonly closed: Promise<CloseEvent>;
  closeEvent: CloseEvent | undefined;
  readonly #waiters: ((f: Frame) => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('error', () => {});
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const frame = { data: Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer), isBinary };
      const w = this.#waiters.shift();
      if (w) w(frame);
      else this.frames.push(frame);
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeEvent = { code, reason: reason.toString() };
        resolve(this.closeEvent);
      }),
    );
  }

  static async open(url: string, options: ClientOptions = {}): Promise<RawClient> {
    const c = new RawClient(new WebSocket(url, options));
    await within(
      new Promise<void>((resolve, reject) => {
        c.ws.once('open', () => resolve());
        c.ws.once('close', (code) => reject(new Error(`closed before open (${code})`)));
      }),
      WAIT_MS,
      'the socket to open',
    );
    return c;
  }

  next(ms = WAIT_MS): Promise<Frame> {
    const queued = this.frames.shift();
    if (queued) return Promise.resolve(queued);
    return within(new Promise<Frame>((resolve) => this.#waiters.push(resolve)), ms, 'a frame from the server');
  }

  async nextJson(ms = WAIT_MS): Promise<Record<string, unknown>> {
    const f = await this.next(ms);
    if (f.isBinary) throw new Error('expected a text frame');
    return JSON.parse(f.data.toString()) as Record<string, unknown>;
  }

  /** The server's challenge (bytes). */
  async challenge(): Promise<Uint8Array> {
    const msg = await this.nextJson();
    if (msg.t !== 'challenge' || typeof msg.challenge !== 'string') throw new Error(`expected a challenge, got ${JSON.stringify(msg)}`);
    return Uint8Array.from(Buffer.from(msg.challenge, 'hex'));
  }

  /** Answers the challenge correctly and returns the welcome. */
  async authenticate(identity: Identity, networkId = NETWORK_ID): Promise<Record<string, unknown>> {
    const challenge = await this.challenge();
    const signature = await identity.sign(wsHelloMessage(networkId, challenge));
    this.sendJson({ t: 'hello', publicKey: toHex(identity.publicKey), signature: toHex(signature) });
    const welcome = await this.nextJson();
    if (welcome.t !== 'welcome') throw new Error(`expected a welcome, got ${JSON.stringify(welcome)}`);
    return welcome;
  }

  sendJson(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }

  /** The close code the server sent, within `ms`. */
  async closeCode(ms = WAIT_MS): Promise<number> {
    return (await within(this.closed, ms, 'the server to close the connection')).code;
  }

  terminate(): void {
    this.ws.terminate();
  }
}

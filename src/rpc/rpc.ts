/**
 * Request/response over unreliable datagrams. This layer alone owns the transports, request IDs,
 * the pending table, retransmission, RTT estimates, reply authentication, address tokens and
 * inbound rate limits. It reports upward only through the callbacks given to its constructor.
 */
import { onAbort } from '../abort.js';
import { equalBytes } from '../bytes.js';
import type { Clock, Timers } from '../clock.js';
import type { CryptoBackend } from '../crypto/backend.js';
import { idFromPublicKey, solvesIdPuzzle, type Identity } from '../crypto/identity.js';
import { SpydhtError } from '../errors.js';
import { idKey, type NodeId } from '../id.js';
import { LruMap } from '../lru.js';
import type { Transport } from '../transport/transport.js';
import { addressKey, peerKey, type PeerAddress, type PeerKey } from '../wire/address.js';
import {
  AUTH_BYTES,
  Flags,
  HEADER_BYTES,
  MAX_MESSAGE_BYTES,
  MessageType,
  REPLY_TO,
  REQUEST_ID_BYTES,
  REQUEST_TYPES,
  appendAuth,
  decodeMessage,
  encodeMessage,
  type Body,
  type Message,
} from '../wire/messages.js';
import { AmplificationLedger } from './amplification.js';
import type { RequestLimits } from './limits.js';
import { RttEstimator } from './rtt.js';
import { AddressTokens, TOKEN_ROTATE_MS, ZERO_TOKEN } from './tokens.js';

export { AMPLIFICATION_FACTOR } from './amplification.js';
/** Requests without a token are padded to these sizes so a full reply fits the factor above. */
const UNTOKENED_LOOKUP_BYTES = 420;
const UNTOKENED_PING_BYTES = 80;
export const DEFAULT_MAX_PENDING = 2048;
/** Pairs (ID, address) whose key was proven recently: no signature is asked of them again. */
const MAX_VERIFIED_PAIRS = 8192;
/** A peer that keeps offering ROOM gets a HELLO from us at most this often. */
const HELLO_MIN_GAP_MS = 60_000;
const MAX_HELLOS_REMEMBERED = 4096;
/** HELLOs held for a later request (HelloHold), all holds together. */
const MAX_OWED_HELLOS = 1024;
const RANDOM_POOL_BYTES = 512 * REQUEST_ID_BYTES;

/**
 * HELLOs held back by one operation (see Rpc.holdHellos): an operation that will soon send another
 * request to the peers its lookups meet (a put's STOREs) lets the HELLO's proof ride on that
 * request instead of costing a datagram of its own.
 */
export class HelloHold {
  /** Peer → its address, for HELLOs still owed. */
  readonly owed = new Map<PeerKey, PeerAddress>();
  /** Released (Rpc.releaseHellos): a reply that comes later gets its HELLO at once. */
  released = false;
}

export interface IncomingRequest {
  message: Message;
  from: PeerAddress;
  /**
   * The IP the request came from, as its transport observed it (canonical), computed once for
   * every limit; the address key when the transport does not know the IP yet.
   */
  ip: string;
  /** The request echoed our token for its address: its source address is proven. */
  tokenValid: boolean;
  /** Largest reply body (bytes after the header) allowed for this request. */
  bodyBudget: number;
}

export interface Reply {
  message: Message;
  from: PeerAddress;
  /** Round trip of this request in ms (first attempt to reply). */
  rtt: number;
  /** The sender proved its key (now or recently) at this address. */
  verified: boolean;
  /** Bytes of the reply datagram. */
  size: number;
}

/**
 * Bytes a node may send to addresses it learned from one reply and that never proved they receive
 * (see RequestOptions.sendBudget). Shared by every request drawing on it.
 */
export interface SendBudget {
  left: number;
}

export interface RequestOptions {
  /** Only a reply from this ID is accepted (omit when bootstrapping from a bare address). */
  expectId?: NodeId;
  /** Transmissions in total (first + retries). */
  attempts?: number;
  /** Called once when the first attempt times out and a retry goes out. */
  onSlow?: () => void;
  /** First timeout at least this long (a request the peer answers only after work of its own). */
  minTimeoutMs?: number;
  /** Extra header flags (e.g. PROXY). */
  flags?: number;
  signal?: AbortSignal;
  /**
   * Reflection guard: while `to` has not proven it receives (no token from it, not verified), every
   * transmission (retries too) is paid from this budget, and the request's padding shrinks to fit.
   * A lookup gives each reply's contacts a budget of that reply's own size, so a node that lists
   * made-up contacts at a victim's address makes us send the victim no more than it sent us.
   * Several budgets (several replies listed the address) are spent one after another. Over
   * budget, the request fails with OVER_BUDGET (counted as `reflectionLimited`).
   */
  sendBudget?: SendBudget[];
  /**
   * The request goes to an address that sent us something, because of what it sent (the ping
   * that verifies a stranger): while the address is unproven, it is paid from the amplification
   * credit of what came from there, and not sent when that is spent (counted `droppedAmplification`).
   */
  triggered?: boolean;
  /**
   * If the reply offers ROOM, the HELLO it calls for is held in `holdHello` instead of sent: our
   * next request to that peer carries its proof, and Rpc.releaseHellos sends what is left.
   */
  holdHello?: HelloHold;
}

export type RpcStats = Record<string, number>;

export interface RpcOptions {
  identity: Identity;
  crypto: CryptoBackend;
  networkId: Uint8Array;
  idDifficulty: number;
  transports: Transport[];
  clock: Clock;
  timers: Timers;
  limits: RequestLimits;
  /** Client mode: send requests only; ignore every request. */
  client?: boolean;
  /** Set the BOOTSTRAP flag on every message (a bootstrap/signaling server). */
  bootstrapServer?: boolean;
  maxPending?: number;
  onRequest: (req: IncomingRequest) => Promise<Body | undefined>;
  /**
   * Whether we would add this requester (not a client) to our routing table: our reply then
   * carries ROOM, and the requester may answer with a HELLO.
   */
  admits?: (message: Message, from: PeerAddress) => boolean;
  /**
   * Whether a signed reply from `id` would be of use (it could enter our table or its replacement
   * cache). If not, requests to it do not ask for a signature: lookups need none, since every
   * candidate is checked when it is itself queried. Default: always.
   */
  wantsProof?: (id: NodeId) => boolean;
  /** Every verified reply from a peer that is not a client: a routing-table candidate. */
  onVerifiedReply?: (reply: Reply) => void;
  /** A HELLO whose token proved its sender's address and whose trailer proved its key. */
  onHello?: (hello: Reply) => void;
  /** Every reply that matched a pending request (asked address and ID), verified or not. */
  onReply?: (reply: Reply) => void;
  /** Every decoded message in or out (for logs and the demo page); only called when set. */
  onTraffic?: (event: TrafficEvent) => void;
}

export interface TrafficEvent {
  direction: 'in' | 'out';
  type: number;
  peer: PeerAddress;
  bytes: number;
}

interface Pending {
  type: number;
  requestId: Uint8Array;
  to: PeerAddress;
  toKey: PeerKey;
  expectId: NodeId | undefined;
  wantAuth: boolean;
  bytes: Uint8Array;
  sentAt: number;
  attemptsLeft: number;
  retried: boolean;
  onSlow: (() => void) | undefined;
  budgets: SendBudget[] | undefined;
  /** What each budget paid for this request's transmissions: given back when the peer answers. */
  charged: number[] | undefined;
  triggered: boolean;
  holdHello: HelloHold | undefined;
  cancelTimer: () => void;
  resolve: (r: Reply) => void;
  reject: (e: unknown) => void;
  cleanup: () => void;
}

export class Rpc {
  readonly stats: RpcStats = {};
  readonly rtt = new RttEstimator();
  readonly #options: RpcOptions;
  readonly #transports = new Map<number, Transport>();
  /** By requestKey: the first 6 bytes of the request ID as a number (all 8 are compared on a reply). */
  readonly #pending = new Map<number, Pending>();
  readonly #tokens: AddressTokens;
  /** Address → the ID (idKey) whose key was proven at it recently: no signature is asked of it again. */
  readonly #verified = new LruMap<PeerKey, string>(MAX_VERIFIED_PAIRS);
  #random: Uint8Array = new Uint8Array(0);
  #randomAt = 0;
  /** Address → clock ms of the last HELLO we sent there (one per HELLO_MIN_GAP_MS). */
  readonly #hellos = new LruMap<PeerKey, number>(MAX_HELLOS_REMEMBERED);
  /** Peer → the hold that owes it a HELLO: our next request there carries the proof instead. */
  readonly #owedHellos = new Map<PeerKey, HelloHold>();
  /** Credit of addresses that sent us requests without proving they receive (≤ 3×, per address). */
  readonly #ledger = new AmplificationLedger();
  readonly #maxPending: number;
  #closed = false;
  /** SPEAKS_* flags of the transports we have (and BOOTSTRAP): every message tells peers how to reach us. */
  readonly #flags: number;

  constructor(options: RpcOptions) {
    this.#options = options;
    this.#maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
    this.#tokens = new AddressTokens(options.crypto);
    let speaks = 0;
    for (const t of options.transports) {
      speaks |= t.speaks;
      this.#transports.set(t.kind, t);
      t.onDatagram = (data, from) => this.#onDatagram(data, from);
    }
    this.#flags = speaks | (options.bootstrapServer ? Flags.BOOTSTRAP : 0);
    options.timers.every(TOKEN_ROTATE_MS, () => this.#tokens.rotate());
  }

  get pendingCount(): number {
    return this.#pending.size;
  }

  transportFor(kind: number): Transport | undefined {
    return this.#transports.get(kind);
  }

  canReach(addr: PeerAddress): boolean {
    return this.#transports.has(addr.kind);
  }

  /** Whether a node that sent message flags `flags` can reach an address of `kind` (its SPEAKS_* flags cover it). */
  reachableBy(flags: number, kind: number): boolean {
    return ((this.#transports.get(kind)?.speaks ?? 0) & flags) !== 0;
  }

  /**
   * Whether a node that sent message flags `flags` can reach an address of every kind we have:
   * then every contact we hold (our contacts' addresses are of our transports' kinds) is reachable by it.
   */
  reachableByAll(flags: number): boolean {
    for (const t of this.#transports.values()) if ((t.speaks & flags) === 0) return false;
    return true;
  }

  /**
   * Where others can reach a peer, from the SPEAKS_* flags of its message that came from `from`:
   * each of our transports whose flag it set says how the peer is addressed on it. A private link
   * (the WebSocket to the signaling server) is never among them.
   */
  advertisedAddresses(flags: number, id: NodeId, from: PeerAddress): PeerAddress[] {
    const out: PeerAddress[] = [];
    for (const t of this.#transports.values()) {
      const address = t.speaks & flags ? t.addressOf(id, from) : undefined;
      if (address) out.push(address);
    }
    // An exact-size copy: a routing-table contact keeps this list for good, and the array `push`
    // grew has room for 17 (~150 bytes more per contact).
    return out.slice();
  }

  /** Whether `addr` is reached through signaling (its transport opens links on demand, e.g. WebRTC). */
  needsSignaling(addr: PeerAddress): boolean {
    return this.#transports.get(addr.kind)?.attachSignaling !== undefined;
  }

  ipOf(addr: PeerAddress): string | undefined {
    return this.#transports.get(addr.kind)?.ipOf(addr);
  }

  format(addr: PeerAddress): string {
    return this.#transports.get(addr.kind)?.format(addr) ?? addressKey(addr);
  }

  /**
   * Whether `addr` has proven it receives there: it answered a request of ours (we hold its
   * token), or a key was verified at it.
   */
  receivesAt(addr: PeerAddress): boolean {
    return this.#tokens.holdsFor(addr) || this.#verified.has(peerKey(addr));
  }

  isVerified(id: NodeId, addr: PeerAddress): boolean {
    const verified = this.#verified.peek(peerKey(addr));
    return verified !== undefined && verified === idKey(id);
  }

  /**
   * A fresh request ID from a pool of CSPRNG bytes (one call to the generator per 512 requests:
   * the per-call cost of the generator dwarfs 8 bytes of output).
   */
  #randomId(): Uint8Array {
    if (this.#randomAt + REQUEST_ID_BYTES > this.#random.length) {
      this.#random = this.#options.crypto.randomBytes(RANDOM_POOL_BYTES);
      this.#randomAt = 0;
    }
    const id = this.#random.subarray(this.#randomAt, this.#randomAt + REQUEST_ID_BYTES);
    this.#randomAt += REQUEST_ID_BYTES;
    return id;
  }

  /** Sends a request and resolves with the first acceptable reply; retries lost datagrams. */
  request(to: PeerAddress, body: Body, options: RequestOptions = {}): Promise<Reply> {
    if (this.#closed) return Promise.reject(SpydhtError.closed());
    if (options.signal?.aborted) return Promise.reject(SpydhtError.aborted(options.signal.reason));
    if (!REQUEST_TYPES.has(body.type)) return Promise.reject(SpydhtError.invalidArgument('not a request type'));
    const transport = this.#transports.get(to.kind);
    if (!transport) return Promise.reject(SpydhtError.invalidArgument(`no transport for address kind ${to.kind}`));
    if (this.#pending.size >= this.#maxPending) {
      this.#count('pendingFull');
      return Promise.reject(new SpydhtError('TOO_MANY_PENDING', `more than ${this.#maxPending} requests in flight`));
    }

    let requestId: Uint8Array;
    do requestId = this.#randomId();
    while (this.#pending.has(requestKey(requestId)));
    const wantAuth = options.expectId === undefined || (!this.isVerified(options.expectId, to) && this.#options.wantsProof?.(options.expectId) !== false);
    const attempts = Math.max(1, options.attempts ?? 2);
    const budgets = options.sendBudget && !this.receivesAt(to) ? options.sendBudget : undefined;
    const toKey = peerKey(to);
    const unproven = (budgets !== undefined || options.triggered === true) && !this.receivesAt(to);
    const allowance = !unproven ? Infinity : budgets ? budgetLeft(budgets) : this.#ledger.available(toKey);
    // A HELLO owed to this peer rides here: the request carries our key's proof (AUTH trailer)
    // and, echoing its token, our address's; the peer checks it as it would the HELLO. Every
    // request body leaves room for the trailer (each type's caps do). Without a token held for
    // the peer it stays owed: the hold's release sends the HELLO (which needs the token too).
    const owed = this.#owedHellos.get(toKey);
    const proving = owed !== undefined && this.#tokens.echoFor(to) !== undefined && !unproven;
    // Padding leaves room in the allowance for every transmission, so a lost datagram is still
    // retried; a peer that answers gives back what it cost (see #onReply).
    const unsigned = this.#encodeRequest(to, body, requestId, wantAuth, (options.flags ?? 0) | (proving ? Flags.AUTH : 0), Math.floor(allowance / attempts));
    if (owed && proving) {
      this.#owedHellos.delete(toKey);
      owed.owed.delete(toKey);
      this.#hellos.set(toKey, this.#options.clock.now());
      this.#count('hellosPiggybacked');
    }
    const reqKey = requestKey(requestId);

    return new Promise<Reply>((resolve, reject) => {
      const signal = options.signal;
      const unwatch = signal
        ? onAbort(signal, () => {
            const p = this.#pending.get(reqKey);
            if (p) this.#finish(reqKey, p, undefined, SpydhtError.aborted(signal.reason));
          })
        : () => {};
      const pending: Pending = {
        type: body.type,
        requestId,
        to,
        toKey,
        expectId: options.expectId,
        wantAuth,
        bytes: unsigned,
        sentAt: this.#options.clock.now(),
        attemptsLeft: attempts,
        retried: false,
        onSlow: options.onSlow,
        budgets,
        charged: budgets?.map(() => 0),
        triggered: options.triggered === true,
        holdHello: options.holdHello,
        cancelTimer: () => {},
        resolve,
        reject,
        cleanup: unwatch,
      };
      this.#pending.set(reqKey, pending);
      const start = (): void => {
        // A link still being opened (WebRTC) delays the first datagram: wait for that too.
        const rto = Math.max(this.rtt.rto(toKey), options.minTimeoutMs ?? 0);
        this.#transmit(reqKey, pending, rto + (transport.connectDelay?.(to) ?? 0));
      };
      if (!proving) return start();
      this.#options.identity.sign(unsigned).then(
        (signature) => {
          // Aborted, closed or answered (a duplicate ID cannot be) while we signed: nothing to send.
          if (this.#pending.get(reqKey) !== pending) return;
          pending.bytes = appendAuth(unsigned, this.#options.identity.publicKey, signature);
          start();
        },
        (err: unknown) => {
          if (this.#pending.get(reqKey) === pending) this.#finish(reqKey, pending, undefined, err);
        },
      );
    });
  }

  /** A hold for the HELLOs of one operation's requests (RequestOptions.holdHello). */
  holdHellos(): HelloHold {
    return new HelloHold();
  }

  /** Runs `operation` with a hold of its own (holdHellos), released however it ends. */
  async withHeldHellos<T>(operation: (hold: HelloHold) => Promise<T>): Promise<T> {
    const hold = this.holdHellos();
    try {
      return await operation(hold);
    } finally {
      this.releaseHellos(hold);
    }
  }

  /** Sends the HELLOs `hold` still owes: no request of ours carried them. */
  releaseHellos(hold: HelloHold): void {
    for (const [key, to] of hold.owed) {
      if (this.#owedHellos.get(key) === hold) this.#owedHellos.delete(key);
      void this.#sendHello(to, key);
    }
    hold.owed.clear();
    hold.released = true;
  }

  #encodeRequest(to: PeerAddress, body: Body, requestId: Uint8Array, wantAuth: boolean, extraFlags: number, maxBytes: number): Uint8Array {
    const token = this.#tokens.echoFor(to);
    let flags = this.#flags | extraFlags;
    if (wantAuth) flags |= Flags.WANT_AUTH;
    if (this.#options.client) flags |= Flags.CLIENT;
    const header = { networkId: this.#options.networkId, flags, requestId, senderId: this.#options.identity.id, token: token ?? ZERO_TOKEN };
    if ('pad' in body) {
      // Pad only when we hold no token: the pad buys a full-size reply from a peer that cannot
      // yet tell our address is real.
      const unpadded = encodeMessage({ ...header, ...body, pad: 0 } as Message);
      const want = body.type === MessageType.PING ? UNTOKENED_PING_BYTES : UNTOKENED_LOOKUP_BYTES;
      const pad = token ? 0 : Math.max(0, Math.min(want, maxBytes) - unpadded.length);
      return pad === 0 ? unpadded : encodeMessage({ ...header, ...body, pad } as Message);
    }
    return encodeMessage({ ...header, ...body } as Message);
  }

  #transmit(reqKey: number, p: Pending, timeout: number): void {
    if (!this.#mayTransmit(p)) {
      // Nothing more may go there: a first attempt fails at once, a retry waits out its timeout.
      if (!p.retried) {
        this.#finish(reqKey, p, undefined, new SpydhtError('OVER_BUDGET', `not sending to ${this.format(p.to)}: it has not proven it receives there`));
        return;
      }
      p.attemptsLeft = 0;
    } else {
      this.#send(p.to, p.bytes);
    }
    p.attemptsLeft--;
    p.cancelTimer = this.#options.timers.after(timeout, () => {
      if (this.#pending.get(reqKey) !== p) return;
      if (p.attemptsLeft <= 0) {
        this.#count('timeouts');
        this.#finish(reqKey, p, undefined, SpydhtError.timeout(`request to ${this.format(p.to)}`));
        return;
      }
      this.#count('retries');
      p.retried = true;
      const slow = p.onSlow;
      p.onSlow = undefined;
      this.#transmit(reqKey, p, timeout * 2);
      slow?.();
    });
  }

  /** Pays a transmission toward an address not proven to receive, from the budget it draws on. */
  #mayTransmit(p: Pending): boolean {
    if (!p.budgets && !p.triggered) return true;
    if (this.receivesAt(p.to)) return true;
    const n = p.bytes.length;
    if (p.budgets) {
      if (budgetLeft(p.budgets) < n) return this.#refuse('reflectionLimited');
      let due = n;
      p.budgets.forEach((b, i) => {
        const take = Math.min(b.left, due);
        b.left -= take;
        p.charged![i]! += take;
        due -= take;
      });
    }
    if (p.triggered && !this.#ledger.spend(p.toKey, n)) return this.#refuse('droppedAmplification');
    return true;
  }

  #refuse(counter: string): false {
    this.#count(counter);
    return false;
  }

  #finish(reqKey: number, p: Pending, reply: Reply | undefined, error?: unknown): void {
    this.#pending.delete(reqKey);
    p.cancelTimer();
    p.cleanup();
    if (reply) p.resolve(reply);
    else p.reject(error);
  }

  #send(to: PeerAddress, bytes: Uint8Array): void {
    const t = this.#transports.get(to.kind);
    if (!t || this.#closed) return;
    this.#count('sent');
    this.#options.onTraffic?.({ direction: 'out', type: bytes[5] ?? 0, peer: to, bytes: bytes.length });
    t.send(to, bytes);
  }

  #count(what: string): void {
    this.stats[what] = (this.stats[what] ?? 0) + 1;
  }

  #onDatagram(data: Uint8Array, from: PeerAddress): void {
    if (this.#closed) return;
    this.#count('received');
    const decoded = decodeMessage(data, this.#options.networkId);
    if (!decoded.ok) {
      this.#count(decoded.error.code === 'WRONG_NETWORK' ? 'droppedWrongNetwork' : 'droppedMalformed');
      return;
    }
    const message = decoded.message;
    if (equalBytes(message.senderId, this.#options.identity.id)) return this.#count('droppedFromSelf');
    this.#options.onTraffic?.({ direction: 'in', type: message.type, peer: from, bytes: data.length });
    const handling =
      message.type === MessageType.HELLO
        ? this.#onHello(message, from)
        : REQUEST_TYPES.has(message.type)
          ? this.#onRequest(message, from, data.length)
          : this.#onReply(message, from, data.length);
    // Handlers catch their own errors; this is the last line so a bug can never become an unhandled rejection.
    handling.catch(() => this.#count('handlerErrors'));
  }

  async #onReply(message: Message, from: PeerAddress, size: number): Promise<void> {
    const reqKey = requestKey(message.requestId);
    const p = this.#pending.get(reqKey);
    if (!p || !equalBytes(p.requestId, message.requestId)) return this.#count('droppedUnmatched');
    // A reply must come from the address asked and the node asked, or it is someone else's guess.
    if (peerKey(from) !== p.toKey) return this.#count('droppedWrongSource');
    if (p.expectId && !equalBytes(message.senderId, p.expectId)) return this.#count('droppedWrongSender');
    if (!REPLY_TO[p.type]?.includes(message.type)) return this.#count('droppedWrongType');
    this.#tokens.remember(from, message.token);
    // It answered our request ID at that address: it receives there, so what the reflection
    // budgets paid for it goes back to them (only a silent address keeps what it cost).
    if (p.budgets) {
      p.budgets.forEach((b, i) => (b.left += p.charged![i]!));
      p.budgets = undefined;
    }

    let verified = this.isVerified(message.senderId, from);
    if (p.wantAuth || (!verified && message.auth)) {
      if (!(await this.#verifyAuth(message))) return this.#count('droppedBadAuth');
      verified = true;
      this.#verified.set(p.toKey, idKey(message.senderId));
      this.#transports.get(from.kind)?.peerVerified?.(from);
    }
    if (this.#pending.get(reqKey) !== p) return; // a duplicate finished it while we verified
    const rtt = this.#options.clock.now() - p.sentAt;
    if (!p.retried) this.rtt.sample(p.toKey, rtt); // Karn: a retried request's RTT is ambiguous
    const reply: Reply = { message, from, rtt, verified, size };
    this.#options.onReply?.(reply);
    this.#finish(reqKey, p, reply);
    if (verified && !(message.flags & Flags.CLIENT)) this.#options.onVerifiedReply?.(reply);
    if (message.flags & Flags.ROOM && !this.#options.client) {
      if (p.holdHello && !p.holdHello.released) this.#holdHello(p.holdHello, from, p.toKey);
      else void this.#sendHello(from, p.toKey);
    }
  }

  /** Owes `to` a HELLO in `hold` (unless one went there lately): see RequestOptions.holdHello. */
  #holdHello(hold: HelloHold, to: PeerAddress, toKey: PeerKey): void {
    if (this.#options.clock.now() - (this.#hellos.peek(toKey) ?? -Infinity) < HELLO_MIN_GAP_MS) return;
    // Bounded: the oldest owed HELLO goes out now rather than wait for its hold's release.
    if (!this.#owedHellos.has(toKey) && this.#owedHellos.size >= MAX_OWED_HELLOS) {
      const [oldest, oldestHold] = this.#owedHellos.entries().next().value!;
      const address = oldestHold.owed.get(oldest);
      this.#owedHellos.delete(oldest);
      oldestHold.owed.delete(oldest);
      if (address) void this.#sendHello(address, oldest);
    }
    this.#owedHellos.get(toKey)?.owed.delete(toKey);
    hold.owed.set(toKey, to);
    this.#owedHellos.set(toKey, hold);
  }

  /** Asks to be added, proving our key (signature) and our address (the token the peer just gave us). */
  async #sendHello(to: PeerAddress, toKey: PeerKey): Promise<void> {
    const now = this.#options.clock.now();
    if (now - (this.#hellos.peek(toKey) ?? -Infinity) < HELLO_MIN_GAP_MS) return;
    const token = this.#tokens.echoFor(to);
    if (!token) return;
    this.#hellos.set(toKey, now);
    // Set in time order: what is older than the gap decides nothing any more.
    this.#hellos.dropOldestWhile((at) => now - at >= HELLO_MIN_GAP_MS);
    const header = {
      networkId: this.#options.networkId,
      flags: this.#flags | Flags.AUTH,
      requestId: this.#randomId(),
      senderId: this.#options.identity.id,
      token,
    };
    const unsigned = encodeMessage({ ...header, type: MessageType.HELLO });
    const bytes = appendAuth(unsigned, this.#options.identity.publicKey, await this.#options.identity.sign(unsigned));
    if (this.#closed) return;
    this.#count('hellosSent');
    this.#send(to, bytes);
  }

  /** A HELLO: cheap checks first (rate limit, token: one HMAC), then the signature. */
  async #onHello(message: Message, from: PeerAddress): Promise<void> {
    if (this.#options.client || message.flags & Flags.CLIENT) return this.#count('droppedHello');
    const ip = this.ipOf(from) ?? addressKey(from);
    if (!this.#options.limits.admitRequest(ip)) return this.#count('droppedRateLimited');
    if (!this.#tokens.isValid(from, message.token)) return this.#count('droppedHelloToken');
    // The token proved the address: a signature check now costs a real IP its own budget.
    if (!this.#options.limits.admitVerification(ip)) return this.#count('droppedVerifyLimited');
    if (!(await this.#verifyAuth(message))) return this.#count('droppedBadAuth');
    this.#proven(message, from);
  }

  /** A HELLO's proofs checked out (its token proved the address, its trailer the key): a table candidate. */
  #proven(message: Message, from: PeerAddress): void {
    if (this.#closed) return;
    this.#verified.set(peerKey(from), idKey(message.senderId));
    this.#transports.get(from.kind)?.peerVerified?.(from);
    this.#count('hellosReceived');
    this.#options.onHello?.({ message, from, rtt: 0, verified: true, size: 0 });
  }

  /**
   * A request carrying a HELLO's proof (RequestOptions.holdHello) whose token proved its address:
   * checked as that HELLO would be, only when we would add its sender. False if the proof is
   * forged: the request is dropped with it.
   */
  async #requestProof(message: Message, from: PeerAddress, ip: string): Promise<boolean> {
    if (this.#options.client || message.flags & Flags.CLIENT || this.isVerified(message.senderId, from)) return true;
    if (this.#options.admits?.(message, from) !== true) return true;
    if (!this.#options.limits.admitVerification(ip)) {
      this.#count('droppedVerifyLimited');
      return true;
    }
    if (!(await this.#verifyAuth(message))) return false;
    this.#proven(message, from);
    return true;
  }

  async #verifyAuth(message: Message): Promise<boolean> {
    const auth = message.auth;
    if (!auth) return false;
    if (!equalBytes(idFromPublicKey(this.#options.crypto, auth.publicKey), message.senderId)) return false;
    if (!solvesIdPuzzle(this.#options.crypto, message.senderId, this.#options.idDifficulty)) return false;
    return this.#options.crypto.verify(auth.publicKey, auth.signed, auth.signature);
  }

  async #onRequest(message: Message, from: PeerAddress, size: number): Promise<void> {
    if (this.#options.client) return this.#count('droppedRequestAsClient');
    const ip = this.ipOf(from) ?? addressKey(from);
    if (!this.#options.limits.admitRequest(ip)) return this.#count('droppedRateLimited');
    // One hash: IDs that do not solve the puzzle are not part of this network.
    if (!solvesIdPuzzle(this.#options.crypto, message.senderId, this.#options.idDifficulty)) return this.#count('droppedBadId');
    const tokenValid = this.#tokens.isValid(from, message.token);
    const fromKey = peerKey(from);
    // Without a valid token, the address may be forged: the reply is paid from its ≤ 3× credit.
    if (!tokenValid) this.#ledger.received(fromKey, size);
    else this.#ledger.forget(fromKey);
    // Checked before we serve it, so our reply no longer offers ROOM to a sender just admitted.
    if (message.auth && tokenValid && !(await this.#requestProof(message, from, ip))) return this.#count('droppedBadAuth');
    // A signature costs us ~50 µs of CPU: strangers get a bounded number per IP and prefix, and
    // beyond it an unsigned reply (a lookup needs none; only a table candidate does).
    let signReply = (message.flags & Flags.WANT_AUTH) !== 0;
    if (signReply && !this.#options.limits.admitSignature(ip)) {
      this.#count('unsignedOverBudget');
      signReply = false;
    }
    const total = tokenValid ? MAX_MESSAGE_BYTES : Math.min(MAX_MESSAGE_BYTES, this.#ledger.available(fromKey));
    const bodyBudget = total - HEADER_BYTES - (signReply ? AUTH_BYTES : 0);

    let body: Body | undefined;
    try {
      body = await this.#options.onRequest({ message, from, ip, tokenValid, bodyBudget });
    } catch {
      return this.#count('handlerErrors');
    }
    if (!body || this.#closed) return;
    const room = !(message.flags & Flags.CLIENT) && this.#options.admits?.(message, from) === true;
    const header = {
      networkId: this.#options.networkId,
      flags: (signReply ? Flags.AUTH : 0) | (room ? Flags.ROOM : 0) | this.#flags,
      requestId: message.requestId,
      senderId: this.#options.identity.id,
      token: this.#tokens.issue(from),
    };
    let bytes = encodeMessage({ ...header, ...body } as Message);
    if (signReply) bytes = appendAuth(bytes, this.#options.identity.publicKey, await this.#options.identity.sign(bytes));
    if (bytes.length > total) return this.#count('droppedOverBudget');
    if (!tokenValid && !this.#ledger.spend(fromKey, bytes.length)) return this.#count('droppedOverBudget');
    this.#count('served');
    this.#send(from, bytes);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#owedHellos.clear();
    for (const [key, p] of [...this.#pending]) this.#finish(key, p, undefined, SpydhtError.closed());
    for (const t of this.#transports.values()) t.onDatagram = undefined;
  }
}

/** The first 6 of the request ID's 8 random bytes, as a number: a cheap map key. */
function requestKey(id: Uint8Array): number {
  return ((id[0]! << 8) | id[1]!) * 2 ** 32 + (((id[2]! << 24) >>> 0) + ((id[3]! << 16) | (id[4]! << 8) | id[5]!));
}

/** Bytes left in a set of send budgets. */
export function budgetLeft(budgets: readonly SendBudget[]): number {
  let sum = 0;
  for (const b of budgets) sum += b.left;
  return sum;
}

/**
 * The size of a FIND_NODE or FIND_VALUE without padding: the least a lookup query costs, and so
 * what a reflection budget must hold (twice, for a retry) before the query is worth launching.
 */
export const UNPADDED_LOOKUP_BYTES = encodeMessage({
  networkId: new Uint8Array(4),
  flags: 0,
  requestId: new Uint8Array(REQUEST_ID_BYTES),
  senderId: new Uint8Array(32),
  token: ZERO_TOKEN,
  type: MessageType.FIND_NODE,
  target: new Uint8Array(32),
  pad: 0,
}).length;

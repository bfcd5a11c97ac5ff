/**
 * Address-validation tokens (like QUIC's and BEP 5's): every reply carries a short MAC of the
 * requester's address; a request that echoes a valid one proves the requester receives at that
 * address, so it may get a full-size reply. Without one, replies are capped at a small multiple
 * of the request size: a spoofed-source request cannot be turned into an amplification attack.
 */
import type { CryptoBackend } from '../crypto/backend.js';
import { equalBytes } from '../bytes.js';
import { LruMap } from '../lru.js';
import { peerKey, type PeerAddress, type PeerKey } from '../wire/address.js';
import { TOKEN_BYTES } from '../wire/messages.js';

/** Secrets rotate this often; a token stays valid for one to two periods. */
export const TOKEN_ROTATE_MS = 5 * 60_000;
const MAX_REMEMBERED_TOKENS = 4096;
const ZERO_TOKEN = new Uint8Array(TOKEN_BYTES);

export class AddressTokens {
  #current: Uint8Array;
  #previous: Uint8Array;
  /** Tokens peers gave us, to echo in our next request to them. */
  /** As 8-character strings (one char per byte): a string is a fraction of a Uint8Array's size. */
  readonly #received = new LruMap<PeerKey, string>(MAX_REMEMBERED_TOKENS);
  #lastKey: PeerKey | undefined;
  #lastToken: Uint8Array = ZERO_TOKEN;

  constructor(private readonly crypto: CryptoBackend) {
    this.#current = crypto.randomBytes(32);
    this.#previous = crypto.randomBytes(32);
  }

  rotate(): void {
    this.#previous = this.#current;
    this.#current = this.crypto.randomBytes(32);
    this.#lastKey = undefined;
  }

  issue(addr: PeerAddress): Uint8Array {
    return this.#currentMac(addr);
  }

  isValid(addr: PeerAddress, token: Uint8Array): boolean {
    if (equalBytes(token, ZERO_TOKEN)) return false;
    return equalBytes(token, this.#currentMac(addr)) || equalBytes(token, this.#mac(this.#previous, addr));
  }

  /**
   * The current token of `addr`, remembered for the last address asked: a request checks the token
   * it echoes and its reply issues one to the same address, so one HMAC serves both.
   */
  #currentMac(addr: PeerAddress): Uint8Array {
    const key = peerKey(addr);
    if (key !== this.#lastKey) {
      this.#lastToken = this.#mac(this.#current, addr);
      this.#lastKey = key;
    }
    return this.#lastToken;
  }

  remember(addr: PeerAddress, token: Uint8Array): void {
    if (!equalBytes(token, ZERO_TOKEN)) this.#received.set(peerKey(addr), String.fromCharCode(...token));
  }

  /** The token to echo to `addr`, or undefined when we have none. */
  echoFor(addr: PeerAddress): Uint8Array | undefined {
    const token = this.#received.get(peerKey(addr));
    if (token === undefined) return undefined;
    const out = new Uint8Array(token.length);
    for (let i = 0; i < token.length; i++) out[i] = token.charCodeAt(i);
    return out;
  }

  /** Whether we hold a token from `addr` (it answered us there): echoFor without building the bytes. */
  holdsFor(addr: PeerAddress): boolean {
    return this.#received.has(peerKey(addr));
  }

  /** HMAC over the address's kind byte and data bytes. */
  #mac(secret: Uint8Array, addr: PeerAddress): Uint8Array {
    const input = new Uint8Array(1 + addr.data.length);
    input[0] = addr.kind;
    input.set(addr.data, 1);
    return this.crypto.hmacSha256(secret, input).slice(0, TOKEN_BYTES);
  }
}

export { ZERO_TOKEN };

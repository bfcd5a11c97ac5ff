/**
 * The bridge side of PROXY (PROTOCOL.md §12): a full member that speaks what its clients cannot
 * (WebRTC) runs a whole get or put for a client and answers with the outcome. At most
 * MAX_PROXY_OPERATIONS run at once, and each request runs once: the client retransmits while we
 * work, and duplicates get no reply.
 */
import { lookupValue } from '../ops/get.js';
import { PROXY_TIMEOUT_MS } from '../ops/bridge.js';
import { nowSeconds, type OpContext } from '../ops/context.js';
import type { OperationOptions } from '../ops/operations.js';
import { replicate } from '../ops/put.js';
import type { IncomingRequest } from '../rpc/rpc.js';
import { validateRecord } from '../storage/record.js';
import { addressKey } from '../wire/address.js';
import { toHex } from '../bytes.js';
import { MessageType, StoreStatus, type Body, type WireRecord } from '../wire/messages.js';

/** A bridge runs at most this many client operations at once. */
const MAX_PROXY_OPERATIONS = 32;

/** Runs an operation under a deadline that close() also ends (Operations.run). */
export type RunOperation = <T>(options: OperationOptions, fn: (signal: AbortSignal) => Promise<T>) => Promise<T>;

export class ProxyServer {
  readonly #ctx: OpContext;
  readonly #run: RunOperation;
  /** Requests being served ("address/requestId"), bounded by MAX_PROXY_OPERATIONS. */
  readonly #running = new Set<string>();

  constructor(ctx: OpContext, run: RunOperation) {
    this.#ctx = ctx;
    this.#run = run;
  }

  /** Answers a FIND_VALUE or STORE that carries the PROXY flag; undefined: no reply. */
  async serve(req: IncomingRequest): Promise<Body | undefined> {
    const m = req.message;
    if (this.#ctx.client || this.#running.size >= MAX_PROXY_OPERATIONS) return undefined;
    const dedupe = `${addressKey(req.from)}/${toHex(m.requestId)}`;
    if (this.#running.has(dedupe)) return undefined;
    this.#running.add(dedupe);
    this.#ctx.count('proxied');
    try {
      if (m.type === MessageType.FIND_VALUE) return await this.#get(m.key, req.tokenValid);
      if (m.type === MessageType.STORE) return await this.#put(m.record);
      return undefined;
    } finally {
      this.#running.delete(dedupe);
    }
  }

  async #get(key: Uint8Array, tokenValid: boolean): Promise<Body> {
    const ctx = this.#ctx;
    const record =
      ctx.store.get(key, nowSeconds(ctx)) ??
      (await this.#run({ timeoutMs: PROXY_TIMEOUT_MS }, (signal) => lookupValue(ctx, key, signal)).then(
        (r) => r.value,
        () => undefined,
      ));
    if (record && tokenValid) return { type: MessageType.VALUE, record };
    return { type: MessageType.NODES, valueWithheld: record !== undefined, contacts: [] };
  }

  async #put(record: WireRecord): Promise<Body> {
    const ctx = this.#ctx;
    const check = await validateRecord(ctx.crypto, ctx.rules, record, nowSeconds(ctx));
    if (!check.ok) return { type: MessageType.STORE_ACK, status: StoreStatus.INVALID };
    // replicate() throws unless more than one distinct node confirmed.
    const stored = await this.#run({ timeoutMs: PROXY_TIMEOUT_MS }, (signal) => replicate(ctx, record, signal)).then(
      () => true,
      () => false,
    );
    return { type: MessageType.STORE_ACK, status: stored ? StoreStatus.STORED : StoreStatus.FULL };
  }
}

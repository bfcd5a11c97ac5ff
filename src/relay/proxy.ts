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
import { getMutable, storeOnClosest, tallyStatus } from '../ops/mutable.js';
import { replicate } from '../ops/put.js';
import type { RequestLimits } from '../rpc/limits.js';
import type { IncomingRequest } from '../rpc/rpc.js';
import { compareSummaries, summaryOf, validateMutableRecord } from '../storage/mutable-record.js';
import { validateRecord } from '../storage/record.js';
import { addressKey } from '../wire/address.js';
import { toHex } from '../bytes.js';
import { MessageType, StoreStatus, type Body, type WireRecord } from '../wire/messages.js';
import { MutableStoreStatus, RECORD_TAG_BYTES, type MutableSummary, type WireMutableRecord } from '../wire/mutable.js';

/** A bridge runs at most this many client operations at once. */
const MAX_PROXY_OPERATIONS = 32;

/** Runs an operation under a deadline that close() also ends (Operations.run). */
export type RunOperation = <T>(options: OperationOptions, fn: (signal: AbortSignal) => Promise<T>) => Promise<T>;

export class ProxyServer {
  readonly #ctx: OpContext;
  readonly #run: RunOperation;
  readonly #limits: RequestLimits;
  /** Requests being served ("address/requestId"), bounded by MAX_PROXY_OPERATIONS. */
  readonly #running = new Set<string>();

  constructor(ctx: OpContext, run: RunOperation, limits: RequestLimits) {
    this.#ctx = ctx;
    this.#run = run;
    this.#limits = limits;
  }

  /**
   * Answers a FIND_VALUE, STORE, FIND_MUTABLE or STORE_MUTABLE that carries the PROXY flag;
   * undefined: no reply. Only for a client that proved its address (it echoed our token: a forged
   * source cannot make us fan out a lookup), and each operation costs it a write from its IP's and
   * prefix's budget, as a STORE does.
   */
  async serve(req: IncomingRequest): Promise<Body | undefined> {
    const m = req.message;
    if (this.#ctx.client || this.#running.size >= MAX_PROXY_OPERATIONS) return undefined;
    if (!req.tokenValid) return this.#refuse('proxyUnproven');
    if (!this.#limits.admitWrite(req.ip)) return this.#refuse('proxyRateLimited');
    const dedupe = `${addressKey(req.from)}/${toHex(m.requestId)}`;
    if (this.#running.has(dedupe)) return undefined;
    this.#running.add(dedupe);
    this.#ctx.count('proxied');
    try {
      if (m.type === MessageType.FIND_VALUE) return await this.#get(m.key);
      if (m.type === MessageType.STORE) return await this.#put(m.record);
      if (m.type === MessageType.FIND_MUTABLE) return await this.#getMutable(m.key, m.known, req.tokenValid);
      if (m.type === MessageType.STORE_MUTABLE) return await this.#putMutable(m.record, m.cas);
      return undefined;
    } finally {
      this.#running.delete(dedupe);
    }
  }

  #refuse(counter: 'proxyUnproven' | 'proxyRateLimited'): undefined {
    this.#ctx.count(counter);
    return undefined;
  }

  async #get(key: Uint8Array): Promise<Body> {
    const ctx = this.#ctx;
    const record =
      ctx.store.get(key, nowSeconds(ctx)) ??
      (await this.#run({ timeoutMs: PROXY_TIMEOUT_MS }, (signal) => lookupValue(ctx, key, signal)).then(
        (r) => r.value,
        () => undefined,
      ));
    if (record) return { type: MessageType.VALUE, record };
    return { type: MessageType.NODES, valueWithheld: false, contacts: [] };
  }

  /** A whole mutable get (with its read repair) for a client; the record only if newer than the client's. */
  async #getMutable(key: Uint8Array, known: MutableSummary | undefined, tokenValid: boolean): Promise<Body> {
    const ctx = this.#ctx;
    const found = await this.#run({ timeoutMs: PROXY_TIMEOUT_MS }, (signal) => getMutable(ctx, key, signal)).catch(() => undefined);
    const record = found?.newest;
    if (!record) return { type: MessageType.NODES, valueWithheld: false, contacts: [] };
    if (known && compareSummaries(summaryOf(record), known) <= 0) return { type: MessageType.MUTABLE_VALUE, summary: summaryOf(record), contacts: [] };
    if (tokenValid) return { type: MessageType.MUTABLE_VALUE, record, contacts: [] };
    return { type: MessageType.NODES, valueWithheld: true, contacts: [] };
  }

  /** Validates a client's mutable record, stores it at every location of its key (with its `cas`) and answers with the outcome. */
  async #putMutable(record: WireMutableRecord, cas: number | undefined): Promise<Body> {
    const ctx = this.#ctx;
    if (!(await validateMutableRecord(ctx.crypto, ctx.rules, record, nowSeconds(ctx))).ok) {
      return { type: MessageType.STORE_MUTABLE_ACK, status: MutableStoreStatus.INVALID, held: undefined };
    }
    const tally = await this.#run({ timeoutMs: PROXY_TIMEOUT_MS }, (signal) => storeOnClosest(ctx, record, cas, signal)).catch(() => undefined);
    if (!tally) return { type: MessageType.STORE_MUTABLE_ACK, status: MutableStoreStatus.FULL, held: undefined };
    // The tag is unknown here (several holders answered): the seq is what the client needs.
    const held = tally.highestHeld === undefined ? undefined : { seq: tally.highestHeld, tag: new Uint8Array(RECORD_TAG_BYTES) };
    return { type: MessageType.STORE_MUTABLE_ACK, status: tallyStatus(tally, cas), held };
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

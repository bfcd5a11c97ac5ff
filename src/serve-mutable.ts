/**
 * Answers FIND_MUTABLE and STORE_MUTABLE (PROTOCOL.md §15). A FIND_MUTABLE says which copy the
 * asker has: a holder sends its record only when it is preferred to that copy, else a 17-byte
 * summary, so a get that asks all k holders pays for the record once, not k times. Every record
 * is validated completely before the store sees it.
 */
import type { Clock } from './clock.js';
import type { CryptoBackend } from './crypto/backend.js';
import type { RequestLimits } from './rpc/limits.js';
import type { IncomingRequest } from './rpc/rpc.js';
import { compareSummaries, mutableSize, summaryOf, validateMutableRecord } from './storage/mutable-record.js';
import type { MutableStore } from './storage/mutable-store.js';
import type { RecordRules } from './storage/record.js';
import { MessageType, type Body, type WireContact } from './wire/messages.js';
import { MutableStoreStatus, type MutableSummary, type WireMutableRecord } from './wire/mutable.js';

/** Fixed bytes of a mutable record on the wire besides salt and content. */
export const MUTABLE_RECORD_OVERHEAD = 32 + 32 + 1 + 8 + 1 + 2 + 4 + 64 + 8;
/** A MUTABLE_VALUE body besides its value: the form byte and the contact count. */
const VALUE_BODY_BASE = 2;
const SUMMARY_BYTES = 16;

export interface MutableResponderOptions {
  crypto: CryptoBackend;
  rules: RecordRules;
  store: MutableStore;
  limits: RequestLimits;
  clock: Clock;
  count: (what: string) => void;
  /** This node is plausibly among the holders of some replica location of `key` (storage/placement.ts). */
  responsible: (key: Uint8Array) => boolean;
  /** Contacts closest to `target` that the asker can reach, within `budget` bytes (serve.ts). */
  contactsFor: (target: Uint8Array, req: IncomingRequest, budget: number) => WireContact[];
  /** A record arrived that replaced what was held (or filled an empty key). */
  onStored?: (key: Uint8Array) => void;
  /** A deletion replaced a live copy held here. */
  onDeleted?: (key: Uint8Array) => void;
}

export class MutableResponder {
  readonly #o: MutableResponderOptions;

  constructor(options: MutableResponderOptions) {
    this.#o = options;
  }

  async respond(req: IncomingRequest): Promise<Body | undefined> {
    const m = req.message;
    if (m.type === MessageType.FIND_MUTABLE) return this.#find(req, m.key, m.known);
    if (m.type === MessageType.STORE_MUTABLE) return this.#store(req, m.cas, m.record);
    return undefined;
  }

  #find(req: IncomingRequest, key: Uint8Array, known: MutableSummary | undefined): Body {
    const held = this.#o.store.get(key, this.#nowSeconds());
    if (!held) return { type: MessageType.NODES, valueWithheld: false, contacts: this.#o.contactsFor(key, req, req.bodyBudget) };
    const summary = summaryOf(held);
    if (known && compareSummaries(summary, known) <= 0) {
      return { type: MessageType.MUTABLE_VALUE, summary, contacts: this.#o.contactsFor(key, req, req.bodyBudget - VALUE_BODY_BASE - SUMMARY_BYTES) };
    }
    const size = VALUE_BODY_BASE + MUTABLE_RECORD_OVERHEAD + mutableSize(held);
    // Within the budget (an unproven address gets 3× its request) the record goes now; else the
    // asker learns we hold a newer copy and fetches it with the token of this reply.
    if (size > req.bodyBudget) return { type: MessageType.NODES, valueWithheld: true, contacts: this.#o.contactsFor(key, req, req.bodyBudget) };
    return { type: MessageType.MUTABLE_VALUE, record: held, contacts: this.#o.contactsFor(key, req, req.bodyBudget - size) };
  }

  async #store(req: IncomingRequest, cas: number | undefined, record: WireMutableRecord): Promise<Body> {
    const { crypto, rules, store, clock, count } = this.#o;
    const ack = (status: (typeof MutableStoreStatus)[keyof typeof MutableStoreStatus], held?: MutableSummary): Body => ({
      type: MessageType.STORE_MUTABLE_ACK,
      status,
      held,
    });
    if (!this.#o.limits.admitWrite(req.ip)) {
      count('storeRateLimited');
      return ack(MutableStoreStatus.RATE_LIMITED);
    }
    const now = clock.now();
    // Placement before any crypto, as for STORE (serve.ts): one proof of work must not buy room on
    // every node. A node that already holds a copy takes newer versions whatever it counts (they
    // replace that copy in place, and a holder refusing them would keep serving the old one): read
    // repair and hand-over reach it as before.
    if (!store.has(record.key, Math.floor(now / 1000)) && !this.#o.responsible(record.key)) {
      count('mutableNotResponsible');
      this.#o.limits.chargeRefusedWrite(req.ip);
      return ack(MutableStoreStatus.NOT_RESPONSIBLE);
    }
    // Refused whether it is valid or not (an old version, a replay, a cas mismatch): no crypto spent.
    const early = store.refusal(record, cas, now);
    const result = early ?? ((await validateMutableRecord(crypto, rules, record, Math.floor(now / 1000))).ok ? store.put(record, cas, now) : undefined);
    if (!result) {
      count('mutableInvalid');
      return ack(MutableStoreStatus.INVALID);
    }
    if (result.status === MutableStoreStatus.STORED) {
      if (record.deleted && result.replaced && !result.replaced.deleted) this.#o.onDeleted?.(record.key);
      else if (!record.deleted) this.#o.onStored?.(record.key);
    } else if (result.status === MutableStoreStatus.FULL) count('storeFull');
    else if (result.status === MutableStoreStatus.STALE_SEQ || result.status === MutableStoreStatus.DELETED) count('mutableStale');
    else if (result.status === MutableStoreStatus.CAS_MISMATCH) count('mutableCasMismatch');
    return ack(result.status, result.held);
  }

  #nowSeconds(): number {
    return Math.floor(this.#o.clock.now() / 1000);
  }
}

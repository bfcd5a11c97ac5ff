/**
 * Answers requests from other nodes: PING, FIND_NODE, FIND_VALUE, STORE, DELETE. Replies fit the
 * byte budget the RPC layer allows (no amplification toward an unproven address), and nothing
 * from the network is stored or deleted before it is fully validated. Built once per node.
 */
import type { Clock } from './clock.js';
import type { CryptoBackend } from './crypto/backend.js';
import { equalIds } from './id.js';
import type { RequestLimits } from './rpc/limits.js';
import type { IncomingRequest, Rpc } from './rpc/rpc.js';
import type { Contact } from './routing/contact.js';
import type { RoutingTable } from './routing/table.js';
import { responsibleLocations } from './storage/placement.js';
import { validateDeleteProof, validateRecord, type RecordRules } from './storage/record.js';
import type { LocalStore } from './storage/store.js';
import { Writer } from './wire/codec.js';
import {
  DeleteStatus,
  MessageType,
  StoreStatus,
  writeRecord,
  type Body,
  type DeleteStatusCode,
  type StoreStatusCode,
  type WireContact,
} from './wire/messages.js';

export interface ResponderOptions {
  crypto: CryptoBackend;
  rules: RecordRules;
  rpc: Rpc;
  table: RoutingTable;
  store: LocalStore;
  limits: RequestLimits;
  clock: Clock;
  count: (what: string) => void;
  /** A record was stored here at another node's request. */
  onStored?: (key: Uint8Array) => void;
  /** A record held here was deleted by its owner. */
  onDeleted?: (key: Uint8Array) => void;
}

/** A NODES body before its contacts: the valueWithheld byte and the count. */
const NODES_BODY_BASE = 2;

export class Responder {
  readonly #options: ResponderOptions;

  constructor(options: ResponderOptions) {
    this.#options = options;
  }

  async respond(req: IncomingRequest): Promise<Body | undefined> {
    const m = req.message;
    switch (m.type) {
      case MessageType.PING:
        return { type: MessageType.PONG, observed: req.from };
      case MessageType.FIND_NODE:
        return { type: MessageType.NODES, valueWithheld: false, contacts: this.#closestFor(m.target, req) };
      case MessageType.FIND_VALUE:
        return this.#findValue(req, m.key);
      case MessageType.STORE:
        return { type: MessageType.STORE_ACK, status: await this.#store(req) };
      case MessageType.DELETE:
        return this.#delete(req);
      default:
        return undefined;
    }
  }

  /** `#closestFor` within `budget` bytes of body (the rest of a reply that carries a value too). */
  contactsFor(target: Uint8Array, req: IncomingRequest, budget: number): WireContact[] {
    return this.#closestFor(target, { ...req, bodyBudget: budget });
  }

  /**
   * The k closest contacts to `target` that the asker can reach (by the SPEAKS_* flags it sent),
   * never the asker itself, cut to fit the reply budget.
   */
  #closestFor(target: Uint8Array, req: IncomingRequest): WireContact[] {
    const { rpc, table } = this.#options;
    const asker = req.message.senderId;
    const flags = req.message.flags;
    const reachable = (c: Contact): boolean => {
      for (const a of c.addresses) if (rpc.reachableBy(flags, a.kind)) return true;
      return false;
    };
    const out: WireContact[] = [];
    let size = NODES_BODY_BASE;
    // The common case (the asker speaks every transport we do) needs no filter at all.
    const reachesAll = rpc.reachableByAll(flags);
    for (const c of table.closest(target, table.k + 1, reachesAll ? undefined : reachable)) {
      if (equalIds(c.id, asker)) continue;
      // The contact's own list when the asker reaches all of it (the common case: one address); it is only read.
      const all = c.addresses.length <= 4 && (reachesAll || c.addresses.every((a) => rpc.reachableBy(flags, a.kind)));
      const wc: WireContact = { id: c.id, addresses: all ? c.addresses : c.addresses.filter((a) => rpc.reachableBy(flags, a.kind)).slice(0, 4) };
      const s = contactSize(wc);
      if (size + s > req.bodyBudget || out.length >= table.k) break;
      size += s;
      out.push(wc);
    }
    return out;
  }

  #findValue(req: IncomingRequest, key: Uint8Array): Body {
    const record = this.#options.store.get(key, this.#nowSeconds());
    if (record) {
      const w = new Writer();
      writeRecord(w, record);
      // The budget is what keeps a reply to an unproven address small: within it, the value goes now.
      if (w.length <= req.bodyBudget) return { type: MessageType.VALUE, record };
      // Too big for an address not yet proven: say we have it, and the token in this reply lets
      // the asker fetch it at once.
      return { type: MessageType.NODES, valueWithheld: true, contacts: this.#closestFor(key, req) };
    }
    return { type: MessageType.NODES, valueWithheld: false, contacts: this.#closestFor(key, req) };
  }

  async #store(req: IncomingRequest): Promise<StoreStatusCode> {
    if (req.message.type !== MessageType.STORE) return StoreStatus.INVALID;
    const { crypto, rules, store, clock, count } = this.#options;
    if (!this.#options.limits.admitWrite(req.ip)) {
      count('storeRateLimited');
      return StoreStatus.RATE_LIMITED;
    }
    const record = req.message.record;
    // Placement before any crypto: a node that knows 2k nodes nearer to every location of the key
    // is not one of its holders, and one proof of work must not buy room on every node.
    if (!this.#responsible(record.key)) {
      count('storeNotResponsible');
      this.#options.limits.chargeRefusedWrite(req.ip);
      return StoreStatus.NOT_RESPONSIBLE;
    }
    const now = clock.now();
    // A byte-for-byte copy of a record held here was checked when it was stored (and the store
    // drops it once expired): the k holders of a record each republish it every hour, so a
    // holder receives it again and again, and its signature and work need no second check.
    const held = store.entry(record.key);
    if (held && held.expiresAt > Math.floor(now / 1000) && held.isCopyOf(record)) {
      count('storeHeldCopy');
      return store.put(record, now, req.ip);
    }
    const check = await validateRecord(crypto, rules, record, Math.floor(now / 1000));
    if (!check.ok) {
      count('storeInvalid');
      return StoreStatus.INVALID;
    }
    const status = store.put(record, now, req.ip);
    if (status === StoreStatus.STORED) this.#options.onStored?.(record.key);
    if (status === StoreStatus.FULL) count('storeFull');
    return status;
  }

  async #delete(req: IncomingRequest): Promise<Body> {
    const ack = (status: DeleteStatusCode, heldIssuedAt?: number): Body => ({ type: MessageType.DELETE_ACK, status, heldIssuedAt });
    if (req.message.type !== MessageType.DELETE) return ack(DeleteStatus.INVALID);
    const { store, count } = this.#options;
    if (!this.#options.limits.admitWrite(req.ip)) return ack(DeleteStatus.RATE_LIMITED);
    const proof = req.message.proof;
    // A signature check per IP and prefix, apart from the write budget: a flood of bogus proofs
    // costs its sender its own budget, not everyone's share of our CPU.
    if (!this.#options.limits.admitVerification(req.ip)) return ack(DeleteStatus.RATE_LIMITED);
    // Proof of work and signature first, then ownership inside the store: nothing is removed on an unchecked claim.
    if (!(await validateDeleteProof(this.#options.crypto, this.#options.rules, proof, this.#nowSeconds())).ok) {
      count('deleteInvalid');
      return ack(DeleteStatus.INVALID);
    }
    // A tombstone for a key not held guards against a stale copy arriving later, which only a
    // node that would accept that copy needs to remember.
    if (!store.entry(proof.key) && !this.#responsible(proof.key)) return ack(DeleteStatus.NOT_HELD);
    const status = store.delete(proof);
    if (status === DeleteStatus.DELETED) this.#options.onDeleted?.(proof.key);
    if (status === DeleteStatus.STALE) {
      count('deleteStale');
      return ack(status, store.issuedAtOf(proof.key));
    }
    return ack(status);
  }

  #responsible(key: Uint8Array): boolean {
    const { crypto, table } = this.#options;
    return responsibleLocations(crypto, table, key).length > 0;
  }

  #nowSeconds(): number {
    return Math.floor(this.#options.clock.now() / 1000);
  }
}

function contactSize(c: WireContact): number {
  let n = 32 + 1;
  for (const a of c.addresses) n += 2 + a.data.length;
  return n;
}

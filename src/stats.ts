/**
 * The shape of `DHT.stats()`: every counter by name, so a misspelt key is a compile error
 * (`stats().droppedMalformd` does not compile) while transport counters, which each transport
 * names itself, stay reachable under their prefix (`stats()['webrtc.linksOpened']`).
 */
import type { TransportName } from './transport/transport.js';

/**
 * Counters the engine increments as things happen. They are created on first use, so each is
 * `undefined` until its event has happened once: read them as `stats().timeouts ?? 0`.
 * test/unit/stats.test.ts fails when the engine counts a name that is not listed here.
 */
export const DHT_COUNTERS = [
  // Datagrams and requests (rpc/)
  'sent',
  'received',
  'served',
  'retries',
  'timeouts',
  'pendingFull',
  'handlerErrors',
  'droppedMalformed',
  /** A datagram from a node of another network (another name or settings): counted, never answered. */
  'droppedWrongNetwork',
  'droppedFromSelf',
  'droppedUnmatched',
  'droppedWrongSource',
  'droppedWrongSender',
  'droppedWrongType',
  'droppedBadAuth',
  'droppedRequestAsClient',
  'droppedRateLimited',
  'droppedBadId',
  /** A reply that did not fit what its unproven address may still receive (≤ 3× what came from it). */
  'droppedOverBudget',
  /** A ping to verify a stranger not sent: its address is unproven and its ≤ 3× credit was spent. */
  'droppedAmplification',
  /** A lookup request not sent to an unproven address: the listing reply's byte budget was spent (reflection guard). */
  'reflectionLimited',
  /** A reply sent unsigned: the asker's IP or prefix had used its budget of signatures. */
  'unsignedOverBudget',
  /** A HELLO dropped before its signature was checked: its IP or prefix had used its budget of verifications. */
  'droppedVerifyLimited',
  /** HELLOs: sent after a ROOM reply; received and admitted; dropped (from or to a client; a token not valid for the sender's address). */
  'hellosSent',
  /** A HELLO's proof carried by a later request of ours to that node instead (a put's STOREs), a datagram saved. */
  'hellosPiggybacked',
  'hellosReceived',
  'droppedHello',
  'droppedHelloToken',
  // Routing (routing/, lookup/)
  'unadmittedNoIp',
  'ipLimited',
  'contactsGone',
  'droppedBadContact',
  'skippedUnresponsive',
  /** A stranger that set off a failed ping-before-evict was pinged to take the freed place. */
  'candidatesTried',
  /** A join that reached the swarm through contacts saved by an earlier run. */
  'joinedFromSavedContacts',
  // Records (serve, ops/)
  'droppedBadValue',
  'storeRateLimited',
  'storeInvalid',
  /** A STORE of a record held here byte for byte (a holder's republish): acknowledged without checking its signature and work again. */
  'storeHeldCopy',
  'storeFull',
  /** A STORE refused because this node knows 2k nodes closer to every location of the key (placement). */
  'storeNotResponsible',
  /** A record evicted to make room in a full store (the largest sender's farthest record). */
  'storeEvicted',
  /** A STORE refused because the store is full and its sender's IP or prefix holds its quota. */
  'storeOverQuota',
  'deleteInvalid',
  /** Mutable records: a STORE_MUTABLE that failed validation; refused as older than the held copy (or a replay); refused by `cas`; stale holders a get sent the newest to. */
  'mutableInvalid',
  'mutableStale',
  'mutableCasMismatch',
  'mutableRepaired',
  /** A STORE_MUTABLE for a key this node holds no copy of and is not placed to hold (as storeNotResponsible). */
  'mutableNotResponsible',
  /** A DELETE older than the held record (a replay, or an owner whose record was signed ahead of its clock). */
  'deleteStale',
  // Work done for others (relay/)
  'proxied',
  /** PROXY refused: the client's address had not proven itself (no valid token), or its IP or prefix was over the write limit. */
  'proxyUnproven',
  'proxyRateLimited',
  'signalsSent',
  'signalsSentViaServer',
  'signalsReceived',
  'signalsRelayed',
  'signalRelayRetries',
  'signalRelayFailed',
  'signalUndeliverable',
  /** SIGNALs answered RATE_LIMITED: over the requester's budget, or refused by our transport. */
  'signalsRateLimited',
] as const;

export type DHTCounterName = (typeof DHT_COUNTERS)[number];

/** A transport's counter, under its transport's name: "udp.sent", "webrtc.dropped.congested" … */
export type TransportCounterKey = `${TransportName}.${string}`;

/** What `DHT.stats()` returns. */
export type DHTStats = { readonly [K in DHTCounterName]?: number } & {
  /** Contacts in the routing table. */
  readonly contacts: number;
  /** Records held for the swarm. */
  readonly records: number;
  /** Mutable records held for the swarm (one per key: the newest copy). */
  readonly mutableRecords: number;
  /** Bytes held: immutable records at their full wire size, mutable ones their salt and content. */
  readonly storedBytes: number;
  /** Requests waiting for a reply. */
  readonly pendingRequests: number;
} & { readonly [K in TransportCounterKey]?: number };

/**
 * spydht — browser-safe entry. Nothing here imports Node built-ins; Node extras (UDP, node:crypto,
 * CLI) live in "spydht/node".
 */
export { DHT, DHTValue, MutableValue, MAX_SALT_BYTES, MAX_SEQ, DEFAULT_TTL_SECONDS, DEFAULT_OPERATION_TIMEOUT_MS, DEFAULT_K, DEFAULT_ALPHA, MAX_SAVED_CONTACTS } from './dht.js';
export type {
  DHTOptions,
  DHTEvents,
  DHTMessageEvent,
  PutOptions,
  DeleteOptions,
  OperationOptions,
  PutResult,
  FindValueResult,
  PutMutableOptions,
  PutMutableResult,
  GetMutableOptions,
  DeleteMutableOptions,
  RoutingSnapshot,
  RoutingView,
  StorageView,
  DHTStats,
  DHTCounterName,
  TransportCounterKey,
  AddressInput,
  SavedContact,
  SavedAddress,
  ExportContactsOptions,
} from './dht.js';
export { DHT_COUNTERS } from './stats.js';
export { DEFAULT_LIMITS } from './rpc/limits.js';
export type { Limits, LimitOverrides } from './rpc/limits.js';
export type { RateLimitOptions } from './rate-limit.js';
export { assembleNode } from './assemble.js';
export type { AssembleOptions, TransportOpener } from './assemble.js';
export { Identity, DEFAULT_ID_DIFFICULTY, idPuzzleBits } from './crypto/identity.js';
export type { IdentityJSON } from './crypto/identity.js';
export type { CryptoBackend } from './crypto/backend.js';
export { nobleCrypto } from './crypto/noble.js';
export { DEFAULT_POW_BASE_BITS, inThreadPowSolver } from './crypto/pow.js';
export type { PowSolver } from './crypto/pow.js';
export { SpydhtError, isSpydhtError } from './errors.js';
export type { SpydhtErrorCode } from './errors.js';
export { networkConfig, DEFAULT_NETWORK_NAME, DEFAULT_MAX_TTL_SECONDS } from './network.js';
export type { NetworkOptions, NetworkConfig } from './network.js';
export type { Transport, TransportName, DatagramHandler } from './transport/transport.js';
export { SimNetwork, MemoryTransport } from './transport/memory.js';
export type { NetworkConditions, SimNetworkOptions } from './transport/memory.js';
export { SimClock } from './transport/sim-clock.js';
export { createTestnet, SIM_NETWORK } from './testnet.js';
export type { Testnet, TestnetOptions } from './testnet.js';
export { seededRandom, randomIndex } from './random.js';
export type { SeededRandom } from './random.js';
export { realClock } from './clock.js';
export type { Clock, TimerHandle } from './clock.js';
export { AddressKind, addressKey, encodeIpPort, decodeIpPort, formatIpPort, parseIpPort } from './wire/address.js';
export type { PeerAddress, IpPort } from './wire/address.js';
export { MAX_MESSAGE_BYTES, MAX_VALUE_BYTES, MAX_LABEL_BYTES, PROTOCOL_VERSION } from './wire/messages.js';
export type { ContactInfo, SpokenTransport } from './routing/contact.js';
export { toHex, fromHex } from './bytes.js';
export { createWebCryptoBackend } from './crypto/webcrypto.js';
export type { WebCryptoBackendOptions } from './crypto/webcrypto.js';
export { createWorkerPowSolver, generateIdentityInWorker, DEFAULT_WORKER_IDLE_MS } from './crypto/pow-worker.js';
export type { WorkerPowSolver, WorkerPowSolverOptions, WorkerPoolOptions, GenerateIdentityInWorkerOptions } from './crypto/pow-worker.js';
export { loadOrCreateIdentity, localStorageIdentityStorage, indexedDbIdentityStorage, memoryIdentityStorage, DEFAULT_IDENTITY_KEY } from './identity-store.js';
export type { IdentityStorage, LocalStorageLike, LoadOrCreateIdentityOptions } from './identity-store.js';
export { keepContacts, loadSavedContacts, contactsInIdentityStorage, DEFAULT_CONTACTS_SAVE_MS } from './contacts-store.js';
export type { ContactsStorage, ContactsKeeper, KeepContactsOptions } from './contacts-store.js';
export { createBrowserNode, signalingUrlOf, identitySlotOf } from './browser-node.js';
export { claimIdentitySlot, decideSlot, slotIdentityKey, MAX_IDENTITY_SLOTS, SLOT_HEARTBEAT_MS, SLOT_STALE_MS } from './identity-slots.js';
export type { IdentitySlot, SlotClaim, SessionSlot, SlotDecision, SlotEnvironment } from './identity-slots.js';
export { FailoverWsTransport, MAX_SIGNALING_URLS, DEFAULT_RECONNECT_MIN_MS, DEFAULT_RECONNECT_MAX_MS } from './transport/ws-failover.js';
export type { FailoverWsOptions, FailoverWsStats } from './transport/ws-failover.js';
export type { BrowserNodeOptions } from './browser-node.js';
export { WebRtcTransport } from './transport/webrtc.js';
export type { WebRtcTransportOptions, RTCPeerConnectionConstructor } from './transport/webrtc.js';
export type { SignalingChannel } from './transport/transport.js';
export { WsClientTransport, WsCloseCode, WsLinkError, wsAddress } from './transport/ws-client.js';
export type { WebSocketConstructor, WsClientConnectOptions } from './transport/ws-client.js';

/**
 * spydht/node — everything from the browser-safe entry, plus the Node-only pieces: the UDP
 * transport, the node:crypto backend, `createNode` (a UDP node in one call) and identity files.
 */
export * from '../index.js';
export { createTestnet } from './testnet-node.js';
export { createNode, reachableAddresses, udpTransportOf } from './create-node.js';
export { resolveUdpAddress, udpAddress } from './resolve.js';
export type { HostLookup } from './resolve.js';
export type { CreateNodeOptions } from './create-node.js';
export { UdpTransport } from './udp.js';
export type { UdpBindOptions, UdpStats } from './udp.js';
export { createNodeCrypto, nodeCrypto, nodePoolCrypto } from './crypto-node.js';
export type { NodeCryptoOptions } from './crypto-node.js';
export { createNodeWebRtcTransport } from './webrtc-node.js';
export type { NodeWebRtcOptions } from './webrtc-node.js';
export { startSignalingServer } from './signaling/index.js';
export { fileIdentityStorage, loadIdentity, saveIdentity } from './identity-file.js';
export type { SignalingLogEntry, SignalingLogger, SignalingServer, SignalingServerOptions } from './signaling/index.js';
export { contactsPathFor, fileContactsStorage } from './contacts-file.js';
export { startLocalSwarm } from './local-swarm.js';
export type { LocalSwarm, LocalSwarmDhtOptions, LocalSwarmOptions } from './local-swarm.js';
export { lanAddress } from './lan-address.js';

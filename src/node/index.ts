/**
 * spydht/node — everything from the browser-safe entry, plus the Node-only pieces: the UDP
 * transport, the node:crypto backend, `createNode` (a UDP node in one call) and identity files.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { assembleNode, type TransportOpener } from '../assemble.js';
import type { DHT, DHTOptions } from '../dht.js';
import { Identity, type IdentityJSON } from '../crypto/identity.js';
import type { CryptoBackend } from '../crypto/backend.js';
import { SpydhtError } from '../errors.js';
import { networkConfig, type NetworkOptions } from '../network.js';
import { AddressKind, encodeIpPort, formatIpPort, parseIpPort, type PeerAddress } from '../wire/address.js';
import { nodeCrypto } from './crypto-node.js';
import { UdpTransport } from './udp.js';
import { createNodeWebRtcTransport, type NodeWebRtcOptions } from './webrtc-node.js';

export * from '../index.js';
export { createTestnet } from './testnet-node.js';
export { UdpTransport } from './udp.js';
export type { UdpBindOptions, UdpStats } from './udp.js';
export { nodeCrypto } from './crypto-node.js';
export { createNodeWebRtcTransport } from './webrtc-node.js';
export type { NodeWebRtcOptions } from './webrtc-node.js';
export { startSignalingServer } from './signaling/index.js';
export type { SignalingLogEntry, SignalingLogger, SignalingServer, SignalingServerOptions } from './signaling/index.js';
export { startLocalSwarm } from './local-swarm.js';
export type { LocalSwarm, LocalSwarmDhtOptions, LocalSwarmOptions } from './local-swarm.js';
export { lanAddress } from './lan-address.js';

export interface CreateNodeOptions extends Omit<DHTOptions, 'transports' | 'bootstrap' | 'crypto'> {
  /** Literal IP to bind (default "0.0.0.0"; "::" for IPv6). */
  host?: string;
  /** UDP port (default 0: an ephemeral port). */
  port?: number;
  /** Nodes to join through: "ip:port" or "[ipv6]:port". */
  bootstrap?: string[];
  /** Join through `bootstrap` before resolving (default true when addresses are given). */
  autoBootstrap?: boolean;
  /** Crypto backend (default: node:crypto). */
  crypto?: CryptoBackend;
  /** Also speak WebRTC (node-datachannel), so browsers can reach this node: a bridge in a mixed swarm. */
  webrtc?: boolean | NodeWebRtcOptions;
}

/** The UDP transport behind each node made by createNode (for `reachableAddresses`). */
const transports = new WeakMap<DHT, UdpTransport>();

/** Parses "ip:port" / "[ipv6]:port" into a UDP peer address; throws SpydhtError INVALID_ARGUMENT. */
export function udpAddress(text: string): PeerAddress {
  try {
    return encodeIpPort(AddressKind.UDP, parseIpPort(text.trim()));
  } catch (err) {
    throw SpydhtError.invalidArgument(`bad address "${text}": ${(err as Error).message}`);
  }
}

/**
 * Binds a UDP socket and creates a DHT node on it (node:crypto backend). When `bootstrap`
 * addresses are given it also joins through them, unless `autoBootstrap` is false; if joining
 * fails the node is closed and the SpydhtError (e.g. BOOTSTRAP_FAILED) rejects the promise.
 */
export async function createNode(options: CreateNodeOptions = {}): Promise<DHT> {
  const { host = '0.0.0.0', port = 0, bootstrap = [], autoBootstrap = true, crypto = nodeCrypto, webrtc, ...rest } = options;
  const addresses = bootstrap.map(udpAddress);
  let udp: UdpTransport | undefined;
  const openUdp = async (): Promise<UdpTransport> => {
    try {
      return (udp = await UdpTransport.bind({ host, port }));
    } catch (err) {
      if (err instanceof TypeError || err instanceof RangeError) throw SpydhtError.invalidArgument(err.message);
      throw err;
    }
  };
  const openers: TransportOpener[] = [openUdp];
  if (webrtc) openers.push((identity) => createNodeWebRtcTransport(identity, crypto, webrtc === true ? {} : webrtc));
  const dht = await assembleNode({ ...rest, crypto, transports: openers, bootstrap: addresses, autoBootstrap: autoBootstrap && addresses.length > 0 });
  transports.set(dht, udp!);
  return dht;
}

/** The UDP transport of a node made by createNode (undefined for other nodes). */
export function udpTransportOf(dht: DHT): UdpTransport | undefined {
  return transports.get(dht);
}

/**
 * Addresses ("ip:port") others can use to reach a node made by createNode. A node bound to a
 * wildcard (0.0.0.0 / ::) lists the machine's interface addresses of that family, loopback first.
 */
export function reachableAddresses(dht: DHT): string[] {
  const transport = transports.get(dht);
  if (!transport) return dht.localAddresses().map((a) => dht.formatAddress(a));
  const { ip, port } = transport.address();
  if (ip !== '0.0.0.0' && ip !== '::') return [formatIpPort({ ip, port })];
  const family = ip === '::' ? 'IPv6' : 'IPv4';
  const found: { ip: string; internal: boolean }[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const nic of list ?? []) {
      if (nic.family !== family) continue;
      // A link-local IPv6 address needs a zone id, which a wire address cannot carry.
      if (family === 'IPv6' && nic.address.toLowerCase().startsWith('fe80:')) continue;
      found.push({ ip: nic.address, internal: nic.internal });
    }
  }
  if (found.length === 0) found.push({ ip: family === 'IPv6' ? '::1' : '127.0.0.1', internal: true });
  found.sort((a, b) => Number(b.internal) - Number(a.internal));
  return [...new Set(found.map((f) => formatIpPort({ ip: f.ip, port })))];
}

/**
 * Reads an identity saved by `saveIdentity`. With `network`, checks that it solves that
 * network's ID puzzle (so the node can join it). Rejects with the fs error if the file is missing.
 */
export async function loadIdentity(path: string, network?: NetworkOptions, crypto: CryptoBackend = nodeCrypto): Promise<Identity> {
  const text = await readFile(path, 'utf8');
  let json: IdentityJSON;
  try {
    json = JSON.parse(text) as IdentityJSON;
  } catch {
    throw SpydhtError.invalidArgument(`${path} is not a saved spydht identity (bad JSON)`);
  }
  const difficulty = network ? networkConfig(crypto, network).idDifficulty : 0;
  return Identity.fromJSON(crypto, json, difficulty);
}

/** Writes an identity as JSON, readable by the owner only (mode 0600); replaces the file atomically. */
export async function saveIdentity(path: string, identity: Identity): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, `${JSON.stringify(identity.toJSON(), null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

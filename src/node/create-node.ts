/**
 * createNode: a UDP node (optionally also speaking WebRTC: a bridge) in one call, and the
 * addresses others can reach it at.
 */
import { networkInterfaces } from 'node:os';
import { assembleNode, type TransportOpener } from '../assemble.js';
import type { DHT, DHTOptions } from '../dht.js';
import type { CryptoBackend } from '../crypto/backend.js';
import { SpydhtError } from '../errors.js';
import type { AddressInput } from '../transport/transport.js';
import { formatIpPort } from '../wire/address.js';
import { nodePoolCrypto } from './crypto-node.js';
import { resolveUdpAddress } from './resolve.js';
import { UdpTransport } from './udp.js';
import { createNodeWebRtcTransport, type NodeWebRtcOptions } from './webrtc-node.js';

export interface CreateNodeOptions extends Omit<DHTOptions, 'transports' | 'bootstrap' | 'crypto'> {
  /** Literal IP to bind (default "0.0.0.0"; "::" for IPv6). */
  host?: string;
  /** UDP port (default 0: an ephemeral port). */
  port?: number;
  /**
   * Nodes to join through: "ip:port", "[ipv6]:port", "host:port" (looked up with dns.lookup, IPv4
   * first) or `PeerAddress`es (e.g. another node's `localAddresses()`).
   */
  bootstrap?: readonly AddressInput[];
  /** Join through `bootstrap` (and saved `contacts`) before resolving (default true when either is given). */
  autoBootstrap?: boolean;
  /** Crypto backend (default: `nodePoolCrypto`, node:crypto with Ed25519 on libuv's thread pool). */
  crypto?: CryptoBackend;
  /** Also speak WebRTC (node-datachannel), so browsers can reach this node: a bridge in a mixed swarm. */
  webrtc?: boolean | NodeWebRtcOptions;
}

/** The UDP transport behind each node made by createNode (for `reachableAddresses`). */
const transports = new WeakMap<DHT, UdpTransport>();

/**
 * Binds a UDP socket and creates a DHT node on it (node:crypto backend, signatures on the thread pool). When `bootstrap`
 * addresses or saved `contacts` (DHT.exportContacts() of an earlier run) are given it also joins
 * through them, the contacts first, unless `autoBootstrap` is false; if joining
 * fails the node is closed and the SpydhtError (e.g. BOOTSTRAP_FAILED) rejects the promise.
 */
export async function createNode(options: CreateNodeOptions = {}): Promise<DHT> {
  const { host = '0.0.0.0', port = 0, bootstrap = [], autoBootstrap = true, crypto = nodePoolCrypto, webrtc, ...rest } = options;
  // Before any socket is opened: a bad address or unknown host fails without side effects.
  const addresses = await Promise.all(bootstrap.map((a) => (typeof a === 'string' ? resolveUdpAddress(a) : a)));
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
  // Saved contacts are a way in too: a node given only those joins through them.
  const joinable = addresses.length > 0 || (rest.contacts?.length ?? 0) > 0;
  const dht = await assembleNode({ ...rest, crypto, transports: openers, bootstrap: addresses, autoBootstrap: autoBootstrap && joinable });
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

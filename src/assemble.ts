/**
 * The one way to assemble a node from parts: resolve the identity, open the transports in order,
 * create the DHT, let the caller finish setting up (e.g. start listening), then join. Whatever
 * fails, everything opened before it is closed again and the error is rethrown, so a failed
 * start leaves no socket, link or timer behind. createNode, startSignalingServer and
 * createBrowserNode are all this function with different transports.
 */
import { nobleCrypto } from './crypto/noble.js';
import { Identity } from './crypto/identity.js';
import { DHT, type DHTOptions } from './dht.js';
import { networkConfig } from './network.js';
import type { AddressInput, Transport } from './transport/transport.js';

/** Opens one transport for the node's identity. */
export type TransportOpener = (identity: Identity) => Transport | Promise<Transport>;

export interface AssembleOptions extends Omit<DHTOptions, 'transports' | 'bootstrap'> {
  /** Opened in order. */
  transports: readonly TransportOpener[];
  /** Where to join; a function when the addresses are known only once the transports are open. */
  bootstrap?: readonly AddressInput[] | (() => readonly AddressInput[]);
  /** Runs once the node exists, before it joins (e.g. start a listener); a failure closes the node. */
  ready?: (dht: DHT) => void | Promise<void>;
  /** Join before resolving (default: when there are bootstrap addresses). */
  autoBootstrap?: boolean;
}

export async function assembleNode(options: AssembleOptions): Promise<DHT> {
  const { transports: openers, bootstrap, ready, autoBootstrap, ...rest } = options;
  const crypto = rest.crypto ?? nobleCrypto;
  // Transports that sign (WebRTC) need the identity before the DHT exists.
  const identity = rest.identity ?? (await Identity.generate({ crypto, difficulty: networkConfig(crypto, rest.network).idDifficulty }));
  const transports: Transport[] = [];
  let addresses: readonly AddressInput[] = [];
  let dht: DHT;
  try {
    for (const open of openers) transports.push(await open(identity));
    addresses = typeof bootstrap === 'function' ? bootstrap() : bootstrap ?? [];
    dht = await DHT.create({ ...rest, crypto, identity, transports, bootstrap: addresses });
  } catch (err) {
    await Promise.all(transports.map((t) => t.close().catch(() => {})));
    throw err;
  }
  try {
    await ready?.(dht);
    if (autoBootstrap ?? addresses.length > 0) await dht.bootstrap();
  } catch (err) {
    await dht.close();
    throw err;
  }
  return dht;
}

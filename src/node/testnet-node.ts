/** createTestnet with node:crypto as the default backend (~20× faster Ed25519 than @noble). */
import { createTestnet as createWith, type Testnet, type TestnetOptions } from '../testnet.js';
import { nodeCrypto } from './crypto-node.js';

/** n simulated nodes on a virtual clock, joined through the first (see `spydht`'s createTestnet). */
export function createTestnet(n: number, options: TestnetOptions = {}): Promise<Testnet> {
  return createWith(n, { crypto: nodeCrypto, ...options });
}

/**
 * Per-network settings. Every setting that nodes must agree on is hashed into the 4-byte network
 * ID carried by every message, so nodes configured differently never talk to each other.
 */
import { concatBytes, utf8 } from './bytes.js';
import type { CryptoBackend } from './crypto/backend.js';
import { DEFAULT_ID_DIFFICULTY } from './crypto/identity.js';
import { DEFAULT_POW_BASE_BITS } from './crypto/pow.js';
import { SpydhtError } from './errors.js';
import { NETWORK_ID_BYTES } from './wire/messages.js';

export interface NetworkOptions {
  /** Name of the swarm; different names never exchange a message. Default "spydht". */
  name?: string;
  /** Leading zero bits the ID puzzle requires (each extra bit doubles ID generation time). */
  idDifficulty?: number;
  /** Base proof-of-work difficulty for STORE (see PROTOCOL.md for how size and lifetime scale it). */
  powBaseBits?: number;
  /** Longest record lifetime, seconds. */
  maxTtlSeconds?: number;
}

export interface NetworkConfig {
  name: string;
  idDifficulty: number;
  powBaseBits: number;
  maxTtlSeconds: number;
  /** Clock difference tolerated between nodes, seconds (not part of the network ID). */
  maxSkewSeconds: number;
  networkId: Uint8Array;
}

export const DEFAULT_NETWORK_NAME = 'spydht';
export const DEFAULT_MAX_TTL_SECONDS = 7 * 24 * 3600;
export const MAX_SKEW_SECONDS = 300;

export function networkConfig(crypto: CryptoBackend, o: NetworkOptions = {}): NetworkConfig {
  const name = o.name ?? DEFAULT_NETWORK_NAME;
  const idDifficulty = o.idDifficulty ?? DEFAULT_ID_DIFFICULTY;
  const powBaseBits = o.powBaseBits ?? DEFAULT_POW_BASE_BITS;
  const maxTtlSeconds = o.maxTtlSeconds ?? DEFAULT_MAX_TTL_SECONDS;
  if (!Number.isInteger(idDifficulty) || idDifficulty < 0 || idDifficulty > 32) {
    throw SpydhtError.invalidArgument('idDifficulty must be an integer from 0 to 32');
  }
  if (!Number.isInteger(powBaseBits) || powBaseBits < 0 || powBaseBits > 40) {
    throw SpydhtError.invalidArgument('powBaseBits must be an integer from 0 to 40');
  }
  if (!Number.isInteger(maxTtlSeconds) || maxTtlSeconds < 60 || maxTtlSeconds > 365 * 24 * 3600) {
    throw SpydhtError.invalidArgument('maxTtlSeconds must be an integer from 60 to one year');
  }
  const settings = new Uint8Array(9);
  const v = new DataView(settings.buffer);
  v.setUint8(0, idDifficulty);
  v.setUint8(1, powBaseBits);
  v.setUint32(2, maxTtlSeconds);
  const networkId = crypto.sha256(concatBytes(utf8('spydht/network/v1/'), utf8(name), settings)).slice(0, NETWORK_ID_BYTES);
  return { name, idDifficulty, powBaseBits, maxTtlSeconds, maxSkewSeconds: MAX_SKEW_SECONDS, networkId };
}

/**
 * Identities in files (Node): the JSON form of `Identity.toJSON()`, readable by the owner only
 * (mode 0600) and replaced atomically, so a crash never leaves half a key behind. The CLI and
 * `loadOrCreateIdentity({ storage: fileIdentityStorage(path) })` both use it.
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import type { CryptoBackend } from '../crypto/backend.js';
import { Identity, type IdentityJSON } from '../crypto/identity.js';
import { SpydhtError } from '../errors.js';
import type { IdentityStorage } from '../identity-store.js';
import { networkConfig, type NetworkOptions } from '../network.js';
import { nodeCrypto } from './crypto-node.js';

/** An IdentityStorage over one file (the storage key is ignored: one identity per file). A missing file reads as empty. */
export function fileIdentityStorage(path: string): IdentityStorage {
  return {
    get: async () => {
      try {
        return await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    set: (_key, value) => writeAtomically(path, value.endsWith('\n') ? value : `${value}\n`),
  };
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
  await writeAtomically(path, `${JSON.stringify(identity.toJSON(), null, 2)}\n`);
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, text, { mode: 0o600, flag: 'wx' });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

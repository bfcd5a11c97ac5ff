/**
 * Saved contacts in a file (Node): the JSON of DHT.exportContacts(), beside the identity file
 * (`<identity>.contacts.json`), readable by the owner only and replaced atomically like the
 * identity itself, so a crash mid-write leaves the previous list, never half of one.
 */
import type { ContactsStorage } from '../contacts-store.js';
import { fileIdentityStorage } from './identity-file.js';

/** The contacts file that goes with an identity file. */
export function contactsPathFor(identityPath: string): string {
  return `${identityPath}.contacts.json`;
}

/** A ContactsStorage over one file (mode 0600, atomic replace); a missing file reads as nothing saved. */
export function fileContactsStorage(path: string): ContactsStorage {
  const file = fileIdentityStorage(path);
  return {
    load: async () => file.get(path),
    save: async (text) => file.set(path, text),
  };
}

/**
 * A record's owner as a node: DHTValue.owner is the owner's public key (hex), and a node's ID is
 * SHA-256 of its public key, so the page can say "this tab" or "Node peer 1a2b3c…" instead of
 * showing a key that matches nothing on screen. SHA-256 comes from the library's @noble backend:
 * a page served over plain http on a LAN address has no crypto.subtle.
 */
import { fromHex, nobleCrypto, toHex, type DHT } from 'spydht';
import { KIND_LABELS, kindOf } from './kinds.js';

/** The node ID (hex) of the node whose public key is `publicKeyHex`. */
export function ownerId(publicKeyHex: string): string {
  return toHex(nobleCrypto.sha256(fromHex(publicKeyHex)));
}

/** "this tab", "Node peer 1a2b3c4d…", or "node 1a2b3c4d… (not in this tab's routing table)". */
export function describeOwner(node: DHT, publicKeyHex: string): { id: string; text: string } {
  const id = ownerId(publicKeyHex);
  if (id === node.id) return { id, text: 'this tab' };
  const contact = node.routing.contacts().find((c) => c.id === id);
  if (contact) return { id, text: `${KIND_LABELS[kindOf(contact)]} ${id.slice(0, 12)}…` };
  return { id, text: `node ${id.slice(0, 12)}… (not in this tab's routing table)` };
}

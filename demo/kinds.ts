/**
 * What kind of node a contact is, told from what the engine reports (ContactInfo): the signaling
 * server sets the BOOTSTRAP flag; a Node peer speaks UDP (and WebRTC, to reach tabs); a tab speaks
 * WebRTC only. And its address as a person reads it: a WebRTC contact is reached by its ID over a
 * data channel, so its "address" is the IP of the ICE pair, not the ID again.
 */
import type { ContactInfo } from 'spydht';

export type ContactKind = 'tab' | 'node' | 'server' | 'peer';

export const KIND_LABELS: Record<ContactKind, string> = {
  tab: 'tab',
  node: 'Node peer',
  server: 'signaling server',
  peer: 'peer',
};

export function kindOf(c: Pick<ContactInfo, 'bootstrapServer' | 'speaks'>): ContactKind {
  if (c.bootstrapServer) return 'server';
  if (c.speaks.includes('udp')) return 'node';
  if (c.speaks.includes('webrtc')) return 'tab';
  return 'peer';
}

/** "data channel · 192.168.1.20", "WebSocket · ws://192.168.1.20:8787", "192.168.1.20:4000". */
export function describeAddress(c: Pick<ContactInfo, 'transport' | 'address' | 'ip'>): string {
  switch (c.transport) {
    case 'webrtc':
      return c.ip ? `data channel · ${c.ip}` : 'data channel';
    case 'ws':
      // The WebSocket client formats the server as "<url> (<id prefix>…)": the ID is shown elsewhere.
      return `WebSocket · ${c.address.replace(/\s*\(.*\)$/, '')}`;
    default:
      return c.address;
  }
}

import { networkInterfaces } from 'node:os';

/**
 * This machine's first non-loopback IPv4 address (e.g. "192.168.1.20"), or undefined when it has
 * none. Chromium never uses loopback addresses for WebRTC ICE candidates, so a page whose tabs
 * must open WebRTC links to each other or to Node peers on this machine has to be served, and
 * has to reach its signaling server, at an address like this one rather than 127.0.0.1.
 */
export function lanAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const nic of list ?? []) if (nic.family === 'IPv4' && !nic.internal) return nic.address;
  }
  return undefined;
}

/**
 * The network prefixes an IP belongs to, for limits that one host cannot escape by changing its
 * address within its own network: an IPv4 host usually has its /24 to itself and its neighbours,
 * an IPv6 host has a whole /64 (often a /48 or /56 for a site). Every per-IP limit therefore has a
 * per-prefix twin: at most a few per IPv4 /24 or IPv6 /64, a few more per IPv6 /48.
 */
import { ipv6Bytes } from './wire/address.js';

export interface IpPrefixes {
  /** The IPv4 /24 or the IPv6 /64 ("10.1.2/24", "2001:db8:0:1/64"). */
  narrow: string;
  /** The IPv6 /48 ("2001:db8:0/48"); undefined for IPv4 (a /24 is as wide as one operator goes cheaply). */
  wide: string | undefined;
}

/** Prefixes of a canonical IP (canonicalIp); an unparsable key (no IP known) is its own prefix. */
export function ipPrefixes(ip: string): IpPrefixes {
  if (!ip.includes(':')) {
    const dot = ip.lastIndexOf('.');
    return { narrow: dot > 0 ? `${ip.slice(0, dot)}/24` : ip, wide: undefined };
  }
  let b: Uint8Array;
  try {
    b = ipv6Bytes(ip);
  } catch {
    return { narrow: ip, wide: undefined };
  }
  const group = (i: number): string => ((b[2 * i]! << 8) | b[2 * i + 1]!).toString(16);
  const g = [0, 1, 2, 3].map(group);
  return { narrow: `${g.join(':')}/64`, wide: `${g.slice(0, 3).join(':')}/48` };
}

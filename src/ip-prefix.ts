/**
 * The network prefixes an IP belongs to, for limits that one operator cannot dodge by using many
 * addresses of one network: an IPv4 /24, an IPv6 /64 (the smallest block an ISP hands a customer,
 * so one /64 is one home or one server) and, wider, an IPv6 /48 (a site's whole allocation). Every
 * per-IP limit has a per-prefix twin. Input is a canonical IP (canonicalIp in wire/address.ts);
 * anything else (an address key of a transport that knows no IP) is its own prefix.
 */
import { LruMap } from './lru.js';

export interface IpPrefixes {
  /** The IPv4 /24 or the IPv6 /64 ("10.1.2.0/24", "2001:db8:0:1::/64"). */
  readonly narrow: string;
  /** The IPv6 /48 ("2001:db8:0::/48"); undefined for IPv4 (a /24 is as wide as one operator goes cheaply). */
  readonly wide: string | undefined;
}

const IPV4 = /^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/;

/**
 * Prefixes of IPs seen lately. Every datagram asks for its sender's prefixes (rate limits, the
 * routing table's per-prefix counts), and building them means a regex and string slicing: the
 * answer for an IP never changes, so it is worked out once per IP. Bounded, the oldest forgotten
 * first (`peek` does not refresh: a lookup per datagram should not reorder the map). One cache per
 * process: a simulated swarm shares it, a real node has one.
 */
const cache = new LruMap<string, IpPrefixes>(16_384);

/** Prefixes of a canonical IP; an unparsable key (no IP known) is its own prefix. The result is shared: do not modify it. */
export function ipPrefixes(ip: string): IpPrefixes {
  let p = cache.peek(ip);
  if (p === undefined) {
    p = computePrefixes(ip);
    cache.set(ip, p);
  }
  return p;
}

function computePrefixes(ip: string): IpPrefixes {
  if (IPV4.test(ip)) return Object.freeze({ narrow: `${ip.slice(0, ip.lastIndexOf('.'))}.0/24`, wide: undefined });
  if (!ip.includes(':')) return Object.freeze({ narrow: ip, wide: undefined });
  const g = expandIpv6(ip);
  if (!g) return Object.freeze({ narrow: ip, wide: undefined });
  return Object.freeze({ narrow: `${g.slice(0, 4).join(':')}::/64`, wide: `${g.slice(0, 3).join(':')}::/48` });
}

/** The eight hextets of an IPv6 text (no zone, no IPv4 tail: canonical form has neither), or undefined. */
function expandIpv6(ip: string): string[] | undefined {
  const halves = ip.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const all = [...head, ...Array<string>(missing).fill('0'), ...tail];
  return all.every((h) => /^[0-9a-f]{1,4}$/i.test(h)) ? all.map((h) => h.toLowerCase().replace(/^0+(?=.)/, '')) : undefined;
}

/** "a.b.c.0/24" for IPv4, the first four hextets + "::/64" for IPv6, else `ip` itself. */
export function ipPrefix(ip: string): string {
  return ipPrefixes(ip).narrow;
}

/**
 * Counts of things (connections, links) per IP and per prefix, for "at most N per IP, M per
 * prefix" limits. Entries vanish at zero, so the maps hold only what is currently counted.
 */
export class IpCounts {
  readonly #perIp = new Map<string, number>();
  readonly #perPrefix = new Map<string, number>();

  ip(ip: string): number {
    return this.#perIp.get(ip) ?? 0;
  }

  prefix(ip: string): number {
    return this.#perPrefix.get(ipPrefix(ip)) ?? 0;
  }

  /** Whether one more from `ip` stays within `perIp` and `perPrefix`. */
  fits(ip: string, perIp: number, perPrefix: number): boolean {
    return this.ip(ip) < perIp && this.prefix(ip) < perPrefix;
  }

  add(ip: string): void {
    bump(this.#perIp, ip, 1);
    bump(this.#perPrefix, ipPrefix(ip), 1);
  }

  remove(ip: string): void {
    bump(this.#perIp, ip, -1);
    bump(this.#perPrefix, ipPrefix(ip), -1);
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

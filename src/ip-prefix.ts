/**
 * The network prefix an IP belongs to, as one sender: a /24 for IPv4, a /64 for IPv6. A host is
 * handed a whole /64 by its provider and a small hoster a /24, so an attacker rotates source
 * addresses inside one of these for free; limits and quotas that should bind "one attacker" key
 * on the prefix, not the address.
 */

/**
 * "a.b.c.0/24" for an IPv4 address, "x:x:x:x::/64" for IPv6 (from canonical text, as
 * canonicalIp / ipOfIpPort give it); any other text (a transport that knows no IP) is its own prefix.
 */
export function ipPrefix(ip: string): string {
  if (!ip.includes(':')) {
    const parts = ip.split('.');
    return parts.length === 4 ? `${parts[0]}.${parts[1]}.${parts[2]}.0/24` : ip;
  }
  const halves = ip.split('::');
  if (halves.length > 2) return ip;
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  // Expand "::" so the first four groups are the first four groups of the address.
  const groups = halves.length === 2 ? [...head, ...new Array<string>(Math.max(0, 8 - head.length - tail.length)).fill('0'), ...tail] : head;
  if (groups.length !== 8) return ip;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '').toLowerCase()).join(':')}::/64`;
}

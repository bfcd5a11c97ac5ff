/**
 * Addresses as people type them: "127.0.0.1:4000", "[::1]:4000" or "localhost:4000". The wire
 * carries IPs only, so a host name is looked up first (dns.lookup: the OS resolver, /etc/hosts
 * included).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { SpydhtError } from '../errors.js';
import { AddressKind, encodeIpPort, parseIpPort, type PeerAddress } from '../wire/address.js';

/** Resolves a host name to its addresses (dns.lookup with `all: true`); injectable for tests. */
export type HostLookup = (host: string) => Promise<{ address: string; family: number }[]>;

const systemLookup: HostLookup = (host) => dnsLookup(host, { all: true });

/** Parses "ip:port" / "[ipv6]:port" into a UDP peer address; throws SpydhtError INVALID_ARGUMENT. */
export function udpAddress(text: string): PeerAddress {
  try {
    return encodeIpPort(AddressKind.UDP, parseIpPort(text.trim()));
  } catch (err) {
    throw SpydhtError.invalidArgument(`bad address "${text}": ${(err as Error).message}`);
  }
}

/** Splits "host:port" (host a name, not an IP literal); undefined when the text has another shape. */
export function splitHostPort(text: string): { host: string; port: number } | undefined {
  const m = /^([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/.exec(text.trim());
  // Digits and dots only is no host name ("1.2.3" would be read as an IPv4 shorthand): a bad IP.
  if (!m || isIP(m[1]!) !== 0 || !/[A-Za-z]/.test(m[1]!)) return undefined;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? { host: m[1]!, port } : undefined;
}

/**
 * "ip:port", "[ipv6]:port" or "host:port" as a UDP peer address. A host name resolves to its first
 * IPv4 address when it has one (nodes bind 0.0.0.0 by default, and "localhost" often lists ::1
 * first), else its first IPv6 address. A malformed address is INVALID_ARGUMENT; a name that does
 * not resolve is BOOTSTRAP_FAILED, naming the name and the resolver's error.
 */
export async function resolveUdpAddress(text: string, lookup: HostLookup = systemLookup): Promise<PeerAddress> {
  const named = splitHostPort(text);
  if (!named) return udpAddress(text);
  let found: { address: string; family: number }[];
  try {
    found = await lookup(named.host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code ?? (err as Error).message;
    throw new SpydhtError('BOOTSTRAP_FAILED', `cannot resolve host "${named.host}" (${code})`, { cause: err });
  }
  const pick = found.find((a) => a.family === 4) ?? found.find((a) => a.family === 6);
  if (!pick) throw new SpydhtError('BOOTSTRAP_FAILED', `host "${named.host}" has no IP address`);
  return encodeIpPort(AddressKind.UDP, { ip: pick.address, port: named.port });
}

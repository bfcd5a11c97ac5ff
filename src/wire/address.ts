/**
 * Transport addresses travel as opaque (kind, bytes) pairs: only the transport that owns a kind
 * interprets the bytes. The IP:port helpers below are shared by the UDP and simulated transports.
 */
import { toHex } from '../bytes.js';

export interface PeerAddress {
  /** Which transport understands `data` (see AddressKind). */
  readonly kind: number;
  readonly data: Uint8Array;
}

export const AddressKind = {
  UDP: 1,
  SIM: 2,
  WEBRTC: 3,
  WS: 4,
} as const;

export const MAX_ADDRESS_BYTES = 64;

/** A stable string for maps and logs: "kind:hex". */
export function addressKey(addr: PeerAddress): string {
  return `${addr.kind}:${toHex(addr.data)}`;
}

/** A map key for an address: a number for IPv4:port (the common case), else a short one-byte string. */
export type PeerKey = number | string;

/**
 * The compact map key of an address, for the maps touched on every datagram: IPv4:port becomes
 * kind·2⁴⁸ + ip·2¹⁶ + port (exact in a double for kinds below 32), anything else the kind and the
 * bytes as a flat one-byte string. addressKey is the readable form for logs.
 */
export function peerKey(a: PeerAddress): PeerKey {
  const d = a.data;
  if (d.length === 6 && a.kind < 32) return a.kind * 2 ** 48 + (((d[0]! << 24) >>> 0) + (d[1]! << 16) + (d[2]! << 8) + d[3]!) * 65536 + ((d[4]! << 8) | d[5]!);
  return String.fromCharCode(a.kind, ...d);
}

export function sameAddress(a: PeerAddress, b: PeerAddress): boolean {
  if (a.kind !== b.kind || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

export interface IpPort {
  /** Dotted IPv4 or canonical lowercase IPv6 without brackets. */
  ip: string;
  port: number;
}

export function encodeIpPort(kind: number, { ip, port }: IpPort): PeerAddress {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`bad port ${port}`);
  const ipBytes = ip.includes(':') ? ipv6Bytes(ip) : ipv4Bytes(ip);
  const data = new Uint8Array(ipBytes.length + 2);
  data.set(ipBytes);
  data[ipBytes.length] = port >> 8;
  data[ipBytes.length + 1] = port & 0xff;
  return { kind, data };
}

/** Returns undefined for anything that is not 4+2 or 16+2 bytes or has port 0. */
export function decodeIpPort(addr: PeerAddress): IpPort | undefined {
  const d = addr.data;
  if (d.length !== 6 && d.length !== 18) return undefined;
  const port = portOfIpPort(addr);
  if (port === 0) return undefined;
  const ip = d.length === 6 ? Array.from(d.subarray(0, 4)).join('.') : ipv6String(d.subarray(0, 16));
  return { ip, port };
}

/**
 * The canonical IP (as canonicalIp gives it) of an ip‖port address, read straight from its bytes:
 * the per-request path, so no text is parsed. Undefined if it is not 4+2 or 16+2 bytes.
 */
export function ipOfIpPort(addr: PeerAddress): string | undefined {
  const d = addr.data;
  if (d.length === 6) return `${d[0]}.${d[1]}.${d[2]}.${d[3]}`;
  if (d.length !== 18) return undefined;
  const mapped = d[10] === 0xff && d[11] === 0xff && d.subarray(0, 10).every((x) => x === 0);
  return mapped ? `${d[12]}.${d[13]}.${d[14]}.${d[15]}` : ipv6String(d.subarray(0, 16));
}

/** The port of an ip‖port address: its last two bytes, big-endian (0, never a valid port, if it has none). */
export function portOfIpPort(addr: PeerAddress): number {
  const d = addr.data;
  return d.length < 2 ? 0 : (d[d.length - 2]! << 8) | d[d.length - 1]!;
}

export function formatIpPort({ ip, port }: IpPort): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Parses "host:port" or "[v6]:port" (host must be a literal IP). */
export function parseIpPort(text: string): IpPort {
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text) ?? /^([0-9.]+):(\d+)$/.exec(text);
  if (!m) throw new TypeError(`expected ip:port or [ipv6]:port, got "${text}"`);
  const port = Number(m[2]);
  const ip = m[1]!.includes(':') ? ipv6String(ipv6Bytes(m[1]!)) : m[1]!;
  if (!m[1]!.includes(':')) ipv4Bytes(ip);
  if (port < 1 || port > 65535) throw new RangeError(`bad port ${port}`);
  return { ip, port };
}

/**
 * The one textual form of an IP used for every per-IP and per-prefix limit: dotted IPv4, or RFC 5952
 * IPv6 (lowercase, compressed); brackets and a zone ("%eth0") are dropped and an IPv4-mapped IPv6
 * address ("::ffff:1.2.3.4") is the IPv4 address, so one host has one spelling whichever transport
 * or socket family saw it. Undefined for anything that is not an IP literal (e.g. an mDNS name).
 */
export function canonicalIp(text: string): string | undefined {
  let ip = text.trim();
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  const zone = ip.indexOf('%');
  if (zone >= 0) ip = ip.slice(0, zone);
  try {
    if (!ip.includes(':')) return Array.from(ipv4Bytes(ip)).join('.');
    const b = ipv6Bytes(ip);
    const mapped = b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
    return mapped ? Array.from(b.subarray(12)).join('.') : ipv6String(b);
  } catch {
    return undefined;
  }
}

/**
 * Dotted-quad IPv4 to bytes, strictly: four decimal parts of 1–3 digits, each ≤ 255, without a
 * leading zero ("010" is octal 8 to inet_aton, so accepting it would be ambiguous). A loop over the
 * characters rather than split and a pattern: every datagram a UDP socket receives comes through here.
 */
function ipv4Bytes(ip: string): Uint8Array {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= ip.length; i++) {
    const c = i < ip.length ? ip.charCodeAt(i) : 46; // the end closes the last part like a '.'
    if (c === 46) {
      if (digits === 0 || value > 255 || part > 3) throw new TypeError(`bad IPv4 address "${ip}"`);
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits === 3 || (digits === 1 && value === 0)) throw new TypeError(`bad IPv4 address "${ip}"`);
      value = value * 10 + (c - 48);
      digits++;
    } else {
      throw new TypeError(`bad IPv4 address "${ip}"`);
    }
  }
  if (part !== 4) throw new TypeError(`bad IPv4 address "${ip}"`);
  return out;
}

function ipv6Bytes(ip: string): Uint8Array {
  let text = ip.toLowerCase();
  // An IPv4 tail ("::ffff:1.2.3.4") becomes two hextets.
  // The dotted quad must be a whole group: without the anchor "::a1.2.3.4" would parse as "::a102:304".
  const v4 = /(?:^|:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = ipv4Bytes(v4[1]!);
    text = text.slice(0, -v4[1]!.length) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new TypeError(`bad IPv6 address "${ip}"`);
  const head = halves[0] ? halves[0].split(':') : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(':') : [];
  const missing = 8 - head.length - tail.length;
  // "::" stands for at least one zero group (RFC 4291 2.2), so with it at most 7 groups are written.
  if (halves.length === 1 ? missing !== 0 : missing < 1) throw new TypeError(`bad IPv6 address "${ip}"`);
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    if (!/^[0-9a-f]{1,4}$/.test(g)) throw new TypeError(`bad IPv6 address "${ip}"`);
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  return out;
}

/** RFC 5952 canonical text: lowercase, longest zero run (≥ 2 groups) compressed. */
function ipv6String(b: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i]! << 8) | b[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

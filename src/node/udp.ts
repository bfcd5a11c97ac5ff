/**
 * UDP transport for Node, on `node:dgram`. Addresses are `AddressKind.UDP` with the IP:port bytes
 * of `encodeIpPort` (4+2 or 16+2 bytes). One socket per transport, one address family per socket:
 * an IPv6 host binds with `ipv6Only`, so a peer always has exactly one textual form per socket and
 * IPv4 traffic never shows up as "::ffff:a.b.c.d" on it.
 *
 * Nothing here throws or crashes on a network problem: every lost datagram is counted in `stats`.
 */
import dgram from 'node:dgram';
import { isIP } from 'node:net';
import type { DatagramHandler, Transport } from '../transport/transport.js';
import {
  AddressKind,
  addressKey,
  decodeIpPort,
  ipOfIpPort,
  portOfIpPort,
  encodeIpPort,
  formatIpPort,
  parseIpPort,
  type IpPort,
  type PeerAddress,
} from '../wire/address.js';
import { Flags, MAX_MESSAGE_BYTES } from '../wire/messages.js';
import type { NodeId } from '../id.js';

export interface UdpBindOptions {
  /** A literal IPv4 or IPv6 address (no host names: binding must not depend on DNS). Default 0.0.0.0. */
  host?: string;
  /** 0 (the default) picks an ephemeral port. */
  port?: number;
}

export interface UdpStats {
  /** Datagrams the kernel accepted for sending. */
  sent: number;
  /** Datagrams delivered to `onDatagram` (or that would have been, had no handler been set). */
  received: number;
  /** Asynchronous socket 'error' events: counted so they never become an uncaught exception. */
  socketErrors: number;
  dropped: {
    /** The kernel refused the send (no route, wrong family for this socket, …). */
    unreachable: number;
    /** `to.kind` is not UDP: a contact address meant for another transport. */
    wrongKind: number;
    /** UDP kind but not 4+2 / 16+2 bytes, or port 0. */
    badAddress: number;
    /** `send` after `close()`. */
    closed: number;
    /** Outgoing datagram over MAX_MESSAGE_BYTES: no peer would accept it. */
    oversize: number;
    /** Incoming datagram over MAX_MESSAGE_BYTES: dropped before the engine parses anything. */
    receivedOversize: number;
    /** Incoming datagram whose source we cannot express as an address (e.g. a scoped link-local IPv6). */
    badSource: number;
    /** `onDatagram` threw: one bad datagram must not take the node down. */
    handlerError: number;
  };
}

export class UdpTransport implements Transport {
  readonly kind = AddressKind.UDP;
  readonly name = 'udp';
  readonly speaks = Flags.SPEAKS_UDP;
  onDatagram: DatagramHandler | undefined = undefined;
  readonly stats: UdpStats = {
    sent: 0,
    received: 0,
    socketErrors: 0,
    dropped: {
      unreachable: 0,
      wrongKind: 0,
      badAddress: 0,
      closed: 0,
      oversize: 0,
      receivedOversize: 0,
      badSource: 0,
      handlerError: 0,
    },
  };

  private closing: Promise<void> | undefined;

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly bound: IpPort,
    private readonly family: 4 | 6,
  ) {
    // A listener must exist for the whole life of the socket, or an 'error' event is thrown.
    socket.on('error', () => {
      this.stats.socketErrors++;
    });
    socket.on('message', (msg, rinfo) => this.receive(msg, rinfo));
  }

  /** Binds a socket; rejects (and leaves nothing open) if the host is not an IP literal or the bind fails. */
  static async bind(opts: UdpBindOptions = {}): Promise<UdpTransport> {
    const host = opts.host ?? '0.0.0.0';
    const port = opts.port ?? 0;
    const family = isIP(host);
    // isIP accepts zone ids ("fe80::1%eth0"), which encodeIpPort cannot represent.
    if (family === 0 || host.includes('%')) throw new TypeError(`UDP host must be a literal IP address, got "${host}"`);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`bad port ${port}`);

    const socket =
      family === 6 ? dgram.createSocket({ type: 'udp6', ipv6Only: true }) : dgram.createSocket({ type: 'udp4' });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => {
        // A socket that failed to bind still holds a handle until closed.
        void closeSocket(socket).then(() => reject(err));
      };
      socket.once('error', onError);
      socket.bind(port, host, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    const info = socket.address();
    // Round-trip through the wire form so `address()` is canonical (e.g. RFC 5952 IPv6).
    const bound = decodeIpPort(encodeIpPort(AddressKind.UDP, { ip: info.address, port: info.port }))!;
    return new UdpTransport(socket, bound, family === 6 ? 6 : 4);
  }

  /** The bound address (the wildcard when bound to 0.0.0.0 or ::). */
  address(): IpPort {
    return { ...this.bound };
  }

  send(to: PeerAddress, data: Uint8Array): void {
    const drop = this.stats.dropped;
    if (this.closing) return void drop.closed++;
    if (to.kind !== AddressKind.UDP) return void drop.wrongKind++;
    if (data.length > MAX_MESSAGE_BYTES) return void drop.oversize++;
    // Read straight from the address bytes (every datagram sent comes here): the canonical IP, so a
    // udp4 socket reaches "::ffff:1.2.3.4" as 1.2.3.4.
    const ip = ipOfIpPort(to);
    const port = portOfIpPort(to);
    if (ip === undefined || port === 0) return void drop.badAddress++;
    // A udp4 socket cannot reach an IPv6 peer, nor an ipv6Only socket an IPv4 one: fail now
    // rather than let the kernel return EINVAL.
    if ((ip.includes(':') ? 6 : 4) !== this.family) return void drop.unreachable++;
    try {
      this.socket.send(data, port, ip, (err) => {
        if (err) drop.unreachable++;
        else this.stats.sent++;
      });
    } catch {
      // dgram throws synchronously only for a socket closed underneath us.
      drop.closed++;
    }
  }

  /** A peer that speaks UDP is reached at the source of its datagram, when that came over UDP. */
  addressOf(_peerId: NodeId, from: PeerAddress): PeerAddress | undefined {
    return from.kind === this.kind ? from : undefined;
  }

  ipOf(address: PeerAddress): string | undefined {
    if (address.kind !== AddressKind.UDP) return undefined;
    // "::ffff:1.2.3.4" is the same host as "1.2.3.4": one per-IP limit for both spellings.
    return ipOfIpPort(address);
  }

  format(address: PeerAddress): string {
    const ipPort = address.kind === AddressKind.UDP ? decodeIpPort(address) : undefined;
    return ipPort ? formatIpPort(ipPort) : `?${addressKey(address)}`;
  }

  /** "1.2.3.4:4000" or "[::1]:4000" (a literal IP: resolve host names first). */
  parseAddress(text: string): PeerAddress | undefined {
    try {
      return encodeIpPort(this.kind, parseIpPort(text));
    } catch {
      return undefined;
    }
  }

  localAddresses(): PeerAddress[] {
    // A wildcard bind says nothing about which address peers can reach: let PONGs tell us.
    if (this.bound.ip === '0.0.0.0' || this.bound.ip === '::') return [];
    return [encodeIpPort(AddressKind.UDP, this.bound)];
  }

  close(): Promise<void> {
    if (!this.closing) {
      this.onDatagram = undefined;
      this.closing = closeSocket(this.socket);
    }
    return this.closing;
  }

  private receive(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length > MAX_MESSAGE_BYTES) return void this.stats.dropped.receivedOversize++;
    let from: PeerAddress;
    try {
      from = encodeIpPort(AddressKind.UDP, { ip: rinfo.address, port: rinfo.port });
    } catch {
      return void this.stats.dropped.badSource++;
    }
    this.stats.received++;
    // One copy into a plain Uint8Array of its own: the engine keeps views into a datagram, and a
    // view must never pin a receive buffer larger than the datagram.
    const data = new Uint8Array(msg);
    try {
      this.onDatagram?.(data, from);
    } catch {
      this.stats.dropped.handlerError++;
    }
  }
}

/**
 * Closes a dgram socket and resolves once its handle is really gone. dgram's 'close' event fires
 * as soon as libuv is asked to close; the handle is released in the loop's close phase, which
 * follows the check phase. The first setImmediate runs in a check phase, the close phase right
 * after it frees the handle, and the nested setImmediate runs only in the next iteration.
 */
function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    socket.close(() => setImmediate(() => setImmediate(resolve)));
  });
}

/**
 * One address type in, everywhere: the public API takes "ip:port" text or a PeerAddress wherever it
 * takes an address (DHT options, bootstrap, ping; createNode and the signaling server also take
 * "host:port"). Text is read by the node's own transports, so it means the same on every node.
 */
import { describe, expect, it } from 'vitest';
import { DHT } from '../../src/dht.js';
import { SpydhtError } from '../../src/errors.js';
import { resolveUdpAddress, splitHostPort, type HostLookup } from '../../src/node/resolve.js';
import { AddressKind, decodeIpPort, formatIpPort } from '../../src/wire/address.js';
import { SIM_NETWORK, createTestnet } from '../helpers/testnet.js';

const codeOf = (p: Promise<unknown>): Promise<unknown> => p.then(() => 'resolved', (e: unknown) => (e instanceof SpydhtError ? e.code : e));

describe('addresses as text in the DHT API', () => {
  it('bootstrap and ping take "ip:port" as the node formats it, and PeerAddresses alike', async () => {
    const tn = await createTestnet(6);
    try {
      const [first, other] = [tn.nodes[0]!, tn.nodes[4]!];
      const text = first.formatAddress(first.localAddresses()[0]!);
      expect(text).toMatch(/^\d+\.\d+\.\d+\.\d+:\d+$/);
      const pong = await tn.run(other.ping(text));
      expect(pong.id).toBe(first.id);
      expect((await tn.run(other.ping(first.localAddresses()[0]!))).id).toBe(first.id);

      // A node given only text joins through it, as option and as argument.
      const fromOption = await DHT.create({ transports: [tn.net.createTransport()], network: SIM_NETWORK, clock: tn.clock, bootstrap: [text] });
      const fromArgument = await DHT.create({ transports: [tn.net.createTransport()], network: SIM_NETWORK, clock: tn.clock });
      try {
        expect(await tn.run(fromOption.bootstrap())).toBeGreaterThan(0);
        expect(await tn.run(fromArgument.bootstrap([` ${text} `]))).toBeGreaterThan(0);
        expect(fromArgument.routing.has(first.id)).toBe(true);
      } finally {
        await Promise.all([fromOption.close(), fromArgument.close()]);
      }
    } finally {
      await tn.close();
    }
  });

  it('a string no transport of the node reads is INVALID_ARGUMENT, naming it', async () => {
    const tn = await createTestnet(2);
    try {
      const node = tn.nodes[1]!;
      for (const bad of ['localhost:4000', '1.2.3.4', '1.2.3.4:0', '1.2.3.4:70000', 'webrtc:abcd']) {
        const err = await node.bootstrap([bad]).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(SpydhtError);
        expect((err as SpydhtError).code).toBe('INVALID_ARGUMENT');
        expect((err as SpydhtError).message).toContain(`"${bad}"`);
      }
      expect(await codeOf(node.ping('nope'))).toBe('INVALID_ARGUMENT');
    } finally {
      await tn.close();
    }
  });
});

describe('host names (spydht/node: createNode, the signaling server, the CLI)', () => {
  const fake =
    (answers: Record<string, { address: string; family: number }[]>): HostLookup =>
    async (host) => {
      const found = answers[host];
      if (!found) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      return found;
    };

  it('resolves a name to its IPv4 address first (nodes bind 0.0.0.0 by default), else IPv6', async () => {
    const lookup = fake({
      localhost: [
        { address: '::1', family: 6 },
        { address: '127.0.0.1', family: 4 },
      ],
      v6only: [{ address: 'fd00::5', family: 6 }],
    });
    const a = await resolveUdpAddress('localhost:4000', lookup);
    expect(a.kind).toBe(AddressKind.UDP);
    expect(formatIpPort(decodeIpPort(a)!)).toBe('127.0.0.1:4000');
    expect(formatIpPort(decodeIpPort(await resolveUdpAddress('v6only:9', lookup))!)).toBe('[fd00::5]:9');
  });

  it('IP literals are never looked up; malformed text is INVALID_ARGUMENT; an unknown name is BOOTSTRAP_FAILED naming it', async () => {
    const lookup: HostLookup = async () => {
      throw new Error('must not be called');
    };
    expect(formatIpPort(decodeIpPort(await resolveUdpAddress('10.1.2.3:5', lookup))!)).toBe('10.1.2.3:5');
    expect(formatIpPort(decodeIpPort(await resolveUdpAddress('[::1]:5', lookup))!)).toBe('[::1]:5');
    for (const bad of ['localhost', 'localhost:0', 'localhost:99999', 'bad_name:4000', ':4000', '1.2.3:4000']) {
      expect(await codeOf(resolveUdpAddress(bad, lookup)), bad).toBe('INVALID_ARGUMENT');
    }
    const err = (await resolveUdpAddress('no-such-host.invalid:4000', fake({})).catch((e: unknown) => e)) as SpydhtError;
    expect(err.code).toBe('BOOTSTRAP_FAILED');
    expect(err.message).toBe('cannot resolve host "no-such-host.invalid" (ENOTFOUND)');
  });

  it('the system resolver knows "localhost"', async () => {
    const ip = decodeIpPort(await resolveUdpAddress('localhost:4000'))!.ip;
    expect(['127.0.0.1', '::1']).toContain(ip);
    expect(splitHostPort('127.0.0.1:4000')).toBeUndefined();
    expect(splitHostPort('my-host.example:4000')).toEqual({ host: 'my-host.example', port: 4000 });
  });
});

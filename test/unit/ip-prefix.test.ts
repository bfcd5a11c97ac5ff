/** The prefixes per-prefix limits count by: an IPv4 /24, an IPv6 /64; and the counts kept per IP and prefix. */
import { describe, expect, it } from 'vitest';
import { IpCounts, ipPrefix } from '../../src/ip-prefix.js';
import { canonicalIp } from '../../src/wire/address.js';

describe('ipPrefix', () => {
  it('an IPv4 address belongs to its /24, an IPv6 one to its /64, whatever its spelling', () => {
    expect(ipPrefix('192.0.2.77')).toBe('192.0.2.0/24');
    expect(ipPrefix('192.0.2.1')).toBe(ipPrefix('192.0.2.254'));
    expect(ipPrefix('192.0.3.1')).not.toBe(ipPrefix('192.0.2.1'));
    const a = canonicalIp('2001:db8:1:2:aaaa::1')!;
    const b = canonicalIp('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')!;
    expect(ipPrefix(a)).toBe('2001:db8:1:2::/64');
    expect(ipPrefix(b)).toBe(ipPrefix(a));
    expect(ipPrefix(canonicalIp('2001:db8:1:3::1')!)).not.toBe(ipPrefix(a));
    expect(ipPrefix(canonicalIp('::1')!)).toBe('0:0:0:0::/64');
  });

  it('anything that is not an IP (an address key) is its own prefix', () => {
    expect(ipPrefix('ws:abcdef')).toBe('ws:abcdef');
  });
});

describe('IpCounts', () => {
  it('counts per IP and per prefix, and forgets what drops to zero', () => {
    const c = new IpCounts();
    c.add('10.0.0.1');
    c.add('10.0.0.2');
    expect(c.ip('10.0.0.1')).toBe(1);
    expect(c.prefix('10.0.0.99')).toBe(2);
    expect(c.fits('10.0.0.3', 4, 2)).toBe(false);
    expect(c.fits('10.0.1.3', 4, 2)).toBe(true);
    c.remove('10.0.0.1');
    c.remove('10.0.0.2');
    expect(c.prefix('10.0.0.1')).toBe(0);
  });
});

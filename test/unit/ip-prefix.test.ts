import { describe, expect, it } from 'vitest';
import { ipPrefix } from '../../src/ip-prefix.js';

describe('ipPrefix', () => {
  it('an IPv4 address is one of its /24', () => {
    expect(ipPrefix('203.0.113.7')).toBe('203.0.113.0/24');
    expect(ipPrefix('203.0.113.250')).toBe(ipPrefix('203.0.113.1'));
    expect(ipPrefix('203.0.114.1')).not.toBe(ipPrefix('203.0.113.1'));
  });

  it('an IPv6 address is one of its /64, however it is written', () => {
    expect(ipPrefix('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(ipPrefix('2001:db8:1:2::ffff')).toBe('2001:db8:1:2::/64');
    expect(ipPrefix('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(ipPrefix('::1')).toBe('0:0:0:0::/64');
    expect(ipPrefix('2001:db8:1:3::1')).not.toBe(ipPrefix('2001:db8:1:2::1'));
  });

  it('text that is no IP (a transport without IPs) is its own prefix', () => {
    expect(ipPrefix('webrtc:abcd')).toBe('webrtc:abcd');
    expect(ipPrefix('1:2:3')).toBe('1:2:3');
  });
});

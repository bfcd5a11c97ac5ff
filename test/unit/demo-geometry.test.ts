/**
 * The demo's reading of the routing table (demo/distance.ts, demo/kinds.ts): a contact's ring in
 * the picture is the engine's bucket for it, its place in the ring grows with XOR distance, and
 * its kind and address are told from what ContactInfo reports.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { place } from '../../demo/distance.js';
import { describeAddress, kindOf } from '../../demo/kinds.js';
import { idToHex, randomIdInBucket } from '../../src/id.js';
import { RoutingTable } from '../../src/routing/table.js';

const id = (): Uint8Array => new Uint8Array(randomBytes(32));

describe('the picture: ring = bucket, position = distance', () => {
  it('places every contact in the bucket the routing table puts it in', () => {
    const self = id();
    const table = new RoutingTable({ localId: self, k: 20, now: () => 0 });
    for (let bucket = 0; bucket < 256; bucket += 7) {
      const other = randomIdInBucket(self, bucket, new Uint8Array(randomBytes(32)));
      expect(table.bucketIndex(other)).toBe(bucket);
      const p = place(idToHex(self), idToHex(other))!;
      expect(p.bucket).toBe(bucket);
      expect(p.within).toBeGreaterThanOrEqual(0);
      expect(p.within).toBeLessThan(1);
      expect(p.spread).toBeGreaterThanOrEqual(0);
      expect(p.spread).toBeLessThan(1);
    }
    expect(place(idToHex(self), idToHex(self))).toBeUndefined();
  });

  it('within a bucket, a farther contact sits farther out', () => {
    const self = '00'.repeat(32);
    // Bucket 0: the first bit differs. 0x80… is the nearest such ID, 0xff… the farthest.
    const near = place(self, '80' + '00'.repeat(31))!;
    const mid = place(self, 'c0' + '00'.repeat(31))!;
    const far = place(self, 'ff'.repeat(32))!;
    expect([near.bucket, mid.bucket, far.bucket]).toEqual([0, 0, 0]);
    expect(near.within).toBe(0);
    expect(mid.within).toBeCloseTo(Math.log2(1.5), 6);
    expect(far.within).toBeGreaterThan(0.99);
  });
});

describe('kinds and addresses', () => {
  it('the signaling server, a Node peer and a tab are told apart by bootstrapServer and speaks', () => {
    expect(kindOf({ bootstrapServer: true, speaks: ['udp', 'webrtc'] })).toBe('server');
    expect(kindOf({ bootstrapServer: false, speaks: ['udp', 'webrtc'] })).toBe('node');
    expect(kindOf({ bootstrapServer: false, speaks: ['udp'] })).toBe('node');
    expect(kindOf({ bootstrapServer: false, speaks: ['webrtc'] })).toBe('tab');
    expect(kindOf({ bootstrapServer: false, speaks: [] })).toBe('peer');
  });

  it('a WebRTC contact shows how it is reached (the data channel and its IP), never its ID again', () => {
    const hex = 'ab'.repeat(32);
    expect(describeAddress({ transport: 'webrtc', address: `webrtc:${hex.slice(0, 16)}`, ip: '192.168.1.20' })).toBe('data channel · 192.168.1.20');
    expect(describeAddress({ transport: 'webrtc', address: `webrtc:${hex.slice(0, 16)}`, ip: '' })).toBe('data channel');
    expect(describeAddress({ transport: 'ws', address: `ws://10.0.0.1:8787 (${hex.slice(0, 16)}…)`, ip: '10.0.0.1' })).toBe('WebSocket · ws://10.0.0.1:8787');
    expect(describeAddress({ transport: 'udp', address: '10.0.0.1:4000', ip: '10.0.0.1' })).toBe('10.0.0.1:4000');
  });
});

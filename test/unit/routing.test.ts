import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ID_BYTES, commonPrefixLength, compareDistance, idToHex, randomIdInBucket, type NodeId } from '../../src/id.js';
import type { Contact } from '../../src/routing/contact.js';
import { RoutingTable } from '../../src/routing/table.js';
import { AddressKind, encodeIpPort } from '../../src/wire/address.js';

const rnd = (): NodeId => new Uint8Array(randomBytes(ID_BYTES));

let ipCounter = 0;
function freshIp(): string {
  ipCounter++;
  // Each in a /24 of its own: the per-prefix bound has tests of its own below.
  return `10.${ipCounter & 255}.${(ipCounter >> 8) & 255}.${((ipCounter >> 16) & 255) + 1}`;
}

function contact(id: NodeId, ip = freshIp(), lastSeen = 0): Contact {
  const address = encodeIpPort(AddressKind.SIM, { ip, port: 4000 });
  return { id, address, addresses: [address], ip, rtt: undefined, lastSeen, addedAt: lastSeen, failures: 0 };
}

function setup(k = 4, maxPerIp = 2): { table: RoutingTable; clock: { t: number }; local: NodeId; inBucket: (i: number) => NodeId } {
  const clock = { t: 1_000 };
  const local = rnd();
  const table = new RoutingTable({ localId: local, k, maxPerIp, now: () => clock.t });
  return { table, clock, local, inBucket: (i) => randomIdInBucket(local, i, rnd()) };
}

const hexes = (cs: Contact[]): string[] => cs.map((c) => idToHex(c.id));
const bucketOf = (table: RoutingTable, i: number): Contact[] => table.snapshot().find((b) => b.index === i)?.contacts ?? [];

describe('RoutingTable buckets', () => {
  it('holds at most k contacts per bucket; the rest are reported full', () => {
    const { table, inBucket } = setup(4);
    const statuses = Array.from({ length: 7 }, () => table.insert(contact(inBucket(0))).status);
    expect(statuses).toEqual(['added', 'added', 'added', 'added', 'full', 'full', 'full']);
    expect(table.size).toBe(4);
    // Other buckets are independent.
    expect(table.insert(contact(inBucket(1))).status).toBe('added');
    expect(table.size).toBe(5);
  });

  it('refuses its own ID', () => {
    const { table, local } = setup();
    expect(table.insert(contact(Uint8Array.from(local))).status).toBe('self');
    expect(table.size).toBe(0);
  });

  it('keeps contacts least-recently-seen first; touch and re-insert move to the tail', () => {
    const { table, clock, inBucket } = setup(4);
    const [a, b, c] = [contact(inBucket(2)), contact(inBucket(2)), contact(inBucket(2))];
    for (const x of [a, b, c]) table.insert(x);
    expect(hexes(bucketOf(table, 2))).toEqual(hexes([a, b, c]));
    clock.t = 2_000;
    table.touch(a.id, 12);
    expect(hexes(bucketOf(table, 2))).toEqual(hexes([b, c, a]));
    expect(table.get(a.id)!.lastSeen).toBe(2_000);
    expect(table.get(a.id)!.rtt).toBe(12);
    expect(table.insert({ ...contact(b.id, b.ip, 3_000) }).status).toBe('updated');
    expect(hexes(bucketOf(table, 2))).toEqual(hexes([c, a, b]));
  });

  it('a full bucket names its least-recently-seen contact as stale and keeps every old contact (hole 10)', () => {
    const { table, inBucket } = setup(3);
    const olds = [contact(inBucket(0)), contact(inBucket(0)), contact(inBucket(0))];
    for (const o of olds) table.insert(o);
    table.touch(olds[0]!.id); // order now 1, 2, 0
    const candidate = contact(inBucket(0));
    const r = table.insert(candidate);
    expect(r.status).toBe('full');
    if (r.status !== 'full') throw new Error('unreachable');
    expect(idToHex(r.stale.id)).toBe(idToHex(olds[1]!.id));
    // Nothing was dropped without the caller's failed ping, and the candidate is not in yet.
    for (const o of olds) expect(table.has(o.id)).toBe(true);
    expect(table.has(candidate.id)).toBe(false);
    expect(table.snapshot().find((b) => b.index === 0)!.replacements).toBe(1);
    // The caller's ping failed: the candidate takes the freed place.
    expect(table.remove(r.stale.id)).toBe(true);
    expect(table.has(candidate.id)).toBe(true);
    expect(table.has(r.stale.id)).toBe(false);
    expect(table.size).toBe(3);
  });

  it('remove() promotes the freshest replacement', () => {
    const { table, inBucket } = setup(2);
    const [a, b] = [contact(inBucket(0)), contact(inBucket(0))];
    table.insert(a);
    table.insert(b);
    const [x, y, z] = [contact(inBucket(0)), contact(inBucket(0)), contact(inBucket(0))];
    table.insert(x);
    table.insert(y);
    table.insert(z);
    table.insert({ ...x, lastSeen: 5 }); // x offered again: now the freshest
    table.remove(a.id);
    expect(table.has(x.id)).toBe(true);
    expect(table.has(y.id) || table.has(z.id)).toBe(false);
    table.remove(b.id);
    expect(table.has(z.id)).toBe(true);
    expect(table.has(y.id)).toBe(false);
  });

  it('an evicted contact can be inserted again later (hole 10)', () => {
    const { table, inBucket } = setup(2);
    const [a, b] = [contact(inBucket(0)), contact(inBucket(0))];
    table.insert(a);
    table.insert(b);
    expect(table.remove(a.id)).toBe(true);
    expect(table.has(a.id)).toBe(false);
    // It comes back when there is room …
    expect(table.insert(contact(a.id, a.ip)).status).toBe('added');
    expect(table.has(a.id)).toBe(true);
    // … and, evicted again from a full bucket, it waits as a replacement and is promoted later.
    const c = contact(inBucket(0));
    table.remove(a.id);
    table.insert(c);
    expect(table.insert(contact(a.id, a.ip)).status).toBe('full');
    table.remove(b.id);
    expect(table.has(a.id)).toBe(true);
  });

  it('remove() of an unknown contact returns false and forgets it as a replacement', () => {
    const { table, inBucket } = setup(1);
    const a = contact(inBucket(0));
    const r = contact(inBucket(0));
    table.insert(a);
    expect(table.insert(r).status).toBe('full');
    expect(table.remove(r.id)).toBe(false);
    table.remove(a.id);
    expect(table.has(r.id)).toBe(false);
    expect(table.size).toBe(0);
  });

  it('fail() counts consecutive failures and a reply resets them', () => {
    const { table, inBucket } = setup();
    const a = contact(inBucket(5));
    table.insert(a);
    expect(table.fail(a.id)).toBe(1);
    expect(table.fail(a.id)).toBe(2);
    table.touch(a.id);
    expect(table.fail(a.id)).toBe(1);
    expect(table.fail(rnd())).toBe(0);
  });
});

describe('RoutingTable per-IP limit', () => {
  it.each([
    ['IPv4', '192.0.2.7', '192.0.2.8'],
    ['IPv6', '2001:db8::1', '2001:db8::2'],
  ])('allows at most 2 contacts per %s address across the whole table', (_kind, ip, other) => {
    const { table, inBucket } = setup(20, 2);
    expect(table.insert(contact(inBucket(0), ip)).status).toBe('added');
    expect(table.insert(contact(inBucket(7), ip)).status).toBe('added');
    expect(table.insert(contact(inBucket(3), ip)).status).toBe('ip-limit');
    expect(table.insert(contact(inBucket(0), ip)).status).toBe('ip-limit');
    expect(table.ipCount(ip)).toBe(2);
    expect(table.insert(contact(inBucket(3), other)).status).toBe('added');
    // Removing one frees a slot for that IP.
    const first = table.all().find((c) => c.ip === ip)!;
    table.remove(first.id);
    expect(table.insert(contact(inBucket(9), ip)).status).toBe('added');
    expect(table.ipCount(ip)).toBe(2);
  });

  it('a replacement from an IP at its limit is not promoted', () => {
    const { table, inBucket } = setup(1, 2);
    const a = contact(inBucket(0));
    table.insert(a);
    const r = contact(inBucket(0), '192.0.2.50');
    expect(table.insert(r).status).toBe('full');
    table.insert(contact(inBucket(4), '192.0.2.50'));
    table.insert(contact(inBucket(5), '192.0.2.50'));
    table.remove(a.id);
    expect(table.has(r.id)).toBe(false);
    expect(table.ipCount('192.0.2.50')).toBe(2);
  });

  it('moving a contact to a new IP respects the new IP’s limit and frees the old one', () => {
    const { table, inBucket } = setup(20, 2);
    const mover = contact(inBucket(1), '198.51.100.1');
    table.insert(mover);
    table.insert(contact(inBucket(2), '198.51.100.9'));
    table.insert(contact(inBucket(3), '198.51.100.9'));
    // The target IP is full: the move is refused and the contact keeps its old address.
    expect(table.insert(contact(mover.id, '198.51.100.9')).status).toBe('ip-limit');
    expect(table.get(mover.id)!.ip).toBe('198.51.100.1');
    expect(table.ipCount('198.51.100.9')).toBe(2);
    // A free IP: the move happens and both counts follow.
    expect(table.insert(contact(mover.id, '2001:db8::77')).status).toBe('updated');
    expect(table.get(mover.id)!.ip).toBe('2001:db8::77');
    expect(table.ipCount('198.51.100.1')).toBe(0);
    expect(table.ipCount('2001:db8::77')).toBe(1);
    expect(table.size).toBe(3);
  });
});

describe('RoutingTable.closest', () => {
  function brute(all: Contact[], target: NodeId, count: number): string[] {
    return hexes([...all].sort((a, b) => compareDistance(a.id, b.id, target)).slice(0, count));
  }

  it('returns the truly closest contacts, sorted, on random tables', () => {
    for (let round = 0; round < 10; round++) {
      const { table, local, inBucket } = setup(8, 1000);
      // Contacts spread over many buckets, like a real table (and some random ones).
      for (let i = 0; i < 300; i++) {
        const id = i % 3 === 0 ? rnd() : inBucket(Math.floor(Math.random() * 24));
        table.insert(contact(id));
      }
      const all = table.all();
      expect(all.length).toBeGreaterThan(50);
      const targets = [rnd(), Uint8Array.from(local), all[0]!.id, inBucket(0), inBucket(5), inBucket(12), inBucket(30), inBucket(200)];
      for (const t of targets) {
        for (const count of [1, 3, 8, 20, 1000]) {
          expect(hexes(table.closest(t, count))).toEqual(brute(all, t, count));
        }
      }
    }
  });

  it('applies the filter and defaults to k', () => {
    const { table, inBucket } = setup(5, 1000);
    for (let i = 0; i < 60; i++) table.insert(contact(inBucket(i % 12)));
    const t = rnd();
    expect(table.closest(t)).toHaveLength(5);
    const odd = (c: Contact): boolean => (c.id[31]! & 1) === 1;
    const got = table.closest(t, 10, odd);
    expect(hexes(got)).toEqual(brute(table.all().filter(odd), t, 10));
  });
});

describe('RoutingTable.nearestTo', () => {
  it('says whether this node is nearer to a point than every contact (but one), as comparing each would', () => {
    const seen = { nearer: 0, not: 0 };
    for (let round = 0; round < 10; round++) {
      const { table, local, inBucket } = setup(8, 1000);
      // Sparse and dense tables, and a bucket holding a single contact (the one left out).
      const size = round % 2 === 0 ? 12 : 200;
      for (let i = 0; i < size; i++) table.insert(contact(i % 3 === 0 ? rnd() : inBucket(Math.floor(Math.random() * 20))));
      const lone = contact(inBucket(25));
      table.insert(lone);
      const all = table.all();
      // Points near us (where we are likely nearest), in each bucket, and anywhere.
      const targets = [rnd(), Uint8Array.from(local), lone.id, ...Array.from({ length: 40 }, (_, i) => inBucket(i % 30)), ...Array.from({ length: 20 }, () => inBucket(40 + Math.floor(Math.random() * 200)))];
      for (const t of targets) {
        for (const except of [undefined, lone.id, all[0]!.id]) {
          const brute = all.every((c) => (except && c.id === except) || compareDistance(local, c.id, t) < 0);
          expect(table.nearestTo(t, except)).toBe(brute);
          seen[brute ? 'nearer' : 'not']++;
        }
      }
    }
    // Both answers were asked for many times.
    expect(Math.min(seen.nearer, seen.not)).toBeGreaterThan(50);
  });
});

describe('RoutingTable counts for placement', () => {
  it('countCloserThanSelf and neighbourhoodBits agree with ranking every contact', () => {
    const seen = new Set<number>();
    for (let round = 0; round < 10; round++) {
      const { table, local, inBucket } = setup(8, 1000);
      const size = [3, 12, 60, 300][round % 4]!;
      for (let i = 0; i < size; i++) table.insert(contact(i % 3 === 0 ? rnd() : inBucket(Math.floor(Math.random() * 24))));
      const all = table.all();
      const kth = [...all].sort((a, b) => compareDistance(a.id, b.id, local))[table.k - 1];
      expect(table.neighbourhoodBits()).toBe(kth ? commonPrefixLength(local, kth.id) : undefined);
      const targets = [rnd(), Uint8Array.from(local), all[0]!.id, ...Array.from({ length: 30 }, (_, i) => inBucket(i))];
      for (const t of targets) {
        const closer = all.filter((c) => compareDistance(c.id, local, t) < 0).length;
        for (const limit of [1, 16, 10_000]) {
          expect(table.countCloserThanSelf(t, limit)).toBe(Math.min(closer, limit));
          seen.add(Math.min(closer, limit));
        }
      }
    }
    // Counts of every size were checked, not only 0 and the limit.
    expect(seen.size).toBeGreaterThan(20);
  });
});

describe('RoutingTable staleness', () => {
  it('staleBuckets lists idle buckets up to one past the deepest non-empty one', () => {
    const { table, clock, inBucket } = setup();
    clock.t = 10_000;
    table.insert(contact(inBucket(3)));
    clock.t = 10_500;
    // Buckets 0..4 are candidates; 3 changed 500 ms ago.
    expect(table.staleBuckets(1_000)).toEqual([0, 1, 2, 4]);
    table.markRefreshed(1);
    expect(table.staleBuckets(1_000)).toEqual([0, 2, 4]);
    clock.t = 20_000;
    expect(table.staleBuckets(1_000)).toEqual([0, 1, 2, 3, 4]);
    expect(table.staleBuckets(100_000)).toEqual([]);
  });

  it('staleBuckets after finding none: lists a bucket as soon as it turns stale, and a bucket a deeper contact brings in range', () => {
    const { table, clock, inBucket } = setup();
    clock.t = 0;
    table.markRefreshed(5); // an old bucket beyond the range, made by a refresh
    clock.t = 10_000;
    for (const i of [0, 1, 2]) table.insert(contact(inBucket(i)));
    table.markRefreshed(3);
    clock.t = 10_400;
    expect(table.staleBuckets(1_000)).toEqual([]);
    table.markRefreshed(1);
    clock.t = 10_999;
    expect(table.staleBuckets(1_000)).toEqual([]);
    // 0, 2 and 3 changed at 10,000, 1 at 10,400.
    clock.t = 11_000;
    expect(table.staleBuckets(1_000)).toEqual([0, 2, 3]);
    for (const i of [0, 2, 3]) table.markRefreshed(i);
    clock.t = 11_500;
    expect(table.staleBuckets(1_000)).toEqual([1]);
    table.markRefreshed(1);
    expect(table.staleBuckets(1_000)).toEqual([]);
    // A contact in bucket 4 widens the range to bucket 5, idle since 0.
    table.insert(contact(inBucket(4)));
    expect(table.staleBuckets(1_000)).toEqual([5]);
    // Another idle time is looked at afresh.
    expect(table.staleBuckets(100)).toEqual([0, 2, 3, 5]);
  });

  it('staleContacts lists contacts not heard from for idleMs, least recently seen first', () => {
    const { table, clock, inBucket } = setup();
    const a = contact(inBucket(0), undefined, 100);
    const b = contact(inBucket(1), undefined, 50);
    const c = contact(inBucket(2), undefined, 900);
    for (const x of [a, b, c]) table.insert(x);
    clock.t = 1_000;
    expect(hexes(table.staleContacts(500))).toEqual(hexes([b, a]));
    table.touch(b.id); // lastSeen = 1000
    expect(hexes(table.staleContacts(500))).toEqual(hexes([a]));
    expect(hexes(table.staleContacts(0))).toEqual(hexes([a, c, b]));
  });
});

describe('RoutingTable events', () => {
  it('emits added, updated and removed (including promotions)', () => {
    const { table, inBucket } = setup(1);
    const log: string[] = [];
    table.on('added', (c) => log.push(`added ${idToHex(c.id).slice(0, 6)}`));
    table.on('updated', (c) => log.push(`updated ${idToHex(c.id).slice(0, 6)}`));
    table.on('removed', (c) => log.push(`removed ${idToHex(c.id).slice(0, 6)}`));
    const a = contact(inBucket(0));
    const r = contact(inBucket(0));
    const s = (c: Contact): string => idToHex(c.id).slice(0, 6);
    table.insert(a);
    table.insert(contact(a.id, a.ip));
    table.touch(a.id);
    table.insert(r); // full: no event
    table.remove(a.id);
    expect(log).toEqual([`added ${s(a)}`, `updated ${s(a)}`, `updated ${s(a)}`, `removed ${s(a)}`, `added ${s(r)}`]);
  });

  it('clear() empties the table and its replacement caches', () => {
    const { table, inBucket } = setup(1);
    table.insert(contact(inBucket(0)));
    table.insert(contact(inBucket(0)));
    table.insert(contact(inBucket(1)));
    table.clear();
    expect(table.size).toBe(0);
    expect(table.all()).toEqual([]);
    expect(table.snapshot()).toEqual([]);
  });
});

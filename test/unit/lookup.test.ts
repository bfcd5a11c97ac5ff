/**
 * The iterative lookup driven by a declarative fake topology on a virtual clock: no network, no
 * RPC. Each peer's entry says what it answers, after how long, and whether it is slow or fails.
 */
import { describe, expect, it } from 'vitest';
import { onAbort } from '../../src/abort.js';
import { utf8 } from '../../src/bytes.js';
import { SpydhtError, isSpydhtError } from '../../src/errors.js';
import { commonPrefixLength, compareDistance, idToHex, type NodeId } from '../../src/id.js';
import { lookup, type LookupPeer, type LookupResult, type QueryOutcome } from '../../src/lookup/lookup.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { SimClock } from '../../src/transport/sim-clock.js';
import { AddressKind, encodeIpPort } from '../../src/wire/address.js';
import type { WireContact } from '../../src/wire/messages.js';

/** Deterministic IDs: no flakiness from random topologies. */
const idOf = (name: string): NodeId => nodeCrypto.sha256(utf8(`lookup-test/${name}`));
const hex = (id: NodeId): string => idToHex(id);

interface PeerSpec {
  /** Contacts it returns: fixed, or chosen per target. */
  returns?: NodeId[] | ((target: NodeId) => NodeId[]);
  /** Virtual ms until it answers (default 10). */
  delay?: number;
  /** Rejects (like a timeout) after `delay`. */
  fails?: boolean;
  /** Calls onSlow after this many ms (its answer still comes after `delay`). */
  slowAfter?: number;
  value?: string;
}

interface QueryLog {
  id: string;
  start: number;
  end?: number;
  outcome?: 'answered' | 'failed' | 'aborted';
  signal: AbortSignal;
}

class FakeNet {
  readonly clock = new SimClock(0);
  readonly specs = new Map<string, PeerSpec>();
  readonly log: QueryLog[] = [];
  readonly slowCalls: string[] = [];
  inFlight = 0;
  maxInFlight = 0;

  set(id: NodeId, spec: PeerSpec): void {
    this.specs.set(hex(id), spec);
  }

  peer(id: NodeId): LookupPeer {
    const address = encodeIpPort(AddressKind.SIM, { ip: `10.0.${id[0]}.${id[1]}`, port: 4000 });
    return { id, address, addresses: [address] };
  }

  query = (target: NodeId) =>
    (peer: LookupPeer, onSlow: () => void, signal: AbortSignal): Promise<QueryOutcome<string>> => {
      const h = hex(peer.id);
      const spec = this.specs.get(h) ?? { fails: true, delay: 1000 };
      const entry: QueryLog = { id: h, start: this.clock.now(), signal };
      this.log.push(entry);
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      return new Promise((resolve, reject) => {
        const done = (outcome: QueryLog['outcome']): void => {
          entry.end = this.clock.now();
          entry.outcome = outcome;
          this.inFlight--;
        };
        if (spec.slowAfter !== undefined) {
          this.clock.setTimeout(() => {
            if (entry.outcome) return;
            this.slowCalls.push(h);
            onSlow();
          }, spec.slowAfter);
        }
        // One shared signal per lookup: fan out through onAbort as the engine does (no listener pile-up).
        onAbort(signal, () => {
          if (entry.outcome) return;
          done('aborted');
          reject(SpydhtError.aborted());
        });
        this.clock.setTimeout(() => {
          if (entry.outcome) return;
          if (spec.fails) {
            done('failed');
            reject(SpydhtError.timeout('fake'));
            return;
          }
          done('answered');
          const ids = typeof spec.returns === 'function' ? spec.returns(target) : (spec.returns ?? []);
          const contacts: WireContact[] = ids.map((id) => ({ id, addresses: this.peer(id).addresses }));
          resolve(spec.value !== undefined ? { contacts, value: spec.value } : { contacts });
        }, spec.delay ?? 10);
      });
    };

  accept = (c: WireContact): LookupPeer | undefined => ({ id: c.id, address: c.addresses[0]!, addresses: c.addresses });

  queried(): string[] {
    return this.log.map((e) => e.id);
  }

  async run(o: {
    target: NodeId;
    seeds: NodeId[];
    probes?: NodeId[];
    k?: number;
    alpha?: number;
    selfId?: NodeId;
    signal?: AbortSignal;
    maxCandidates?: number;
    burst?: boolean;
    maxQueries?: number;
  }): Promise<{ result: LookupResult<string>; at: number }> {
    const p = lookup<string>({
      target: o.target,
      selfId: o.selfId ?? idOf('self'),
      k: o.k ?? 3,
      alpha: o.alpha ?? 3,
      seeds: o.seeds.map((s) => this.peer(s)),
      ...(o.probes ? { probes: o.probes.map((s) => this.peer(s)) } : {}),
      query: this.query(o.target),
      accept: this.accept,
      signal: o.signal,
      maxCandidates: o.maxCandidates,
      ...(o.burst ? { burst: true } : {}),
      ...(o.maxQueries !== undefined ? { maxQueries: o.maxQueries } : {}),
    });
    let at = -1;
    const result = await this.clock.run(p.then((r) => ((at = this.clock.now()), r)), 3_600_000);
    return { result, at };
  }
}

function byDistance(ids: NodeId[], target: NodeId): NodeId[] {
  return [...ids].sort((a, b) => compareDistance(a, b, target));
}

describe('lookup on a Kademlia-like fake topology', () => {
  it('converges on exactly the k closest nodes', async () => {
    const N = 300;
    const K = 8;
    const ids = Array.from({ length: N }, (_, i) => idOf(`node ${i}`));
    // Each node keeps up to 3 contacts per bucket (a real routing table) and answers with the
    // K of them closest to the target.
    const tables = ids.map((self) => {
      const buckets = new Map<number, NodeId[]>();
      for (const other of ids) {
        if (other === self) continue;
        const b = commonPrefixLength(self, other);
        const list = buckets.get(b) ?? [];
        if (list.length < 3) list.push(other);
        buckets.set(b, list);
      }
      return [...buckets.values()].flat();
    });
    for (let round = 0; round < 10; round++) {
      const net = new FakeNet();
      ids.forEach((id, i) => net.set(id, { returns: (t) => byDistance(tables[i]!, t).slice(0, K), delay: 5 + ((i * 7) % 30) }));
      const target = idOf(`target ${round}`);
      const seeds = [ids[round]!, ids[round + 100]!, ids[round + 200]!];
      const { result } = await net.run({ target, seeds, k: K });
      const want = byDistance(ids, target).slice(0, K).map(hex);
      expect(result.closest.map((p) => hex(p.id))).toEqual(want);
      expect(result.responded).toBeGreaterThanOrEqual(K);
      expect(result.queried).toBeLessThan(N / 3);
      // α queries go out first, not more.
      expect(net.log.filter((e) => e.start === 0)).toHaveLength(3);
    }
  });

  it('leaves out peers that failed and returns only peers that answered, closest first', async () => {
    const net = new FakeNet();
    const target = idOf('t');
    const ids = Array.from({ length: 12 }, (_, i) => idOf(`p${i}`));
    const sorted = byDistance(ids, target);
    const seed = idOf('seed');
    net.set(seed, { returns: ids });
    for (const id of ids) net.set(id, { fails: id === sorted[0] || id === sorted[2] });
    const { result } = await net.run({ target, seeds: [seed], k: 4 });
    const answered = byDistance([seed, ...ids.filter((id) => id !== sorted[0] && id !== sorted[2])], target);
    expect(result.closest.map((p) => hex(p.id))).toEqual(answered.slice(0, 4).map(hex));
    expect(result.closest.map((p) => hex(p.id))).not.toContain(hex(sorted[0]!));
  });
});

describe('lookup query budget', () => {
  it('a burst never sends more queries than maxQueries (a join refresh pays for what it asked)', async () => {
    const target = idOf('budget target');
    const ids = Array.from({ length: 40 }, (_, i) => idOf(`budget ${i}`));
    for (const maxQueries of [1, 3, 4, 6]) {
      const net = new FakeNet();
      // Every node lists every other: the first replies bring many closer candidates, so the
      // lookup converges (bursts) with more unqueried candidates among the k closest than budget left.
      for (const id of ids) net.set(id, { returns: ids });
      const { result } = await net.run({ target, seeds: ids.slice(0, 3), k: 8, burst: true, maxQueries });
      expect(net.log).toHaveLength(maxQueries);
      expect(result.queried).toBe(maxQueries);
    }
  });
});

describe('lookup timing', () => {
  it('returns as soon as a value is found', async () => {
    const net = new FakeNet();
    const target = idOf('key');
    const [a, c] = [idOf('a'), idOf('c')];
    // b is the closest of the nodes a knows, so it is among the next queries.
    const [b, ...far] = byDistance(Array.from({ length: 11 }, (_, i) => idOf(`pool ${i}`)), target) as [NodeId, ...NodeId[]];
    net.set(a, { returns: [b, ...far], delay: 10 });
    net.set(b, { value: 'the value', delay: 10 });
    net.set(c, { returns: far, delay: 5000 });
    for (const f of far) net.set(f, { delay: 4000 });
    const { result, at } = await net.run({ target, seeds: [a, c], k: 20, alpha: 3 });
    expect(result.value).toBe('the value');
    expect(hex(result.valueFrom!.id)).toBe(hex(b));
    expect(result.hops).toBe(2);
    expect(at).toBe(20);
    // Queries still out when the value arrived were cancelled; no new one started after it.
    expect(net.log.filter((e) => e.start > 20)).toEqual([]);
    expect(net.log.filter((e) => e.outcome === undefined)).toEqual([]);
    expect(net.log.find((e) => e.id === hex(c))!.outcome).toBe('aborted');
  });

  it('a slow peer (onSlow) stops counting against α: another query starts at once', async () => {
    const net = new FakeNet();
    const target = idOf('slow target');
    const ids = byDistance([idOf('s1'), idOf('s2'), idOf('s3')], target);
    const [slow, second, third] = ids as [NodeId, NodeId, NodeId];
    net.set(slow, { slowAfter: 50, delay: 3000, fails: true });
    net.set(second, { delay: 10 });
    net.set(third, { delay: 10 });
    const { result, at } = await net.run({ target, seeds: [slow, second, third], k: 3, alpha: 1 });
    expect(net.slowCalls).toEqual([hex(slow)]);
    const starts = Object.fromEntries(net.log.map((e) => [e.id, e.start]));
    expect(starts[hex(slow)]).toBe(0);
    // α = 1, but the slow query no longer holds the slot.
    expect(starts[hex(second)]).toBe(50);
    expect(starts[hex(third)]).toBe(60);
    expect(result.closest.map((p) => hex(p.id))).toEqual([second, third].map(hex));
    // It still waits for the slow one, which is among the k closest, to answer or fail.
    expect(at).toBe(3000);
  });

  it('a node lookup (burst) does not wait for a slow peer once k others answered; a value lookup does', async () => {
    const target = idOf('slow burst target');
    const [slow, a, b, c] = byDistance([idOf('sb1'), idOf('sb2'), idOf('sb3'), idOf('sb4'), idOf('sb5')], target) as [NodeId, NodeId, NodeId, NodeId];
    const setUp = (): FakeNet => {
      const net = new FakeNet();
      // The closest peer's datagram is lost: it turns slow at 50 ms and its retry answers at 3 s.
      net.set(slow, { slowAfter: 50, delay: 3000 });
      for (const id of [a, b, c]) net.set(id, { delay: 10 });
      return net;
    };
    const node = setUp();
    const burst = await node.run({ target, seeds: [slow, a, b, c], k: 3, alpha: 3, burst: true });
    // The slow peer gave up its place among the 3 closest: c was asked the moment it turned slow,
    // and the lookup ended when a, b and c had answered, not when the retry came back.
    expect(node.log.find((e) => e.id === hex(c))!.start).toBe(50);
    expect(burst.at).toBe(60);
    expect(burst.result.closest.map((p) => hex(p.id))).toEqual([a, b, c].map(hex));
    expect(node.log.find((e) => e.id === hex(slow))!.outcome).toBe('aborted');
    // A value lookup waits: the slow peer may hold the value.
    const value = setUp();
    const plain = await value.run({ target, seeds: [slow, a, b, c], k: 3, alpha: 3 });
    expect(plain.at).toBe(3000);
    expect(plain.result.closest.map((p) => hex(p.id))).toEqual([slow, a, b].map(hex));
  });

  it('a node lookup whose every candidate is slow waits for their retries', async () => {
    const net = new FakeNet();
    const target = idOf('all slow');
    const [x, y] = [idOf('x'), idOf('y')];
    net.set(x, { slowAfter: 50, delay: 400 });
    net.set(y, { slowAfter: 50, delay: 500 });
    const { result, at } = await net.run({ target, seeds: [x, y], k: 3, burst: true });
    expect(at).toBe(500);
    expect(result.closest.map((p) => hex(p.id)).sort()).toEqual([x, y].map(hex).sort());
  });

  it('stragglers farther than the k-th answered node do not delay completion', async () => {
    const net = new FakeNet();
    const target = idOf('straggle');
    const pool = byDistance(Array.from({ length: 8 }, (_, i) => idOf(`s ${i}`)), target);
    const [c1, c2, c3] = pool as [NodeId, NodeId, NodeId];
    const [f1, f2, f3] = pool.slice(5) as [NodeId, NodeId, NodeId];
    net.set(f1, { returns: [c1, c2, c3], delay: 10 });
    net.set(f2, { delay: 5000 });
    net.set(f3, { delay: 5000 });
    for (const c of [c1, c2, c3]) net.set(c, { delay: 10 });
    const { result, at } = await net.run({ target, seeds: [f1, f2, f3], k: 3, alpha: 3 });
    expect(net.log.filter((e) => e.start === 0).map((e) => e.id).sort()).toEqual([f1, f2, f3].map(hex).sort());
    expect(at).toBe(20);
    expect(result.closest.map((p) => hex(p.id))).toEqual([c1, c2, c3].map(hex));
    // The stragglers were released (their signal aborted), not left running.
    for (const f of [f2, f3]) expect(net.log.find((e) => e.id === hex(f))!.signal.aborted).toBe(true);
  });

  it('rejects with ABORTED when its signal aborts, and cancels queries in flight', async () => {
    const net = new FakeNet();
    const target = idOf('abort');
    const a = idOf('A');
    net.set(a, { delay: 1000 });
    const ac = new AbortController();
    net.clock.setTimeout(() => ac.abort('user'), 30);
    const err = await net.run({ target, seeds: [a], signal: ac.signal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isSpydhtError(err, 'ABORTED')).toBe(true);
    expect(net.log[0]!.signal.aborted).toBe(true);
    expect(net.log[0]!.outcome).toBe('aborted');

    const pre = new AbortController();
    pre.abort();
    const err2 = await net.run({ target, seeds: [a], signal: pre.signal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isSpydhtError(err2, 'ABORTED')).toBe(true);
    expect(net.log).toHaveLength(1);
  });
});

describe('lookup bounds', () => {
  it('never queries itself, even when seeded with or told about its own ID', async () => {
    const net = new FakeNet();
    const self = idOf('me');
    const target = Uint8Array.from(self); // looking up our own ID, as bootstrap does
    const others = Array.from({ length: 6 }, (_, i) => idOf(`o${i}`));
    for (const o of others) net.set(o, { returns: [self, ...others] });
    net.set(self, { returns: others });
    const { result } = await net.run({ target, seeds: [self, others[0]!], selfId: self, k: 4 });
    expect(net.queried()).not.toContain(hex(self));
    expect(result.closest.map((p) => hex(p.id))).not.toContain(hex(self));
    expect(result.closest).toHaveLength(4);
  });

  it('keeps at most maxCandidates candidates (the closest)', async () => {
    const target = idOf('bounded');
    const many = Array.from({ length: 40 }, (_, i) => idOf(`m${i}`));
    const seed = idOf('the seed');
    const setup = (): FakeNet => {
      const net = new FakeNet();
      net.set(seed, { returns: many });
      for (const m of many) net.set(m, { fails: true, delay: 10 });
      return net;
    };
    // Unbounded enough: every returned contact is tried once the closer ones fail.
    const open = setup();
    await open.run({ target, seeds: [seed], k: 3, maxCandidates: 100 });
    expect(open.log).toHaveLength(41);
    // Bounded: at most maxCandidates are ever kept, so at most that many queries, on the closest.
    const bounded = setup();
    await bounded.run({ target, seeds: [seed], k: 3, maxCandidates: 5 });
    const tried = bounded.queried().filter((h) => h !== hex(seed));
    expect(tried.length).toBeLessThanOrEqual(5);
    expect(tried.length).toBeGreaterThan(0);
    const closest = new Set(byDistance(many, target).slice(0, 5).map(hex));
    for (const h of tried) expect(closest.has(h)).toBe(true);
  });

  it('ignores contacts that accept() turns down and finishes with what answered', async () => {
    const net = new FakeNet();
    const target = idOf('accept');
    const a = idOf('acc-a');
    const bad = idOf('acc-bad');
    net.set(a, { returns: [bad] });
    net.set(bad, {});
    const p = lookup<string>({
      target,
      selfId: idOf('self'),
      k: 3,
      alpha: 3,
      seeds: [net.peer(a)],
      query: net.query(target),
      accept: (c) => (hex(c.id) === hex(bad) ? undefined : net.accept(c)),
    });
    const result = await net.clock.run(p);
    expect(net.queried()).toEqual([hex(a)]);
    expect(result.closest.map((x) => hex(x.id))).toEqual([hex(a)]);
  });

  it('probes: a far contact asked in the first round leads past seeds that list only each other', async () => {
    const target = idOf('target');
    const all = Array.from({ length: 40 }, (_, i) => idOf(`probe-topology ${i}`));
    const sorted = byDistance(all, target);
    const honest = sorted.slice(0, 3);
    const liars = sorted.slice(3, 6);
    const probe = sorted[39]!;
    const net = new FakeNet();
    for (const l of liars) net.set(l, { returns: liars });
    for (const h of honest) net.set(h, { returns: honest });
    // The probe is far and slow to answer, but the lookup waits for it.
    net.set(probe, { returns: honest, delay: 50 });
    const without = await net.run({ target, seeds: liars });
    expect(without.result.closest.map((p) => hex(p.id))).toEqual(liars.map(hex));
    const withProbe = await net.run({ target, seeds: liars, probes: [probe] });
    expect(withProbe.result.closest.map((p) => hex(p.id))).toEqual(honest.map(hex));
  });

  it('a probe that fails does not keep the lookup open', async () => {
    const target = idOf('target');
    const near = byDistance(Array.from({ length: 10 }, (_, i) => idOf(`probe-fail ${i}`)), target);
    const net = new FakeNet();
    for (const n of near.slice(0, 3)) net.set(n, { returns: near.slice(0, 3) });
    net.set(near[9]!, { fails: true, delay: 200 });
    const { result, at } = await net.run({ target, seeds: near.slice(0, 3), probes: [near[9]!] });
    expect(result.closest).toHaveLength(3);
    expect(at).toBe(200);
  });

  it('finishes at once with nothing to ask', async () => {
    const net = new FakeNet();
    const { result } = await net.run({ target: idOf('x'), seeds: [] });
    expect(result.closest).toEqual([]);
    expect(result.queried).toBe(0);
  });
});

describe('lookup: send budgets of a candidate (the reflection guard)', () => {
  it('a candidate that every reply lists keeps at most 4 budgets, the fullest ones', async () => {
    const clock = new SimClock(0);
    const target = idOf('budget-target');
    const listed = idOf('listed-by-everyone');
    const seeds = Array.from({ length: 8 }, (_, i) => idOf(`budget-seed-${i}`));
    const at = (id: NodeId): LookupPeer => {
      const address = encodeIpPort(AddressKind.SIM, { ip: `10.9.${id[0]}.${id[1]}`, port: 4000 });
      return { id, address, addresses: [address] };
    };
    let candidate: LookupPeer | undefined;
    const p = lookup<string>({
      target,
      selfId: idOf('self'),
      k: 8,
      alpha: 8,
      seeds: seeds.map(at),
      // Seed i answers after 10 + i ms with a reply of 100 × (i + 1) bytes that lists the same stranger.
      query: (peer) => {
        const i = seeds.findIndex((s) => hex(s) === hex(peer.id));
        return new Promise((resolve) => clock.setTimeout(() => resolve({ contacts: [{ id: listed, addresses: at(listed).addresses }], bytes: 100 * (i + 1) }), 10 + i));
      },
      accept: (c, _from, budget) => (candidate = { ...at(c.id), ...(budget ? { budgets: [budget] } : {}) }),
      // Never affordable: it stays a fresh candidate while every reply lists it.
      affordable: (peer) => hex(peer.id) !== hex(listed),
    });
    await clock.run(p, 10_000);
    expect(candidate?.budgets?.map((b) => b.left).sort((a, b) => a - b)).toEqual([500, 600, 700, 800]);
  });
});

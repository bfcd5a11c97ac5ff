import { afterEach, describe, expect, it } from 'vitest';
import type { DHT } from '../../src/dht.js';
import { equalIds, type NodeId } from '../../src/id.js';
import { Lookups, type LookupMode } from '../../src/lookup/lookups.js';
import { createTestnet, type Testnet } from '../helpers/testnet.js';

let tn: Testnet | undefined;
const nodes = Lookups.prototype.nodes;
afterEach(async () => {
  Lookups.prototype.nodes = nodes;
  await tn?.close();
  tn = undefined;
});

interface Refresh {
  lookups: Lookups;
  bucket: number;
  contactsBefore: number;
  seededWithStrangers: boolean;
  queried: number;
}

describe('join', () => {
  // 250 nodes: ~6 s on a quiet machine, several times that on a loaded one.
  it('refreshes only the empty buckets nearer the root than its nearest neighbour, asking one stranger when it heard of one, and leaves none of them empty', { timeout: 120_000 }, async () => {
    tn = await createTestnet(250, { seed: 11 });
    // Every join refresh of every node from here on (a refresh is a node lookup with a query budget).
    const refreshes: Refresh[] = [];
    Lookups.prototype.nodes = async function (this: Lookups, target: NodeId, signal: AbortSignal, mode: LookupMode = {}) {
      const owner = tn!.nodes.find((n) => n.internals.lookups === this);
      if (!owner || mode.maxQueries === undefined || equalIds(target, owner.identity.id)) return nodes.call(this, target, signal, mode);
      const table = owner.internals.table;
      const bucket = table.bucketIndex(target);
      const contactsBefore = table.bucketSize(bucket);
      const result = await nodes.call(this, target, signal, mode);
      refreshes.push({ lookups: this, bucket, contactsBefore, seededWithStrangers: mode.seeds !== undefined, queried: result.queried });
      return result;
    };
    const newcomers: DHT[] = [];
    for (let i = 0; i < 8; i++) newcomers.push(await tn.addNode());
    const mine = refreshes.filter((r) => newcomers.some((n) => n.internals.lookups === r.lookups));
    // Eight joins into 250 nodes refresh a few buckets each (the self-lookup fills the rest).
    expect(mine.length).toBeGreaterThanOrEqual(8);
    for (const r of mine) {
      expect(r.contactsBefore).toBe(0);
      expect(r.queried).toBeLessThanOrEqual(r.seededWithStrangers ? 1 : 3);
    }
    // Kademlia's guarantee still holds: a bucket nearer the root than the nearest neighbour holds
    // a contact whenever the swarm has a node there, so every part of the ID space is reachable.
    for (const n of newcomers) {
      const table = n.internals.table;
      const nearest = table.closest(n.identity.id, 1)[0]!;
      for (let i = 0; i < table.bucketIndex(nearest.id); i++) {
        const inSwarm = tn.nodes.some((o) => o !== n && table.bucketIndex(o.identity.id) === i);
        if (inSwarm) expect(table.bucketSize(i), `bucket ${i}`).toBeGreaterThan(0);
      }
    }
  });
});

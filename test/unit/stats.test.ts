/**
 * `DHT.stats()` is typed by name (src/stats.ts): a misspelt counter is a compile error
 * (test/types/public-api.ts). That only helps while the list is complete, so: every name the
 * engine counts in src/ is listed, and a busy swarm reports no key outside the type.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DHT_COUNTERS } from '../../src/stats.js';
import { ROOT } from '../helpers/build.js';
import { createTestnet } from '../helpers/testnet.js';

const ALWAYS = ['contacts', 'records', 'mutableRecords', 'storedBytes', 'pendingRequests'];
const TRANSPORT_KEY = /^(udp|webrtc|ws|sim)\.[A-Za-z.]+$/;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('DHT.stats() keys', () => {
  it('every counter name the engine counts is listed in DHT_COUNTERS', () => {
    const counted = new Set<string>();
    for (const file of sources(join(ROOT, 'src'))) {
      // count('x'), #count('x'), ctx.count(cond ? 'x' : 'y'), options.count('x') …
      for (const call of readFileSync(file, 'utf8').matchAll(/\bcount\(([^()]*)\)/g)) {
        for (const name of call[1]!.matchAll(/'([A-Za-z]+)'/g)) counted.add(name[1]!);
      }
    }
    expect(counted.size).toBeGreaterThan(20);
    const listed = new Set<string>(DHT_COUNTERS);
    expect([...counted].filter((n) => !listed.has(n)), 'add these to DHT_COUNTERS in src/stats.ts').toEqual([]);
  });

  it('a swarm that stored, fetched and deleted reports only typed keys', async () => {
    const tn = await createTestnet(12, { loss: 0.05 });
    try {
      const key = await tn.run(tn.nodes[2]!.put('label', 'content'));
      await tn.run(tn.nodes[9]!.get(key));
      await tn.run(tn.nodes[2]!.delete(key));
      await tn.run(tn.nodes[3]!.putMutable('v1'));
      await tn.run(tn.nodes[3]!.putMutable('v2'));
      await tn.run(tn.nodes[8]!.getMutable(tn.nodes[3]!.identity.publicKey));
      const listed = new Set<string>([...DHT_COUNTERS, ...ALWAYS]);
      for (const node of tn.nodes) {
        const stats = node.stats();
        const untyped = Object.keys(stats).filter((k) => !listed.has(k) && !TRANSPORT_KEY.test(k));
        expect(untyped).toEqual([]);
        for (const k of ALWAYS) expect(typeof (stats as Record<string, unknown>)[k]).toBe('number');
      }
      // The counters really are there under their typed names.
      expect(tn.nodes[2]!.stats().sent).toBeGreaterThan(0);
      expect(tn.nodes[9]!.stats().received).toBeGreaterThan(0);
    } finally {
      await tn.close();
    }
  });
});

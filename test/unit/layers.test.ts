/**
 * The layering of src/ stays as docs/ARCHITECTURE.md draws it: every import points to a lower layer
 * (or within its own folder), and there is no import cycle. A new file must be given a layer here.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** Bottom to top. A path matches the first entry that is its file or a folder containing it. */
const LAYERS: string[][] = [
  ['bytes.ts', 'id.ts', 'errors.ts', 'clock.ts', 'lru.ts', 'events.ts', 'abort.ts', 'random.ts', 'rate-limit.ts', 'ip-prefix.ts', 'dom-types.ts'],
  ['crypto/'],
  ['wire/'],
  ['network.ts'],
  ['transport/'],
  ['rpc/'],
  ['routing/'],
  ['lookup/'],
  ['storage/'],
  ['serve.ts', 'serve-mutable.ts'],
  ['ops/'],
  ['relay/'],
  ['maintenance.ts'],
  ['engine.ts'],
  ['views.ts', 'stats.ts'],
  ['dht.ts'],
  ['assemble.ts', 'testnet.ts', 'identity-store.ts', 'identity-slots.ts', 'contacts-store.ts'],
  ['browser-node.ts'],
  ['index.ts'],
  ['node/'],
];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

function layerOf(rel: string): number {
  const i = LAYERS.findIndex((entries) => entries.some((e) => (e.endsWith('/') ? rel.startsWith(e) : rel === e)));
  if (i < 0) throw new Error(`${rel} has no layer in test/unit/layers.test.ts`);
  return i;
}

const folder = (rel: string): string => (rel.includes('/') ? rel.slice(0, rel.indexOf('/') + 1) : rel);

/** Relative imports of a file (type-only ones too: they tie the layers together just the same). */
function importsOf(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/g)) {
    out.push(relative(SRC, resolve(dirname(path), m[1]!.replace(/\.js$/, '.ts'))));
  }
  return out;
}

const graph = new Map(files(SRC).map((p) => [relative(SRC, p), importsOf(p)]));

describe('src/ layering', () => {
  it('every import points down (or within its own folder)', () => {
    const upward: string[] = [];
    for (const [file, imports] of graph) {
      for (const target of imports) {
        if (folder(file) === folder(target) && file.includes('/')) continue;
        if (layerOf(target) > layerOf(file)) upward.push(`${file} → ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import cycle', () => {
    const state = new Map<string, 'visiting' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'visiting') return void cycles.push([...path.slice(path.indexOf(file)), file].join(' → '));
      state.set(file, 'visiting');
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });
});

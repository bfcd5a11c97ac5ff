/**
 * The published source maps are usable: each carries the TypeScript it maps to (`inlineSources`),
 * since src/ is not in the package. A debugger or a bundler's map then shows real source lines.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { consumerProject } from '../helpers/consumer.js';

function maps(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? maps(join(dir, e.name)) : e.name.endsWith('.js.map') ? [join(dir, e.name)] : [],
  );
}

describe('source maps in the installed package', () => {
  let dist: string;
  beforeAll(() => {
    dist = join(consumerProject().dir, 'node_modules', 'spydht', 'dist');
  }, 120_000);

  it('every .js has a map, and every map holds the full source of every file it names', () => {
    const files = maps(dist);
    expect(files.length).toBeGreaterThan(40);
    for (const file of files) {
      const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[]; sourcesContent?: (string | null)[] };
      expect(map.sourcesContent?.length, file).toBe(map.sources.length);
      for (const content of map.sourcesContent ?? []) expect(content?.length, file).toBeGreaterThan(0);
    }
    const dht = JSON.parse(readFileSync(join(dist, 'dht.js.map'), 'utf8')) as { sourcesContent: string[] };
    expect(dht.sourcesContent[0]).toContain('export class DHT');
  });
});

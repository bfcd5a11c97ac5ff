/**
 * Worker and bundle tests run the built package (dist/): a worker thread loads real JS files, and a
 * bundler resolves 'spydht' to the package's exports. `npm test` builds first; run `npm run build`
 * before running these files alone.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** src files whose build these tests rely on. */
function sources(): string[] {
  const crypto = readdirSync(join(ROOT, 'src', 'crypto'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join('crypto', f));
  return ['index.ts', 'identity-store.ts', ...crypto];
}

/** Throws unless dist/ exists and is at least as new as the sources these tests rely on. */
export function assertBuilt(): void {
  const stale: string[] = [];
  for (const rel of sources()) {
    const src = join(ROOT, 'src', rel);
    const out = join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'));
    if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) stale.push(rel);
  }
  if (stale.length > 0) {
    throw new Error(`dist/ is missing or older than src (${stale.join(', ')}): run \`npm run build\` first`);
  }
}

export const DIST_INDEX_URL = pathToFileURL(join(ROOT, 'dist', 'index.js')).href;

/** The built package, typed as its source. */
export async function importDist(): Promise<typeof import('../../src/index.js')> {
  assertBuilt();
  return (await import(/* @vite-ignore */ DIST_INDEX_URL)) as typeof import('../../src/index.js');
}

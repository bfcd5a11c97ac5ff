/**
 * The repository's root, and a check that the build (dist/) is there and current. Tests that run
 * the built package (worker threads, child processes, bundlers, browsers) call `assertBuilt()`
 * first, so a missing or stale build fails at once with what to do instead of as a confusing
 * failure later on. `npm test` builds first; run `npm run build` before running those files alone.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Every .ts file under `dir`, recursively. */
function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/** Throws, naming the files, unless every src/ file has its dist/ build and none is newer than it. */
export function assertBuilt(): void {
  const src = join(ROOT, 'src');
  const stale = sources(src)
    .map((file) => relative(src, file))
    .filter((rel) => {
      const out = join(ROOT, 'dist', rel.replace(/\.ts$/, '.js'));
      return !existsSync(out) || statSync(out).mtimeMs < statSync(join(src, rel)).mtimeMs;
    });
  if (stale.length > 0) {
    const shown = stale.length > 5 ? `${stale.slice(0, 5).join(', ')} and ${stale.length - 5} more` : stale.join(', ');
    throw new Error(`dist/ is missing or older than src/ (${shown}): run \`npm run build\` first`);
  }
}

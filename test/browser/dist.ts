/**
 * Worker tests run the built package (dist/): a worker thread loads real JS files. `npm test`
 * builds first; run `npm run build` before running these files alone.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT, assertBuilt } from '../helpers/build.js';

export const DIST_INDEX_URL = pathToFileURL(join(ROOT, 'dist', 'index.js')).href;

/** The built package, typed as its source. */
export async function importDist(): Promise<typeof import('../../src/index.js')> {
  assertBuilt();
  return (await import(/* @vite-ignore */ DIST_INDEX_URL)) as typeof import('../../src/index.js');
}

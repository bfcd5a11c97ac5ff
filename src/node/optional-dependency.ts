/**
 * Optional dependencies. `node-datachannel` (WebRTC in Node, a native binary) and `ws` (the
 * signaling server's WebSocket) are peer dependencies that npm does not install by itself, so an
 * app that only runs a page, or only UDP nodes, never downloads them. The code that needs one
 * imports it here, on first use, and says which command installs it when it is missing.
 */
import { SpydhtError } from '../errors.js';

/** Runs `load` (a literal `import('pkg')`, so the module keeps its types); a missing `pkg` becomes MISSING_DEPENDENCY. */
export async function importOptional<T>(pkg: string, feature: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (isMissing(err, pkg)) {
      throw new SpydhtError('MISSING_DEPENDENCY', `${feature} needs the package "${pkg}", which is not installed: run  npm install ${pkg}`, { cause: err });
    }
    throw err;
  }
}

/** Node's "cannot find package" error for `pkg` itself (not for something `pkg` failed to load). */
export function isMissing(err: unknown, pkg: string): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' && e?.code !== 'MODULE_NOT_FOUND') return false;
  return typeof e.message === 'string' && (e.message.includes(`'${pkg}'`) || e.message.includes(`'${pkg}/`) || e.message.includes(`"${pkg}"`));
}

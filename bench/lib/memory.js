/**
 * Memory readings for per-node figures: a reading is only comparable with another after garbage
 * collection, so both are taken after a few forced collections.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** gc(): the global one under --expose-gc (how sections run), else enabled late; undefined if impossible. */
function gcFn() {
  if (typeof globalThis.gc === 'function') return globalThis.gc;
  try {
    v8.setFlagsFromString('--expose-gc');
    return vm.runInNewContext('gc');
  } catch {
    return undefined;
  }
}

/**
 * Collects garbage three times, 50 ms apart (finalizers and freed sockets release memory a little
 * later), then reads process.memoryUsage(). `gc` says whether collection was possible at all.
 */
export async function settleMemory() {
  const gc = gcFn();
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  return { gc: Boolean(gc), ...process.memoryUsage() };
}

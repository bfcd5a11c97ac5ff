/**
 * One real 'abort' listener per signal, fanned out to any number of callbacks. A lookup or a
 * replication shares one signal among dozens of requests; adding a listener for each would trip
 * Node's listener-leak warning and grow the signal's listener list with every request.
 */
const watchers = new WeakMap<AbortSignal, Set<() => void>>();

/** Calls `fn` once when `signal` aborts; returns a function that unregisters it. */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  let set = watchers.get(signal);
  if (!set) {
    const callbacks = new Set<() => void>();
    set = callbacks;
    watchers.set(signal, callbacks);
    signal.addEventListener(
      'abort',
      () => {
        const all = [...callbacks];
        callbacks.clear();
        for (const f of all) f();
      },
      { once: true },
    );
  }
  const s = set;
  s.add(fn);
  return () => {
    s.delete(fn);
  };
}

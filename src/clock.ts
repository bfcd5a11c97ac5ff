/**
 * All engine time goes through a Clock so a simulation can run hours of virtual time in seconds.
 * Times are milliseconds; `now()` is wall-clock-like (record expiry is compared with it).
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

export type TimerHandle = { readonly __timer: unique symbol } | number | object;

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms) as unknown as TimerHandle,
  clearTimeout: (handle) => globalThis.clearTimeout(handle as Parameters<typeof globalThis.clearTimeout>[0]),
};

/**
 * Owns a set of timers so `close()` can clear every one of them, including ones still pending.
 */
export class Timers {
  private readonly live = new Set<TimerHandle>();
  private closed = false;

  constructor(private readonly clock: Clock) {}

  /** Schedules `fn` once; returns a cancel function. After close() it schedules nothing. */
  after(ms: number, fn: () => void): () => void {
    if (this.closed) return () => {};
    const handle = this.clock.setTimeout(() => {
      this.live.delete(handle);
      fn();
    }, ms);
    this.live.add(handle);
    return () => {
      if (this.live.delete(handle)) this.clock.clearTimeout(handle);
    };
  }

  /** Runs `fn` every `ms` until close(). */
  every(ms: number, fn: () => void): () => void {
    let cancel = (): void => {};
    let stopped = false;
    const tick = (): void => {
      if (stopped) return;
      cancel = this.after(ms, () => {
        tick();
        fn();
      });
    };
    tick();
    return () => {
      stopped = true;
      cancel();
    };
  }

  /** Resolves after `ms` of clock time (or never, after close: callers race it with other events). */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.after(ms, resolve));
  }

  get size(): number {
    return this.live.size;
  }

  close(): void {
    this.closed = true;
    for (const h of this.live) this.clock.clearTimeout(h);
    this.live.clear();
  }
}

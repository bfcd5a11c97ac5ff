/**
 * Virtual time for simulations: timers fire in order of their due time, and `run` advances time
 * only as fast as the work allows, so thousands of nodes can live for hours in seconds.
 */
import type { Clock, TimerHandle } from '../clock.js';
import { yieldToEventLoop } from '../crypto/yield.js';

interface Timer {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A binary min-heap on (due, seq). */
class TimerHeap {
  private readonly items: Timer[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Timer | undefined {
    return this.items[0];
  }
  push(t: Timer): void {
    const a = this.items;
    a.push(t);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Timer | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

/** One macrotask turn (the same one proof of work yields with) drains every pending microtask. */
const drainMicrotasks = yieldToEventLoop;

export class SimClock implements Clock {
  #now: number;
  #seq = 0;
  readonly #heap = new TimerHeap();

  /** Starts at a realistic wall-clock time so record expiry arithmetic looks like production. */
  constructor(start = Date.UTC(2026, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const t: Timer = { due: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#heap.push(t);
    return t;
  }

  clearTimeout(handle: TimerHandle): void {
    (handle as Timer).cancelled = true;
  }

  get pendingTimers(): number {
    return this.#heap.size;
  }

  /**
   * Advances virtual time until `until` settles (a promise) or `ms` of virtual time pass.
   * Between batches of same-instant timers it yields one macrotask so async code progresses.
   */
  async run<T>(until: Promise<T>, maxMs = 24 * 3600_000): Promise<T> {
    let settled = false;
    let value: T | undefined;
    let error: unknown;
    let failed = false;
    until.then(
      (v) => {
        settled = true;
        value = v;
      },
      (e) => {
        settled = true;
        failed = true;
        error = e;
      },
    );
    const limit = this.#now + maxMs;
    await drainMicrotasks();
    while (!settled) {
      if (!this.#step(limit)) {
        // No timer left before the limit: give real work (proof of work, crypto) a chance, then stop.
        await drainMicrotasks();
        if (settled) break;
        if (!this.#hasWorkBefore(limit)) throw new Error(`simulation: promise unsettled after ${maxMs} ms of virtual time`);
        continue;
      }
      await drainMicrotasks();
    }
    if (failed) throw error;
    return value as T;
  }

  /** Advances virtual time by `ms`, running everything due. */
  async advance(ms: number): Promise<void> {
    const limit = this.#now + ms;
    while (this.#step(limit)) await drainMicrotasks();
    this.#now = Math.max(this.#now, limit);
    await drainMicrotasks();
  }

  /** Runs all timers due at the next instant (≤ limit); false when there are none. */
  #step(limit: number): boolean {
    let next = this.#heap.peek();
    while (next && next.cancelled) {
      this.#heap.pop();
      next = this.#heap.peek();
    }
    if (!next || next.due > limit) return false;
    const instant = next.due;
    this.#now = Math.max(this.#now, instant);
    while ((next = this.#heap.peek()) && next.due <= instant) {
      this.#heap.pop();
      if (!next.cancelled) next.fn();
    }
    return true;
  }

  #hasWorkBefore(limit: number): boolean {
    const next = this.#heap.peek();
    return next !== undefined && next.due <= limit;
  }
}

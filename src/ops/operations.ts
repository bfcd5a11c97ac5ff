/**
 * Runs operations under one AbortSignal each, which fires on the caller's abort, the deadline, or
 * close(): operations in flight then end with ABORTED, DEADLINE_EXCEEDED or CLOSED instead of
 * finishing against a dead node (a put would otherwise "succeed" with only its local copy).
 */
import { onAbort } from '../abort.js';
import type { Timers } from '../clock.js';
import { SpydhtError } from '../errors.js';

export interface OperationOptions {
  signal?: AbortSignal;
  /** Deadline in ms for this operation (default: the node's operationTimeoutMs). */
  timeoutMs?: number;
}

export class Operations {
  /** Controllers of the operations in flight, so close() can abort them. */
  readonly #running = new Set<AbortController>();
  readonly #timers: Timers;
  readonly #defaultTimeoutMs: number;
  #closed = false;

  constructor(timers: Timers, defaultTimeoutMs: number) {
    this.#timers = timers;
    this.#defaultTimeoutMs = defaultTimeoutMs;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async run<T>(options: OperationOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const outer = options.signal;
    if (outer?.aborted) throw SpydhtError.aborted(outer.reason);
    if (this.#closed) throw SpydhtError.closed();
    const controller = new AbortController();
    this.#running.add(controller);
    const unwatch = outer ? onAbort(outer, () => controller.abort(outer.reason)) : () => {};
    let timedOut = false;
    const cancel = this.#timers.after(options.timeoutMs ?? this.#defaultTimeoutMs, () => {
      timedOut = true;
      controller.abort(SpydhtError.deadline());
    });
    try {
      return await fn(controller.signal);
    } catch (err) {
      if (timedOut) throw SpydhtError.deadline();
      if (this.#closed) throw SpydhtError.closed();
      throw err;
    } finally {
      this.#running.delete(controller);
      cancel();
      unwatch();
    }
  }

  /** Every operation in flight ends with CLOSED; later ones are refused. */
  close(): void {
    this.#closed = true;
    for (const c of [...this.#running]) c.abort(SpydhtError.closed());
  }
}

/**
 * Proof of work and the ID puzzle off the main thread.
 *
 * The search itself is the engine's (`inThreadPowSolver`, `Identity.generate`, run inside the worker
 * by `pow-worker-entry.ts`); this module only owns a small worker pool and one adapter for the two
 * kinds of worker:
 *
 * - Browsers (and Deno/Bun): `new Worker(new URL('./pow-worker-entry.js', import.meta.url), { type: 'module' })`.
 *   Bundlers (Vite, webpack 5, Rollup plugins, esbuild with the pattern) recognise that exact
 *   expression and emit the worker as its own chunk, with no configuration.
 * - Node: `worker_threads.Worker`, obtained with `process.getBuiltinModule('worker_threads')`
 *   (Node ≥ 20.16). No `import` of a Node built-in appears anywhere, so a browser bundle never sees
 *   one, and no bundler needs to stub or polyfill anything.
 *
 * Workers are reused for sequential solves, terminated after `idleTimeoutMs` idle, and in Node
 * `unref()`ed while idle so they never keep a process alive. Aborting a solve terminates its worker.
 */
import { fromHex } from '../bytes.js';
import { SpydhtError } from '../errors.js';
import type { CryptoBackend } from './backend.js';
import { DEFAULT_ID_DIFFICULTY, Identity } from './identity.js';
import { nobleCrypto } from './noble.js';
import { checkPow, type PowSolver } from './pow.js';
import type { WorkerReply, WorkerRequest } from './pow-worker-protocol.js';

export interface WorkerPoolOptions {
  /** Terminate a worker after it has been idle this long. Default 3000 ms. */
  idleTimeoutMs?: number;
  /** Workers that may run at once; further jobs wait in a queue. Default 1. */
  maxWorkers?: number;
  /**
   * The worker script, for hosting it yourself (e.g. a CSP that only allows some origins).
   * Default: `pow-worker-entry.js` next to this module, which bundlers pick up on their own.
   */
  workerUrl?: URL | string;
}

export interface WorkerPowSolverOptions extends WorkerPoolOptions {
  /** Backend used to check each nonce the worker returns (one hash). Default: nobleCrypto. */
  crypto?: CryptoBackend;
}

/** A PowSolver (pass it as `DHTOptions.powSolver`) that can also be shut down. */
export interface WorkerPowSolver extends PowSolver {
  /** Terminates the workers; pending and later solves reject with CLOSED. */
  close(): void;
  /** Workers alive right now (busy or idle): for diagnostics and tests. */
  readonly workers: number;
}

export const DEFAULT_WORKER_IDLE_MS = 3000;
/** Kept out of a `new URL('…', import.meta.url)` literal on purpose: see `spawnNodeWorker`. */
const ENTRY = './pow-worker-entry.js';

// ---------------------------------------------------------------------------------------------
// Adapter: the only place where browsers and Node differ.

interface WorkerHandle {
  post(message: WorkerRequest): void;
  terminate(): void;
  /** Node only: whether the worker keeps the process alive. No-op in browsers. */
  ref(active: boolean): void;
}

interface WorkerEvents {
  message(data: WorkerReply): void;
  error(error: Error): void;
}

interface NodeWorker {
  on(event: 'message', listener: (data: WorkerReply) => void): void;
  on(event: 'error', listener: (err: Error) => void): void;
  on(event: 'exit', listener: (code: number) => void): void;
  postMessage(message: unknown): void;
  terminate(): Promise<number>;
  ref(): void;
  unref(): void;
}

interface NodeWorkerThreads {
  Worker: new (url: URL, options?: { name?: string; execArgv?: string[] }) => NodeWorker;
}

interface NodeProcess {
  getBuiltinModule?: (id: string) => unknown;
  execArgv?: string[];
}

const nodeProcess = (): NodeProcess | undefined => (globalThis as { process?: NodeProcess }).process;

function nodeWorkerThreads(): NodeWorkerThreads | undefined {
  return nodeProcess()?.getBuiltinModule?.('worker_threads') as NodeWorkerThreads | undefined;
}

/**
 * A worker inherits the parent's `execArgv`; `--input-type` (from `node --input-type=module -e …`)
 * makes a worker started from a file fail to load, so it is left out.
 */
function workerExecArgv(): string[] | undefined {
  const argv = nodeProcess()?.execArgv ?? [];
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--input-type') i++;
    else if (!argv[i]!.startsWith('--input-type=')) kept.push(argv[i]!);
  }
  return kept.length === argv.length ? undefined : kept;
}

function spawnWebWorker(url: URL | string | undefined, events: WorkerEvents): WorkerHandle {
  // The literal `new Worker(new URL('./…', import.meta.url), { type: 'module' })` is what bundlers look for.
  const worker =
    url === undefined
      ? new Worker(new URL('./pow-worker-entry.js', import.meta.url), { type: 'module', name: 'spydht-pow' })
      : new Worker(url, { type: 'module', name: 'spydht-pow' });
  worker.onmessage = (event: MessageEvent<WorkerReply>) => events.message(event.data);
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    events.error(new Error(`proof-of-work worker failed: ${event.message || 'could not load the worker script'}`));
  };
  worker.onmessageerror = () => events.error(new Error('proof-of-work worker sent an unreadable message'));
  return {
    post: (message) => worker.postMessage(message),
    terminate: () => worker.terminate(),
    ref: () => {},
  };
}

function spawnNodeWorker(threads: NodeWorkerThreads, url: URL | string | undefined, events: WorkerEvents): WorkerHandle {
  // Not a `new URL('literal', import.meta.url)`: bundlers would copy that file as a raw asset
  // into browser builds, where this branch never runs.
  const href = url ?? new URL(ENTRY, import.meta.url);
  const execArgv = workerExecArgv();
  const worker = new threads.Worker(typeof href === 'string' ? new URL(href) : href, execArgv ? { name: 'spydht-pow', execArgv } : { name: 'spydht-pow' });
  let terminated = false;
  worker.on('message', (data) => events.message(data));
  worker.on('error', (err) => events.error(new Error(`proof-of-work worker failed: ${err.message}`, { cause: err })));
  worker.on('exit', (code) => {
    if (!terminated) events.error(new Error(`proof-of-work worker exited with code ${code}`));
  });
  return {
    post: (message) => worker.postMessage(message),
    terminate: () => {
      terminated = true;
      void worker.terminate();
    },
    ref: (active) => (active ? worker.ref() : worker.unref()),
  };
}

function spawnWorker(url: URL | string | undefined, events: WorkerEvents): WorkerHandle {
  if (typeof globalThis.Worker === 'function') return spawnWebWorker(url, events);
  const threads = nodeWorkerThreads();
  if (threads) return spawnNodeWorker(threads, url, events);
  throw new Error('no Worker in this environment (needs a browser, or Node ≥ 20.16)');
}

// ---------------------------------------------------------------------------------------------
// Pool: sequential reuse, a queue, abort, idle shutdown.

type Job = { kind: 'pow'; input: Uint8Array; target: string } | { kind: 'identity'; difficulty: number };

interface Pending {
  id: number;
  job: Job;
  resolve(reply: WorkerReply & { ok: true }): void;
  reject(err: unknown): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  slot: Slot | undefined;
}

interface Slot {
  handle: WorkerHandle;
  job: Pending | undefined;
  idleTimer: ReturnType<typeof setTimeout> | undefined;
}

class WorkerPool {
  readonly #idleMs: number;
  readonly #max: number;
  readonly #url: URL | string | undefined;
  readonly #slots = new Set<Slot>();
  readonly #queue: Pending[] = [];
  #nextId = 1;
  #closed = false;

  constructor(options: WorkerPoolOptions) {
    this.#idleMs = Math.max(0, options.idleTimeoutMs ?? DEFAULT_WORKER_IDLE_MS);
    this.#max = Math.max(1, Math.floor(options.maxWorkers ?? 1));
    this.#url = options.workerUrl;
  }

  run(job: Job, signal?: AbortSignal): Promise<WorkerReply & { ok: true }> {
    if (this.#closed) return Promise.reject(SpydhtError.closed());
    if (signal?.aborted) return Promise.reject(SpydhtError.aborted(signal.reason));
    return new Promise((resolve, reject) => {
      const pending: Pending = { id: this.#nextId++, job, resolve, reject, signal, onAbort: undefined, slot: undefined };
      if (signal) {
        pending.onAbort = () => this.#abort(pending);
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.#queue.push(pending);
      this.#pump();
    });
  }

  get size(): number {
    return this.#slots.size;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#queue.splice(0)) this.#settle(pending, SpydhtError.closed());
    for (const slot of [...this.#slots]) {
      const pending = slot.job;
      this.#drop(slot);
      if (pending) this.#settle(pending, SpydhtError.closed());
    }
  }

  #abort(pending: Pending): void {
    const at = this.#queue.indexOf(pending);
    if (at >= 0) this.#queue.splice(at, 1);
    // A running search cannot be interrupted between hashes: the worker goes, a fresh one takes the next job.
    if (pending.slot) this.#drop(pending.slot);
    this.#settle(pending, SpydhtError.aborted(pending.signal?.reason));
    this.#pump();
  }

  #settle(pending: Pending, err: unknown, reply?: WorkerReply & { ok: true }): void {
    if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
    pending.onAbort = undefined;
    pending.slot = undefined;
    if (reply) pending.resolve(reply);
    else pending.reject(err);
  }

  #pump(): void {
    while (this.#queue.length > 0 && !this.#closed) {
      let slot = [...this.#slots].find((s) => !s.job);
      if (!slot) {
        if (this.#slots.size >= this.#max) return;
        try {
          slot = this.#spawn();
        } catch (err) {
          for (const pending of this.#queue.splice(0)) this.#settle(pending, err);
          return;
        }
      }
      const pending = this.#queue.shift()!;
      if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer);
      slot.idleTimer = undefined;
      slot.job = pending;
      pending.slot = slot;
      slot.handle.ref(true);
      slot.handle.post({ id: pending.id, ...pending.job });
    }
  }

  #spawn(): Slot {
    const slot: Slot = { handle: undefined!, job: undefined, idleTimer: undefined };
    slot.handle = spawnWorker(this.#url, {
      message: (reply) => this.#onReply(slot, reply),
      error: (err) => this.#onError(slot, err),
    });
    this.#slots.add(slot);
    return slot;
  }

  #onReply(slot: Slot, reply: WorkerReply): void {
    const pending = slot.job;
    if (!this.#slots.has(slot) || reply.id === undefined || !pending || reply.id !== pending.id) return;
    slot.job = undefined;
    if (reply.ok) this.#settle(pending, undefined, reply);
    else this.#settle(pending, new Error(`proof-of-work worker: ${reply.message}`));
    this.#idle(slot);
    this.#pump();
  }

  #onError(slot: Slot, err: Error): void {
    if (!this.#slots.has(slot)) return;
    const pending = slot.job;
    this.#drop(slot);
    if (pending) this.#settle(pending, err);
    this.#pump();
  }

  #idle(slot: Slot): void {
    if (slot.job) return;
    slot.handle.ref(false);
    const timer = setTimeout(() => {
      if (!slot.job) this.#drop(slot);
    }, this.#idleMs);
    (timer as { unref?: () => void }).unref?.();
    slot.idleTimer = timer;
  }

  #drop(slot: Slot): void {
    if (!this.#slots.delete(slot)) return;
    if (slot.idleTimer !== undefined) clearTimeout(slot.idleTimer);
    slot.idleTimer = undefined;
    slot.job = undefined;
    slot.handle.terminate();
  }
}

// ---------------------------------------------------------------------------------------------
// Public API.

/**
 * A PowSolver that searches in a worker (same contract as `inThreadPowSolver`: resolves to an
 * 8-byte nonce, rejects with ABORTED when `signal` aborts). Every nonce is checked on the calling
 * thread before it is returned.
 */
export function createWorkerPowSolver(options: WorkerPowSolverOptions = {}): WorkerPowSolver {
  const crypto = options.crypto ?? nobleCrypto;
  const pool = new WorkerPool(options);
  const solver = async (input: Uint8Array, target: bigint, signal?: AbortSignal): Promise<Uint8Array> => {
    const reply = await pool.run({ kind: 'pow', input: Uint8Array.from(input), target: target.toString(16) }, signal);
    if (!('nonce' in reply) || !checkPow(crypto, input, reply.nonce, target)) {
      throw new Error('proof-of-work worker returned an invalid nonce');
    }
    return reply.nonce;
  };
  return Object.defineProperties(solver as WorkerPowSolver, {
    close: { value: () => pool.close() },
    workers: { get: () => pool.size },
  });
}

export interface GenerateIdentityInWorkerOptions extends WorkerPoolOptions {
  /** Backend of the returned Identity (signing). Default: nobleCrypto. */
  crypto?: CryptoBackend;
  /** ID puzzle difficulty. Default: DEFAULT_ID_DIFFICULTY. */
  difficulty?: number;
  signal?: AbortSignal;
  /**
   * Workers searching at once (the first to find a key wins, the others are terminated). Default:
   * one less than the machine's logical cores (`navigator.hardwareConcurrency`), at least 1 and at
   * most 4: the search divides across idle cores, and one core stays for the page loading beside
   * it (on a saturated 2-core machine a second searcher only added its start-up cost).
   */
  maxWorkers?: number;
}

/** Searchers for the ID puzzle when not told: every core but one, up to 4 (each worker costs a few MB). */
const MAX_DEFAULT_SEARCHERS = 4;

function defaultSearchers(): number {
  const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof cores === 'number' && cores >= 2 ? Math.min(MAX_DEFAULT_SEARCHERS, Math.floor(cores) - 1) : 1;
}

/**
 * Like `Identity.generate`, but the key search runs in workers (one per core by default, racing:
 * a search is a run of independent random tries, so n searchers take 1/n of the time); only the
 * found seed comes back, and the Identity is rebuilt (and its puzzle re-checked) on the calling
 * thread.
 */
export async function generateIdentityInWorker(options: GenerateIdentityInWorkerOptions = {}): Promise<Identity> {
  const crypto = options.crypto ?? nobleCrypto;
  const difficulty = options.difficulty ?? DEFAULT_ID_DIFFICULTY;
  const searchers = Math.max(1, Math.floor(options.maxWorkers ?? defaultSearchers()));
  const pool = new WorkerPool({ ...options, maxWorkers: searchers });
  try {
    const runs = Array.from({ length: searchers }, () => pool.run({ kind: 'identity', difficulty }, options.signal));
    let reply: WorkerReply & { ok: true };
    try {
      reply = await Promise.any(runs);
    } catch (err) {
      // Every searcher failed (abort, or no worker could start): report the first reason.
      throw err instanceof AggregateError ? err.errors[0] : err;
    }
    if (!('seed' in reply)) throw new Error('proof-of-work worker returned no seed');
    return Identity.fromSeed(crypto, fromHex(reply.seed), difficulty);
  } finally {
    // Terminates the searchers still running; their runs reject with CLOSED, already handled above.
    pool.close();
  }
}

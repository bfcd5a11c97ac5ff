/** Messages between `pow-worker.ts` (main thread) and `pow-worker-entry.ts` (the worker). Types only. */

export type WorkerRequest =
  /** Proof of work: `target` is the bigint target in hex (no prefix). */
  | { id: number; kind: 'pow'; input: Uint8Array; target: string }
  /** ID puzzle: a seed whose identity solves `difficulty`. */
  | { id: number; kind: 'identity'; difficulty: number };

export type WorkerReply =
  | { ready: true; id?: undefined }
  | { id: number; ok: true; nonce: Uint8Array }
  | { id: number; ok: true; seed: string }
  | { id: number; ok: false; message: string };

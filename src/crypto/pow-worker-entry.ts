/**
 * The worker side of `createWorkerPowSolver` / `generateIdentityInWorker`: runs the engine's own
 * search loops (`inThreadPowSolver`, `Identity.generate`) on @noble, one job at a time. In a browser
 * an identity is searched with the platform's Ed25519 key generation when it has one
 * (`searchIdentitySeed`: faster, most of all in the tail), else with @noble.
 *
 * Runs unchanged as a browser module Worker and as a Node `worker_threads` Worker: both expose
 * an EventTarget-style port with `addEventListener('message')` and `postMessage`. It imports no
 * Node built-in; in Node, `parentPort` is looked up with `process.getBuiltinModule` (Node ≥ 20.16).
 */
import { toHex } from '../bytes.js';
import { Identity } from './identity.js';
import { searchIdentitySeed } from './identity-search.js';
import { nobleCrypto } from './noble.js';
import { inThreadPowSolver } from './pow.js';
import type { WorkerReply, WorkerRequest } from './pow-worker-protocol.js';

interface Endpoint {
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
const nodeParent = (proc?.getBuiltinModule?.('worker_threads') as { parentPort?: Endpoint | null } | undefined)?.parentPort;
const port: Endpoint = nodeParent ?? (globalThis as unknown as Endpoint);
/**
 * The platform's key generation, in a browser only. Node 20 aborts the whole process when a
 * worker_threads Worker is terminated while a WebCrypto key generation is in its thread pool
 * ("FATAL ERROR: v8::ToLocalChecked Empty MaybeLocal" in KeyPairGenTraits), and the pool terminates
 * the searchers that lose a race or are aborted.
 */
const subtle = nodeParent ? undefined : (globalThis as { crypto?: { subtle?: SubtleCrypto } }).crypto?.subtle;
const solve = inThreadPowSolver(nobleCrypto);

async function run(request: WorkerRequest): Promise<WorkerReply> {
  try {
    if (request.kind === 'pow') {
      const nonce = await solve(request.input, BigInt('0x' + request.target));
      return { id: request.id, ok: true, nonce };
    }
    const seed = subtle ? await searchIdentitySeed(subtle, request.difficulty) : undefined;
    if (seed) return { id: request.id, ok: true, seed: toHex(seed) };
    const identity = await Identity.generate({ crypto: nobleCrypto, difficulty: request.difficulty });
    return { id: request.id, ok: true, seed: identity.toJSON().seed };
  } catch (err) {
    return { id: request.id, ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}

port.addEventListener('message', (event) => {
  const request = event.data as WorkerRequest;
  if (!request || typeof request.id !== 'number') return;
  void run(request).then((reply) => port.postMessage(reply));
});
port.postMessage({ ready: true } satisfies WorkerReply);

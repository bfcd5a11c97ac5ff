/**
 * The worker side of `createWorkerPowSolver` / `generateIdentityInWorker`: runs the engine's own
 * search loops (`inThreadPowSolver`, `Identity.generate`) on @noble, one job at a time.
 *
 * Runs unchanged as a browser module Worker and as a Node `worker_threads` Worker: both expose
 * an EventTarget-style port with `addEventListener('message')` and `postMessage`. It imports no
 * Node built-in; in Node, `parentPort` is looked up with `process.getBuiltinModule` (Node ≥ 20.16).
 */
import { Identity } from './identity.js';
import { nobleCrypto } from './noble.js';
import { inThreadPowSolver } from './pow.js';
import type { WorkerReply, WorkerRequest } from './pow-worker-protocol.js';

interface Endpoint {
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  postMessage(message: unknown): void;
}

function endpoint(): Endpoint {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const workerThreads = proc?.getBuiltinModule?.('worker_threads') as { parentPort?: Endpoint | null } | undefined;
  return workerThreads?.parentPort ?? (globalThis as unknown as Endpoint);
}

const port = endpoint();
const solve = inThreadPowSolver(nobleCrypto);

async function run(request: WorkerRequest): Promise<WorkerReply> {
  try {
    if (request.kind === 'pow') {
      const nonce = await solve(request.input, BigInt('0x' + request.target));
      return { id: request.id, ok: true, nonce };
    }
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

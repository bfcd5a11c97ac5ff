/**
 * createWorkerPowSolver / generateIdentityInWorker in Node (worker_threads), from the built package.
 * The same module runs as a Web Worker in Chromium: see test/bundle.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { idPuzzleBits } from '../../src/crypto/identity.js';
import { checkPow, powTarget } from '../../src/crypto/pow.js';
import type { LoadOrCreateIdentityOptions } from '../../src/identity-store.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { ROOT } from '../helpers/build.js';
import { until } from '../helpers/wait.js';
import { DIST_INDEX_URL, importDist } from './dist.js';

let spydht: Awaited<ReturnType<typeof importDist>>;
beforeAll(async () => {
  spydht = await importDist();
});

const rand = (n: number): Uint8Array => new Uint8Array(randomBytes(n));
/** ~2^12 hashes: a few ms to tens of ms. */
const EASY = powTarget(1n << 12n);
/** Needs the first 8 hash bytes all zero: never found in a test's lifetime. */
const IMPOSSIBLE = 0n;

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
}

describe('createWorkerPowSolver (Node worker_threads)', () => {
  it('returns valid nonces and reuses one worker for sequential solves', async () => {
    const solver = spydht.createWorkerPowSolver();
    expect(solver.workers).toBe(0);
    try {
      for (let i = 0; i < 8; i++) {
        const input = rand(32);
        const nonce = await solver(input, EASY);
        expect(nonce).toHaveLength(8);
        expect(checkPow(nodeCrypto, input, nonce, EASY)).toBe(true);
        expect(solver.workers).toBe(1);
      }
    } finally {
      solver.close();
    }
    expect(solver.workers).toBe(0);
  });

  it('a trivial target (work 1) returns at once', async () => {
    const solver = spydht.createWorkerPowSolver();
    try {
      const input = rand(32);
      const target = powTarget(1n);
      expect(checkPow(nodeCrypto, input, await solver(input, target), target)).toBe(true);
    } finally {
      solver.close();
    }
  });

  it('concurrent solves queue on maxWorkers workers', async () => {
    const solver = spydht.createWorkerPowSolver({ maxWorkers: 2 });
    try {
      const inputs = Array.from({ length: 6 }, () => rand(32));
      const nonces = await Promise.all(inputs.map((input) => solver(input, EASY)));
      nonces.forEach((nonce, i) => expect(checkPow(nodeCrypto, inputs[i]!, nonce, EASY)).toBe(true));
      expect(solver.workers).toBe(2);
    } finally {
      solver.close();
    }
  });

  it('keeps the main thread responsive: a 10 ms interval keeps ticking during solves', async () => {
    const solver = spydht.createWorkerPowSolver();
    const target = powTarget(1n << 15n); // ~0.1–0.3 s with noble in one core
    const ticks: number[] = [];
    const timer = setInterval(() => ticks.push(performance.now()), 10);
    const start = performance.now();
    try {
      // Keep solving until at least 600 ms of work has run (solve times are geometric).
      while (performance.now() - start < 600) {
        const input = rand(32);
        expect(checkPow(nodeCrypto, input, await solver(input, target), target)).toBe(true);
      }
    } finally {
      clearInterval(timer);
      solver.close();
    }
    const elapsed = performance.now() - start;
    const gaps = ticks.slice(1).map((t, i) => t - ticks[i]!);
    const maxGap = Math.max(...gaps);
    console.log(`worker PoW: ${elapsed.toFixed(0)} ms, ${ticks.length} ticks of 10 ms, max gap ${maxGap.toFixed(1)} ms`);
    expect(ticks.length).toBeGreaterThan((elapsed / 10) * 0.5);
    expect(maxGap).toBeLessThan(100);
  });

  it('abort rejects with ABORTED at once and terminates the worker', async () => {
    const solver = spydht.createWorkerPowSolver();
    const ac = new AbortController();
    const pending = solver(rand(32), IMPOSSIBLE, ac.signal);
    await until(() => solver.workers === 1, 'the worker to start solving');
    const t0 = performance.now();
    ac.abort(new Error('user gave up'));
    const err = await rejection(pending);
    expect(performance.now() - t0).toBeLessThan(50);
    expect(spydht.isSpydhtError(err, 'ABORTED')).toBe(true);
    expect(solver.workers).toBe(0);
    // The solver still works afterwards, on a fresh worker.
    const input = rand(32);
    expect(checkPow(nodeCrypto, input, await solver(input, EASY), EASY)).toBe(true);
    solver.close();
  });

  it('an already-aborted signal rejects without starting a worker', async () => {
    const solver = spydht.createWorkerPowSolver();
    const err = await rejection(solver(rand(32), EASY, AbortSignal.abort()));
    expect(spydht.isSpydhtError(err, 'ABORTED')).toBe(true);
    expect(solver.workers).toBe(0);
  });

  it('aborting a queued solve leaves the running one alone', async () => {
    const solver = spydht.createWorkerPowSolver({ maxWorkers: 1 });
    try {
      const ac = new AbortController();
      const first = rand(32);
      const running = solver(first, powTarget(1n << 15n));
      const queued = solver(rand(32), EASY, ac.signal);
      ac.abort();
      expect(spydht.isSpydhtError(await rejection(queued), 'ABORTED')).toBe(true);
      expect(checkPow(nodeCrypto, first, await running, powTarget(1n << 15n))).toBe(true);
    } finally {
      solver.close();
    }
  });

  it('close() rejects pending solves with CLOSED and later ones too', async () => {
    const solver = spydht.createWorkerPowSolver();
    const pending = solver(rand(32), IMPOSSIBLE);
    await until(() => solver.workers === 1, 'the worker to start solving');
    solver.close();
    expect(spydht.isSpydhtError(await rejection(pending), 'CLOSED')).toBe(true);
    expect(spydht.isSpydhtError(await rejection(solver(rand(32), EASY)), 'CLOSED')).toBe(true);
    expect(solver.workers).toBe(0);
  });

  it('terminates an idle worker after idleTimeoutMs', async () => {
    const solver = spydht.createWorkerPowSolver({ idleTimeoutMs: 100 });
    await solver(rand(32), EASY);
    expect(solver.workers).toBe(1);
    await until(() => solver.workers === 0, 'the idle worker to be terminated');
    const input = rand(32);
    expect(checkPow(nodeCrypto, input, await solver(input, EASY), EASY)).toBe(true);
    solver.close();
  });

  it('a worker script that cannot load rejects (no hang)', async () => {
    const solver = spydht.createWorkerPowSolver({ workerUrl: pathToFileURL(join(ROOT, 'dist', 'crypto', 'no-such-worker.js')) });
    const err = await rejection(solver(rand(32), EASY));
    expect(String(err)).toMatch(/worker/);
    expect(solver.workers).toBe(0);
    solver.close();
  });

  it('works as DHTOptions.powSolver: put and get across simulated nodes', async () => {
    const { DHT, SimNetwork, Identity, realClock } = spydht;
    const solver = spydht.createWorkerPowSolver();
    const network = { name: 'worker-pow', idDifficulty: 2, powBaseBits: 12 };
    const net = new SimNetwork({ clock: realClock, latency: 1, jitter: 0 });
    const nodes = [];
    try {
      for (let i = 0; i < 4; i++) {
        const identity = await Identity.generate({ crypto: nodeCrypto, difficulty: 2 });
        const dht = await DHT.create({
          transports: [net.createTransport()],
          crypto: nodeCrypto,
          identity,
          network,
          powSolver: solver,
          bootstrap: nodes[0] ? nodes[0].localAddresses() : [],
        });
        if (nodes[0]) await dht.bootstrap();
        nodes.push(dht);
      }
      const key = await nodes[1]!.put('greeting', 'hello from a worker');
      expect(solver.workers).toBe(1); // the proof of work ran in the worker
      const value = await nodes[3]!.get(key);
      expect(value?.text()).toBe('hello from a worker');
    } finally {
      await Promise.all(nodes.map((d) => d.close()));
      solver.close();
    }
  });
});

describe('generateIdentityInWorker', () => {
  it('returns an identity that solves the puzzle, rebuilt on the given backend', async () => {
    const identity = await spydht.generateIdentityInWorker({ difficulty: 8, crypto: nodeCrypto });
    expect(idPuzzleBits(nodeCrypto, identity.id)).toBeGreaterThanOrEqual(8);
    const msg = rand(32);
    expect(await nodeCrypto.verify(identity.publicKey, msg, await identity.sign(msg))).toBe(true);
  });

  it('plugs into loadOrCreateIdentity as its generator', async () => {
    const storage = spydht.memoryIdentityStorage();
    const generate: LoadOrCreateIdentityOptions['generate'] = (o) => spydht.generateIdentityInWorker(o);
    const a = await spydht.loadOrCreateIdentity({ crypto: nodeCrypto, difficulty: 6, storage, generate });
    const b = await spydht.loadOrCreateIdentity({ crypto: nodeCrypto, difficulty: 6, storage, generate });
    expect(spydht.toHex(b.id)).toBe(spydht.toHex(a.id));
  });

  it('races maxWorkers searchers; the first key found or an abort terminates every one of them', async () => {
    // Each live worker holds one MessagePort open in this process (the test runner holds others).
    const ports = (): number => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;
    const before = ports();
    const ac = new AbortController();
    const pending = spydht.generateIdentityInWorker({ difficulty: 40, maxWorkers: 3, signal: ac.signal });
    await until(() => ports() - before >= 3, 'three searchers running');
    ac.abort();
    expect(spydht.isSpydhtError(await rejection(pending), 'ABORTED')).toBe(true);
    await until(() => ports() <= before, 'every searcher terminated after the abort');
    const identity = await spydht.generateIdentityInWorker({ difficulty: 8, maxWorkers: 3, crypto: nodeCrypto });
    expect(idPuzzleBits(nodeCrypto, identity.id)).toBeGreaterThanOrEqual(8);
    await until(() => ports() <= before, 'the losing searchers terminated');
  });

  it('aborts', async () => {
    const ac = new AbortController();
    const pending = spydht.generateIdentityInWorker({ difficulty: 40, signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    expect(spydht.isSpydhtError(await rejection(pending), 'ABORTED')).toBe(true);
  });
});

/** Runs an ES module snippet in a fresh node process; resolves with its output and timing. */
function runChild(code: string): Promise<{ code: number | null; out: string; exitedAt: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child did not exit within 20 s:\n${out}`));
    }, 20_000);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve({ code: exitCode, out, exitedAt: Date.now() });
    });
  });
}

describe('a Node process with workers exits by itself', () => {
  const prelude = `const spydht = await import(${JSON.stringify(DIST_INDEX_URL)});
const input = globalThis.crypto.getRandomValues(new Uint8Array(32));
const done = (what) => console.log('DONE ' + what + ' ' + Date.now());`;

  // [name, code, what its last line must say]
  const scenarios: [string, string, RegExp][] = [
    [
      'after a solve, without close(), while the idle timeout (60 s) is pending',
      `const solver = spydht.createWorkerPowSolver({ idleTimeoutMs: 60_000 });
      const nonce = await solver(input, (2n ** 64n - 1n) / 65536n);
      done('solved ' + nonce.length + ' workers=' + solver.workers);`,
      /solved 8 workers=1/, // the idle worker is still there, unref()ed: it must not hold the process
    ],
    [
      'after an aborted solve',
      `const solver = spydht.createWorkerPowSolver();
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 200);
      await solver(input, 0n, ac.signal).catch((e) => done(e.code + ' workers=' + solver.workers));`,
      /ABORTED workers=0/,
    ],
    [
      'after generateIdentityInWorker',
      `const id = await spydht.generateIdentityInWorker({ difficulty: 6 });
      done('identity ' + (spydht.idPuzzleBits(spydht.nobleCrypto, id.id) >= 6));`,
      /identity true/,
    ],
  ];

  it.each(scenarios)('%s', async (_name, body, expected) => {
    const { code, out, exitedAt } = await runChild(`${prelude}\n${body}`);
    expect(code, out).toBe(0);
    const m = /DONE (.*) (\d+)\n/.exec(out);
    expect(m, out).not.toBeNull();
    const lingered = exitedAt - Number(m![2]);
    console.log(`child "${m![1]}" exited ${lingered} ms after its last line`);
    expect(lingered).toBeLessThan(1500);
    expect(m![1]).toMatch(expected);
  });
});

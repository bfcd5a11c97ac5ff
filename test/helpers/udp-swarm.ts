/**
 * Multi-process UDP swarms for tests. Each `SwarmProcess` is a separate Node process running
 * DHT nodes from the built package (dist/node/index.js — run `npm run build` first), driven by
 * JSON lines on stdin/stdout. Ending its stdin closes its nodes; the process must then exit by
 * itself. Every wait here is on a line of output or a process event, bounded by a timeout.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import type { Readable } from 'node:stream';
import { ROOT } from './build.js';

export const CLI = join(ROOT, 'dist', 'node', 'cli.js');
const ENTRY = join(ROOT, 'dist', 'node', 'index.js');

/** Cheap puzzle and proof of work; every process and CLI call must use the same (they form the network ID). */
export const TEST_NETWORK = { name: 'spydht-udp-test', idDifficulty: 4, powBaseBits: 8 } as const;
export const TEST_NETWORK_ARGS = [
  '--network', TEST_NETWORK.name,
  '--id-difficulty', String(TEST_NETWORK.idDifficulty),
  '--pow-base-bits', String(TEST_NETWORK.powBaseBits),
];

/** What the worker reports about one of its nodes. */
export interface NodeReport {
  index: number;
  id: string;
  address: string;
  size: number;
  contacts: { id: string; ip: string; address: string }[];
  /** table.ipCount(ip) for every IP in the table. */
  ipCount: Record<string, number>;
  /** The highest table.ipCount(ip) seen right after any insertion, since the node was created. */
  ipPeak: Record<string, number>;
  /** stats().ipLimited: contacts refused by the per-IP limit. */
  ipLimited: number;
}

export interface NodeSpec {
  host: string;
  port?: number;
  bootstrap?: string[];
}

// The worker is plain ESM JavaScript run with `node --input-type=module -e`: no TypeScript at runtime.
const WORKER_SOURCE = String.raw`
import { createInterface } from 'node:readline';
const { createNode, reachableAddresses } = await import(process.env.SPYDHT_ENTRY);
const network = JSON.parse(process.env.SPYDHT_NETWORK);
const nodes = [];
const peaks = new Map(); // node → { ip: highest table.ipCount(ip) right after any contact was added }
const send = (msg) => process.stdout.write(JSON.stringify(msg) + '\n');
const report = (n, index) => {
  const contacts = n.snapshot().buckets.flatMap((b) => b.contacts.map((c) => ({ id: c.id, ip: c.ip, address: c.address })));
  const ipCount = {};
  for (const c of contacts) ipCount[c.ip] = n.routing.ipCount(c.ip);
  const ipPeak = peaks.get(n) ?? {};
  return { index, id: n.id, address: reachableAddresses(n)[0], size: n.routing.size, contacts, ipCount, ipPeak, ipLimited: n.stats().ipLimited ?? 0 };
};
/** createNode, watching every table insertion from the start, then joining. */
const makeNode = async (s) => {
  const n = await createNode({ host: s.host, port: s.port ?? 0, bootstrap: s.bootstrap ?? [], network, autoBootstrap: false });
  const peak = {};
  peaks.set(n, peak);
  n.on('contact-added', (c) => {
    peak[c.ip] = Math.max(peak[c.ip] ?? 0, n.routing.ipCount(c.ip));
  });
  if (s.bootstrap && s.bootstrap.length) {
    try {
      await n.bootstrap();
    } catch (err) {
      await n.close();
      throw err;
    }
  }
  return n;
};
const ops = {
  async start({ specs }) {
    const made = await Promise.all(specs.map(makeNode));
    const first = nodes.length;
    nodes.push(...made);
    return made.map((n, i) => report(n, first + i));
  },
  async put({ node, label, content }) {
    return nodes[node].publish(label, content);
  },
  async get({ node, key }) {
    const found = await nodes[node].findValue(key);
    return found.value ? { label: found.value.labelText(), content: found.value.text(), hops: found.hops } : null;
  },
  async report() {
    return nodes.map(report);
  },
};
const rl = createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  const { id, op, args } = JSON.parse(line);
  try {
    send({ id, ok: true, result: await ops[op](args ?? {}) });
  } catch (err) {
    send({ id, ok: false, error: String(err && err.message ? err.message : err), code: err && err.code });
  }
});
rl.on('close', async () => {
  await Promise.all(nodes.map((n) => n.close()));
  send({ event: 'closed', nodes: nodes.length });
  // No process.exit(): with every node closed nothing may keep this process alive.
});
send({ event: 'ready', pid: process.pid });
`;

/** Collects the lines of a stream and lets a test wait for one, with a deadline. */
export class Lines {
  readonly all: string[] = [];
  readonly #waiters = new Set<{ test: (line: string) => boolean; resolve: (line: string) => void }>();
  #ended = false;

  constructor(stream: Readable, onLine?: (line: string) => void) {
    const rl = createInterface({ input: stream });
    rl.on('line', (line) => {
      this.all.push(line);
      onLine?.(line);
      for (const w of [...this.#waiters]) {
        if (w.test(line)) {
          this.#waiters.delete(w);
          w.resolve(line);
        }
      }
    });
    rl.on('close', () => {
      this.#ended = true;
    });
  }

  get ended(): boolean {
    return this.#ended;
  }

  /** The first line (already seen or still to come) matching `pattern`. */
  waitFor(pattern: RegExp | ((line: string) => boolean), timeoutMs: number, what = String(pattern)): Promise<string> {
    const test = typeof pattern === 'function' ? pattern : (line: string) => pattern.test(line);
    const seen = this.all.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: (line: string) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        reject(new Error(`no line matching ${what} within ${timeoutMs} ms; got:\n${this.all.join('\n')}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }
}

/** Resolves with the exit code once `child` exits; rejects after `timeoutMs` (the child keeps running). */
export function exitOf(child: ChildProcessWithoutNullStreams, timeoutMs: number): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`process ${child.pid} did not exit within ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

/** One OS process running DHT nodes, driven over stdin/stdout. */
export class SwarmProcess {
  readonly child: ChildProcessWithoutNullStreams;
  readonly stdout: Lines;
  readonly stderr: Lines;
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(readonly name: string) {
    this.child = spawn(process.execPath, ['--input-type=module', '-e', WORKER_SOURCE], {
      env: { ...process.env, SPYDHT_ENTRY: pathToFileURL(ENTRY).href, SPYDHT_NETWORK: JSON.stringify(TEST_NETWORK) },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.stdout = new Lines(this.child.stdout, (line) => this.#onLine(line));
    this.stderr = new Lines(this.child.stderr);
    this.child.once('exit', (code, signal) => {
      for (const p of this.#pending.values()) p.reject(new Error(`${this.name} exited (${code ?? signal}); stderr:\n${this.stderr.all.join('\n')}`));
      this.#pending.clear();
    });
  }

  #onLine(line: string): void {
    let msg: { id?: number; ok?: boolean; result?: unknown; error?: string; code?: string };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return;
    }
    const p = msg.id === undefined ? undefined : this.#pending.get(msg.id);
    if (!p) return;
    this.#pending.delete(msg.id!);
    if (msg.ok) p.resolve(msg.result);
    else p.reject(new Error(`${this.name}: ${msg.error} (${msg.code})`));
  }

  static async spawn(name: string, timeoutMs = 10_000): Promise<SwarmProcess> {
    const p = new SwarmProcess(name);
    await p.stdout.waitFor(/"event":"ready"/, timeoutMs, `${name} ready`);
    return p;
  }

  request<T>(op: string, args: object, timeoutMs: number): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.name}: ${op} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin.write(JSON.stringify({ id, op, args }) + '\n');
    });
  }

  start(specs: NodeSpec[], timeoutMs = 20_000): Promise<NodeReport[]> {
    return this.request('start', { specs }, timeoutMs);
  }

  put(node: number, label: string, content: string, timeoutMs = 15_000): Promise<{ key: string; stored: number }> {
    return this.request('put', { node, label, content }, timeoutMs);
  }

  get(node: number, key: string, timeoutMs = 15_000): Promise<{ label: string; content: string; hops: number } | null> {
    return this.request('get', { node, key }, timeoutMs);
  }

  report(timeoutMs = 5_000): Promise<NodeReport[]> {
    return this.request('report', {}, timeoutMs);
  }

  /** Ends stdin: the worker closes its nodes and must then exit by itself. Resolves with the exit code. */
  async end(timeoutMs = 10_000): Promise<number | null> {
    this.child.stdin.end();
    return exitOf(this.child, timeoutMs);
  }

  /** For cleanup: kills the process if it is still running. */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node dist/node/cli.js …args` to completion; rejects (and kills it) after `timeoutMs`. `env`
 * adds to this process's environment: tests pass XDG_CONFIG_HOME (and APPDATA) so that `put` and
 * `delete` keep their default identity in a temp folder, never in the user's own config.
 */
export function runCli(args: string[], timeoutMs = 20_000, env: Record<string, string> = {}): Promise<CliResult> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`spydht ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** stderr without the CLI's progress lines ("joining through … …", printed when a step takes over a second). */
export function problems(stderr: string | string[]): string[] {
  const lines = typeof stderr === 'string' ? stderr.split('\n') : stderr;
  return lines.filter((l) => l !== '' && !l.endsWith(' …'));
}

/** Spawns a long-running CLI command (e.g. `node`) whose output lines a test waits on. */
export function spawnCli(args: string[], env: Record<string, string> = {}): { child: ChildProcessWithoutNullStreams; stdout: Lines; stderr: Lines } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  return { child, stdout: new Lines(child.stdout), stderr: new Lines(child.stderr) };
}

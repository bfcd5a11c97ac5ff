/**
 * The README's command-line session, line by line, in a fresh `npm init -y` project that installed
 * the packed library (test/helpers/consumer.ts): two `npx spydht node`, then put, get, delete with
 * no identity flag, and get again (exit 2). Only the ports change (free ones instead of 4000 and
 * 4001, which may be taken on a shared machine) and `<key>` becomes the key `put` printed; the
 * user's config folder is a temp folder.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/build.js';
import { consumerProject, type ConsumerProject } from '../helpers/consumer.js';
import { Lines, exitOf } from '../helpers/udp-swarm.js';

const NPX = process.platform === 'win32' ? 'npx.cmd' : 'npx';

/** The README's ```sh block under "## Command line", one command per line, comments removed. */
function readmeCommands(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Command line'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

/** Splits a shell line into words (double quotes only, as the README uses). */
const words = (line: string): string[] => [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);

/** A free UDP port on this machine right now. */
async function freePort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

describe("the README's command-line session, in a fresh project", () => {
  let project: ConsumerProject;
  let config: string;
  const running: ChildProcessWithoutNullStreams[] = [];

  beforeAll(() => {
    project = consumerProject();
    config = mkdtempSync(join(tmpdir(), 'spydht-readme-cli-'));
  }, 120_000);

  afterAll(async () => {
    // npx runs the bin through `sh -c`: a signal to npx alone left the node running (orphaned), so
    // each node runs in a process group of its own, and the whole group is signalled.
    const signalGroup = (child: ChildProcessWithoutNullStreams, signal: NodeJS.Signals): void => {
      try {
        process.kill(-child.pid!, signal);
      } catch {
        // the group is gone already
      }
    };
    for (const child of running) signalGroup(child, 'SIGINT');
    await Promise.all(running.map((c) => exitOf(c, 10_000).catch(() => undefined)));
    // Whatever of a group outlived its npx (or did not stop within 10 s) is killed.
    for (const child of running) signalGroup(child, 'SIGKILL');
    if (config) rmSync(config, { recursive: true, force: true });
  });

  it('runs as written: nodes start and join, put prints a key, get prints it, delete needs no flag', { timeout: 120_000 }, async () => {
    const commands = readmeCommands();
    expect(commands.map((c) => words(c).slice(0, 2).join(' '))).toEqual([
      'npx spydht',
      'npx spydht',
      'npx spydht',
      'npx spydht',
      'npx spydht',
      'npx spydht',
    ]);
    const ports = new Map([
      ['4000', String(await freePort())],
      ['4001', String(await freePort())],
    ]);
    const env = { ...process.env, XDG_CONFIG_HOME: config, APPDATA: config };
    let key = '';
    const run = (line: string): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve, reject) => {
        const args = words(line.replace(/\b400[01]\b/g, (p) => ports.get(p)!).replace('<key>', key)).slice(1);
        const child = spawn(NPX, args, { cwd: project.dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`${line} did not exit within 60 s:\n${stdout}\n${stderr}`));
        }, 60_000);
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, stdout, stderr });
        });
      });

    for (const line of commands) {
      const [, , command] = words(line);
      if (command === 'node') {
        const args = words(line.replace(/\b400[01]\b/g, (p) => ports.get(p)!)).slice(1);
        const child = spawn(NPX, args, { cwd: project.dir, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
        running.push(child);
        const out = new Lines(child.stdout);
        // The first node is a new swarm; the second joins through the first.
        await out.waitFor(/^running; Ctrl-C to stop$/, 30_000);
        if (line.includes('--bootstrap')) expect(out.all.some((l) => /^joined: table [1-9]\d* contacts$/.test(l)), out.all.join('\n')).toBe(true);
      } else if (command === 'put') {
        const r = await run(line);
        expect(r.code, r.stderr).toBe(0);
        key = r.stdout.trim();
        expect(key).toMatch(/^[0-9a-f]{64}$/);
        expect(r.stderr).toContain('created your identity');
      } else if (command === 'get') {
        const r = await run(line);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toBe('hello\n');
      } else if (command === 'delete') {
        const r = await run(line);
        expect(r.code, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^deleted [0-9a-f]{64} \([1-9]\d* copies removed\)$/m);
        const gone = await run(commands.find((c) => words(c)[2] === 'get')!);
        expect(gone.code).toBe(2);
      } else if (command === '--help') {
        const r = await run(line);
        expect(r.code).toBe(0);
        expect(r.stdout).toContain('Exit codes:');
      } else {
        throw new Error(`the test does not know the README command "${line}"`);
      }
    }
  });
});

/**
 * What `npm install spydht` brings: the library and the two @noble packages, nothing native. A
 * browser app never downloads node-datachannel's binary or ws; Node code that needs one of them
 * says which command installs it. Run in a fresh `npm init -y` project (test/helpers/consumer.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { consumerProject, type ConsumerProject } from '../helpers/consumer.js';

function node(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')} did not exit within 30 s:\n${stdout}\n${stderr}`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('npm install spydht (a fresh project)', () => {
  let project: ConsumerProject;
  beforeAll(() => {
    project = consumerProject();
  }, 120_000);

  it('installs the library and @noble only: no node-datachannel (a native binary), no ws', () => {
    const modules = join(project.dir, 'node_modules');
    const installed = readdirSync(modules)
      .filter((d) => !d.startsWith('.'))
      .flatMap((d) => (d.startsWith('@') ? readdirSync(join(modules, d)).map((s) => `${d}/${s}`) : [d]))
      .sort();
    expect(installed).toEqual(['@noble/curves', '@noble/hashes', 'spydht']);
    const pkg = JSON.parse(readFileSync(join(modules, 'spydht', 'package.json'), 'utf8')) as Record<string, Record<string, unknown>>;
    expect(Object.keys(pkg.dependencies!).sort()).toEqual(['@noble/curves', '@noble/hashes']);
    expect(pkg.peerDependenciesMeta).toEqual({ 'node-datachannel': { optional: true }, ws: { optional: true } });
  });

  it('WebRTC in Node without node-datachannel fails at once, naming the command; the UDP socket is closed again', async () => {
    const file = join(project.dir, 'webrtc-missing.mjs');
    writeFileSync(
      file,
      `import { createNode } from 'spydht/node';
const err = await createNode({ host: '127.0.0.1', webrtc: true }).then(() => undefined, (e) => e);
console.log(JSON.stringify({ code: err?.code, message: err?.message }));
`,
    );
    // Exiting by itself shows the UDP socket opened before the failure was closed.
    const r = await node([file], project.dir);
    expect(r.code, r.stderr).toBe(0);
    const { code, message } = JSON.parse(r.stdout) as { code: string; message: string };
    expect(code).toBe('MISSING_DEPENDENCY');
    expect(message).toContain('npm install node-datachannel');
  });

  it('the signaling server without ws fails at once, naming the command (library and CLI)', async () => {
    const file = join(project.dir, 'ws-missing.mjs');
    writeFileSync(
      file,
      `import { startSignalingServer } from 'spydht/node';
const err = await startSignalingServer({ host: '127.0.0.1' }).then(() => undefined, (e) => e);
console.log(JSON.stringify({ code: err?.code, message: err?.message }));
`,
    );
    const r = await node([file], project.dir);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 'MISSING_DEPENDENCY', message: expect.stringContaining('npm install ws') });

    const bin = join(project.dir, 'node_modules', '.bin', 'spydht');
    expect(existsSync(bin)).toBe(true);
    const cli = await node([bin, 'signal', '--host', '127.0.0.1'], project.dir);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toContain('npm install ws');
  });

  it('the CLI runs from the installed package (npx spydht --help)', async () => {
    const r = await node([join(project.dir, 'node_modules', '.bin', 'spydht'), '--help'], project.dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Usage: spydht <command>');
  });
});

/**
 * Every README example runs exactly as written, where a new user runs it: in a project made with
 * `npm init -y` that installed the packed library (test/helpers/consumer.ts). Each ```js block
 * names its file on its first line ("// example.mjs …"); a Node example is written there verbatim
 * and run with `node <file>`: it must exit 0 by itself (no handle left open) and print what its
 * comments promise. The browser example ("// main.js …") is bundled and run in Chromium by
 * test/bundle/readme-app.test.ts.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/build.js';
import { consumerProject, type ConsumerProject } from '../helpers/consumer.js';
import { readmeExamples } from '../helpers/readme.js';

function run(file: string, cwd: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} did not exit within 60 s (a handle left open?):\n${out}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

const examples = readmeExamples();
const nodeExamples = examples.filter((e) => e.file.endsWith('.mjs'));

describe('README examples, in a fresh `npm init -y` project', () => {
  let project: ConsumerProject;
  beforeAll(() => {
    project = consumerProject();
  }, 120_000);

  it('every js block is a Node example (.mjs) or the one browser example (main.js), each file named once', () => {
    expect(nodeExamples.length).toBeGreaterThanOrEqual(3);
    expect(examples.filter((e) => !e.file.endsWith('.mjs')).map((e) => e.file)).toEqual(['main.js']);
    expect(new Set(examples.map((e) => e.file)).size).toBe(examples.length);
  });

  it('the project is what `npm init -y` makes (CommonJS by default: the README must say to use .mjs)', () => {
    const pkg = JSON.parse(readFileSync(join(project.dir, 'package.json'), 'utf8')) as { type?: string; dependencies: Record<string, string> };
    expect(pkg.type ?? 'commonjs').toBe('commonjs');
    expect(Object.keys(pkg.dependencies)).toContain('spydht');
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toMatch(/ESM only/);
    expect(readme).toContain('"type": "module"');
  });

  for (const { file, code } of nodeExamples) {
    it(`${file} runs with \`node ${file}\`, exits by itself and prints what it promises`, { timeout: 70_000 }, async () => {
      writeFileSync(join(project.dir, file), code);
      const { code: exit, out } = await run(file, project.dir);
      expect(exit, out).toBe(0);
      // Each `console.log(x); // expected` comment names (part of) what must be printed.
      const promises = [...code.matchAll(/console\.log\(.*\);\s*\/\/\s*(.+)$/gm)];
      expect(promises.length, 'an example shows what it prints').toBeGreaterThan(0);
      for (const m of promises) {
        // "64 hex digits → hello, swarm" promises "hello, swarm"; "NOT_OWNER: why" promises "NOT_OWNER".
        const promised = m[1]!.split(':')[0]!.split('→').pop()!.trim();
        expect(out).toContain(promised);
      }
    });
  }
});

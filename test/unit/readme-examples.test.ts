/**
 * README examples must run: every ```js example block is written into the package (so
 * `import … from 'spydht/node'` resolves to this build through package self-reference) and run
 * with node. It must exit 0 by itself (no handles left open) and print what the comments promise.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const dir = join(root, 'test', '.readme-examples');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```js example\n([\s\S]*?)```/g)].map((m) => m[1]!);

function run(file: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`example did not exit within 60 s:\n${out}`));
    }, 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README examples', () => {
  it('has examples', () => expect(blocks.length).toBeGreaterThanOrEqual(3));

  blocks.forEach((code, i) => {
    it(`example ${i + 1} runs, exits by itself, prints what it promises`, { timeout: 70_000 }, async () => {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `example-${i + 1}.mjs`);
      writeFileSync(file, code);
      const { code: exit, out } = await run(file);
      expect(exit, out).toBe(0);
      // Each `console.log(x); // expected` comment names (part of) what must be printed.
      for (const m of code.matchAll(/console\.log\(.*\);\s*\/\/\s*(.+)$/gm)) {
        // "64 hex digits → hello, swarm" promises "hello, swarm"; "NOT_OWNER: why" promises "NOT_OWNER".
        const promised = m[1]!.split(':')[0]!.split('→').pop()!.trim();
        expect(out).toContain(promised);
      }
    });
  });
});

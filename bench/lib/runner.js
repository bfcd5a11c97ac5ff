/**
 * Runs one section in a child process started with --expose-gc, so the memory and JIT state of one
 * section cannot colour another, and a section that hangs or crashes costs only its own figures.
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

/**
 * Runs `script --section name` (the bench's entry point) with the parent's options (--quick,
 * --udp-n, --compare-n, --tabs, --tab-bridges), and resolves with `{ result }` (the JSON the
 * child wrote) or `{ error }` (how the child ended without writing it). The child is killed after `limitMs` when the section sets one
 * (its TIME_LIMIT_MS), else after 2 min (--quick) or 5 min.
 */
export function runSection(script, name, { quick, udpN, compareN, tabs, tabBridges }, sectionLimitMs) {
  const file = join(os.tmpdir(), `spydht-bench-${process.pid}-${name}.json`);
  const args = ['--expose-gc', script, '--section', name, '--out', file, ...(quick ? ['--quick'] : []), ...(udpN ? ['--udp-n', udpN] : []), ...(compareN ? ['--compare-n', compareN] : []), ...(tabs ? ['--tabs', tabs] : []), ...(tabBridges ? ['--tab-bridges', tabBridges] : [])];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] });
    const limitMs = sectionLimitMs ?? (quick ? 120_000 : 300_000);
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      try {
        const result = JSON.parse(readFileSync(file, 'utf8'));
        rmSync(file, { force: true });
        resolve({ result });
      } catch {
        resolve({ error: `exit ${code ?? signal}${signal === 'SIGKILL' ? ` (over ${limitMs / 1000} s)` : ''}` });
      }
    });
  });
}

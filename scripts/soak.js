#!/usr/bin/env node
/**
 * `npm run soak`: the fuzz tests (test/fuzz/) at 10^6 cases in all instead of `npm test`'s 10^4:
 * mutants of real datagrams at a UDP node, over a WebRTC link, and of WebSocket frames at the
 * signaling server. Takes tens of minutes. `node scripts/soak.js [cases] [seed]`; a failure prints
 * fast-check's seed and shrunk counterexample, and SPYDHT_FUZZ_SEED reproduces it.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const [cases = '1000000', seed] = process.argv.slice(2);
const env = { ...process.env, SPYDHT_FUZZ_CASES: cases, ...(seed ? { SPYDHT_FUZZ_SEED: seed } : {}) };
process.stdout.write(`[soak] ${cases} fuzz cases${seed ? `, seed ${seed}` : ''}\n`);
const child = spawn('npx', ['vitest', 'run', 'test/fuzz'], { cwd: ROOT, env, stdio: 'inherit', shell: process.platform === 'win32' });
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 1 : 0);
});

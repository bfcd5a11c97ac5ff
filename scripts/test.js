#!/usr/bin/env node
/**
 * `npm test`: everything, on a fresh machine too. Builds, type-checks the tests, makes sure there is
 * a Chromium (finds one, or installs one where it can: scripts/chromium.js), then runs vitest and
 * Playwright with that browser's path in CHROMIUM_PATH. Stops at the first step that fails, with
 * its exit code; when no Chromium can be had, with the exact command to run.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ChromiumUnavailable, ensureChromium } from './chromium.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (line) => process.stdout.write(`\n[npm test] ${line}\n`);

/** Runs a command in the repository with the terminal attached; resolves with its exit code. */
function run(argv, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, env, stdio: 'inherit', shell: process.platform === 'win32' });
    child.on('error', (err) => {
      process.stderr.write(`${argv.join(' ')}: ${err.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

async function main() {
  const started = Date.now();
  say('build');
  let code = await run(['npm', 'run', 'build']);
  if (code !== 0) return code;
  say('type-check the tests');
  code = await run(['npm', 'run', 'typecheck:tests']);
  if (code !== 0) return code;

  say('Chromium for the browser tests');
  let chromium;
  try {
    chromium = await ensureChromium();
  } catch (err) {
    if (!(err instanceof ChromiumUnavailable)) throw err;
    process.stderr.write(`\n${err.message}\n\n`);
    return 1;
  }
  process.stdout.write(`${chromium.path} (${chromium.installedBy ? `installed by ${chromium.installedBy}` : chromium.source})\n`);
  const env = { ...process.env, CHROMIUM_PATH: chromium.path, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: '1' };

  say('vitest: unit, simulation, UDP, WebRTC, signaling, browser, bundle, package');
  code = await run(['npx', 'vitest', 'run'], env);
  if (code !== 0) return code;
  say('Playwright: the demo and the mixed swarm in Chromium');
  code = await run(['npx', 'playwright', 'test'], env);
  if (code !== 0) return code;
  say(`all passed in ${Math.round((Date.now() - started) / 1000)} s`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`${err?.stack ?? err}\n`);
    process.exitCode = 1;
  },
);

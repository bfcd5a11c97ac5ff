/**
 * Chromium for the browser tests: find one, or get one, or say exactly how.
 *
 * `npm test` (scripts/test.js) calls `ensureChromium` once and hands the path to every browser test
 * as CHROMIUM_PATH; the tests and playwright.config.ts call `chromiumPath()` (find only, never
 * install) so that running one of them alone works too. Every look at the machine goes through a
 * `probes` object, so the decisions are unit-tested on any machine (test/unit/chromium.test.ts).
 *
 * Where a browser is looked for, in order:
 *   1. CHROMIUM_PATH (when set it must be right: a wrong explicit path is an error, not a fallback)
 *   2. chromium, chromium-browser, google-chrome, google-chrome-stable on PATH (and the usual macOS
 *      application paths)
 *   3. Playwright's browser cache (PLAYWRIGHT_BROWSERS_PATH, else ~/.cache/ms-playwright,
 *      ~/Library/Caches/ms-playwright or %LOCALAPPDATA%\ms-playwright), newest revision first
 * How one is got when none is found, in order:
 *   1. Playwright's own download: `npx playwright install chromium` (needs the network)
 *   2. as root on Debian or Ubuntu: `apt-get update && apt-get install -y --no-install-recommends chromium`
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

export const SYSTEM_NAMES = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];
const MAC_APPS = ['/Applications/Chromium.app/Contents/MacOS/Chromium', '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'];
/** Executables inside a Playwright `chromium-<revision>` folder, per platform (as Playwright lays them out). */
const PLAYWRIGHT_EXECUTABLES = [
  ['chrome-linux64', 'chrome'],
  ['chrome-linux', 'chrome'],
  ['chrome-linux-arm64', 'chrome'],
  ['chrome-mac-arm64', 'Google Chrome for Testing.app', 'Contents', 'MacOS', 'Google Chrome for Testing'],
  ['chrome-mac-x64', 'Google Chrome for Testing.app', 'Contents', 'MacOS', 'Google Chrome for Testing'],
  ['chrome-mac', 'Chromium.app', 'Contents', 'MacOS', 'Chromium'],
  ['chrome-win64', 'chrome.exe'],
  ['chrome-win', 'chrome.exe'],
];

export const PLAYWRIGHT_INSTALL = { label: 'Playwright download', steps: [['npx', 'playwright', 'install', 'chromium']] };
export const APT_INSTALL = {
  label: 'apt-get (root on Debian/Ubuntu)',
  steps: [
    ['apt-get', 'update'],
    ['apt-get', 'install', '-y', '--no-install-recommends', 'chromium'],
  ],
};

/** The machine as seen by this module (every field injectable for tests). */
export function systemProbes() {
  return {
    env: process.env,
    platform: process.platform,
    home: homedir(),
    isRoot: () => typeof process.getuid === 'function' && process.getuid() === 0,
    isExecutable: (path) => {
      try {
        accessSync(path, constants.X_OK);
        return statSync(path).isFile();
      } catch {
        return false;
      }
    },
    listDir: (path) => {
      try {
        return readdirSync(path);
      } catch {
        return [];
      }
    },
    readFile: (path) => {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return undefined;
      }
    },
    /** Runs a command with the terminal attached; resolves true when it exits 0 within the time. */
    run: (argv, timeoutMs = 10 * 60_000) =>
      new Promise((resolve) => {
        const child = spawn(argv[0], argv.slice(1), { stdio: 'inherit', shell: process.platform === 'win32' });
        const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
        child.on('error', () => resolve(false));
        child.on('exit', (code) => {
          clearTimeout(timer);
          resolve(code === 0);
        });
      }),
  };
}

/** `name` on the PATH in `env`, or undefined. */
function which(probes, name) {
  for (const dir of (probes.env.PATH ?? '').split(probes.platform === 'win32' ? ';' : delimiter)) {
    if (!dir) continue;
    const path = join(dir, name);
    if (probes.isExecutable(path)) return path;
  }
  return undefined;
}

/** Playwright's browser cache folder for this platform. */
export function playwrightCache(probes) {
  if (probes.env.PLAYWRIGHT_BROWSERS_PATH && probes.env.PLAYWRIGHT_BROWSERS_PATH !== '0') return probes.env.PLAYWRIGHT_BROWSERS_PATH;
  if (probes.platform === 'darwin') return join(probes.home, 'Library', 'Caches', 'ms-playwright');
  if (probes.platform === 'win32') return join(probes.env.LOCALAPPDATA ?? join(probes.home, 'AppData', 'Local'), 'ms-playwright');
  return join(probes.env.XDG_CACHE_HOME ?? join(probes.home, '.cache'), 'ms-playwright');
}

/**
 * Where a Chromium is: `{ path, source }`, `{ error }` when CHROMIUM_PATH names no executable, or
 * undefined when there is none on this machine.
 */
export function findChromium(probes = systemProbes()) {
  const explicit = probes.env.CHROMIUM_PATH;
  if (explicit) {
    if (probes.isExecutable(explicit)) return { path: explicit, source: 'CHROMIUM_PATH' };
    return { error: `CHROMIUM_PATH is set to ${explicit}, which is not an executable file: fix it or unset it` };
  }
  for (const name of SYSTEM_NAMES) {
    const path = which(probes, name);
    if (path) return { path, source: `${name} on PATH` };
  }
  if (probes.platform === 'darwin') {
    for (const path of MAC_APPS) if (probes.isExecutable(path)) return { path, source: 'Applications' };
  }
  const cache = playwrightCache(probes);
  const revisions = probes
    .listDir(cache)
    .filter((d) => /^chromium-\d+$/.test(d))
    .sort((a, b) => Number(b.slice(9)) - Number(a.slice(9)));
  for (const dir of revisions) {
    for (const parts of PLAYWRIGHT_EXECUTABLES) {
      const path = join(cache, dir, ...parts);
      if (probes.isExecutable(path)) return { path, source: `Playwright's cache (${dir})` };
    }
  }
  return undefined;
}

/** Debian, Ubuntu or a derivative (os-release ID / ID_LIKE). */
export function isDebianLike(probes) {
  const text = probes.readFile('/etc/os-release') ?? '';
  return /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(text);
}

/** The ways this machine may get a Chromium, in the order they are tried. */
export function installPlans(probes) {
  const plans = [PLAYWRIGHT_INSTALL];
  if (probes.platform === 'linux' && probes.isRoot() && isDebianLike(probes) && which(probes, 'apt-get')) plans.push(APT_INSTALL);
  return plans;
}

/** What to tell a person when nothing worked: the exact commands for this machine. */
export function manualInstructions(probes) {
  const lines = ['Chromium is needed for the browser tests and none was found or could be installed.', 'Get one with:'];
  if (probes.platform === 'linux' && isDebianLike(probes)) {
    lines.push(`  ${probes.isRoot() ? '' : 'sudo '}apt-get update && ${probes.isRoot() ? '' : 'sudo '}apt-get install -y --no-install-recommends chromium`);
    lines.push('or (with network access to Playwright\'s download servers):');
  }
  lines.push('  npx playwright install chromium');
  lines.push('or point CHROMIUM_PATH at a Chromium or Chrome executable. Then run npm test again.');
  return lines.join('\n');
}

export class ChromiumUnavailable extends Error {
  constructor(message) {
    super(message);
    this.name = 'ChromiumUnavailable';
  }
}

/**
 * A Chromium path, installing one if needed (see the file comment for the order). Logs each step
 * through `log`; throws ChromiumUnavailable with the exact commands to run when all failed.
 */
export async function ensureChromium(probes = systemProbes(), log = (line) => process.stderr.write(`${line}\n`)) {
  const found = findChromium(probes);
  if (found?.error) throw new ChromiumUnavailable(found.error);
  if (found) return found;
  const tried = [];
  for (const plan of installPlans(probes)) {
    log(`Chromium not found: trying ${plan.label}: ${plan.steps.map((s) => s.join(' ')).join(' && ')}`);
    let ok = true;
    for (const step of plan.steps) {
      if (!(await probes.run(step))) {
        ok = false;
        tried.push(`${plan.label} failed at: ${step.join(' ')}`);
        break;
      }
    }
    if (!ok) continue;
    const now = findChromium(probes);
    if (now?.path) return { ...now, installedBy: plan.label };
    tried.push(`${plan.label} ran but no Chromium was found afterwards`);
  }
  throw new ChromiumUnavailable(`${manualInstructions(probes)}\n(tried: ${tried.join('; ') || 'nothing'})`);
}

/**
 * For a browser test run on its own: CHROMIUM_PATH (npm test sets it), else whatever findChromium
 * finds; throws with the commands to run when there is none. Never installs anything.
 */
export function chromiumPath(probes = systemProbes()) {
  const found = findChromium(probes);
  if (found?.path) return found.path;
  throw new ChromiumUnavailable(found?.error ?? `${manualInstructions(probes)}\n(npm test installs one by itself where it can.)`);
}

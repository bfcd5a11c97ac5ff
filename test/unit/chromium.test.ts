/**
 * How `npm test` gets its browser (scripts/chromium.js), decided on a fake machine: which Chromium
 * it finds, what it installs when there is none (Playwright's download, then apt-get as root on
 * Debian/Ubuntu), and the exact command it prints when it can do neither. The real machine is
 * covered by every browser test, which runs on the path this module found.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChromiumUnavailable, chromiumPath, ensureChromium, findChromium, installPlans, type ChromiumProbes } from '../../scripts/chromium.js';

const DEBIAN = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\n';
const UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\n';
const FEDORA = 'NAME="Fedora Linux"\nID=fedora\n';
const PW_CHROME = (rev: number): string => join('/home/u/.cache/ms-playwright', `chromium-${rev}`, 'chrome-linux64', 'chrome');

interface Fake extends ChromiumProbes {
  files: Set<string>;
  ran: string[];
}

/**
 * A machine with the given executables; `installs` says which files a command creates when run
 * (a command not listed fails, like a download without network).
 */
function machine(o: { files?: string[]; env?: Record<string, string>; root?: boolean; osRelease?: string; installs?: Record<string, string[]>; platform?: NodeJS.Platform } = {}): Fake {
  const files = new Set(o.files ?? []);
  const ran: string[] = [];
  return {
    files,
    ran,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', ...o.env },
    platform: o.platform ?? 'linux',
    home: '/home/u',
    isRoot: () => o.root ?? false,
    isExecutable: (path) => files.has(path),
    listDir: (dir) => {
      const prefix = dir.endsWith('/') ? dir : `${dir}/`;
      return [...new Set([...files].filter((f) => f.startsWith(prefix)).map((f) => f.slice(prefix.length).split('/')[0]!))];
    },
    readFile: (path) => (path === '/etc/os-release' ? o.osRelease : undefined),
    run: async (argv) => {
      const cmd = argv.join(' ');
      ran.push(cmd);
      const created = o.installs?.[cmd];
      if (!created) return false;
      for (const f of created) files.add(f);
      return true;
    },
  };
}

const quiet = (): void => {};

describe('finding Chromium', () => {
  it('uses CHROMIUM_PATH when it names an executable, before anything on PATH', () => {
    const m = machine({ files: ['/opt/chrome/chrome', '/usr/bin/chromium'], env: { CHROMIUM_PATH: '/opt/chrome/chrome' } });
    expect(findChromium(m)).toEqual({ path: '/opt/chrome/chrome', source: 'CHROMIUM_PATH' });
  });

  it('a CHROMIUM_PATH that names nothing is an error naming it, not a silent fallback', () => {
    const m = machine({ files: ['/usr/bin/chromium'], env: { CHROMIUM_PATH: '/nope/chrome' } });
    expect(findChromium(m)?.error).toContain('/nope/chrome');
    expect(() => chromiumPath(m)).toThrow(/CHROMIUM_PATH is set to \/nope\/chrome/);
  });

  it('finds the system browser under each usual name on PATH', () => {
    for (const path of ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/local/bin/google-chrome-stable']) {
      expect(findChromium(machine({ files: [path] }))?.path).toBe(path);
    }
    expect(findChromium(machine({ files: ['/opt/elsewhere/chromium'] }))).toBeUndefined();
  });

  it("finds Playwright's downloaded Chromium in its cache, newest revision first", () => {
    const m = machine({ files: [PW_CHROME(1200), PW_CHROME(1255)] });
    expect(findChromium(m)).toEqual({ path: PW_CHROME(1255), source: "Playwright's cache (chromium-1255)" });
    const custom = machine({ files: ['/pw/chromium-1/chrome-linux64/chrome'], env: { PLAYWRIGHT_BROWSERS_PATH: '/pw' } });
    expect(findChromium(custom)?.path).toBe('/pw/chromium-1/chrome-linux64/chrome');
  });
});

describe('getting Chromium when there is none', () => {
  it('a browser already there is used and nothing is installed', async () => {
    const m = machine({ files: ['/usr/bin/chromium'], root: true, osRelease: DEBIAN });
    expect((await ensureChromium(m, quiet)).path).toBe('/usr/bin/chromium');
    expect(m.ran).toEqual([]);
  });

  it("tries Playwright's download first and uses what it installed", async () => {
    const m = machine({ root: true, osRelease: DEBIAN, installs: { 'npx playwright install chromium': [PW_CHROME(1255)] } });
    const got = await ensureChromium(m, quiet);
    expect(got).toMatchObject({ path: PW_CHROME(1255), installedBy: 'Playwright download' });
    expect(m.ran).toEqual(['npx playwright install chromium']);
  });

  it('as root on Debian, falls back to apt-get when the download fails (no network)', async () => {
    const m = machine({
      root: true,
      osRelease: DEBIAN,
      files: ['/usr/bin/apt-get'],
      installs: { 'apt-get update': [], 'apt-get install -y --no-install-recommends chromium': ['/usr/bin/chromium'] },
    });
    const log: string[] = [];
    expect((await ensureChromium(m, (l) => log.push(l))).path).toBe('/usr/bin/chromium');
    expect(m.ran).toEqual(['npx playwright install chromium', 'apt-get update', 'apt-get install -y --no-install-recommends chromium']);
    expect(log.join('\n')).toContain('apt-get install -y --no-install-recommends chromium');
  });

  it('uses apt-get on Ubuntu too (ID_LIKE=debian)', () => {
    const m = machine({ root: true, osRelease: UBUNTU, files: ['/usr/bin/apt-get'] });
    expect(installPlans(m).map((p) => p.label)).toEqual(['Playwright download', 'apt-get (root on Debian/Ubuntu)']);
  });

  it('never runs apt-get when not root, nor on another distribution', () => {
    expect(installPlans(machine({ root: false, osRelease: DEBIAN, files: ['/usr/bin/apt-get'] })).map((p) => p.label)).toEqual(['Playwright download']);
    expect(installPlans(machine({ root: true, osRelease: FEDORA, files: ['/usr/bin/apt-get'] })).map((p) => p.label)).toEqual(['Playwright download']);
    expect(installPlans(machine({ root: true, osRelease: DEBIAN, platform: 'darwin' })).map((p) => p.label)).toEqual(['Playwright download']);
  });

  it('when nothing works, stops with the exact command for this machine', async () => {
    const user = machine({ root: false, osRelease: DEBIAN, files: ['/usr/bin/apt-get'] });
    const err = await ensureChromium(user, quiet).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChromiumUnavailable);
    const message = (err as Error).message;
    expect(message).toContain('sudo apt-get update && sudo apt-get install -y --no-install-recommends chromium');
    expect(message).toContain('npx playwright install chromium');
    expect(message).toContain('CHROMIUM_PATH');
    expect(message).toContain('Playwright download failed at: npx playwright install chromium');

    const root = machine({ root: true, osRelease: DEBIAN, files: ['/usr/bin/apt-get'], installs: { 'apt-get update': [], 'apt-get install -y --no-install-recommends chromium': [] } });
    const rootErr = (await ensureChromium(root, quiet).catch((e: unknown) => e)) as Error;
    expect(rootErr.message).toMatch(/^ {2}apt-get update && apt-get install -y --no-install-recommends chromium$/m);
    expect(rootErr.message).toContain('ran but no Chromium was found afterwards');
  });
});

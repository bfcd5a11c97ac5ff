/**
 * The package as a browser app gets it: test/bundle/app imports 'spydht' by name and is bundled by
 * Vite with no config file and no polyfills; the output must hold no Node built-in, and must work
 * in real Chromium (driven over the DevTools protocol, no Playwright): identity in a worker, kept
 * in IndexedDB across a reload, proof of work in a worker with the page responsive, WebCrypto
 * Ed25519, and a put/get between two in-page nodes.
 */
import { existsSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lanAddress } from '../../src/node/lan-address.js';
import { ROOT, assertBuilt } from '../helpers/build.js';
import { Browser } from '../helpers/cdp.js';
import { buildApp, kib, serveStatic, type BuiltApp } from './vite-app.js';

const APP = join(ROOT, 'test', 'bundle', 'app');

describe('bundling the browser entry with Vite (zero config)', () => {
  let browser: Browser | undefined;
  let app: BuiltApp;
  let server: Awaited<ReturnType<typeof serveStatic>>;
  let port: number;

  beforeAll(async () => {
    assertBuilt();
    app = await buildApp(APP);
    server = await serveStatic(app.dir);
    port = server.port;
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (app) rmSync(dirname(app.dir), { recursive: true, force: true });
  });

  it('builds without warnings, emits the worker as its own chunk, and holds no Node built-in', () => {
    const { warnings, jsFiles } = app;
    expect(warnings, warnings.join('\n')).toEqual([]);
    expect(existsSync(join(app.dir, 'index.html'))).toBe(true);
    const worker = jsFiles.find((f) => f.name.startsWith('pow-worker-entry'));
    expect(worker, jsFiles.map((f) => f.name).join(', ')).toBeDefined();
    const builtins = builtinModules.filter((m) => !m.startsWith('_')).map((m) => m.replace(/[/]/g, '\\/'));
    const builtinImport = new RegExp(`(?:from|import)\\s*\\(?\\s*["'\`](?:node:)?(?:${builtins.join('|')})["'\`]`);
    for (const { name, code } of jsFiles) {
      expect(code, `${name} mentions a node: module`).not.toMatch(/\bnode:[a-z_]/);
      expect(code, `${name} calls require()`).not.toMatch(/\brequire\s*\(/);
      expect(code, `${name} imports a Node built-in`).not.toMatch(builtinImport);
      expect(code, `${name} references Buffer`).not.toMatch(/\bBuffer\./);
    }
    const total = jsFiles.reduce((n, f) => n + f.gzip, 0);
    const raw = jsFiles.reduce((n, f) => n + f.code.length, 0);
    console.log(`bundle: ${jsFiles.map((f) => `${f.name} ${kib(f.code.length)}, ${kib(f.gzip)} gz`).join('; ')} — total ${kib(raw)}, ${kib(total)} gz`);
  });

  it('runs in Chromium: worker identity (kept across reload), worker PoW with a live main thread, WebCrypto, put/get', async () => {
    browser = await Browser.launch();
    const page = await browser.newPage();
    const url = `http://127.0.0.1:${port}/`;
    const first = await page.run(url);
    console.log(`chromium (127.0.0.1): ${first}`);
    expect(first, browser.log.join('\n')).toMatch(/^OK /);
    expect(first).toContain('secure=true');
    expect(first).toContain('backend=webcrypto');
    for (const part of ['signVerify=ok', 'abort=ok', 'dht=ok']) expect(first).toContain(part);
    const id = /id=([0-9a-f]{64})/.exec(first)?.[1];
    expect(id).toBeDefined();

    // A reloaded page keeps its ID (IndexedDB), and does not solve the puzzle again.
    const second = await page.run(url);
    console.log(`chromium (reload):    ${second}`);
    expect(second, browser.log.join('\n')).toMatch(/^OK /);
    expect(/id=([0-9a-f]{64})/.exec(second)?.[1]).toBe(id);
  }, 120_000);

  const lan = lanAddress();
  it.skipIf(!lan)(`runs on a non-secure origin (http://<LAN address>): crypto.subtle is missing, noble takes over`, async () => {
    browser ??= await Browser.launch();
    const page = await browser.newPage();
    const result = await page.run(`http://${lan}:${port}/`);
    console.log(`chromium (${lan}): ${result}`);
    expect(result, browser.log.join('\n')).toMatch(/^OK /);
    expect(result).toContain('secure=false');
    expect(result).toContain('backend=noble');
  }, 120_000);
});

/**
 * The README's browser example as an app: its ```js block ("// main.js …") is written verbatim into
 * a page of a fresh `npm init -y` project that installed the packed library, bundled by Vite with
 * no config, and run in Chromium against a signaling server (Chromium resolves the example's
 * ws://localhost:8787 to the server's real port). The sizes of what it ships, gzipped, are the
 * figures the README and BENCHMARKS.md state: this test prints them and fails when those drift.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSignalingServer, type SignalingServer } from '../../src/node/signaling/index.js';
import { ROOT } from '../helpers/build.js';
import { Browser } from '../helpers/cdp.js';
import { consumerProject } from '../helpers/consumer.js';
import { readmeExamples } from '../helpers/readme.js';
import { buildApp, kib, serveStatic, type BuiltApp } from './vite-app.js';

/** How far (KiB) a stated figure may be from the measured one before the docs must be updated. */
const TOLERANCE_KIB = 1;
const STATED = /(\d+(?:\.\d)?) KiB gz of JavaScript for the page and a (\d+(?:\.\d)?) KiB gz worker/;

describe("the README's browser example, bundled by Vite and run in Chromium", () => {
  let app: BuiltApp;
  let page: { gzip: number; raw: number };
  let worker: { gzip: number; raw: number };
  let server: SignalingServer | undefined;
  let site: Awaited<ReturnType<typeof serveStatic>> | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    const example = readmeExamples().find((e) => e.file === 'main.js');
    if (!example) throw new Error('the README has no browser example ("// main.js …")');
    const root = join(consumerProject().dir, 'readme-page');
    rmSync(root, { recursive: true, force: true });
    mkdirSync(root);
    writeFileSync(join(root, 'index.html'), '<!doctype html>\n<title>spydht</title>\n<script type="module" src="./main.js"></script>\n');
    writeFileSync(join(root, 'main.js'), example.code);
    app = await buildApp(root);
    const sum = (files: BuiltApp['jsFiles']): { gzip: number; raw: number } => ({
      gzip: files.reduce((n, f) => n + f.gzip, 0),
      raw: files.reduce((n, f) => n + f.code.length, 0),
    });
    page = sum(app.jsFiles.filter((f) => !f.name.startsWith('pow-worker-entry')));
    worker = sum(app.jsFiles.filter((f) => f.name.startsWith('pow-worker-entry')));
    console.log(`README browser example: page ${kib(page.raw)} (${kib(page.gzip)} gz), worker ${kib(worker.raw)} (${kib(worker.gzip)} gz)`);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    await server?.close();
    if (app) rmSync(dirname(app.dir), { recursive: true, force: true });
  });

  it('builds without a warning into a page and a proof-of-work worker', () => {
    expect(app.warnings, app.warnings.join('\n')).toEqual([]);
    expect(page.gzip).toBeGreaterThan(0);
    expect(worker.gzip).toBeGreaterThan(0);
  });

  it('README.md and BENCHMARKS.md state the measured sizes', () => {
    for (const doc of ['README.md', 'BENCHMARKS.md']) {
      const m = STATED.exec(readFileSync(join(ROOT, doc), 'utf8'));
      expect(m, `${doc} states "<n> KiB gz of JavaScript for the page and a <n> KiB gz worker"`).not.toBeNull();
      const [statedPage, statedWorker] = [Number(m![1]), Number(m![2])];
      const measured = `measured: ${(page.gzip / 1024).toFixed(1)} KiB gz page, ${(worker.gzip / 1024).toFixed(1)} KiB gz worker; update ${doc}`;
      expect(Math.abs(statedPage - page.gzip / 1024), measured).toBeLessThanOrEqual(TOLERANCE_KIB);
      expect(Math.abs(statedWorker - worker.gzip / 1024), measured).toBeLessThanOrEqual(TOLERANCE_KIB);
    }
  });

  it('runs: joins through the signaling server, puts, gets back what it put', async () => {
    server = await startSignalingServer({ host: '127.0.0.1', port: 0 });
    site = await serveStatic(app.dir);
    browser = await Browser.launch([`--host-resolver-rules=MAP localhost:8787 127.0.0.1:${server.port}`]);
    const tab = await browser.newPage();
    await tab.goto(`http://127.0.0.1:${site.port}/`);
    expect(await browser.waitForLog(/^console\.log: stored under [0-9a-f]{64}$/, 60_000)).toBeDefined();
    expect(await browser.waitForLog(/^console\.log: hello from a tab$/, 30_000)).toBeDefined();
    // The server holds the record the tab put.
    expect(server.dht.storage.size).toBe(1);
  }, 120_000);
});

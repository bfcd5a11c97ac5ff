/**
 * The package as a browser app gets it: test/bundle/app imports 'spydht' by name and is bundled by
 * Vite with no config file and no polyfills; the output must hold no Node built-in, and must work
 * in real Chromium (driven over the DevTools protocol, no Playwright): identity in a worker, kept
 * in IndexedDB across a reload, proof of work in a worker with the page responsive, WebCrypto
 * Ed25519, and a put/get between two in-page nodes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Rollup } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { chromiumPath } from '../../scripts/chromium.js';
import { lanAddress } from '../../src/node/lan-address.js';
import { ROOT, assertBuilt } from '../helpers/build.js';

const APP = join(ROOT, 'test', 'bundle', 'app');
/** The browser npm test found or installed (CHROMIUM_PATH), or the same search when run alone. */
const CHROMIUM = chromiumPath();

// ---------------------------------------------------------------------------------------------
// Build

let outDir: string;
let warnings: string[] = [];
let jsFiles: { name: string; code: string; gzip: number }[] = [];

async function viteBuild(): Promise<void> {
  outDir = mkdtempSync(join(tmpdir(), 'spydht-bundle-'));
  warnings = [];
  const result = await build({
    root: APP,
    configFile: false, // the consumer app has no vite config: everything is Vite's default
    logLevel: 'silent',
    cacheDir: join(outDir, '.vite-cache'),
    build: {
      outDir: join(outDir, 'dist'),
      emptyOutDir: true,
      rollupOptions: { onwarn: (w: Rollup.RollupLog) => void warnings.push(w.message) },
    },
    customLogger: {
      info: () => {},
      warn: (msg: string) => void warnings.push(msg),
      warnOnce: (msg: string) => void warnings.push(msg),
      error: (msg: string) => void warnings.push(`error: ${msg}`),
      clearScreen: () => {},
      hasErrorLogged: () => false,
      hasWarned: false,
    },
  });
  expect(Array.isArray(result) ? result.length : 1).toBeGreaterThan(0);
  const assets = join(outDir, 'dist', 'assets');
  jsFiles = readdirSync(assets)
    .filter((f) => f.endsWith('.js'))
    .map((name) => {
      const code = readFileSync(join(assets, name), 'utf8');
      return { name, code, gzip: gzipSync(code, { level: 9 }).length };
    });
}

// ---------------------------------------------------------------------------------------------
// Static server

let server: Server;
let port: number;

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json' };

function serve(dir: string): Promise<void> {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = normalize(join(dir, path === '/' ? 'index.html' : path));
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  return new Promise((resolve) => {
    // All interfaces: 127.0.0.1 is a secure context, a LAN address is not (no crypto.subtle there).
    server.listen(0, '0.0.0.0', () => {
      port = (server.address() as { port: number }).port;
      resolve();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Chromium over the DevTools protocol

class Browser {
  readonly #proc: ChildProcess;
  readonly #profile: string;
  #ws!: WebSocket;
  #nextId = 1;
  readonly #calls = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  readonly #listeners: ((method: string, params: Record<string, unknown>, sessionId?: string) => void)[] = [];
  readonly log: string[] = [];

  private constructor(proc: ChildProcess, profile: string) {
    this.#proc = proc;
    this.#profile = profile;
  }

  static async launch(): Promise<Browser> {
    const profile = mkdtempSync(join(tmpdir(), 'spydht-chromium-'));
    const proc = spawn(
      CHROMIUM,
      [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--remote-debugging-port=0',
        `--user-data-dir=${profile}`,
        'about:blank',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const browser = new Browser(proc, profile);
    const endpoint = await new Promise<string>((resolve, reject) => {
      let err = '';
      const timer = setTimeout(() => reject(new Error(`Chromium gave no DevTools endpoint in 20 s:\n${err}`)), 20_000);
      proc.stderr!.on('data', (d: Buffer) => {
        err += d;
        const m = /DevTools listening on (ws:\/\/\S+)/.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      proc.on('exit', (code) => reject(new Error(`Chromium exited (${code}) before it was ready:\n${err}`)));
    });
    browser.#ws = new WebSocket(endpoint, { perMessageDeflate: false });
    await new Promise((resolve, reject) => {
      browser.#ws.once('open', resolve);
      browser.#ws.once('error', reject);
    });
    browser.#ws.on('message', (data) => browser.#onMessage(String(data)));
    return browser;
  }

  #onMessage(text: string): void {
    const msg = JSON.parse(text) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: Record<string, unknown>; sessionId?: string };
    if (msg.id !== undefined) {
      const call = this.#calls.get(msg.id);
      this.#calls.delete(msg.id);
      if (msg.error) call?.reject(new Error(msg.error.message));
      else call?.resolve(msg.result);
    } else if (msg.method) {
      for (const l of this.#listeners) l(msg.method, msg.params ?? {}, msg.sessionId);
    }
  }

  send<T = Record<string, unknown>>(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<T> {
    const id = this.#nextId++;
    this.#ws.send(JSON.stringify(sessionId ? { id, method, params, sessionId } : { id, method, params }));
    return new Promise((resolve, reject) => this.#calls.set(id, { resolve: resolve as (v: unknown) => void, reject }));
  }

  /** Opens a page, logging its console and errors. */
  async newPage(): Promise<Page> {
    const { targetId } = await this.send<{ targetId: string }>('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send<{ sessionId: string }>('Target.attachToTarget', { targetId, flatten: true });
    this.#listeners.push((method, params, sid) => {
      if (sid !== sessionId) return;
      if (method === 'Runtime.consoleAPICalled') {
        const args = (params.args as { value?: unknown; description?: string }[]).map((a) => a.value ?? a.description);
        this.log.push(`console.${String(params.type)}: ${args.join(' ')}`);
      } else if (method === 'Runtime.exceptionThrown') {
        this.log.push(`exception: ${JSON.stringify(params.exceptionDetails)}`);
      } else if (method === 'Log.entryAdded') {
        const e = params.entry as { level: string; text: string; url?: string };
        this.log.push(`log.${e.level}: ${e.text} ${e.url ?? ''}`);
      }
    });
    await this.send('Runtime.enable', {}, sessionId);
    await this.send('Log.enable', {}, sessionId);
    await this.send('Page.enable', {}, sessionId);
    return new Page(this, sessionId);
  }

  async close(): Promise<void> {
    await this.send('Browser.close').catch(() => {});
    this.#ws?.close();
    if (this.#proc.exitCode === null) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.#proc.kill('SIGKILL');
          resolve();
        }, 5000);
        this.#proc.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    rmSync(this.#profile, { recursive: true, force: true });
  }
}

class Page {
  constructor(
    private readonly browser: Browser,
    private readonly sessionId: string,
  ) {}

  /** Navigates and waits until main.js has written its result (body[data-done]). */
  async run(url: string, timeoutMs = 60_000): Promise<string> {
    await this.browser.send('Page.navigate', { url }, this.sessionId);
    const deadline = Date.now() + timeoutMs;
    const expression = `new Promise((resolve) => {
      const poll = () => document.body && document.body.dataset.done ? resolve(document.body.textContent.trim()) : setTimeout(poll, 50);
      poll();
    })`;
    for (;;) {
      try {
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        const r = await Promise.race([
          this.browser.send<{ result: { value?: unknown } }>('Runtime.evaluate', { expression, awaitPromise: true, returnByValue: true }, this.sessionId),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), remaining)),
        ]);
        if (typeof r.result.value === 'string') return r.result.value;
      } catch (err) {
        if (String(err).includes('timeout')) break;
        // The evaluation raced the navigation (context destroyed): poll again in the new document.
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`page ${url} wrote no result in ${timeoutMs} ms; page log:\n${this.browser.log.join('\n')}`);
  }
}

// ---------------------------------------------------------------------------------------------

describe('bundling the browser entry with Vite (zero config)', () => {
  let browser: Browser | undefined;

  beforeAll(async () => {
    assertBuilt();
    await viteBuild();
    await serve(join(outDir, 'dist'));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await new Promise((r) => server?.close(r));
    if (outDir) rmSync(outDir, { recursive: true, force: true });
  });

  it('builds without warnings, emits the worker as its own chunk, and holds no Node built-in', () => {
    expect(warnings, warnings.join('\n')).toEqual([]);
    expect(existsSync(join(outDir, 'dist', 'index.html'))).toBe(true);
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
    console.log(
      `bundle: ${jsFiles.map((f) => `${f.name} ${(f.code.length / 1024).toFixed(1)} KiB, ${(f.gzip / 1024).toFixed(1)} KiB gz`).join('; ')}` +
        ` — total ${(raw / 1024).toFixed(1)} KiB, ${(total / 1024).toFixed(1)} KiB gz`,
    );
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

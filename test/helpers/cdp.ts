/**
 * Chromium driven over the DevTools protocol, with no test framework in between: launch it, open
 * pages, read their console. Used by the bundle tests, which check what a plain app gets from
 * the package; Playwright drives the e2e specs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { chromiumPath } from '../../scripts/chromium.js';
import { until } from './wait.js';

/** The browser npm test found or installed (CHROMIUM_PATH), or the same search when run alone. */
const CHROMIUM = chromiumPath();

export class Browser {
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

  /** Starts headless Chromium (the path npm test found, see scripts/chromium.js) with `extraArgs`. */
  static async launch(extraArgs: string[] = []): Promise<Browser> {
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
        ...extraArgs,
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

  /**
   * Waits (bounded) until a page printed a console line matching `pattern`, and returns it; fails at
   * once, with the whole log, if a page threw instead.
   */
  async waitForLog(pattern: RegExp, timeoutMs = 30_000): Promise<string> {
    const failed = (): boolean => this.log.some((l) => l.startsWith('exception:') || l.startsWith('console.error:'));
    await until(() => this.log.some((l) => pattern.test(l)) || failed(), `a console line matching ${pattern}`, timeoutMs).catch((err: Error) => {
      throw new Error(`${err.message}; page log:\n${this.log.join('\n')}`);
    });
    if (failed()) throw new Error(`the page failed; page log:\n${this.log.join('\n')}`);
    return this.log.find((l) => pattern.test(l))!;
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

export class Page {
  constructor(
    private readonly browser: Browser,
    private readonly sessionId: string,
  ) {}

  /** Navigates to `url` and returns at once. */
  async goto(url: string): Promise<void> {
    await this.browser.send('Page.navigate', { url }, this.sessionId);
  }

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

/**
 * Building an app the way its author would (Vite, no config file, no plugins) and serving the
 * result over HTTP: what the bundle tests measure and run in Chromium.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build, type Rollup } from 'vite';

export interface BuiltApp {
  /** The built site (index.html, assets/). */
  dir: string;
  /** Everything Vite or Rollup said: a clean build says nothing. */
  warnings: string[];
  /** Each emitted .js file, with its size gzipped at level 9. */
  jsFiles: { name: string; code: string; gzip: number }[];
}

/** `vite build` of the app whose index.html is in `root`, into a new temp folder. */
export async function buildApp(root: string): Promise<BuiltApp> {
  const out = mkdtempSync(join(tmpdir(), 'spydht-bundle-'));
  const warnings: string[] = [];
  await build({
    root,
    configFile: false, // the consumer app has no vite config: everything is Vite's default
    logLevel: 'silent',
    cacheDir: join(out, '.vite-cache'),
    build: {
      outDir: join(out, 'dist'),
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
  const dir = join(out, 'dist');
  const assets = join(dir, 'assets');
  const jsFiles = readdirSync(assets)
    .filter((f) => f.endsWith('.js'))
    .map((name) => {
      const code = readFileSync(join(assets, name), 'utf8');
      return { name, code, gzip: gzipSync(code, { level: 9 }).length };
    });
  return { dir, warnings, jsFiles };
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.map': 'application/json' };

/** Serves `dir` on every interface (127.0.0.1 is a secure context, a LAN address is not). */
export async function serveStatic(dir: string): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const file = normalize(join(dir, path === '/' ? 'index.html' : path));
    if (!file.startsWith(dir) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** "12.3 KiB" */
export const kib = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

/**
 * A page built by Vite (no config file, as any app would build it) into a temp dir and served on
 * every interface, for the sections that open it in Chromium (tabs, puzzle).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };

/**
 * Builds a page and serves the build. `source` is a dir holding index.html, or the page's files by
 * name (written into the temp dir first). Resolves with the port and a close() that stops the
 * server and removes the temp dir.
 */
export async function buildAndServe(name, source) {
  const { build } = await import('vite');
  const tmp = mkdtempSync(join(tmpdir(), `spydht-bench-${name}-`));
  const outDir = join(tmp, 'dist');
  let root = source;
  if (typeof source !== 'string') {
    root = join(tmp, 'src');
    mkdirSync(root);
    for (const [file, text] of Object.entries(source)) writeFileSync(join(root, file), text);
  }
  await build({ root, configFile: false, logLevel: 'warn', cacheDir: join(tmp, '.vite-cache'), build: { outDir, emptyOutDir: true } });
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(outDir, path === '/' ? 'index.html' : path));
    if (!file.startsWith(outDir + sep) || !existsSync(file) || !statSync(file).isFile()) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' }).end(readFileSync(file));
  });
  await new Promise((resolve, reject) => server.once('error', reject).listen(0, '0.0.0.0', resolve));
  return {
    port: server.address().port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/**
 * What the e2e specs run in the Playwright test process itself: a local swarm (startLocalSwarm:
 * the signaling server, Node bridges speaking UDP + WebRTC, UDP-only Node clients) and the demo
 * page built by Vite and served over HTTP. The specs hold the Node peers as plain DHT objects, so
 * they can put and get from the Node side directly.
 *
 * Everything runs from the built package (dist/): the page imports 'spydht' by name, exactly as
 * an app would, and so do these helpers ('spydht/node'). Run `npm run build` first.
 *
 * Addresses: Chromium never uses loopback addresses for WebRTC ICE candidates (it needs a
 * non-loopback interface and a default route), so the page and the signaling server must be
 * reached at a LAN address: this machine's first non-loopback IPv4 (`lanAddress()`).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { lanAddress, startLocalSwarm, type LocalSwarm } from 'spydht/node';
import { build } from 'vite';
import { ROOT } from '../helpers/build.js';

/** The LAN address the page and the signaling server are reached at; throws when there is none. */
function pageHost(): string {
  const ip = lanAddress();
  if (ip) return ip;
  throw new Error(
    'no non-loopback IPv4 interface: Chromium never uses loopback addresses for WebRTC ICE candidates, so browser tabs could not connect',
  );
}

// ---------------------------------------------------------------------------------------------
// The demo page

export interface DemoServer {
  /** http://<lan ip>:<port>/ */
  url: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

/** Builds demo/ with Vite (no config file, like any app) into a temp dir and serves it on 0.0.0.0. */
export async function serveDemo(host = pageHost()): Promise<DemoServer> {
  const tmp = mkdtempSync(join(tmpdir(), 'spydht-demo-'));
  const outDir = join(tmp, 'dist');
  await build({
    root: join(ROOT, 'demo'),
    configFile: false,
    logLevel: 'warn',
    cacheDir: join(tmp, '.vite-cache'),
    build: { outDir, emptyOutDir: true },
  });
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(outDir, path === '/' ? 'index.html' : path));
    if (!file.startsWith(outDir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '0.0.0.0', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}/`,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The swarm

/**
 * `servers` signaling servers (default 1), 3 Node bridges and `clients` UDP-only Node clients
 * (`startLocalSwarm`); tabs join through `swarm.url` / `swarm.urls`, which name the LAN address.
 */
export function startSwarm({ clients, servers = 1 }: { clients: number; servers?: number }): Promise<LocalSwarm> {
  pageHost(); // without a LAN address swarm.url would be loopback: fail now, saying why
  return startLocalSwarm({ bridges: 3, clients, servers });
}

/** What the demo page exposes on `window.spydht`, as far as the specs use it. */
export interface PageNode {
  id: string;
  put(label: string, content: string): Promise<string>;
  get(key: string): Promise<{ text(): string } | undefined>;
  findNode(id: string): Promise<{ id: string }[]>;
  routing: { has(id: string): boolean };
  stats(): Record<string, number>;
}
export type DemoWindow = { spydht: { node: PageNode; ready: Promise<PageNode> } };

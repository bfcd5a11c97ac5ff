/**
 * What the e2e specs run in the Playwright test process itself: the signaling server, Node peers
 * (UDP + WebRTC, and UDP only), and the demo page built by Vite and served over HTTP. The specs
 * hold the Node peers as plain DHT objects, so they can put and get from the Node side directly.
 *
 * Everything runs from the built package (dist/): the page imports 'spydht' by name, exactly as
 * an app would, and so do these helpers ('spydht/node'). Run `npm run build` first.
 *
 * Addresses: Chromium never uses loopback for WebRTC (PLATFORM.md), so the page, the signaling
 * server and the peers' ICE candidates must use a non-loopback interface: the page and server
 * URLs below use this machine's first non-internal IPv4 address.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNode, reachableAddresses, startSignalingServer, type DHT } from 'spydht/node';
import { build } from 'vite';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** Every peer here shares one or two IPs; a real node keeps at most 2 routing entries per IP. */
export const MAX_PER_IP = 64;

/** This machine's first non-loopback IPv4 address (WebRTC in Chromium needs one). */
export function lanIp(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const nic of list ?? []) if (nic.family === 'IPv4' && !nic.internal) return nic.address;
  }
  throw new Error(
    'no non-loopback IPv4 interface: Chromium never uses loopback for WebRTC, so browser tabs could not connect (see /work/shared/PLATFORM.md)',
  );
}

/** Fails early, and clearly, when dist/ is missing or older than src/. */
export function assertBuilt(): void {
  const out = join(ROOT, 'dist', 'browser-node.js');
  const src = join(ROOT, 'src', 'browser-node.ts');
  if (!existsSync(out) || (existsSync(src) && statSync(out).mtimeMs < statSync(src).mtimeMs)) {
    throw new Error('dist/ is missing or older than src/: run `npm run build` first');
  }
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
export async function serveDemo(host = lanIp()): Promise<DemoServer> {
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

export type SignalingServer = Awaited<ReturnType<typeof startSignalingServer>>;

export interface Swarm {
  server: SignalingServer;
  /** ws://<lan ip>:<port>: what a browser tab connects to. */
  signalUrl: string;
  /** Node peers speaking UDP and WebRTC (bridges): browsers reach them directly. */
  webrtcPeers: DHT[];
  /**
   * Node peers speaking UDP only: clients (README, mixed swarms) that joined through a bridge; they
   * are in no routing table, and get or put through their bridge what only browsers hold.
   */
  udpPeers: DHT[];
  close(): Promise<void>;
}

export async function startSwarm({ webrtcPeers = 3, udpPeers = 1 } = {}): Promise<Swarm> {
  const ip = lanIp();
  const server = await startSignalingServer({ host: '0.0.0.0', port: 0, udpHost: '127.0.0.1', webrtc: true, dht: { maxPerIp: MAX_PER_IP } });
  const all: DHT[] = [];
  const swarm: Swarm = {
    server,
    signalUrl: `ws://${ip}:${server.port}`,
    webrtcPeers: [],
    udpPeers: [],
    close: async () => {
      await Promise.all(all.map((n) => n.close()));
      await server.close();
    },
  };
  try {
    // Bridges one at a time: each join then sees the ones before it.
    for (let i = 0; i < webrtcPeers; i++) {
      const node = await createNode({ host: '127.0.0.1', webrtc: true, maxPerIp: MAX_PER_IP, bootstrap: [server.udpAddress] });
      all.push(node);
      swarm.webrtcPeers.push(node);
    }
    // UDP-only clients join through a bridge: the first Node bridge, and the server (also one).
    const bridges = [...swarm.webrtcPeers.slice(0, 1).flatMap((n) => reachableAddresses(n).slice(0, 1)), server.udpAddress];
    for (let i = 0; i < udpPeers; i++) {
      const node = await createNode({ host: '127.0.0.1', client: true, bootstrap: bridges });
      all.push(node);
      swarm.udpPeers.push(node);
    }
  } catch (err) {
    await swarm.close();
    throw err;
  }
  return swarm;
}

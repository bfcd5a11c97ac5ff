#!/usr/bin/env node
/**
 * `npm start`: a local mixed swarm and the demo page.
 *
 *   - the signaling / bootstrap server: WebSocket on port 8787 (browsers join through it), UDP on a
 *     free port (Node peers and the CLI join through it), and WebRTC (it is a full member);
 *   - 3 Node peers speaking UDP + WebRTC (bridges: browsers reach them directly) and 2 speaking
 *     UDP only (clients: they use a bridge for what only browsers can reach);
 *   - a put and a get across them;
 *   - the demo page (demo/) on Vite's dev server, on every interface: open the printed URL in
 *     two or more tabs or browsers, each tab is one more node.
 *
 * It runs until Ctrl-C, then closes everything. Ports: SIGNAL_PORT (8787), DEMO_PORT (5173).
 */
import { networkInterfaces } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createNode, reachableAddresses, startSignalingServer } from '../dist/node/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SIGNAL_PORT = Number(process.env.SIGNAL_PORT ?? 8787);
const DEMO_PORT = Number(process.env.DEMO_PORT ?? 5173);
const WEBRTC_PEERS = 3;
const UDP_PEERS = 2;
// Every peer here shares this machine's IPs. A real node keeps at most 2 routing entries per IP (an
// attacker with one machine cannot fill its table); this demo lifts that limit locally only: for
// the Node peers and the server here, and for the tabs through the page URL's ?maxPerIp=.
const MAX_PER_IP = 64;
const LOCAL = { host: '127.0.0.1', maxPerIp: MAX_PER_IP };

const short = (hex) => `${hex.slice(0, 12)}…`;
const log = (line = '') => process.stdout.write(line + '\n');
const TRANSPORTS = { 1: 'UDP', 3: 'WebRTC', 4: 'WebSocket' };

/** This machine's first non-loopback IPv4: Chromium never uses loopback for WebRTC. */
function lanIp() {
  for (const list of Object.values(networkInterfaces())) {
    for (const nic of list ?? []) if (nic.family === 'IPv4' && !nic.internal) return nic.address;
  }
  return undefined;
}

async function main() {
  /** Everything to close on the way out, last started first. */
  const running = [];
  let stopping = false;
  const shutdown = async (why) => {
    if (stopping) return;
    stopping = true;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    log(`\n${why}: closing ${running.length} things …`);
    for (const { name, close } of running.reverse()) {
      try {
        await close();
      } catch (err) {
        process.stderr.write(`closing ${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      }
    }
    log('closed');
    // Everything is closed; should a native handle still hold the event loop, do not hang on it.
    setTimeout(() => process.exit(), 3000).unref();
  };
  const onSignal = (signal) => void shutdown(signal);
  /** Registers something to close; false (having closed it) when Ctrl-C came while it started. */
  const keep = async (name, close) => {
    if (stopping) {
      await close();
      return false;
    }
    running.push({ name, close });
    return true;
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    const ip = lanIp();
    if (!ip) log('warning: no non-loopback IPv4 interface; browsers will reach the page but cannot open WebRTC links');
    const host = ip ?? '127.0.0.1';

    log(`Starting the signaling server on port ${SIGNAL_PORT} …`);
    const server = await startSignalingServer({
      host: '0.0.0.0',
      port: SIGNAL_PORT,
      udpPort: 0,
      webrtc: true,
      dht: { maxPerIp: MAX_PER_IP },
      logger: (e) => {
        if (e.event === 'join' || e.event === 'leave') log(`server: browser ${e.message}`);
      },
    });
    if (!(await keep('signaling server', () => server.close()))) return;
    const bootstrap = server.udpAddress;

    log(`Starting ${WEBRTC_PEERS} Node peers speaking UDP + WebRTC (bridges) and ${UDP_PEERS} speaking UDP only (clients) …`);
    const peers = [];
    for (let i = 0; i < WEBRTC_PEERS; i++) {
      const node = await createNode({ ...LOCAL, webrtc: true, bootstrap: [bootstrap] });
      if (!(await keep(`peer ${i}`, () => node.close()))) return;
      peers.push({ node, kind: 'UDP + WebRTC', name: `peer ${i}` });
    }
    // In a mixed swarm every node that stores and routes speaks WebRTC (browsers must reach it):
    // a UDP-only peer takes part as a client through a bridge, which runs gets and puts for it.
    const bridges = [reachableAddresses(peers[0].node)[0], bootstrap];
    for (let i = WEBRTC_PEERS; i < WEBRTC_PEERS + UDP_PEERS; i++) {
      const node = await createNode({ host: '127.0.0.1', client: true, bootstrap: bridges });
      if (!(await keep(`peer ${i}`, () => node.close()))) return;
      peers.push({ node, kind: 'UDP only    ', name: `peer ${i}` });
    }
    log('');
    log(`  server  ws://${host}:${server.port} + UDP ${bootstrap}  id ${short(server.dht.id)}  table ${server.dht.routing.size}`);
    for (const p of peers) log(`  ${p.name}  ${p.kind}  id ${short(p.node.id)}  table ${p.node.routing.size}${p.node.client ? ' (client: in no routing table)' : ''}`);

    // A put by a bridge; a get by a UDP-only client (through the swarm, or its bridge).
    const writer = peers[0];
    const reader = peers[peers.length - 1];
    const label = 'greeting';
    const content = `hello from ${writer.name} at ${new Date().toISOString()}`;
    const { key, stored } = await writer.node.publish(label, content);
    log('');
    log(`put   ${writer.name}: "${label}" = "${content}"`);
    log(`      key ${key}  (stored on ${stored} nodes)`);
    const found = await reader.node.findValue(key);
    if (!found.value) throw new Error(`${reader.name} could not find ${key}`);
    log(`get   ${reader.name}: "${found.value.labelText()}" = "${found.value.text()}"`);
    log(`      (${found.hops} hops, ${found.queried} nodes queried)`);

    // The demo page, on Vite's dev server (edit demo/ and the page reloads).
    const { createServer } = await import('vite');
    const vite = await createServer({
      root: join(ROOT, 'demo'),
      configFile: false,
      logLevel: 'warn',
      clearScreen: false,
      server: { host: '0.0.0.0', port: DEMO_PORT },
    });
    if (!(await keep('vite', () => vite.close()))) return;
    await vite.listen();
    const demoPort = vite.httpServer?.address()?.port ?? DEMO_PORT;

    // From here on, say what browsers and other processes do to the swarm.
    server.dht.on('contact-added', (c) => log(`server met ${short(c.id)} over ${TRANSPORTS[c.transport] ?? c.transport} (table ${server.dht.routing.size})`));
    server.dht.on('contact-removed', (c) => log(`server dropped ${short(c.id)} (table ${server.dht.routing.size})`));
    for (const p of peers) {
      p.node.on('stored', ({ key: k }) => log(`${p.name} stored ${k}`));
      p.node.on('deleted', ({ key: k }) => log(`${p.name} deleted ${k}`));
    }

    const query = new URLSearchParams({ signal: `ws://${host}:${server.port}`, maxPerIp: String(MAX_PER_IP) });
    const page = `http://${host}:${demoPort}/?${query.toString().replace(/%3A/gi, ':').replace(/%2F/gi, '/')}`;
    log('');
    log('Demo page (open it in two or more tabs; each tab is a node):');
    log(`  ${page}`);
    log('');
    log('From another terminal (UDP, through the server):');
    log(`  npx spydht get ${key} --bootstrap ${bootstrap}`);
    log(`  npx spydht put mylabel "my content" --bootstrap ${bootstrap} --identity me.json`);
    log('');
    log('Running; Ctrl-C to stop.');
  } catch (err) {
    if (stopping) return; // Ctrl-C while starting: whatever was in flight failed with CLOSED
    process.stderr.write(`start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
    await shutdown('error');
  }
}

await main();

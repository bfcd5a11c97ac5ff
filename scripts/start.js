#!/usr/bin/env node
/**
 * `npm start`: a local mixed swarm and the demo page.
 *
 *   - two signaling / bootstrap servers that share nothing: WebSocket on ports 8787 and 8788
 *     (browsers join through either and fail over to the other), UDP on free ports (Node peers and
 *     the CLI join through them; the second joined the first), and WebRTC (they are full members);
 *   - 3 Node peers speaking UDP + WebRTC (bridges: browsers reach them directly) and 2 speaking
 *     UDP only (clients: they use a bridge for what only browsers can reach);
 *   - a put and a get across them;
 *   - the demo page (demo/) on Vite's dev server, on every interface: open the printed URL in
 *     two or more tabs or browsers, each tab is one more node.
 *
 * The swarm is startLocalSwarm from spydht/node. It runs until Ctrl-C, then closes everything.
 * Ports: SIGNAL_PORT (8787; the second server takes the next one), DEMO_PORT (5173).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { lanAddress, startLocalSwarm } from '../dist/node/index.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SIGNAL_PORT = Number(process.env.SIGNAL_PORT ?? 8787);
const DEMO_PORT = Number(process.env.DEMO_PORT ?? 5173);
const BRIDGES = 3;
const CLIENTS = 2;
/** Two signaling servers: stop one (it is logged which) and the tabs on it move to the other. */
const SERVERS = 2;

const short = (hex) => `${hex.slice(0, 12)}…`;
const log = (line = '') => process.stdout.write(line + '\n');
const TRANSPORTS = { 1: 'UDP', 3: 'WebRTC', 4: 'WebSocket' };

async function main() {
  /** Everything to close on the way out, last started first. */
  const running = [];
  let stopping = false;
  /** Ctrl-C while the swarm starts: it closes what it started and rejects. */
  const starting = new AbortController();
  const shutdown = async (why) => {
    if (stopping) return;
    stopping = true;
    starting.abort();
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
    if (!lanAddress()) log('warning: no non-loopback IPv4 interface; browsers will reach the page but cannot open WebRTC links');

    log(`Starting ${SERVERS} signaling servers on ports ${SIGNAL_PORT}–${SIGNAL_PORT + SERVERS - 1}, ${BRIDGES} Node peers speaking UDP + WebRTC (bridges) and ${CLIENTS} speaking UDP only (clients) …`);
    // Every peer here shares this machine's IPs, so the swarm lifts the per-IP routing limit (a
    // real node keeps 2) for its server and bridges; the tabs get the same through ?maxPerIp=.
    const swarm = await startLocalSwarm({
      port: SIGNAL_PORT,
      servers: SERVERS,
      bridges: BRIDGES,
      clients: CLIENTS,
      signal: starting.signal,
      logger: (e) => {
        if (e.event === 'join' || e.event === 'leave') log(`server: browser ${e.message}`);
      },
    });
    if (!(await keep('swarm', () => swarm.close()))) return;
    const { bootstrap } = swarm;
    const host = new URL(swarm.url).hostname;
    const peers = [
      ...swarm.bridges.map((node, i) => ({ node, kind: 'UDP + WebRTC', name: `peer ${i}` })),
      ...swarm.clients.map((node, i) => ({ node, kind: 'UDP only    ', name: `peer ${BRIDGES + i}` })),
    ];
    log('');
    swarm.servers.forEach((s, i) => log(`  server  ${swarm.urls[i]} + UDP ${s.udpAddress}  id ${short(s.dht.id)}  table ${s.dht.routing.size}`));
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
    swarm.servers.forEach((s, i) => {
      const name = `server ${swarm.urls[i].replace(/^.*:/, ':')}`;
      s.dht.on('contact-added', (c) => log(`${name} met ${short(c.id)} over ${TRANSPORTS[c.transport] ?? c.transport} (table ${s.dht.routing.size})`));
      s.dht.on('contact-removed', (c) => log(`${name} dropped ${short(c.id)} (table ${s.dht.routing.size})`));
    });
    for (const p of peers) {
      p.node.on('stored', ({ key: k }) => log(`${p.name} stored ${k}`));
      p.node.on('deleted', ({ key: k }) => log(`${p.name} deleted ${k}`));
    }

    // Both servers: each tab picks one at random and fails over to the other.
    const query = new URLSearchParams({ signal: swarm.urls.join(','), maxPerIp: String(swarm.maxPerIp) });
    const page = `http://${host}:${demoPort}/?${query.toString().replace(/%3A/gi, ':').replace(/%2F/gi, '/').replace(/%2C/gi, ',')}`;
    log('');
    log('Demo page (open it in two or more tabs; each tab is a node, and shows which server it uses):');
    log(`  ${page}`);
    // Plain http on a LAN address is not a secure context: no crypto.subtle, so such a page signs
    // and solves its ID puzzle with @noble. localhost is one; so is any https origin.
    log(`  (on this machine, ${page.replace(`//${host}:`, '//localhost:')} is a secure context: the page then uses the browser's own Ed25519)`);
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

/**
 * The signaling server's memory per idle connection: authenticated clients at 1,000 and 10,000
 * connections, and connections left before their hello (the pending pool, at 1,000). The clients
 * run in a child process (bench/lib/ws-clients.js) from 127.0.x.y source addresses, so only the
 * server's memory is in the figures: process RSS, and the JS heap plus Buffers (heapUsed +
 * external), each after forced GC, over the reading before the connections opened.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { fmt, log, table } from '../lib/format.js';
import { settleMemory } from '../lib/memory.js';

const CLIENTS = join(dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'ws-clients.js');
const MANY = 1e6;

/** A client process: `open(n, mode)` resolves once the server holds that many more. */
function clientProcess(url, networkId) {
  const child = spawn(process.execPath, [CLIENTS, url, Buffer.from(networkId).toString('hex')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const waiting = [];
  let exited;
  lines.on('line', (l) => waiting.shift()?.resolve(l));
  // A client process that dies fails the section instead of leaving it waiting.
  child.on('exit', (code) => {
    exited = new Error(`ws-clients exited (${code})`);
    for (const w of waiting.splice(0)) w.reject(exited);
  });
  return {
    open: (n, mode) =>
      new Promise((resolve, reject) => {
        if (exited) return reject(exited);
        waiting.push({ resolve, reject });
        child.stdin.write(`open ${n} ${mode}\n`);
      }),
    close: () =>
      new Promise((resolve) => {
        if (exited) return resolve();
        child.on('exit', resolve);
        child.stdin.end();
      }),
  };
}

async function serverWith(limits) {
  const { startSignalingServer, nodeCrypto } = await import('../../dist/node/index.js');
  return startSignalingServer({
    host: '127.0.0.1',
    port: 0,
    network: { name: 'bench-wsmemory', idDifficulty: 0, powBaseBits: 8 },
    crypto: nodeCrypto,
    logger: () => {},
    limits: { maxConnectionsPerIp: MANY, maxConnectionsPerPrefix: MANY, maxPendingPerIp: MANY, maxPendingPerPrefix: MANY, idleTimeoutMs: 600_000, ...limits },
  });
}

const perConn = (m0, m1, n) => ({
  connections: n,
  rssKiB: (m1.rss - m0.rss) / 1024 / n,
  heapKiB: (m1.heapUsed + m1.external - m0.heapUsed - m0.external) / 1024 / n,
});

export async function measure({ quick }) {
  const { networkConfig, nodeCrypto } = await import('../../dist/node/index.js');
  const networkId = networkConfig(nodeCrypto, { name: 'bench-wsmemory', idDifficulty: 0, powBaseBits: 8 }).networkId;
  const sizes = quick ? [1000, 3000] : [1000, 10_000];
  const rows = [];

  // Authenticated, idle.
  let server = await serverWith({ maxConnections: MANY, maxPendingConnections: 1000, helloTimeoutMs: 60_000 });
  let clients = clientProcess(server.url, networkId);
  let m0 = await settleMemory();
  let open = 0;
  for (const n of sizes) {
    log(`[wsmemory] ${n} authenticated idle connections…`);
    await clients.open(n - open, 'hello');
    open = n;
    if (server.stats().clients !== n) throw new Error(`expected ${n} clients, server has ${server.stats().clients}`);
    rows.push({ kind: 'authenticated, idle', ...perConn(m0, await settleMemory(), n) });
  }
  await clients.close();
  await server.close();

  // Pending: connected, challenged, never a hello.
  const pending = 1000;
  server = await serverWith({ maxConnections: MANY, maxPendingConnections: MANY, helloTimeoutMs: 600_000 });
  clients = clientProcess(server.url, networkId);
  m0 = await settleMemory();
  log(`[wsmemory] ${pending} connections before their hello…`);
  await clients.open(pending, 'pending');
  if (server.stats().pending !== pending) throw new Error(`expected ${pending} pending, server has ${server.stats().pending}`);
  rows.push({ kind: 'before the hello', ...perConn(m0, await settleMemory(), pending) });
  await clients.close();
  await server.close();

  for (const r of rows) log(`[wsmemory] ${r.kind} ×${r.connections}: ${fmt(r.rssKiB, 1)} KiB RSS, ${fmt(r.heapKiB, 1)} KiB heap+external each`);
  return { rows };
}

export function report(r) {
  return [
    table(
      "Signaling server: memory per idle WebSocket connection (server process only; clients in another process)",
      ['connections', 'state', 'RSS KiB/conn', 'heap+external KiB/conn'],
      r.rows.map((x) => [x.connections, x.kind, fmt(x.rssKiB, 1), fmt(x.heapKiB, 1)]),
    ),
    'Goal ≤ 10 KiB per idle authenticated connection. RSS includes the kernel-side socket buffers Node touched and allocator slack; heap+external is what the JS objects, ws and its Buffers hold.',
  ];
}

/**
 * The built server in separate processes (run `npm run build` first): close() leaves no handle, so
 * a script that starts and closes a server exits by itself; `spydht signal` and
 * signaling-server/server.js print their addresses, log joins and leaves, and exit on a signal.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WsClientTransport, WsCloseCode } from '../../src/transport/ws-client.js';
import { createNode } from '../../src/node/index.js';
import { ROOT, assertBuilt } from '../helpers/build.js';
import { CLI, Lines, exitOf } from '../helpers/udp-swarm.js';
import { NETWORK, NETWORK_ID, WS, newIdentity, within } from './helpers.js';

const ENTRY = join(ROOT, 'dist', 'node', 'signaling', 'index.js');
const STARTER = join(ROOT, 'signaling-server', 'server.js');
const NETWORK_ARGS = ['--network', NETWORK.name, '--id-difficulty', String(NETWORK.idDifficulty), '--pow-base-bits', String(NETWORK.powBaseBits)];

const children: ChildProcessWithoutNullStreams[] = [];

function run(args: string[], env: Record<string, string> = {}): { child: ChildProcessWithoutNullStreams; stdout: Lines; stderr: Lines } {
  const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  children.push(child);
  return { child, stdout: new Lines(child.stdout), stderr: new Lines(child.stderr) };
}

beforeAll(assertBuilt);

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

// Plain ESM run with `node --input-type=module -e`; `ws` resolves from the repository's node_modules.
const SCRIPT = String.raw`
const { startSignalingServer, WsClientTransport } = await import(process.env.SPYDHT_ENTRY);
const { WebSocket } = await import('ws');
const { Identity, nodeCrypto, networkConfig, DHT, createNode } = await import(process.env.SPYDHT_NODE);
const network = JSON.parse(process.env.SPYDHT_NETWORK);
const networkId = networkConfig(nodeCrypto, network).networkId;
const server = await startSignalingServer({ host: '127.0.0.1', port: 0, network });
const identity = await Identity.generate({ crypto: nodeCrypto, difficulty: network.idDifficulty });
const link = await WsClientTransport.connect({ url: server.url, identity, networkId, WebSocket });
const browser = await DHT.create({ transports: [link], crypto: nodeCrypto, identity, network, bootstrap: [{ kind: 4, data: link.serverId }] });
await browser.bootstrap();
const peer = await createNode({ host: '127.0.0.1', bootstrap: [server.udpAddress], network });
const key = await peer.put('x', 'y');
const found = await browser.get(key);
// One socket still in its handshake, one ws client that never says hello.
const raw = new WebSocket(server.url);
raw.on('error', () => {});
const rawClosed = new Promise((resolve) => raw.on('close', (code) => resolve(code)));
await new Promise((resolve) => raw.once('message', resolve));
await peer.close();
await server.close();
const info = await link.closed;
await browser.close();
process.stdout.write(JSON.stringify({ found: found && found.text(), linkCode: info.code, rawCode: await rawClosed }) + '\n');
// No process.exit(): nothing may keep this process alive now.
`;

describe('processes', () => {
  it('a script that starts and closes a server (with clients) exits by itself', async () => {
    const { child, stdout, stderr } = run(['--input-type=module', '-e', SCRIPT], {
      SPYDHT_ENTRY: ENTRY,
      SPYDHT_NODE: join(ROOT, 'dist', 'node', 'index.js'),
      SPYDHT_NETWORK: JSON.stringify(NETWORK),
    });
    const line = await stdout.waitFor(/^\{/, 20_000, 'the result line').catch((e: Error) => {
      throw new Error(`${e.message}\nstderr:\n${stderr.all.join('\n')}`);
    });
    expect(JSON.parse(line)).toEqual({ found: 'y', linkCode: WsCloseCode.GOING_AWAY, rawCode: WsCloseCode.GOING_AWAY });
    expect(await exitOf(child, 5000)).toBe(0);
  });

  it('`spydht signal` prints URL, UDP address and ID, logs joins and leaves, and exits on SIGINT', async () => {
    const { child, stdout, stderr } = run([CLI, 'signal', '--host', '127.0.0.1', '--port', '0', ...NETWORK_ARGS]);
    await stdout.waitFor(/^running/, 15_000, 'the running line').catch((e: Error) => {
      throw new Error(`${e.message}\nstderr:\n${stderr.all.join('\n')}`);
    });
    const url = (await stdout.waitFor(/^url\s/, 100)).split(/\s+/)[1]!;
    const udp = (await stdout.waitFor(/^udp\s/, 100)).split(/\s+/)[1]!;
    const id = (await stdout.waitFor(/^id\s/, 100)).split(/\s+/)[1]!;
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    expect(udp).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(id).toMatch(/^[0-9a-f]{64}$/);

    const identity = await newIdentity();
    const link = await WsClientTransport.connect({ url, identity, networkId: NETWORK_ID, WebSocket: WS });
    expect(Buffer.from(link.serverId).toString('hex')).toBe(id);
    const hex = Buffer.from(identity.id).toString('hex');
    await stdout.waitFor((l) => l.startsWith('join') && l.includes(hex.slice(0, 16)), 5000, 'the join line');
    // A Node peer reaches the same node over UDP.
    const peer = await createNode({ host: '127.0.0.1', bootstrap: [udp], network: NETWORK });
    expect(peer.snapshot().buckets.flatMap((b) => b.contacts).map((c) => c.id)).toContain(id);
    await peer.close();
    await link.close();
    await stdout.waitFor((l) => l.startsWith('leave') && l.includes(hex.slice(0, 16)) && l.includes('1000'), 5000, 'the leave line');

    child.kill('SIGINT');
    await stdout.waitFor(/^closed$/, 5000);
    expect(await exitOf(child, 5000)).toBe(0);
  });

  it('signaling-server/server.js starts the built server and exits on SIGTERM', async () => {
    const { child, stdout, stderr } = run([STARTER, '--host', '127.0.0.1', '--port', '0', ...NETWORK_ARGS]);
    await stdout.waitFor(/^running/, 15_000, 'the running line').catch((e: Error) => {
      throw new Error(`${e.message}\nstderr:\n${stderr.all.join('\n')}`);
    });
    const url = (await stdout.waitFor(/^url\s/, 100)).split(/\s+/)[1]!;
    const link = await WsClientTransport.connect({ url, identity: await newIdentity(), networkId: NETWORK_ID, WebSocket: WS });
    child.kill('SIGTERM');
    expect(await within(link.closed, 5000, 'the link to close')).toMatchObject({ code: WsCloseCode.GOING_AWAY });
    expect(await exitOf(child, 5000)).toBe(0);
  });

  it('`spydht signal` rejects bad options with exit code 64', async () => {
    const { child, stderr } = run([CLI, 'signal', '--udp-port', '70000']);
    expect(await exitOf(child, 10_000)).toBe(64);
    expect(stderr.all.join('\n')).toMatch(/--udp-port/);
  });
});

/**
 * Real UDP on loopback, across OS processes, using the built package (run `npm run build` first).
 * Linux routes all of 127.0.0.0/8 to lo, so each process binds its own 127.x.y.z addresses:
 *   A: 10 nodes on 127.0.1.1 … 127.0.1.10 (127.0.1.1 is the swarm's bootstrap node)
 *   B: 10 nodes on 127.0.2.1 … 127.0.2.10
 *   C:  5 nodes sharing 127.0.3.1 (different ports) — the per-IP limit must hold them to 2 per table
 *   D:  1 node on 127.0.5.1 that puts, closes, and whose process must then exit by itself
 * plus the CLI (`node dist/node/cli.js …`) against the same swarm.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../helpers/build.js';
import { SwarmProcess, TEST_NETWORK_ARGS, exitOf, problems, runCli as runCliIn, spawnCli, type NodeReport } from '../helpers/udp-swarm.js';

const SHARED_IP = '127.0.3.1';
const MAX_PER_IP = 2; // the engine's default

const hosts = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}.${i + 1}`);

let a: SwarmProcess;
let b: SwarmProcess;
let c: SwarmProcess;
let seed: string;
let joined: { a: NodeReport[]; b: NodeReport[]; c: NodeReport[] };
const spawned: { kill(): void }[] = [];
let tmp: string;
/** The CLI with its default identity in this file's temp folder, never in the user's config. */
const runCli = (args: string[]): ReturnType<typeof runCliIn> => runCliIn(args, undefined, { XDG_CONFIG_HOME: tmp, APPDATA: tmp });

beforeAll(async () => {
  assertBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'spydht-cli-'));
  [a, b, c] = await Promise.all([SwarmProcess.spawn('A'), SwarmProcess.spawn('B'), SwarmProcess.spawn('C')]);
  spawned.push(a, b, c);
  const [first] = await a.start([{ host: '127.0.1.1' }]);
  seed = first!.address;
  expect(seed).toMatch(/^127\.0\.1\.1:\d+$/);
  const bootstrap = [seed];
  const [restA, allB, allC] = await Promise.all([
    a.start(hosts('127.0.1', 10).slice(1).map((host) => ({ host, bootstrap }))),
    b.start(hosts('127.0.2', 10).map((host) => ({ host, bootstrap }))),
    c.start(Array.from({ length: 5 }, () => ({ host: SHARED_IP, bootstrap }))),
  ]);
  joined = { a: [first!, ...restA], b: allB, c: allC };
}, 45_000);

afterAll(() => {
  for (const p of spawned) p.kill();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('UDP swarm across processes', () => {
  it('runs 25 nodes in 3 processes, each process on its own loopback addresses', () => {
    const all = [...joined.a, ...joined.b, ...joined.c];
    expect(all).toHaveLength(25);
    expect(new Set(all.map((n) => n.id)).size).toBe(25);
    expect(new Set(all.map((n) => n.address)).size).toBe(25);
    joined.a.forEach((n, i) => expect(n.address).toMatch(new RegExp(`^127\\.0\\.1\\.${i + 1}:\\d+$`)));
    joined.b.forEach((n, i) => expect(n.address).toMatch(new RegExp(`^127\\.0\\.2\\.${i + 1}:\\d+$`)));
    joined.c.forEach((n) => expect(n.address.startsWith(`${SHARED_IP}:`)).toBe(true));
    // Every joiner's bootstrap succeeded (createNode rejects otherwise) and left it with contacts.
    for (const n of all.slice(1)) expect(n.size).toBeGreaterThan(0);
  });

  it('a put in one process is found by a get in another, both ways', async () => {
    const puts = await Promise.all([
      ...[0, 4, 8].map(async (node) => ({ from: 'A', label: `a-${node}`, content: `from A node ${node} ✓`, ...(await a.put(node, `a-${node}`, `from A node ${node} ✓`)) })),
      ...[1, 5, 9].map(async (node) => ({ from: 'B', label: `b-${node}`, content: `from B node ${node} ✓`, ...(await b.put(node, `b-${node}`, `from B node ${node} ✓`)) })),
    ]);
    for (const p of puts) {
      expect(p.key).toMatch(/^[0-9a-f]{64}$/);
      expect(p.stored).toBeGreaterThan(0);
    }
    const gets = await Promise.all(
      puts.flatMap((p, i) => {
        const other = p.from === 'A' ? b : a;
        return [
          other.get((i * 3 + 2) % 10, p.key).then((v) => ({ p, v })),
          c.get(i % 5, p.key).then((v) => ({ p, v })),
        ];
      }),
    );
    for (const { p, v } of gets) {
      expect(v, `get ${p.label}`).not.toBeNull();
      expect(v!.label).toBe(p.label);
      expect(v!.content).toBe(p.content);
    }
  });

  it(`keeps at most ${MAX_PER_IP} contacts per IP: 5 nodes share ${SHARED_IP}`, async () => {
    const reports = (await Promise.all([a.report(), b.report(), c.report()])).flat();
    expect(reports).toHaveLength(25);
    let sharedSeen = 0;
    let ipLimited = 0;
    for (const r of reports) {
      const shared = r.contacts.filter((x) => x.ip === SHARED_IP).length;
      expect(shared, `node ${r.address} holds ${shared} contacts at ${SHARED_IP}`).toBeLessThanOrEqual(MAX_PER_IP);
      for (const [ip, count] of Object.entries(r.ipCount)) {
        expect(count, `node ${r.address}: ipCount(${ip})`).toBeLessThanOrEqual(MAX_PER_IP);
        expect(count).toBe(r.contacts.filter((x) => x.ip === ip).length);
      }
      // Not just now: at no point since the node started (checked on every 'contact-added').
      for (const [ip, peak] of Object.entries(r.ipPeak)) expect(peak, `node ${r.address}: peak ipCount(${ip})`).toBeLessThanOrEqual(MAX_PER_IP);
      sharedSeen = Math.max(sharedSeen, r.ipPeak[SHARED_IP] ?? 0);
      ipLimited += r.ipLimited;
    }
    // The limit was really hit: some table is full for that IP and the engine refused the others.
    expect(sharedSeen).toBe(MAX_PER_IP);
    expect(ipLimited).toBeGreaterThan(0);
    // The five nodes behind one IP still joined and can use the swarm.
    for (const r of reports.filter((x) => x.address.startsWith(`${SHARED_IP}:`))) expect(r.size).toBeGreaterThan(0);
  });

  it('a process whose node put and closed exits by itself, and the value stays in the swarm', async () => {
    const d = await SwarmProcess.spawn('D');
    spawned.push(d);
    await d.start([{ host: '127.0.5.1', bootstrap: [seed] }]);
    const { key } = await d.put(0, 'from-d', 'written by a process that then left');
    const code = await d.end(10_000); // stdin closed → close() every node → no handle may remain
    expect(code).toBe(0);
    await d.stdout.waitFor(/"event":"closed"/, 1000);
    expect(d.stderr.all.join('\n')).toBe('');
    const v = await b.get(3, key);
    expect(v?.content).toBe('written by a process that then left');
  });
});

describe('CLI (node dist/node/cli.js)', () => {
  it('--help and help list every command', async () => {
    for (const args of [['--help'], ['help']]) {
      const r = await runCli(args);
      expect(r.code).toBe(0);
      for (const cmd of ['node', 'put', 'get', 'delete']) expect(r.stdout).toMatch(new RegExp(`^  ${cmd} `, 'm'));
      expect(r.stdout).toContain('--bootstrap');
    }
    const bad = await runCli(['frobnicate']);
    expect(bad.code).toBe(64);
    expect(bad.stderr).toContain('unknown command "frobnicate"');
  });

  it('put then get through a running swarm; an unknown key is "not found" (exit 2)', async () => {
    const via = joined.b[4]!.address; // another process than the one that seeded the swarm
    const put = await runCli(['put', 'cli-label', 'hello from the CLI ✓', '--bootstrap', via, ...TEST_NETWORK_ARGS]);
    // The first put without --identity creates the user's identity, and says so (on stderr).
    expect(put.stderr).toMatch(/^created your identity .*spydht\/identity\.json \(mode 0600\)/m);
    expect(put.code).toBe(0);
    const key = put.stdout.trim();
    expect(key).toMatch(/^[0-9a-f]{64}$/);

    const get = await runCli(['get', key, '--bootstrap', seed, ...TEST_NETWORK_ARGS]);
    expect(get.code).toBe(0);
    expect(get.stdout).toBe('hello from the CLI ✓\n');
    // The worker processes see what the CLI stored.
    expect((await c.get(2, key))?.content).toBe('hello from the CLI ✓');

    const missing = await runCli(['get', 'ab'.repeat(32), '--bootstrap', seed, ...TEST_NETWORK_ARGS]);
    expect(missing.code).toBe(2);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/not found/);
  });

  it('a value put by a node is printed by `get`; the owner can `delete` it with its identity file', async () => {
    const { key } = await a.put(6, 'node-label', 'stored by node A6');
    const get = await runCli(['get', key, '-b', joined.c[0]!.address, ...TEST_NETWORK_ARGS]);
    expect(get.code).toBe(0);
    expect(get.stdout).toBe('stored by node A6\n');

    const idFile = join(tmp, 'owner.json');
    const put = await runCli(['put', 'mine', 'to be deleted', '-b', seed, '--identity', idFile, '--ttl', '600', ...TEST_NETWORK_ARGS]);
    expect(put.code).toBe(0);
    expect(statSync(idFile).mode & 0o777).toBe(0o600);
    const ownedKey = put.stdout.trim();
    const del = await runCli(['delete', ownedKey, '-b', seed, '--identity', idFile, ...TEST_NETWORK_ARGS]);
    expect(problems(del.stderr)).toEqual([]);
    expect(del.code).toBe(0);
    expect(del.stdout).toMatch(/^deleted [0-9a-f]{64} \(\d+ copies removed\)$/m);
    const gone = await runCli(['get', ownedKey, '-b', seed, ...TEST_NETWORK_ARGS]);
    expect(gone.code).toBe(2);
    expect(gone.stderr).toMatch(/not found/);
  });

  it('`spydht node` joins, reports its table, and exits 0 on SIGINT', async () => {
    const node = spawnCli(['node', '--host', '127.0.6.1', '--port', '0', '--bootstrap', seed, ...TEST_NETWORK_ARGS], { XDG_CONFIG_HOME: tmp });
    spawned.push({ kill: () => node.child.kill('SIGKILL') });
    await node.stdout.waitFor(/^id\s+[0-9a-f]{64}$/, 10_000);
    await node.stdout.waitFor(/^address\s+127\.0\.6\.1:\d+$/, 10_000);
    await node.stdout.waitFor(/^table \d+ contacts \(\+ [0-9a-f]{16} 127\.0\.\d+\.\d+:\d+\)$/, 10_000);
    const joinedLine = await node.stdout.waitFor(/^joined: table \d+ contacts$/, 15_000);
    expect(Number(/(\d+)/.exec(joinedLine)![1])).toBeGreaterThan(0);
    await node.stdout.waitFor(/^running/, 1000);
    node.child.kill('SIGINT');
    expect(await exitOf(node.child, 10_000)).toBe(0);
    await node.stdout.waitFor(/^closed$/, 1000);
    expect(problems(node.stderr.all)).toEqual([]);
  });
});

describe('shutdown', () => {
  it('every worker process exits by itself (code 0) once its nodes are closed', async () => {
    const codes = await Promise.all([a.end(10_000), b.end(10_000), c.end(10_000)]);
    expect(codes).toEqual([0, 0, 0]);
    for (const p of [a, b, c]) expect(p.stderr.all).toEqual([]);
  });
});

/**
 * Rejoining from saved contacts over real UDP, with the CLI as a person runs it: `spydht node
 * --identity FILE` writes FILE.contacts.json on exit; restarted with its bootstrap node down, it
 * rejoins through those contacts and serves the swarm again. (Loopback addresses 127.0.7–9.x.)
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../helpers/build.js';
import { SwarmProcess, TEST_NETWORK_ARGS, exitOf, runCli, spawnCli } from '../helpers/udp-swarm.js';

let tmp: string;
let swarm: SwarmProcess;
const spawned: { kill(): void }[] = [];

beforeAll(async () => {
  assertBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'spydht-rejoin-'));
  swarm = await SwarmProcess.spawn('S');
  spawned.push(swarm);
}, 20_000);

afterAll(() => {
  for (const p of spawned) p.kill();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Starts `spydht node` and resolves once it printed `joined` (or its first-node line) with its ID and address. */
async function startCliNode(args: string[]): Promise<{ child: ReturnType<typeof spawnCli>; id: string; address: string; joined: string }> {
  const child = spawnCli(['node', '--port', '0', ...args, ...TEST_NETWORK_ARGS]);
  spawned.push({ kill: () => child.child.kill('SIGKILL') });
  const id = /([0-9a-f]{64})/.exec(await child.stdout.waitFor(/^id\s+[0-9a-f]{64}$/, 10_000))![1]!;
  const address = /(\S+)$/.exec(await child.stdout.waitFor(/^address\s+\S+$/, 10_000))![1]!;
  const joined = await child.stdout.waitFor(/^joined: |^first node/, 20_000);
  return { child, id, address, joined };
}

async function stop(node: { child: ReturnType<typeof spawnCli> }): Promise<void> {
  node.child.child.kill('SIGINT');
  expect(await exitOf(node.child.child, 10_000)).toBe(0);
}

describe('spydht node keeps its contacts beside its identity', () => {
  it('restarted with its bootstrap node down, it rejoins through the saved contacts', async () => {
    const seed = await startCliNode(['--host', '127.0.7.1']);
    const hosts = Array.from({ length: 8 }, (_, i) => ({ host: `127.0.8.${i + 1}`, bootstrap: [seed.address] }));
    await swarm.start(hosts);

    const identity = join(tmp, 'me.json');
    const first = await startCliNode(['--host', '127.0.9.1', '--identity', identity, '--bootstrap', seed.address]);
    expect(first.joined).toMatch(/^joined: table \d+ contacts$/);
    await stop(first);
    const file = `${identity}.contacts.json`;
    expect(existsSync(file)).toBe(true);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as { id: string; addresses: { kind: number; data: string }[] }[];
    expect(saved.length).toBeGreaterThanOrEqual(3);
    expect(saved.every((c) => c.addresses[0]!.kind === 1)).toBe(true);

    await stop(seed); // the bootstrap address is dead from here on

    const again = await startCliNode(['--host', '127.0.9.1', '--identity', identity, '--bootstrap', seed.address]);
    expect(again.id).toBe(first.id);
    expect(again.child.stdout.all).toContain(`joining through ${saved.length} saved contacts, ${seed.address}`);
    expect(again.joined).toMatch(/^joined: table \d+ contacts$/);
    expect(Number(/table (\d+)/.exec(again.joined)![1])).toBeGreaterThanOrEqual(3);

    // It is a member again: a value put in the swarm is found through it alone.
    const { key } = await swarm.put(2, 'after the restart', 'found through saved contacts');
    const got = await runCli(['get', key, '--bootstrap', again.address, ...TEST_NETWORK_ARGS]);
    expect(got.stdout.trim(), got.stderr).toBe('found through saved contacts');
    expect(got.code).toBe(0);

    // Without --bootstrap at all, saved contacts are enough.
    await stop(again);
    const alone = await startCliNode(['--host', '127.0.9.1', '--identity', identity]);
    expect(alone.joined).toMatch(/^joined: table \d+ contacts$/);
    await stop(alone);
    expect(again.child.stderr.all).toEqual([]);
  });
});

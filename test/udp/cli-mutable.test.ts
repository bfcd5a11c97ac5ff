/**
 * `spydht put-mutable` and `spydht get-mutable` as a user runs them (the built CLI, its own
 * process, real UDP nodes on loopback): versions under your public key, cas, the exit codes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DHT } from '../../src/dht.js';
import { createNode } from '../../src/node/create-node.js';
import { assertBuilt } from '../helpers/build.js';
import { TEST_NETWORK, TEST_NETWORK_ARGS, runCli, type CliResult } from '../helpers/udp-swarm.js';

let config: string;
let nodes: DHT[] = [];
let seed: string;

const cli = (args: string[]): Promise<CliResult> => runCli([...args, '-b', seed, ...TEST_NETWORK_ARGS], 30_000, { XDG_CONFIG_HOME: config, APPDATA: config });

beforeAll(async () => {
  assertBuilt();
  config = mkdtempSync(join(tmpdir(), 'spydht-cli-mutable-'));
  const first = await createNode({ host: '127.0.0.1', network: TEST_NETWORK, maxPerIp: 8 });
  seed = first.formatAddress(first.localAddresses()[0]!);
  nodes = [first];
  for (let i = 0; i < 3; i++) nodes.push(await createNode({ host: '127.0.0.1', network: TEST_NETWORK, maxPerIp: 8, bootstrap: [seed] }));
}, 30_000);

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.close()));
  if (config) rmSync(config, { recursive: true, force: true });
});

describe('put-mutable and get-mutable', () => {
  it('each put is the next version; get prints the newest (seq on stderr); a stale --cas fails; unknown salt exits 2', { timeout: 90_000 }, async () => {
    const one = await cli(['put-mutable', 'first version', '--salt', 'cli']);
    expect(one.code, one.stderr).toBe(0);
    const [publicKey, seq1] = one.stdout.trim().split(' ');
    expect(publicKey).toMatch(/^[0-9a-f]{64}$/);
    expect(seq1).toBe('1');
    const two = await cli(['put-mutable', 'second version', '--salt', 'cli', '--cas', '1']);
    expect([two.code, two.stdout.trim()], two.stderr).toEqual([0, `${publicKey} 2`]);

    const got = await cli(['get-mutable', publicKey!, '--salt', 'cli']);
    expect([got.code, got.stdout], got.stderr).toEqual([0, 'second version\n']);
    expect(got.stderr).toMatch(/^seq 2$/m);
    // A Node peer reads the same.
    expect((await nodes[2]!.getMutable(publicKey!, { salt: 'cli' }))?.text()).toBe('second version');

    const stale = await cli(['put-mutable', 'lost update', '--salt', 'cli', '--cas', '1']);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toContain('CAS_CONFLICT');
    const missing = await cli(['get-mutable', publicKey!, '--salt', 'nothing here']);
    expect(missing.code).toBe(2);
    const usage = await cli(['get-mutable', 'not-a-key']);
    expect(usage.code).toBe(64);
    expect(usage.stderr).toContain('a PUBLIC_KEY is 64 hex digits');
  });
});

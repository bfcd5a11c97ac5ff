/**
 * The published declarations type-check in a strict consumer that checks libraries too
 * (`skipLibCheck: false`): a Node project (with @types/node, as any Node project has) importing
 * both entries, and a browser project (DOM, no Node types at all) importing the browser entry.
 * Both are fresh `npm init -y` projects with the packed library installed (test/helpers/consumer.ts).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/build.js';
import { consumerProjectWith } from '../helpers/consumer.js';

const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const STRICT = {
  strict: true,
  skipLibCheck: false,
  noEmit: true,
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  noUncheckedIndexedAccess: true,
  exactOptionalPropertyTypes: true,
};

/** Runs tsc in `dir`; returns its output (empty when it passed). */
function tsc(dir: string, config: object): string {
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config, null, 2));
  try {
    execFileSync(process.execPath, [TSC, '-p', 'tsconfig.json'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    return '';
  } catch (err) {
    return `${(err as { stdout?: string }).stdout ?? ''}${(err as { stderr?: string }).stderr ?? ''}` || String(err);
  }
}

const NODE_SNIPPET = `import { createNode, startSignalingServer, startLocalSwarm, createTestnet, type CreateNodeOptions } from 'spydht/node';
import { DHT, SpydhtError, createBrowserNode, type ContactInfo, type DHTStats } from 'spydht';

const options: CreateNodeOptions = { host: '127.0.0.1', bootstrap: ['localhost:4000'] };
export async function main(): Promise<void> {
  const node: DHT = await createNode(options);
  node.on('contact-added', (c: ContactInfo) => console.log(c.id, c.transport, c.speaks.join('+')));
  const stats: DHTStats = node.stats();
  console.log(stats.timeouts ?? 0, stats['udp.sent'] ?? 0);
  const key = await node.put('label', 'content', { ttl: 60 });
  console.log((await node.get(key))?.text());
  await node.close();
  const server = await startSignalingServer({ port: 0 });
  await server.close();
  const swarm = await startLocalSwarm({ bridges: 1, clients: 1 });
  await swarm.close();
  const tn = await createTestnet(5);
  await tn.close();
  void createBrowserNode;
  void SpydhtError;
}
`;

const BROWSER_SNIPPET = `import { createBrowserNode, isSpydhtError, type DHT } from 'spydht';

export async function main(): Promise<DHT> {
  const node = await createBrowserNode({ signalingUrl: 'ws://localhost:8787' });
  node.on('contact-added', (c) => console.log(c.id, c.transport));
  try {
    await node.put('note', 'hello');
  } catch (err) {
    if (isSpydhtError(err, 'NO_CONTACTS')) console.log(err.message);
  }
  return node;
}
`;

describe('the published declarations in a strict consumer (skipLibCheck: false)', () => {
  it('a Node project (with @types/node) type-checks code using spydht and spydht/node', { timeout: 120_000 }, () => {
    const dir = consumerProjectWith('typed-node', ['@types/node']);
    writeFileSync(join(dir, 'index.ts'), NODE_SNIPPET);
    expect(tsc(dir, { compilerOptions: { ...STRICT, lib: ['ES2022'], types: ['node'] }, files: ['index.ts'] })).toBe('');
  });

  it('a browser project (DOM, no Node types) type-checks code using spydht', { timeout: 120_000 }, () => {
    const dir = consumerProjectWith('typed-browser', []);
    writeFileSync(join(dir, 'main.ts'), BROWSER_SNIPPET);
    expect(tsc(dir, { compilerOptions: { ...STRICT, lib: ['ES2022', 'DOM'], types: [] }, files: ['main.ts'] })).toBe('');
  });

  it('and the check bites: a misspelt event in the same project is an error', { timeout: 120_000 }, () => {
    const dir = consumerProjectWith('typed-browser', []);
    writeFileSync(join(dir, 'main.ts'), BROWSER_SNIPPET.replace("'contact-added'", "'contact-addd'"));
    expect(tsc(dir, { compilerOptions: { ...STRICT, lib: ['ES2022', 'DOM'], types: [] }, files: ['main.ts'] })).toMatch(/main\.ts\(5,\d+\): error TS2345: Argument of type '"contact-addd"'/);
  });
});

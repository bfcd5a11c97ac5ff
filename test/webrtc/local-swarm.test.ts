/**
 * startLocalSwarm's own promises: a start that is aborted or passes its deadline closes whatever
 * it started, and a program that closes its swarm exits by itself (node-datachannel would keep it
 * alive were any channel left open). Its swarm at work is tested by mixed-swarm.test.ts and test/e2e.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { isSpydhtError } from '../../src/errors.js';
import { startLocalSwarm } from '../../src/node/index.js';
import { ROOT, assertBuilt } from '../helpers/build.js';
import { until } from '../helpers/wait.js';

const NETWORK = { name: 'local-swarm-test', idDifficulty: 4, powBaseBits: 8 };
const SOCKETS = new Set(['UDPWrap', 'TCPServerWrap', 'TCPSocketWrap']);
const sockets = (): number => process.getActiveResourcesInfo().filter((r) => SOCKETS.has(r)).length;

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

describe('startLocalSwarm', () => {
  it('refuses bad counts before starting anything', async () => {
    expect(isSpydhtError(await rejection(startLocalSwarm({ bridges: -1 })), 'INVALID_ARGUMENT')).toBe(true);
    expect(isSpydhtError(await rejection(startLocalSwarm({ clients: 1.5 })), 'INVALID_ARGUMENT')).toBe(true);
  });

  it('aborted while the server starts: rejects with ABORTED and leaves no socket open', async () => {
    const before = sockets();
    const abort = new AbortController();
    const started = startLocalSwarm({
      host: '127.0.0.1',
      network: NETWORK,
      signal: abort.signal,
      logger: (e) => {
        if (e.event === 'listening') abort.abort();
      },
    });
    expect(isSpydhtError(await rejection(started), 'ABORTED')).toBe(true);
    await until(() => sockets() <= before, 'every socket of the aborted swarm to close');
  });

  it('past its deadline: rejects with DEADLINE_EXCEEDED and leaves no socket open', async () => {
    const before = sockets();
    // 1 ms passes while the first bridge is created, before it joins.
    const err = await rejection(startLocalSwarm({ host: '127.0.0.1', network: NETWORK, timeoutMs: 1 }));
    expect(isSpydhtError(err, 'DEADLINE_EXCEEDED'), String(err)).toBe(true);
    await until(() => sockets() <= before, 'every socket of the timed-out swarm to close');
  });
});

describe('startLocalSwarm in a process of its own (the built package)', () => {
  beforeAll(assertBuilt);

  it('the process exits by itself once the swarm is closed', { timeout: 40_000 }, async () => {
    const entry = pathToFileURL(join(ROOT, 'dist', 'node', 'index.js')).href;
    const script = `
      const { startLocalSwarm } = await import(${JSON.stringify(entry)});
      const swarm = await startLocalSwarm({ host: '127.0.0.1', network: ${JSON.stringify(NETWORK)}, bridges: 2, clients: 1 });
      const late = await swarm.addBridge();
      const key = await swarm.clients[0].put('label', 'content');
      console.log('got', (await late.get(key))?.text());
      await swarm.close();
      console.log('closed');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let closedAt = 0;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (!closedAt && out.includes('closed')) closedAt = Date.now();
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const code = await new Promise<number | null>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the process did not exit within 30 s; output:\n${out}`));
      }, 30_000);
      child.once('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(out).toContain('got content');
    expect(out).toContain('closed');
    expect(code, out).toBe(0);
    // Nothing left to wait for once close() resolved: no socket, timer or WebRTC channel.
    expect(Date.now() - closedAt).toBeLessThan(5_000);
  });
});

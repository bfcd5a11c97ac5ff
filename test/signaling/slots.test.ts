/**
 * The signaling server's slots against sockets that never authenticate: a real server on
 * loopback, an attacker holding 1,000 connections from 63 IPs (each in its own /24, so prefix caps
 * alone do not stop it; Linux routes all of 127/8 to lo) and opening a new one whenever one is
 * closed, and honest newcomers from other addresses joining meanwhile. Also: a half-sent HTTP
 * request is cut at the headers timeout, not up to 30 s later.
 */
import { connect } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startSignalingServer, type SignalingServer, type WsServerLimits } from '../../src/node/signaling/index.js';
import { until } from '../helpers/wait.js';
import { RawClient, newIdentity, within } from './helpers.js';

const servers: SignalingServer[] = [];
async function server(limits: Partial<WsServerLimits> = {}): Promise<SignalingServer> {
  const s = await startSignalingServer({ host: '0.0.0.0', port: 0, network: { name: 'spydht-ws-test', idDifficulty: 4, powBaseBits: 8 }, limits, logger: () => {} });
  servers.push(s);
  return s;
}

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/**
 * Sockets that never say hello, from `ips`, reopened as soon as the server closes one, at up to
 * RECONNECTS_PER_S (what one attacker machine sustains against a server that also has its own
 * CPU; here both share one process on two cores, so an unbounded loop would measure only that).
 */
const RECONNECTS_PER_S = 200;
class Squatter {
  readonly #sockets = new Set<WebSocket>();
  readonly #waiting: string[] = [];
  readonly #timer: ReturnType<typeof setInterval>;
  #stopped = false;
  opened = 0;

  constructor(
    readonly url: string,
    readonly ips: string[],
    readonly target: number,
  ) {
    for (let i = 0; i < target; i++) this.#open(ips[i % ips.length]!);
    this.#timer = setInterval(() => {
      for (const ip of this.#waiting.splice(0, RECONNECTS_PER_S / 100)) this.#open(ip);
    }, 10);
  }

  #open(ip: string): void {
    if (this.#stopped) return;
    const ws = new WebSocket(this.url, { localAddress: ip });
    this.opened++;
    this.#sockets.add(ws);
    ws.on('error', () => {});
    ws.on('close', () => {
      this.#sockets.delete(ws);
      if (!this.#stopped) this.#waiting.push(ip);
    });
  }

  stop(): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    for (const ws of this.#sockets) ws.terminate();
  }
}

describe('pending connections cannot take the slots', () => {
  it('1,000 unauthenticated connections from 63 IPs: at least 99 % of honest newcomers still join', async () => {
    const s = await server();
    const attackerIps = Array.from({ length: 63 }, (_, i) => `127.${i + 1}.0.1`);
    const squatter = new Squatter(s.url, attackerIps, 1000);
    try {
      // The flood holds everything it can before the first newcomer arrives.
      await until(() => squatter.opened >= 1000 && s.stats().pending >= s.transport.limits.maxPendingConnections - 5, 'the flood to fill the pending pool', 20_000);
      const NEWCOMERS = 100;
      const t0 = Date.now();

      let joined = 0;
      const failures: string[] = [];
      for (let batch = 0; batch < NEWCOMERS / 10; batch++) {
        await Promise.all(
          Array.from({ length: 10 }, async (_, i) => {
            const n = batch * 10 + i;
            try {
              const c = await RawClient.open(s.url, { localAddress: `127.200.${n}.1` });
              try {
                const welcome = await c.authenticate(await newIdentity());
                if (welcome.t === 'welcome') joined++;
              } finally {
                c.terminate();
              }
            } catch (err) {
              failures.push(`${n}@${Date.now() - t0}: ${String(err)}`);
            }
          }),
        );
      }
      expect(joined, failures.slice(0, 3).join('; ')).toBeGreaterThanOrEqual(99);
      // The flood really ran all along: the server kept refusing and evicting its sockets.
      expect(squatter.opened).toBeGreaterThan(1000);
      expect(s.stats().pendingEvicted).toBeGreaterThan(0);
    } finally {
      squatter.stop();
    }
  }, 60_000);

  it('a half-sent HTTP request is closed at the headers timeout, promptly', async () => {
    const s = await server({ headersTimeoutMs: 300, headersCheckIntervalMs: 100 });
    const socket = connect(s.port, '127.0.0.1');
    socket.on('error', () => {});
    // Flowing, so the server's 408 and FIN are read and the socket can close.
    socket.resume();
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('GET / HTTP/1.1\r\nHost: localhost\r\n');
    const started = Date.now();
    await within(new Promise<void>((resolve) => socket.once('close', () => resolve())), 3000, 'the server to close the half-sent request');
    // Node's default check interval (30 s) would have held it far longer than this bound.
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

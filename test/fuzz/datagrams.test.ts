/**
 * Fuzzing a node where its peers reach it: mutants of real captured datagrams (test/fuzz/mutate.ts)
 * sent at a real UDP socket and over a real WebRTC data channel (node-datachannel). The node must
 * not crash, must not leave an unhandled rejection, must keep its heap bounded, and must still
 * serve a get afterwards. `npm test` runs 10^4 cases in all fuzz files; `npm run soak` 10^6.
 */
import { createSocket, type Socket } from 'node:dgram';
import fc from 'fast-check';
import { RTCPeerConnection } from 'node-datachannel/polyfill';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, utf8 } from '../../src/bytes.js';
import { Identity } from '../../src/crypto/identity.js';
import { DHT } from '../../src/dht.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { UdpTransport } from '../../src/node/udp.js';
import { WebRtcTransport, type RTCPeerConnectionConstructor } from '../../src/transport/webrtc.js';
import type { Transport } from '../../src/transport/transport.js';
import { AddressKind, type PeerAddress } from '../../src/wire/address.js';
import { until } from '../helpers/wait.js';
import { FUZZ_SEED, fuzzCases, fuzzTimeoutMs, liveHeapBytes, mutants } from './mutate.js';

const NETWORK = { name: 'fuzz-test', idDifficulty: 4, powBaseBits: 8 };
/** Limits out of the way, so mutants reach the decoders and handlers instead of a token bucket. */
const OPEN_LIMITS = {
  requests: { perKeyRate: 1e6, perKeyBurst: 1e6, globalRate: 1e6, globalBurst: 1e6 },
  writes: { perKeyRate: 1e6, perKeyBurst: 1e6, globalRate: 1e6, globalBurst: 1e6 },
};
const WAIT_MS = 20_000;
/** Datagrams sent between pauses that let the victim drain them (a loopback socket buffer holds ~200 KB). */
const BATCH = 25;
/** Heap the victim may keep after the fuzz, beyond what it had before: bounded, whatever the count. */
const MAX_HEAP_GROWTH = 48 * 1024 * 1024;

interface Member {
  dht: DHT;
  udp: UdpTransport;
  rtc: WebRtcTransport | undefined;
}

const members: Member[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => void unhandled.push(reason);

/** Wraps a transport's send so every datagram to `to` (or any, without `to`) is recorded. */
function record(t: Transport, into: Uint8Array[]): void {
  const send = t.send.bind(t);
  t.send = (to: PeerAddress, data: Uint8Array) => {
    if (into.length < 2000) into.push(data.slice());
    send(to, data);
  };
}

async function member(opts: { webrtc?: boolean; bootstrap?: string[]; capture?: Uint8Array[] } = {}): Promise<Member> {
  const identity = await Identity.generate({ crypto: nodeCrypto, difficulty: NETWORK.idDifficulty });
  const udp = await UdpTransport.bind({ host: '127.0.0.1' });
  const rtc = opts.webrtc
    ? new WebRtcTransport({ identity, crypto: nodeCrypto, RTCPeerConnection: RTCPeerConnection as unknown as RTCPeerConnectionConstructor })
    : undefined;
  if (opts.capture) for (const t of [udp, rtc]) if (t) record(t, opts.capture);
  const dht = await DHT.create({
    transports: rtc ? [udp, rtc] : [udp],
    crypto: nodeCrypto,
    identity,
    network: NETWORK,
    maxPerIp: 64,
    limits: OPEN_LIMITS,
    bootstrap: opts.bootstrap ?? [],
  });
  const m = { dht, udp, rtc };
  members.push(m);
  if (opts.bootstrap?.length) await dht.bootstrap();
  return m;
}

const udpText = (m: Member): string => `127.0.0.1:${m.udp.address().port}`;
const webrtc = (m: Member): PeerAddress => ({ kind: AddressKind.WEBRTC, data: fromHex(m.dht.id) });
const pause = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 1));

let relay: Member;
let victim: Member;
let fuzzer: Member;
let key: string;
const corpus: Uint8Array[] = [];

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  relay = await member();
  // The victim's own replies are captures too: replies are decoded like requests.
  victim = await member({ webrtc: true, bootstrap: [udpText(relay)], capture: corpus });
  fuzzer = await member({ webrtc: true, bootstrap: [udpText(relay)], capture: corpus });
  await until(() => victim.dht.stats().contacts >= 2 && fuzzer.dht.stats().contacts >= 2, 'the three nodes to know each other', WAIT_MS);
  // Real traffic of every kind: pings both ways, lookups, a put, a get.
  await fuzzer.dht.ping(udpText(victim));
  await fuzzer.dht.ping(webrtc(victim), { timeoutMs: WAIT_MS });
  key = await fuzzer.dht.put('fuzz', utf8('the value a fuzzed node must still serve'));
  expect((await fuzzer.dht.get(key))?.content).toEqual(utf8('the value a fuzzed node must still serve'));
  await fuzzer.dht.findNode(victim.dht.id);
  await victim.dht.ping(webrtc(fuzzer), { timeoutMs: WAIT_MS });
  expect(corpus.length).toBeGreaterThan(10);
  // The check the fuzz must not break holds before it.
  await assertStillServes();
}, 60_000);

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await Promise.all(members.map((m) => m.dht.close()));
});

/** Sends `cases` mutants through `send`, draining every BATCH; fails on any unhandled rejection. */
async function fuzz(cases: number, send: (bytes: Uint8Array) => void): Promise<void> {
  let n = 0;
  await fc.assert(
    fc.asyncProperty(mutants(corpus), async (bytes) => {
      send(bytes);
      if (++n % BATCH === 0) await pause();
      return unhandled.length === 0;
    }),
    { numRuns: cases, seed: FUZZ_SEED, endOnFailure: true },
  );
  await pause();
}

/** The victim still answers, and still serves the stored value to a node that knows only it. */
async function assertStillServes(): Promise<void> {
  expect(unhandled).toEqual([]);
  expect((await fuzzer.dht.ping(udpText(victim))).id).toBe(victim.dht.id);
  const newcomer = await member({ bootstrap: [udpText(victim)] });
  const value = await newcomer.dht.get(key);
  expect(value?.content).toEqual(utf8('the value a fuzzed node must still serve'));
}

describe('structure-aware fuzzing of a node', () => {
  let raw: Socket;
  beforeAll(async () => {
    raw = createSocket('udp4');
    await new Promise<void>((resolve) => raw.bind(0, '127.0.0.1', resolve));
  });
  afterAll(() => raw.close());

  it('UDP: mutants of captured datagrams at the socket', async () => {
    const before = await liveHeapBytes();
    const port = victim.udp.address().port;
    const received = victim.dht.stats().received ?? 0;
    await fuzz(fuzzCases(0.4), (bytes) => raw.send(bytes, port, '127.0.0.1'));
    // Most reached the node (the rest a full socket buffer may drop, like any UDP).
    expect((victim.dht.stats().received ?? 0) - received).toBeGreaterThan(fuzzCases(0.4) / 2);
    await assertStillServes();
    expect((await liveHeapBytes()) - before).toBeLessThan(MAX_HEAP_GROWTH);
  }, fuzzTimeoutMs(fuzzCases(0.4)));

  it('WebRTC: mutants of captured datagrams over an open data channel', async () => {
    const before = await liveHeapBytes();
    const to = webrtc(victim);
    const rtc = fuzzer.rtc!;
    const received = victim.rtc!.stats.received;
    await fuzz(fuzzCases(0.3), (bytes) => rtc.send(to, bytes));
    expect(victim.rtc!.stats.received - received).toBeGreaterThan(fuzzCases(0.3) / 2);
    // The link survived the fuzz and carries a verified round trip.
    expect((await fuzzer.dht.ping(to, { timeoutMs: WAIT_MS })).id).toBe(victim.dht.id);
    await assertStillServes();
    expect((await liveHeapBytes()) - before).toBeLessThan(MAX_HEAP_GROWTH);
  }, fuzzTimeoutMs(fuzzCases(0.3)));
});

/**
 * The RPC layer between real Rpc instances and hand-driven "raw" peers on the simulated network,
 * in virtual time: who may answer a request, request IDs, the bounded pending table, retries,
 * reply authentication, amplification limits, rate limits and hostile datagrams.
 */
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/bytes.js';
import { Timers } from '../../src/clock.js';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { Identity, idPuzzleBits } from '../../src/crypto/identity.js';
import { DHT } from '../../src/dht.js';
import { isSpydhtError } from '../../src/errors.js';
import { networkConfig } from '../../src/network.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { Rpc, type IncomingRequest, type RpcOptions } from '../../src/rpc/rpc.js';
import { RequestLimits } from '../../src/rpc/limits.js';
import type { RateLimitOptions } from '../../src/rate-limit.js';
import { createRecord } from '../../src/storage/record.js';
import { inThreadPowSolver } from '../../src/crypto/pow.js';
import { SimNetwork, type MemoryTransport } from '../../src/transport/memory.js';
import { SimClock } from '../../src/transport/sim-clock.js';
import { AddressKind, encodeIpPort, type PeerAddress } from '../../src/wire/address.js';
import {
  AUTH_BYTES,
  Flags,
  REQUEST_TYPES,
  MAX_MESSAGE_BYTES,
  MessageType,
  PROTOCOL_VERSION,
  appendAuth,
  decodeMessage,
  encodeMessage,
  type Body,
  type Message,
  type WireContact,
} from '../../src/wire/messages.js';

const NET_OPTS = { name: 'rpc-test', idDifficulty: 0, powBaseBits: 4 };
const CONFIG = networkConfig(nodeCrypto, NET_OPTS);
const NETWORK_ID = CONFIG.networkId;
const ZERO8 = new Uint8Array(8);

interface World {
  clock: SimClock;
  net: SimNetwork;
}

function world(o: { loss?: number; seed?: number } = {}): World {
  const clock = new SimClock();
  return { clock, net: new SimNetwork({ clock, latency: 10, jitter: 0, loss: o.loss ?? 0, seed: o.seed ?? 7 }) };
}

interface Node {
  rpc: Rpc;
  transport: MemoryTransport;
  identity: Identity;
  address: PeerAddress;
  requests: IncomingRequest[];
}

async function serveDefault(req: IncomingRequest): Promise<Body | undefined> {
  switch (req.message.type) {
    case MessageType.PING:
      return { type: MessageType.PONG, observed: req.from };
    case MessageType.FIND_NODE:
    case MessageType.FIND_VALUE:
      return { type: MessageType.NODES, valueWithheld: false, contacts: [] };
    default:
      return undefined;
  }
}

async function rpcNode(w: World, o: Partial<Omit<RpcOptions, 'limits'>> & { ip?: string; requests?: Partial<RateLimitOptions> } = {}): Promise<Node> {
  const identity = o.identity ?? (await Identity.generate({ crypto: nodeCrypto, difficulty: 0 }));
  const transport = w.net.createTransport(o.ip ? { ip: o.ip } : {});
  const requests: IncomingRequest[] = [];
  const onRequest = o.onRequest ?? serveDefault;
  const rpc = new Rpc({
    identity,
    crypto: o.crypto ?? nodeCrypto,
    networkId: NETWORK_ID,
    idDifficulty: 0,
    transports: [transport],
    clock: w.clock,
    timers: new Timers(w.clock),
    maxPending: o.maxPending,
    limits: new RequestLimits({ requests: o.requests }, () => w.clock.now()),
    ...(o.admits ? { admits: o.admits } : {}),
    ...(o.onHello ? { onHello: o.onHello } : {}),
    onRequest: (req) => {
      requests.push(req);
      return onRequest(req);
    },
  });
  return { rpc, transport, identity, address: transport.address, requests };
}

interface Received {
  message: Message;
  bytes: Uint8Array;
  from: PeerAddress;
}

/** A hand-driven endpoint: sends exactly the bytes a test builds and records what arrives. */
class Raw {
  readonly received: Received[] = [];
  readonly raw: { bytes: Uint8Array; from: PeerAddress }[] = [];
  constructor(
    readonly transport: MemoryTransport,
    readonly identity: Identity,
  ) {
    transport.onDatagram = (bytes, from) => {
      this.raw.push({ bytes, from });
      const d = decodeMessage(bytes, NETWORK_ID);
      if (d.ok) this.received.push({ message: d.message, bytes, from });
    };
  }

  static async create(w: World, ip?: string): Promise<Raw> {
    return new Raw(w.net.createTransport(ip ? { ip } : {}), await Identity.generate({ crypto: nodeCrypto, difficulty: 0 }));
  }

  get address(): PeerAddress {
    return this.transport.address;
  }

  async send(
    to: PeerAddress,
    body: Body,
    o: { requestId?: Uint8Array; senderId?: Uint8Array; signer?: Identity; flags?: number; token?: Uint8Array; tamper?: (b: Uint8Array) => void } = {},
  ): Promise<Uint8Array> {
    const bytes = await build(body, { senderId: o.senderId ?? this.identity.id, ...o });
    this.transport.send(to, bytes);
    return bytes;
  }
}

async function build(
  body: Body,
  o: { requestId?: Uint8Array; senderId: Uint8Array; signer?: Identity; flags?: number; token?: Uint8Array; tamper?: (b: Uint8Array) => void },
): Promise<Uint8Array> {
  // Like a real node on this network: reachable over the (UDP-like) simulated transport.
  const flags = (o.flags ?? 0) | Flags.SPEAKS_UDP | (o.signer ? Flags.AUTH : 0);
  let bytes = encodeMessage({
    networkId: NETWORK_ID,
    flags,
    requestId: o.requestId ?? nodeCrypto.randomBytes(8),
    senderId: o.senderId,
    token: o.token ?? ZERO8,
    ...body,
  } as Message);
  if (o.signer) bytes = appendAuth(bytes, o.signer.publicKey, await o.signer.sign(bytes));
  o.tamper?.(bytes);
  return bytes;
}

/** Tracks whether a promise settled, without letting a rejection go unhandled. */
function track<T>(p: Promise<T>): { settled: () => boolean; result: Promise<{ ok: true; value: T } | { ok: false; error: unknown }> } {
  let done = false;
  const result = p.then(
    (value) => ((done = true), { ok: true as const, value }),
    (error: unknown) => ((done = true), { ok: false as const, error }),
  );
  return { settled: () => done, result };
}

const PING: Body = { type: MessageType.PING, pad: 0 };

function flip(bytes: Uint8Array, at: number): void {
  bytes[at] = bytes[at]! ^ 0xff;
}

/** Replies a raw peer received to the request it sent as `request` (matched by request ID). */
function replyTo(raw: Raw, request: Uint8Array): Received[] {
  const decoded = decodeMessage(request, NETWORK_ID);
  if (!decoded.ok) throw new Error('not a request');
  const rid = toHex(decoded.message.requestId);
  return raw.received.filter((r) => toHex(r.message.requestId) === rid && !REQUEST_TYPES.has(r.message.type));
}
const blackhole = (n = 1): PeerAddress => encodeIpPort(AddressKind.SIM, { ip: `10.250.0.${n}`, port: 4000 });

// ---------------------------------------------------------------------------------------------

describe('who may answer (hole 6)', () => {
  it('accepts a reply only from the address and ID it asked', async () => {
    const w = world();
    const a = await rpcNode(w);
    const b = await Raw.create(w);
    const mallory = await Raw.create(w);
    const other = await Identity.generate({ crypto: nodeCrypto, difficulty: 0 });
    const t = track(a.rpc.request(b.address, PING, { expectId: b.identity.id }));
    await w.clock.advance(15);
    const req = b.received[0]!.message;
    expect(req.type).toBe(MessageType.PING);
    expect(req.flags & Flags.WANT_AUTH).toBeTruthy();
    const pong: Body = { type: MessageType.PONG, observed: a.address };

    // Right request ID, even B's own signature, but from another address: dropped.
    await mallory.send(a.address, pong, { requestId: req.requestId, senderId: b.identity.id, signer: b.identity });
    // From B's address but another node's ID: dropped.
    await b.send(a.address, pong, { requestId: req.requestId, senderId: other.id, signer: other });
    // Not a reply type that answers a PING: dropped.
    await b.send(a.address, { type: MessageType.NODES, valueWithheld: false, contacts: [] }, { requestId: req.requestId, signer: b.identity });
    await w.clock.advance(15);
    expect(a.rpc.stats.droppedWrongSource).toBe(1);
    expect(a.rpc.stats.droppedWrongSender).toBe(1);
    expect(a.rpc.stats.droppedWrongType).toBe(1);
    expect(t.settled()).toBe(false);

    await b.send(a.address, pong, { requestId: req.requestId, signer: b.identity });
    const r = await w.clock.run(t.result);
    if (!r.ok) throw r.error;
    expect(toHex(r.value.message.senderId)).toBe(toHex(b.identity.id));
    expect(r.value.verified).toBe(true);
    expect(a.rpc.pendingCount).toBe(0);
    // A late duplicate matches nothing.
    await b.send(a.address, pong, { requestId: req.requestId, signer: b.identity });
    await w.clock.advance(15);
    expect(a.rpc.stats.droppedUnmatched).toBe(1);
  });

  it('request IDs are 8 bytes from the crypto RNG, never reused while pending', async () => {
    const w = world();
    // Request IDs are cut from a pool of CSPRNG bytes; this pool starts x, x, y.
    const x = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const y = Uint8Array.from([8, 7, 6, 5, 4, 3, 2, 1]);
    let pools = 0;
    const scripted: CryptoBackend = {
      ...nodeCrypto,
      randomBytes: (n) => {
        if (n < 64 || pools++ > 0) return nodeCrypto.randomBytes(n);
        const pool = nodeCrypto.randomBytes(n);
        pool.set([...x, ...x, ...y]);
        return pool;
      },
    };
    const a = await rpcNode(w, { crypto: scripted });
    const b = await Raw.create(w);
    const p1 = track(a.rpc.request(b.address, PING));
    const p2 = track(a.rpc.request(b.address, PING));
    await w.clock.advance(15);
    expect(b.received.map((r) => toHex(r.message.requestId))).toEqual([toHex(x), toHex(y)]);
    expect(pools).toBe(1);
    a.rpc.close();
    await p1.result;
    await p2.result;
  });

  it('request IDs from the real RNG are distinct and not sequential', async () => {
    const w = world();
    const a = await rpcNode(w, { maxPending: 1000 });
    const b = await Raw.create(w);
    const ps = Array.from({ length: 200 }, () => track(a.rpc.request(b.address, PING, { attempts: 1 })));
    await w.clock.advance(15);
    const ids = b.received.map((r) => BigInt('0x' + toHex(r.message.requestId)));
    expect(ids).toHaveLength(200);
    expect(new Set(ids).size).toBe(200);
    let sequential = 0;
    for (let i = 1; i < ids.length; i++) {
      const d = ids[i]! - ids[i - 1]!;
      if (d > -1000n && d < 1000n) sequential++;
    }
    expect(sequential).toBe(0);
    // The high bytes vary too (not a counter in the low bytes).
    expect(new Set(b.received.map((r) => r.message.requestId[0])).size).toBeGreaterThan(50);
    await w.clock.run(Promise.all(ps.map((p) => p.result)));
  });
});

describe('the pending table (hole 6)', () => {
  it('is bounded and every entry times out', async () => {
    const w = world();
    const a = await rpcNode(w, { maxPending: 5 });
    const start = w.clock.now();
    const ps = Array.from({ length: 5 }, (_, i) => track(a.rpc.request(blackhole(i + 1), PING, { attempts: 2 })));
    expect(a.rpc.pendingCount).toBe(5);
    const over = await a.rpc.request(blackhole(9), PING).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isSpydhtError(over, 'TOO_MANY_PENDING')).toBe(true);
    expect(a.rpc.stats.pendingFull).toBe(1);
    const results = await w.clock.run(Promise.all(ps.map((p) => p.result)));
    for (const r of results) expect(!r.ok && isSpydhtError(r.error, 'REQUEST_TIMEOUT')).toBe(true);
    expect(a.rpc.pendingCount).toBe(0);
    expect(a.rpc.stats.timeouts).toBe(5);
    expect(a.rpc.stats.retries).toBe(5);
    // First timeout 1 s (nothing measured yet), then doubled for the retry.
    expect(w.clock.now() - start).toBe(3000);
    // Room again.
    const again = track(a.rpc.request(blackhole(1), PING, { attempts: 1 }));
    expect(a.rpc.pendingCount).toBe(1);
    await w.clock.run(again.result);
    expect(a.rpc.pendingCount).toBe(0);
  });

  it('abort and close() settle pending requests and empty the table', async () => {
    const w = world();
    const a = await rpcNode(w);
    const ac = new AbortController();
    const aborted = track(a.rpc.request(blackhole(), PING, { signal: ac.signal }));
    const closed = track(a.rpc.request(blackhole(2), PING));
    expect(a.rpc.pendingCount).toBe(2);
    ac.abort();
    const r1 = await aborted.result;
    expect(!r1.ok && isSpydhtError(r1.error, 'ABORTED')).toBe(true);
    expect(a.rpc.pendingCount).toBe(1);
    a.rpc.close();
    const r2 = await closed.result;
    expect(!r2.ok && isSpydhtError(r2.error, 'CLOSED')).toBe(true);
    expect(a.rpc.pendingCount).toBe(0);
    const r3 = await track(a.rpc.request(blackhole(), PING)).result;
    expect(!r3.ok && isSpydhtError(r3.error, 'CLOSED')).toBe(true);
  });
});

describe('retransmission', () => {
  it('retries a lost request and calls onSlow once', async () => {
    const w = world();
    const a = await rpcNode(w);
    const b = await rpcNode(w);
    const deliver = b.transport.onDatagram!;
    let dropped = 0;
    b.transport.onDatagram = (data, from) => {
      if (dropped++ === 0) return; // the first datagram is lost
      deliver(data, from);
    };
    let slow = 0;
    const r = await w.clock.run(a.rpc.request(b.address, PING, { expectId: b.identity.id, onSlow: () => slow++ }));
    expect(toHex(r.message.senderId)).toBe(toHex(b.identity.id));
    expect(a.rpc.stats.retries).toBe(1);
    expect(slow).toBe(1);
    expect(b.requests).toHaveLength(1);
  });

  it('gets through a lossy network', async () => {
    const w = world({ loss: 0.2, seed: 3 });
    const a = await rpcNode(w, { requests: { perKeyBurst: 1000 } });
    const b = await rpcNode(w, { requests: { perKeyBurst: 1000 } });
    const ps = Array.from({ length: 30 }, () => a.rpc.request(b.address, PING, { attempts: 8 }).then(() => true, () => false));
    const results = await w.clock.run(Promise.all(ps));
    expect(results.every(Boolean)).toBe(true);
    expect(a.rpc.stats.retries).toBeGreaterThan(0);
    expect(w.net.stats.lost).toBeGreaterThan(0);
    expect(a.rpc.pendingCount).toBe(0);
  });
});

describe('reply authentication', () => {
  it('drops a reply without the asked-for signature or with a forged one', async () => {
    const w = world();
    const a = await rpcNode(w);
    const b = await Raw.create(w);
    const mallory = await Identity.generate({ crypto: nodeCrypto, difficulty: 0 });
    const t = track(a.rpc.request(b.address, PING, { expectId: b.identity.id }));
    await w.clock.advance(15);
    const rid = b.received[0]!.message.requestId;
    const pong: Body = { type: MessageType.PONG, observed: a.address };
    await b.send(a.address, pong, { requestId: rid }); // unsigned
    await b.send(a.address, pong, { requestId: rid, signer: b.identity, tamper: (x) => flip(x, x.length - 1) }); // bad signature
    await b.send(a.address, pong, { requestId: rid, signer: mallory }); // someone else's key for B's ID
    await b.send(a.address, pong, { requestId: rid, signer: b.identity, tamper: (x) => flip(x, x.length - AUTH_BYTES - 1) }); // body changed after signing
    await w.clock.advance(15);
    expect(a.rpc.stats.droppedBadAuth).toBe(4);
    expect(t.settled()).toBe(false);
    await b.send(a.address, pong, { requestId: rid, signer: b.identity });
    const r = await w.clock.run(t.result);
    expect(r.ok && r.value.verified).toBe(true);
    expect(a.rpc.isVerified(b.identity.id, b.address)).toBe(true);

    // Once verified at this address, a signature is no longer asked for.
    const t2 = track(a.rpc.request(b.address, PING, { expectId: b.identity.id }));
    await w.clock.advance(15);
    const req2 = b.received[1]!.message;
    expect(req2.flags & Flags.WANT_AUTH).toBe(0);
    await b.send(a.address, pong, { requestId: req2.requestId });
    const r2 = await w.clock.run(t2.result);
    expect(r2.ok && r2.value.verified).toBe(true);
  });

  it('a verified node answers with a signature only when asked', async () => {
    const w = world();
    const a = await Raw.create(w);
    const b = await rpcNode(w);
    const wantsAuth = await a.send(b.address, PING, { flags: Flags.WANT_AUTH });
    const noAuth = await a.send(b.address, PING);
    await w.clock.advance(30);
    expect(a.received).toHaveLength(2);
    const signed = replyTo(a, wantsAuth)[0]!;
    const plain = replyTo(a, noAuth)[0]!;
    expect(signed.message.auth).toBeDefined();
    expect(await nodeCrypto.verify(signed.message.auth!.publicKey, signed.message.auth!.signed, signed.message.auth!.signature)).toBe(true);
    expect(plain.message.auth).toBeUndefined();
  });
});

describe('HELLOs held for a later request (RequestOptions.holdHello)', () => {
  /** A HELLO is signed (a promise) before it is sent: let that settle, then let it arrive. */
  async function signedAndDelivered(w: World): Promise<void> {
    await w.clock.advance(0);
    await w.clock.advance(100);
  }

  /** B admits whoever proves itself once (its table has room until then), counting checks and HELLOs. */
  async function admitting(w: World): Promise<{ b: Node; admitted: string[]; verifies: () => number }> {
    let verifies = 0;
    const counting: CryptoBackend = { ...nodeCrypto, verify: (...args) => (verifies++, nodeCrypto.verify(...args)) };
    const admitted: string[] = [];
    const b = await rpcNode(w, {
      crypto: counting,
      admits: (m) => !admitted.includes(toHex(m.senderId)),
      onHello: (hello) => admitted.push(toHex(hello.message.senderId)),
    });
    return { b, admitted, verifies: () => verifies };
  }

  it('the next request to that peer carries the proof: one datagram fewer, and the peer admits us as a HELLO would', async () => {
    const w = world();
    const a = await rpcNode(w);
    const { b, admitted } = await admitting(w);
    const hold = a.rpc.holdHellos();
    const first = await w.clock.run(a.rpc.request(b.address, PING, { expectId: b.identity.id, holdHello: hold }));
    expect(first.message.flags & Flags.ROOM).not.toBe(0);
    await signedAndDelivered(w);
    expect(w.net.stats.byType.HELLO ?? 0).toBe(0);
    expect(admitted).toEqual([]);

    const second = await w.clock.run(a.rpc.request(b.address, { type: MessageType.FIND_NODE, target: b.identity.id, pad: 0 }, { expectId: b.identity.id }));
    expect(admitted).toEqual([toHex(a.identity.id)]);
    expect(b.rpc.isVerified(a.identity.id, a.address)).toBe(true);
    expect(b.requests.at(-1)!.message.auth).toBeDefined();
    // Admitted before B answered: its reply offers no more room, so no HELLO follows.
    expect(second.message.flags & Flags.ROOM).toBe(0);
    a.rpc.releaseHellos(hold);
    await signedAndDelivered(w);
    expect(w.net.stats.byType.HELLO ?? 0).toBe(0);
    expect(a.rpc.stats.hellosPiggybacked).toBe(1);
    expect(a.rpc.stats.hellosSent ?? 0).toBe(0);
  });

  it('releasing the hold sends the HELLOs no request carried, and later replies get theirs at once', async () => {
    const w = world();
    const a = await rpcNode(w);
    const { b, admitted } = await admitting(w);
    const { b: c, admitted: admittedByC } = await admitting(w);
    const hold = a.rpc.holdHellos();
    await w.clock.run(a.rpc.request(b.address, PING, { expectId: b.identity.id, holdHello: hold }));
    expect(hold.owed.size).toBe(1);
    a.rpc.releaseHellos(hold);
    await signedAndDelivered(w);
    expect(w.net.stats.byType.HELLO).toBe(1);
    expect(admitted).toEqual([toHex(a.identity.id)]);
    // A reply to the released hold (a lookup still running after its operation ended) is not held.
    await w.clock.run(a.rpc.request(c.address, PING, { expectId: c.identity.id, holdHello: hold }));
    await signedAndDelivered(w);
    expect(w.net.stats.byType.HELLO).toBe(2);
    expect(admittedByC).toEqual([toHex(a.identity.id)]);
    expect(hold.owed.size).toBe(0);
  });

  it('a forged proof on a request drops the request; without a valid token, or with no room for the sender, the proof is not even checked', async () => {
    const w = world();
    const { b, admitted, verifies } = await admitting(w);
    const m = await Raw.create(w);
    const mallory = await Identity.generate({ crypto: nodeCrypto, difficulty: 0 });
    // No token yet: the trailer is not checked (a spoofed source could make us verify for free).
    const untokened = await m.send(b.address, PING, { signer: m.identity });
    await w.clock.advance(30);
    expect(verifies()).toBe(0);
    expect(admitted).toEqual([]);
    const token = replyTo(m, untokened)[0]!.message.token;

    // With B's token: someone else's key for M's ID, then a signature that does not match.
    const forged = await m.send(b.address, PING, { signer: mallory, token });
    const tampered = await m.send(b.address, PING, { signer: m.identity, token, tamper: (x) => flip(x, x.length - 1) });
    await w.clock.advance(30);
    expect(replyTo(m, forged)).toEqual([]);
    expect(replyTo(m, tampered)).toEqual([]);
    expect(b.rpc.stats.droppedBadAuth).toBe(2);
    expect(admitted).toEqual([]);

    // A true proof admits M, once: the next one is not checked again.
    const good = await m.send(b.address, PING, { signer: m.identity, token });
    await w.clock.advance(30);
    expect(replyTo(m, good)).toHaveLength(1);
    expect(admitted).toEqual([toHex(m.identity.id)]);
    const checks = verifies();
    await m.send(b.address, PING, { signer: m.identity, token });
    await w.clock.advance(30);
    expect(verifies()).toBe(checks);
  });
});

describe('amplification (hole 5)', () => {
  it('one ping gets exactly one pong, at most 3× its size', async () => {
    const w = world();
    const b = await rpcNode(w);
    const a = await Raw.create(w);
    const sent = await a.send(b.address, PING, { flags: Flags.WANT_AUTH });
    await w.clock.advance(5_000);
    expect(a.raw).toHaveLength(1);
    expect(a.raw[0]!.bytes.length).toBeLessThanOrEqual(3 * sent.length);
  });

  it('a reply to an untokened request is at most 3× the request; a token lifts the cap', async () => {
    const w = world();
    const contacts: WireContact[] = Array.from({ length: 20 }, (_, i) => ({
      id: nodeCrypto.sha256(Uint8Array.of(i)),
      addresses: Array.from({ length: 4 }, (_, j) => encodeIpPort(AddressKind.SIM, { ip: `2001:db8::${i}:${j}`, port: 4000 })),
    }));
    // A greedy handler that ignores the budget: the RPC layer refuses to send its reply.
    const greedy = await rpcNode(w, { onRequest: async () => ({ type: MessageType.NODES, valueWithheld: false, contacts }) });
    const a = await Raw.create(w);
    const req = await a.send(greedy.address, { type: MessageType.FIND_NODE, target: new Uint8Array(32), pad: 0 }, { flags: Flags.WANT_AUTH });
    await w.clock.advance(50);
    expect(a.raw).toHaveLength(0);
    expect(greedy.rpc.stats.droppedOverBudget).toBe(1);
    expect(greedy.requests[0]!.tokenValid).toBe(false);
    expect(greedy.requests[0]!.bodyBudget).toBeLessThan(3 * req.length);

    // A handler that honours the budget: the reply fits 3× the request.
    const fair = await rpcNode(w, {
      onRequest: async (r) => {
        const out: WireContact[] = [];
        let size = 2;
        for (const c of contacts) {
          const s = 33 + c.addresses.reduce((n, x) => n + 2 + x.data.length, 0);
          if (size + s > r.bodyBudget) break;
          size += s;
          out.push(c);
        }
        return { type: MessageType.NODES, valueWithheld: false, contacts: out };
      },
    });
    const c = await rpcNode(w);
    const t1 = await w.clock.run(c.rpc.request(fair.address, { type: MessageType.FIND_NODE, target: new Uint8Array(32), pad: 0 }));
    expect(fair.requests[0]!.tokenValid).toBe(false);
    const first = t1.message.type === MessageType.NODES ? t1.message.contacts.length : -1;
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(20);
    // The second request echoes the token from the first reply: the full answer may come back.
    const t2 = await w.clock.run(c.rpc.request(fair.address, { type: MessageType.FIND_NODE, target: new Uint8Array(32), pad: 0 }));
    expect(fair.requests[1]!.tokenValid).toBe(true);
    expect(t2.message.type === MessageType.NODES && t2.message.contacts.length).toBe(20);
  });

  it('a FIND_VALUE for a large value from an unproven address gets NODES with valueWithheld', async () => {
    const w = world();
    const node = await DHT.create({ transports: [w.net.createTransport()], crypto: nodeCrypto, network: NET_OPTS, clock: w.clock });
    const record = await createRecord({
      crypto: nodeCrypto,
      rules: { networkId: NETWORK_ID, powBaseBits: 4, maxTtlSeconds: CONFIG.maxTtlSeconds, maxSkewSeconds: CONFIG.maxSkewSeconds },
      label: new Uint8Array(10),
      content: new Uint8Array(3000).fill(7),
      ttlSeconds: 3600,
      nowSeconds: Math.floor(w.clock.now() / 1000),
      solver: inThreadPowSolver(nodeCrypto),
    });
    node.internals.store.put(record, w.clock.now());
    const a = await Raw.create(w);
    const ask: Body = { type: MessageType.FIND_VALUE, key: record.key, pad: 0 };
    const req = await a.send(node.localAddresses()[0]!, ask, { flags: Flags.WANT_AUTH });
    await w.clock.advance(50);
    expect(replyTo(a, req)).toHaveLength(1);
    const first = replyTo(a, req)[0]!;
    expect(first.message.type).toBe(MessageType.NODES);
    expect(first.message.type === MessageType.NODES && first.message.valueWithheld).toBe(true);
    expect(first.bytes.length).toBeLessThanOrEqual(3 * req.length);
    // Echoing the token proves the address: now the value comes back.
    const req2 = await a.send(node.localAddresses()[0]!, ask, { flags: Flags.WANT_AUTH, token: first.message.token });
    await w.clock.advance(50);
    const second = replyTo(a, req2)[0]!;
    expect(second.message.type).toBe(MessageType.VALUE);
    expect(second.message.type === MessageType.VALUE && second.message.record.content.length).toBe(3000);
    expect(second.bytes.length).toBeGreaterThan(3 * req.length);

    // A DHT node asking the same way gets the value (it retries with the token by itself).
    const reader = await DHT.create({ transports: [w.net.createTransport()], crypto: nodeCrypto, network: NET_OPTS, clock: w.clock, bootstrap: node.localAddresses() });
    await w.clock.run(reader.bootstrap());
    const v = await w.clock.run(reader.get(record.key));
    expect(v?.content.length).toBe(3000);
    await node.close();
    await reader.close();
  });
});

describe('inbound limits and hostile input', () => {
  it('rate limiting drops a flood from one IP and counts it; other IPs are still served', async () => {
    const w = world();
    const b = await rpcNode(w, { requests: { perKeyRate: 10, perKeyBurst: 20 } });
    const flood = await Raw.create(w, '10.66.0.1');
    const other = await Raw.create(w, '10.66.0.2');
    for (let i = 0; i < 100; i++) await flood.send(b.address, PING);
    await other.send(b.address, PING);
    await w.clock.advance(50);
    expect(flood.received).toHaveLength(20);
    expect(other.received).toHaveLength(1);
    expect(b.rpc.stats.droppedRateLimited).toBe(80);
    // Tokens come back at the sustained rate.
    await w.clock.advance(1_000);
    for (let i = 0; i < 30; i++) await flood.send(b.address, PING);
    await w.clock.advance(50);
    const served = flood.received.length - 20;
    expect(served).toBeGreaterThanOrEqual(10);
    expect(served).toBeLessThanOrEqual(12);
  });

  it('malformed datagrams are counted and never throw', async () => {
    const w = world();
    const b = await rpcNode(w);
    const from = encodeIpPort(AddressKind.SIM, { ip: '10.77.0.1', port: 1234 });
    const deliver = b.transport.onDatagram!;
    const good = await build(PING, { senderId: nodeCrypto.sha256(new Uint8Array(1)) });
    const junk: Uint8Array[] = [new Uint8Array(0), new Uint8Array(MAX_MESSAGE_BYTES + 1).fill(1), Uint8Array.from([...good, 0])];
    for (let n = 1; n < good.length; n++) junk.push(good.subarray(0, n));
    for (let i = 0; i < 200; i++) {
      const bytes = nodeCrypto.randomBytes(1 + (i % 300));
      bytes[0] = PROTOCOL_VERSION + 1 + (i % 250); // never the protocol's version
      junk.push(bytes);
    }
    const unknownType = Uint8Array.from(good);
    unknownType[5] = 99;
    const unknownFlags = Uint8Array.from(good);
    unknownFlags[6] = 0x80; // the high byte of the 16-bit flags: no such flag
    junk.push(unknownType, unknownFlags);
    for (const j of junk) expect(() => deliver(j, from)).not.toThrow();
    const otherNet = Uint8Array.from(good);
    flip(otherNet, 1);
    expect(() => deliver(otherNet, from)).not.toThrow();
    await w.clock.advance(50);
    expect(b.rpc.stats.droppedMalformed).toBe(junk.length);
    expect(b.rpc.stats.droppedWrongNetwork).toBe(1);
    expect(b.requests).toHaveLength(0);
    // Still serving.
    const c = await rpcNode(w);
    const r = await w.clock.run(c.rpc.request(b.address, PING, { expectId: b.identity.id }));
    expect(r.verified).toBe(true);
  });

  it('a handler that throws is counted, sends nothing, and does not become an unhandled rejection', async () => {
    const w = world();
    const b = await rpcNode(w, {
      onRequest: async () => {
        throw new Error('handler bug');
      },
    });
    const a = await Raw.create(w);
    await a.send(b.address, PING);
    await w.clock.advance(50);
    expect(b.rpc.stats.handlerErrors).toBe(1);
    expect(a.raw).toHaveLength(0);
  });

  it('ignores requests that claim an ID failing the puzzle', async () => {
    const w = world();
    const clock = w.clock;
    const identity = await Identity.generate({ crypto: nodeCrypto, difficulty: 8 });
    const transport = w.net.createTransport();
    const strict = new Rpc({
      identity,
      crypto: nodeCrypto,
      networkId: NETWORK_ID,
      idDifficulty: 8,
      transports: [transport],
      clock,
      timers: new Timers(clock),
      limits: new RequestLimits({}, () => clock.now()),
      onRequest: serveDefault,
    });
    const a = await Raw.create(w);
    // Find an ID with fewer than 8 puzzle bits (almost every ID).
    let weak = nodeCrypto.sha256(Uint8Array.of(0));
    for (let i = 1; idPuzzleBits(nodeCrypto, weak) >= 8; i++) weak = nodeCrypto.sha256(Uint8Array.of(i));
    await a.send(transport.address, PING, { senderId: weak });
    await clock.advance(50);
    expect(strict.stats.droppedBadId).toBe(1);
    expect(a.raw).toHaveLength(0);
  });
});

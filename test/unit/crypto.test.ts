import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../../src/bytes.js';
import type { CryptoBackend } from '../../src/crypto/backend.js';
import { Identity, idFromPublicKey, idPuzzleBits, solvesIdPuzzle } from '../../src/crypto/identity.js';
import { nobleCrypto } from '../../src/crypto/noble.js';
import { NONCE_BYTES, checkPow, inThreadPowSolver, powInput, powTarget, powWork } from '../../src/crypto/pow.js';
import { SpydhtError, isSpydhtError } from '../../src/errors.js';
import { nodeCrypto, nodePoolCrypto } from '../../src/node/crypto-node.js';

const backends: CryptoBackend[] = [nodeCrypto, nodePoolCrypto, nobleCrypto];
const rand = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

async function rejectsWithCode(p: Promise<unknown>, code: string): Promise<SpydhtError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isSpydhtError(err)).toBe(true);
  expect((err as SpydhtError).code).toBe(code);
  return err as SpydhtError;
}

/** A backend whose randomness is all zeros: makes the PoW solver deterministic. */
const zeroRandom: CryptoBackend = { ...nodeCrypto, name: 'zero-random', randomBytes: (n) => new Uint8Array(n) };

describe('Identity', () => {
  it('generate never trusts a key generation that disagrees with deriving the key from the seed', async () => {
    // A backend whose fast key generation lies about the public key: the search must notice the
    // first time it finds a solution, and give an identity whose key is the seed's own.
    let lies = 0;
    const liar: CryptoBackend = {
      ...nodeCrypto,
      name: 'lying key generation',
      generateKeyPair: () => {
        lies++;
        return { seed: rand(32), publicKey: rand(32) };
      },
    };
    for (let i = 0; i < 3; i++) {
      const identity = await Identity.generate({ crypto: liar, difficulty: 3 });
      const again = Identity.fromJSON(nodeCrypto, identity.toJSON(), 3);
      expect(identity.publicKey).toEqual(again.publicKey);
      expect(await nodeCrypto.verify(identity.publicKey, utf8('m'), await identity.sign(utf8('m')))).toBe(true);
    }
    expect(lies).toBeGreaterThan(0);
    // One disagreement and the search stopped asking it: each identity after that used the seed path.
    const before = lies;
    await Identity.generate({ crypto: liar, difficulty: 3 });
    expect(lies).toBe(before);
  });

  it('node:crypto makes 20,000 key pairs in a row, each one its seed\'s', { timeout: 60_000 }, () => {
    // Its first form (KeyObjects exported as JWK) deadlocked under garbage collection (Node 20: the
    // export holds the key's mutex while a collection destroys the key's generation job, which
    // waits on it): 20,000 such keys in plain Node hung 6 runs of 6, and this test never ended.
    const keep: Uint8Array[] = [];
    for (let i = 0; i < 20_000; i++) {
      const pair = nodeCrypto.generateKeyPair!();
      expect(pair.seed.length + pair.publicKey.length).toBe(64);
      if (i % 2_000 === 0) {
        expect(nodeCrypto.publicKeyFromSeed(pair.seed)).toEqual(pair.publicKey);
        keep.push(pair.seed);
      }
    }
    expect(new Set(keep.map(toHex)).size).toBe(keep.length);
  });

  it.each(backends.map((b) => [b.name, b] as const))('generate meets the difficulty (%s)', async (_name, crypto) => {
    const identity = await Identity.generate({ crypto, difficulty: 6 });
    expect(idPuzzleBits(crypto, identity.id)).toBeGreaterThanOrEqual(6);
    expect(solvesIdPuzzle(crypto, identity.id, 6)).toBe(true);
    expect(identity.id).toEqual(crypto.sha256(identity.publicKey));
    expect(idFromPublicKey(crypto, identity.publicKey)).toEqual(identity.id);
  });

  it('toJSON / fromJSON round-trips the key pair', async () => {
    const a = await Identity.generate({ crypto: nodeCrypto, difficulty: 3 });
    const json = JSON.parse(JSON.stringify(a.toJSON())) as ReturnType<Identity['toJSON']>;
    expect(json.version).toBe(1);
    expect(json.seed).toMatch(/^[0-9a-f]{64}$/);
    const b = Identity.fromJSON(nobleCrypto, json, 3);
    expect(b.id).toEqual(a.id);
    expect(b.publicKey).toEqual(a.publicKey);
    const msg = utf8('same key, same signature');
    expect(await b.sign(msg)).toEqual(await a.sign(msg));
  });

  it('fromJSON rejects anything that is not a saved identity', () => {
    for (const bad of [null, {}, { version: 2, seed: '00'.repeat(32) }, { version: 1, seed: 42 }]) {
      expect(() => Identity.fromJSON(nodeCrypto, bad as never)).toThrow(SpydhtError);
    }
    expect(() => Identity.fromJSON(nodeCrypto, { version: 1, seed: 'xyz' })).toThrow();
  });

  it('fromSeed rejects a seed of the wrong length', () => {
    for (const n of [0, 16, 31, 33, 64]) {
      try {
        Identity.fromSeed(nodeCrypto, new Uint8Array(n));
        expect.unreachable(`a ${n}-byte seed was accepted`);
      } catch (err) {
        expect(isSpydhtError(err, 'INVALID_ARGUMENT')).toBe(true);
      }
    }
  });

  it('fromSeed rejects an identity under the given difficulty and accepts it at its own', () => {
    const seed = rand(32);
    const bits = idPuzzleBits(nodeCrypto, Identity.fromSeed(nodeCrypto, seed).id);
    expect(Identity.fromSeed(nodeCrypto, seed, bits).id).toEqual(nodeCrypto.sha256(nodeCrypto.publicKeyFromSeed(seed)));
    expect(() => Identity.fromSeed(nodeCrypto, seed, bits + 1)).toThrow(/puzzle/);
    expect(() => Identity.fromJSON(nodeCrypto, { version: 1, seed: toHex(seed) }, bits + 1)).toThrow(SpydhtError);
  });

  it('generate honours an AbortSignal', async () => {
    const ac = new AbortController();
    ac.abort('stop');
    await rejectsWithCode(Identity.generate({ crypto: nodeCrypto, difficulty: 30, signal: ac.signal }), 'ABORTED');
    // Aborted while searching (difficulty 30 is never reached in a test).
    const ac2 = new AbortController();
    setTimeout(() => ac2.abort(), 20);
    await rejectsWithCode(Identity.generate({ crypto: nodeCrypto, difficulty: 30, signal: ac2.signal }), 'ABORTED');
  });
});

describe('crypto backends agree', () => {
  it('Ed25519 matches RFC 8032 test 1 on every backend', async () => {
    const seed = fromHex('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60');
    const pub = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
    const sig =
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';
    for (const c of backends) {
      expect(toHex(c.publicKeyFromSeed(seed))).toBe(pub);
      expect(toHex(await c.sign(seed, new Uint8Array(0)))).toBe(sig);
      expect(await c.verify(fromHex(pub), new Uint8Array(0), fromHex(sig))).toBe(true);
    }
  });

  it('give identical public keys and (deterministic) signatures, and verify each other', async () => {
    for (let i = 0; i < 10; i++) {
      const seed = rand(32);
      const msg = rand(i * 37);
      const pubN = nodeCrypto.publicKeyFromSeed(seed);
      const pubB = nobleCrypto.publicKeyFromSeed(seed);
      expect(pubN).toEqual(pubB);
      const sigN = await nodeCrypto.sign(seed, msg);
      const sigB = await nobleCrypto.sign(seed, msg);
      expect(sigN).toEqual(sigB);
      expect(sigN.length).toBe(64);
      expect(await nodeCrypto.verify(pubB, msg, sigB)).toBe(true);
      expect(await nobleCrypto.verify(pubN, msg, sigN)).toBe(true);
      expect(await nodePoolCrypto.sign(seed, msg)).toEqual(sigB);
      // A signer told the public key (node:crypto imports it as JWK) signs as one derived from the seed.
      for (const c of backends) expect(await c.signer(seed, pubB)(msg)).toEqual(sigB);
      expect(await nodePoolCrypto.verify(pubB, msg, sigB)).toBe(true);
      // A different message or key fails on both.
      const other = Uint8Array.from([...msg, 1]);
      for (const c of backends) {
        expect(await c.verify(pubN, other, sigN)).toBe(false);
        expect(await c.verify(c.publicKeyFromSeed(rand(32)), msg, sigN)).toBe(false);
      }
    }
  });

  it('give identical sha256 and hmac-sha256', () => {
    expect(toHex(nodeCrypto.sha256(utf8('abc')))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    for (const len of [0, 1, 55, 56, 63, 64, 65, 1000]) {
      const data = rand(len);
      expect(nobleCrypto.sha256(data)).toEqual(nodeCrypto.sha256(data));
      for (const keyLen of [0, 16, 32, 64, 65, 200]) {
        const key = rand(keyLen);
        const mac = nodeCrypto.hmacSha256(key, data);
        expect(mac.length).toBe(32);
        expect(nobleCrypto.hmacSha256(key, data)).toEqual(mac);
      }
    }
  });

  it('verify returns false, never throws, on garbage keys and signatures', async () => {
    const seed = rand(32);
    const msg = utf8('message');
    const good = await nodeCrypto.sign(seed, msg);
    const pub = nodeCrypto.publicKeyFromSeed(seed);
    const badKeys = [new Uint8Array(0), new Uint8Array(31), new Uint8Array(33), new Uint8Array(32).fill(0xff), new Uint8Array(32), rand(32)];
    const badSigs = [new Uint8Array(0), new Uint8Array(63), new Uint8Array(65), new Uint8Array(64), new Uint8Array(64).fill(0xff), rand(64)];
    for (const c of backends) {
      for (const k of badKeys) await expect(c.verify(k, msg, good)).resolves.toBe(false);
      for (const s of badSigs) await expect(c.verify(pub, msg, s)).resolves.toBe(false);
    }
  });

  it('the thread-pool backend answers each of many verifications in flight at once, as the calling-thread one does', async () => {
    // Its jobs finish in any order: each promise must still get its own job's answer.
    const seeds = Array.from({ length: 8 }, () => rand(32));
    const cases = await Promise.all(
      Array.from({ length: 64 }, async (_, i) => {
        const seed = seeds[i % 8]!;
        const msg = rand(1 + i);
        const sig = await nodePoolCrypto.sign(seed, msg);
        if (i % 3 === 0) sig[i % 64]! ^= 1; // a third of them forged
        return { pub: nodeCrypto.publicKeyFromSeed(seed), msg, sig, expected: await nodeCrypto.verify(nodeCrypto.publicKeyFromSeed(seed), msg, sig) };
      }),
    );
    const results = await Promise.all(cases.map((c) => nodePoolCrypto.verify(c.pub, c.msg, c.sig)));
    expect(results).toEqual(cases.map((c) => c.expected));
    expect(results.filter((r) => !r).length).toBe(22);
  });

  it('randomBytes gives the length asked and differs between calls', () => {
    for (const c of backends) {
      expect(c.randomBytes(8).length).toBe(8);
      expect(toHex(c.randomBytes(16))).not.toBe(toHex(c.randomBytes(16)));
    }
  });
});

describe('proof of work', () => {
  const net = fromHex('01020304');
  const key = nodeCrypto.sha256(utf8('some record'));
  const fields = { networkId: net, key, size: 300, expiresAt: 1_800_000_000 };

  it('a solved nonce checks, and only for the record it was solved for', async () => {
    const solve = inThreadPowSolver(zeroRandom);
    const target = powTarget(powWork(14, fields.size, 86400));
    const input = powInput(nodeCrypto, fields);
    const nonce = await solve(input, target);
    expect(nonce.length).toBe(NONCE_BYTES);
    expect(checkPow(nodeCrypto, input, nonce, target)).toBe(true);
    expect(checkPow(nobleCrypto, powInput(nobleCrypto, fields), nonce, target)).toBe(true);
    // Bound to the record: another key, size, expiry or network needs its own work.
    const others = [
      { ...fields, key: nodeCrypto.sha256(utf8('another record')) },
      { ...fields, size: fields.size + 1 },
      { ...fields, expiresAt: fields.expiresAt + 1 },
      { ...fields, networkId: fromHex('01020305') },
    ];
    for (const o of others) {
      expect(toHex(powInput(nodeCrypto, o))).not.toBe(toHex(input));
      expect(checkPow(nodeCrypto, powInput(nodeCrypto, o), nonce, target)).toBe(false);
    }
  });

  it('work grows with size and with lifetime', () => {
    expect(powWork(10, 0, 0)).toBe(1024n);
    expect(powWork(10, 4096, 6 * 86400)).toBe(1024n * 5n * 7n);
    let prev = 0n;
    for (const size of [0, 100, 1000, 4096]) {
      const w = powWork(14, size, 86400);
      expect(w).toBeGreaterThan(prev);
      prev = w;
    }
    prev = 0n;
    for (const ttl of [0, 3600, 86400, 7 * 86400]) {
      const w = powWork(14, 100, ttl);
      expect(w).toBeGreaterThan(prev);
      prev = w;
    }
    // A harder target is a smaller number.
    expect(powTarget(powWork(14, 4096, 86400))).toBeLessThan(powTarget(powWork(14, 10, 86400)));
  });

  it('a nonce that is not 8 bytes never checks, even against the easiest target', () => {
    const input = powInput(nodeCrypto, fields);
    const easiest = powTarget(1n);
    expect(checkPow(nodeCrypto, input, new Uint8Array(8), easiest)).toBe(true);
    for (const n of [0, 1, 7, 9, 16]) expect(checkPow(nodeCrypto, input, new Uint8Array(n), easiest)).toBe(false);
  });

  it('the in-thread solver yields to the event loop (timers run while it works)', async () => {
    const solve = inThreadPowSolver(nodeCrypto);
    const input = powInput(nodeCrypto, fields);
    const ac = new AbortController();
    const events: string[] = [];
    // Scheduled before the solve starts; the target 0 is (practically) never met, so the solve can
    // only end through these callbacks: a solver that did not yield would hang here.
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      events.push('message');
      port1.close();
    };
    port2.postMessage(0);
    setTimeout(() => {
      events.push('timeout');
      ac.abort('enough');
    }, 5);
    await rejectsWithCode(solve(input, 0n, ac.signal), 'ABORTED');
    expect([...events].sort()).toEqual(['message', 'timeout']);
  });

  it('a real solve lets an earlier timer run before it finishes', async () => {
    const solve = inThreadPowSolver(zeroRandom);
    const input = powInput(nodeCrypto, fields);
    let timerRanAt = -1;
    let step = 0;
    setTimeout(() => (timerRanAt = step), 0);
    // With zero randomness the solver starts at nonce 0 and needs ~47k hashes here: many 8 ms slices.
    const nonce = await solve(input, powTarget(1n << 16n));
    step = 1;
    expect(checkPow(nodeCrypto, input, nonce, powTarget(1n << 16n))).toBe(true);
    expect(timerRanAt).toBe(0);
  });

  it('honours an already-aborted signal', async () => {
    const ac = new AbortController();
    ac.abort();
    await rejectsWithCode(inThreadPowSolver(nodeCrypto)(powInput(nodeCrypto, fields), powTarget(1n), ac.signal), 'ABORTED');
  });
});

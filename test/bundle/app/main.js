// A minimal consumer of the published package: imported by name ('spydht' resolves to this
// repository's package through its "exports", i.e. dist/), bundled by Vite with no config.
// It writes "OK <details>" or "FAIL <error>" into the page, and sets body[data-done].
import {
  DHT,
  Identity,
  SimNetwork,
  createWebCryptoBackend,
  createWorkerPowSolver,
  generateIdentityInWorker,
  loadOrCreateIdentity,
  nobleCrypto,
  realClock,
  toHex,
} from 'spydht';

const DIFFICULTY = 8;
const U64_MAX = (1n << 64n) - 1n;

function report(text) {
  document.body.textContent = text;
  document.body.dataset.done = '1';
}

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

/** Proof-of-work check done here, independently of the library: sha256(input ‖ nonce)[0..8] ≤ target. */
function powValid(crypto, input, nonce, target) {
  const buf = new Uint8Array(input.length + nonce.length);
  buf.set(input);
  buf.set(nonce, input.length);
  const h = crypto.sha256(buf);
  let head = 0n;
  for (let i = 0; i < 8; i++) head = (head << 8n) | BigInt(h[i]);
  return nonce.length === 8 && head <= target;
}

async function main() {
  const details = [];
  details.push(`secure=${window.isSecureContext}`);

  // 1. WebCrypto Ed25519 backend (noble on a non-secure origin, where crypto.subtle is missing).
  const crypto = await createWebCryptoBackend();
  details.push(`backend=${crypto.name}`);
  check(crypto.name === (globalThis.crypto?.subtle ? 'webcrypto' : 'noble'), 'backend matches crypto.subtle');

  // 2. The identity: the ID puzzle solved in a worker, kept in IndexedDB across reloads.
  let t = performance.now();
  const identity = await loadOrCreateIdentity({
    crypto,
    difficulty: DIFFICULTY,
    storage: 'indexeddb',
    generate: (o) => generateIdentityInWorker(o),
  });
  check(identity instanceof Identity, 'an Identity');
  details.push(`id=${toHex(identity.id)}`, `idMs=${Math.round(performance.now() - t)}`);

  // 3. Sign with the backend; verify with it and with noble; a flipped bit fails.
  const message = new TextEncoder().encode('spydht in a browser');
  const signature = await identity.sign(message);
  check(await crypto.verify(identity.publicKey, message, signature), 'verify (backend)');
  check(await nobleCrypto.verify(identity.publicKey, message, signature), 'verify (noble)');
  const tampered = signature.slice();
  tampered[5] ^= 4;
  check(!(await crypto.verify(identity.publicKey, message, tampered)), 'tampered signature rejected');
  check(!(await crypto.verify(new Uint8Array(32).fill(255), message, signature)), 'garbage key rejected');
  details.push('signVerify=ok');

  // 4. Proof of work in a Web Worker while a 10 ms main-thread timer keeps ticking.
  const solver = createWorkerPowSolver();
  const target = U64_MAX / (1n << 15n);
  let ticks = 0;
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    ticks++;
  }, 10);
  t = performance.now();
  let solves = 0;
  while (performance.now() - t < 500 || solves < 3) {
    const input = crypto.randomBytes(32);
    const nonce = await solver(input, target);
    check(powValid(crypto, input, nonce, target), 'nonce valid');
    solves++;
  }
  const powMs = performance.now() - t;
  clearInterval(timer);
  check(solver.workers === 1, 'solved in one reused worker');
  check(ticks >= (powMs / 10) * 0.5, `main thread kept ticking (${ticks} ticks in ${Math.round(powMs)} ms)`);
  check(maxGap < 250, `no long main-thread stall (max gap ${Math.round(maxGap)} ms)`);
  details.push(`powSolves=${solves}`, `powMs=${Math.round(powMs)}`, `ticks=${ticks}`, `maxGapMs=${Math.round(maxGap)}`);

  // Abort terminates the worker.
  const ac = new AbortController();
  const aborted = solver(crypto.randomBytes(32), 0n, ac.signal).then(
    () => 'solved?!',
    (e) => e.code,
  );
  setTimeout(() => ac.abort(), 50);
  check((await aborted) === 'ABORTED', 'abort');
  check(solver.workers === 0, 'aborted worker terminated');
  details.push('abort=ok');

  // 5. The engine end to end in the page: two nodes on a simulated network, PoW in the worker.
  const network = { name: 'bundle-check', idDifficulty: DIFFICULTY, powBaseBits: 10 };
  const net = new SimNetwork({ clock: realClock, latency: 1, jitter: 0 });
  const a = await DHT.create({ transports: [net.createTransport()], crypto, identity, network, powSolver: solver });
  const other = await generateIdentityInWorker({ crypto, difficulty: DIFFICULTY });
  const b = await DHT.create({
    transports: [net.createTransport()],
    crypto,
    identity: other,
    network,
    powSolver: solver,
    bootstrap: a.localAddresses(),
  });
  await b.bootstrap();
  const key = await b.put('hello', 'from the bundle');
  const value = await a.get(key);
  check(value?.text() === 'from the bundle', 'put/get');
  await Promise.all([a.close(), b.close()]);
  solver.close();
  details.push('dht=ok');

  report(`OK ${details.join(' ')}`);
}

main().catch((err) => report(`FAIL ${err?.stack ?? err}`));

#!/usr/bin/env node
/**
 * spydht benchmarks. `npm run bench` (builds first) or `node bench/run.js [--quick]`.
 *
 * Each section (bench/sections/) runs in its own child process (with --expose-gc) so memory and JIT
 * state of one section cannot colour another; the parent prints one report and writes
 * bench/results/latest.json.
 *
 *   sim       simulated swarm on a virtual clock (N=200, 20±10 ms one way), 0 % and 10 % loss
 *   udp       real UDP on 127.0.0.1, N=50 nodes in one process, 0 % and 10 % (injected) loss
 *   compare   side by side with bittorrent-dht 11: N=200 each on real UDP, 0 % and 10 % loss, ratios
 *   signatures compare's ready and put with spydht's Ed25519 made free or modelled (insecure, measured only): what it costs there
 *   rejoin    restart from saved contacts (bootstrap dead) against a cold join: time and datagrams, sim and UDP
 *   sockets   control for udp's memory figure: bare dgram sockets, no DHT
 *   rest      200 UDP nodes at rest after their operations: idle allocation, young generation given back
 *   republish signature checks of 100 simulated nodes over 2 h at rest, republishing included
 *   tabs      a new browser tab (real Chromium, the demo page) joining a local swarm: ms to ready
 *   signaling WebRTC signaling load: envelopes per link, and the signaling server's share of them
 *   wsmemory  the signaling server's memory per idle WebSocket connection (1,000 and 10,000; and before the hello)
 *   store     memory of held records (10,000 owned 100-byte values, as received in STORE datagrams)
 *   pow       proof-of-work solve time at the default base difficulty, and verify cost
 *   identity  ID puzzle (default difficulty) generation time
 *   puzzle    the ID puzzle in a Chromium worker, page at localhost (WebCrypto) and at the LAN address (@noble)
 *   crypto    Ed25519 sign / verify and SHA-256 throughput per backend
 *   flood     honest get/put latency on real UDP before and during a flood asking for signed replies
 *
 * Options: --quick (fewer nodes/samples, ~1 min), --only sim,udp (some sections), --udp-n <N>
 * (UDP swarm size, default 50), --compare-n <N> (compare's swarm size each, default 200),
 * --tabs <N> and --tab-bridges <N> (the tabs section: tabs opened, default 8; Node bridges, default 3),
 * --section <name> (run one section in this process and print its JSON), --out <file> (default
 * bench/results/latest.json).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { gitCommit, machine } from './lib/machine.js';
import { report } from './lib/report.js';
import { runSection } from './lib/runner.js';
import * as compare from './sections/compare.js';
// Named apart from the global `crypto` (Web Crypto) it would otherwise shadow.
import * as cryptoSection from './sections/crypto.js';
import * as flood from './sections/flood.js';
import * as identity from './sections/identity.js';
import * as pow from './sections/pow.js';
import * as puzzle from './sections/puzzle.js';
import * as rejoin from './sections/rejoin.js';
import * as republish from './sections/republish.js';
import * as rest from './sections/rest.js';
import * as signaling from './sections/signaling.js';
import * as signatures from './sections/signatures.js';
import * as sim from './sections/sim.js';
import * as sockets from './sections/sockets.js';
import * as tabs from './sections/tabs.js';
import * as udp from './sections/udp.js';
import * as store from './sections/store.js';
import * as wsmemory from './sections/wsmemory.js';

const SCRIPT = fileURLToPath(import.meta.url);
const HERE = dirname(SCRIPT);
const ROOT = join(HERE, '..');
/** Every section, in the order they run and are reported. */
const SECTIONS = { sim, udp, compare, signatures, rest, republish, rejoin, sockets, tabs, signaling, wsmemory, store, pow, identity, puzzle, crypto: cryptoSection, flood };

const argv = process.argv.slice(2);
const argOf = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
/** What the sections read: a child gets the same through its own command line. */
const options = { quick: argv.includes('--quick'), udpN: argOf('--udp-n'), compareN: argOf('--compare-n'), tabs: argOf('--tabs'), tabBridges: argOf('--tab-bridges') };

/** Child mode (--section): runs one section here and writes its JSON to --out, or prints it. */
async function runHere(name) {
  const section = Object.hasOwn(SECTIONS, name) ? SECTIONS[name] : undefined;
  if (!section) throw new Error(`unknown section ${name}; one of ${Object.keys(SECTIONS).join(', ')}`);
  const result = await section.measure(options);
  const out = argOf('--out');
  if (out) writeFileSync(out, JSON.stringify(result));
  else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}

/** Parent mode: each chosen section in a child process, then the report and the JSON file. */
async function runAll() {
  const only = argOf('--only')?.split(',') ?? Object.keys(SECTIONS);
  const started = performance.now();
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  const results = {
    meta: { date: new Date().toISOString(), quick: options.quick, version: pkg.version, ...machine(), commit: gitCommit(ROOT), loadAvgStart: os.loadavg() },
    reference: { bittorrentDht: udp.BITTORRENT_DHT },
    errors: {},
  };
  for (const name of only) {
    const t = performance.now();
    const { result, error } = await runSection(SCRIPT, name, options, SECTIONS[name].TIME_LIMIT_MS);
    if (result) results[name] = { ...result, sectionS: (performance.now() - t) / 1000, loadAvgAfter: os.loadavg()[0] };
    else results.errors[name] = error;
  }
  results.meta.totalS = (performance.now() - started) / 1000;
  results.meta.loadAvgEnd = os.loadavg();
  const outFile = argOf('--out') ?? join(HERE, 'results', 'latest.json');
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  console.log(report(results, SECTIONS));
  console.log(`\nJSON: ${outFile}`);
  if (Object.keys(results.errors).length) process.exitCode = 1;
}

const section = argOf('--section');
(section ? runHere(section) : runAll()).catch((err) => {
  console.error(err);
  process.exit(1);
});

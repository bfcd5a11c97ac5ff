#!/usr/bin/env node
/**
 * One implementation's side-by-side run in a process of its own (so neither library's memory or
 * JIT state colours the other's figures): `node --expose-gc bench/lib/compare/child.js
 * <bittorrent-dht|spydht|spydht-free-signatures|spydht-x25519-signatures> <n> <ops> <lossyPuts>
 * <lossyGets> <out.json>`. The compare section (bench/sections/compare.js) starts it, once per
 * implementation, back to back; the signatures section (bench/sections/signatures.js) also runs
 * spydht with its signatures modelled (insecure: a measurement of what they cost, never a way to
 * run a node).
 */
import { writeFileSync } from 'node:fs';
import { drive } from './drive.js';

const [impl, n, ops, lossyPuts, lossyGets, out] = process.argv.slice(2);
const { seededRandom, randomIndex } = await import('../../../dist/index.js');
/** spydht, or spydht-<model>-signatures (the adapter's name for a modelled build). */
const spydht = /^spydht(?:-(free|x25519)-signatures)?$/.exec(impl);
const adapter =
  impl === 'bittorrent-dht'
    ? (await import('./adapter-bittorrent-dht.js')).bittorrentDhtAdapter
    : spydht
      ? await (await import('./adapter-spydht.js')).spydhtAdapter({ signatures: spydht[1] ?? 'real' })
      : undefined;
if (!adapter) throw new Error(`unknown implementation ${impl}: bittorrent-dht, spydht, spydht-free-signatures or spydht-x25519-signatures`);
const result = await drive(adapter, { n: Number(n), ops: Number(ops), lossyPuts: Number(lossyPuts), lossyGets: Number(lossyGets), seededRandom, randomIndex });
writeFileSync(out, JSON.stringify(result));
// Nothing may keep the process alive after close(); if something did, that is a leak to see, but
// the figures are written: exit now so the section does not wait on it.
process.exit(0);

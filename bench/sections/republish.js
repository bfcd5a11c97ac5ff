/**
 * A swarm's signature checks at rest, republishing included: 100 simulated nodes (k = 8,
 * node:crypto, virtual clock) hold 100 records; over 2 hours of virtual time every holder's hourly
 * republish sends its records to the others. Counted: every Ed25519 verification in the swarm, and
 * the STOREs a holder answered from the copy it holds (`storeHeldCopy`) without checking the
 * record again.
 */
import { fmt, log, table } from '../lib/format.js';

export async function measure({ quick }) {
  const { createTestnet } = await import('../../dist/node/index.js');
  const n = quick ? 50 : 100;
  const t = await createTestnet(n, { node: { k: 8 } });
  const backend = t.nodes[0].internals.crypto;
  let verifications = 0;
  const verify = backend.verify.bind(backend);
  backend.verify = (...args) => (verifications++, verify(...args));
  for (let i = 0; i < n; i++) await t.run(t.nodes[(i * 7) % n].put(`republished ${i}`, `value ${i}`, { ttl: 6 * 3600 }));
  const sum = (key) => t.nodes.reduce((s, node) => s + (node.stats()[key] ?? 0), 0);
  const v0 = verifications;
  const held0 = sum('storeHeldCopy');
  const hours = 2;
  await t.clock.advance(hours * 3600_000);
  const result = { nodes: n, records: n, hours, verifications: verifications - v0, heldCopies: sum('storeHeldCopy') - held0 };
  await t.close();
  log(`[republish] ${n} nodes, ${n} records, ${hours} h: ${result.verifications} verifications, ${result.heldCopies} STOREs of held copies answered unchecked`);
  return result;
}

export function report(r) {
  return [
    table(`Signature checks at rest: ${r.nodes} simulated nodes holding ${r.records} records, ${r.hours} h of virtual time (republishing included)`, ['figure', 'value'], [
      ['Ed25519 verifications, whole swarm', fmt(r.verifications, 0)],
      ['STOREs of a copy already held, answered without a check', fmt(r.heldCopies, 0)],
    ]),
  ];
}

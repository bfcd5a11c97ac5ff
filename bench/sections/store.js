/**
 * Memory of held records: 10,000 owned records of 100-byte values (and 10,000 mutable ones), each arriving as a node
 * receives it (a STORE datagram with a signature trailer, in a buffer of its own, decoded), stored
 * in a LocalStore; the figure is what `clear()` frees, after forced collections: the store's own
 * share per record (its map entries, per-sender accounting and the record), nothing else.
 */
import { fmt, log, table } from '../lib/format.js';
import { settleMemory } from '../lib/memory.js';

const RECORDS = 10_000;
const VALUE_BYTES = 100;

export async function measure({ quick }) {
  const { nodeCrypto } = await import('../../dist/node/index.js');
  const { encodeMessage, decodeMessage, appendAuth, MessageType, Flags } = await import('../../dist/wire/messages.js');
  const { LocalStore } = await import('../../dist/storage/store.js');
  const { recordSize } = await import('../../dist/storage/record.js');
  const n = quick ? 2_000 : RECORDS;
  const net = Uint8Array.from([1, 2, 3, 4]);
  const owner = nodeCrypto.randomBytes(32);
  const store = new LocalStore({ maxRecords: n }, { localId: nodeCrypto.randomBytes(32), locate: (key) => [key, nodeCrypto.sha256(key)] });
  let wire = 0;
  for (let i = 0; i < n; i++) {
    const content = new TextEncoder().encode(`value ${i} `.padEnd(VALUE_BYTES, '.'));
    const record = {
      key: nodeCrypto.sha256(content),
      label: new TextEncoder().encode('bench label'),
      content,
      expiresAt: 2_000_000_000,
      owner: { publicKey: owner, issuedAt: 1_700_000_000, signature: nodeCrypto.randomBytes(64) },
      powNonce: nodeCrypto.randomBytes(8),
    };
    const header = { networkId: net, flags: Flags.AUTH, requestId: nodeCrypto.randomBytes(8), senderId: nodeCrypto.randomBytes(32), token: new Uint8Array(8) };
    const datagram = appendAuth(encodeMessage({ ...header, type: MessageType.STORE, record }), nodeCrypto.randomBytes(32), nodeCrypto.randomBytes(64));
    const decoded = decodeMessage(datagram, net);
    if (!decoded.ok) throw decoded.error;
    store.put(decoded.message.record, 0, `10.0.${i % 250}.1`);
    wire = recordSize(record);
  }
  if (store.size !== n) throw new Error(`stored ${store.size} of ${n}`);
  const full = await settleMemory();
  store.clear();
  const empty = await settleMemory();
  const perRecord = (key) => (full[key] - empty[key]) / n;
  const result = { records: n, valueBytes: VALUE_BYTES, wireBytes: wire, heapBytesPerRecord: perRecord('heapUsed'), arrayBufferBytesPerRecord: perRecord('arrayBuffers') };
  log(`[store] ${n} records: ${fmt(result.heapBytesPerRecord + result.arrayBufferBytesPerRecord, 0)} B each (heap ${fmt(result.heapBytesPerRecord, 0)}, buffers ${fmt(result.arrayBufferBytesPerRecord, 0)}), ${wire} B on the wire`);
  result.mutable = await measureMutable(n, net);
  result.handover = await measureHandover(n);
  return result;
}

/**
 * What maintenance does for every held record when a contact enters the table (maintenance.ts
 * #handOver): is this node the nearest holder it knows of, and is the newcomer among the k nearest
 * to one of the key's locations? A table of ~110 contacts spread as a 400-node swarm's are, `n`
 * records held with both locations; CPU ms per new contact, over 20 newcomers.
 */
async function measureHandover(n) {
  const { nodeCrypto } = await import('../../dist/node/index.js');
  const { RoutingTable } = await import('../../dist/routing/table.js');
  const { LocalStore } = await import('../../dist/storage/store.js');
  const { replicaLocations } = await import('../../dist/storage/placement.js');
  const { encodeIpPort, AddressKind } = await import('../../dist/wire/address.js');
  const { commonPrefixLength } = await import('../../dist/id.js');
  const { handOverEach } = await import('../../dist/maintenance.js');
  const k = 20;
  const localId = nodeCrypto.randomBytes(32);
  const table = new RoutingTable({ localId, k, maxPerIp: 1000, now: () => 0 });
  // Contacts as a node of a 400-node swarm holds them: full far buckets, thinning toward us.
  for (let i = 0; table.size < 110 && i < 100_000; i++) {
    const id = nodeCrypto.randomBytes(32);
    if (commonPrefixLength(id, localId) > 8) continue;
    const ip = `10.${i >> 8 & 255}.${i & 255}.1`;
    const address = encodeIpPort(AddressKind.SIM, { ip, port: 4000 });
    table.insert({ id, address, addresses: [address], ip, rtt: undefined, lastSeen: 0, addedAt: 0, failures: 0 });
  }
  const store = new LocalStore({ maxRecords: n }, { localId, locate: (key) => replicaLocations(nodeCrypto, key) });
  for (let i = 0; i < n; i++) {
    const key = nodeCrypto.randomBytes(32);
    store.put({ key, label: new Uint8Array(0), content: new Uint8Array(100), expiresAt: 2_000_000_000, powNonce: new Uint8Array(8) }, 0);
  }
  const contacts = table.all();
  const rounds = 20;
  const t = process.cpuUsage();
  let handed = 0;
  const scratch = new Uint8Array(32);
  for (let r = 0; r < rounds; r++) {
    const c = contacts[(r * 37) % contacts.length];
    // The check maintenance.ts #handOver runs, over the locations each record keeps.
    handOverEach(table, k, c.id, store.held(), scratch, () => handed++);
  }
  const u = process.cpuUsage(t);
  const r = { records: n, contacts: table.size, cpuMsPerNewContact: (u.user + u.system) / 1000 / rounds, handed };
  log(`[store] hand-over check, ${n} records, table of ${table.size}: ${fmt(r.cpuMsPerNewContact, 1)} ms CPU per new contact`);
  return r;
}

/** The same for mutable records (salt 7 bytes, 100-byte value), in STORE_MUTABLE datagrams. */
async function measureMutable(n, net) {
  const { nodeCrypto } = await import('../../dist/node/index.js');
  const { encodeMessage, decodeMessage, appendAuth, MessageType, Flags } = await import('../../dist/wire/messages.js');
  const { MutableStore } = await import('../../dist/storage/mutable-store.js');
  // Locations as a node keeps them beside each record (engine.ts: both replica locations).
  const store = new MutableStore({ maxRecords: n }, undefined, { locate: (key) => [key, nodeCrypto.sha256(key)] });
  const publicKey = nodeCrypto.randomBytes(32);
  for (let i = 0; i < n; i++) {
    const record = {
      key: nodeCrypto.sha256(new TextEncoder().encode(`mutable ${i}`)),
      publicKey,
      salt: new TextEncoder().encode('profile'),
      seq: 1,
      deleted: false,
      content: new TextEncoder().encode(`value ${i} `.padEnd(VALUE_BYTES, '.')),
      expiresAt: 2_000_000_000,
      signature: nodeCrypto.randomBytes(64),
      powNonce: nodeCrypto.randomBytes(8),
    };
    const header = { networkId: net, flags: Flags.AUTH, requestId: nodeCrypto.randomBytes(8), senderId: nodeCrypto.randomBytes(32), token: new Uint8Array(8) };
    const datagram = appendAuth(encodeMessage({ ...header, type: MessageType.STORE_MUTABLE, cas: undefined, record }), nodeCrypto.randomBytes(32), nodeCrypto.randomBytes(64));
    const decoded = decodeMessage(datagram, net);
    if (!decoded.ok) throw decoded.error;
    store.put(decoded.message.record, undefined, 0);
  }
  if (store.size !== n) throw new Error(`stored ${store.size} mutable of ${n}`);
  const full = await settleMemory();
  store.clear();
  const empty = await settleMemory();
  const per = (key) => (full[key] - empty[key]) / n;
  const r = { heapBytesPerRecord: per('heapUsed'), arrayBufferBytesPerRecord: per('arrayBuffers') };
  log(`[store] ${n} mutable records: ${fmt(r.heapBytesPerRecord + r.arrayBufferBytesPerRecord, 0)} B each (heap ${fmt(r.heapBytesPerRecord, 0)}, buffers ${fmt(r.arrayBufferBytesPerRecord, 0)})`);
  return r;
}

export function report(r) {
  return [
    table(
      `Held records: ${r.records} owned records of ${r.valueBytes}-byte values, as received in STORE datagrams`,
      ['record', 'wire size B', 'held B per record (heap + buffers)', 'heap B', 'buffers B'],
      [
        ['immutable', r.wireBytes, fmt(r.heapBytesPerRecord + r.arrayBufferBytesPerRecord, 0), fmt(r.heapBytesPerRecord, 0), fmt(r.arrayBufferBytesPerRecord, 0)],
        ...(r.mutable ? [['mutable (salt 7 B)', '', fmt(r.mutable.heapBytesPerRecord + r.mutable.arrayBufferBytesPerRecord, 0), fmt(r.mutable.heapBytesPerRecord, 0), fmt(r.mutable.arrayBufferBytesPerRecord, 0)]] : []),
      ],
    ),
    'What `LocalStore.clear()` frees, after forced collections: the records and the store\'s map entries and per-sender accounting.' +
      (r.handover ? ` Hand-over check at a new contact (maintenance), ${r.handover.records} records held, table of ${r.handover.contacts}: ${fmt(r.handover.cpuMsPerNewContact, 1)} ms CPU.` : ''),
  ];
}

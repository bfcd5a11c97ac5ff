/**
 * Saved contacts (DHT.exportContacts / the `contacts` option): the list survives JSON, is bounded
 * and spread over the buckets, bad lists are refused with a typed error, and keepContacts writes it
 * periodically and when the node closes, never an empty table over a good list.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { keepContacts, loadSavedContacts, type ContactsStorage } from '../../src/contacts-store.js';
import { DHT } from '../../src/dht.js';
import { isSpydhtError } from '../../src/errors.js';
import { commonPrefixLength, idFromHex } from '../../src/id.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { MAX_SAVED_CONTACTS, parseSavedContacts, selectContacts } from '../../src/ops/saved-contacts.js';
import type { Contact } from '../../src/routing/contact.js';
import { SimNetwork } from '../../src/transport/memory.js';
import { SimClock } from '../../src/transport/sim-clock.js';
import { AddressKind } from '../../src/wire/address.js';
import { createTestnet, SIM_NETWORK, type Testnet } from '../helpers/testnet.js';
import { until } from '../helpers/wait.js';

let tn: Testnet | undefined;
afterEach(async () => {
  await tn?.close();
  tn = undefined;
});

/** A DHT on a throwaway simulated network, to see what its constructor accepts. */
async function createWith(contacts: unknown): Promise<DHT> {
  const net = new SimNetwork({ clock: new SimClock() });
  return DHT.create({ transports: [net.createTransport()], crypto: nodeCrypto, network: SIM_NETWORK, contacts: contacts as never });
}

const good = { id: 'ab'.repeat(32), addresses: [{ kind: AddressKind.UDP, data: '7f0000011f90' }], lastSeen: 1 };

describe('exportContacts', () => {
  it('round-trips through JSON into the contacts option: the same IDs, addresses and times', async () => {
    tn = await createTestnet(30, { crypto: nodeCrypto });
    const node = tn.nodes[7]!;
    const saved = node.exportContacts();
    expect(saved.length).toBe(Math.min(node.routing.size, MAX_SAVED_CONTACTS));
    const table = new Map(node.routing.contacts().map((c) => [c.id, c]));
    for (const s of saved) {
      expect(table.has(s.id)).toBe(true);
      expect(s.lastSeen).toBe(table.get(s.id)!.lastSeen);
      expect(s.addresses[0]).toEqual({ kind: AddressKind.SIM, data: expect.stringMatching(/^[0-9a-f]{12}$/) });
    }
    const back = JSON.parse(JSON.stringify(saved)) as unknown;
    expect(parseSavedContacts(back).map((c) => c.id)).toEqual(saved.map((s) => idFromHex(s.id)));
    const restarted = await createWith(back);
    await restarted.close();
  });

  it('keeps at most `max`, refusing a max above the bound', async () => {
    tn = await createTestnet(30, { crypto: nodeCrypto });
    expect(tn.nodes[3]!.exportContacts({ max: 5 })).toHaveLength(5);
    expect(() => tn!.nodes[3]!.exportContacts({ max: MAX_SAVED_CONTACTS + 1 })).toThrow(/max/);
  });
});

describe('selectContacts', () => {
  const local = new Uint8Array(32);
  /** A contact in bucket `b` of the all-zero ID (its first set bit is bit b). */
  const inBucket = (b: number, n: number, lastSeen: number): Contact => {
    const id = new Uint8Array(32);
    id[b >> 3] = 0x80 >> (b & 7);
    id[31] = n;
    return { id, address: { kind: 1, data: new Uint8Array(6) }, addresses: [], ip: '', rtt: undefined, lastSeen, addedAt: 0, failures: 0 };
  };

  it('spreads over the buckets, freshest of each first, and returns the freshest first', () => {
    // 40 contacts in the far bucket 0 (all fresher), 3 in bucket 5, 2 in bucket 9.
    const contacts = [
      ...Array.from({ length: 40 }, (_, i) => inBucket(0, i, 1000 + i)),
      ...Array.from({ length: 3 }, (_, i) => inBucket(5, i, 10 + i)),
      ...Array.from({ length: 2 }, (_, i) => inBucket(9, i, 20 + i)),
    ];
    const picked = selectContacts(contacts, (id) => commonPrefixLength(local, id), 8);
    const buckets = picked.map((c) => commonPrefixLength(local, c.id));
    expect(buckets.filter((b) => b === 5)).toHaveLength(3);
    expect(buckets.filter((b) => b === 9)).toHaveLength(2);
    expect(buckets.filter((b) => b === 0)).toHaveLength(3);
    // The three of bucket 0 are its freshest.
    expect(picked.filter((c) => commonPrefixLength(local, c.id) === 0).map((c) => c.lastSeen)).toEqual([1039, 1038, 1037]);
    expect(picked.map((c) => c.lastSeen)).toEqual([...picked.map((c) => c.lastSeen)].sort((a, b) => b - a));
  });
});

describe('the contacts option refuses a bad list with INVALID_ARGUMENT', () => {
  const cases: [string, unknown][] = [
    ['not an array', { contacts: [] }],
    ['more than the bound', Array.from({ length: MAX_SAVED_CONTACTS + 1 }, () => good)],
    ['an entry that is not an object', [good, 'x']],
    ['a short ID', [{ ...good, id: 'ab' }]],
    ['an upper-case ID', [{ ...good, id: 'AB'.repeat(32) }]],
    ['no addresses', [{ ...good, addresses: [] }]],
    ['address kind 0', [{ ...good, addresses: [{ kind: 0, data: '00' }] }]],
    ['odd hex', [{ ...good, addresses: [{ kind: 1, data: '0' }] }]],
    ['oversize address', [{ ...good, addresses: [{ kind: 1, data: '00'.repeat(65) }] }]],
    ['lastSeen not a number', [{ ...good, lastSeen: '1' }]],
  ];
  for (const [what, input] of cases) {
    it(what, async () => {
      const err = await createWith(input).then(
        (d) => d.close().then(() => undefined),
        (e: unknown) => e,
      );
      expect(isSpydhtError(err, 'INVALID_ARGUMENT'), String(err)).toBe(true);
    });
  }

  it('accepts a good one', async () => {
    await (await createWith([good])).close();
  });
});

describe('keepContacts', () => {
  const memory = (): ContactsStorage & { text: string | undefined; writes: number } => {
    const s = {
      text: undefined as string | undefined,
      writes: 0,
      load: async () => s.text,
      save: async (text: string) => {
        s.text = text;
        s.writes++;
      },
    };
    return s;
  };

  it('saves when the node closes, and what it saved loads back', async () => {
    tn = await createTestnet(12, { crypto: nodeCrypto });
    const node = tn.nodes.pop()!;
    const store = memory();
    keepContacts(node, store, { intervalMs: 3_600_000 });
    const expected = node.exportContacts();
    await node.close();
    expect(store.writes).toBe(1);
    expect((await loadSavedContacts(store)).map((c) => c.id)).toEqual(expected.map((c) => c.id));
  });

  it('saves every interval, and never writes an empty table over a saved list', async () => {
    tn = await createTestnet(12, { crypto: nodeCrypto });
    const node = tn.nodes[5]!;
    const store = memory();
    const keeper = keepContacts(node, store, { intervalMs: 20 });
    await until(() => store.writes >= 1, 'the first interval save');
    const saved = store.text;
    for (const c of node.routing.contacts()) node.internals.table.remove(idFromHex(c.id));
    await keeper.save();
    keeper.stop();
    expect(store.text).toBe(saved);
  });

  it('a damaged saved list loads as none, saying why', async () => {
    const store = memory();
    store.text = '{not json';
    const why: string[] = [];
    expect(await loadSavedContacts(store, (e) => why.push(e.code))).toEqual([]);
    store.text = JSON.stringify([{ id: 'zz' }]);
    expect(await loadSavedContacts(store, (e) => why.push(e.code))).toEqual([]);
    expect(why).toEqual(['INVALID_ARGUMENT', 'INVALID_ARGUMENT']);
  });
});

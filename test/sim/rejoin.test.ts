/**
 * Rejoining from saved contacts in the simulator: a node restarted with the contacts it exported
 * joins again while its bootstrap address is unreachable, its table fills as far as a cold join's,
 * and it finds values; contacts on transports it lacks are skipped, not pinged.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DHT } from '../../src/dht.js';
import { isSpydhtError } from '../../src/errors.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { AddressKind } from '../../src/wire/address.js';
import { createTestnet, SIM_NETWORK, type Testnet } from '../helpers/testnet.js';

let tn: Testnet | undefined;
afterEach(async () => {
  await tn?.close();
  tn = undefined;
});

describe('rejoin from saved contacts (simulated)', () => {
  it('a restarted node rejoins with its bootstrap node gone, fills its table and finds a value', async () => {
    tn = await createTestnet(60, { crypto: nodeCrypto, seed: 7 });
    const key = await tn.run(tn.nodes[10]!.put('before the restart', 'still here'));
    const leaving = tn.nodes.splice(30, 1)[0]!;
    const saved = JSON.parse(JSON.stringify(leaving.exportContacts())) as ReturnType<DHT['exportContacts']>;
    const tableBefore = leaving.routing.size;
    await leaving.close();
    // The bootstrap node goes away for good: its address no longer answers.
    const bootstrap = tn.nodes.shift()!;
    const bootstrapAddress = bootstrap.localAddresses();
    await bootstrap.close();

    // The same identity at a new address, as after a restart on another port.
    const restarted = await DHT.create({
      transports: [tn.net.createTransport()],
      crypto: nodeCrypto,
      identity: leaving.identity,
      network: SIM_NETWORK,
      clock: tn.clock,
      bootstrap: bootstrapAddress,
      contacts: saved,
    });
    tn.nodes.push(restarted);
    const t0 = tn.clock.now();
    const size = await tn.run(restarted.bootstrap());
    const joinMs = tn.clock.now() - t0;
    expect(size).toBeGreaterThanOrEqual(Math.min(20, tableBefore / 2));
    expect(restarted.stats().joinedFromSavedContacts).toBe(1);
    // It did not sit out the unreachable bootstrap node's four ping attempts (~1 s + backoff).
    expect(joinMs).toBeLessThan(1000);
    expect((await tn.run(restarted.get(key)))?.text()).toBe('still here');

    // Without saved contacts the same restart fails: the bootstrap address is all it has.
    const cold = await DHT.create({ transports: [tn.net.createTransport()], crypto: nodeCrypto, network: SIM_NETWORK, clock: tn.clock, bootstrap: bootstrapAddress });
    tn.nodes.push(cold);
    const err = await tn.run(cold.bootstrap()).catch((e: unknown) => e);
    expect(isSpydhtError(err, 'BOOTSTRAP_FAILED')).toBe(true);
  });

  it('skips saved contacts on transports the node lacks, and pings the rest until a few answer', async () => {
    tn = await createTestnet(30, { crypto: nodeCrypto, seed: 3 });
    const source = tn.nodes[12]!;
    const sim = source.exportContacts();
    // WebRTC-only entries (a browser's contacts): this simulated node has no WebRTC transport.
    const webrtc = sim.map((c) => ({ ...c, addresses: [{ kind: AddressKind.WEBRTC, data: c.id }] }));
    const node = await DHT.create({ transports: [tn.net.createTransport()], crypto: nodeCrypto, network: SIM_NETWORK, clock: tn.clock, contacts: webrtc });
    tn.nodes.push(node);
    const err = await tn.run(node.bootstrap()).catch((e: unknown) => e);
    expect(isSpydhtError(err, 'BOOTSTRAP_FAILED')).toBe(true);
    expect(node.stats().sent ?? 0).toBe(0);

    // All reachable: one wave of pings, not one per saved contact.
    const node2 = await DHT.create({ transports: [tn.net.createTransport()], crypto: nodeCrypto, network: SIM_NETWORK, clock: tn.clock, contacts: sim });
    tn.nodes.push(node2);
    await tn.run(node2.bootstrap());
    expect(node2.stats().joinedFromSavedContacts).toBe(1);
    expect(node2.routing.size).toBeGreaterThan(10);
  });
});

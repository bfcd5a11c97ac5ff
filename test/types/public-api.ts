/**
 * The public types catch a user's typos at compile time. Compiled by `npm run typecheck:tests`
 * (never run) against the built declarations, imported by package name as an app would: each
 * `@ts-expect-error` line must be an error, or the check fails ("unused @ts-expect-error").
 */
import { DHT, SpydhtError, type ContactInfo, type DHTStats, type TransportName } from 'spydht';
import { createNode, startSignalingServer } from 'spydht/node';

export async function events(dht: DHT): Promise<void> {
  dht.on('contact-added', (c) => {
    const kind: TransportName = c.transport;
    const speaks: ('udp' | 'webrtc')[] = c.speaks;
    void [kind, speaks, c.bootstrapServer];
  });
  dht.on('stored', ({ key }) => void key.toUpperCase());
  // @ts-expect-error: no such event (a typo of contact-added)
  dht.on('contact-addd', () => {});
  // @ts-expect-error: 'stored' carries { key }, not a ContactInfo
  dht.on('stored', (c: ContactInfo) => void c.address);
}

export function stats(dht: DHT): number {
  const s: DHTStats = dht.stats();
  const known: number | undefined = s.droppedMalformed;
  const always: number = s.contacts + s.records + s.storedBytes + s.pendingRequests;
  const transport: number | undefined = s['webrtc.linksOpened'];
  const nested: number | undefined = s['udp.dropped.unreachable'];
  // @ts-expect-error: misspelt counter
  void s.droppedMalformd;
  // @ts-expect-error: no transport is called "webrtcc"
  void s['webrtcc.linksOpened'];
  // @ts-expect-error: counters are read-only
  s.contacts = 0;
  return (known ?? 0) + always + (transport ?? 0) + (nested ?? 0);
}

export function transports(c: ContactInfo): string {
  // @ts-expect-error: the transport is a name from a closed set
  const wrong: ContactInfo['transport'] = 'udpp';
  // @ts-expect-error: it used to be a number
  const old: ContactInfo['transport'] = 1;
  void [wrong, old];
  switch (c.transport) {
    case 'udp':
    case 'webrtc':
    case 'ws':
    case 'sim':
      return c.transport;
  }
}

/** One address type in, everywhere: text or PeerAddress, in createNode, DHT.bootstrap, ping and the server. */
export async function addresses(dht: DHT): Promise<void> {
  const [mine] = dht.localAddresses();
  await dht.bootstrap(['127.0.0.1:4000', '[::1]:4000', mine!]);
  await dht.ping('127.0.0.1:4000');
  await dht.ping(mine!);
  const node = await createNode({ bootstrap: ['localhost:4000', '10.0.0.1:4000', mine!] });
  const server = await startSignalingServer({ bootstrap: ['localhost:4001', mine!] });
  // @ts-expect-error: a number is not an address
  await dht.bootstrap([4000]);
  await Promise.all([node.close(), server.close()]);
}

export function errors(err: unknown): string | undefined {
  if (err instanceof SpydhtError) {
    if (err.code === 'MISSING_DEPENDENCY') return 'npm install';
    // @ts-expect-error: no such code
    if (err.code === 'MISING_DEPENDENCY') return 'typo';
  }
  return undefined;
}

export async function mutable(dht: DHT): Promise<number> {
  const { key, seq, stored, prefixes } = await dht.putMutable('status', { salt: 'profile', cas: 1, ttl: 3600 });
  const value = await dht.getMutable(dht.identity.publicKey, { salt: 'profile' });
  const text: string | undefined = value?.text();
  // @ts-expect-error: a seq is a number
  await dht.putMutable('x', { seq: '2' });
  // @ts-expect-error: getMutable takes a public key, not a content
  await dht.getMutable(42);
  return seq + stored + prefixes + key.length + (value?.seq ?? 0) + (text?.length ?? 0);
}

/**
 * bittorrent-dht 11 for the side-by-side run (drive.js): its own BEP 44 immutable put and get,
 * its own join (find_node of its own ID through the bootstrap list), its defaults otherwise
 * (k = 20, 16 queries in flight, 2 s query timeout, SHA-1 keys). Every node listens on a loopback
 * address of its own (drive.js `hostFor`).
 */
import { readFileSync } from 'node:fs';
import DHT from 'bittorrent-dht';

// Its package.json is not among its exports: read the installed one.
const { version } = JSON.parse(readFileSync(new URL('../../../node_modules/bittorrent-dht/package.json', import.meta.url), 'utf8'));

/** A node listening on `host` that has said 'ready' (its join finished). */
function start(host, options) {
  const dht = new DHT(options);
  // listen() before the join starts (next tick): a send on an unbound socket would bind it elsewhere.
  dht.listen(0, host);
  return new Promise((resolve, reject) => {
    dht.once('ready', () => resolve(dht));
    dht.once('error', reject);
  });
}

export const bittorrentDhtAdapter = {
  name: 'bittorrent-dht',
  version,
  settings: 'defaults (k 20, concurrency 16, query timeout 2 s); BEP 44 immutable values',
  // The first node joins nobody (bootstrap: false) and knows no router (nodes: [] — k-rpc would
  // otherwise fall back to the public routers on the internet).
  createFirst: (host) => start(host, { bootstrap: false, nodes: [] }),
  createJoining: (host, boot) => start(host, { bootstrap: [boot] }),
  addressOf: (dht) => `${dht.address().address}:${dht.address().port}`,
  tableSize: (dht) => dht.nodes.count(),
  /** Whether this node holds the value itself (its get would answer from there without a lookup). */
  holds: (dht, key) => dht._values.peek(key) !== undefined,
  put: (dht, content) =>
    new Promise((resolve, reject) => {
      dht.put({ v: Buffer.from(content) }, (err, hash, stored) => (err ? reject(err) : resolve({ key: hash.toString('hex'), stored, powMs: 0 })));
    }),
  get: (dht, key) =>
    new Promise((resolve, reject) => {
      dht.get(key, (err, res) => (err ? reject(err) : resolve(res?.v ? Buffer.from(res.v).toString() : undefined)));
    }),
  close: (dht) => new Promise((resolve) => dht.destroy(() => resolve())),
};

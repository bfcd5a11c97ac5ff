#!/usr/bin/env node
/**
 * The spydht command line: run a UDP node, or put / get / delete through a short-lived client
 * node. Exit codes: 0 success, 1 failure, 2 not found (get, get-mutable), 64 usage error (EXIT_HELP below).
 * stdout carries results only (a key, a value, a node's status lines); progress and errors go
 * to stderr.
 */
import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import {
  Identity,
  MAX_SALT_BYTES,
  SpydhtError,
  isSpydhtError,
  contactsPathFor,
  createNode,
  fileContactsStorage,
  keepContacts,
  loadSavedContacts,
  fileIdentityStorage,
  formatIpPort,
  loadIdentity,
  loadOrCreateIdentity,
  networkConfig,
  nodePoolCrypto,
  reachableAddresses,
  toHex,
  udpTransportOf,
  type ContactInfo,
  type DHT,
  type NetworkConfig,
  type NetworkOptions,
  type SpydhtErrorCode,
} from './index.js';
import { defaultIdentityPath, tildify } from './cli/config-dir.js';
import { DEFAULT_JOIN_TIMEOUT_MS, describeTargets, joinOrExplain, resolveBootstrap, type BootstrapTarget } from './cli/join.js';
import { withProgress } from './cli/progress.js';
import { startSignalingServer } from './signaling/index.js';

/** Shown in --help: where put and delete keep the user's identity on this machine. */
const DEFAULT_IDENTITY_HINT = tildify(defaultIdentityPath());

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_NOT_FOUND = 2;
const EXIT_USAGE = 64;

const NETWORK_HELP = `Network options (every node of a swarm must use the same values; a node ignores every
message of another network, so a wrong value looks like nobody answering):
  --network NAME         swarm name (default "spydht")
  --id-difficulty N      ID puzzle bits (default 9)
  --pow-base-bits N      STORE proof-of-work base bits (default 14)`;

const JOIN_HELP = `  -b, --bootstrap HOST:PORT  node to join through: "1.2.3.4:4000", "[::1]:4000" or "localhost:4000"; repeatable
      --join-timeout SECONDS give up when no bootstrap node answers within this time (default 5)`;

const EXIT_HELP = `Exit codes:
  0   success
  1   failure: no bootstrap node answered (or one of another network), a host name did not resolve,
      the operation failed or timed out, not the owner (delete), a dependency is missing (signal)
  2   not found (get, get-mutable)
  64  usage error: unknown command or option, a missing or malformed argument (an address, a
      KEY, --ttl beyond the network's longest lifetime …), an --identity file that does not exist`;

const COMMANDS = {
  node: {
    summary: 'run a DHT node until Ctrl-C (SIGINT/SIGTERM)',
    usage: 'spydht node [--host IP] [--port PORT] [--bootstrap HOST:PORT ...] [--identity FILE]',
    details: `  Prints the node's ID, address and table size, then a line whenever the routing table
  grows or shrinks. Without --bootstrap it is the first node of a new swarm.
  -H, --host IP              address to bind (default 0.0.0.0; "::" for IPv6)
  -p, --port PORT            UDP port (default 0: any free port)
${JOIN_HELP}
  -i, --identity FILE        key pair file: loaded if it exists, else created (mode 0600); default: a new
                             one each run (a node never uses the identity that owns your records).
                             With a file, the routing table's contacts are kept beside it in
                             FILE.contacts.json (every minute and on exit); the next run rejoins
                             through them first, so it needs no --bootstrap, or one that is down.`,
    options: ['host', 'port', 'bootstrap', 'identity', 'join-timeout'],
  },
  put: {
    summary: 'store a value; prints its key (64 hex digits)',
    usage: 'spydht put LABEL CONTENT --bootstrap HOST:PORT [--ttl SECONDS] [--identity FILE]',
    details: `  CONTENT "-" reads standard input. The record is owned by your identity, which can delete it.
${JOIN_HELP}
  -t, --ttl SECONDS          lifetime (default 86400; at most the network's longest, 604800 by default)
  -i, --identity FILE        owner key pair: loaded if it exists, else created (mode 0600);
                             default: your identity in ${DEFAULT_IDENTITY_HINT}, created on first use
      --timeout SECONDS      give up after this long (default 30)`,
    options: ['host', 'bootstrap', 'ttl', 'identity', 'timeout', 'join-timeout'],
  },
  get: {
    summary: 'print the content stored under KEY (exit 2 if not found)',
    usage: 'spydht get KEY --bootstrap HOST:PORT',
    details: `${JOIN_HELP}
      --timeout SECONDS      give up after this long (default 30)`,
    options: ['host', 'bootstrap', 'timeout', 'join-timeout'],
  },
  delete: {
    summary: 'delete a record you own, everywhere it is stored',
    usage: 'spydht delete KEY --bootstrap HOST:PORT [--identity FILE]',
    details: `${JOIN_HELP}
  -i, --identity FILE        the owner's key pair (default: your identity in ${DEFAULT_IDENTITY_HINT},
                             the one "put" used without --identity)
      --timeout SECONDS      give up after this long (default 30)`,
    options: ['host', 'bootstrap', 'identity', 'timeout', 'join-timeout'],
  },
  'put-mutable': {
    summary: 'store the next version of a mutable record under your public key; prints "PUBLIC_KEY SEQ"',
    usage: 'spydht put-mutable CONTENT --bootstrap HOST:PORT [--salt SALT] [--cas SEQ] [--seq SEQ] [--ttl SECONDS] [--identity FILE]',
    details: `  CONTENT "-" reads standard input. The record's key is your public key and the salt; each put
  is one seq above the newest found (anyone reads it with "spydht get-mutable PUBLIC_KEY").
${JOIN_HELP}
      --salt SALT            tells apart several records of yours (default: none; at most 64 bytes)
      --cas SEQ              write only if the record is still at SEQ (else exit 1, CAS_CONFLICT)
      --seq SEQ              the seq to write (default: one above the newest found)
  -t, --ttl SECONDS          lifetime (default 86400; at most the network's longest, 604800 by default)
  -i, --identity FILE        owner key pair (default: your identity in ${DEFAULT_IDENTITY_HINT}, created on first use)
      --timeout SECONDS      give up after this long (default 30)`,
    options: ['host', 'bootstrap', 'ttl', 'identity', 'timeout', 'join-timeout', 'salt', 'cas', 'seq'],
  },
  'get-mutable': {
    summary: 'print the newest version of the mutable record of PUBLIC_KEY (its seq on stderr; exit 2 if not found)',
    usage: 'spydht get-mutable PUBLIC_KEY --bootstrap HOST:PORT [--salt SALT]',
    details: `${JOIN_HELP}
      --salt SALT            the record's salt (default: none)
      --timeout SECONDS      give up after this long (default 30)`,
    options: ['host', 'bootstrap', 'timeout', 'join-timeout', 'salt'],
  },
  signal: {
    summary: 'run the bootstrap / signaling server (WebSocket for browsers + UDP) until Ctrl-C',
    usage: 'spydht signal [--port PORT] [--host IP] [--udp-port PORT] [--bootstrap HOST:PORT ...] [--identity FILE]',
    details: `  Runs a DHT node that browsers reach over WebSocket and Node peers over UDP. Prints the
  ws:// URL, the UDP address and the node ID, then a line per browser join / leave and the counts
  every minute (when they changed). Needs the package "ws" (npm install ws).
  -p, --port PORT            WebSocket (TCP) port (default 0: any free port)
  -H, --host IP              address to bind, WebSocket and UDP (default 0.0.0.0; "::" for IPv6)
      --udp-port PORT        UDP port of the node (default: the same number as --port; any free one if 0)
  -b, --bootstrap HOST:PORT  UDP node of an existing swarm to join through; repeatable
  -i, --identity FILE        key pair file: loaded if it exists, else created (mode 0600)`,
    options: ['host', 'port', 'udp-port', 'bootstrap', 'identity'],
  },
} as const;

type Command = keyof typeof COMMANDS;

const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  host: { type: 'string', short: 'H' },
  port: { type: 'string', short: 'p' },
  bootstrap: { type: 'string', short: 'b', multiple: true },
  identity: { type: 'string', short: 'i' },
  ttl: { type: 'string', short: 't' },
  timeout: { type: 'string' },
  'join-timeout': { type: 'string' },
  network: { type: 'string' },
  'id-difficulty': { type: 'string' },
  'pow-base-bits': { type: 'string' },
  'udp-port': { type: 'string' },
  salt: { type: 'string' },
  cas: { type: 'string' },
  seq: { type: 'string' },
} as const;

const NETWORK_OPTIONS = ['network', 'id-difficulty', 'pow-base-bits'];

class UsageError extends Error {}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = [
    'spydht — a secure Kademlia DHT key-value store (UDP node and client)',
    '',
    'Usage: spydht <command> [options]',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}\n  ${' '.repeat(width)}  ${c.usage}`),
    `  ${'help'.padEnd(width)}  show this help (details of one command: spydht COMMAND --help)`,
    '',
    `Your identity (it owns what you put, and deletes it): ${DEFAULT_IDENTITY_HINT}`,
    '',
    NETWORK_HELP,
    '',
    EXIT_HELP,
  ];
  return lines.join('\n') + '\n';
}

function commandUsage(name: Command): string {
  const c = COMMANDS[name];
  return `Usage: ${c.usage}\n\n${c.summary}\n${c.details}\n\n${NETWORK_HELP}\n\n${EXIT_HELP}\n`;
}

type Values = {
  help?: boolean;
  host?: string;
  port?: string;
  bootstrap?: string[];
  identity?: string;
  ttl?: string;
  timeout?: string;
  'join-timeout'?: string;
  network?: string;
  'id-difficulty'?: string;
  'pow-base-bits'?: string;
  'udp-port'?: string;
  salt?: string;
  cas?: string;
  seq?: string;
};

function integer(values: Values, name: keyof Values, min: number, max: number): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  if (typeof text !== 'string' || !/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${String(text)}"`);
  }
  return Number(text);
}

/** The network options given, checked now (a bad value is a usage error before any socket opens), and the settings they make. */
function networkOptions(values: Values): { network: NetworkOptions; config: NetworkConfig } {
  const network: NetworkOptions = {};
  if (values.network !== undefined) network.name = values.network;
  const idDifficulty = integer(values, 'id-difficulty', 0, 32);
  if (idDifficulty !== undefined) network.idDifficulty = idDifficulty;
  const powBaseBits = integer(values, 'pow-base-bits', 0, 40);
  if (powBaseBits !== undefined) network.powBaseBits = powBaseBits;
  return { network, config: networkConfig(nodePoolCrypto, network) };
}

/** Loads FILE, or generates an identity for this network and saves it there; an unusable file is an error, never overwritten. */
async function loadOrCreateIdentityFile(path: string, config: NetworkConfig): Promise<{ identity: Identity; created: boolean }> {
  let created = false;
  const identity = await withProgress(
    `solving the ID puzzle for a new identity (${tildify(path)})`,
    loadOrCreateIdentity({
      crypto: nodePoolCrypto,
      difficulty: config.idDifficulty,
      storage: fileIdentityStorage(path),
      unusable: 'throw',
      onCreate: () => (created = true),
    }),
  );
  return { identity, created };
}

/** A throwaway identity for a client that owns nothing (get). */
function oneOffIdentity(config: NetworkConfig): Promise<Identity> {
  return withProgress('solving the ID puzzle for a one-off client identity', Identity.generate({ crypto: nodePoolCrypto, difficulty: config.idDifficulty }));
}

/** The owner identity of put: --identity FILE, else the user's own (created on first use, and said so). */
async function ownerForPut(values: Values, config: NetworkConfig): Promise<Identity> {
  const path = values.identity ?? defaultIdentityPath();
  if (values.identity === undefined) await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const { identity, created } = await loadOrCreateIdentityFile(path, config);
  if (created) err(`created your identity ${tildify(path)} (mode 0600): it owns what you put and deletes it; keep it secret`);
  return identity;
}

/** The owner identity of delete: --identity FILE or the user's own; neither is ever created here. */
async function ownerForDelete(values: Values, network: NetworkOptions): Promise<Identity> {
  const path = values.identity ?? defaultIdentityPath();
  try {
    return await loadIdentity(path, network);
  } catch (e) {
    if ((e as NodeJS.ErrnoException | undefined)?.code !== 'ENOENT') throw e;
    if (values.identity !== undefined) throw new UsageError(`identity file ${values.identity} does not exist`);
    throw new SpydhtError(
      'NOT_OWNER',
      `you have no identity yet (${tildify(path)}): records are owned by the identity that put them; "spydht put" without --identity creates yours, and a record put with --identity FILE is deleted with --identity FILE`,
    );
  }
}

function requireBootstrap(values: Values, command: Command): string[] {
  const list = values.bootstrap ?? [];
  if (list.length === 0) throw new UsageError(`${command} needs --bootstrap HOST:PORT (the address of a running node)`);
  return list;
}

/** Resolves --bootstrap values: a malformed one is a usage error; a host name that does not resolve is a failure. */
async function bootstrapTargets(texts: string[]): Promise<BootstrapTarget[]> {
  try {
    return await resolveBootstrap(texts);
  } catch (e) {
    if (e instanceof SpydhtError && e.code === 'INVALID_ARGUMENT') throw new UsageError(`--bootstrap: ${e.message}`);
    throw e;
  }
}

/** A client binds the wildcard of the family its bootstrap nodes use. */
function clientHost(values: Values, targets: BootstrapTarget[]): string {
  if (values.host !== undefined) return values.host;
  return targets.every((t) => t.resolved.startsWith('[')) ? '::' : '0.0.0.0';
}

function checkHost(host: string | undefined): void {
  if (host !== undefined && (isIP(host) === 0 || host.includes('%'))) {
    throw new UsageError(`--host must be a literal IP address, got "${host}"`);
  }
}

function checkKey(key: string | undefined, command: Command): string {
  const what = command === 'get-mutable' ? 'PUBLIC_KEY' : 'KEY';
  if (key === undefined) throw new UsageError(`${command} needs a ${what} (64 hex digits)`);
  if (!/^[0-9a-fA-F]{64}$/.test(key)) throw new UsageError(`a ${what} is 64 hex digits, got "${key}"`);
  return key.toLowerCase();
}

function timeoutMs(values: Values): number | undefined {
  const s = integer(values, 'timeout', 1, 24 * 3600);
  return s === undefined ? undefined : s * 1000;
}

function joinTimeoutMs(values: Values): number {
  const s = integer(values, 'join-timeout', 1, 3600);
  return s === undefined ? DEFAULT_JOIN_TIMEOUT_MS : s * 1000;
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

interface ClientOptions {
  values: Values;
  network: NetworkOptions;
  targets: BootstrapTarget[];
  identity: Identity;
}

/** Runs `fn` with a client node joined through the targets, and always closes it, so the process can exit by itself. */
async function withClient<T>({ values, network, targets, identity }: ClientOptions, fn: (dht: DHT) => Promise<T>): Promise<T> {
  const dht = await createNode({
    host: clientHost(values, targets),
    network,
    identity,
    client: true,
    autoBootstrap: false,
    operationTimeoutMs: timeoutMs(values),
  });
  try {
    await joinOrExplain(dht, targets, { joinTimeoutMs: joinTimeoutMs(values), network });
    return await fn(dht);
  } finally {
    await dht.close();
  }
}

const out = (line: string): void => void process.stdout.write(line + '\n');
const err = (line: string): void => void process.stderr.write(line + '\n');

// --- commands ------------------------------------------------------------------------------

async function runNode(values: Values, network: NetworkOptions, config: NetworkConfig): Promise<number> {
  const port = integer(values, 'port', 0, 65535) ?? 0;
  const targets = await bootstrapTargets(values.bootstrap ?? []);
  let identityNote = '';
  let identity: Identity | undefined;
  if (values.identity !== undefined) {
    const loaded = await loadOrCreateIdentityFile(values.identity, config);
    identity = loaded.identity;
    identityNote = `${values.identity} (${loaded.created ? 'created' : 'loaded'})`;
  } else {
    identity = await withProgress('solving the ID puzzle for this node', Identity.generate({ crypto: nodePoolCrypto, difficulty: config.idDifficulty }));
  }
  // Contacts saved by the last run with this identity: tried before --bootstrap.
  const contactsFile = values.identity !== undefined ? fileContactsStorage(contactsPathFor(values.identity)) : undefined;
  const contacts = contactsFile ? await loadSavedContacts(contactsFile, (e) => err(`ignoring ${contactsPathFor(values.identity!)}: ${e.message}`)) : [];
  const dht = await createNode({ host: values.host ?? '0.0.0.0', port, autoBootstrap: false, network, identity, contacts });
  if (contactsFile) keepContacts(dht, contactsFile, { onError: (e) => err(`saving contacts: ${e instanceof Error ? e.message : String(e)}`) });

  const bound = udpTransportOf(dht)!.address();
  const reachable = reachableAddresses(dht);
  out(`id        ${dht.id}`);
  out(`address   ${reachable[0] ?? formatIpPort(bound)}`);
  if (bound.ip === '0.0.0.0' || bound.ip === '::') {
    out(`bound     ${formatIpPort(bound)}${reachable.length > 1 ? ` (also reachable at ${reachable.slice(1).join(', ')})` : ''}`);
  }
  out(`network   ${dht.config.name}`);
  if (identityNote) out(`identity  ${identityNote}`);
  out(`table     ${dht.routing.size} contacts`);

  const change = (sign: '+' | '-') => (c: ContactInfo) => out(`table ${dht.routing.size} contacts (${sign} ${c.id.slice(0, 16)} ${c.address})`);
  dht.on('contact-added', change('+'));
  dht.on('contact-removed', change('-'));

  let stopping: Promise<void> | undefined;
  const done = new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      out(`${signal}: closing`);
      stopping = dht.close().then(() => {
        out('closed');
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });

  if (targets.length > 0 || contacts.length > 0) {
    const through = [...(contacts.length > 0 ? [`${contacts.length} saved contacts`] : []), ...(targets.length > 0 ? [describeTargets(targets)] : [])];
    out(`joining through ${through.join(', ')}`);
    try {
      const size = await joinOrExplain(dht, targets, { joinTimeoutMs: joinTimeoutMs(values), network });
      out(`joined: table ${size} contacts`);
    } catch (e) {
      if (stopping) return (await done, EXIT_OK);
      // Saved contacts alone that all left: carry on as a first node rather than fail.
      if (targets.length === 0 && isSpydhtError(e, 'BOOTSTRAP_FAILED')) {
        out(`none of the saved contacts answered; first node of a new swarm; others join with --bootstrap ${reachable[0] ?? formatIpPort(bound)}`);
      } else {
        await dht.close();
        throw e;
      }
    }
  } else {
    out(`first node of a new swarm; others join with --bootstrap ${reachable[0] ?? formatIpPort(bound)}`);
  }
  out('running; Ctrl-C to stop');
  await done;
  return EXIT_OK;
}

async function runPut(positionals: string[], values: Values, network: NetworkOptions, config: NetworkConfig): Promise<number> {
  if (positionals.length !== 2) throw new UsageError(`put needs LABEL and CONTENT (got ${positionals.length} arguments)`);
  const [label, contentArg] = positionals as [string, string];
  const texts = requireBootstrap(values, 'put');
  // The network's longest lifetime is the bound: a longer one is refused here, not by the swarm later.
  const ttl = integer(values, 'ttl', 1, config.maxTtlSeconds);
  const targets = await bootstrapTargets(texts);
  const content = contentArg === '-' ? await readStdin() : contentArg;
  const identity = await ownerForPut(values, config);
  const key = await withClient({ values, network, targets, identity }, (dht) =>
    withProgress('storing: proof of work, then STORE on the closest nodes', dht.put(label, content, ttl === undefined ? {} : { ttl })),
  );
  out(key);
  return EXIT_OK;
}

async function runGet(positionals: string[], values: Values, network: NetworkOptions, config: NetworkConfig): Promise<number> {
  if (positionals.length > 1) throw new UsageError(`get takes one KEY (got ${positionals.length} arguments)`);
  const key = checkKey(positionals[0], 'get');
  const targets = await bootstrapTargets(requireBootstrap(values, 'get'));
  const identity = await oneOffIdentity(config);
  const value = await withClient({ values, network, targets, identity }, (dht) => withProgress('looking the key up', dht.get(key)));
  if (!value) {
    err(`not found: ${key}`);
    return EXIT_NOT_FOUND;
  }
  process.stdout.write(value.content);
  process.stdout.write('\n');
  return EXIT_OK;
}

async function runDelete(positionals: string[], values: Values, network: NetworkOptions): Promise<number> {
  if (positionals.length > 1) throw new UsageError(`delete takes one KEY (got ${positionals.length} arguments)`);
  const key = checkKey(positionals[0], 'delete');
  const targets = await bootstrapTargets(requireBootstrap(values, 'delete'));
  const identity = await ownerForDelete(values, network);
  const removed = await withClient({ values, network, targets, identity }, (dht) => withProgress('deleting everywhere it is stored', dht.delete(key)));
  out(`deleted ${key} (${removed} copies removed)`);
  return EXIT_OK;
}

async function runPutMutable(positionals: string[], values: Values, network: NetworkOptions, config: NetworkConfig): Promise<number> {
  if (positionals.length !== 1) throw new UsageError(`put-mutable needs CONTENT (got ${positionals.length} arguments)`);
  const texts = requireBootstrap(values, 'put-mutable');
  const ttl = integer(values, 'ttl', 1, config.maxTtlSeconds);
  const cas = integer(values, 'cas', 0, Number.MAX_SAFE_INTEGER);
  const seq = integer(values, 'seq', 0, Number.MAX_SAFE_INTEGER);
  const salt = checkSalt(values.salt);
  const targets = await bootstrapTargets(texts);
  const content = positionals[0] === '-' ? await readStdin() : positionals[0]!;
  const identity = await ownerForPut(values, config);
  const result = await withClient({ values, network, targets, identity }, (dht) =>
    withProgress('finding the newest version, then proof of work and STORE on the closest nodes', dht.putMutable(content, { salt, cas, seq, ttl })),
  );
  out(`${toHex(identity.publicKey)} ${result.seq}`);
  return EXIT_OK;
}

async function runGetMutable(positionals: string[], values: Values, network: NetworkOptions, config: NetworkConfig): Promise<number> {
  if (positionals.length > 1) throw new UsageError(`get-mutable takes one PUBLIC_KEY (got ${positionals.length} arguments)`);
  const publicKey = checkKey(positionals[0], 'get-mutable');
  const salt = checkSalt(values.salt);
  const targets = await bootstrapTargets(requireBootstrap(values, 'get-mutable'));
  const identity = await oneOffIdentity(config);
  const value = await withClient({ values, network, targets, identity }, (dht) => withProgress('asking the closest nodes for the newest version', dht.getMutable(publicKey, { salt })));
  if (!value) {
    err(`not found: ${publicKey}${salt ? ` (salt "${salt}")` : ''}`);
    return EXIT_NOT_FOUND;
  }
  err(`seq ${value.seq}`);
  process.stdout.write(value.content);
  process.stdout.write('\n');
  return EXIT_OK;
}

function checkSalt(salt: string | undefined): string | undefined {
  if (salt !== undefined && Buffer.byteLength(salt) > MAX_SALT_BYTES) throw new UsageError(`--salt is at most ${MAX_SALT_BYTES} bytes`);
  return salt;
}

async function runSignal(values: Values, network: NetworkOptions, config: NetworkConfig): Promise<number> {
  const port = integer(values, 'port', 0, 65535) ?? 0;
  const udpPort = integer(values, 'udp-port', 0, 65535);
  const targets = await bootstrapTargets(values.bootstrap ?? []);
  let identityNote = '';
  let identity: Identity | undefined;
  if (values.identity !== undefined) {
    const loaded = await loadOrCreateIdentityFile(values.identity, config);
    identity = loaded.identity;
    identityNote = `${values.identity} (${loaded.created ? 'created' : 'loaded'})`;
  }
  if (targets.length > 0) out(`joining through ${describeTargets(targets)}`);
  const server = await withProgress(
    targets.length > 0 ? 'starting the server and joining' : 'starting the server',
    startSignalingServer({
      host: values.host ?? '0.0.0.0',
      port,
      udpPort,
      network,
      identity,
      bootstrap: targets.map((t) => t.address),
      logger: (entry) => {
        if (entry.level === 'info' && (entry.event === 'join' || entry.event === 'leave' || entry.event === 'replaced')) out(entry.message);
      },
    }),
  );
  out(`id        ${server.dht.id}`);
  out(`url       ${server.url}`);
  out(`udp       ${server.udpAddress}`);
  out(`network   ${server.dht.config.name}`);
  if (identityNote) out(`identity  ${identityNote}`);
  out(`browsers connect to ${server.url}; Node peers join with --bootstrap ${server.udpAddress}`);
  out('running; Ctrl-C to stop');

  let last = '';
  const report = setInterval(() => {
    const s = server.stats();
    const closes = Object.entries(s.closes).map(([code, n]) => `${code}×${n}`).join(' ') || 'none';
    const d = s.drops;
    const line = `stats: ${s.clients} clients, ${s.connections} connections, ${s.joins} joins, closes ${closes}, frames in ${s.framesIn} out ${s.framesOut}, drops ${d.rateLimited + d.backpressure + d.noLink + d.badSend + d.empty + d.handlerError} (rate ${d.rateLimited}, backpressure ${d.backpressure}), table ${s.contacts}`;
    if (line !== last) out(line);
    last = line;
  }, 60_000);
  report.unref();

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      clearInterval(report);
      out(`${signal}: closing`);
      void server.close().then(() => {
        out('closed');
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  return EXIT_OK;
}

// --- main ----------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === 'help' || first === '--help' || first === '-h') {
    if (first === undefined) {
      process.stderr.write(usage());
      return EXIT_USAGE;
    }
    const topic = first === 'help' ? rest[0] : undefined;
    if (topic !== undefined && !(topic in COMMANDS)) throw new UsageError(`no command "${topic}"`);
    process.stdout.write(topic !== undefined ? commandUsage(topic as Command) : usage());
    return EXIT_OK;
  }
  if (!(first in COMMANDS)) throw new UsageError(`unknown command "${first}"`);
  const command = first as Command;

  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(commandUsage(command));
    return EXIT_OK;
  }
  const allowed: readonly string[] = [...COMMANDS[command].options, ...NETWORK_OPTIONS, 'help'];
  for (const name of Object.keys(values)) {
    if (!allowed.includes(name)) throw new UsageError(`${command} does not take --${name}`);
  }
  checkHost(values.host);
  let network: NetworkOptions;
  let config: NetworkConfig;
  try {
    ({ network, config } = networkOptions(values));
  } catch (e) {
    if (e instanceof SpydhtError && e.code === 'INVALID_ARGUMENT') throw new UsageError(e.message);
    throw e;
  }
  // Every value is checked before anything slow starts (ID puzzle, sockets).
  timeoutMs(values);
  joinTimeoutMs(values);

  switch (command) {
    case 'node':
      if (positionals.length > 0) throw new UsageError(`node takes no arguments (got "${positionals.join(' ')}")`);
      return runNode(values, network, config);
    case 'put':
      return runPut(positionals, values, network, config);
    case 'get':
      return runGet(positionals, values, network, config);
    case 'delete':
      return runDelete(positionals, values, network);
    case 'put-mutable':
      return runPutMutable(positionals, values, network, config);
    case 'get-mutable':
      return runGetMutable(positionals, values, network, config);
    case 'signal':
      if (positionals.length > 0) throw new UsageError(`signal takes no arguments (got "${positionals.join(' ')}")`);
      return runSignal(values, network, config);
  }
}

/** What a failure means for the user, in one line; and the exit code. */
function report(e: unknown): number {
  if (e instanceof UsageError) {
    err(`spydht: ${e.message}`);
    err('Run "spydht help" for usage.');
    return EXIT_USAGE;
  }
  if (e instanceof SpydhtError) {
    const hint: Partial<Record<SpydhtErrorCode, string>> = {
      DEADLINE_EXCEEDED: ' (--timeout SECONDS allows longer)',
    };
    err(`spydht: ${e.message} (${e.code})${hint[e.code] ?? ''}`);
    return EXIT_FAILED;
  }
  err(`spydht: ${e instanceof Error ? e.message : String(e)}`);
  return EXIT_FAILED;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.exitCode = report(e);
  },
);

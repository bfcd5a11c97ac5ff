#!/usr/bin/env node
/**
 * The spydht command line: run a UDP node, or put / get / delete through a short-lived client
 * node. Exit codes: 0 success, 1 failure, 2 not found (get), 64 usage error.
 */
import { parseArgs } from 'node:util';
import { isIP } from 'node:net';
import {
  Identity,
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
  nodeCrypto,
  reachableAddresses,
  udpTransportOf,
  type CreateNodeOptions,
  type ContactInfo,
  type DHT,
  type NetworkOptions,
} from './index.js';
import { startSignalingServer } from './signaling/index.js';

const EXIT_OK = 0;
const EXIT_FAILED = 1;
const EXIT_NOT_FOUND = 2;
const EXIT_USAGE = 64;

const NETWORK_HELP = `Network options (every node of a swarm must use the same values):
  --network NAME         swarm name (default "spydht")
  --id-difficulty N      ID puzzle bits (default 9)
  --pow-base-bits N      STORE proof-of-work base bits (default 14)`;

const COMMANDS = {
  node: {
    summary: 'run a DHT node until Ctrl-C (SIGINT/SIGTERM)',
    usage: 'spydht node [--host IP] [--port PORT] [--bootstrap IP:PORT ...] [--identity FILE]',
    details: `  Prints the node's ID, address and table size, then a line whenever the routing table
  grows or shrinks. Without --bootstrap it is the first node of a new swarm.
  -H, --host IP              address to bind (default 0.0.0.0; "::" for IPv6)
  -p, --port PORT            UDP port (default 0: any free port)
  -b, --bootstrap IP:PORT    node to join through ("[v6]:port" for IPv6); repeatable
  -i, --identity FILE        key pair file: loaded if it exists, else created (mode 0600).
                             The routing table's contacts are kept beside it in FILE.contacts.json
                             (every minute and on exit); the next run rejoins through them first,
                             so it needs no --bootstrap, or one that is down.`,
    options: ['host', 'port', 'bootstrap', 'identity'],
  },
  put: {
    summary: 'store a value; prints its key (64 hex digits)',
    usage: 'spydht put LABEL CONTENT --bootstrap IP:PORT [--ttl SECONDS] [--identity FILE]',
    details: `  CONTENT "-" reads standard input. The record is owned by the identity, which can delete it;
  without --identity a throwaway identity owns it, so nobody can ever delete it.
  -b, --bootstrap IP:PORT    node to join through; repeatable
  -t, --ttl SECONDS          lifetime (default 86400)
  -i, --identity FILE        owner key pair: loaded if it exists, else created (mode 0600)
      --timeout SECONDS      give up after this long (default 30)`,
    options: ['host', 'bootstrap', 'ttl', 'identity', 'timeout'],
  },
  get: {
    summary: 'print the content stored under KEY (exit 2 if not found)',
    usage: 'spydht get KEY --bootstrap IP:PORT',
    details: `  -b, --bootstrap IP:PORT    node to join through; repeatable
      --timeout SECONDS      give up after this long (default 30)`,
    options: ['host', 'bootstrap', 'timeout'],
  },
  delete: {
    summary: 'delete a record you own, everywhere it is stored',
    usage: 'spydht delete KEY --bootstrap IP:PORT --identity FILE',
    details: `  -b, --bootstrap IP:PORT    node to join through; repeatable
  -i, --identity FILE        the owner's key pair (the file "put --identity" created)
      --timeout SECONDS      give up after this long (default 30)`,
    options: ['host', 'bootstrap', 'identity', 'timeout'],
  },
  signal: {
    summary: 'run the bootstrap / signaling server (WebSocket for browsers + UDP) until Ctrl-C',
    usage: 'spydht signal [--port PORT] [--host IP] [--udp-port PORT] [--bootstrap IP:PORT ...] [--identity FILE]',
    details: `  Runs a DHT node that browsers reach over WebSocket and Node peers over UDP. Prints the
  ws:// URL, the UDP address and the node ID, then a line per browser join / leave and the counts
  every minute (when they changed).
  -p, --port PORT            WebSocket (TCP) port (default 0: any free port)
  -H, --host IP              address to bind, WebSocket and UDP (default 0.0.0.0; "::" for IPv6)
      --udp-port PORT        UDP port of the node (default: the same number as --port; any free one if 0)
  -b, --bootstrap IP:PORT    UDP node of an existing swarm to join through; repeatable
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
  network: { type: 'string' },
  'id-difficulty': { type: 'string' },
  'pow-base-bits': { type: 'string' },
  'udp-port': { type: 'string' },
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
    NETWORK_HELP,
    '',
    'Exit codes: 0 success, 1 failure, 2 not found (get), 64 usage error.',
  ];
  return lines.join('\n') + '\n';
}

function commandUsage(name: Command): string {
  const c = COMMANDS[name];
  return `Usage: ${c.usage}\n\n${c.summary}\n${c.details}\n\n${NETWORK_HELP}\n`;
}

type Values = {
  help?: boolean;
  host?: string;
  port?: string;
  bootstrap?: string[];
  identity?: string;
  ttl?: string;
  timeout?: string;
  network?: string;
  'id-difficulty'?: string;
  'pow-base-bits'?: string;
  'udp-port'?: string;
};

function integer(values: Values, name: keyof Values, min: number, max: number): number | undefined {
  const text = values[name];
  if (text === undefined) return undefined;
  if (typeof text !== 'string' || !/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got "${String(text)}"`);
  }
  return Number(text);
}

function networkOptions(values: Values): NetworkOptions {
  const network: NetworkOptions = {};
  if (values.network !== undefined) network.name = values.network;
  const idDifficulty = integer(values, 'id-difficulty', 0, 32);
  if (idDifficulty !== undefined) network.idDifficulty = idDifficulty;
  const powBaseBits = integer(values, 'pow-base-bits', 0, 40);
  if (powBaseBits !== undefined) network.powBaseBits = powBaseBits;
  networkConfig(nodeCrypto, network); // validates now, before any socket is opened
  return network;
}

/** Loads FILE, or generates an identity for this network and saves it there; an unusable file is an error, never overwritten. */
async function loadOrCreateIdentityFile(path: string, network: NetworkOptions): Promise<{ identity: Identity; created: boolean }> {
  let created = false;
  const identity = await loadOrCreateIdentity({
    crypto: nodeCrypto,
    difficulty: networkConfig(nodeCrypto, network).idDifficulty,
    storage: fileIdentityStorage(path),
    unusable: 'throw',
    onCreate: () => (created = true),
  });
  return { identity, created };
}

function requireBootstrap(values: Values, command: Command): string[] {
  const list = values.bootstrap ?? [];
  if (list.length === 0) throw new UsageError(`${command} needs --bootstrap IP:PORT (the address of a running node)`);
  return list;
}

/** A client binds the wildcard of the family its bootstrap nodes use. */
function clientHost(values: Values, bootstrap: string[]): string {
  if (values.host !== undefined) return values.host;
  return bootstrap.every((b) => b.trim().startsWith('[')) ? '::' : '0.0.0.0';
}

function checkHost(host: string | undefined): void {
  if (host !== undefined && (isIP(host) === 0 || host.includes('%'))) {
    throw new UsageError(`--host must be a literal IP address, got "${host}"`);
  }
}

function checkKey(key: string | undefined, command: Command): string {
  if (key === undefined) throw new UsageError(`${command} needs a KEY (64 hex digits)`);
  if (!/^[0-9a-fA-F]{64}$/.test(key)) throw new UsageError(`a KEY is 64 hex digits, got "${key}"`);
  return key.toLowerCase();
}

function timeoutMs(values: Values): number | undefined {
  const s = integer(values, 'timeout', 1, 24 * 3600);
  return s === undefined ? undefined : s * 1000;
}

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return new Uint8Array(Buffer.concat(chunks));
}

/** Runs `fn` with a joined client node and always closes it, so the process can exit by itself. */
async function withClient<T>(options: CreateNodeOptions, fn: (dht: DHT) => Promise<T>): Promise<T> {
  const dht = await createNode({ ...options, client: true });
  try {
    return await fn(dht);
  } finally {
    await dht.close();
  }
}

const out = (line: string): void => void process.stdout.write(line + '\n');
const err = (line: string): void => void process.stderr.write(line + '\n');

// --- commands ------------------------------------------------------------------------------

async function runNode(values: Values, network: NetworkOptions): Promise<number> {
  const port = integer(values, 'port', 0, 65535) ?? 0;
  let identityNote = '';
  let identity: Identity | undefined;
  if (values.identity !== undefined) {
    const loaded = await loadOrCreateIdentityFile(values.identity, network);
    identity = loaded.identity;
    identityNote = `${values.identity} (${loaded.created ? 'created' : 'loaded'})`;
  }
  const bootstrap = values.bootstrap ?? [];
  // Contacts saved by the last run with this identity: tried before --bootstrap.
  const contactsFile = values.identity !== undefined ? fileContactsStorage(contactsPathFor(values.identity)) : undefined;
  const contacts = contactsFile ? await loadSavedContacts(contactsFile, (e) => err(`ignoring ${contactsPathFor(values.identity!)}: ${e.message}`)) : [];
  const dht = await createNode({ host: values.host ?? '0.0.0.0', port, bootstrap, autoBootstrap: false, network, identity, contacts });
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

  if (bootstrap.length > 0 || contacts.length > 0) {
    const through = [...(contacts.length > 0 ? [`${contacts.length} saved contacts`] : []), ...bootstrap];
    out(`joining through ${through.join(', ')}`);
    try {
      const size = await dht.bootstrap();
      out(`joined: table ${size} contacts`);
    } catch (e) {
      if (stopping) return (await done, EXIT_OK);
      // Saved contacts alone that all left: carry on as a first node rather than fail.
      if (bootstrap.length === 0 && isSpydhtError(e, 'BOOTSTRAP_FAILED')) {
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

async function runPut(positionals: string[], values: Values, network: NetworkOptions): Promise<number> {
  if (positionals.length !== 2) throw new UsageError(`put needs LABEL and CONTENT (got ${positionals.length} arguments)`);
  const [label, contentArg] = positionals as [string, string];
  const bootstrap = requireBootstrap(values, 'put');
  const ttl = integer(values, 'ttl', 1, 365 * 24 * 3600);
  const content = contentArg === '-' ? await readStdin() : contentArg;
  const identity = values.identity !== undefined ? (await loadOrCreateIdentityFile(values.identity, network)).identity : undefined;
  const key = await withClient(
    { host: clientHost(values, bootstrap), bootstrap, network, identity, operationTimeoutMs: timeoutMs(values) },
    (dht) => dht.put(label, content, ttl === undefined ? {} : { ttl }),
  );
  out(key);
  return EXIT_OK;
}

async function runGet(positionals: string[], values: Values, network: NetworkOptions): Promise<number> {
  if (positionals.length > 1) throw new UsageError(`get takes one KEY (got ${positionals.length} arguments)`);
  const key = checkKey(positionals[0], 'get');
  const bootstrap = requireBootstrap(values, 'get');
  const value = await withClient(
    { host: clientHost(values, bootstrap), bootstrap, network, operationTimeoutMs: timeoutMs(values) },
    (dht) => dht.get(key),
  );
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
  const bootstrap = requireBootstrap(values, 'delete');
  if (values.identity === undefined) throw new UsageError('delete needs --identity FILE (the owner of the record)');
  let identity: Identity;
  try {
    identity = await loadIdentity(values.identity, network);
  } catch (e) {
    if ((e as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw new UsageError(`identity file ${values.identity} does not exist`);
    throw e;
  }
  const accepted = await withClient(
    { host: clientHost(values, bootstrap), bootstrap, network, identity, operationTimeoutMs: timeoutMs(values) },
    (dht) => dht.delete(key),
  );
  out(`deleted ${key} (${accepted} nodes accepted)`);
  return EXIT_OK;
}

async function runSignal(values: Values, network: NetworkOptions): Promise<number> {
  const port = integer(values, 'port', 0, 65535) ?? 0;
  const udpPort = integer(values, 'udp-port', 0, 65535);
  let identityNote = '';
  let identity: Identity | undefined;
  if (values.identity !== undefined) {
    const loaded = await loadOrCreateIdentityFile(values.identity, network);
    identity = loaded.identity;
    identityNote = `${values.identity} (${loaded.created ? 'created' : 'loaded'})`;
  }
  const bootstrap = values.bootstrap ?? [];
  if (bootstrap.length > 0) out(`joining through ${bootstrap.join(', ')}`);
  const server = await startSignalingServer({
    host: values.host ?? '0.0.0.0',
    port,
    udpPort,
    network,
    identity,
    bootstrap,
    logger: (entry) => {
      if (entry.level === 'info' && (entry.event === 'join' || entry.event === 'leave' || entry.event === 'replaced')) out(entry.message);
    },
  });
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
  const network = networkOptions(values);

  switch (command) {
    case 'node':
      if (positionals.length > 0) throw new UsageError(`node takes no arguments (got "${positionals.join(' ')}")`);
      return runNode(values, network);
    case 'put':
      return runPut(positionals, values, network);
    case 'get':
      return runGet(positionals, values, network);
    case 'delete':
      return runDelete(positionals, values, network);
    case 'signal':
      if (positionals.length > 0) throw new UsageError(`signal takes no arguments (got "${positionals.join(' ')}")`);
      return runSignal(values, network);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      err(`spydht: ${e.message}`);
      err('Run "spydht help" for usage.');
      process.exitCode = EXIT_USAGE;
    } else if (e instanceof SpydhtError) {
      err(`spydht: ${e.message} (${e.code})`);
      process.exitCode = EXIT_FAILED;
    } else {
      err(`spydht: ${e instanceof Error ? e.message : String(e)}`);
      process.exitCode = EXIT_FAILED;
    }
  },
);

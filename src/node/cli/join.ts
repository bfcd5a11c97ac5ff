/**
 * Joining from the command line, and saying why it failed. A node ignores every message of another
 * network (it does not answer), so to the joiner a node of another network and no node at all look
 * the same: silence. Within the join timeout (5 s by default) the CLI either hears a bootstrap node
 * or says what it tried: the addresses as typed and as resolved; and when this run is not on the
 * default network, whether the node there answers on the default one (the one network whose name
 * and settings are known: the 4-byte network ID in a datagram cannot be turned back into a name).
 */
import { toHex } from '../../bytes.js';
import type { DHT } from '../../dht.js';
import { SpydhtError } from '../../errors.js';
import { DEFAULT_NETWORK_NAME, networkConfig, type NetworkConfig, type NetworkOptions } from '../../network.js';
import { decodeIpPort, formatIpPort, type PeerAddress } from '../../wire/address.js';
import { createNode } from '../create-node.js';
import { nodeCrypto } from '../crypto-node.js';
import { resolveUdpAddress, type HostLookup } from '../resolve.js';
import { withProgress, type ProgressWriter } from './progress.js';

/** Default of --join-timeout: long enough for a node across the world, short enough to wait for. */
export const DEFAULT_JOIN_TIMEOUT_MS = 5000;
/** How long the default-network probe waits for an answer. */
const PROBE_TIMEOUT_MS = 2000;

/** A bootstrap address as the user typed it and as it resolved. */
export interface BootstrapTarget {
  text: string;
  address: PeerAddress;
  /** "ip:port" it resolved to. */
  resolved: string;
}

/** Resolves every --bootstrap (host names through the OS resolver). SpydhtError INVALID_ARGUMENT or BOOTSTRAP_FAILED. */
export async function resolveBootstrap(texts: readonly string[], lookup?: HostLookup): Promise<BootstrapTarget[]> {
  return Promise.all(
    texts.map(async (text) => {
      const address = await resolveUdpAddress(text, lookup);
      return { text, address, resolved: formatIpPort(decodeIpPort(address)!) };
    }),
  );
}

/** "localhost:4000 (127.0.0.1:4000), 10.0.0.2:4000" */
export function describeTargets(targets: readonly BootstrapTarget[]): string {
  return targets.map((t) => (t.text.trim() === t.resolved ? t.resolved : `${t.text.trim()} (${t.resolved})`)).join(', ');
}

/** A network's settings as command-line flags would give them, for messages. */
export function describeNetwork(config: Pick<NetworkConfig, 'name' | 'idDifficulty' | 'powBaseBits'>): string {
  return `"${config.name}" (id-difficulty ${config.idDifficulty}, pow-base-bits ${config.powBaseBits})`;
}

export interface JoinOptions {
  /** Give up when no bootstrap node has answered after this long. */
  joinTimeoutMs: number;
  /** This run's network options (to name it, and to know whether it is the default). */
  network: NetworkOptions;
  progress?: ProgressWriter;
  /** Answers whether a node at `target` answers on the default network (injectable for tests). */
  probeDefault?: (target: BootstrapTarget) => Promise<boolean>;
}

/**
 * Joins `dht` through `targets`. Rejects with BOOTSTRAP_FAILED when none answers within the join
 * timeout, saying what was tried and, where it can be known, that the node is on another network.
 * Once one has answered the join goes on, bounded by the node's operation timeout.
 */
export async function joinOrExplain(dht: DHT, targets: readonly BootstrapTarget[], options: JoinOptions): Promise<number> {
  const { joinTimeoutMs, progress } = options;
  const timeout = new AbortController();
  let answered = dht.routing.size > 0;
  const timer = setTimeout(() => timeout.abort(), joinTimeoutMs);
  const off = dht.on('contact-added', () => {
    answered = true;
    clearTimeout(timer);
  });
  try {
    return await withProgress(`joining through ${describeTargets(targets)}`, dht.bootstrap(targets.map((t) => t.address), { signal: timeout.signal }), progress);
  } catch (err) {
    if (answered) throw err;
    throw await explainSilence(dht, targets, options);
  } finally {
    clearTimeout(timer);
    off();
  }
}

async function explainSilence(dht: DHT, targets: readonly BootstrapTarget[], options: JoinOptions): Promise<SpydhtError> {
  const ours = networkConfig(nodeCrypto, options.network);
  const fallback = networkConfig(nodeCrypto, {});
  const where = targets.length === 1 ? `the node at ${describeTargets(targets)}` : `the nodes at ${describeTargets(targets)}`;
  const seconds = `${Math.round(options.joinTimeoutMs / 100) / 10} s`;
  if (toHex(ours.networkId) !== toHex(fallback.networkId)) {
    const probe = options.probeDefault ?? probeDefaultNetwork;
    const onDefault = await withProgress('checking whether it is on the default network', firstTrue(targets.map(probe)), options.progress);
    if (onDefault) {
      return new SpydhtError(
        'BOOTSTRAP_FAILED',
        `network mismatch: ${where} answers on the default network ${describeNetwork(fallback)}, not on this run's network ${describeNetwork(ours)}; ` +
          `use the same --network, --id-difficulty and --pow-base-bits as the swarm`,
      );
    }
  }
  const foreign = dht.stats().droppedWrongNetwork ?? 0;
  const heardForeign = foreign > 0 ? ` (${foreign} datagram${foreign === 1 ? '' : 's'} of another network arrived meanwhile)` : '';
  return new SpydhtError(
    'BOOTSTRAP_FAILED',
    `no answer from ${where} within ${seconds}${heardForeign}. Tried ${describeTargets(targets)} over UDP on network ${describeNetwork(ours)}. ` +
      `Either no spydht node listens there, or it is on another network: a node ignores every message of another network ` +
      `(another --network name, --id-difficulty or --pow-base-bits)${ours.name === DEFAULT_NETWORK_NAME ? '' : ', and it is not on the default network either'}. ` +
      `--join-timeout SECONDS waits longer.`,
  );
}

/** Whether any of the promises resolves true (false once all resolved false). */
function firstTrue(checks: Promise<boolean>[]): Promise<boolean> {
  return new Promise((resolve) => {
    let left = checks.length;
    if (left === 0) resolve(false);
    for (const c of checks) {
      void c.then(
        (yes) => {
          if (yes) resolve(true);
          else if (--left === 0) resolve(false);
        },
        () => {
          if (--left === 0) resolve(false);
        },
      );
    }
  });
}

/** Pings `target` from a short-lived client on the default network. */
export async function probeDefaultNetwork(target: BootstrapTarget): Promise<boolean> {
  const host = decodeIpPort(target.address)!.ip.includes(':') ? '::' : '0.0.0.0';
  const probe = await createNode({ host, client: true });
  try {
    await probe.ping(target.address, { timeoutMs: PROBE_TIMEOUT_MS });
    return true;
  } catch {
    return false;
  } finally {
    await probe.close();
  }
}

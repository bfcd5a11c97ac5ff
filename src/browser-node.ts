/**
 * A full DHT node in a browser tab (or anywhere with RTCPeerConnection and WebSocket): it joins
 * through one of its signaling servers over WebSocket, then opens WebRTC data channels to its
 * contacts on demand, signalling through the server first and through the DHT once it has contacts.
 * Nothing here is browser-specific code: the environment's constructors are defaults, injectable.
 *
 * With persistence on (the default), a tab keeps its identity across reloads, in a slot of its own
 * (identity-slots.ts: two tabs are two nodes), and its saved contacts next to it.
 */
import { keepContacts, contactsInIdentityStorage, loadSavedContacts } from './contacts-store.js';
import type { CryptoBackend } from './crypto/backend.js';
import { Identity } from './crypto/identity.js';
import { createWorkerPowSolver, generateIdentityInWorker } from './crypto/pow-worker.js';
import type { PowSolver } from './crypto/pow.js';
import { createWebCryptoBackend } from './crypto/webcrypto.js';
import { assembleNode } from './assemble.js';
import type { DHT, DHTOptions, SavedContact } from './dht.js';
import { SpydhtError } from './errors.js';
import { claimIdentitySlot, pageSlotEnvironment, slotIdentityKey, type IdentitySlot } from './identity-slots.js';
import { DEFAULT_IDENTITY_KEY, loadOrCreateIdentity, resolveStorage, type IdentityStorage } from './identity-store.js';
import { networkConfig, type NetworkOptions } from './network.js';
import { WebRtcTransport, type RTCPeerConnectionConstructor } from './transport/webrtc.js';
import { FailoverWsTransport, MAX_SIGNALING_URLS } from './transport/ws-failover.js';
import { wsAddress, type WebSocketConstructor } from './transport/ws-client.js';
import type { IceServer } from './dom-types.js';

export interface BrowserNodeOptions extends Omit<DHTOptions, 'transports' | 'bootstrap' | 'crypto' | 'identity' | 'network' | 'contacts'> {
  /** ws:// or wss:// URL of the signaling/bootstrap server (or give several as `signalingUrls`). */
  signalingUrl?: string;
  /**
   * Several signaling servers (at most 16): the node links to one, fails over to the next when it
   * is down at start or closes later, and reconnects in the background (backoff 1 s doubling to
   * 30 s) while it keeps working over WebRTC. Joined with `signalingUrl` when both are given.
   */
  signalingUrls?: readonly string[];
  /**
   * 'shuffle' (default): try the servers in a random order, so the tabs of many users spread over
   * them and losing one server moves only its share; 'in-order': as listed (e.g. nearest first).
   */
  signalingOrder?: 'shuffle' | 'in-order';
  /** Told the URL of the server the node is linked to now, and undefined while it is reconnecting. */
  onSignalingChange?: (url: string | undefined) => void;
  /**
   * Told the node's identity as soon as it is ready (loaded from this tab's slot, or generated:
   * the ID puzzle takes a second or two), before the node connects: a page can show its ID and
   * how long each step of the start took.
   */
  onIdentity?: (identity: Identity) => void;
  /** Backoff between rounds of reconnect attempts, ms (default 1,000 … 30,000). */
  reconnect?: { minMs?: number; maxMs?: number };
  network?: NetworkOptions;
  /** Keep the identity across reloads ('indexeddb' default), or not (false: a new ID each time). */
  identityStorage?: 'indexeddb' | 'localstorage' | IdentityStorage | false;
  /**
   * One identity per tab (default true when the identity is kept and the page has IndexedDB and
   * sessionStorage): each tab claims a slot with an identity of its own, and a reload gets its
   * slot back. false: every tab of the origin uses the one stored identity.
   */
  identitySlots?: boolean;
  /** An identity to use instead of a stored or generated one. */
  identity?: Identity;
  /**
   * Contacts to rejoin through first (DHT.exportContacts() of an earlier run). Default: the ones
   * saved next to the identity, when it is kept.
   */
  contacts?: readonly SavedContact[];
  /** Save the contacts next to the identity every minute and on close (default: when the identity is kept). */
  saveContacts?: boolean;
  iceServers?: IceServer[];
  /** WebRTC links kept open at most. */
  maxLinks?: number;
  /** Default: WebCrypto Ed25519 where the page may use it, else @noble. */
  crypto?: CryptoBackend;
  /** Default: proof of work in a Web Worker, so the page never freezes. */
  powSolver?: PowSolver;
  RTCPeerConnection?: RTCPeerConnectionConstructor;
  WebSocket?: WebSocketConstructor;
  /** Join right away (default true). */
  autoBootstrap?: boolean;
}

/** Each browser node's signaling link, for `signalingUrlOf`. */
const links = new WeakMap<DHT, FailoverWsTransport>();

/** URL of the signaling server a node made by createBrowserNode is linked to now (undefined while reconnecting). */
export function signalingUrlOf(dht: DHT): string | undefined {
  return links.get(dht)?.url;
}

/** The identity slot of a node made by createBrowserNode (undefined without slots). */
const slots = new WeakMap<DHT, number>();
export function identitySlotOf(dht: DHT): number | undefined {
  return slots.get(dht);
}

export async function createBrowserNode(options: BrowserNodeOptions): Promise<DHT> {
  const {
    signalingUrl,
    signalingUrls,
    signalingOrder = 'shuffle',
    onSignalingChange,
    onIdentity,
    reconnect,
    network,
    identityStorage = 'indexeddb',
    identitySlots,
    contacts: givenContacts,
    saveContacts,
    iceServers,
    maxLinks,
    RTCPeerConnection = globalThis.RTCPeerConnection,
    WebSocket,
    autoBootstrap = true,
    ...rest
  } = options;
  if (!RTCPeerConnection) throw SpydhtError.invalidArgument('no RTCPeerConnection in this environment: pass one');
  const urls = signalingList(signalingUrl, signalingUrls, signalingOrder);
  const crypto = options.crypto ?? (await createWebCryptoBackend());
  const config = networkConfig(crypto, network);
  const generate = (o: { crypto: CryptoBackend; difficulty: number; signal?: AbortSignal }): Promise<Identity> =>
    generateIdentityInWorker({ crypto: o.crypto, difficulty: o.difficulty, signal: o.signal });

  // The identity: given, throwaway, or kept (in this tab's slot).
  const storage = options.identity === undefined && identityStorage !== false ? await resolveStorage(identityStorage) : undefined;
  let slot: IdentitySlot | undefined;
  let key = DEFAULT_IDENTITY_KEY;
  if (storage && identitySlots !== false) {
    const env = pageSlotEnvironment((n) => crypto.randomBytes(n));
    if (env) {
      try {
        slot = await claimIdentitySlot(env);
        key = slotIdentityKey(DEFAULT_IDENTITY_KEY, slot.slot);
      } catch (err) {
        // IndexedDB refused (some private modes): one shared identity beats no node at all,
        // unless slots were asked for, or every slot is in use.
        if (identitySlots === true || err instanceof SpydhtError) throw err;
      }
    } else if (identitySlots === true) {
      throw SpydhtError.invalidArgument('identitySlots needs IndexedDB and sessionStorage');
    }
  }
  try {
    const identity =
      options.identity ??
      (storage ? await loadOrCreateIdentity({ crypto, difficulty: config.idDifficulty, storage, key, generate }) : await generate({ crypto, difficulty: config.idDifficulty }));
    onIdentity?.(identity);
    const contactsStore = storage && saveContacts !== false ? contactsInIdentityStorage(storage, `${key}/contacts`) : undefined;
    const contacts = givenContacts ?? (contactsStore ? await loadSavedContacts(contactsStore) : undefined);

    let ws: FailoverWsTransport | undefined;
    const dht = await assembleNode({
      ...rest,
      crypto,
      identity,
      network,
      contacts,
      transports: [
        async () =>
          (ws = await FailoverWsTransport.connect({ urls, identity, crypto, networkId: config.networkId, WebSocket, reconnect })),
        () =>
          new WebRtcTransport({
            identity,
            crypto,
            RTCPeerConnection,
            iceServers,
            maxLinks,
            // Until ICE picks a pair, a peer's IP is unknown here.
            observedIp: () => undefined,
            // Another tab on our network shows only an mDNS name: count it under our own address.
            sameNetworkIp: () => ws?.observedIp,
          }),
      ],
      // (No address if the link closed already: the reconnect joins through the next server.)
      bootstrap: () => (ws?.link ? [wsAddress(ws.link.serverId)] : []),
      autoBootstrap,
      powSolver: options.powSolver ?? createWorkerPowSolver({ crypto }),
      ready: (node) => {
        const link = ws!;
        links.set(node, link);
        if (slot) {
          slots.set(node, slot.slot);
          const held = slot;
          node.onClose(() => held.release());
        }
        // Soon after each new contact: a tab is often reloaded or closed within seconds.
        if (contactsStore) keepContacts(node, contactsStore, { afterChangeMs: 1_000 });
        // A new server: join through it, so it is our entry peer and the address maintenance
        // re-bootstraps through (the lost one is gone from the table already).
        link.onServerChange = (now) => {
          onSignalingChange?.(now?.url);
          if (now && !node.closed) node.bootstrap([wsAddress(now.serverId)]).catch(() => {});
        };
        onSignalingChange?.(link.url);
      },
    });
    return dht;
  } catch (err) {
    await slot?.release();
    throw err;
  }
}

/** The servers to try, in the order to try them. */
function signalingList(one: string | undefined, many: readonly string[] | undefined, order: 'shuffle' | 'in-order'): string[] {
  const urls = [...new Set([...(one === undefined ? [] : [one]), ...(many ?? [])])];
  if (urls.length === 0) throw SpydhtError.invalidArgument('give signalingUrl or signalingUrls');
  if (urls.length > MAX_SIGNALING_URLS) throw SpydhtError.invalidArgument(`at most ${MAX_SIGNALING_URLS} signaling URLs, got ${urls.length}`);
  for (const url of urls) {
    if (!/^wss?:\/\/[^\s/]+/.test(url)) throw SpydhtError.invalidArgument(`not a ws:// or wss:// URL: "${url}"`);
  }
  if (order === 'shuffle') {
    for (let i = urls.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [urls[i], urls[j]] = [urls[j]!, urls[i]!];
    }
  } else if (order !== 'in-order') {
    throw SpydhtError.invalidArgument(`signalingOrder must be 'shuffle' or 'in-order', got "${String(order)}"`);
  }
  return urls;
}

/**
 * Peers a node knows outside its routing table:
 * - *entry peers*: the nodes that answered our bootstrap pings. They relay our first WebRTC
 *   signals (we are linked to nobody else yet), and a client's gets and puts go through them when
 *   it cannot reach the members that hold a value (they are its bridges).
 * - *bootstrap servers*: peers whose messages carry the BOOTSTRAP flag (the signaling server).
 *   They are full members, but relays of last resort, so the server stays off the hot path.
 */
import { equalIds, idKey, type NodeId } from '../id.js';
import { LruMap } from '../lru.js';
import { peerKey, type PeerAddress, type PeerKey } from '../wire/address.js';

/** A peer we can send to: its verified ID and the address it answered from. */
export interface RelayPeer {
  id: NodeId;
  address: PeerAddress;
}

/** Entry peers kept (a node joins through a handful). */
const MAX_ENTRY_PEERS = 64;
/** Bootstrap servers remembered (a swarm has a handful). */
const MAX_BOOTSTRAP_SERVERS = 64;

export class KnownPeers {
  /** Address → the entry peer that answered there. */
  readonly #entry = new LruMap<PeerKey, RelayPeer>(MAX_ENTRY_PEERS);
  /** IDs (idKey) of peers that set the BOOTSTRAP flag. */
  readonly #servers = new LruMap<string, true>(MAX_BOOTSTRAP_SERVERS);

  /** `peer` answered our bootstrap ping at its address. */
  addEntryPeer(peer: RelayPeer): void {
    this.#entry.set(peerKey(peer.address), { id: peer.id.slice(), address: peer.address });
  }

  entryPeers(): RelayPeer[] {
    return [...this.#entry.values()];
  }

  get entryCount(): number {
    return this.#entry.size;
  }

  /** The entry peer `id` at exactly `address`, if it is one. */
  entryPeerAt(id: NodeId, address: PeerAddress): RelayPeer | undefined {
    const peer = this.#entry.peek(peerKey(address));
    return peer && equalIds(peer.id, id) ? peer : undefined;
  }

  noteBootstrapServer(id: NodeId): void {
    this.#servers.set(idKey(id), true);
  }

  isBootstrapServer(id: NodeId): boolean {
    return this.#servers.has(idKey(id));
  }
}

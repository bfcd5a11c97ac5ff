/** Identities placed on purpose in a node's routing table, for tests that need a bucket filled. */
import { Identity } from '../../src/crypto/identity.js';
import { commonPrefixLength, type NodeId } from '../../src/id.js';
import { nodeCrypto } from '../../src/node/crypto-node.js';
import { SIM_NETWORK } from '../../src/testnet.js';

/** A fresh identity of the simulated network whose ID lands in bucket `bucket` of `of`. */
export async function identityInBucket(of: NodeId, bucket: number): Promise<Identity> {
  for (;;) {
    const id = await Identity.generate({ crypto: nodeCrypto, difficulty: SIM_NETWORK.idDifficulty ?? 0 });
    if (commonPrefixLength(of, id.id) === bucket) return id;
  }
}

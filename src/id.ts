/** 256-bit node IDs and record keys with the XOR metric. */
import { fromHex, toHex } from './bytes.js';

export const ID_BYTES = 32;
export const ID_BITS = ID_BYTES * 8;

export type NodeId = Uint8Array;

export function isId(value: unknown): value is NodeId {
  return value instanceof Uint8Array && value.length === ID_BYTES;
}

export function idToHex(id: NodeId): string {
  return toHex(id);
}

/**
 * A compact map key for an ID (or any 32-byte key): a flat 32-character one-byte string, half the
 * size of hex and built without intermediate strings. Not for display: use idToHex.
 */
export function idKey(id: Uint8Array): string {
  return String.fromCharCode.apply(null, id as unknown as number[]);
}

/** IDs per shared slab of `keepId`: one slab's header spread over 32 IDs, at most 1 KiB kept alive by one ID. */
const IDS_PER_SLAB = 32;
let slab = new Uint8Array(0);
let slabUsed = 0;

/**
 * A copy of an ID for keeping in a routing contact: a view into a shared 1 KiB slab instead of an
 * ArrayBuffer of its own. A routing table holds one ID per contact, and a copy made by `slice()`
 * took 184 bytes of heap for its 32: slabs saved 6 KiB of heap per node at 1,000 simulated nodes
 * and 10 KiB at 10,000 (BENCHMARKS.md, "Large simulated swarms"). The price: a slab stays alive while any of its 32 IDs does, so a long-lived
 * table that kept one ID of each slab would hold 1 KiB per contact. Not for IDs that leave the
 * process through `.buffer` (transfer to a worker): the buffer is the whole slab.
 */
export function keepId(id: Uint8Array): NodeId {
  if (slabUsed === slab.length) {
    slab = new Uint8Array(IDS_PER_SLAB * ID_BYTES);
    slabUsed = 0;
  }
  const out = slab.subarray(slabUsed, slabUsed + ID_BYTES);
  out.set(id.subarray(0, ID_BYTES));
  slabUsed += ID_BYTES;
  return out;
}

export function idFromHex(hex: string): NodeId {
  const id = fromHex(hex);
  if (id.length !== ID_BYTES) throw new TypeError(`an ID is ${ID_BYTES * 2} hex digits`);
  return id;
}

export function xorDistance(a: NodeId, b: NodeId): Uint8Array {
  const out = new Uint8Array(ID_BYTES);
  for (let i = 0; i < ID_BYTES; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Compares distance(a, target) with distance(b, target) without allocating: <0 when a is closer. */
export function compareDistance(a: NodeId, b: NodeId, target: NodeId): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const da = a[i]! ^ target[i]!;
    const db = b[i]! ^ target[i]!;
    if (da !== db) return da - db;
  }
  return 0;
}

/** Length of the common prefix of two IDs, in bits (256 when equal). */
export function commonPrefixLength(a: NodeId, b: NodeId): number {
  for (let i = 0; i < ID_BYTES; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return ID_BITS;
}

/**
 * A random ID sharing exactly `prefixBits` leading bits with `base` (the next bit differs):
 * a target inside one bucket, used to refresh it.
 */
export function randomIdInBucket(base: NodeId, prefixBits: number, random: Uint8Array): NodeId {
  const out = Uint8Array.from(random.subarray(0, ID_BYTES));
  const fullBytes = prefixBits >> 3;
  for (let i = 0; i < fullBytes; i++) out[i] = base[i]!;
  if (prefixBits < ID_BITS) {
    const bit = prefixBits & 7;
    const mask = 0xff << (8 - bit); // the bits still shared in this byte
    const flip = 0x80 >> bit; // the first bit that must differ
    const byte = (base[fullBytes]! & mask) | (out[fullBytes]! & ~mask & 0xff);
    out[fullBytes] = ((byte & ~flip) | (~base[fullBytes]! & flip)) & 0xff;
  }
  return out;
}

export function sortByDistance<T extends { id: NodeId }>(items: T[], target: NodeId): T[] {
  return items.sort((a, b) => compareDistance(a.id, b.id, target));
}

export function equalIds(a: NodeId, b: NodeId): boolean {
  for (let i = 0; i < ID_BYTES; i++) if (a[i] !== b[i]) return false;
  return true;
}

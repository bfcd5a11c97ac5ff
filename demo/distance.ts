/**
 * Kademlia's geometry between two 256-bit IDs (hex): XOR distance, the bucket a contact falls in
 * (how many leading bits the two IDs share), and where in that bucket it sits.
 */

/** XOR of two IDs, as 32 bytes. */
export function xor(aHex: string, bHex: string): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = parseInt(aHex.slice(2 * i, 2 * i + 2), 16) ^ parseInt(bHex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export interface Placement {
  /** Leading bits shared = the bucket index (0: the far half of the ID space). */
  bucket: number;
  /**
   * Where in its bucket: the distance is 2^(255 − bucket) × (1 + m), m ∈ [0, 1); this is log2(1 + m)
   * ∈ [0, 1): 0 at the bucket's near edge, towards 1 at its far edge.
   */
  within: number;
  /** A stable value in [0, 1) from the distance's lower bits, to spread marks around a ring. */
  spread: number;
}

/** Where `contact` sits relative to `self`; undefined for the same ID. */
export function place(selfHex: string, contactHex: string): Placement | undefined {
  const d = xor(selfHex, contactHex);
  let bit = 0;
  while (bit < 256 && !(d[bit >> 3]! & (0x80 >> (bit & 7)))) bit++;
  if (bit === 256) return undefined;
  // The 24 bits after the leading one give the position within the bucket, the next 16 the angle.
  const after = (from: number, n: number): number => {
    let v = 0;
    for (let i = 0; i < n; i++) {
      const b = from + i;
      v = v * 2 + (b < 256 && d[b >> 3]! & (0x80 >> (b & 7)) ? 1 : 0);
    }
    return v / 2 ** n;
  };
  return { bucket: bit, within: Math.log2(1 + after(bit + 1, 24)), spread: after(bit + 25, 16) };
}

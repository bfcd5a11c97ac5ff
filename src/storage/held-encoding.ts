/**
 * How both stores hold a record: its wire encoding in a buffer of its own (not the datagram it
 * came in, nor a decoded object of views over it), its first 32 bytes the key, followed by the
 * key's further replica locations, 32 bytes each. Maintenance asks for every held record's
 * locations at every new contact; hashing them again each time was most of that work.
 */
import type { NodeId } from '../id.js';
import { Writer } from '../wire/codec.js';

export class HeldEncoding {
  readonly #bytes: Uint8Array;
  /** Length of the encoding within #bytes. */
  readonly #encoded: number;

  /** `write` writes the record's encoding; `locations`: the key's replica locations, the key itself first. */
  constructor(write: (w: Writer) => void, locations: readonly NodeId[]) {
    const w = new Writer(256);
    write(w);
    this.#encoded = w.length;
    for (const loc of locations.slice(1)) w.fixed(loc, 32, 'location');
    this.#bytes = w.finish();
  }

  /** Bytes of the record's wire encoding. */
  protected get encodedLength(): number {
    return this.#encoded;
  }

  /** The record's wire encoding alone (a view: read it, do not keep or change it). */
  protected get encoding(): Uint8Array {
    return this.#bytes.subarray(0, this.#encoded);
  }

  get key(): Uint8Array {
    return this.#bytes.subarray(0, 32);
  }

  /** How many replica locations the key has, the key itself included. */
  get locationCount(): number {
    return 1 + (this.#bytes.length - this.#encoded) / 32;
  }

  /**
   * Copies location `i` (0: the key) into `into` and returns it. Allocates nothing: maintenance
   * asks for every location of every held record at every new contact, and the two views
   * `locations` makes per record were most of what an idle node allocated (a heap profile of 200
   * idle UDP nodes: ~2/3), enough to keep V8's young generation at its largest.
   */
  copyLocation(i: number, into: Uint8Array): Uint8Array {
    const at = i === 0 ? 0 : this.#encoded + 32 * (i - 1);
    for (let b = 0; b < 32; b++) into[b] = this.#bytes[at + b]!;
    return into;
  }

  /** The key's replica locations, the key first (views into the held bytes). */
  get locations(): NodeId[] {
    const out = [this.key];
    for (let at = this.#encoded; at < this.#bytes.length; at += 32) out.push(this.#bytes.subarray(at, at + 32));
    return out;
  }
}

/**
 * Bounded binary reader/writer. The reader throws only `DecodeFailure` (caught by the message
 * decoder and turned into a typed result), so no hostile input can surface as a RangeError.
 *
 * Fields are read as views into the datagram, not copies: a datagram is decoded once and never
 * written to, so a view is as good as a copy at a fraction of the garbage. Whoever keeps a field
 * longer than the message (a routing-table ID, a tombstone's key) copies it, so a small field
 * never keeps a whole datagram alive.
 */
export class DecodeFailure extends Error {}

export class Reader {
  private at = 0;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(bytes: Uint8Array) {
    // A plain Uint8Array view: on a Node Buffer, slice() would alias instead of copying.
    this.bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get offset(): number {
    return this.at;
  }

  get remaining(): number {
    return this.bytes.length - this.at;
  }

  private need(n: number, what: string): void {
    if (this.at + n > this.bytes.length) throw new DecodeFailure(`truncated ${what}`);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.bytes[this.at++]!;
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.view.getUint16(this.at);
    this.at += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.at);
    this.at += 4;
    return v;
  }

  /** Fixed-length field, as a view into the datagram. */
  fixed(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** u8-length-prefixed bytes with an upper bound. */
  bytes8(max: number, what: string): Uint8Array {
    const len = this.u8(what);
    if (len > max) throw new DecodeFailure(`${what} longer than ${max}`);
    return this.fixed(len, what);
  }

  /** u16-length-prefixed bytes with an upper bound. */
  bytes16(max: number, what: string): Uint8Array {
    const len = this.u16(what);
    if (len > max) throw new DecodeFailure(`${what} longer than ${max}`);
    return this.fixed(len, what);
  }

  end(): void {
    if (this.at !== this.bytes.length) throw new DecodeFailure(`${this.bytes.length - this.at} trailing bytes`);
  }
}

export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private at = 0;

  /** Writes into `scratch` (reused between messages; finish() copies out) or a buffer of its own. */
  constructor(initial: number | Uint8Array = 256) {
    this.buf = typeof initial === 'number' ? new Uint8Array(initial) : initial;
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.at + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.at));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  get length(): number {
    return this.at;
  }

  u8(v: number): this {
    this.room(1);
    this.buf[this.at++] = v;
    return this;
  }

  u16(v: number): this {
    this.room(2);
    this.view.setUint16(this.at, v);
    this.at += 2;
    return this;
  }

  u32(v: number): this {
    this.room(4);
    this.view.setUint32(this.at, v);
    this.at += 4;
    return this;
  }

  fixed(bytes: Uint8Array, length: number, what: string): this {
    if (bytes.length !== length) throw new RangeError(`${what} must be ${length} bytes, got ${bytes.length}`);
    this.room(length);
    this.buf.set(bytes, this.at);
    this.at += length;
    return this;
  }

  bytes8(bytes: Uint8Array, max: number, what: string): this {
    if (bytes.length > max) throw new RangeError(`${what} longer than ${max} bytes`);
    this.u8(bytes.length);
    return this.fixed(bytes, bytes.length, what);
  }

  bytes16(bytes: Uint8Array, max: number, what: string): this {
    if (bytes.length > max) throw new RangeError(`${what} longer than ${max} bytes`);
    this.u16(bytes.length);
    return this.fixed(bytes, bytes.length, what);
  }

  zeros(n: number): this {
    this.room(n);
    this.buf.fill(0, this.at, this.at + n);
    this.at += n;
    return this;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.at);
  }
}

// Little-endian byte writer/reader for the device-state record. The reader throws
// RecordError on every read past the end, so a truncated stream can never decode.

export class RecordError extends Error {}

export class ByteWriter {
  private chunks: Buffer[] = [];
  private cur = Buffer.alloc(4096);
  private at = 0;

  private room(n: number): void {
    if (this.at + n <= this.cur.length) return;
    this.chunks.push(this.cur.subarray(0, this.at));
    this.cur = Buffer.alloc(Math.max(4096, n));
    this.at = 0;
  }
  u8(v: number): this {
    this.room(1);
    this.cur.writeUInt8(v & 0xff, this.at);
    this.at += 1;
    return this;
  }
  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }
  u16(v: number): this {
    this.room(2);
    this.cur.writeUInt16LE(v & 0xffff, this.at);
    this.at += 2;
    return this;
  }
  u32(v: number): this {
    this.room(4);
    this.cur.writeUInt32LE(v >>> 0, this.at);
    this.at += 4;
    return this;
  }
  u64(v: bigint | number): this {
    this.room(8);
    this.cur.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v)), this.at);
    this.at += 8;
    return this;
  }
  bytes(b: Buffer): this {
    this.room(b.length);
    b.copy(this.cur, this.at);
    this.at += b.length;
    return this;
  }
  /** u32 length + bytes. */
  blob(b: Buffer): this {
    return this.u32(b.length).bytes(b);
  }
  str(s: string): this {
    return this.blob(Buffer.from(s, 'utf8'));
  }
  finish(): Buffer {
    return Buffer.concat([...this.chunks, this.cur.subarray(0, this.at)]);
  }
}

export class ByteReader {
  private at = 0;
  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new RecordError(`${this.what}: truncated (needs ${n} more bytes at offset ${this.at} of ${this.buf.length})`);
  }
  get remaining(): number {
    return this.buf.length - this.at;
  }
  u8(): number {
    this.need(1);
    return this.buf.readUInt8(this.at++);
  }
  bool(): boolean {
    const v = this.u8();
    if (v > 1) throw new RecordError(`${this.what}: boolean byte ${v} at offset ${this.at - 1}`);
    return v === 1;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16LE(this.at);
    this.at += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.at);
    this.at += 4;
    return v;
  }
  u64(): bigint {
    this.need(8);
    const v = this.buf.readBigUInt64LE(this.at);
    this.at += 8;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    const b = Buffer.from(this.buf.subarray(this.at, this.at + n));
    this.at += n;
    return b;
  }
  blob(max: number): Buffer {
    const n = this.u32();
    if (n > max) throw new RecordError(`${this.what}: field of ${n} bytes exceeds ${max}`);
    return this.bytes(n);
  }
  str(max = 1024): string {
    return this.blob(max).toString('utf8');
  }
  /** A count of items, bounded so a corrupt count cannot make us allocate wildly. */
  count(max: number, what: string): number {
    const n = this.u32();
    if (n > max) throw new RecordError(`${this.what}: ${n} ${what} exceeds the limit of ${max}`);
    return n;
  }
  end(): void {
    if (this.at !== this.buf.length) throw new RecordError(`${this.what}: ${this.buf.length - this.at} trailing bytes`);
  }
}

// CRC-32 (IEEE 802.3, reflected, as zlib); node:zlib.crc32 is not in every Node 20.
const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Buffer, seed = 0): number {
  let c = ~seed >>> 0;
  for (let i = 0; i < buf.length; i++) c = TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

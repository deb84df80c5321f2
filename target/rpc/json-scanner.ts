// Cuts SPDK's JSON-RPC byte stream into top-level JSON values (no length prefix, no line
// framing: rpc.py sends json.dumps(req, indent=2)). An incremental scanner tracking strings,
// escapes and bracket depth; JSON.parse judges validity.
//
// Each byte is scanned once and each chunk is kept as it arrived: a value split over many
// chunks is joined once, when it is complete (appending every chunk to one buffer recopied the
// partial value each time, quadratic in its size).

/** A complete top-level value cut from the stream, or a framing error. */
export type ScanResult = { text: string } | { error: string };

/** Largest value accepted before the connection is dropped (SPDK's send limit is 32 MiB). */
export const MAX_VALUE_BYTES = 32 << 20;

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);
const EMPTY = Buffer.alloc(0);

/**
 * Objects and arrays end at their closing bracket; a scalar at top level ends at the next
 * whitespace or bracket.
 */
export class JsonValueScanner {
  /** Chunks pushed and not yet scanned. */
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  /** The chunk being scanned, and the next byte to scan in it. */
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Whether a value has started; it started at `start` in `buf`, after the bytes in `parts`. */
  private inValue = false;
  private start = 0;
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private depth = 0;
  private inString = false;
  private escape = false;
  private scalar = false;

  constructor(private readonly maxValueBytes = MAX_VALUE_BYTES) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
  }

  /** Bytes buffered but not yet part of a returned value. */
  get pending(): number {
    const inBuf = this.buf.length - (this.inValue ? this.start : this.pos);
    return this.partsBytes + inBuf + this.queuedBytes;
  }

  /** Whether a value has started and not finished. */
  get partial(): boolean {
    return this.inValue;
  }

  /** Returns the next complete value, or undefined when more bytes are needed. */
  next(): ScanResult | undefined {
    for (;;) {
      if (this.pos >= this.buf.length) {
        if (this.inValue && this.partsBytes + this.buf.length - this.start > this.maxValueBytes)
          return { error: `request larger than ${this.maxValueBytes} bytes` };
        if (!this.advance()) return undefined;
        continue;
      }
      const b = this.buf;
      const c = b[this.pos];
      if (!this.inValue) {
        if (WS.has(c)) {
          this.pos++;
          continue;
        }
        this.inValue = true;
        this.start = this.pos;
        this.depth = 0;
        this.inString = false;
        this.escape = false;
        this.scalar = c !== 0x7b && c !== 0x5b;
        if (this.scalar && c === 0x22) this.inString = true;
        else if (!this.scalar) this.depth = 1;
        this.pos++;
        if (c === 0x7d || c === 0x5d) return this.cut(this.pos);
        continue;
      }
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === 0x5c) this.escape = true;
        else if (c === 0x22) {
          this.inString = false;
          if (this.scalar) return this.cut(this.pos + 1);
        }
        this.pos++;
        continue;
      }
      if (this.scalar) {
        if (WS.has(c) || c === 0x7b || c === 0x5b || c === 0x7d || c === 0x5d || c === 0x2c) return this.cut(this.pos);
        this.pos++;
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.depth++;
      else if (c === 0x7d || c === 0x5d) {
        if (--this.depth === 0) return this.cut(this.pos + 1);
      }
      this.pos++;
    }
  }

  /** At end of stream a pending scalar is complete; anything else pending is truncated. */
  end(): ScanResult | undefined {
    if (!this.inValue) return undefined;
    if (this.scalar && !this.inString) return this.cut(this.buf.length);
    return { error: 'connection closed inside a JSON value' };
  }

  /** `buf` is scanned: keep its part of a value being scanned, move on to the next chunk. */
  private advance(): boolean {
    const next = this.queue.shift();
    if (!next) return false;
    if (this.inValue && this.start < this.buf.length) {
      this.parts.push(this.buf.subarray(this.start));
      this.partsBytes += this.buf.length - this.start;
    }
    this.queuedBytes -= next.length;
    this.buf = next;
    this.pos = 0;
    this.start = 0;
    return true;
  }

  private cut(end: number): ScanResult {
    const text =
      this.partsBytes === 0
        ? this.buf.toString('utf8', this.start, end)
        : Buffer.concat([...this.parts, this.buf.subarray(this.start, end)]).toString('utf8');
    this.pos = end;
    this.inValue = false;
    this.parts = [];
    this.partsBytes = 0;
    return { text };
  }
}

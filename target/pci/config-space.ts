// PCI configuration space (4 KiB, PCIe extended) with per-byte write masks, so a client
// can only change what hardware would let it change: BAR sizing works as on real devices
// (write all-ones, read back the size mask), status bits are write-1-to-clear, and
// read-only identity fields stay put.

export const CFG = {
  VENDOR_ID: 0x00,
  DEVICE_ID: 0x02,
  COMMAND: 0x04,
  STATUS: 0x06,
  REVISION: 0x08,
  CLASS_PROG: 0x09,
  CLASS_SUB: 0x0a,
  CLASS_BASE: 0x0b,
  CACHE_LINE: 0x0c,
  LATENCY: 0x0d,
  HEADER_TYPE: 0x0e,
  BAR0: 0x10,
  SUBSYS_VENDOR: 0x2c,
  SUBSYS_ID: 0x2e,
  ROM: 0x30,
  CAP_PTR: 0x34,
  INT_LINE: 0x3c,
  INT_PIN: 0x3d,
} as const;

export const COMMAND_IO = 1 << 0;
export const COMMAND_MEMORY = 1 << 1;
export const COMMAND_MASTER = 1 << 2;
export const COMMAND_SERR = 1 << 8;
export const COMMAND_INTX_DISABLE = 1 << 10;
export const STATUS_CAP_LIST = 1 << 4;

export const CONFIG_SIZE = 4096;

export class ConfigSpace {
  readonly bytes = Buffer.alloc(CONFIG_SIZE);
  /** Bits a write may set or clear. */
  readonly writable = Buffer.alloc(CONFIG_SIZE);
  /** Bits a write of 1 clears. */
  readonly w1c = Buffer.alloc(CONFIG_SIZE);

  u8(off: number): number {
    return this.bytes.readUInt8(off);
  }
  u16(off: number): number {
    return this.bytes.readUInt16LE(off);
  }
  u32(off: number): number {
    return this.bytes.readUInt32LE(off);
  }
  set8(off: number, v: number): void {
    this.bytes.writeUInt8(v & 0xff, off);
  }
  set16(off: number, v: number): void {
    this.bytes.writeUInt16LE(v & 0xffff, off);
  }
  set32(off: number, v: number): void {
    this.bytes.writeUInt32LE(v >>> 0, off);
  }
  mask8(off: number, m: number): void {
    this.writable.writeUInt8(m & 0xff, off);
  }
  mask16(off: number, m: number): void {
    this.writable.writeUInt16LE(m & 0xffff, off);
  }
  mask32(off: number, m: number): void {
    this.writable.writeUInt32LE(m >>> 0, off);
  }
  w1c16(off: number, m: number): void {
    this.w1c.writeUInt16LE(m & 0xffff, off);
  }

  read(off: number, count: number): Buffer {
    return Buffer.from(this.bytes.subarray(off, off + count));
  }

  /** Applies a write through the masks; returns the offsets of bytes whose value changed. */
  write(off: number, data: Buffer): number[] {
    const changed: number[] = [];
    for (let i = 0; i < data.length; i++) {
      const a = off + i;
      const old = this.bytes[a]!;
      const wm = this.writable[a]!;
      const cm = this.w1c[a]!;
      const v = data[i]!;
      const next = ((old & ~wm) | (v & wm)) & ~(v & cm) & 0xff;
      if (next !== old) {
        this.bytes[a] = next;
        changed.push(a);
      }
    }
    return changed;
  }
}

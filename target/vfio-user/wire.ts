// The vfio-user wire format: every message's layout as an encode/decode pair, with byte
// offsets visible. Shared by the server (target/) and the client (harness/initiator/), so
// both ends agree by construction and tests can build hostile messages from the same parts.
// Layouts follow the vfio-user specification (libvfio-user docs/vfio-user.rst, QEMU
// docs/interop/vfio-user.rst); integers are little-endian.

export const HEADER_SIZE = 16;

export enum Command {
  VERSION = 1,
  DMA_MAP = 2,
  DMA_UNMAP = 3,
  DEVICE_GET_INFO = 4,
  DEVICE_GET_REGION_INFO = 5,
  DEVICE_GET_REGION_IO_FDS = 6,
  DEVICE_GET_IRQ_INFO = 7,
  DEVICE_SET_IRQS = 8,
  REGION_READ = 9,
  REGION_WRITE = 10,
  DMA_READ = 11,
  DMA_WRITE = 12,
  DEVICE_RESET = 13,
  DIRTY_PAGES = 14,
  REGION_WRITE_MULTI = 15,
  DEVICE_FEATURE = 16,
  MIG_DATA_READ = 17,
  MIG_DATA_WRITE = 18,
}

// Header flags (offset 8).
export const FLAG_TYPE_MASK = 0xf;
export const TYPE_COMMAND = 0;
export const TYPE_REPLY = 1;
export const FLAG_NO_REPLY = 0x10;
export const FLAG_ERROR = 0x20;

/** errno values used in replies (Linux numbering, as the protocol carries them). */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  ENOSYS: 38,
  EPROTO: 71,
  EMSGSIZE: 90,
  ENOTSUP: 95,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
} as const;

export interface Header {
  id: number; // @0 u16
  command: number; // @2 u16
  size: number; // @4 u32, whole message incl. header
  flags: number; // @8 u32
  error: number; // @12 u32
}

export function decodeHeader(buf: Buffer): Header {
  if (buf.length < HEADER_SIZE) throw new WireError(Errno.EINVAL, `message of ${buf.length} bytes has no header`);
  return {
    id: buf.readUInt16LE(0),
    command: buf.readUInt16LE(2),
    size: buf.readUInt32LE(4),
    flags: buf.readUInt32LE(8),
    error: buf.readUInt32LE(12),
  };
}

export function encodeMessage(h: Omit<Header, 'size'>, payload: Buffer = Buffer.alloc(0)): Buffer {
  const out = Buffer.alloc(HEADER_SIZE + payload.length);
  out.writeUInt16LE(h.id & 0xffff, 0);
  out.writeUInt16LE(h.command & 0xffff, 2);
  out.writeUInt32LE(out.length, 4);
  out.writeUInt32LE(h.flags >>> 0, 8);
  out.writeUInt32LE(h.error >>> 0, 12);
  payload.copy(out, HEADER_SIZE);
  return out;
}

export function encodeCommand(id: number, command: Command, payload?: Buffer, noReply = false): Buffer {
  return encodeMessage({ id, command, flags: TYPE_COMMAND | (noReply ? FLAG_NO_REPLY : 0), error: 0 }, payload);
}

export function encodeReply(id: number, command: number, payload?: Buffer): Buffer {
  return encodeMessage({ id, command, flags: TYPE_REPLY, error: 0 }, payload);
}

export function encodeErrorReply(id: number, command: number, errno: number): Buffer {
  return encodeMessage({ id, command, flags: TYPE_REPLY | FLAG_ERROR, error: errno });
}

/** A protocol failure carrying the errno its reply should have. */
export class WireError extends Error {
  constructor(
    readonly errno: number,
    message: string,
  ) {
    super(message);
  }
}

function need(p: Buffer, n: number, what: string): void {
  if (p.length < n) throw new WireError(Errno.EINVAL, `${what}: payload of ${p.length} bytes, at least ${n} needed`);
}

// -------------------------------------------------------------------------- VERSION (1)
// payload: major u16 @0, minor u16 @2, json (NUL-terminated, optional) @4

export interface VersionCaps {
  max_msg_fds?: number;
  max_data_xfer_size?: number;
  max_dma_maps?: number;
  pgsizes?: number;
  twin_socket?: { supported?: boolean; fd_index?: number };
  write_multiple?: boolean;
  migration?: { pgsize?: number; max_bitmap_size?: number };
  [key: string]: unknown;
}

export interface Version {
  major: number;
  minor: number;
  /** Parsed `capabilities` object; undefined when no JSON was sent. */
  caps?: VersionCaps;
  /** Raw JSON text as sent (without NUL), if any. */
  json?: string;
}

export function encodeVersion(v: { major: number; minor: number; caps?: VersionCaps }): Buffer {
  // No capabilities to state is `{}` (every one at its default), the shortest valid JSON.
  const text = v.caps ? (Object.keys(v.caps).length === 0 ? '{}' : JSON.stringify({ capabilities: v.caps })) : undefined;
  const json = text !== undefined ? Buffer.from(text + '\0', 'utf8') : Buffer.alloc(0);
  const p = Buffer.alloc(4 + json.length);
  p.writeUInt16LE(v.major, 0);
  p.writeUInt16LE(v.minor, 2);
  json.copy(p, 4);
  return p;
}

export function decodeVersion(p: Buffer): Version {
  need(p, 4, 'VERSION');
  const v: Version = { major: p.readUInt16LE(0), minor: p.readUInt16LE(2) };
  if (p.length > 4) {
    let end = p.length;
    if (p[end - 1] !== 0) throw new WireError(Errno.EINVAL, 'VERSION: JSON capabilities are not NUL-terminated');
    end -= 1;
    const text = p.subarray(4, end).toString('utf8');
    if (text.includes('\0')) throw new WireError(Errno.EINVAL, 'VERSION: NUL inside the JSON');
    v.json = text;
    if (text.length > 0) {
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch {
        throw new WireError(Errno.EINVAL, 'VERSION: capabilities are not valid JSON');
      }
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj))
        throw new WireError(Errno.EINVAL, 'VERSION: JSON is not an object');
      const caps = (obj as Record<string, unknown>).capabilities;
      if (caps !== undefined && (typeof caps !== 'object' || caps === null || Array.isArray(caps)))
        throw new WireError(Errno.EINVAL, 'VERSION: "capabilities" is not an object');
      v.caps = (caps ?? {}) as VersionCaps;
    }
  }
  return v;
}

// -------------------------------------------------------------------------- DMA_MAP (2)
// argsz u32 @0, flags u32 @4, offset u64 @8, address u64 @16, size u64 @24

export const DMA_MAP_FLAG_READ = 1;
export const DMA_MAP_FLAG_WRITE = 2;
export const DMA_MAP_SIZE = 32;

export interface DmaMap {
  argsz: number;
  flags: number;
  offset: bigint;
  address: bigint;
  size: bigint;
}

export function encodeDmaMap(m: Omit<DmaMap, 'argsz'> & { argsz?: number }): Buffer {
  const p = Buffer.alloc(DMA_MAP_SIZE);
  p.writeUInt32LE(m.argsz ?? DMA_MAP_SIZE, 0);
  p.writeUInt32LE(m.flags, 4);
  p.writeBigUInt64LE(m.offset, 8);
  p.writeBigUInt64LE(m.address, 16);
  p.writeBigUInt64LE(m.size, 24);
  return p;
}

export function decodeDmaMap(p: Buffer): DmaMap {
  need(p, DMA_MAP_SIZE, 'DMA_MAP');
  return {
    argsz: p.readUInt32LE(0),
    flags: p.readUInt32LE(4),
    offset: p.readBigUInt64LE(8),
    address: p.readBigUInt64LE(16),
    size: p.readBigUInt64LE(24),
  };
}

// -------------------------------------------------------------------------- DMA_UNMAP (3)
// argsz u32 @0, flags u32 @4, address u64 @8, size u64 @16 [, bitmap {pgsize u64, size u64} @24 (v1)]

export const DMA_UNMAP_FLAG_GET_DIRTY_BITMAP = 1;
export const DMA_UNMAP_FLAG_ALL = 2;
export const DMA_UNMAP_SIZE = 24;

export interface DmaUnmap {
  argsz: number;
  flags: number;
  address: bigint;
  size: bigint;
  bitmap?: { pgsize: bigint; size: bigint };
}

export function encodeDmaUnmap(u: Omit<DmaUnmap, 'argsz'> & { argsz?: number }): Buffer {
  const p = Buffer.alloc(DMA_UNMAP_SIZE + (u.bitmap ? 16 : 0));
  p.writeUInt32LE(u.argsz ?? p.length, 0);
  p.writeUInt32LE(u.flags, 4);
  p.writeBigUInt64LE(u.address, 8);
  p.writeBigUInt64LE(u.size, 16);
  if (u.bitmap) {
    p.writeBigUInt64LE(u.bitmap.pgsize, 24);
    p.writeBigUInt64LE(u.bitmap.size, 32);
  }
  return p;
}

export function decodeDmaUnmap(p: Buffer): DmaUnmap {
  need(p, DMA_UNMAP_SIZE, 'DMA_UNMAP');
  const u: DmaUnmap = {
    argsz: p.readUInt32LE(0),
    flags: p.readUInt32LE(4),
    address: p.readBigUInt64LE(8),
    size: p.readBigUInt64LE(16),
  };
  if (u.flags & DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
    need(p, DMA_UNMAP_SIZE + 16, 'DMA_UNMAP with dirty bitmap');
    u.bitmap = { pgsize: p.readBigUInt64LE(24), size: p.readBigUInt64LE(32) };
  }
  return u;
}

// -------------------------------------------------------------------------- DEVICE_GET_INFO (4)
// argsz u32 @0, flags u32 @4, num_regions u32 @8, num_irqs u32 @12

export const DEVICE_FLAGS_RESET = 1;
export const DEVICE_FLAGS_PCI = 2;
export const DEVICE_INFO_SIZE = 16;

export interface DeviceInfo {
  argsz: number;
  flags: number;
  numRegions: number;
  numIrqs: number;
}

export function encodeDeviceInfo(d: DeviceInfo): Buffer {
  const p = Buffer.alloc(DEVICE_INFO_SIZE);
  p.writeUInt32LE(d.argsz, 0);
  p.writeUInt32LE(d.flags, 4);
  p.writeUInt32LE(d.numRegions, 8);
  p.writeUInt32LE(d.numIrqs, 12);
  return p;
}

export function decodeDeviceInfo(p: Buffer): DeviceInfo {
  need(p, DEVICE_INFO_SIZE, 'DEVICE_GET_INFO');
  return { argsz: p.readUInt32LE(0), flags: p.readUInt32LE(4), numRegions: p.readUInt32LE(8), numIrqs: p.readUInt32LE(12) };
}

// -------------------------------------------------------------------------- DEVICE_GET_REGION_INFO (5)
// argsz u32 @0, flags u32 @4, index u32 @8, cap_offset u32 @12, size u64 @16, offset u64 @24,
// then capabilities; sparse mmap cap: id u16 @0, version u16 @2, next u32 @4, nr_areas u32 @8,
// reserved u32 @12, {offset u64, size u64} x nr_areas @16

export const REGION_INFO_SIZE = 32;
export const REGION_FLAG_READ = 1;
export const REGION_FLAG_WRITE = 2;
export const REGION_FLAG_MMAP = 4;
export const REGION_FLAG_CAPS = 8;
export const REGION_INFO_CAP_SPARSE_MMAP = 1;
export const REGION_INFO_CAP_TYPE = 2;

export interface SparseArea {
  offset: bigint;
  size: bigint;
}

export interface RegionInfo {
  argsz: number;
  flags: number;
  index: number;
  capOffset: number;
  size: bigint;
  offset: bigint;
  sparse?: SparseArea[];
  /** VFIO_REGION_INFO_CAP_TYPE: (type, subtype), e.g. the v1 migration region. */
  type?: { type: number; subtype: number };
}

/** Encodes the full reply (head plus capability chain); `argsz` is set to the full length. */
export function encodeRegionInfo(r: Omit<RegionInfo, 'argsz' | 'capOffset'>): Buffer {
  const caps: Buffer[] = [];
  if (r.sparse && r.sparse.length) {
    const c = Buffer.alloc(16 + 16 * r.sparse.length);
    c.writeUInt16LE(REGION_INFO_CAP_SPARSE_MMAP, 0);
    c.writeUInt16LE(1, 2);
    c.writeUInt32LE(r.sparse.length, 8);
    r.sparse.forEach((a, i) => {
      c.writeBigUInt64LE(a.offset, 16 + 16 * i);
      c.writeBigUInt64LE(a.size, 24 + 16 * i);
    });
    caps.push(c);
  }
  if (r.type) {
    const c = Buffer.alloc(16);
    c.writeUInt16LE(REGION_INFO_CAP_TYPE, 0);
    c.writeUInt16LE(1, 2);
    c.writeUInt32LE(r.type.type, 8);
    c.writeUInt32LE(r.type.subtype, 12);
    caps.push(c);
  }
  // Chain: each cap's `next` is the offset of the following one from the struct start.
  let off = REGION_INFO_SIZE;
  caps.forEach((c, i) => {
    off += c.length;
    c.writeUInt32LE(i + 1 < caps.length ? off : 0, 4);
  });
  const total = REGION_INFO_SIZE + caps.reduce((n, c) => n + c.length, 0);
  const p = Buffer.alloc(total);
  p.writeUInt32LE(total, 0);
  p.writeUInt32LE(r.flags | (caps.length ? REGION_FLAG_CAPS : 0), 4);
  p.writeUInt32LE(r.index, 8);
  p.writeUInt32LE(caps.length ? REGION_INFO_SIZE : 0, 12);
  p.writeBigUInt64LE(r.size, 16);
  p.writeBigUInt64LE(r.offset, 24);
  let at = REGION_INFO_SIZE;
  for (const c of caps) {
    c.copy(p, at);
    at += c.length;
  }
  return p;
}

export function encodeRegionInfoRequest(index: number, argsz = REGION_INFO_SIZE): Buffer {
  const p = Buffer.alloc(REGION_INFO_SIZE);
  p.writeUInt32LE(argsz, 0);
  p.writeUInt32LE(index, 8);
  return p;
}

export function decodeRegionInfo(p: Buffer): RegionInfo {
  need(p, REGION_INFO_SIZE, 'DEVICE_GET_REGION_INFO');
  const r: RegionInfo = {
    argsz: p.readUInt32LE(0),
    flags: p.readUInt32LE(4),
    index: p.readUInt32LE(8),
    capOffset: p.readUInt32LE(12),
    size: p.readBigUInt64LE(16),
    offset: p.readBigUInt64LE(24),
  };
  // Walk the capability chain defensively: bounded, forward-only.
  let at = r.flags & REGION_FLAG_CAPS ? r.capOffset : 0;
  let guard = 0;
  while (at !== 0 && guard++ < 16) {
    if (at < REGION_INFO_SIZE || at + 8 > p.length) break;
    const id = p.readUInt16LE(at);
    const next = p.readUInt32LE(at + 4);
    if (id === REGION_INFO_CAP_SPARSE_MMAP && at + 16 <= p.length) {
      const n = p.readUInt32LE(at + 8);
      const areas: SparseArea[] = [];
      for (let i = 0; i < n && at + 16 + 16 * (i + 1) <= p.length; i++)
        areas.push({ offset: p.readBigUInt64LE(at + 16 + 16 * i), size: p.readBigUInt64LE(at + 24 + 16 * i) });
      r.sparse = areas;
    } else if (id === REGION_INFO_CAP_TYPE && at + 16 <= p.length) {
      r.type = { type: p.readUInt32LE(at + 8), subtype: p.readUInt32LE(at + 12) };
    }
    if (next !== 0 && next <= at) break;
    at = next;
  }
  return r;
}

// -------------------------------------------------------------------------- DEVICE_GET_IRQ_INFO (7)
// argsz u32 @0, flags u32 @4, index u32 @8, count u32 @12

export const IRQ_INFO_EVENTFD = 1;
export const IRQ_INFO_MASKABLE = 2;
export const IRQ_INFO_AUTOMASKED = 4;
export const IRQ_INFO_NORESIZE = 8;
export const IRQ_INFO_SIZE = 16;

export interface IrqInfo {
  argsz: number;
  flags: number;
  index: number;
  count: number;
}

export function encodeIrqInfo(i: IrqInfo): Buffer {
  const p = Buffer.alloc(IRQ_INFO_SIZE);
  p.writeUInt32LE(i.argsz, 0);
  p.writeUInt32LE(i.flags, 4);
  p.writeUInt32LE(i.index, 8);
  p.writeUInt32LE(i.count, 12);
  return p;
}

export function decodeIrqInfo(p: Buffer): IrqInfo {
  need(p, IRQ_INFO_SIZE, 'DEVICE_GET_IRQ_INFO');
  return { argsz: p.readUInt32LE(0), flags: p.readUInt32LE(4), index: p.readUInt32LE(8), count: p.readUInt32LE(12) };
}

// -------------------------------------------------------------------------- DEVICE_SET_IRQS (8)
// argsz u32 @0, flags u32 @4, index u32 @8, start u32 @12, count u32 @16, data @20

export const IRQ_SET_DATA_NONE = 1 << 0;
export const IRQ_SET_DATA_BOOL = 1 << 1;
export const IRQ_SET_DATA_EVENTFD = 1 << 2;
export const IRQ_SET_ACTION_MASK = 1 << 3;
export const IRQ_SET_ACTION_UNMASK = 1 << 4;
export const IRQ_SET_ACTION_TRIGGER = 1 << 5;
export const IRQ_SET_SIZE = 20;

export const IrqIndex = { INTX: 0, MSI: 1, MSIX: 2, ERR: 3, REQ: 4 } as const;

export interface SetIrqs {
  argsz: number;
  flags: number;
  index: number;
  start: number;
  count: number;
  data: Buffer;
}

export function encodeSetIrqs(s: Omit<SetIrqs, 'argsz' | 'data'> & { data?: Buffer; argsz?: number }): Buffer {
  const data = s.data ?? Buffer.alloc(0);
  const p = Buffer.alloc(IRQ_SET_SIZE + data.length);
  p.writeUInt32LE(s.argsz ?? p.length, 0);
  p.writeUInt32LE(s.flags, 4);
  p.writeUInt32LE(s.index, 8);
  p.writeUInt32LE(s.start, 12);
  p.writeUInt32LE(s.count, 16);
  data.copy(p, IRQ_SET_SIZE);
  return p;
}

export function decodeSetIrqs(p: Buffer): SetIrqs {
  need(p, IRQ_SET_SIZE, 'DEVICE_SET_IRQS');
  return {
    argsz: p.readUInt32LE(0),
    flags: p.readUInt32LE(4),
    index: p.readUInt32LE(8),
    start: p.readUInt32LE(12),
    count: p.readUInt32LE(16),
    data: p.subarray(IRQ_SET_SIZE),
  };
}

// -------------------------------------------------------------------------- REGION_READ / REGION_WRITE (9, 10)
// offset u64 @0, region u32 @8, count u32 @12, data @16

export const REGION_ACCESS_SIZE = 16;

export interface RegionAccess {
  offset: bigint;
  region: number;
  count: number;
  data: Buffer;
}

export function encodeRegionAccess(a: { offset: bigint; region: number; count: number; data?: Buffer }): Buffer {
  const data = a.data ?? Buffer.alloc(0);
  const p = Buffer.alloc(REGION_ACCESS_SIZE + data.length);
  p.writeBigUInt64LE(a.offset, 0);
  p.writeUInt32LE(a.region, 8);
  p.writeUInt32LE(a.count, 12);
  data.copy(p, REGION_ACCESS_SIZE);
  return p;
}

export function decodeRegionAccess(p: Buffer, what = 'REGION access'): RegionAccess {
  need(p, REGION_ACCESS_SIZE, what);
  return { offset: p.readBigUInt64LE(0), region: p.readUInt32LE(8), count: p.readUInt32LE(12), data: p.subarray(REGION_ACCESS_SIZE) };
}

// -------------------------------------------------------------------------- DMA_READ / DMA_WRITE (11, 12), server -> client
// address u64 @0, count u64 @8, data @16 (libvfio-user layout; see PROTOCOL.md 1.13)

export const DMA_RW_SIZE = 16;

export interface DmaRw {
  address: bigint;
  count: bigint;
  data: Buffer;
}

export function encodeDmaRw(d: { address: bigint; count: bigint; data?: Buffer }): Buffer {
  const data = d.data ?? Buffer.alloc(0);
  const p = Buffer.alloc(DMA_RW_SIZE + data.length);
  p.writeBigUInt64LE(d.address, 0);
  p.writeBigUInt64LE(d.count, 8);
  data.copy(p, DMA_RW_SIZE);
  return p;
}

export function decodeDmaRw(p: Buffer): DmaRw {
  need(p, DMA_RW_SIZE, 'DMA_READ/WRITE');
  return { address: p.readBigUInt64LE(0), count: p.readBigUInt64LE(8), data: p.subarray(DMA_RW_SIZE) };
}

// -------------------------------------------------------------------------- REGION_WRITE_MULTI (15)
// wr_cnt u64 @0, then entries of 24 bytes: offset u64 @0, region u32 @8, count u32 @12, data[8] @16

export const WRITE_MULTI_ENTRY = 24;
export const WRITE_MULTI_MAX = 200;

export interface WriteMultiEntry {
  offset: bigint;
  region: number;
  data: Buffer;
}

export function encodeWriteMulti(entries: WriteMultiEntry[]): Buffer {
  const p = Buffer.alloc(8 + WRITE_MULTI_ENTRY * entries.length);
  p.writeBigUInt64LE(BigInt(entries.length), 0);
  entries.forEach((e, i) => {
    const at = 8 + WRITE_MULTI_ENTRY * i;
    p.writeBigUInt64LE(e.offset, at);
    p.writeUInt32LE(e.region, at + 8);
    p.writeUInt32LE(e.data.length, at + 12);
    e.data.copy(p, at + 16, 0, Math.min(8, e.data.length));
  });
  return p;
}

export function decodeWriteMulti(p: Buffer): WriteMultiEntry[] {
  need(p, 8, 'REGION_WRITE_MULTI');
  const n = p.readBigUInt64LE(0);
  if (n === 0n || n > BigInt(WRITE_MULTI_MAX)) throw new WireError(Errno.EINVAL, `REGION_WRITE_MULTI: ${n} entries (1..${WRITE_MULTI_MAX})`);
  need(p, 8 + WRITE_MULTI_ENTRY * Number(n), 'REGION_WRITE_MULTI');
  const out: WriteMultiEntry[] = [];
  for (let i = 0; i < Number(n); i++) {
    const at = 8 + WRITE_MULTI_ENTRY * i;
    const count = p.readUInt32LE(at + 12);
    if (count === 0 || count > 8) throw new WireError(Errno.EINVAL, `REGION_WRITE_MULTI: entry ${i} count ${count} (1..8)`);
    out.push({ offset: p.readBigUInt64LE(at), region: p.readUInt32LE(at + 8), data: Buffer.from(p.subarray(at + 16, at + 16 + count)) });
  }
  return out;
}

// -------------------------------------------------------------------------- DEVICE_FEATURE (16), migration v2
// argsz u32 @0, flags u32 @4 (bits 0-15 feature, bit16 GET, bit17 SET, bit18 PROBE), data @8

export const FEATURE_MASK = 0xffff;
export const FEATURE_GET = 1 << 16;
export const FEATURE_SET = 1 << 17;
export const FEATURE_PROBE = 1 << 18;
export const DEVICE_FEATURE_SIZE = 8;
export const Feature = {
  MIGRATION: 1,
  MIG_DEVICE_STATE: 2,
  DMA_LOGGING_START: 6,
  DMA_LOGGING_STOP: 7,
  DMA_LOGGING_REPORT: 8,
} as const;

export interface DeviceFeature {
  argsz: number;
  flags: number;
  data: Buffer;
}

export function encodeDeviceFeature(f: { argsz?: number; flags: number; data?: Buffer }): Buffer {
  const data = f.data ?? Buffer.alloc(0);
  const p = Buffer.alloc(DEVICE_FEATURE_SIZE + data.length);
  p.writeUInt32LE(f.argsz ?? p.length, 0);
  p.writeUInt32LE(f.flags, 4);
  data.copy(p, DEVICE_FEATURE_SIZE);
  return p;
}

export function decodeDeviceFeature(p: Buffer): DeviceFeature {
  need(p, DEVICE_FEATURE_SIZE, 'DEVICE_FEATURE');
  return { argsz: p.readUInt32LE(0), flags: p.readUInt32LE(4), data: p.subarray(DEVICE_FEATURE_SIZE) };
}

// -------------------------------------------------------------------------- MIG_DATA_READ / WRITE (17, 18)
// argsz u32 @0, size u32 @4, data @8

export const MIG_DATA_SIZE = 8;

export function encodeMigData(m: { argsz?: number; size: number; data?: Buffer }): Buffer {
  const data = m.data ?? Buffer.alloc(0);
  const p = Buffer.alloc(MIG_DATA_SIZE + data.length);
  p.writeUInt32LE(m.argsz ?? p.length, 0);
  p.writeUInt32LE(m.size, 4);
  data.copy(p, MIG_DATA_SIZE);
  return p;
}

export function decodeMigData(p: Buffer): { argsz: number; size: number; data: Buffer } {
  need(p, MIG_DATA_SIZE, 'MIG_DATA');
  return { argsz: p.readUInt32LE(0), size: p.readUInt32LE(4), data: p.subarray(MIG_DATA_SIZE) };
}

// -------------------------------------------------------------------------- PCI region indices

export const RegionIndex = {
  BAR0: 0,
  BAR1: 1,
  BAR2: 2,
  BAR3: 3,
  BAR4: 4,
  BAR5: 5,
  ROM: 6,
  CONFIG: 7,
  VGA: 8,
  MIGRATION: 9,
} as const;

export function commandName(c: number): string {
  return Command[c] ?? `command ${c}`;
}

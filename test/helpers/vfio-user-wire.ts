// A second vfio-user encoder, for tests: every message the tests check re-declared as a table of
// fields with the byte offsets and sizes the vfio-user specification gives (QEMU
// docs/interop/vfio-user.rst, libvfio-user docs/vfio-user.rst), packed and unpacked by one
// generic routine, as libvfio-user's test client re-declares the structs rather than include the
// server's. Nothing here comes from target/vfio-user/wire.ts: test/vfio-user/wire-independent.test.ts
// holds that encoder to this one, and the conformance run checks what its client sends against it.
// Command ids and region/IRQ indices come from the conformance suite's spec table, which is
// written from the same spec and is itself independent of the target.
import { DMA_MAP_READ, DMA_MAP_WRITE, VfioUserCommand } from '../../harness/initiator/conformance/spec.js';

export { DMA_MAP_READ, DMA_MAP_WRITE, VfioUserCommand };

// ------------------------------------------------------------------ struct tables

type Kind = 'u16' | 'u32' | 'u64' | 'bytes';
/** [name, offset, size in bytes, kind]: one row of a spec table. */
type Row = readonly [name: string, offset: number, size: number, kind?: Kind];

export interface Struct {
  name: string;
  size: number;
  rows: readonly Row[];
}

export type Values = Record<string, number | bigint | Buffer>;

/**
 * Declares a struct from its spec table. The rows must tile the struct exactly (each field
 * starts where the previous one ends, the last ends at `size`), so a slip in an offset fails here.
 */
export function struct(name: string, size: number, rows: Row[]): Struct {
  let at = 0;
  for (const [field, offset, len, kind] of rows) {
    if (offset !== at) throw new Error(`${name}.${field}: offset ${offset}, expected ${at} (a gap or an overlap)`);
    if ((kind ?? 'int') !== 'bytes' && ![2, 4, 8].includes(len)) throw new Error(`${name}.${field}: integer of ${len} bytes`);
    at = offset + len;
  }
  if (at !== size) throw new Error(`${name}: fields end at ${at}, the struct is ${size} bytes`);
  return { name, size, rows };
}

function kindOf(r: Row): Kind {
  return r[3] ?? (r[2] === 2 ? 'u16' : r[2] === 4 ? 'u32' : 'u64');
}

/** Packs `v` (missing fields are zero) into a buffer of `s.size` bytes, little-endian. */
export function pack(s: Struct, v: Values): Buffer {
  const b = Buffer.alloc(s.size);
  for (const r of s.rows) {
    const [name, off, len] = r;
    const x = v[name];
    if (x === undefined) continue;
    switch (kindOf(r)) {
      case 'u16':
        b.writeUInt16LE(Number(x), off);
        break;
      case 'u32':
        b.writeUInt32LE(Number(x), off);
        break;
      case 'u64':
        b.writeBigUInt64LE(BigInt(x as number | bigint), off);
        break;
      case 'bytes':
        (x as Buffer).copy(b, off, 0, Math.min(len, (x as Buffer).length));
        break;
    }
  }
  return b;
}

/** Unpacks `s` from `buf` at `at`: u16/u32 as numbers, u64 as bigints, bytes as a copy. */
export function unpack(s: Struct, buf: Buffer, at = 0): Record<string, number | bigint | Buffer> {
  if (buf.length < at + s.size) throw new RangeError(`${s.name}: ${buf.length - at} bytes, ${s.size} needed`);
  const out: Record<string, number | bigint | Buffer> = {};
  for (const r of s.rows) {
    const [name, off, len] = r;
    const p = at + off;
    switch (kindOf(r)) {
      case 'u16':
        out[name] = buf.readUInt16LE(p);
        break;
      case 'u32':
        out[name] = buf.readUInt32LE(p);
        break;
      case 'u64':
        out[name] = buf.readBigUInt64LE(p);
        break;
      case 'bytes':
        out[name] = Buffer.from(buf.subarray(p, p + len));
        break;
    }
  }
  return out;
}

// The spec's tables ("Offset", "Size" columns). Offsets of message bodies count from the end
// of the 16-byte header, as the spec gives them.

/** Header: every message, command or reply. */
export const HEADER = struct('vfio_user_header', 16, [
  ['msg_id', 0, 2],
  ['cmd', 2, 2],
  ['msg_size', 4, 4], // the whole message, header included
  ['flags', 8, 4], // bits 0-3 Type, 4 No_reply, 5 Error
  ['error', 12, 4],
]);
/** VFIO_USER_VERSION request and reply: then version data (JSON, NUL-terminated, optional). */
export const VERSION = struct('vfio_user_version', 4, [
  ['major', 0, 2],
  ['minor', 2, 2],
]);
/** VFIO_USER_DMA_MAP request ("This structure is 32 bytes in size"). */
export const DMA_MAP = struct('vfio_user_dma_map', 32, [
  ['argsz', 0, 4],
  ['flags', 4, 4],
  ['offset', 8, 8],
  ['address', 16, 8],
  ['size', 24, 8],
]);
/** VFIO_USER_DMA_UNMAP request and reply ("16 + 24"), then the VFIO Bitmap when flag bit 0. */
export const DMA_UNMAP = struct('vfio_user_dma_unmap', 24, [
  ['argsz', 0, 4],
  ['flags', 4, 4],
  ['address', 8, 8],
  ['size', 16, 8],
]);
export const BITMAP = struct('vfio_bitmap', 16, [
  ['pgsize', 0, 8],
  ['size', 8, 8],
]);
/** VFIO_USER_DEVICE_GET_INFO request and reply. */
export const DEVICE_INFO = struct('vfio_user_device_info', 16, [
  ['argsz', 0, 4],
  ['flags', 4, 4],
  ['num_regions', 8, 4],
  ['num_irqs', 12, 4],
]);
/** VFIO_USER_DEVICE_GET_REGION_INFO request and reply (struct vfio_region_info). */
export const REGION_INFO = struct('vfio_region_info', 32, [
  ['argsz', 0, 4],
  ['flags', 4, 4],
  ['index', 8, 4],
  ['cap_offset', 12, 4],
  ['size', 16, 8],
  ['offset', 24, 8],
]);
/** VFIO cap header; `next` counts from the start of the region info. */
export const CAP_HEADER = struct('vfio_info_cap_header', 8, [
  ['id', 0, 2],
  ['version', 2, 2],
  ['next', 4, 4],
]);
/** VFIO region info cap sparse mmap, after the cap header; then nr_areas areas. */
export const SPARSE_MMAP = struct('vfio_region_info_cap_sparse_mmap', 8, [
  ['nr_areas', 0, 4],
  ['reserved', 4, 4],
]);
export const SPARSE_AREA = struct('vfio_region_sparse_mmap_area', 16, [
  ['offset', 0, 8],
  ['size', 8, 8],
]);
/** linux/vfio.h struct vfio_region_info_cap_type, after the cap header. */
export const CAP_TYPE = struct('vfio_region_info_cap_type', 8, [
  ['type', 0, 4],
  ['subtype', 4, 4],
]);
/** VFIO_USER_DEVICE_GET_IRQ_INFO request and reply (struct vfio_irq_info). */
export const IRQ_INFO = struct('vfio_irq_info', 16, [
  ['argsz', 0, 4],
  ['flags', 4, 4],
  ['index', 8, 4],
  ['count', 12, 4],
]);
/** VFIO_USER_DEVICE_SET_IRQS request (struct vfio_irq_set); then data. */
export const IRQ_SET = struct('vfio_irq_set', 20, [
  ['argsz', 0, 4],
  ['flags', 4, 4],
  ['index', 8, 4],
  ['start', 12, 4],
  ['count', 16, 4],
]);
/** VFIO_USER_REGION_READ / REGION_WRITE requests and replies; then data. */
export const REGION_ACCESS = struct('vfio_user_region_access', 16, [
  ['offset', 0, 8],
  ['region', 8, 4],
  ['count', 12, 4],
]);
/** VFIO_USER_DMA_READ / DMA_WRITE (server to client); then data. */
export const DMA_ACCESS = struct('vfio_user_dma_region_access', 16, [
  ['address', 0, 8],
  ['count', 8, 8],
]);
/** VFIO_USER_REGION_WRITE_MULTI request: wr_cnt, then wr_cnt single device writes. The reply is wr_cnt alone. */
export const WRITE_MULTI = struct('vfio_user_region_write_multi', 8, [['wr_cnt', 0, 8]]);
export const WRITE_MULTI_ENTRY = struct('vfio_user_write_multi_data', 24, [
  ['offset', 0, 8],
  ['region', 8, 4],
  ['count', 12, 4],
  ['data', 16, 8, 'bytes'],
]);

// ------------------------------------------------------------------ flag bits (the spec's "Bit / Definition" tables)

export const TYPE_COMMAND = 0x0;
export const TYPE_REPLY = 0x1;
export const FLAG_NO_REPLY = 1 << 4;
export const FLAG_ERROR = 1 << 5;
export const DEVICE_FLAGS_RESET = 1 << 0;
export const DEVICE_FLAGS_PCI = 1 << 1;
export const DMA_UNMAP_GET_DIRTY_BITMAP = 1 << 0;
export const DMA_UNMAP_ALL = 1 << 1;
export const REGION_INFO_FLAG_READ = 1 << 0;
export const REGION_INFO_FLAG_WRITE = 1 << 1;
export const REGION_INFO_FLAG_MMAP = 1 << 2;
export const REGION_INFO_FLAG_CAPS = 1 << 3;
/** linux/vfio.h VFIO_REGION_INFO_CAP_SPARSE_MMAP, VFIO_REGION_INFO_CAP_TYPE. */
export const CAP_ID_SPARSE_MMAP = 1;
export const CAP_ID_TYPE = 2;
export const IRQ_INFO_EVENTFD = 1 << 0;
export const IRQ_INFO_MASKABLE = 1 << 1;
export const IRQ_INFO_AUTOMASKED = 1 << 2;
export const IRQ_INFO_NORESIZE = 1 << 3;
export const IRQ_SET_DATA_NONE = 1 << 0;
export const IRQ_SET_DATA_BOOL = 1 << 1;
export const IRQ_SET_DATA_EVENTFD = 1 << 2;
export const IRQ_SET_ACTION_MASK = 1 << 3;
export const IRQ_SET_ACTION_UNMASK = 1 << 4;
export const IRQ_SET_ACTION_TRIGGER = 1 << 5;

// ------------------------------------------------------------------ messages

/** A whole message: the header (msg_size counted here) and the body. */
export function message(h: { id: number; cmd: number; flags: number; error?: number }, body: Buffer = Buffer.alloc(0)): Buffer {
  const hdr = pack(HEADER, { msg_id: h.id, cmd: h.cmd, msg_size: HEADER.size + body.length, flags: h.flags, error: h.error ?? 0 });
  return Buffer.concat([hdr, body]);
}

export function command(id: number, cmd: number, body?: Buffer, o: { noReply?: boolean } = {}): Buffer {
  return message({ id, cmd, flags: TYPE_COMMAND | (o.noReply ? FLAG_NO_REPLY : 0) }, body);
}

export function reply(id: number, cmd: number, body?: Buffer): Buffer {
  return message({ id, cmd, flags: TYPE_REPLY }, body);
}

/** An error reply carries the header only. */
export function errorReply(id: number, cmd: number, errno: number): Buffer {
  return message({ id, cmd, flags: TYPE_REPLY | FLAG_ERROR, error: errno });
}

/** VERSION body: major, minor, then the JSON text with its terminating NUL when there is one. */
export function version(v: { major: number; minor: number; json?: string }): Buffer {
  const head = pack(VERSION, { major: v.major, minor: v.minor });
  return v.json === undefined ? head : Buffer.concat([head, Buffer.from(v.json + '\0', 'utf8')]);
}

export function decodeVersion(body: Buffer): { major: number; minor: number; json?: string } {
  const v = unpack(VERSION, body) as { major: number; minor: number };
  if (body.length === VERSION.size) return { major: v.major, minor: v.minor };
  if (body[body.length - 1] !== 0) throw new Error('version data is not NUL-terminated');
  return { major: v.major, minor: v.minor, json: body.subarray(VERSION.size, body.length - 1).toString('utf8') };
}

export function dmaMap(m: { flags: number; offset: bigint; address: bigint; size: bigint; argsz?: number }): Buffer {
  return pack(DMA_MAP, { ...m, argsz: m.argsz ?? DMA_MAP.size });
}

/** DMA_UNMAP request (or the server's echo of it), with the VFIO Bitmap when one is given. */
export function dmaUnmap(u: { flags: number; address: bigint; size: bigint; bitmap?: { pgsize: bigint; size: bigint }; argsz?: number }): Buffer {
  const parts = [pack(DMA_UNMAP, { argsz: u.argsz ?? DMA_UNMAP.size + (u.bitmap ? BITMAP.size : 0), flags: u.flags, address: u.address, size: u.size })];
  if (u.bitmap) parts.push(pack(BITMAP, u.bitmap));
  return Buffer.concat(parts);
}

export function deviceInfo(d: { argsz?: number; flags?: number; num_regions?: number; num_irqs?: number } = {}): Buffer {
  return pack(DEVICE_INFO, { ...d, argsz: d.argsz ?? DEVICE_INFO.size });
}

/** REGION_INFO request: argsz and index only ("all other fields must be zero"). */
export function regionInfoRequest(index: number, argsz: number = REGION_INFO.size): Buffer {
  return pack(REGION_INFO, { argsz, index });
}

export type RegionCap = { sparse: { offset: bigint; size: bigint }[] } | { type: number; subtype: number };

/**
 * REGION_INFO reply: the region info, then its capabilities chained in the order given, each
 * cap's `next` the offset of the following one from the start of the region info (0 for the
 * last); argsz the full length; CAPS set in flags and cap_offset pointing at the first when any.
 */
export function regionInfoReply(r: { flags: number; index: number; size: bigint; offset: bigint; caps?: RegionCap[] }): Buffer {
  const caps = r.caps ?? [];
  const bodies = caps.map((c) =>
    'sparse' in c
      ? { id: CAP_ID_SPARSE_MMAP, body: Buffer.concat([pack(SPARSE_MMAP, { nr_areas: c.sparse.length }), ...c.sparse.map((a) => pack(SPARSE_AREA, a))]) }
      : { id: CAP_ID_TYPE, body: pack(CAP_TYPE, c) },
  );
  const lengths = bodies.map((b) => CAP_HEADER.size + b.body.length);
  const total = REGION_INFO.size + lengths.reduce((n, l) => n + l, 0);
  const out = [pack(REGION_INFO, { argsz: total, flags: r.flags | (caps.length ? REGION_INFO_FLAG_CAPS : 0), index: r.index, cap_offset: caps.length ? REGION_INFO.size : 0, size: r.size, offset: r.offset })];
  let at = REGION_INFO.size;
  bodies.forEach((b, i) => {
    at += lengths[i]!;
    out.push(pack(CAP_HEADER, { id: b.id, version: 1, next: i + 1 < bodies.length ? at : 0 }), b.body);
  });
  return Buffer.concat(out);
}

/** Walks a REGION_INFO reply's capability chain (bounded: at most 16 caps, forward only). */
export function decodeRegionInfoReply(body: Buffer): { info: Record<string, number | bigint | Buffer>; sparse?: { offset: bigint; size: bigint }[]; type?: { type: number; subtype: number } } {
  const info = unpack(REGION_INFO, body);
  const out: ReturnType<typeof decodeRegionInfoReply> = { info };
  let at = Number(info.flags) & REGION_INFO_FLAG_CAPS ? Number(info.cap_offset) : 0;
  for (let n = 0; at !== 0 && n < 16; n++) {
    const h = unpack(CAP_HEADER, body, at);
    const p = at + CAP_HEADER.size;
    if (h.id === CAP_ID_SPARSE_MMAP) {
      const s = unpack(SPARSE_MMAP, body, p);
      out.sparse = Array.from({ length: Number(s.nr_areas) }, (_, i) => unpack(SPARSE_AREA, body, p + SPARSE_MMAP.size + SPARSE_AREA.size * i) as { offset: bigint; size: bigint });
    } else if (h.id === CAP_ID_TYPE) out.type = unpack(CAP_TYPE, body, p) as { type: number; subtype: number };
    if (Number(h.next) <= at) break;
    at = Number(h.next);
  }
  return out;
}

export function irqInfo(i: { argsz?: number; flags?: number; index: number; count?: number }): Buffer {
  return pack(IRQ_INFO, { ...i, argsz: i.argsz ?? IRQ_INFO.size });
}

/** SET_IRQS: argsz covers the data ("including any data field"). */
export function setIrqs(s: { flags: number; index: number; start: number; count: number; data?: Buffer; argsz?: number }): Buffer {
  const data = s.data ?? Buffer.alloc(0);
  return Buffer.concat([pack(IRQ_SET, { argsz: s.argsz ?? IRQ_SET.size + data.length, flags: s.flags, index: s.index, start: s.start, count: s.count }), data]);
}

/** REGION_READ request (no data), REGION_READ reply and REGION_WRITE request (data), REGION_WRITE reply (none). */
export function regionAccess(a: { offset: bigint; region: number; count: number; data?: Buffer }): Buffer {
  return Buffer.concat([pack(REGION_ACCESS, a), a.data ?? Buffer.alloc(0)]);
}

export function dmaAccess(d: { address: bigint; count: bigint; data?: Buffer }): Buffer {
  return Buffer.concat([pack(DMA_ACCESS, d), d.data ?? Buffer.alloc(0)]);
}

export function writeMulti(writes: { offset: bigint; region: number; data: Buffer }[]): Buffer {
  return Buffer.concat([pack(WRITE_MULTI, { wr_cnt: BigInt(writes.length) }), ...writes.map((w) => pack(WRITE_MULTI_ENTRY, { offset: w.offset, region: w.region, count: w.data.length, data: w.data }))]);
}

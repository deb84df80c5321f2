// Migration v2 on the wire (vfio-user spec "DEVICE_FEATURE", "MIG_DATA_READ/WRITE"):
//   DEVICE_FEATURE: argsz u32 @0, flags u32 @4 (feature index bits 0-15, GET 16, SET 17,
//     PROBE 18), data @8. A PROBE or SET reply echoes the request; a GET appends the data.
//   MIGRATION (1, GET): u64 flags — STOP_COPY 1 | PRE_COPY 4 (no P2P).
//   MIG_DEVICE_STATE (2, GET/SET): device_state u32 @0, data_fd u32 @4 (unused: -1).
//   DMA_LOGGING_START (6, SET): page_size u64 @0, num_ranges u32 @8, rsvd u32 @12,
//     ranges {iova u64, length u64} @16 (none = all memory).
//   DMA_LOGGING_STOP (7, SET): no data.
//   DMA_LOGGING_REPORT (8, GET): iova u64 @0, length u64 @8, page_size u64 @16; the reply
//     appends the bitmap (u64 words, bit n = page n) at @24.
//   MIG_DATA_READ: argsz u32, size u32 -> argsz u32, size u32, data (short = no more now).
//   MIG_DATA_WRITE: argsz u32, size u32, data.
import * as W from '../vfio-user/wire.js';
import type { DeviceMigration } from './migration.js';
import { MAX_BITMAP_SIZE } from './v1.js';

export const MIGRATION_FLAG_STOP_COPY = 1n;
export const MIGRATION_FLAG_P2P = 2n;
export const MIGRATION_FLAG_PRE_COPY = 4n;
export const MAX_LOGGING_RANGES = 1024;

function reply(argsz: number, flags: number, data: Buffer): Buffer {
  return W.encodeDeviceFeature({ argsz, flags, data });
}

export function handleDeviceFeature(m: DeviceMigration, p: Buffer): Buffer | Promise<Buffer> {
  const req = W.decodeDeviceFeature(p);
  const feature = req.flags & W.FEATURE_MASK;
  const ops = req.flags & (W.FEATURE_GET | W.FEATURE_SET | W.FEATURE_PROBE);
  if (req.flags & ~(W.FEATURE_MASK | W.FEATURE_GET | W.FEATURE_SET | W.FEATURE_PROBE)) throw new W.WireError(W.Errno.EINVAL, `DEVICE_FEATURE: unknown flags 0x${req.flags.toString(16)}`);
  const get = (ops & W.FEATURE_GET) !== 0;
  const set = (ops & W.FEATURE_SET) !== 0;
  const probe = (ops & W.FEATURE_PROBE) !== 0;
  if (get && set) throw new W.WireError(W.Errno.EINVAL, 'DEVICE_FEATURE: GET and SET together');
  if (!get && !set && !probe) throw new W.WireError(W.Errno.EINVAL, 'DEVICE_FEATURE: none of GET, SET, PROBE');
  const supports: Record<number, { get: boolean; set: boolean }> = {
    [W.Feature.MIGRATION]: { get: true, set: false },
    [W.Feature.MIG_DEVICE_STATE]: { get: true, set: true },
    [W.Feature.DMA_LOGGING_START]: { get: false, set: true },
    [W.Feature.DMA_LOGGING_STOP]: { get: false, set: true },
    [W.Feature.DMA_LOGGING_REPORT]: { get: true, set: false },
  };
  const s = supports[feature];
  if (!s) throw new W.WireError(W.Errno.ENOTSUP, `DEVICE_FEATURE: feature ${feature} is not supported`);
  if ((get && !s.get) || (set && !s.set)) throw new W.WireError(W.Errno.EINVAL, `DEVICE_FEATURE: feature ${feature} does not support ${get ? 'GET' : 'SET'}`);
  if (probe) return reply(W.DEVICE_FEATURE_SIZE + req.data.length, req.flags, req.data); // PROBE (alone or with GET/SET) only asks

  switch (feature) {
    case W.Feature.MIGRATION: {
      const d = Buffer.alloc(8);
      d.writeBigUInt64LE(MIGRATION_FLAG_STOP_COPY | MIGRATION_FLAG_PRE_COPY);
      return getReply(req, d);
    }
    case W.Feature.MIG_DEVICE_STATE: {
      if (get) {
        const d = Buffer.alloc(8);
        d.writeUInt32LE(m.state, 0);
        d.writeInt32LE(-1, 4);
        return getReply(req, d);
      }
      if (req.data.length < 8) throw new W.WireError(W.Errno.EINVAL, 'MIG_DEVICE_STATE: short data');
      const to = req.data.readUInt32LE(0);
      return m.setState(to).then(() => {
        const d = Buffer.from(req.data.subarray(0, 8));
        d.writeInt32LE(-1, 4);
        return reply(W.DEVICE_FEATURE_SIZE + 8, req.flags, d);
      });
    }
    case W.Feature.DMA_LOGGING_START: {
      if (req.data.length < 16) throw new W.WireError(W.Errno.EINVAL, 'DMA_LOGGING_START: short data');
      const pageSize = req.data.readBigUInt64LE(0);
      const nr = req.data.readUInt32LE(8);
      if (nr > MAX_LOGGING_RANGES) throw new W.WireError(W.Errno.E2BIG, `DMA_LOGGING_START: ${nr} ranges`);
      if (req.data.length < 16 + 16 * nr) throw new W.WireError(W.Errno.EINVAL, `DMA_LOGGING_START: ${nr} ranges but ${req.data.length - 16} bytes`);
      for (let i = 0; i < nr; i++) {
        const len = req.data.readBigUInt64LE(16 + 16 * i + 8);
        if (len === 0n) throw new W.WireError(W.Errno.EINVAL, `DMA_LOGGING_START: range ${i} is empty`);
      }
      if (pageSize > 1n << 30n) throw new W.WireError(W.Errno.EINVAL, 'DMA_LOGGING_START: page size too large');
      // Every mapped page is logged (a superset of the ranges asked for is allowed).
      m.startLogging(Number(pageSize));
      return reply(W.DEVICE_FEATURE_SIZE + req.data.length, req.flags, req.data);
    }
    case W.Feature.DMA_LOGGING_STOP:
      m.stopLogging();
      return reply(W.DEVICE_FEATURE_SIZE + req.data.length, req.flags, req.data);
    case W.Feature.DMA_LOGGING_REPORT: {
      if (req.data.length < 24) throw new W.WireError(W.Errno.EINVAL, 'DMA_LOGGING_REPORT: short data');
      const iova = req.data.readBigUInt64LE(0);
      const length = req.data.readBigUInt64LE(8);
      const pageSize = req.data.readBigUInt64LE(16);
      if (pageSize === 0n || pageSize > 1n << 30n || (pageSize & (pageSize - 1n)) !== 0n) throw new W.WireError(W.Errno.EINVAL, 'DMA_LOGGING_REPORT: bad page size');
      if (length === 0n) throw new W.WireError(W.Errno.EINVAL, 'DMA_LOGGING_REPORT: empty range');
      // Size the reply from the request before building it: the client's argsz must hold the
      // bitmap, and the bitmap is bounded as v1's is, so no request allocates more than that.
      const bitmapBytes = ((length + pageSize - 1n) / pageSize + 63n) / 64n * 8n;
      if (bitmapBytes > BigInt(MAX_BITMAP_SIZE)) throw new W.WireError(W.Errno.E2BIG, `DMA_LOGGING_REPORT: a bitmap of ${bitmapBytes} bytes exceeds ${MAX_BITMAP_SIZE}`);
      const need = BigInt(W.DEVICE_FEATURE_SIZE + 24) + bitmapBytes;
      if (BigInt(req.argsz) < need) throw new W.WireError(W.Errno.EINVAL, `DEVICE_FEATURE GET: argsz ${req.argsz} < ${need} needed`);
      const bitmap = m.dirtyBitmap(iova, length, Number(pageSize));
      return getReply(req, Buffer.concat([req.data.subarray(0, 24), bitmap]));
    }
  }
  throw new W.WireError(W.Errno.ENOTSUP, `DEVICE_FEATURE: feature ${feature}`);
}

/** A GET reply: the data after the header; argsz says how much the full reply needs. */
function getReply(req: W.DeviceFeature, data: Buffer): Buffer {
  const need = W.DEVICE_FEATURE_SIZE + data.length;
  if (req.argsz < need) throw new W.WireError(W.Errno.EINVAL, `DEVICE_FEATURE GET: argsz ${req.argsz} < ${need} needed`);
  return reply(need, req.flags, data);
}

export function handleMigDataRead(m: DeviceMigration, p: Buffer, maxXfer: number): Buffer {
  const r = W.decodeMigData(p);
  if (r.size > maxXfer) throw new W.WireError(W.Errno.EINVAL, `MIG_DATA_READ of ${r.size} bytes exceeds max_data_xfer_size ${maxXfer}`);
  if (r.argsz < W.MIG_DATA_SIZE + r.size) throw new W.WireError(W.Errno.EINVAL, `MIG_DATA_READ: argsz ${r.argsz} cannot hold ${r.size} bytes`);
  const data = m.readData(r.size);
  return W.encodeMigData({ argsz: W.MIG_DATA_SIZE + data.length, size: data.length, data });
}

export function handleMigDataWrite(m: DeviceMigration, p: Buffer): void {
  const r = W.decodeMigData(p);
  if (r.data.length !== r.size) throw new W.WireError(W.Errno.EINVAL, `MIG_DATA_WRITE: size ${r.size} but ${r.data.length} data bytes`);
  m.writeData(r.data);
}

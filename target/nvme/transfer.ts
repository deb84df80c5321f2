// Moving a command's data between guest memory and a buffer, for what TypeScript serves (admin
// commands, I/O on TypeScript bdevs). Where the data is comes from the one walker in native/
// (nvme-data.h, through native.walkData, or already walked by the engine for a bdev op); no
// NVMe data-pointer rule lives here. Data and lists in memory shared without an fd go by
// DMA_READ/DMA_WRITE messages (DmaSpace).
import { native } from '../../native/index.js';
import type { DmaSpace } from '../vfio-user/dma.js';
import { NvmeError, Status } from './constants.js';

export interface Segment {
  iova: bigint;
  len: number;
  /** Bit bucket: read data is discarded. */
  bucket: boolean;
}

/**
 * The segments of a command's data pointer for `len` bytes (`toHost`: the command writes host
 * memory). Throws NvmeError with the walker's status.
 */
export async function commandSegments(dma: DmaSpace, sqe: Buffer, len: number, toHost: boolean, allowSgl: boolean): Promise<Segment[]> {
  const pages: [bigint, Buffer][] = [];
  // Each round either finishes or names one more list page to fetch by message; a transfer of
  // len bytes has at most len/4096 + 1 PRP list pages or one segment per 16 descriptors.
  for (let round = 0; round <= 4096; round++) {
    const r = native.walkData(dma.table, sqe, len, toHost, allowSgl, pages);
    if (r.status === Status.SUCCESS) return r.segments;
    if (!r.need) throw new NvmeError(r.status, `data pointer walk ended in status 0x${r.status.toString(16)}`);
    let bytes: Buffer;
    try {
      bytes = await dma.read(r.need.iova, r.need.len);
    } catch {
      throw new NvmeError(Status.DATA_TRANSFER_ERROR, `list at 0x${r.need.iova.toString(16)} could not be read`);
    }
    pages.push([r.need.iova, bytes]);
  }
  throw new NvmeError(Status.DATA_TRANSFER_ERROR, 'data pointer walk needed more list pages than a transfer can have');
}

export async function gather(dma: DmaSpace, segs: Segment[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const s of segs) {
    try {
      parts.push(await dma.read(s.iova, s.len));
    } catch {
      throw new NvmeError(Status.DATA_TRANSFER_ERROR, `read of guest memory at 0x${s.iova.toString(16)} failed`);
    }
  }
  return Buffer.concat(parts);
}

export async function scatter(dma: DmaSpace, segs: Segment[], data: Buffer): Promise<void> {
  let at = 0;
  for (const s of segs) {
    if (!s.bucket) {
      try {
        await dma.write(s.iova, data.subarray(at, at + s.len));
      } catch {
        throw new NvmeError(Status.DATA_TRANSFER_ERROR, `write of guest memory at 0x${s.iova.toString(16)} failed`);
      }
    }
    at += s.len;
  }
}

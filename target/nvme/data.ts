// Data pointers in TypeScript (admin commands and I/O served by TypeScript bdevs): PRP1/PRP2
// with PRP lists, and SGLs, turned into guest-memory segments. The native engine has its own
// copy of these rules for the fast path; both are checked by the same conformance cases.
import type { DmaSpace } from '../vfio-user/dma.js';
import { NvmeError, PAGE_SIZE, Status } from './constants.js';

export interface Segment {
  iova: bigint;
  len: number;
  /** Bit bucket: read data is discarded. */
  bucket?: boolean;
}

const P = BigInt(PAGE_SIZE);

export async function prpSegments(dma: DmaSpace, prp1: bigint, prp2: bigint, len: number): Promise<Segment[]> {
  if (len === 0) return [];
  if (prp1 & 3n) throw new NvmeError(Status.INVALID_PRP_OFFSET, 'PRP1 not dword aligned');
  const first = Math.min(len, Number(P - (prp1 & (P - 1n))));
  const segs: Segment[] = [{ iova: prp1, len: first }];
  let left = len - first;
  if (left === 0) return segs;
  if (left <= PAGE_SIZE) {
    if (prp2 & (P - 1n)) throw new NvmeError(Status.INVALID_PRP_OFFSET, 'PRP2 has an offset');
    segs.push({ iova: prp2, len: left });
    return segs;
  }
  if (prp2 & 7n) throw new NvmeError(Status.INVALID_PRP_OFFSET, 'PRP list pointer not qword aligned');
  let list = prp2;
  // Every list page must carry at least one data entry before its chain pointer, so a transfer
  // of `len` bytes visits at most len/4096 + 1 list pages: a chain that loops (a list whose only
  // entry points at itself) or runs on ends in Data Transfer Error instead of spinning.
  const maxLists = Math.floor(len / PAGE_SIZE) + 1;
  let lists = 0;
  while (left > 0) {
    if (++lists > maxLists) throw new NvmeError(Status.DATA_TRANSFER_ERROR, `PRP list chain longer than a ${len}-byte transfer needs (a loop?)`);
    const entries = Number((P - (list & (P - 1n))) / 8n);
    let page: Buffer;
    try {
      page = await dma.read(list, entries * 8);
    } catch {
      throw new NvmeError(Status.DATA_TRANSFER_ERROR, 'PRP list not in mapped memory');
    }
    let chained = false;
    for (let i = 0; i < entries && left > 0; i++) {
      const e = page.readBigUInt64LE(8 * i);
      if (i === entries - 1 && left > PAGE_SIZE) {
        if (e & 7n) throw new NvmeError(Status.INVALID_PRP_OFFSET, 'PRP list chain pointer misaligned');
        list = e;
        chained = true;
        break;
      }
      if (e & (P - 1n)) throw new NvmeError(Status.INVALID_PRP_OFFSET, 'PRP entry has an offset');
      const n = Math.min(left, PAGE_SIZE);
      segs.push({ iova: e, len: n });
      left -= n;
      if (segs.length > 4096) throw new NvmeError(Status.INVALID_FIELD, 'PRP list too long');
    }
    if (!chained && left > 0) break;
  }
  return segs;
}

export async function sglSegments(dma: DmaSpace, sgl1: Buffer, len: number, isRead: boolean): Promise<Segment[]> {
  const segs: Segment[] = [];
  let desc: Buffer = Buffer.from(sgl1);
  let list: Buffer | null = null;
  let idx = 0;
  let have = 0;
  let last = false;
  for (let guard = 0; guard < 4096; guard++) {
    const type = desc[15]! >> 4;
    const sub = desc[15]! & 0xf;
    const addr = desc.readBigUInt64LE(0);
    const dlen = desc.readUInt32LE(8);
    if (sub !== 0) throw new NvmeError(status1(0x11), 'SGL descriptor subtype');
    if (type === 0 || type === 1) {
      if (type === 1 && !isRead) throw new NvmeError(status1(0x11), 'bit bucket in a write');
      if (have < len && dlen > 0) segs.push({ iova: addr, len: Math.min(dlen, len - have), bucket: type === 1 });
      have += dlen;
    } else if (type === 2 || type === 3) {
      if ((list && idx !== list.length / 16) || last) throw new NvmeError(status1(0x0d), 'SGL segment descriptor not last');
      if (dlen === 0 || dlen % 16) throw new NvmeError(status1(0x0e), 'SGL segment length');
      try {
        list = await dma.read(addr, dlen);
      } catch {
        throw new NvmeError(Status.DATA_TRANSFER_ERROR, 'SGL segment not in mapped memory');
      }
      idx = 0;
      last = type === 3;
    } else throw new NvmeError(status1(0x11), `SGL descriptor type ${type}`);
    if (!list || idx >= list.length / 16) break;
    desc = list.subarray(16 * idx, 16 * idx + 16);
    idx++;
  }
  if (have < len) throw new NvmeError(status1(0x0f), 'SGL shorter than the transfer');
  return segs;
}

function status1(sc: number): number {
  return (1 << 14) | sc;
}

/** Segments for a command's data pointer (PSDT from CDW0 bits 15:14). */
export async function commandSegments(dma: DmaSpace, sqe: Buffer, len: number, isRead: boolean, allowSgl: boolean): Promise<Segment[]> {
  const psdt = (sqe[1]! >> 6) & 3;
  if (psdt === 0) return prpSegments(dma, sqe.readBigUInt64LE(24), sqe.readBigUInt64LE(32), len);
  if (!allowSgl || psdt === 3) throw new NvmeError(Status.INVALID_FIELD, `PSDT ${psdt} not allowed`);
  return sglSegments(dma, sqe.subarray(24, 40), len, isRead);
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

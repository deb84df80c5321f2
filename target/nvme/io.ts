// I/O commands served in TypeScript: namespaces whose bdev works here (error injection,
// delay), opcodes the engine does not know, and fused commands. Completions go back down to
// the engine, which posts them in order with its own.
import { BdevIoError } from '../bdev/bdev.js';
import { IoOpcode, NvmeError, Status, statusName } from './constants.js';
import type { NvmeController } from './controller.js';
import { commandSegments, gather, scatter } from './data.js';

export async function executeIo(c: NvmeController, sqid: number, sqe: Buffer): Promise<void> {
  const cid = sqe.readUInt16LE(2);
  const nsid = sqe.readUInt32LE(4);
  const key = `${sqid}:${cid}`;
  // Fetched just before its SQ was deleted (the upcall raced Delete I/O SQ): nothing to post.
  if (!c.sqs.has(sqid)) return;
  let aborted: 'requested' | 'dropped' | null = null;
  const entry = { abort: (how: 'requested' | 'dropped') => void (aborted ??= how) };
  c.inflightIo.set(key, entry);
  let st: number = Status.SUCCESS;
  let lba = 0n;
  try {
    lba = sqe.readBigUInt64LE(40);
    await run(c, sqe, () => aborted !== null);
  } catch (err) {
    if (err instanceof NvmeError) st = err.status;
    else if (err instanceof BdevIoError) st = (err.status.sct << 8) | err.status.sc;
    else {
      c.log.error('I/O command failed internally', { error: (err as Error).message });
      st = Status.INTERNAL_ERROR;
    }
  }
  if (c.inflightIo.get(key) === entry) c.inflightIo.delete(key);
  // Reset or SQ deletion: the queue this command came from is gone; post nothing.
  if (aborted === 'dropped') return;
  if (aborted) st = Status.ABORT_REQUESTED;
  if (st !== Status.SUCCESS) {
    c.log.debug('I/O command failed', { sqid, cid, status: statusName(st) });
    c.errorLog.record({ sqid, cid, status: st, paramLocation: 0xffff, lba, nsid });
    if (((st >> 8) & 7) === 2) c.jsStats.mediaErrors++;
  }
  try {
    c.io.complete(sqid, cid, st, 0);
  } catch {
    /* controller gone */
  }
}

async function run(c: NvmeController, sqe: Buffer, aborted: () => boolean): Promise<void> {
  const opc = sqe[0]!;
  const fuse = sqe[1]! & 3;
  if (fuse) throw new NvmeError(Status.INVALID_FIELD, 'fused operations are not supported (FUSES = 0)');
  if (![IoOpcode.FLUSH, IoOpcode.READ, IoOpcode.WRITE, IoOpcode.COMPARE, IoOpcode.WRITE_ZEROES, IoOpcode.DSM].includes(opc as 0))
    throw new NvmeError(Status.INVALID_OPCODE, `I/O opcode 0x${opc.toString(16)}`);
  const nsid = sqe.readUInt32LE(4);
  if (opc === IoOpcode.FLUSH && nsid === 0xffffffff) {
    for (const ns of c.namespaces.values()) await ns.bdev.flush();
    return;
  }
  const ns = c.namespaces.get(nsid);
  if (!ns) throw new NvmeError(Status.INVALID_NAMESPACE, `NSID ${nsid}`);
  const dma = c.ctx?.dma;
  if (!dma) throw new NvmeError(Status.DATA_TRANSFER_ERROR, 'no client memory');
  const slba = sqe.readBigUInt64LE(40);
  const nlb = (sqe.readUInt32LE(48) & 0xffff) + 1;
  const inRange = () => {
    if (slba >= ns.blocks || BigInt(nlb) > ns.blocks - slba) throw new NvmeError(Status.LBA_OUT_OF_RANGE);
  };
  switch (opc) {
    case IoOpcode.FLUSH:
      return ns.bdev.flush();
    case IoOpcode.READ:
    case IoOpcode.WRITE:
    case IoOpcode.COMPARE: {
      inRange();
      const len = nlb * ns.blockSize;
      if (len > 4096 << c.opts.identity.mdts) throw new NvmeError(Status.INVALID_FIELD, 'transfer exceeds MDTS');
      const segs = await commandSegments(dma, sqe, len, opc === IoOpcode.READ, true);
      if (opc === IoOpcode.READ) {
        const data = await ns.bdev.read(slba, nlb);
        if (aborted()) return;
        await scatter(dma, segs, data);
        c.jsStats.readCommands++;
        c.jsStats.readBytes += BigInt(len);
      } else if (opc === IoOpcode.WRITE) {
        const data = await gather(dma, segs);
        await ns.bdev.write(slba, data);
        c.jsStats.writeCommands++;
        c.jsStats.writeBytes += BigInt(len);
      } else {
        const [host, media] = [await gather(dma, segs), await ns.bdev.read(slba, nlb)];
        if (!host.equals(media)) throw new NvmeError(Status.COMPARE_FAILURE);
      }
      return;
    }
    case IoOpcode.WRITE_ZEROES:
      inRange();
      return ns.bdev.writeZeroes(slba, nlb);
    case IoOpcode.DSM: {
      const nr = (sqe.readUInt32LE(40) & 0xff) + 1;
      const ad = (sqe.readUInt32LE(44) & 4) !== 0;
      const ranges = await gather(dma, await commandSegments(dma, sqe, 16 * nr, false, true));
      const list: [bigint, number][] = [];
      for (let i = 0; i < nr; i++) {
        const n = ranges.readUInt32LE(16 * i + 4);
        const s = ranges.readBigUInt64LE(16 * i + 8);
        if (s > ns.blocks || BigInt(n) > ns.blocks - s) throw new NvmeError(Status.LBA_OUT_OF_RANGE);
        list.push([s, n]);
      }
      if (ad) for (const [s, n] of list) if (n) await ns.bdev.unmap(s, n);
      return;
    }
  }
}

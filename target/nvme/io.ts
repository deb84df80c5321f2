// The bdev adapter: I/O commands on namespaces whose bdev works in TypeScript (error injection,
// delay, any future TypeScript bdev). The engine has already validated each command (opcode,
// namespace, LBA range, MDTS, data pointer) and walked its data: what arrives is a bdev
// operation with its segments, the same request shape for every such bdev. Completions go
// back down to the engine, which posts them in order with its own.
import { BdevIoError } from '../bdev/bdev.js';
import type { BdevOp } from '../../native/index.js';
import { IoOpcode, NvmeError, Status, statusName } from './constants.js';
import type { NvmeController } from './controller.js';
import { gather, scatter } from './transfer.js';

export async function executeBdevOp(c: NvmeController, op: BdevOp): Promise<void> {
  const { sqid, cid, nsid } = op;
  const key = `${sqid}:${cid}`;
  // Fetched just before its SQ was deleted (the upcall raced Delete I/O SQ): nothing to post.
  if (!c.sqs.has(sqid)) return;
  let aborted: 'requested' | 'dropped' | null = null;
  const entry = { abort: (how: 'requested' | 'dropped') => void (aborted ??= how) };
  c.inflightIo.set(key, entry);
  let st: number = Status.SUCCESS;
  try {
    await run(c, op, () => aborted !== null);
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
    c.errorLog.record({ sqid, cid, status: st, paramLocation: 0xffff, lba: op.slba, nsid });
    if (((st >> 8) & 7) === 2) c.jsStats.mediaErrors++;
  }
  try {
    c.io.complete(sqid, cid, st, 0);
  } catch {
    /* controller gone */
  }
}

async function run(c: NvmeController, op: BdevOp, aborted: () => boolean): Promise<void> {
  if (op.opcode === IoOpcode.FLUSH && op.nsid === 0xffffffff) {
    // The engine flushed its own namespaces; these are the TypeScript bdevs'.
    for (const ns of c.namespaces.values()) if (c.servedInTypeScript(ns)) await ns.bdev.flush();
    return;
  }
  const ns = c.namespaces.get(op.nsid);
  if (!ns) throw new NvmeError(Status.INVALID_NAMESPACE, `NSID ${op.nsid}`); // removed meanwhile
  const dma = c.ctx?.dma;
  if (!dma) throw new NvmeError(Status.DATA_TRANSFER_ERROR, 'no client memory');
  switch (op.opcode) {
    case IoOpcode.FLUSH:
      return ns.bdev.flush();
    case IoOpcode.READ: {
      const data = await ns.bdev.read(op.slba, op.nlb);
      if (aborted()) return;
      await scatter(dma, op.segments, data);
      c.jsStats.readCommands++;
      c.jsStats.readBytes += BigInt(op.bytes);
      return;
    }
    case IoOpcode.WRITE: {
      await ns.bdev.write(op.slba, await gather(dma, op.segments));
      c.jsStats.writeCommands++;
      c.jsStats.writeBytes += BigInt(op.bytes);
      return;
    }
    case IoOpcode.COMPARE: {
      const [host, media] = [await gather(dma, op.segments), await ns.bdev.read(op.slba, op.nlb)];
      if (!host.equals(media)) throw new NvmeError(Status.COMPARE_FAILURE);
      return;
    }
    case IoOpcode.WRITE_ZEROES:
      return ns.bdev.writeZeroes(op.slba, op.nlb);
    case IoOpcode.DSM:
      for (const r of op.ranges) if (r.nlb) await ns.bdev.unmap(r.slba, r.nlb);
      return;
  }
  throw new NvmeError(Status.INVALID_OPCODE, `bdev op 0x${op.opcode.toString(16)}`);
}

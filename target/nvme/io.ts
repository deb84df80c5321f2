// The bdev adapter: I/O commands on namespaces whose bdev works in TypeScript (error injection,
// delay, any future TypeScript bdev). The engine has already validated each command (opcode,
// namespace, LBA range, MDTS, data pointer) and walked its data: what arrives is a bdev
// operation with its segments, the same request shape for every such bdev. Completions go
// back down to the engine, which posts them in order with its own.
import { BdevIoError } from '../bdev/bdev.js';
import { native, type BdevOp } from '../../native/index.js';
import { IoOpcode, NvmeError, Status, statusName } from './constants.js';
import type { NvmeController } from './controller.js';
import { gather, scatter } from './transfer.js';

/**
 * A fused Compare and Write must be atomic against the namespace's other commands (NVMe Base
 * 2.0 3.4.2), but a TypeScript bdev works asynchronously (a delay bdev holds a write for a
 * while). Each namespace's operations pass this gate: any number at once, except that a fused
 * pair waits until those running have finished and runs alone; what arrives meanwhile waits.
 */
class NamespaceGate {
  private running = 0;
  private exclusive = false;
  private waiting: { exclusive: boolean; go: () => void }[] = [];

  /** Resolves when the operation may run; null when it may run at once (no extra turn). */
  enter(exclusive: boolean): Promise<void> | null {
    if (!this.exclusive && this.waiting.length === 0 && (!exclusive || this.running === 0)) {
      this.admit(exclusive);
      return null;
    }
    return new Promise((go) => this.waiting.push({ exclusive, go }));
  }

  leave(): void {
    this.running--;
    this.exclusive = false;
    while (this.waiting.length && !this.exclusive) {
      const next = this.waiting[0]!;
      if (next.exclusive && this.running > 0) break;
      this.waiting.shift();
      this.admit(next.exclusive);
      next.go();
    }
  }

  private admit(exclusive: boolean): void {
    this.running++;
    this.exclusive = exclusive;
  }
}

const gates = new WeakMap<NvmeController, Map<number, NamespaceGate>>();

function gate(c: NvmeController, nsid: number): NamespaceGate {
  let m = gates.get(c);
  if (!m) gates.set(c, (m = new Map()));
  let g = m.get(nsid);
  if (!g) m.set(nsid, (g = new NamespaceGate()));
  return g;
}

/**
 * Waits for the operation's turn at its namespace's gate. While it waits it is in flight as
 * far as Abort, reset and quiesce (live migration) can tell: it returns how it was aborted
 * meanwhile, if it was; the caller leaves the gate either way.
 */
async function takeTurn(c: NvmeController, g: NamespaceGate, op: BdevOp, exclusive: boolean): Promise<'requested' | 'dropped' | null> {
  const wait = g.enter(exclusive);
  if (!wait) return null;
  const key = `${op.sqid}:${op.cid}`;
  let aborted: 'requested' | 'dropped' | null = null;
  const entry = { abort: (how: 'requested' | 'dropped') => void (aborted ??= how) };
  c.inflightIo.set(key, entry);
  await wait;
  if (c.inflightIo.get(key) === entry) c.inflightIo.delete(key);
  return aborted;
}

export async function executeBdevOp(c: NvmeController, op: BdevOp): Promise<void> {
  if (op.flags & native.constants.bdevOp.FUSED) return executeFused(c, op);
  const g = gate(c, op.nsid);
  const aborted = await takeTurn(c, g, op, false);
  try {
    if (aborted === 'requested') complete(c, op, Status.ABORT_REQUESTED);
    else if (!aborted) await executeOne(c, op);
  } finally {
    g.leave();
  }
}

/**
 * A fused Compare and Write (NVM Command Set 1.0 3.3.1, 3.3.6): the Compare's data, then the
 * Write's, in op.segments. Compare Failure (or any failure of the Compare) aborts the Write
 * with Command Aborted due to Failed Fused Command; the Compare's completion is posted first.
 */
async function executeFused(c: NvmeController, op: BdevOp): Promise<void> {
  const g = gate(c, op.nsid);
  const aborted = await takeTurn(c, g, op, true);
  try {
    if (aborted) {
      // Abort of the Compare while it waited: both commands end (the Write as Failed Fused).
      if (aborted === 'requested') {
        complete(c, op, Status.ABORT_REQUESTED);
        complete(c, { ...op, cid: op.secondCid }, Status.ABORTED_FAILED_FUSED);
      }
      return;
    }
    let split = 0;
    for (let at = 0; split < op.segments.length && at < op.bytes; split++) at += op.segments[split]!.len;
    const compare: BdevOp = { ...op, flags: 0, segments: op.segments.slice(0, split) };
    const write: BdevOp = { ...op, opcode: IoOpcode.WRITE, flags: 0, cid: op.secondCid, segments: op.segments.slice(split) };
    const st = await executeOne(c, compare);
    if (st === Status.SUCCESS) await executeOne(c, write);
    else if (c.sqs.has(op.sqid)) complete(c, write, Status.ABORTED_FAILED_FUSED);
  } finally {
    g.leave();
  }
}

function complete(c: NvmeController, op: BdevOp, st: number): void {
  const { sqid, cid, nsid } = op;
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

/** Runs one command and posts its completion; returns its status (null: nothing posted). */
async function executeOne(c: NvmeController, op: BdevOp): Promise<number | null> {
  const { sqid, cid } = op;
  const key = `${sqid}:${cid}`;
  // Fetched just before its SQ was deleted (the upcall raced Delete I/O SQ): nothing to post.
  if (!c.sqs.has(sqid)) return null;
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
  if (aborted === 'dropped') return null;
  if (aborted) st = Status.ABORT_REQUESTED;
  complete(c, op, st);
  return st;
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
    case IoOpcode.VERIFY: // NVM Command Set 1.0 3.3.5: read and check, transfer nothing
      await ns.bdev.read(op.slba, op.nlb);
      return;
    case IoOpcode.COPY: {
      // 3.3.2: every source range read before the destination (op.slba) is written.
      const parts: Buffer[] = [];
      for (const r of op.ranges) parts.push(await ns.bdev.read(r.slba, r.nlb));
      if (aborted()) return;
      await ns.bdev.write(op.slba, Buffer.concat(parts));
      return;
    }
  }
  throw new NvmeError(Status.INVALID_OPCODE, `bdev op 0x${op.opcode.toString(16)}`);
}

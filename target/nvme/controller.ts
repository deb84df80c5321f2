// The NVMe controller model: BAR0 registers and doorbells, the CC.EN/CSTS.RDY handshake,
// shutdown and reset, the admin queue (processed here, in TypeScript), asynchronous events,
// and the native engine that serves the I/O queues. Admin commands live in admin.ts,
// the bdev adapter for TypeScript bdevs in io.ts, identify/features/logs in their own modules.
import { decodeBdevOp, native, type NativeEngine, type NativeSharedMemory } from '../../native/index.js';
import type { PciDeviceModel, BarSpec, PciFunction } from '../pci/function.js';
import type { DeviceContext, Logger } from '../vfio-user/device.js';
import type { FastWrites } from '../vfio-user/transport.js';
import { IrqIndex, RegionIndex, WireError, Errno } from '../vfio-user/wire.js';
import { AsyncEvent, CC_EN, CSTS_CFS, CSTS_RDY, CSTS_SHST_COMPLETE, CSTS_SHST_MASK, LogPage, NvmeError, Reg, Status, statusName } from './constants.js';
import { FeatureState } from './features.js';
import { ErrorLog } from './logs.js';
import { executeAdmin } from './admin.js';
import { executeBdevOp } from './io.js';
import { AsyncEventQueue } from './events.js';
import { KeepAliveTimer } from './keep-alive.js';
import { ReservationDomain } from './reservations.js';
import { ControllerReservations } from './reservation-io.js';
import type { ControllerIdentity, NamespaceInventory, NamespaceView } from './model.js';

export interface ControllerOptions {
  identity: ControllerIdentity;
  /** Doorbell page shared with the client (mapped mode) as an fd + mapping; null = message mode. */
  doorbellFile: { fd: number; mem: NativeSharedMemory } | null;
  maxQueueEntries: number; // MQES + 1
  maxIoQueues: number;
  msixVectors: number;
  /** The engine sleeps whenever idle instead of polling after work (nvmf_tgt --interrupt-mode). */
  interruptMode?: boolean;
  log: Logger;
  /** The NVM subsystem's namespaces, for Namespace Management and Attachment (absent: not offered). */
  inventory?: NamespaceInventory;
  /** The subsystem's reservations, shared by its controllers (absent: this controller's own). */
  reservations?: ReservationDomain;
}

export const BAR0_SIZE = 0x4000;
const ADMIN_VECTOR = 0;
const UPCALL = native.constants.upcall;
const ENGINE_EVENT = native.constants.event;

/** The admin queue pair as the controller runs it (also the migration record's shape). */
export interface AdminQueue {
  sqBase: bigint;
  cqBase: bigint;
  sqSize: number;
  cqSize: number;
  sqHead: number;
  sqTail: number;
  cqTail: number;
  cqHead: number;
  phase: boolean;
}

export interface QueueInfo {
  qid: number;
  size: number;
  iova: bigint;
}

export class NvmeController implements PciDeviceModel {
  readonly bars: BarSpec[];
  readonly features: FeatureState;
  readonly errorLog = new ErrorLog(64);
  readonly log: Logger;
  ctx: DeviceContext | null = null;
  fn: PciFunction | null = null;

  // Registers
  cap: bigint;
  cc = 0;
  csts = 0;
  aqa = 0;
  asq = 0n;
  acq = 0n;
  intms = 0;

  admin: AdminQueue | null = null;
  /** I/O queues as the admin commands created them (the engine holds the live state). */
  readonly sqs = new Map<number, QueueInfo & { cqid: number }>();
  readonly cqs = new Map<number, QueueInfo & { vector: number; ien: boolean }>();
  /** Asynchronous events: outstanding AERs, waiting events, masked types (events.ts). */
  readonly events = new AsyncEventQueue((cid, status, dw0) => this.postAdmin(cid, status, dw0));
  changedNamespaces: number[] = [];
  namespaces = new Map<number, NamespaceView>();
  shadow: { dbs: bigint; ei: bigint } | null = null;
  private adminBusy = false;
  private adminKick = false;
  /** Admin completions waiting for room in the admin CQ (migrated with the device state). */
  pendingAdminCqes: Buffer[] = [];
  /** Live migration: set while the device is stopped; no admin processing, no DMA from here. */
  frozen = false;
  /** Upcalls delivered from the engine (quiesce waits until it matches the engine's count). */
  upcallsSeen = 0;
  /** Counters for SMART: commands served by TypeScript (the engine counts its own). */
  jsStats = { readCommands: 0n, writeCommands: 0n, readBytes: 0n, writeBytes: 0n, mediaErrors: 0n };
  powerCycles = 1n;
  unsafeShutdowns = 0n;
  /** Power-on time origin (SMART Power On Hours); a migrated controller keeps its source's. */
  bornAt = Date.now();
  /** In-flight TypeScript I/O, for Abort: key sqid:cid. */
  readonly inflightIo = new Map<string, { abort: (how: 'requested' | 'dropped') => void }>();
  /** Keep Alive (keep-alive.ts): restarted by Keep Alive commands and Set Features KATO. */
  readonly keepAlive = new KeepAliveTimer(this);
  /** Reservations: the commands, the notification log, features 82h/83h (reservation-io.ts). */
  readonly reservations: ControllerReservations;

  constructor(readonly opts: ControllerOptions) {
    this.log = opts.log;
    this.features = new FeatureState({ maxIoQueues: opts.maxIoQueues, msixVectors: opts.msixVectors, numPowerStates: 1 });
    this.reservations = new ControllerReservations(this, opts.reservations ?? new ReservationDomain());
    // CAP: MQES, CQR=1, AMS none, TO=15 (7.5 s), DSTRD 0, NSSRS 0, CSS NVM, MPSMIN=MPSMAX=0 (4 KiB)
    this.cap = BigInt(opts.maxQueueEntries - 1) | (1n << 16n) | (15n << 24n) | (1n << 37n);
    this.bars = [
      {
        index: 0,
        size: BAR0_SIZE,
        kind: 'mem64',
        handler: { read: (o, c) => this.bar0Read(o, c), write: (o, d) => this.bar0Write(o, d) },
        mmap: opts.doorbellFile ? { fd: opts.doorbellFile.fd, offset: 0n, areas: [{ offset: 0x1000n, size: 0x1000n }] } : undefined,
      },
    ];
  }

  private realEngine: NativeEngine | null = null;

  /**
   * One or more I/O command sets (CAP.CSS bit 6, CC.CSS 110b, Identify CNS 1Ch and CSI 02h):
   * when a namespace here is zoned, as SPDK's nvmf sets CAP.CSS IOCS only for a subsystem with
   * a ZNS namespace. Without one the controller is NVM-only, exactly as before.
   */
  ioCommandSets(): boolean {
    for (const n of this.namespaces.values()) if (n.bdev.zoned) return true;
    return false;
  }

  /** CAP with CSS bit 6 (bit 43) and bit 0 (NVM) while ioCommandSets(). */
  capability(): bigint {
    return this.ioCommandSets() ? this.cap | (1n << 43n) : this.cap;
  }

  get io(): NativeEngine {
    if (!this.realEngine) throw new Error('controller is not attached to a DMA space');
    return this.realEngine;
  }

  // ------------------------------------------------------------------ PCI model hooks

  attach(ctx: DeviceContext, fn: PciFunction): void {
    this.ctx = ctx;
    this.fn = fn;
    if (!this.realEngine) {
      this.realEngine = new native.NvmeEngine(ctx.dma.table, (kind, qid, data) => this.onUpcall(kind, qid, data));
      this.realEngine.setMdts(4096 << this.opts.identity.mdts);
      const db = this.opts.doorbellFile;
      this.realEngine.setDoorbellMemory(db ? db.mem : null, db !== null);
      if (this.opts.interruptMode) this.realEngine.setInterruptMode(true);
      for (const ns of this.namespaces.values()) this.pushNamespace(ns);
      this.realEngine.start();
    }
    this.syncVectors();
    ctx.irqs.onChange = () => this.syncVectors();
  }

  detach(): void {
    // The client is gone: its memory is about to be unmapped. Queues stay defined (state is
    // kept for a reconnecting client); the engine stops touching memory until DMA returns.
    // One pause however many clients come and go without mapping memory: the next DMA_MAP
    // resumes once, so pauses must not nest here.
    if (!this.pausedForDetach) {
      this.realEngine?.pause();
      this.pausedForDetach = true;
    }
    if (this.ctx) this.ctx.irqs.onChange = undefined;
    this.ctx = null;
  }

  private pausedForDetach = false;

  /**
   * Message-mode doorbells of I/O queues are served by the native channel straight into the
   * engine (engine.FastDoorbell takes only queues that exist; the admin queue and anything
   * invalid still come here, in order, through bar0Write).
   */
  fastWrites(): FastWrites | null {
    if (!this.realEngine) return null;
    return { sink: this.realEngine, region: RegionIndex.BAR0, base: BigInt(Reg.DOORBELLS), size: 0x1000 };
  }

  dmaMapped(): void {
    if (this.pausedForDetach) {
      this.pausedForDetach = false;
      this.realEngine?.resume();
    }
  }

  quiesceDma(): void {
    // The engine translates under the DMA table's lock, so an unmap can never pull memory
    // from under an access in progress; TypeScript I/O re-checks every access.
  }

  reset(kind: 'flr' | 'device'): void {
    this.log.info('controller reset', { kind });
    this.controllerReset();
    this.cc = 0;
    this.csts = 0;
    this.aqa = 0;
    this.asq = 0n;
    this.acq = 0n;
    this.intms = 0;
  }

  commandChanged(): void {
    this.syncVectors();
  }

  /** Tells the engine which eventfd each vector raises (MSI-X, or INTx when MSI-X is off). */
  syncVectors(): void {
    const irqs = this.ctx?.irqs;
    const eng = this.realEngine;
    if (!eng) return;
    for (let v = 0; v < this.opts.msixVectors; v++) {
      let fd = irqs?.fd(IrqIndex.MSIX, v) ?? null;
      if (fd === null && irqs && !this.fn?.msixEnabled && v === 0) fd = irqs.fd(IrqIndex.INTX, 0);
      eng.setVectorFd(v, fd ?? -1);
    }
  }

  // ------------------------------------------------------------------ registers

  private bar0Read(off: bigint, count: number): Buffer {
    const o = Number(off);
    const out = Buffer.alloc(count);
    if (o >= Reg.DOORBELLS) {
      // Doorbells are write-only; reads return 0 (NVMe 3.1.x).
      return out;
    }
    const regs = this.registerImage();
    regs.copy(out, 0, o, Math.min(o + count, regs.length));
    return out;
  }

  /** The register file as the host reads it (each value taken as unsigned, whatever set it). */
  private registerImage(): Buffer {
    const r = Buffer.alloc(0x1000);
    r.writeBigUInt64LE(this.capability(), Reg.CAP);
    r.writeUInt32LE(0x00010400, Reg.VS);
    r.writeUInt32LE(this.intms >>> 0, Reg.INTMS);
    r.writeUInt32LE(this.intms >>> 0, Reg.INTMC);
    r.writeUInt32LE(this.cc >>> 0, Reg.CC);
    r.writeUInt32LE(this.csts >>> 0, Reg.CSTS);
    r.writeUInt32LE(this.aqa >>> 0, Reg.AQA);
    r.writeBigUInt64LE(this.asq, Reg.ASQ);
    r.writeBigUInt64LE(this.acq, Reg.ACQ);
    return r;
  }

  private bar0Write(off: bigint, data: Buffer): void {
    const o = Number(off);
    if (o >= Reg.DOORBELLS) {
      if (o >= Reg.DOORBELLS + 0x1000) return; // reserved space past the doorbell page
      // Message mode doorbells: 4-byte, dword-aligned (SPDK handle_dbl_access).
      if (data.length !== 4 || o % 4) throw new WireError(Errno.EINVAL, `doorbell access of ${data.length} bytes at 0x${o.toString(16)}`);
      this.doorbellWrite((o - Reg.DOORBELLS) / 4, data.readUInt32LE(0));
      return;
    }
    // Registers: assemble the write over the current image so partial writes work. Register
    // values are unsigned 32-bit (`>>> 0`) or BigInt: a JS bitwise operator yields a signed
    // int32, and a negative register would make every later registerImage() throw.
    const img = this.registerImage();
    data.copy(img, o, 0, Math.min(data.length, img.length - o));
    const touched = (reg: number, size: number) => o < reg + size && o + data.length > reg;
    // INTMS/INTMC are write-1-to-set/clear: only the bytes written count, the others are 0.
    const written = (reg: number) => {
      const b = Buffer.alloc(4);
      for (let i = 0; i < 4; i++) if (reg + i >= o && reg + i < o + data.length) b[i] = data[reg + i - o]!;
      return b.readUInt32LE(0);
    };
    if (touched(Reg.INTMS, 4)) this.intms = (this.intms | written(Reg.INTMS)) >>> 0;
    if (touched(Reg.INTMC, 4)) this.intms = (this.intms & ~written(Reg.INTMC)) >>> 0;
    if (touched(Reg.AQA, 4)) this.aqa = (img.readUInt32LE(Reg.AQA) & 0x0fff0fff) >>> 0;
    if (touched(Reg.ASQ, 8)) this.asq = img.readBigUInt64LE(Reg.ASQ) & ~0xfffn;
    if (touched(Reg.ACQ, 8)) this.acq = img.readBigUInt64LE(Reg.ACQ) & ~0xfffn;
    // NSSR is reserved when CAP.NSSRS is 0 (NVMe Base 2.0 3.1.7): writing it has no effect.
    if (touched(Reg.NSSR, 4) && this.cap & (1n << 36n) && img.readUInt32LE(Reg.NSSR) === 0x4e564d65) {
      this.log.info('NVM subsystem reset');
      this.controllerReset();
      this.cc = 0;
    }
    if (touched(Reg.CC, 4)) this.ccWrite(img.readUInt32LE(Reg.CC));
  }

  private ccWrite(v: number): void {
    const was = this.cc;
    this.cc = (v & 0x00fffff1) >>> 0; // EN, CSS, MPS, AMS, SHN, IOSQES, IOCQES
    const enNow = (v & CC_EN) !== 0;
    const enWas = (was & CC_EN) !== 0;
    if (enWas && !enNow) {
      this.controllerReset();
      return;
    }
    if (!enWas && enNow) this.enable();
    const shn = (v >> 14) & 3;
    if (shn && enNow && (this.csts & CSTS_SHST_MASK) !== CSTS_SHST_COMPLETE) {
      this.log.info('shutdown requested', { shn });
      this.keepAlive.stop();
      this.io.resetQueues();
      this.sqs.clear();
      this.cqs.clear();
      this.csts = (this.csts & ~CSTS_SHST_MASK) | CSTS_SHST_COMPLETE;
    }
    if (!shn) this.csts &= ~CSTS_SHST_MASK;
  }

  private enable(): void {
    const mps = (this.cc >> 7) & 0xf;
    const css = (this.cc >> 4) & 0x7;
    const asqs = (this.aqa & 0xfff) + 1;
    const acqs = ((this.aqa >> 16) & 0xfff) + 1;
    const bad =
      mps !== 0 ? 'CC.MPS must be 0 (4 KiB pages)' : css !== 0 && !(css === 6 && this.ioCommandSets()) ? `CC.CSS ${css} not supported` : asqs < 2 || acqs < 2 ? 'admin queue sizes below 2 in AQA' : this.asq === 0n || this.acq === 0n ? 'ASQ/ACQ not set' : null;
    if (bad) {
      this.log.warn(`enable refused: ${bad}`);
      this.csts |= CSTS_CFS;
      return;
    }
    this.admin = { sqBase: this.asq, cqBase: this.acq, sqSize: asqs, cqSize: acqs, sqHead: 0, sqTail: 0, cqTail: 0, cqHead: 0, phase: true };
    this.pendingAdminCqes = [];
    this.csts = CSTS_RDY;
    this.log.info('controller enabled', { asqs, acqs });
  }

  /** Controller reset (CC.EN 1->0, FLR, NSSR): every queue torn down, features to defaults. */
  controllerReset(): void {
    this.keepAlive.stop();
    // Commands still running in TypeScript must never complete into a re-created queue.
    for (const c of this.inflightIo.values()) c.abort('dropped');
    this.inflightIo.clear();
    this.realEngine?.resetQueues();
    this.sqs.clear();
    this.cqs.clear();
    this.admin = null;
    this.events.reset();
    this.pendingAdminCqes = [];
    this.shadow = null;
    this.features.reset();
    this.reservations.resetFeatures();
    this.syncAllNamespaces();
    this.syncCoalescing();
    this.csts = 0;
  }

  // ------------------------------------------------------------------ doorbells

  doorbellWrite(index: number, value: number): void {
    const qid = index >> 1;
    const isCq = (index & 1) === 1;
    if (qid === 0) {
      if (!this.admin) return;
      if (isCq) this.adminCqHead(value);
      else this.adminSqTail(value);
      return;
    }
    const exists = isCq ? this.cqs.has(qid) : this.sqs.has(qid);
    if (!exists) {
      this.doorbellError(AsyncEvent.ERROR_INVALID_DOORBELL_REGISTER);
      return;
    }
    this.io.doorbell(index, value);
  }

  private adminSqTail(v: number): void {
    const a = this.admin!;
    if (v >= a.sqSize) {
      this.doorbellError(AsyncEvent.ERROR_INVALID_DOORBELL_VALUE);
      return;
    }
    a.sqTail = v;
    this.kickAdmin();
  }

  private adminCqHead(v: number): void {
    const a = this.admin!;
    if (v >= a.cqSize) {
      this.doorbellError(AsyncEvent.ERROR_INVALID_DOORBELL_VALUE);
      return;
    }
    a.cqHead = v;
    this.flushAdminCqes();
  }

  private onUpcall(kind: number, qid: number, data: Buffer): void {
    this.upcallsSeen++;
    try {
      if (kind === UPCALL.ADMIN_DOORBELL) {
        if (!this.admin) return;
        const tail = data.readUInt32LE(0) & 0xffff;
        const head = data.readUInt32LE(4) & 0xffff;
        if (head !== this.admin.cqHead) this.adminCqHead(head);
        if (tail !== this.admin.sqTail) this.adminSqTail(tail);
      } else if (kind === UPCALL.BDEV_OP) {
        void executeBdevOp(this, decodeBdevOp(data));
      } else if (kind === UPCALL.IO_COMMAND) {
        void this.reservations.execute(qid, data);
      } else if (kind === UPCALL.ERROR) {
        this.errorLog.record({ sqid: qid, cid: data.readUInt16LE(0), status: data.readUInt16LE(2), paramLocation: 0xffff, lba: data.readBigUInt64LE(8), nsid: data.readUInt32LE(4) });
      } else if (kind === UPCALL.EVENT) {
        const info = data[1]!;
        if (info === ENGINE_EVENT.SQ_NOT_MAPPED) {
          this.log.error('I/O submission queue memory is not mapped: controller fatal status', { qid });
          this.csts |= CSTS_CFS;
        } else if (info === ENGINE_EVENT.CLIENT_MEMORY_FAULT) {
          this.log.error('the client truncated guest memory it had mapped: controller fatal status; the command failed with Data Transfer Error');
          this.csts |= CSTS_CFS;
        } else this.doorbellError(info);
      }
    } catch (err) {
      this.log.error('upcall failed', { error: (err as Error).message });
    }
  }

  // ------------------------------------------------------------------ admin queue

  /** No admin command is being processed (quiesce waits for this). */
  get adminIdle(): boolean {
    return !this.adminBusy;
  }

  kickAdmin(): void {
    if (this.frozen) return;
    if (this.adminBusy) {
      this.adminKick = true;
      return;
    }
    void this.runAdmin();
  }

  private async runAdmin(): Promise<void> {
    this.adminBusy = true;
    try {
      do {
        this.adminKick = false;
        const a = this.admin;
        while (a && this.admin === a && a.sqHead !== a.sqTail && this.ctx && !this.frozen) {
          // Stop fetching when the CQ could not take the completion.
          if (this.pendingAdminCqes.length >= a.cqSize - 1) break;
          let sqe: Buffer;
          try {
            sqe = this.ctx.dma.readSync(a.sqBase + BigInt(64 * a.sqHead), 64);
          } catch {
            this.log.error('admin SQ is not in mapped memory: controller fatal status');
            this.csts |= CSTS_CFS;
            return;
          }
          a.sqHead = (a.sqHead + 1) % a.sqSize;
          const cid = sqe.readUInt16LE(2);
          let st: number = Status.SUCCESS;
          let dw0 = 0;
          let deferred = false;
          try {
            const r = await executeAdmin(this, sqe);
            if (r === 'deferred') deferred = true;
            else dw0 = r ?? 0;
          } catch (err) {
            if (err instanceof NvmeError) st = err.status;
            else {
              this.log.error('admin command failed internally', { opcode: sqe[0], error: (err as Error).message });
              st = Status.INTERNAL_ERROR;
            }
          }
          if (this.admin !== a) return; // reset while the command ran
          if (st !== Status.SUCCESS) {
            this.log.debug('admin command failed', { opcode: `0x${sqe[0]!.toString(16)}`, status: statusName(st) });
            this.errorLog.record({ sqid: 0, cid, status: st, paramLocation: 0xffff, lba: 0n, nsid: sqe.readUInt32LE(4) });
          }
          if (!deferred) this.postAdmin(cid, st, dw0);
        }
      } while (this.adminKick);
    } finally {
      this.adminBusy = false;
    }
  }

  /** Posts an admin completion (now, or when the CQ has room) and raises vector 0. */
  postAdmin(cid: number, status: number, dw0: number): void {
    const a = this.admin;
    if (!a) return;
    const cqe = Buffer.alloc(16);
    cqe.writeUInt32LE(dw0 >>> 0, 0);
    cqe.writeUInt16LE(a.sqHead, 8);
    cqe.writeUInt16LE(0, 10);
    cqe.writeUInt16LE(cid, 12);
    cqe.writeUInt16LE(status << 1, 14); // phase is filled in when posted
    this.pendingAdminCqes.push(cqe);
    this.flushAdminCqes();
  }

  flushAdminCqes(): void {
    const a = this.admin;
    if (!a || !this.ctx || this.frozen) return;
    let posted = false;
    while (this.pendingAdminCqes.length && (a.cqTail + 1) % a.cqSize !== a.cqHead) {
      const cqe = this.pendingAdminCqes.shift()!;
      cqe.writeUInt16LE(cqe.readUInt16LE(14) | (a.phase ? 1 : 0), 14);
      try {
        this.ctx.dma.writeSync(a.cqBase + BigInt(16 * a.cqTail), cqe);
      } catch {
        this.log.error('admin CQ is not in mapped memory: controller fatal status');
        this.csts |= CSTS_CFS;
        return;
      }
      a.cqTail = (a.cqTail + 1) % a.cqSize;
      if (a.cqTail === 0) a.phase = !a.phase;
      posted = true;
    }
    if (posted) this.fn?.interrupt(ADMIN_VECTOR);
    if (this.pendingAdminCqes.length < a.cqSize - 1 && a.sqHead !== a.sqTail) this.kickAdmin();
  }

  // ------------------------------------------------------------------ asynchronous events

  /**
   * An invalid doorbell write (Error event, info 00h register / 01h value): an entry in the
   * Error Information log (not tied to a command: SQID, CID FFFFh) and the event for log 01h.
   */
  private doorbellError(info: number): void {
    if (!this.admin) return;
    this.errorLog.record({ sqid: 0xffff, cid: 0xffff, status: 0, paramLocation: 0xffff, lba: 0n, nsid: 0xffffffff });
    this.asyncEvent(AsyncEvent.TYPE_ERROR, info, LogPage.ERROR);
  }

  /** Raises an event (while the admin queue exists); see AsyncEventQueue. */
  asyncEvent(type: number, info: number, logPage: number): void {
    if (!this.admin) return;
    this.events.raise(type, info, logPage);
  }

  // ------------------------------------------------------------------ namespaces

  setNamespaces(list: NamespaceView[]): void {
    this.foldBdevStats();
    const before = new Set(this.namespaces.keys());
    const after = new Set(list.map((n) => n.nsid));
    const changed: number[] = [];
    for (const id of before) if (!after.has(id)) changed.push(id);
    for (const n of list) if (!before.has(n.nsid) || this.namespaces.get(n.nsid)!.bdev !== n.bdev) changed.push(n.nsid);
    for (const id of before) if (!after.has(id)) {
      this.namespaces.delete(id);
      this.realEngine?.setNamespace(id, null);
    }
    for (const n of list) {
      this.namespaces.set(n.nsid, n);
      this.pushNamespace(n);
    }
    if (changed.length && this.admin) {
      for (const id of changed) if (!this.changedNamespaces.includes(id)) this.changedNamespaces.push(id);
      // AEN only when the host enabled Namespace Attribute Notices (AEC bit 8).
      if (this.features.asyncEventConfig & (1 << 8)) this.asyncEvent(AsyncEvent.TYPE_NOTICE, AsyncEvent.NOTICE_NS_ATTRIBUTE_CHANGED, 0x04);
    }
  }

  /** Engine counters per nsid as last folded into the bdev's stats. */
  private folded = new Map<number, ReturnType<NativeEngine['namespaceStats']>>();

  /**
   * Adds what the native engine served since the last call to each namespace bdev's I/O
   * statistics (bdev_get_iostat), as if the bdev had done the I/O itself.
   */
  foldBdevStats(): void {
    const eng = this.realEngine;
    if (!eng) return;
    for (const n of this.namespaces.values()) {
      const cur = eng.namespaceStats(n.nsid);
      const prev = this.folded.get(n.nsid);
      const d = (k: keyof typeof cur) => cur[k] - (prev?.[k] ?? 0);
      const st = n.bdev.stats;
      st.num_read_ops += d('readOps');
      st.bytes_read += d('readBytes');
      st.num_write_ops += d('writeOps');
      st.bytes_written += d('writeBytes');
      st.num_unmap_ops += d('unmapOps');
      st.bytes_unmapped += d('unmapBytes');
      st.num_flush_ops += d('flushOps');
      st.num_write_zeroes_ops += d('writeZeroesOps');
      this.folded.set(n.nsid, cur);
    }
  }

  /** The namespace's bdev works in TypeScript: the engine hands its commands up as bdev ops. */
  servedInTypeScript(n: NamespaceView): boolean {
    return n.bdev.nativeBacking() === null;
  }

  pushNamespace(n: NamespaceView): void {
    const eng = this.realEngine;
    if (!eng) return;
    // setNamespace restarts the engine's counters for this nsid.
    this.folded.delete(n.nsid);
    const b = n.bdev.nativeBacking();
    const size = Number(n.blocks) * n.blockSize;
    const writeCache = this.features.volatileWriteCache === 1 && n.bdev.writeCache;
    if (!b) eng.setNamespace(n.nsid, { kind: 'upcall', size, blockSize: n.blockSize });
    else if (b.kind === 'memory' && b.zoned) {
      const z = b.zoned;
      eng.setNamespace(n.nsid, { kind: 'memory', fd: b.fd, size, blockSize: n.blockSize, writeCache, zoned: { zoneSize: z.zoneSize, zoneCapacity: z.zoneCapacity, maxOpenZones: z.maxOpenZones, maxActiveZones: z.maxActiveZones } });
    }
    else if (b.kind === 'null') eng.setNamespace(n.nsid, { kind: 'null', size, blockSize: n.blockSize });
    else if (b.kind === 'memory' && b.metadata) {
      const m = b.metadata;
      eng.setNamespace(n.nsid, { kind: 'memory', fd: b.fd, size, blockSize: n.blockSize, writeCache, metadata: { size: m.size, extended: m.interleave, piType: m.piType, piFirst: m.piFirst } });
    } else eng.setNamespace(n.nsid, { kind: b.kind, fd: b.fd, size, blockSize: n.blockSize, writeCache });
    this.pushReservationAccess(n.nsid);
  }

  /**
   * What this controller's host may not do to the namespace under its reservation, to the
   * engine (reservations.ts says why it is a byte there). Called whenever the subsystem's
   * reservation of the namespace or this controller's Host Identifier changes.
   */
  pushReservationAccess(nsid: number): void {
    const eng = this.realEngine;
    if (!eng || nsid < 1 || nsid > native.constants.limits.MAX_NSID) return;
    eng.setReservationAccess(nsid, this.reservations.blocks(nsid));
  }

  /** Interrupt Coalescing / Interrupt Vector Configuration to the engine. */
  syncCoalescing(): void {
    const f = this.features;
    const off = [...f.ivConfig.entries()].filter(([, cd]) => cd === 1).map(([v]) => v);
    this.realEngine?.setCoalescing(f.interruptCoalescing & 0xff, (f.interruptCoalescing >> 8) & 0xff, off);
  }

  syncAllNamespaces(): void {
    this.foldBdevStats();
    for (const n of this.namespaces.values()) this.pushNamespace(n);
  }

  /** Stops the engine thread for good (target shutdown). */
  close(): void {
    this.reservations.close();
    this.realEngine?.stop();
    // Let go of the namespaces' memory and files now, not when the engine object is collected
    // (a malloc bdev's huge pages would stay taken until then).
    for (const nsid of this.namespaces.keys()) this.realEngine?.setNamespace(nsid, null);
  }

  // ------------------------------------------------------------------ stats

  /** Engine counters (empty before a client first attached). */
  ioStats(): Record<string, number> {
    return this.realEngine?.stats() ?? {};
  }

  counters(): { readCommands: bigint; writeCommands: bigint; readBytes: bigint; writeBytes: bigint } {
    const e = this.realEngine?.stats() ?? { readCommands: 0, writeCommands: 0, readBytes: 0, writeBytes: 0 };
    return {
      readCommands: BigInt(e.readCommands ?? 0) + this.jsStats.readCommands,
      writeCommands: BigInt(e.writeCommands ?? 0) + this.jsStats.writeCommands,
      readBytes: BigInt(e.readBytes ?? 0) + this.jsStats.readBytes,
      writeBytes: BigInt(e.writeBytes ?? 0) + this.jsStats.writeBytes,
    };
  }
}

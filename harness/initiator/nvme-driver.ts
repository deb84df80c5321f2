// A userspace NVMe driver over our vfio-user client: the controller init handshake (CAP.TO
// timeouts), the admin queue, Identify, Number of Queues, I/O queue pairs, PRP construction
// and completion by polling. Used by tests, `vnvme identify`, conformance and migration.
import { native, type NativeSharedMemory } from '../../native/index.js';
import { VfioUserClient, type GuestMemory } from './vfio-user-client.js';
import * as W from '../../target/vfio-user/wire.js';

export interface Cqe {
  dw0: number;
  dw1: number;
  sqHead: number;
  sqId: number;
  cid: number;
  status: number; // without the phase bit
}

export interface QueuePair {
  qid: number;
  size: number;
  sqIova: bigint;
  cqIova: bigint;
  sqTail: number;
  cqHead: number;
  phase: boolean;
  nextCid: number;
  waiting: Map<number, (c: Cqe) => void>;
}

export interface DriverOptions {
  memoryBytes?: number;
  /** Use the mmapped doorbell page when offered (default true). */
  useMappedDoorbells?: boolean;
  adminQueueSize?: number;
  /** Complete by MSI-X interrupts (eventfds given with SET_IRQS) instead of polling. */
  interrupts?: boolean;
  /** MSI-X vectors to wire up in interrupt mode (default 4). */
  vectors?: number;
}

const BAR0 = 0;
const MEM_IOVA = 0x10000000n;

export class NvmeDriver {
  mem!: GuestMemory;
  static readonly MEM_IOVA = MEM_IOVA;
  private bump = 0;
  cap = 0n;
  admin!: QueuePair;
  readonly queues = new Map<number, QueuePair>();
  doorbellPage: NativeSharedMemory | null = null;
  /** Queues whose completions a native loop (perf) reaps; the JS poller leaves them alone. */
  readonly nativeOwned = new Set<number>();
  private doorbellFd: number | null = null;
  private pollTimer: NodeJS.Immediate | null = null;

  private constructor(public client: VfioUserClient) {}

  // ------------------------------------------------------------------ live migration (harness/initiator/migration.ts)

  /** While the "guest" is paused for migration: the latest value per doorbell, not yet written. */
  private held: Map<number, number> | null = null;

  /** Completions for no outstanding command (a command acknowledged twice, or after its timeout). */
  strayCompletions = 0;

  /** Commands submitted and not yet completed, over all queues. */
  outstanding(): number {
    let n = this.admin?.waiting.size ?? 0;
    for (const q of this.queues.values()) n += q.waiting.size;
    return n;
  }

  /** Pauses the guest as a VMM stops its vCPUs: no doorbell writes, no completion reaping. */
  pauseGuest(): void {
    this.held ??= new Map();
    if (this.pollTimer) clearImmediate(this.pollTimer);
    this.pollTimer = null;
  }

  /** Resumes the guest: held doorbell writes go out (to the current target), polling restarts. */
  async resumeGuest(): Promise<void> {
    const held = this.held;
    this.held = null;
    for (const [index, value] of held ?? []) await this.ringDoorbell(index, value);
    this.startPolling();
  }

  /**
   * Moves the driver to another target's client (migration destination). Guest memory moves
   * with the guest: the caller has already DMA-mapped `this.mem` there. The old connection
   * is closed (or, with keepOld, returned open) without unmapping the memory.
   */
  async switchClient(next: VfioUserClient, opts: { useMappedDoorbells?: boolean; keepOld?: boolean } = {}): Promise<VfioUserClient> {
    const old = this.client;
    const r0 = await next.regionInfo(BAR0);
    this.doorbellPage?.unmap();
    if (this.doorbellFd !== null) native.closeFd(this.doorbellFd);
    this.doorbellPage = null;
    this.doorbellFd = null;
    if (r0.fd !== null) {
      if (opts.useMappedDoorbells !== false && r0.info.sparse?.some((a) => a.offset === 0x1000n)) {
        this.doorbellFd = r0.fd;
        this.doorbellPage = new native.SharedMemory(r0.fd, 0x1000, Number(r0.info.offset) + 0x1000);
      } else native.closeFd(r0.fd);
    }
    const i = old.memory.indexOf(this.mem);
    if (i >= 0) old.memory.splice(i, 1);
    if (!next.memory.includes(this.mem)) next.memory.push(this.mem);
    this.client = next;
    if (!opts.keepOld) old.dispose();
    return old;
  }

  static async attach(socketPath: string, opts: DriverOptions = {}): Promise<NvmeDriver> {
    const client = await VfioUserClient.open(socketPath);
    const d = new NvmeDriver(client);
    try {
      await d.init(opts);
    } catch (err) {
      d.close();
      throw err;
    }
    return d;
  }

  private async init(opts: DriverOptions): Promise<void> {
    const c = this.client;
    const info = await c.deviceInfo();
    if (!(info.flags & W.DEVICE_FLAGS_PCI)) throw new Error('not a PCI device');
    const cfg = await c.regionRead(W.RegionIndex.CONFIG, 0, 64);
    const cls = cfg.readUInt32LE(8) >>> 8;
    if (cls !== 0x010802) throw new Error(`class code ${cls.toString(16)} is not NVMe (010802)`);
    // Memory space + bus master.
    await c.regionWrite(W.RegionIndex.CONFIG, 4, Buffer.from([0x06, 0x00]));
    const r0 = await c.regionInfo(BAR0);
    if (r0.fd !== null) {
      if (opts.useMappedDoorbells !== false && r0.info.sparse?.some((a) => a.offset === 0x1000n)) {
        this.doorbellFd = r0.fd;
        this.doorbellPage = new native.SharedMemory(r0.fd, 0x1000, Number(r0.info.offset) + 0x1000);
      } else native.closeFd(r0.fd);
    }
    this.mem = await c.addMemory(MEM_IOVA, opts.memoryBytes ?? 32 << 20);
    this.cap = await c.read64(BAR0, 0x00);
    await this.disable();
    const aqs = opts.adminQueueSize ?? 32;
    this.admin = this.newQueue(0, aqs);
    await c.write32(BAR0, 0x24, ((aqs - 1) << 16) | (aqs - 1));
    await c.write64(BAR0, 0x28, this.admin.sqIova);
    await c.write64(BAR0, 0x30, this.admin.cqIova);
    // CC.CSS 110b (all I/O command sets) when CAP.CSS bit 6 says there are several, as Linux does.
    const css = this.cap & (1n << 43n) ? 6 << 4 : 0;
    await c.write32(BAR0, 0x14, (6 << 16) | (4 << 20) | css | 1); // IOCQES 4, IOSQES 6, CSS, EN
    await this.waitReady(true);
    if (opts.interrupts) await this.setupInterrupts(opts.vectors ?? 4);
  }

  get mappedDoorbells(): boolean {
    return this.doorbellPage !== null;
  }

  private timeoutMs(): number {
    return Number((this.cap >> 24n) & 0xffn) * 500 || 500;
  }

  async disable(): Promise<void> {
    const cc = await this.client.read32(BAR0, 0x14);
    if (cc & 1) await this.client.write32(BAR0, 0x14, cc & ~1);
    await this.waitReady(false);
  }

  async waitReady(ready: boolean): Promise<void> {
    const until = Date.now() + this.timeoutMs();
    for (;;) {
      const csts = await this.client.read32(BAR0, 0x1c);
      if (csts === 0xffffffff) throw new Error('CSTS reads all-ones: device gone');
      if (csts & 2) throw new Error('controller fatal status (CSTS.CFS)');
      if (((csts & 1) === 1) === ready) return;
      if (Date.now() > until) throw new Error(`CSTS.RDY did not become ${ready ? 1 : 0} within CAP.TO`);
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  alloc(bytes: number, align = 4096): bigint {
    this.bump = Math.ceil(this.bump / align) * align;
    const at = this.bump;
    this.bump += bytes;
    if (this.bump > this.mem.size) throw new Error('initiator memory exhausted');
    return MEM_IOVA + BigInt(at);
  }

  private newQueue(qid: number, size: number): QueuePair {
    const sqIova = this.alloc(size * 64);
    const cqIova = this.alloc(size * 16);
    this.mem.mem.fill(Number(cqIova - MEM_IOVA), size * 16, 0);
    return { qid, size, sqIova, cqIova, sqTail: 0, cqHead: 0, phase: true, nextCid: 0, waiting: new Map() };
  }

  write(iova: bigint, data: Buffer): void {
    this.mem.mem.write(Number(iova - MEM_IOVA), data);
  }
  read(iova: bigint, len: number): Buffer {
    return this.mem.mem.read(Number(iova - MEM_IOVA), len);
  }

  /** Shadow doorbell buffers (Doorbell Buffer Config), when enabled. */
  shadow: { dbs: bigint; ei: bigint; mmioWrites: number; skipped: number } | null = null;

  /** Doorbell Buffer Config: I/O queue doorbells then go through the shadow page, and the
   * real doorbell is written only when the controller's event index asks for it (Linux's
   * nvme_dbbuf_update_and_check_event). */
  async enableShadowDoorbells(): Promise<void> {
    const dbs = this.alloc(4096);
    const ei = this.alloc(4096);
    this.mem.mem.fill(Number(dbs - MEM_IOVA), 4096, 0);
    this.mem.mem.fill(Number(ei - MEM_IOVA), 4096, 0);
    await this.adminOk(cmd(0x7c, 0, { prp1: dbs, prp2: ei }), 'Doorbell Buffer Config');
    this.shadow = { dbs, ei, mmioWrites: 0, skipped: 0 };
  }

  async ringDoorbell(index: number, value: number): Promise<void> {
    if (this.held) {
      this.held.set(index, value);
      return;
    }
    if (this.shadow && index >= 2) {
      const at = Number(this.shadow.dbs - MEM_IOVA) + 4 * index;
      const old = this.mem.mem.readU32(at);
      this.mem.mem.writeU32(at, value);
      const ei = this.mem.mem.readU32(Number(this.shadow.ei - MEM_IOVA) + 4 * index);
      const needEvent = ((value - ei - 1) & 0xffff) < ((value - old) & 0xffff);
      if (!needEvent) {
        this.shadow.skipped++;
        return;
      }
      this.shadow.mmioWrites++;
    }
    if (this.doorbellPage) this.doorbellPage.writeU32(index * 4, value);
    else this.client.postRegionWrite(BAR0, 0x1000 + index * 4, u32(value));
  }

  /** Submits a 64-byte SQE (CID filled in) and resolves with its completion. */
  submit(q: QueuePair, sqe: Buffer, timeoutMs = 10000): Promise<Cqe> {
    const p = this.enqueue(q, sqe, timeoutMs);
    void this.ringDoorbell(2 * q.qid, q.sqTail);
    this.startPolling();
    return p;
  }

  /**
   * Submits several SQEs with one tail doorbell write, as the two commands of a fused operation
   * must be (NVMe Base 2.0 3.4.2); resolves with their completions in order.
   */
  submitTogether(q: QueuePair, sqes: Buffer[], timeoutMs = 10000): Promise<Cqe[]> {
    const ps = sqes.map((sqe) => this.enqueue(q, sqe, timeoutMs));
    void this.ringDoorbell(2 * q.qid, q.sqTail);
    this.startPolling();
    return Promise.all(ps);
  }

  /** Places an SQE at the tail (CID filled in) without ringing; resolves with its completion. */
  private enqueue(q: QueuePair, sqe: Buffer, timeoutMs: number): Promise<Cqe> {
    const cid = q.nextCid;
    q.nextCid = (q.nextCid + 1) & 0xffff;
    sqe.writeUInt16LE(cid, 2);
    this.write(q.sqIova + BigInt(64 * q.sqTail), sqe);
    q.sqTail = (q.sqTail + 1) % q.size;
    const p = new Promise<Cqe>((resolve, reject) => {
      const entry = { timer: undefined as unknown as NodeJS.Timeout, reject };
      this.pendingCommands.add(entry);
      const t = setTimeout(() => {
        this.pendingCommands.delete(entry);
        const what = `command ${cid} (opcode 0x${sqe[0]!.toString(16)}) on queue ${q.qid} timed out after ${timeoutMs} ms`;
        if (q.qid === 0) {
          q.waiting.delete(cid);
          reject(new Error(what));
          return;
        }
        // An I/O command that overran: ask the controller to Abort it (NVMe 5.1). Its
        // completion (Command Abort Requested) is still reaped so the CID can be reused.
        this.adminCommand(cmd(0x08, 0, { cdw10: (cid << 16) | q.qid })).then(
          (a) => reject(new Error(`${what}; Abort ${a.status === 0 && (a.dw0 & 1) === 0 ? 'accepted' : 'not done (the command is still running)'}`)),
          (e: Error) => reject(new Error(`${what}; Abort failed: ${e.message}`)),
        );
      }, timeoutMs);
      entry.timer = t;
      q.waiting.set(cid, (c) => {
        clearTimeout(t);
        this.pendingCommands.delete(entry);
        resolve(c);
      });
    });
    return p;
  }

  /** Eventfds of the MSI-X vectors in interrupt mode (index = vector). */
  private irq: { fds: number[]; watchers: { close(): void }[]; count: number } | null = null;

  get interruptCount(): number {
    return this.irq?.count ?? 0;
  }

  /** Enables MSI-X in the capability, gives the device an eventfd per vector and reaps on each. */
  private async setupInterrupts(vectors: number): Promise<void> {
    const c = this.client;
    const cfg = await c.regionRead(W.RegionIndex.CONFIG, 0, 256);
    let cap = cfg[0x34]!;
    for (let guard = 0; cap && cfg[cap] !== 0x11 && guard < 48; guard++) cap = cfg[cap + 1]!;
    if (!cap || cfg[cap] !== 0x11) throw new Error('device has no MSI-X capability');
    const tableSize = (cfg.readUInt16LE(cap + 2) & 0x7ff) + 1;
    const n = Math.min(vectors, tableSize);
    const ctrl = cfg.readUInt16LE(cap + 2) | 0x8000;
    await c.regionWrite(W.RegionIndex.CONFIG, cap + 2, Buffer.from([ctrl & 0xff, ctrl >> 8]));
    const fds = Array.from({ length: n }, () => native.eventfdCreate());
    await c.setIrqEventfds(W.IrqIndex.MSIX, 0, fds);
    const irq = { fds, watchers: [] as { close(): void }[], count: 0 };
    for (const fd of fds)
      irq.watchers.push(
        new native.FdWatcher(fd, () => {
          if (native.eventfdConsume(fd) === 0) return;
          irq.count++;
          if (this.held) return;
          for (const q of [this.admin, ...this.queues.values()]) if (!this.nativeOwned.has(q.qid)) this.reap(q);
        }),
      );
    this.irq = irq;
  }

  private startPolling(): void {
    if (this.irq) return; // completions arrive by interrupt
    if (this.pollTimer) return;
    const tick = () => {
      this.pollTimer = null;
      if (this.held) return; // paused for migration: resumeGuest() restarts polling
      let pending = 0;
      for (const q of [this.admin, ...this.queues.values()]) {
        if (this.nativeOwned.has(q.qid)) continue;
        this.reap(q);
        pending += q.waiting.size;
      }
      if (pending && !this.client.closed) this.pollTimer = setImmediate(tick);
    };
    this.pollTimer = setImmediate(tick);
  }

  reap(q: QueuePair): number {
    let n = 0;
    for (;;) {
      const e = this.read(q.cqIova + BigInt(16 * q.cqHead), 16);
      const dw3 = e.readUInt32LE(12);
      if (((dw3 >> 16) & 1) !== (q.phase ? 1 : 0)) break;
      const cqe: Cqe = { dw0: e.readUInt32LE(0), dw1: e.readUInt32LE(4), sqHead: e.readUInt16LE(8), sqId: e.readUInt16LE(10), cid: dw3 & 0xffff, status: dw3 >>> 17 };
      q.cqHead = (q.cqHead + 1) % q.size;
      if (q.cqHead === 0) q.phase = !q.phase;
      n++;
      const w = q.waiting.get(cqe.cid);
      q.waiting.delete(cqe.cid);
      if (w) w(cqe);
      else this.strayCompletions++;
    }
    if (n) void this.ringDoorbell(2 * q.qid + 1, q.cqHead);
    return n;
  }

  async adminCommand(sqe: Buffer): Promise<Cqe> {
    return this.submit(this.admin, sqe);
  }

  /** Admin command that must succeed; returns dword 0. */
  async adminOk(sqe: Buffer, what: string): Promise<number> {
    const c = await this.adminCommand(sqe);
    if (c.status) throw new Error(`${what} failed: status 0x${c.status.toString(16)}`);
    return c.dw0;
  }

  async identify(cns: number, nsid = 0, cdw11 = 0): Promise<Buffer> {
    const buf = this.alloc(4096);
    const sqe = cmd(0x06, nsid, { prp1: buf, cdw10: cns, cdw11 });
    await this.adminOk(sqe, `Identify CNS ${cns}`);
    return this.read(buf, 4096);
  }

  async setNumberOfQueues(n: number): Promise<{ nsq: number; ncq: number }> {
    const dw0 = await this.adminOk(cmd(0x09, 0, { cdw10: 0x07, cdw11: ((n - 1) << 16) | (n - 1) }), 'Set Features Number of Queues');
    return { nsq: (dw0 & 0xffff) + 1, ncq: (dw0 >>> 16) + 1 };
  }

  async createIoQueuePair(qid: number, size: number, vector = this.irq ? qid % this.irq.fds.length : 0, ien = this.irq !== null): Promise<QueuePair> {
    const q = this.newQueue(qid, size);
    await this.adminOk(cmd(0x05, 0, { prp1: q.cqIova, cdw10: ((size - 1) << 16) | qid, cdw11: (vector << 16) | (ien ? 2 : 0) | 1 }), `Create I/O CQ ${qid}`);
    await this.adminOk(cmd(0x01, 0, { prp1: q.sqIova, cdw10: ((size - 1) << 16) | qid, cdw11: (qid << 16) | 1 }), `Create I/O SQ ${qid}`);
    this.queues.set(qid, q);
    return q;
  }

  async deleteIoQueuePair(qid: number): Promise<void> {
    await this.adminOk(cmd(0x00, 0, { cdw10: qid }), `Delete I/O SQ ${qid}`);
    await this.adminOk(cmd(0x04, 0, { cdw10: qid }), `Delete I/O CQ ${qid}`);
    this.queues.delete(qid);
  }

  /** PRPs for a buffer in initiator memory (page list allocated as needed). */
  prps(iova: bigint, len: number): { prp1: bigint; prp2: bigint } {
    const first = 4096 - Number(iova & 4095n);
    if (len <= first) return { prp1: iova, prp2: 0n };
    const rest = len - first;
    const second = iova + BigInt(first);
    if (rest <= 4096) return { prp1: iova, prp2: second };
    const pages = Math.ceil(rest / 4096);
    const list = this.alloc(8 * pages + 8 * Math.ceil(pages / 511));
    // Chain list pages: each page holds 511 entries and a pointer to the next.
    const entries: bigint[] = Array.from({ length: pages }, (_, i) => second + BigInt(4096 * i));
    let page = list;
    let i = 0;
    while (i < entries.length) {
      const remaining = entries.length - i;
      const room = remaining <= 512 ? remaining : 511;
      const buf = Buffer.alloc(4096);
      for (let k = 0; k < room; k++) buf.writeBigUInt64LE(entries[i + k]!, 8 * k);
      i += room;
      if (i < entries.length) {
        const next = this.alloc(4096);
        buf.writeBigUInt64LE(next, 8 * 511);
        this.write(page, buf);
        page = next;
      } else this.write(page, buf.subarray(0, 8 * room));
    }
    return { prp1: iova, prp2: list };
  }

  async io(q: QueuePair, opcode: number, nsid: number, lba: bigint, blocks: number, buf: bigint, bytes: number): Promise<Cqe> {
    const { prp1, prp2 } = this.prps(buf, bytes);
    const sqe = cmd(opcode, nsid, { prp1, prp2, cdw10: Number(lba & 0xffffffffn), cdw11: Number(lba >> 32n), cdw12: blocks - 1 });
    return this.submit(q, sqe);
  }

  /** Commands submitted and not completed: close() fails them instead of leaving timers behind. */
  private readonly pendingCommands = new Set<{ timer: NodeJS.Timeout; reject: (e: Error) => void }>();

  close(): void {
    for (const c of this.pendingCommands) {
      clearTimeout(c.timer);
      c.reject(new Error('driver closed with the command outstanding'));
    }
    this.pendingCommands.clear();
    if (this.pollTimer) clearImmediate(this.pollTimer);
    if (this.irq) {
      for (const w of this.irq.watchers) w.close();
      for (const fd of this.irq.fds) native.closeFd(fd);
      this.irq = null;
    }
    this.doorbellPage?.unmap();
    if (this.doorbellFd !== null) native.closeFd(this.doorbellFd);
    this.doorbellPage = null;
    this.doorbellFd = null;
    this.client.dispose();
  }
}

export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

export function cmd(opcode: number, nsid: number, f: { prp1?: bigint; prp2?: bigint; cdw10?: number; cdw11?: number; cdw12?: number; cdw13?: number; cdw14?: number; cdw15?: number; flags?: number } = {}): Buffer {
  const b = Buffer.alloc(64);
  b[0] = opcode;
  b[1] = f.flags ?? 0;
  b.writeUInt32LE(nsid >>> 0, 4);
  b.writeBigUInt64LE(f.prp1 ?? 0n, 24);
  b.writeBigUInt64LE(f.prp2 ?? 0n, 32);
  b.writeUInt32LE((f.cdw10 ?? 0) >>> 0, 40);
  b.writeUInt32LE((f.cdw11 ?? 0) >>> 0, 44);
  b.writeUInt32LE((f.cdw12 ?? 0) >>> 0, 48);
  b.writeUInt32LE((f.cdw13 ?? 0) >>> 0, 52);
  b.writeUInt32LE((f.cdw14 ?? 0) >>> 0, 56);
  b.writeUInt32LE((f.cdw15 ?? 0) >>> 0, 60);
  return b;
}

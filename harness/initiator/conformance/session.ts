// What a conformance case works with: an attached controller (our userspace driver), host-side
// I/O queues the case controls completely (sizes, shared CQs, raw doorbell values), the
// controller's identify data, and a CaseContext that sends commands and records evidence.
import { NvmeDriver, cmd, u32, type Cqe } from '../nvme-driver.js';
import type { NvmeEndpoint } from '../../../target/nvme/endpoint.js';
import { ADMIN_COMMAND_NAMES, IO_COMMAND_NAMES, IoOpcode, Status, statusName } from './spec.js';
import type { CommandEvidence, Evidence } from './types.js';

export { cmd };
export type { Cqe };

const BAR0 = 0;

/** Identify Controller fields the cases depend on (NVMe Base 2.0 Figure 275). */
export interface ControllerFacts {
  vid: number;
  mdts: number;
  cntlid: number;
  ver: number;
  oacs: number;
  acl: number;
  aerl: number;
  lpa: number;
  elpe: number;
  npss: number;
  sqes: number;
  cqes: number;
  nn: number;
  oncs: number;
  fuses: number;
  vwc: number;
  sgls: number;
  subnqn: string;
}

export function controllerFacts(id: Buffer): ControllerFacts {
  return {
    vid: id.readUInt16LE(0),
    mdts: id[77]!,
    cntlid: id.readUInt16LE(78),
    ver: id.readUInt32LE(80),
    oacs: id.readUInt16LE(256),
    acl: id[258]!,
    aerl: id[259]!,
    lpa: id[261]!,
    elpe: id[262]!,
    npss: id[263]!,
    sqes: id[512]!,
    cqes: id[513]!,
    nn: id.readUInt32LE(516),
    oncs: id.readUInt16LE(520),
    fuses: id.readUInt16LE(522),
    vwc: id[525]!,
    sgls: id.readUInt32LE(536),
    subnqn: id.toString('utf8', 768, 1024).replace(/\0.*$/s, ''),
  };
}

export interface NamespaceFacts {
  nsid: number;
  blocks: bigint;
  blockSize: number;
  dlfeat: number;
}

// ------------------------------------------------------------------ host I/O queues

export interface HostCq {
  qid: number;
  size: number;
  iova: bigint;
  head: number;
  phase: boolean;
}

export interface HostSq {
  qid: number;
  size: number;
  iova: bigint;
  cqid: number;
  tail: number;
  nextCid: number;
}

interface Waiter {
  resolve: (c: Cqe) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** I/O queues driven entirely by the case: any sizes, CQs shared by SQs, raw doorbells. */
export class HostQueues {
  readonly cqs = new Map<number, HostCq>();
  readonly sqs = new Map<number, HostSq>();
  private readonly waiting = new Map<string, Waiter>();
  /** Completions nobody waited for (a stale or duplicate CQE is a finding). */
  readonly stray: Cqe[] = [];
  private timer: NodeJS.Immediate | null = null;
  private closed = false;
  /** Shadow doorbell buffer (Doorbell Buffer Config): written before every MMIO doorbell. */
  shadowDbs: bigint | null = null;

  constructor(private readonly drv: NvmeDriver) {}

  private doorbell(index: number, value: number): void {
    if (this.shadowDbs !== null) this.drv.write(this.shadowDbs + BigInt(4 * index), u32(value));
    void this.drv.ringDoorbell(index, value);
  }

  allocRing(entries: number, entrySize: number): bigint {
    const iova = this.drv.alloc(Math.max(4096, entries * entrySize));
    this.drv.write(iova, Buffer.alloc(entries * entrySize));
    return iova;
  }

  addCq(qid: number, size: number, iova: bigint): HostCq {
    const cq = { qid, size, iova, head: 0, phase: true };
    this.cqs.set(qid, cq);
    return cq;
  }

  addSq(qid: number, cqid: number, size: number, iova: bigint): HostSq {
    const sq = { qid, size, iova, cqid, tail: 0, nextCid: 0 };
    this.sqs.set(qid, sq);
    return sq;
  }

  /** Forgets host state of queues the controller deleted (or lost in a reset). */
  forget(kind: 'sq' | 'cq' | 'all', qid = 0): void {
    if (kind === 'all') {
      this.sqs.clear();
      this.cqs.clear();
      for (const [k, w] of this.waiting) {
        clearTimeout(w.timer);
        w.reject(new Error(`command ${k} lost: its queue was torn down`));
      }
      this.waiting.clear();
      return;
    }
    if (kind === 'sq') {
      this.sqs.delete(qid);
      for (const [k, w] of this.waiting)
        if (k.startsWith(`${qid}:`)) {
          clearTimeout(w.timer);
          w.reject(new Error(`command ${k} lost: SQ ${qid} deleted`));
          this.waiting.delete(k);
        }
    } else this.cqs.delete(qid);
  }

  /** Writes the SQE (CID filled in) without ringing; returns the CID. */
  place(sqid: number, sqe: Buffer): number {
    const sq = this.sqs.get(sqid);
    if (!sq) throw new Error(`no host SQ ${sqid}`);
    const cid = sq.nextCid;
    sq.nextCid = (sq.nextCid + 1) & 0xffff;
    sqe.writeUInt16LE(cid, 2);
    this.drv.write(sq.iova + BigInt(64 * sq.tail), sqe);
    sq.tail = (sq.tail + 1) % sq.size;
    return cid;
  }

  ring(sqid: number): void {
    const sq = this.sqs.get(sqid)!;
    this.doorbell(2 * sqid, sq.tail);
  }

  wait(sqid: number, cid: number, timeoutMs = 5000): Promise<Cqe> {
    return new Promise<Cqe>((resolve, reject) => {
      const key = `${sqid}:${cid}`;
      const timer = setTimeout(() => {
        this.waiting.delete(key);
        reject(new Error(`no completion for command ${cid} on SQ ${sqid} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(key, { resolve, reject, timer });
      this.kick();
    });
  }

  submit(sqid: number, sqe: Buffer, timeoutMs = 5000): Promise<Cqe> {
    const cid = this.place(sqid, sqe);
    const p = this.wait(sqid, cid, timeoutMs);
    this.ring(sqid);
    return p;
  }

  /** Reaps every CQ once; returns how many entries were consumed. */
  poll(): number {
    let n = 0;
    for (const cq of this.cqs.values()) {
      let got = 0;
      for (;;) {
        const e = this.drv.read(cq.iova + BigInt(16 * cq.head), 16);
        const dw3 = e.readUInt32LE(12);
        if (((dw3 >> 16) & 1) !== (cq.phase ? 1 : 0)) break;
        const c: Cqe = { dw0: e.readUInt32LE(0), dw1: e.readUInt32LE(4), sqHead: e.readUInt16LE(8), sqId: e.readUInt16LE(10), cid: dw3 & 0xffff, status: dw3 >>> 17 };
        cq.head = (cq.head + 1) % cq.size;
        if (cq.head === 0) cq.phase = !cq.phase;
        got++;
        const key = `${c.sqId}:${c.cid}`;
        const w = this.waiting.get(key);
        if (w) {
          this.waiting.delete(key);
          clearTimeout(w.timer);
          w.resolve(c);
        } else this.stray.push(c);
      }
      if (got) this.doorbell(2 * cq.qid + 1, cq.head);
      n += got;
    }
    return n;
  }

  private kick(): void {
    if (this.timer || this.closed) return;
    const tick = () => {
      this.timer = null;
      this.poll();
      if (this.waiting.size && !this.closed) this.timer = setImmediate(tick);
    };
    this.timer = setImmediate(tick);
  }

  /** Polls for `ms` milliseconds (to see completions nobody asked for). */
  async settle(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      this.poll();
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearImmediate(this.timer);
    this.forget('all');
  }
}

// ------------------------------------------------------------------ a session with the controller

export interface SessionOptions {
  socketPath: string;
  /** Use the mmapped doorbell page when the target offers one. */
  mappedDoorbells: boolean;
  /** 'bare': enabled controller only; 'full': Number of Queues = 4 and I/O queue pair 1. */
  shape: 'bare' | 'full';
}

export const GRANTED_QUEUES = 4;
export const IO_QUEUE_SIZE = 64;

export class Session {
  queues!: HostQueues;
  ctrl!: ControllerFacts;
  idc!: Buffer;
  ns!: NamespaceFacts;
  /** Set when a case left the controller in a state the next one must not inherit. */
  dirty = false;

  private constructor(
    readonly drv: NvmeDriver,
    readonly shape: 'bare' | 'full',
  ) {}

  static async open(o: SessionOptions): Promise<Session> {
    const drv = await NvmeDriver.attach(o.socketPath, { memoryBytes: 64 << 20, useMappedDoorbells: o.mappedDoorbells });
    const s = new Session(drv, o.shape);
    try {
      s.queues = new HostQueues(drv);
      s.idc = await drv.identify(1);
      s.ctrl = controllerFacts(s.idc);
      const list = await drv.identify(2, 0);
      const nsid = list.readUInt32LE(0);
      if (!nsid) throw new Error('the controller has no active namespace');
      const id = await drv.identify(0, nsid);
      const lbaf = id.readUInt32LE(128 + 4 * (id[26]! & 0xf));
      s.ns = { nsid, blocks: id.readBigUInt64LE(0), blockSize: 2 ** ((lbaf >> 16) & 0xff), dlfeat: id[33]! };
      if (o.shape === 'full') {
        await drv.setNumberOfQueues(GRANTED_QUEUES);
        await s.createCq(1, IO_QUEUE_SIZE);
        await s.createSq(1, 1, IO_QUEUE_SIZE);
      }
    } catch (err) {
      s.close();
      throw err;
    }
    return s;
  }

  /** Create I/O Completion Queue; host state is kept only when it succeeds. */
  async createCq(qid: number, size: number, f: { iv?: number; ien?: boolean; pc?: boolean; iova?: bigint } = {}): Promise<Cqe> {
    const iova = f.iova ?? this.queues.allocRing(size, 16);
    const c = await this.drv.adminCommand(cmd(0x05, 0, { prp1: iova, cdw10: (((size - 1) & 0xffff) << 16) | qid, cdw11: ((f.iv ?? 0) << 16) | (f.ien ? 2 : 0) | (f.pc === false ? 0 : 1) }));
    if (c.status === 0) this.queues.addCq(qid, size, iova);
    return c;
  }

  async createSq(qid: number, cqid: number, size: number, f: { pc?: boolean; iova?: bigint } = {}): Promise<Cqe> {
    const iova = f.iova ?? this.queues.allocRing(size, 64);
    const c = await this.drv.adminCommand(cmd(0x01, 0, { prp1: iova, cdw10: (((size - 1) & 0xffff) << 16) | qid, cdw11: (cqid << 16) | (f.pc === false ? 0 : 1) }));
    if (c.status === 0) this.queues.addSq(qid, cqid, size, iova);
    return c;
  }

  /** Resets the controller (CC.EN=0) and enables it again with an empty admin queue. */
  async reinit(): Promise<void> {
    const d = this.drv;
    this.queues.forget('all');
    await d.disable();
    await this.enableAgain();
  }

  /** After CSTS.RDY=0: program the admin queue afresh and set CC.EN=1. */
  async enableAgain(): Promise<void> {
    const d = this.drv;
    const a = d.admin;
    a.sqTail = 0;
    a.cqHead = 0;
    a.phase = true;
    d.write(a.cqIova, Buffer.alloc(16 * a.size));
    await d.client.write32(BAR0, 0x24, ((a.size - 1) << 16) | (a.size - 1));
    await d.client.write64(BAR0, 0x28, a.sqIova);
    await d.client.write64(BAR0, 0x30, a.cqIova);
    await d.client.write32(BAR0, 0x14, (6 << 16) | (4 << 20) | 1);
    await d.waitReady(true);
  }

  close(): void {
    this.queues?.close();
    this.drv.close();
  }
}

// ------------------------------------------------------------------ what a case is handed

export class CaseFailure extends Error {}
export class CaseSkip extends Error {}

const hex = (v: number | bigint) => `0x${v.toString(16)}`;

function describe(sqe: Buffer, admin: boolean): { command: string; fields: string } {
  const opc = sqe[0]!;
  const name = (admin ? ADMIN_COMMAND_NAMES : IO_COMMAND_NAMES)[opc] ?? 'reserved/unknown';
  const parts: string[] = [];
  if (sqe[1]) parts.push(`flags=${hex(sqe[1])}`);
  const nsid = sqe.readUInt32LE(4);
  if (nsid) parts.push(`nsid=${hex(nsid)}`);
  for (let i = 10; i <= 15; i++) {
    const v = sqe.readUInt32LE(4 * i);
    if (v) parts.push(`cdw${i}=${hex(v)}`);
  }
  return { command: `${name} (${hex(opc)})`, fields: parts.join(' ') };
}

export function statusText(s: number): string {
  return s === 0 ? 'SUCCESS' : statusName(s);
}

export interface CaseEnv {
  /** Doorbell mode in use for this run. */
  mode: 'mapped' | 'message';
  /** The in-process target, when the suite started its own. */
  endpoint: NvmeEndpoint | null;
  socketPath: string;
  subnqn?: string;
  /** A namespace whose I/O takes long enough to be caught in flight (in-process target). */
  slowNsid?: number;
  /** A namespace served through the TypeScript bdev path rather than the native engine. */
  upcallNsid?: number;
}

export class CaseContext {
  readonly evidence: Evidence[] = [];

  constructor(
    private readonly getSession: () => Session,
    readonly env: CaseEnv,
  ) {}

  get s(): Session {
    return this.getSession();
  }
  get drv(): NvmeDriver {
    return this.s.drv;
  }
  get q(): HostQueues {
    return this.s.queues;
  }
  get ns(): NamespaceFacts {
    return this.nsOverride ?? this.s.ns;
  }
  private nsOverride: NamespaceFacts | null = null;

  /** Runs the rest of the case against namespace `nsid` instead of the session's first one. */
  async useNamespace(nsid: number): Promise<void> {
    const b = this.buf(4096);
    const c = await this.admin(cmd(0x06, nsid, { prp1: b, cdw10: 0 }));
    this.ok(c, `Identify Namespace ${nsid}`);
    const id = this.read(b, 4096);
    const lbaf = id.readUInt32LE(128 + 4 * (id[26]! & 0xf));
    this.nsOverride = { nsid, blocks: id.readBigUInt64LE(0), blockSize: 2 ** ((lbaf >> 16) & 0xff), dlfeat: id[33]! };
    this.note(`namespace under test: ${nsid}`);
  }
  get ctrl(): ControllerFacts {
    return this.s.ctrl;
  }

  note(text: string): void {
    this.evidence.push({ note: text });
  }

  private record(queue: number, sqe: Buffer, c: Cqe): void {
    const d = describe(sqe, queue === 0);
    const e: CommandEvidence = { queue, command: d.command, fields: d.fields, status: statusText(c.status), statusRaw: c.status, dw0: c.dw0 };
    this.evidence.push(e);
  }

  /** An admin command; its completion is recorded as evidence. */
  async admin(sqe: Buffer, timeoutMs = 5000): Promise<Cqe> {
    const c = await this.drv.submit(this.drv.admin, sqe, timeoutMs);
    this.record(0, sqe, c);
    return c;
  }

  /** An admin command whose completion may never come (AER): resolves to null on timeout. */
  adminPending(sqe: Buffer, timeoutMs: number): Promise<Cqe | null> {
    const copy = Buffer.from(sqe);
    return this.drv.submit(this.drv.admin, sqe, timeoutMs).then(
      (c) => {
        copy.writeUInt16LE(c.cid, 2);
        this.record(0, copy, c);
        return c;
      },
      () => null,
    );
  }

  /** An I/O command on host SQ `sqid` (default the session's queue 1). */
  async io(sqe: Buffer, sqid = 1, timeoutMs = 5000): Promise<Cqe> {
    const c = await this.q.submit(sqid, sqe, timeoutMs);
    this.record(sqid, sqe, c);
    return c;
  }

  recordIo(sqid: number, sqe: Buffer, c: Cqe): void {
    this.record(sqid, sqe, c);
  }

  /** Create I/O CQ/SQ through the session (host state kept on success), recorded as evidence. */
  async createCq(qid: number, size: number, f: Parameters<Session['createCq']>[2] = {}): Promise<Cqe> {
    const c = await this.s.createCq(qid, size, f);
    this.evidence.push({ queue: 0, command: 'Create I/O CQ (0x5)', fields: `qid=${qid} size=${size}`, status: statusText(c.status), statusRaw: c.status, dw0: c.dw0 });
    return c;
  }
  async createSq(qid: number, cqid: number, size: number, f: Parameters<Session['createSq']>[3] = {}): Promise<Cqe> {
    const c = await this.s.createSq(qid, cqid, size, f);
    this.evidence.push({ queue: 0, command: 'Create I/O SQ (0x1)', fields: `qid=${qid} cqid=${cqid} size=${size}`, status: statusText(c.status), statusRaw: c.status, dw0: c.dw0 });
    return c;
  }

  fail(msg: string): never {
    throw new CaseFailure(msg);
  }
  skip(reason: string): never {
    throw new CaseSkip(reason);
  }
  check(cond: unknown, msg: string): asserts cond {
    if (!cond) this.fail(msg);
  }
  eq<T>(actual: T, expected: T, what: string): void {
    if (actual !== expected) this.fail(`${what}: got ${fmt(actual)}, expected ${fmt(expected)}`);
  }

  /** The completion's SCT/SC must be one of `expected` (DNR and More are not compared). */
  expect(c: Cqe, expected: number | number[], what: string): void {
    const list = Array.isArray(expected) ? expected : [expected];
    if (!list.some((e) => (e & 0x7ff) === (c.status & 0x7ff)))
      this.fail(`${what}: status ${statusText(c.status)}, expected ${list.map(statusText).join(' or ')}`);
  }
  ok(c: Cqe, what: string): void {
    this.expect(c, Status.SUCCESS, what);
  }
  /** Any failure status will do. */
  rejected(c: Cqe, what: string): void {
    if (c.status === 0) this.fail(`${what}: succeeded, expected an error status`);
  }

  buf(bytes: number, fill?: number): bigint {
    const iova = this.drv.alloc(Math.max(bytes, 4), 4096);
    if (fill !== undefined) this.drv.write(iova, Buffer.alloc(bytes, fill));
    return iova;
  }
  read(iova: bigint, len: number): Buffer {
    return this.drv.read(iova, len);
  }
  write(iova: bigint, data: Buffer): void {
    this.drv.write(iova, data);
  }

  reg32(off: number): Promise<number> {
    return this.drv.client.read32(BAR0, off);
  }
  reg64(off: number): Promise<bigint> {
    return this.drv.client.read64(BAR0, off);
  }
  setReg32(off: number, v: number): Promise<void> {
    this.note(`BAR0[0x${off.toString(16)}] <- ${hex(v)}`);
    return this.drv.client.write32(BAR0, off, v);
  }
  /** A raw doorbell write: index 2*qid (SQ tail) or 2*qid+1 (CQ head). */
  async doorbell(index: number, value: number): Promise<void> {
    this.note(`${index & 1 ? 'CQ' : 'SQ'} ${index >> 1} ${index & 1 ? 'head' : 'tail'} doorbell <- ${value} (${this.drv.doorbellPage ? 'mapped page' : 'REGION_WRITE'})`);
    if (this.drv.doorbellPage) this.drv.doorbellPage.writeU32(index * 4, value);
    else await this.drv.client.regionWrite(BAR0, 0x1000 + index * 4, u32(value));
  }

  /** Polls CSTS until `pred` holds or CAP.TO passes. */
  async waitCsts(pred: (csts: number) => boolean, what: string): Promise<number> {
    const until = Date.now() + (Number((this.drv.cap >> 24n) & 0xffn) * 500 || 500);
    for (;;) {
      const v = await this.reg32(0x1c);
      if (pred(v)) return v;
      if (Date.now() > until) this.fail(`${what}: CSTS=${hex(v)} after CAP.TO`);
      await new Promise((r) => setTimeout(r, 1));
    }
  }

  /** A read/write command with PRPs built by the driver. */
  rw(opc: number, slba: bigint, blocks: number, iova: bigint, f: { nsid?: number; bytes?: number } = {}): Buffer {
    const bytes = f.bytes ?? blocks * this.ns.blockSize;
    const { prp1, prp2 } = this.drv.prps(iova, bytes);
    return cmd(opc, f.nsid ?? this.ns.nsid, { prp1, prp2, cdw10: Number(slba & 0xffffffffn), cdw11: Number(slba >> 32n), cdw12: (blocks - 1) & 0xffff });
  }

  /** The session needs to be replaced after this case. */
  dirty(): void {
    this.s.dirty = true;
  }
}

function fmt(v: unknown): string {
  return typeof v === 'number' ? `${v} (0x${(v >>> 0).toString(16)})` : typeof v === 'bigint' ? `${v}` : JSON.stringify(v);
}

export function pattern(bytes: number, seed: number): Buffer {
  const b = Buffer.alloc(bytes);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < bytes; i += 4) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

/** Writes `data` at `slba` with PRPs the driver builds (known good): the data a case then checks. */
export async function seed(t: CaseContext, slba: bigint, data: Buffer): Promise<void> {
  const b = t.buf(data.length);
  t.write(b, data);
  t.ok(await t.io(t.rw(IoOpcode.WRITE, slba, data.length / t.ns.blockSize, b)), 'seed Write');
}

/** Reads `bytes` at `slba` with driver-built PRPs into a buffer filled with 5Ah first. */
export async function readBack(t: CaseContext, slba: bigint, bytes: number): Promise<Buffer> {
  const b = t.buf(bytes, 0x5a);
  t.ok(await t.io(t.rw(IoOpcode.READ, slba, bytes / t.ns.blockSize, b)), 'read back');
  return t.read(b, bytes);
}

// A small PCI device for protocol tests: BAR0 is 16 KiB, its first page plain registers
// (scratch RAM), its second page a shared file offered for mmap (like NVMe doorbells).
// Writing BAR0 0x118 starts a DMA copy (src 0x100, dst 0x108, len 0x110) through DmaSpace
// and raises MSI-X vector 0 when done; 0x120 reads back the copy status (errno, 0 = ok).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { native } from '../../native/index.js';
import { PciFunction, type PciDeviceModel } from '../../target/pci/function.js';
import type { DeviceContext } from '../../target/vfio-user/device.js';
import { VfioUserServer, type ServerOptions } from '../../target/vfio-user/server.js';
import { WireError } from '../../target/vfio-user/wire.js';
import type { FastWrites } from '../../target/vfio-user/transport.js';

export class ScratchModel implements PciDeviceModel {
  readonly regs = Buffer.alloc(4096);
  readonly pageFd: number;
  readonly page;
  ctx: DeviceContext | null = null;
  fn: PciFunction | null = null;
  resets: string[] = [];
  attaches = 0;
  detaches = 0;
  quiesces: [bigint, bigint][] = [];
  copies = 0;
  bars;

  constructor(dir: string) {
    this.pageFd = native.createUnlinkedFile(join(dir, 'bar0'), 0x4000);
    this.page = new native.SharedMemory(this.pageFd, 0x1000, 0x1000);
    this.bars = [
      {
        index: 0,
        size: 0x4000,
        kind: 'mem64' as const,
        handler: { read: (o: bigint, c: number) => this.read(o, c), write: (o: bigint, d: Buffer) => this.write(o, d) },
        mmap: { fd: this.pageFd, offset: 0n, areas: [{ offset: 0x1000n, size: 0x1000n }] },
      },
    ];
  }

  // Accesses may straddle the register page, the shared page and the plain rest of the BAR.
  read(off: bigint, count: number): Buffer {
    const o = Number(off);
    const out = Buffer.alloc(count);
    if (o < 0x1000) this.regs.copy(out, 0, o, Math.min(o + count, 0x1000));
    const lo = Math.max(o, 0x1000), hi = Math.min(o + count, 0x2000);
    if (lo < hi) this.page.read(lo - 0x1000, hi - lo).copy(out, lo - o);
    return out;
  }

  write(off: bigint, data: Buffer): void | Promise<void> {
    const o = Number(off);
    if (o < 0x1000) data.copy(this.regs, o, 0, Math.min(data.length, 0x1000 - o));
    const lo = Math.max(o, 0x1000), hi = Math.min(o + data.length, 0x2000);
    if (lo < hi) this.page.write(lo - 0x1000, data.subarray(lo - o, hi - o));
    if (o === 0x118) return this.copy();
  }

  private async copy(): Promise<void> {
    const src = this.regs.readBigUInt64LE(0x100);
    const dst = this.regs.readBigUInt64LE(0x108);
    const len = Number(this.regs.readBigUInt64LE(0x110));
    try {
      const data = await this.ctx!.dma.read(src, len);
      await this.ctx!.dma.write(dst, data);
      this.regs.writeUInt32LE(0, 0x120);
      this.copies++;
    } catch (err) {
      this.regs.writeUInt32LE(err instanceof WireError ? err.errno : 9999, 0x120);
    }
    this.fn?.interrupt(0);
  }

  attach(ctx: DeviceContext, fn: PciFunction): void {
    this.ctx = ctx;
    this.fn = fn;
    this.attaches++;
  }
  detach(): void {
    this.ctx = null;
    this.detaches++;
  }
  reset(kind: 'flr' | 'device'): void {
    this.resets.push(kind);
    this.regs.fill(0);
  }
  quiesceDma(iova: bigint, size: bigint): void {
    this.quiesces.push([iova, size]);
  }
  /** Tests of the channel's fast writes set this (BAR0 writes the socket may serve natively). */
  fast: FastWrites | null = null;
  fastWrites(): FastWrites | null {
    return this.fast;
  }
  close(): void {
    this.page.unmap();
    native.closeFd(this.pageFd);
  }
}

export interface ScratchServer {
  dir: string;
  path: string;
  model: ScratchModel;
  fn: PciFunction;
  server: VfioUserServer;
  close(): Promise<void>;
}

export function startScratchServer(opts: ServerOptions = {}): ScratchServer {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-test-'));
  const path = join(dir, 'cntrl');
  const model = new ScratchModel(dir);
  const fn = new PciFunction({
    identity: { vendorId: 0x4e58, deviceId: 0x0001, subsystemVendorId: 0x4e58, subsystemId: 0, revision: 0, classCode: 0x010802 },
    msixVectors: 32,
    model,
  });
  const server = new VfioUserServer(path, fn, opts);
  return {
    dir,
    path,
    model,
    fn,
    server,
    async close() {
      await server.close();
      model.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function openFds(): number {
  return readdirCount('/proc/self/fd');
}

import { readdirSync } from 'node:fs';
function readdirCount(p: string): number {
  return readdirSync(p).length;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The errno of an error reply to `command`, or 0 when it succeeded (fds in the reply are closed). */
export async function replyErrno(
  c: { request(command: number, payload?: Buffer, fds?: number[]): Promise<{ hdr: { flags: number; error: number; command: number }; fds: number[] }> },
  command: number,
  payload: Buffer = Buffer.alloc(0),
  fds: number[] = [],
): Promise<number> {
  const r = await c.request(command, payload, fds);
  r.fds.forEach((fd) => native.closeFd(fd));
  if (r.hdr.command !== command) throw new Error(`reply for command ${r.hdr.command}, expected ${command}`);
  return r.hdr.flags & 0x20 ? r.hdr.error : 0;
}

/**
 * Records every native.closeFd call until stop(): tests check that the server closes a
 * received fd exactly once (a second close of a reused number would hit someone else's fd).
 */
export function trackCloses(): { counts: Map<number, number>; doubles(): number[]; stop(): void } {
  const orig = native.closeFd;
  const counts = new Map<number, number>();
  native.closeFd = (fd: number) => {
    counts.set(fd, (counts.get(fd) ?? 0) + 1);
    return orig(fd);
  };
  return {
    counts,
    doubles: () => [...counts].filter(([, n]) => n > 1).map(([fd]) => fd),
    stop() {
      native.closeFd = orig;
    },
  };
}

/** Waits until `cond()` holds, polling every few ms (for effects of a peer's close). */
export async function waitFor(cond: () => boolean, timeoutMs = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

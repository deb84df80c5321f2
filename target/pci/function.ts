// A generic PCI function served over vfio-user: config space with capabilities, BARs with
// sizing, MSI-X table and PBA in their own BARs (never in an mmapped page), INTx, and
// function-level reset. A device model (the NVMe controller) plugs its BARs and hooks in.
import { CFG, COMMAND_INTX_DISABLE, COMMAND_IO, COMMAND_MASTER, COMMAND_MEMORY, COMMAND_SERR, CONFIG_SIZE, ConfigSpace } from '../pci/config-space.js';
import { buildCapabilities, EXP_DEVCTL_FLR, EXP_OFFSET, MSIX_CTRL_ENABLE, MSIX_CTRL_MASKALL, MSIX_OFFSET } from './capabilities.js';
import type { DeviceContext, IrqSpec, RegionSpec, VfioDevice } from '../vfio-user/device.js';
import type { FastWrites } from '../vfio-user/transport.js';
import {
  DEVICE_FLAGS_PCI,
  DEVICE_FLAGS_RESET,
  Errno,
  IRQ_INFO_AUTOMASKED,
  IRQ_INFO_EVENTFD,
  IRQ_INFO_MASKABLE,
  IrqIndex,
  RegionIndex,
  WireError,
  type SparseArea,
} from '../vfio-user/wire.js';

export interface PciIdentity {
  vendorId: number;
  deviceId: number;
  subsystemVendorId: number;
  subsystemId: number;
  revision: number;
  /** 24-bit class code: base << 16 | sub << 8 | prog-if (NVMe: 0x010802). */
  classCode: number;
}

export interface BarHandler {
  read(offset: bigint, count: number): Buffer;
  write(offset: bigint, data: Buffer): void | Promise<void>;
}

export interface BarSpec {
  index: number;
  size: number; // power of two, >= 16
  kind: 'mem32' | 'mem64';
  prefetchable?: boolean;
  handler: BarHandler;
  mmap?: { fd: number; offset: bigint; areas: SparseArea[] };
}

/** What a device model supplies to the function. */
export interface PciDeviceModel {
  bars: BarSpec[];
  attach(ctx: DeviceContext, fn: PciFunction): void;
  detach(): void | Promise<void>;
  /** Function-level or device reset (DEVICE_RESET, FLR). */
  reset(kind: 'flr' | 'device'): void | Promise<void>;
  quiesceDma?(iova: bigint, size: bigint): void | Promise<void>;
  dmaMapped?(iova: bigint, size: bigint): void;
  /** Config-space command register changed (bus mastering, INTx disable). */
  commandChanged?(command: number): void;
  /** BAR writes native code may serve straight from the socket (see VfioDevice.fastWrites). */
  fastWrites?(): FastWrites | null;
}

export interface PciFunctionOptions {
  identity: PciIdentity;
  msixVectors: number;
  model: PciDeviceModel;
}

const MSIX_TABLE_BAR = 4;
const MSIX_PBA_BAR = 5;

export class PciFunction implements VfioDevice {
  readonly config = new ConfigSpace();
  readonly regions: RegionSpec[];
  readonly irqs: IrqSpec[];
  readonly deviceFlags = DEVICE_FLAGS_PCI | DEVICE_FLAGS_RESET;
  readonly msixVectors: number;
  private readonly bars = new Map<number, BarSpec>();
  private readonly msixTable: Buffer;
  private ctx: DeviceContext | null = null;
  private readonly model: PciDeviceModel;
  private readonly identity: PciIdentity;

  constructor(opts: PciFunctionOptions) {
    this.model = opts.model;
    this.identity = opts.identity;
    if (opts.msixVectors < 1 || opts.msixVectors > 2048) throw new Error('MSI-X vector count must be 1..2048');
    this.msixVectors = opts.msixVectors;
    this.msixTable = Buffer.alloc(16 * opts.msixVectors);
    const tableSize = Math.max(4096, pow2(16 * opts.msixVectors));
    const msixBars: BarSpec[] = [
      { index: MSIX_TABLE_BAR, size: tableSize, kind: 'mem32', handler: { read: (o, c) => this.tableRead(o, c), write: (o, d) => this.tableWrite(o, d) } },
      { index: MSIX_PBA_BAR, size: 4096, kind: 'mem32', handler: { read: (o, c) => this.pbaRead(o, c), write: () => undefined } },
    ];
    for (const b of [...opts.model.bars, ...msixBars]) {
      if (b.size < 16 || (b.size & (b.size - 1)) !== 0) throw new Error(`BAR${b.index} size ${b.size} is not a power of two >= 16`);
      if (this.bars.has(b.index) || (b.kind === 'mem64' && this.bars.has(b.index + 1))) throw new Error(`BAR${b.index} defined twice`);
      this.bars.set(b.index, b);
    }
    this.regions = [];
    for (let i = 0; i <= RegionIndex.VGA; i++) {
      const bar = i <= 5 ? this.bars.get(i) : undefined;
      if (bar) this.regions.push({ index: i, size: BigInt(bar.size), readable: true, writable: true, mmap: bar.mmap });
      else if (i === RegionIndex.CONFIG) this.regions.push({ index: i, size: BigInt(CONFIG_SIZE), readable: true, writable: true });
      else this.regions.push({ index: i, size: 0n, readable: false, writable: false });
    }
    this.irqs = [
      { index: IrqIndex.INTX, count: 1, flags: IRQ_INFO_EVENTFD | IRQ_INFO_MASKABLE | IRQ_INFO_AUTOMASKED },
      { index: IrqIndex.MSI, count: 0, flags: IRQ_INFO_EVENTFD },
      { index: IrqIndex.MSIX, count: opts.msixVectors, flags: IRQ_INFO_EVENTFD },
      { index: IrqIndex.ERR, count: 1, flags: IRQ_INFO_EVENTFD },
      { index: IrqIndex.REQ, count: 1, flags: IRQ_INFO_EVENTFD },
    ];
    this.initConfig();
  }

  private initConfig(): void {
    const c = this.config;
    c.bytes.fill(0);
    c.writable.fill(0);
    c.w1c.fill(0);
    const id = this.identity;
    c.set16(CFG.VENDOR_ID, id.vendorId);
    c.set16(CFG.DEVICE_ID, id.deviceId);
    c.set8(CFG.REVISION, id.revision);
    c.set8(CFG.CLASS_PROG, id.classCode & 0xff);
    c.set8(CFG.CLASS_SUB, (id.classCode >> 8) & 0xff);
    c.set8(CFG.CLASS_BASE, (id.classCode >> 16) & 0xff);
    c.set16(CFG.SUBSYS_VENDOR, id.subsystemVendorId);
    c.set16(CFG.SUBSYS_ID, id.subsystemId);
    c.mask16(CFG.COMMAND, COMMAND_IO | COMMAND_MEMORY | COMMAND_MASTER | (1 << 6) | COMMAND_SERR | COMMAND_INTX_DISABLE);
    c.w1c16(CFG.STATUS, 0xf900); // parity, signalled/received aborts, SERR: RW1C
    c.mask8(CFG.CACHE_LINE, 0xff);
    c.mask8(CFG.LATENCY, 0xff);
    c.mask8(CFG.INT_LINE, 0xff);
    c.set8(CFG.INT_PIN, 1); // INTA#
    for (const bar of this.bars.values()) {
      const off = CFG.BAR0 + 4 * bar.index;
      const type = (bar.kind === 'mem64' ? 0b100 : 0) | (bar.prefetchable ? 0b1000 : 0);
      c.set32(off, type);
      c.mask32(off, ~(bar.size - 1) & 0xfffffff0);
      if (bar.kind === 'mem64') c.mask32(off + 4, 0xffffffff);
    }
    buildCapabilities(c, { vectors: this.msixVectors, tableBar: MSIX_TABLE_BAR, tableOffset: 0, pbaBar: MSIX_PBA_BAR, pbaOffset: 0 });
    for (let v = 0; v < this.msixVectors; v++) this.msixTable.writeUInt32LE(1, 16 * v + 12); // vectors start masked
  }

  // ------------------------------------------------------------------ VfioDevice

  regionRead(index: number, offset: bigint, count: number): Buffer {
    if (index === RegionIndex.CONFIG) return this.config.read(Number(offset), count);
    const bar = this.bars.get(index);
    if (!bar) throw new WireError(Errno.EINVAL, `region ${index} is not implemented`);
    return bar.handler.read(offset, count);
  }

  regionWrite(index: number, offset: bigint, data: Buffer): void | Promise<void> {
    if (index === RegionIndex.CONFIG) return this.configWrite(Number(offset), data);
    const bar = this.bars.get(index);
    if (!bar) throw new WireError(Errno.EINVAL, `region ${index} is not implemented`);
    return bar.handler.write(offset, data);
  }

  reset(): void | Promise<void> {
    return this.model.reset('device');
  }

  attach(ctx: DeviceContext): void {
    this.ctx = ctx;
    this.model.attach(ctx, this);
  }

  detach(): void | Promise<void> {
    const r = this.model.detach();
    this.ctx = null;
    return r;
  }

  fastWrites(): FastWrites | null {
    return this.model.fastWrites?.() ?? null;
  }

  quiesceDma(iova: bigint, size: bigint): void | Promise<void> {
    return this.model.quiesceDma?.(iova, size);
  }

  dmaMapped(iova: bigint, size: bigint): void {
    this.model.dmaMapped?.(iova, size);
  }

  /** Config space and MSI-X table (live migration). */
  saveState(): { config: Buffer; msixTable: Buffer } {
    return { config: Buffer.from(this.config.bytes), msixTable: Buffer.from(this.msixTable) };
  }

  /** Restores saveState() output; the caller has validated the sizes. */
  restoreState(s: { config: Buffer; msixTable: Buffer }): void {
    if (s.config.length !== this.config.bytes.length || s.msixTable.length !== this.msixTable.length) throw new Error('config space or MSI-X table size differs');
    s.config.copy(this.config.bytes);
    s.msixTable.copy(this.msixTable);
    this.model.commandChanged?.(this.command);
  }

  // ------------------------------------------------------------------ config space

  get command(): number {
    return this.config.u16(CFG.COMMAND);
  }

  get msixEnabled(): boolean {
    const ctrl = this.config.u16(MSIX_OFFSET + 2);
    return (ctrl & MSIX_CTRL_ENABLE) !== 0;
  }

  get msixMaskAll(): boolean {
    return (this.config.u16(MSIX_OFFSET + 2) & MSIX_CTRL_MASKALL) !== 0;
  }

  private configWrite(off: number, data: Buffer): void | Promise<void> {
    const oldCommand = this.command;
    const devctl = EXP_OFFSET + 8;
    // Initiate FLR (DevCtl bit 15) is an action, not state: it reads back as 0.
    const flr = off <= devctl + 1 && off + data.length > devctl + 1 && (data[devctl + 1 - off]! & 0x80) !== 0;
    this.config.write(off, data);
    if (this.command !== oldCommand) this.model.commandChanged?.(this.command);
    if (flr) {
      this.initConfig();
      return this.model.reset('flr');
    }
  }

  // ------------------------------------------------------------------ MSI-X

  private tableRead(offset: bigint, count: number): Buffer {
    const o = Number(offset);
    if (o + count > this.msixTable.length) return Buffer.concat([this.msixTable.subarray(o), Buffer.alloc(Math.max(0, o + count - Math.max(o, this.msixTable.length)))]).subarray(0, count);
    return Buffer.from(this.msixTable.subarray(o, o + count));
  }

  private tableWrite(offset: bigint, data: Buffer): void {
    const o = Number(offset);
    if (o >= this.msixTable.length) return;
    const n = Math.min(data.length, this.msixTable.length - o);
    data.copy(this.msixTable, o, 0, n);
    // A vector unmasked with an interrupt pending fires now (PCI MSI-X rules).
    for (let v = Math.floor(o / 16); v <= Math.floor((o + n - 1) / 16); v++) {
      if (!this.vectorMasked(v) && this.ctx?.irqs.pending(IrqIndex.MSIX, v)) this.ctx.irqs.trigger(IrqIndex.MSIX, v);
    }
  }

  private pbaRead(offset: bigint, count: number): Buffer {
    const bits = this.ctx ? this.ctx.irqs.pendingBits(IrqIndex.MSIX) : Buffer.alloc(0);
    const out = Buffer.alloc(count);
    // The PBA BAR is a page; past the bits of the last vector it reads as zero.
    const o = Number(offset);
    if (o < bits.length) bits.copy(out, 0, o, Math.min(o + count, bits.length));
    return out;
  }

  /** Per-vector mask from our copy of the table (clients that emulate the table never write it). */
  vectorMasked(v: number): boolean {
    return (this.msixTable.readUInt32LE(16 * v + 12) & 1) !== 0;
  }

  /**
   * Raises interrupt vector `v`: MSI-X if enabled, else INTx (unless disabled in COMMAND).
   * Masking is the client's business (it re-assigns or masks eventfds); a client that drives
   * the table itself gets the table's mask bit honoured through `honourTableMask`.
   */
  interrupt(v: number, honourTableMask = false): void {
    const irqs = this.ctx?.irqs;
    if (!irqs) return;
    if (this.msixEnabled || irqs.fd(IrqIndex.MSIX, v) !== null) {
      if (this.msixEnabled && (this.msixMaskAll || (honourTableMask && this.vectorMasked(v)))) irqs.setPending(IrqIndex.MSIX, v);
      else irqs.trigger(IrqIndex.MSIX, v);
      return;
    }
    if (!(this.command & COMMAND_INTX_DISABLE)) irqs.trigger(IrqIndex.INTX, 0);
  }
}

function pow2(n: number): number {
  let p = 1;
  while (p < n) p <<= 1;
  return p;
}

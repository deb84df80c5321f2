// What the vfio-user server needs from a device model (target/pci implements it for PCI
// functions). The server owns the protocol; the device owns regions, interrupts and reset.
import type { IrqTable } from './irq.js';
import type { DmaSpace } from './dma.js';
import type { SparseArea } from './wire.js';
import type { FastWrites } from './transport.js';

export interface RegionSpec {
  index: number;
  size: bigint;
  readable: boolean;
  writable: boolean;
  /** Offered for mmap through the sparse-mmap capability, with this fd. */
  mmap?: { fd: number; offset: bigint; areas: SparseArea[] };
  /** VFIO_REGION_INFO_CAP_TYPE (e.g. the v1 migration region). */
  type?: { type: number; subtype: number };
}

export interface IrqSpec {
  index: number;
  count: number;
  flags: number;
}

/** Services the server gives a device while a client is attached. */
export interface DeviceContext {
  dma: DmaSpace;
  irqs: IrqTable;
  log: Logger;
}

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

export interface VfioDevice {
  readonly regions: RegionSpec[];
  readonly irqs: IrqSpec[];
  /** DEVICE_GET_INFO flags: PCI is implied for PCI devices; RESET if reset() works. */
  readonly deviceFlags: number;
  /** Reads `count` bytes; throws WireError for a bad access. */
  regionRead(index: number, offset: bigint, count: number): Buffer;
  /** Writes; may be async (e.g. a controller reset); the server waits before the next message. */
  regionWrite(index: number, offset: bigint, data: Buffer): void | Promise<void>;
  reset(): void | Promise<void>;
  /** A client connected (after VERSION). */
  attach(ctx: DeviceContext): void;
  /** The client is gone: stop touching its memory; device state stays. */
  detach(): void | Promise<void>;
  /** Called before a DMA region disappears so in-flight DMA to it can finish. */
  quiesceDma?(iova: bigint, size: bigint): void | Promise<void>;
  /** Called after a DMA region was added. */
  dmaMapped?(iova: bigint, size: bigint): void;
  /**
   * Register writes the socket may hand to native code directly (after attach), or null: the
   * server enables them only while it has no earlier message waiting, so ordering holds.
   */
  fastWrites?(): FastWrites | null;
}

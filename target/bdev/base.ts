// What every bdev shares: range checks against its geometry and I/O statistics
// (bdev_get_iostat), so each bdev type only writes its data path.
import { randomUUID } from 'node:crypto';
import { Bdev, BdevIoError, BdevIoStats, NativeBacking } from './bdev.js';

/** NVMe generic command statuses (NVMe Base spec, Figure "Generic Command Status Values"). */
export const NVME_SC = {
  SUCCESS: 0x00,
  INVALID_FIELD: 0x02,
  DATA_TRANSFER_ERROR: 0x04,
  INTERNAL_DEVICE_ERROR: 0x06,
  LBA_OUT_OF_RANGE: 0x80,
  NAMESPACE_NOT_READY: 0x82,
} as const;
/** NVMe media and data integrity errors (SCT 2). */
export const NVME_MEDIA_SC = {
  WRITE_FAULT: 0x80,
  UNRECOVERED_READ_ERROR: 0x81,
} as const;

/** Latency extremes kept beside the Bdev interface's stats, for bdev_get_iostat. */
export interface LatencyExtremes {
  max_read_latency_ticks: number;
  min_read_latency_ticks: number;
  max_write_latency_ticks: number;
  min_write_latency_ticks: number;
  max_unmap_latency_ticks: number;
  min_unmap_latency_ticks: number;
  unmap_latency_ticks: number;
}

/** Ticks are nanoseconds: bdev_get_iostat reports tick_rate 1e9. */
export const TICK_RATE = 1_000_000_000;
export function ticksNow(): number {
  return Number(process.hrtime.bigint());
}

export function emptyStats(): BdevIoStats {
  return {
    bytes_read: 0,
    num_read_ops: 0,
    bytes_written: 0,
    num_write_ops: 0,
    bytes_unmapped: 0,
    num_unmap_ops: 0,
    num_flush_ops: 0,
    num_write_zeroes_ops: 0,
    read_latency_ticks: 0,
    write_latency_ticks: 0,
  };
}

function emptyExtremes(): LatencyExtremes {
  return {
    max_read_latency_ticks: 0,
    min_read_latency_ticks: 0,
    max_write_latency_ticks: 0,
    min_write_latency_ticks: 0,
    max_unmap_latency_ticks: 0,
    min_unmap_latency_ticks: 0,
    unmap_latency_ticks: 0,
  };
}

export interface BdevGeometry {
  name: string;
  blockSize: number;
  numBlocks: number;
  uuid?: string;
}

/**
 * A bdev with checked, counted I/O: subclasses implement the do* methods, which are only
 * called with in-range requests whose data is a whole number of blocks.
 */
export abstract class BaseBdev implements Bdev {
  abstract readonly productName: string;
  readonly name: string;
  readonly blockSize: number;
  numBlocks: number;
  readonly uuid: string;
  readonly stats: BdevIoStats = emptyStats();
  readonly extremes: LatencyExtremes = emptyExtremes();
  /** I/Os submitted and not yet completed (bdev_get_iostat queue_depth). */
  inFlight = 0;
  abstract readonly writeCache: boolean;
  readonly baseBdev?: string;
  /** Counts of I/Os completed with an error, by SPDK's io_error names. */
  readonly ioErrors: Record<string, number> = {};

  constructor(g: BdevGeometry) {
    if (!Number.isInteger(g.blockSize) || g.blockSize < 512 || g.blockSize % 512 !== 0)
      throw new RangeError(`block size ${g.blockSize} must be a multiple of 512`);
    if (!Number.isSafeInteger(g.numBlocks) || g.numBlocks < 1) throw new RangeError(`number of blocks ${g.numBlocks} must be at least 1`);
    this.name = g.name;
    this.blockSize = g.blockSize;
    this.numBlocks = g.numBlocks;
    this.uuid = g.uuid ?? randomUUID();
  }

  get sizeBytes(): number {
    return this.blockSize * this.numBlocks;
  }

  protected abstract doRead(lba: number, blocks: number): Promise<Buffer>;
  protected abstract doWrite(lba: number, data: Buffer): Promise<void>;
  protected abstract doFlush(): Promise<void>;
  protected abstract doWriteZeroes(lba: number, blocks: number): Promise<void>;
  protected abstract doUnmap(lba: number, blocks: number): Promise<void>;
  abstract nativeBacking(): NativeBacking | null;
  abstract driverSpecific(): Record<string, unknown>;
  abstract close(): Promise<void>;

  /** Checks [lba, lba+blocks) lies in the bdev; returns lba as a safe number. */
  protected checkRange(lba: bigint, blocks: number): number {
    if (!Number.isInteger(blocks) || blocks < 0) throw new BdevIoError(`${this.name}: bad block count ${blocks}`, { sct: 0, sc: NVME_SC.INVALID_FIELD });
    if (lba < 0n || lba + BigInt(blocks) > BigInt(this.numBlocks))
      throw new BdevIoError(`${this.name}: LBA ${lba}+${blocks} beyond ${this.numBlocks} blocks`, { sct: 0, sc: NVME_SC.LBA_OUT_OF_RANGE });
    return Number(lba);
  }

  private async timed<T>(kind: 'read' | 'write' | 'unmap' | 'other', fn: () => Promise<T>): Promise<T> {
    const start = ticksNow();
    this.inFlight++;
    try {
      return await fn();
    } catch (err) {
      const key = err instanceof BdevIoError ? 'nvme_error' : 'failure';
      this.ioErrors[key] = (this.ioErrors[key] ?? 0) + 1;
      throw err;
    } finally {
      this.inFlight--;
      const t = ticksNow() - start;
      const s = this.stats;
      const x = this.extremes;
      if (kind === 'read') {
        s.read_latency_ticks += t;
        x.max_read_latency_ticks = Math.max(x.max_read_latency_ticks, t);
        x.min_read_latency_ticks = x.min_read_latency_ticks ? Math.min(x.min_read_latency_ticks, t) : t;
      } else if (kind === 'write') {
        s.write_latency_ticks += t;
        x.max_write_latency_ticks = Math.max(x.max_write_latency_ticks, t);
        x.min_write_latency_ticks = x.min_write_latency_ticks ? Math.min(x.min_write_latency_ticks, t) : t;
      } else if (kind === 'unmap') {
        x.unmap_latency_ticks += t;
        x.max_unmap_latency_ticks = Math.max(x.max_unmap_latency_ticks, t);
        x.min_unmap_latency_ticks = x.min_unmap_latency_ticks ? Math.min(x.min_unmap_latency_ticks, t) : t;
      }
    }
  }

  async read(lba: bigint, blocks: number): Promise<Buffer> {
    const l = this.checkRange(lba, blocks);
    const data = await this.timed('read', () => this.doRead(l, blocks));
    this.stats.num_read_ops++;
    this.stats.bytes_read += blocks * this.blockSize;
    return data;
  }

  async write(lba: bigint, data: Buffer): Promise<void> {
    if (data.length % this.blockSize !== 0)
      throw new BdevIoError(`${this.name}: write of ${data.length} bytes is not a whole number of ${this.blockSize}-byte blocks`, {
        sct: 0,
        sc: NVME_SC.INVALID_FIELD,
      });
    const l = this.checkRange(lba, data.length / this.blockSize);
    await this.timed('write', () => this.doWrite(l, data));
    this.stats.num_write_ops++;
    this.stats.bytes_written += data.length;
  }

  async flush(): Promise<void> {
    await this.timed('other', () => this.doFlush());
    this.stats.num_flush_ops++;
  }

  async writeZeroes(lba: bigint, blocks: number): Promise<void> {
    const l = this.checkRange(lba, blocks);
    await this.timed('other', () => this.doWriteZeroes(l, blocks));
    this.stats.num_write_zeroes_ops++;
  }

  async unmap(lba: bigint, blocks: number): Promise<void> {
    const l = this.checkRange(lba, blocks);
    await this.timed('unmap', () => this.doUnmap(l, blocks));
    this.stats.num_unmap_ops++;
    this.stats.bytes_unmapped += blocks * this.blockSize;
  }

  resetStats(): void {
    Object.assign(this.stats, emptyStats());
    Object.assign(this.extremes, emptyExtremes());
    for (const k of Object.keys(this.ioErrors)) delete this.ioErrors[k];
  }

  /** Which I/O types the bdev serves, for bdev_get_bdevs supported_io_types. */
  supportedIoTypes(): Record<string, boolean> {
    return {
      read: true,
      write: true,
      unmap: true,
      flush: true,
      reset: true,
      nvme_admin: false,
      nvme_io: false,
      nvme_io_md: false,
      write_zeroes: true,
      zcopy: false,
      get_zone_info: false,
      zone_management: false,
      zone_append: false,
      compare: false,
      compare_and_write: false,
      abort: false,
      seek_hole: false,
      seek_data: false,
      copy: false,
      nvme_iov_md: false,
    };
  }
}

/** A bdev stacked on another (error, delay, zone_block): forwards geometry and data to the base. */
export abstract class StackedBdev extends BaseBdev {
  override readonly baseBdev: string;
  constructor(
    name: string,
    readonly base: Bdev,
    uuid?: string,
    /** Fewer blocks than the base has (zone_block: whole zones only). */
    numBlocks = base.numBlocks,
  ) {
    super({ name, blockSize: base.blockSize, numBlocks, uuid });
    this.baseBdev = base.name;
  }
  get writeCache(): boolean {
    return this.base.writeCache;
  }
  protected doRead(lba: number, blocks: number): Promise<Buffer> {
    return this.base.read(BigInt(lba), blocks);
  }
  protected doWrite(lba: number, data: Buffer): Promise<void> {
    return this.base.write(BigInt(lba), data);
  }
  protected doFlush(): Promise<void> {
    return this.base.flush();
  }
  protected doWriteZeroes(lba: number, blocks: number): Promise<void> {
    return this.base.writeZeroes(BigInt(lba), blocks);
  }
  protected doUnmap(lba: number, blocks: number): Promise<void> {
    return this.base.unmap(BigInt(lba), blocks);
  }
  /** Per-I/O behaviour lives in TypeScript, so the native engine sends I/O up. */
  nativeBacking(): NativeBacking | null {
    return null;
  }
  async close(): Promise<void> {}
}

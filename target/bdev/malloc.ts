// bdev_malloc: a RAM disk. The data lives in a memfd mapped here with native.SharedMemory, so
// the native I/O engine can map the same fd and serve I/O without a copy through JavaScript.
// With metadata, the memfd holds numBlocks * md_size bytes of it after the data, whichever way
// the host transfers it (interleaved or separate); with PI, blocks start with all-FFh metadata,
// whose tags turn checking off, as SPDK's malloc_disk_setup_pi formats them (REFTAG/APPTAG
// IGNORE), and deallocated or Format NVM'd blocks return to that.
import { native } from '../../native/index.js';
import { BdevMetadata, NativeBacking } from './bdev.js';
import { BaseBdev, BdevGeometry } from './base.js';

export interface MallocBdevOptions extends BdevGeometry {
  optimalIoBoundary?: number;
  physicalBlockSize?: number;
  metadata?: BdevMetadata;
}

export class MallocBdev extends BaseBdev {
  readonly productName = 'Malloc disk';
  readonly writeCache = false;
  readonly fd: number;
  readonly metadata?: BdevMetadata;
  private readonly mem;
  private closed = false;

  constructor(readonly options: MallocBdevOptions) {
    super(options);
    this.metadata = options.metadata;
    const total = this.sizeBytes + this.numBlocks * (this.metadata?.size ?? 0);
    this.fd = native.memfdCreate(`vnvme-malloc-${options.name}`, total);
    try {
      this.mem = new native.SharedMemory(this.fd, total);
    } catch (err) {
      native.closeFd(this.fd);
      throw err;
    }
    this.resetMetadata(0, this.numBlocks);
  }

  /** Metadata of blocks with no data of the host's: zeroes, or all FFh with PI (checks off). */
  private resetMetadata(lba: number, blocks: number): void {
    const md = this.metadata;
    if (!md || !md.piType) return; // the memfd starts zeroed; zeroes are written below otherwise
    this.mem.fill(this.sizeBytes + lba * md.size, blocks * md.size, 0xff);
  }
  private clearMetadata(lba: number, blocks: number): void {
    const md = this.metadata;
    if (!md) return;
    if (md.piType) this.resetMetadata(lba, blocks);
    else this.mem.fill(this.sizeBytes + lba * md.size, blocks * md.size, 0);
  }

  protected async doRead(lba: number, blocks: number): Promise<Buffer> {
    return this.mem.read(lba * this.blockSize, blocks * this.blockSize);
  }
  protected async doWrite(lba: number, data: Buffer): Promise<void> {
    this.mem.write(lba * this.blockSize, data);
  }
  /** RAM has no volatile cache to drain. */
  protected async doFlush(): Promise<void> {}
  protected async doWriteZeroes(lba: number, blocks: number): Promise<void> {
    this.mem.fill(lba * this.blockSize, blocks * this.blockSize, 0);
    this.clearMetadata(lba, blocks);
  }
  /** Deallocated blocks read back as zeroes, as SPDK's malloc bdev does. */
  protected async doUnmap(lba: number, blocks: number): Promise<void> {
    this.mem.fill(lba * this.blockSize, blocks * this.blockSize, 0);
    this.clearMetadata(lba, blocks);
  }
  nativeBacking(): NativeBacking {
    return { kind: 'memory', fd: this.fd, size: this.sizeBytes, ...(this.metadata ? { metadata: this.metadata } : {}) };
  }
  driverSpecific(): Record<string, unknown> {
    return {};
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.mem.unmap();
    native.closeFd(this.fd);
  }
}

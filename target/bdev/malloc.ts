// bdev_malloc: a RAM disk. The data lives in a memfd mapped here with native.SharedMemory, so
// the native I/O engine can map the same fd and serve I/O without a copy through JavaScript.
import { native } from '../../native/index.js';
import { NativeBacking } from './bdev.js';
import { BaseBdev, BdevGeometry } from './base.js';

export interface MallocBdevOptions extends BdevGeometry {
  optimalIoBoundary?: number;
  physicalBlockSize?: number;
}

export class MallocBdev extends BaseBdev {
  readonly productName = 'Malloc disk';
  readonly writeCache = false;
  readonly fd: number;
  private readonly mem;
  private closed = false;

  constructor(readonly options: MallocBdevOptions) {
    super(options);
    this.fd = native.memfdCreate(`vnvme-malloc-${options.name}`, this.sizeBytes);
    try {
      this.mem = new native.SharedMemory(this.fd, this.sizeBytes);
    } catch (err) {
      native.closeFd(this.fd);
      throw err;
    }
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
  }
  /** Deallocated blocks read back as zeroes, as SPDK's malloc bdev does. */
  protected async doUnmap(lba: number, blocks: number): Promise<void> {
    this.mem.fill(lba * this.blockSize, blocks * this.blockSize, 0);
  }
  nativeBacking(): NativeBacking {
    return { kind: 'memory', fd: this.fd, size: this.sizeBytes };
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

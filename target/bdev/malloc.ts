// bdev_malloc: a RAM disk. The data lives in a memfd mapped here with native.SharedMemory, so
// the native I/O engine can map the same fd and serve I/O without a copy through JavaScript.
// With metadata, the memfd holds numBlocks * md_size bytes of it after the data, whichever way
// the host transfers it (interleaved or separate); with PI, blocks start with all-FFh metadata,
// whose tags turn checking off, as SPDK's malloc_disk_setup_pi formats them (REFTAG/APPTAG
// IGNORE), and deallocated or Format NVM'd blocks return to that.
import { native } from '../../native/index.js';
import { BdevMetadata, NativeBacking } from './bdev.js';
import { BaseBdev, BdevGeometry } from './base.js';

const HUGE_PAGE = 2 << 20;
const mapShared = (fd: number, size: number) => new native.SharedMemory(fd, size);

export interface MallocBdevOptions extends BdevGeometry {
  /**
   * On 2 MiB huge pages when the host has enough free (SPDK's malloc bdevs live in hugepage
   * memory): far fewer TLB misses for random I/O over a large disk. Falls back to ordinary
   * pages, saying why in `hugepagesRefused`. `vnvme target --malloc-hugepages`.
   */
  hugepages?: boolean;
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
  /** The data is on 2 MiB huge pages. */
  readonly hugepages: boolean = false;
  /** Why huge pages were asked for and not used (none free, ...). */
  readonly hugepagesRefused?: string;

  /** A hugetlb memfd of `bytes` rounded up to 2 MiB, mapped; or why not. */
  private static onHugepages(name: string, bytes: number): { fd: number; mem: ReturnType<typeof mapShared> } | { refused: string } {
    const size = Math.ceil(bytes / HUGE_PAGE) * HUGE_PAGE;
    let fd: number;
    try {
      fd = native.memfdCreate(`vnvme-malloc-${name}`, size, true);
    } catch (err) {
      return { refused: `memfd_create(MFD_HUGETLB): ${(err as Error).message}` };
    }
    try {
      // Mapping takes the pages: ENOMEM when fewer than size / 2 MiB are free.
      return { fd, mem: mapShared(fd, size) };
    } catch (err) {
      native.closeFd(fd);
      return { refused: `${size / HUGE_PAGE} free 2 MiB huge pages needed (vm.nr_hugepages): ${(err as Error).message}` };
    }
  }

  constructor(readonly options: MallocBdevOptions) {
    super(options);
    this.metadata = options.metadata;
    const total = this.sizeBytes + this.numBlocks * (this.metadata?.size ?? 0);
    let backing = options.hugepages ? MallocBdev.onHugepages(options.name, total) : null;
    if (backing && 'refused' in backing) {
      this.hugepagesRefused = backing.refused;
      backing = null;
    }
    if (backing) {
      this.fd = backing.fd;
      this.mem = backing.mem;
      this.hugepages = true;
    } else {
      this.fd = native.memfdCreate(`vnvme-malloc-${options.name}`, total);
      try {
        this.mem = new native.SharedMemory(this.fd, total);
      } catch (err) {
        native.closeFd(this.fd);
        throw err;
      }
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
    return this.options.hugepages ? { hugepages: this.hugepages } : {};
  }
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.mem.unmap();
    native.closeFd(this.fd);
  }
}

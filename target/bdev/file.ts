// bdev_aio / bdev_uring: a regular file or a block device.
//
// Two descriptors on the same file: `fd` is opened O_DIRECT where the filesystem allows it
// and is what the native engine gets (it can use aligned buffers); the TypeScript path uses a
// buffered descriptor, because a Node Buffer's address cannot be aligned. Linux keeps the two
// coherent (an O_DIRECT write invalidates the cached pages it covers). Flush is fdatasync on
// both. With the write cache off, a write is fdatasync'ed before it completes, so nothing is
// acknowledged before it is durable.
import { constants, promises as fsp, readFileSync, statSync, openSync, closeSync, fdatasync } from 'node:fs';
import { promisify } from 'node:util';
import { NativeBacking } from './bdev.js';
import { BdevIoError } from './bdev.js';
import { BaseBdev } from './base.js';

/** NVMe generic status Namespace is Write Protected. */
const SC_NAMESPACE_WRITE_PROTECTED = 0x20;

export interface FileBdevOptions {
  name: string;
  filename: string;
  /** Logical block size; detected (block device) or 512 (regular file) when absent. */
  blockSize?: number;
  readonly?: boolean;
  uuid?: string;
  /** Whether completed writes may sit in the page cache until a flush. Default true, as SPDK's aio bdev. */
  writeCache?: boolean;
  /** 'AIO disk' (bdev_aio_create) or 'URING bdev' (bdev_uring_create). */
  productName?: string;
}

const CHUNK = 1 << 20;

function majorMinor(rdev: number): string {
  const major = ((rdev >> 8) & 0xfff) | (Math.floor(rdev / 2 ** 32) & ~0xfff);
  const minor = (rdev & 0xff) | ((rdev >> 12) & ~0xff & 0xfffff);
  return `${major}:${minor}`;
}

/** Size in bytes and logical block size of a block device, from sysfs. */
function blockDeviceGeometry(rdev: number): { size: number; logicalBlockSize: number } {
  const dir = `/sys/dev/block/${majorMinor(rdev)}`;
  const sectors = Number(readFileSync(`${dir}/size`, 'utf8').trim());
  let lbs = 512;
  try {
    lbs = Number(readFileSync(`${dir}/queue/logical_block_size`, 'utf8').trim()) || 512;
  } catch {
    // partitions have no queue/ directory of their own; 512 is right for nearly all of them
  }
  return { size: sectors * 512, logicalBlockSize: lbs };
}

export class FileBdev extends BaseBdev {
  readonly productName: string;
  readonly writeCache: boolean;
  readonly filename: string;
  readonly readonly: boolean;
  readonly blockSizeOverride: number | undefined;
  private closed = false;

  private constructor(
    opts: FileBdevOptions,
    blockSize: number,
    numBlocks: number,
    /** The descriptor handed to the native engine (O_DIRECT when `direct`). */
    readonly fd: number,
    readonly direct: boolean,
    private readonly io: fsp.FileHandle,
  ) {
    super({ name: opts.name, blockSize, numBlocks, uuid: opts.uuid });
    this.productName = opts.productName ?? 'AIO disk';
    this.writeCache = opts.writeCache ?? true;
    this.filename = opts.filename;
    this.readonly = opts.readonly ?? false;
    this.blockSizeOverride = opts.blockSize;
  }

  /** Opens the file; throws a Node system error (ENOENT, EACCES...) or RangeError on bad geometry. */
  static async open(opts: FileBdevOptions): Promise<FileBdev> {
    const st = statSync(opts.filename);
    let size: number;
    let detected = 512;
    if (st.isBlockDevice()) {
      const g = blockDeviceGeometry(st.rdev);
      size = g.size;
      detected = g.logicalBlockSize;
    } else if (st.isFile()) {
      size = st.size;
    } else {
      throw new RangeError(`${opts.filename} is neither a regular file nor a block device`);
    }
    const blockSize = opts.blockSize || detected;
    if (blockSize < detected) throw new RangeError(`block size ${blockSize} is smaller than the device's logical block size ${detected}`);
    if (blockSize % 512 !== 0) throw new RangeError(`block size ${blockSize} must be a multiple of 512`);
    const numBlocks = Math.floor(size / blockSize);
    if (numBlocks < 1) throw new RangeError(`${opts.filename} (${size} bytes) is smaller than one ${blockSize}-byte block`);

    const mode = opts.readonly ? constants.O_RDONLY : constants.O_RDWR;
    let fd: number;
    let direct = true;
    try {
      fd = openSync(opts.filename, mode | constants.O_DIRECT);
    } catch (err) {
      // tmpfs and some FUSE filesystems refuse O_DIRECT
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
      fd = openSync(opts.filename, mode);
      direct = false;
    }
    let io: fsp.FileHandle;
    try {
      io = await fsp.open(opts.filename, mode);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return new FileBdev(opts, blockSize, numBlocks, fd, direct, io);
  }

  private readOnlyError(): Error {
    return new BdevIoError(`${this.name} is read-only`, { sct: 0, sc: SC_NAMESPACE_WRITE_PROTECTED });
  }

  protected async doRead(lba: number, blocks: number): Promise<Buffer> {
    const buf = Buffer.alloc(blocks * this.blockSize);
    let done = 0;
    while (done < buf.length) {
      const { bytesRead } = await this.io.read(buf, done, buf.length - done, lba * this.blockSize + done);
      if (bytesRead === 0) break; // past the end of a regular file: zeroes, as a sparse file reads
      done += bytesRead;
    }
    return buf;
  }

  private async writeAt(pos: number, data: Buffer): Promise<void> {
    if (this.readonly) throw this.readOnlyError();
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.io.write(data, done, data.length - done, pos + done);
      done += bytesWritten;
    }
  }

  protected async doWrite(lba: number, data: Buffer): Promise<void> {
    await this.writeAt(lba * this.blockSize, data);
    if (!this.writeCache) await this.io.datasync();
  }

  protected async doFlush(): Promise<void> {
    if (this.readonly) return;
    // Both descriptors: the native engine writes through `fd`.
    await Promise.all([this.io.datasync(), promisify(fdatasync)(this.fd)]);
  }

  protected async doWriteZeroes(lba: number, blocks: number): Promise<void> {
    const total = blocks * this.blockSize;
    const zero = Buffer.alloc(Math.min(CHUNK, total));
    for (let off = 0; off < total; off += zero.length) {
      await this.writeAt(lba * this.blockSize + off, zero.subarray(0, Math.min(zero.length, total - off)));
    }
    if (!this.writeCache) await this.io.datasync();
  }

  protected doUnmap(lba: number, blocks: number): Promise<void> {
    return this.doWriteZeroes(lba, blocks);
  }

  override supportedIoTypes(): Record<string, boolean> {
    return { ...super.supportedIoTypes(), write: !this.readonly, unmap: !this.readonly, write_zeroes: !this.readonly };
  }

  nativeBacking(): NativeBacking {
    return { kind: 'file', fd: this.fd, size: this.sizeBytes, direct: this.direct };
  }

  driverSpecific(): Record<string, unknown> {
    const key = this.productName === 'AIO disk' ? 'aio' : 'uring';
    return {
      [key]: {
        filename: this.filename,
        block_size_override: this.blockSizeOverride !== undefined,
        readonly: this.readonly,
        fallocate: false,
        direct: this.direct,
        write_cache: this.writeCache,
      },
    };
  }

  /** Flushes (unless read-only) and closes both descriptors. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (!this.readonly) await Promise.all([this.io.datasync(), promisify(fdatasync)(this.fd)]);
    } finally {
      await this.io.close();
      closeSync(this.fd);
    }
  }
}

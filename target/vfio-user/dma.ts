// Guest memory as the device sees it: the DMA map table (native, bounds-checked) plus
// message-based DMA (DMA_READ/DMA_WRITE to the client) for regions shared without an fd.
import { native, errnoOf, type NativeDmaTable } from '../../native/index.js';
import { Errno, WireError } from './wire.js';

export const ACCESS_READ = 1;
export const ACCESS_WRITE = 2;

/** Sends DMA_READ/DMA_WRITE to the client; supplied by the server session. */
export interface DmaMessenger {
  dmaRead(iova: bigint, count: number): Promise<Buffer>;
  dmaWrite(iova: bigint, data: Buffer): Promise<void>;
  readonly maxTransfer: number;
}

export class DmaSpace {
  readonly table: NativeDmaTable = new native.DmaTable();
  messenger: DmaMessenger | null = null;
  maxRegions = 65535;

  map(fd: number | null, fileOffset: bigint, iova: bigint, size: bigint, prot: number): void {
    if (this.table.count() >= this.maxRegions) throw new WireError(Errno.ENOSPC, `DMA_MAP: more than ${this.maxRegions} regions`);
    try {
      this.table.map(fd ?? -1, fileOffset, iova, size, prot);
    } catch (err) {
      throw new WireError(errnoOf(err) ?? Errno.EINVAL, `DMA_MAP of [0x${iova.toString(16)}, +0x${size.toString(16)}): ${(err as Error).message}`);
    }
  }

  unmap(iova: bigint, size: bigint): boolean {
    return this.table.unmap(iova, size);
  }

  unmapAll(): number {
    return this.table.unmapAll();
  }

  /** A region is registered with exactly [iova, iova + size). */
  has(iova: bigint, size: bigint): boolean {
    return this.table.has(iova, size);
  }

  regions(): { iova: number; size: number; prot: number; mapped: boolean }[] {
    return this.table.list();
  }

  /** Synchronous read of fd-backed memory; throws WireError(EFAULT) for anything else. */
  readSync(iova: bigint, length: number): Buffer {
    try {
      return this.table.read(iova, length);
    } catch (err) {
      throw new WireError(errnoOf(err) ?? Errno.EFAULT, (err as Error).message);
    }
  }

  writeSync(iova: bigint, data: Buffer): void {
    try {
      this.table.write(iova, data);
    } catch (err) {
      throw new WireError(errnoOf(err) ?? Errno.EFAULT, (err as Error).message);
    }
  }

  /** Reads guest memory, through DMA_READ messages where the region has no fd. */
  async read(iova: bigint, length: number): Promise<Buffer> {
    const state = this.table.check(iova, length, ACCESS_READ);
    if (state === 'ok') return this.table.read(iova, length);
    if (state === 'nofd' && this.messenger) {
      const parts: Buffer[] = [];
      for (let done = 0; done < length; ) {
        const n = Math.min(this.messenger.maxTransfer, length - done);
        parts.push(await this.messenger.dmaRead(iova + BigInt(done), n));
        done += n;
      }
      return Buffer.concat(parts);
    }
    throw new WireError(state === 'denied' ? Errno.EACCES : Errno.EFAULT, `DMA read of ${length} bytes at 0x${iova.toString(16)}: ${state}`);
  }

  async write(iova: bigint, data: Buffer): Promise<void> {
    const state = this.table.check(iova, data.length, ACCESS_WRITE);
    if (state === 'ok') return this.table.write(iova, data);
    if (state === 'nofd' && this.messenger) {
      for (let done = 0; done < data.length; ) {
        const n = Math.min(this.messenger.maxTransfer, data.length - done);
        await this.messenger.dmaWrite(iova + BigInt(done), data.subarray(done, done + n));
        done += n;
      }
      return;
    }
    throw new WireError(state === 'denied' ? Errno.EACCES : Errno.EFAULT, `DMA write of ${data.length} bytes at 0x${iova.toString(16)}: ${state}`);
  }
}

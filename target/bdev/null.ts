// bdev_null: reads return zeroes, writes are dropped; for measuring everything but the media.
import { NativeBacking } from './bdev.js';
import { BaseBdev, BdevGeometry } from './base.js';

export class NullBdev extends BaseBdev {
  readonly productName = 'Null disk';
  readonly writeCache = false;

  constructor(g: BdevGeometry) {
    super(g);
  }
  protected async doRead(_lba: number, blocks: number): Promise<Buffer> {
    return Buffer.alloc(blocks * this.blockSize);
  }
  protected async doWrite(): Promise<void> {}
  protected async doFlush(): Promise<void> {}
  protected async doWriteZeroes(): Promise<void> {}
  protected async doUnmap(): Promise<void> {}
  nativeBacking(): NativeBacking {
    return { kind: 'null' };
  }
  driverSpecific(): Record<string, unknown> {
    return {};
  }
  async close(): Promise<void> {}
}

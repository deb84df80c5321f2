// bdev_delay: adds latency to a base bdev's I/O, as SPDK's delay vbdev. Reads and writes
// complete after the average latency, and one I/O in a hundred after the p99 latency
// (microseconds). Flush, unmap and write zeroes count as writes.
import { Bdev } from './bdev.js';
import { StackedBdev } from './base.js';

export interface DelayLatencies {
  avgReadUs: number;
  p99ReadUs: number;
  avgWriteUs: number;
  p99WriteUs: number;
}

export type DelayLatencyType = 'avg_read' | 'avg_write' | 'p99_read' | 'p99_write';

function sleepUs(us: number): Promise<void> {
  if (us <= 0) return Promise.resolve();
  return new Promise((res) => setTimeout(res, us / 1000));
}

export class DelayBdev extends StackedBdev {
  readonly productName = 'delay';
  private reads = 0;
  private writes = 0;

  constructor(
    name: string,
    base: Bdev,
    readonly latencies: DelayLatencies,
    uuid?: string,
  ) {
    super(name, base, uuid);
  }

  update(type: DelayLatencyType, us: number): void {
    const key = ({ avg_read: 'avgReadUs', avg_write: 'avgWriteUs', p99_read: 'p99ReadUs', p99_write: 'p99WriteUs' } as const)[type];
    this.latencies[key] = us;
  }

  /** Every 100th I/O of a kind gets the p99 latency. */
  private readDelay(): number {
    return ++this.reads % 100 === 0 ? this.latencies.p99ReadUs : this.latencies.avgReadUs;
  }
  private writeDelay(): number {
    return ++this.writes % 100 === 0 ? this.latencies.p99WriteUs : this.latencies.avgWriteUs;
  }

  protected override async doRead(lba: number, blocks: number): Promise<Buffer> {
    const [data] = await Promise.all([super.doRead(lba, blocks), sleepUs(this.readDelay())]);
    return data;
  }
  protected override async doWrite(lba: number, data: Buffer): Promise<void> {
    await Promise.all([super.doWrite(lba, data), sleepUs(this.writeDelay())]);
  }
  protected override async doFlush(): Promise<void> {
    await Promise.all([super.doFlush(), sleepUs(this.writeDelay())]);
  }
  protected override async doUnmap(lba: number, blocks: number): Promise<void> {
    await Promise.all([super.doUnmap(lba, blocks), sleepUs(this.writeDelay())]);
  }
  protected override async doWriteZeroes(lba: number, blocks: number): Promise<void> {
    await Promise.all([super.doWriteZeroes(lba, blocks), sleepUs(this.writeDelay())]);
  }

  driverSpecific(): Record<string, unknown> {
    return {
      delay: {
        name: this.name,
        base_bdev_name: this.base.name,
        avg_read_latency: this.latencies.avgReadUs,
        p99_read_latency: this.latencies.p99ReadUs,
        avg_write_latency: this.latencies.avgWriteUs,
        p99_write_latency: this.latencies.p99WriteUs,
      },
    };
  }
}

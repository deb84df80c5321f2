// A verifying write/read workload over an NvmeDriver I/O queue: `lanes` concurrent workers,
// each owning a disjoint set of block ranges, write unique patterns (lane, sequence, LBA in
// every 16 bytes) and read them back, checking against a model of acknowledged writes.
// Used by migration scenarios: it keeps running across migrations, and verifyAll() proves
// every acknowledged write is intact afterwards.
import type { NvmeDriver, QueuePair } from './nvme-driver.js';

export interface WorkloadOptions {
  nsid: number;
  blockSize: number;
  /** Blocks per I/O. */
  blocksPerIo: number;
  /** Slots (I/O-sized ranges) per lane. */
  slotsPerLane: number;
  lanes: number;
  /** Fraction of writes (0..1). */
  writeRatio?: number;
  seed?: number;
}

export interface WorkloadStats {
  writes: number;
  reads: number;
  verifiedReads: number;
  errors: string[];
}

export class VerifyingWorkload {
  /** Acknowledged content per slot: the sequence number written there (0 = never). */
  private readonly model: Map<number, number>[] = [];
  private readonly bufs: bigint[] = [];
  private running = false;
  private lanesDone: Promise<void>[] = [];
  readonly stats: WorkloadStats = { writes: 0, reads: 0, verifiedReads: 0, errors: [] };
  private seq = 0;
  private rnd: () => number;

  constructor(
    readonly drv: NvmeDriver,
    readonly q: QueuePair,
    readonly o: WorkloadOptions,
  ) {
    let s = o.seed ?? 1;
    this.rnd = () => {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      return s / 0x80000000;
    };
    const bytes = o.blockSize * o.blocksPerIo;
    for (let l = 0; l < o.lanes; l++) {
      this.model.push(new Map());
      this.bufs.push(drv.alloc(bytes));
    }
  }

  private lba(lane: number, slot: number): bigint {
    return BigInt((slot * this.o.lanes + lane) * this.o.blocksPerIo);
  }

  private pattern(lane: number, seq: number, lba: bigint): Buffer {
    const b = Buffer.alloc(this.o.blockSize * this.o.blocksPerIo);
    for (let at = 0; at < b.length; at += 16) {
      b.writeUInt32LE(lane, at);
      b.writeUInt32LE(seq, at + 4);
      b.writeBigUInt64LE(lba + BigInt(Math.floor(at / this.o.blockSize)), at + 8);
    }
    return b;
  }

  start(): void {
    this.running = true;
    for (let l = 0; l < this.o.lanes; l++) this.lanesDone.push(this.lane(l));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.lanesDone);
    this.lanesDone = [];
  }

  private async lane(l: number): Promise<void> {
    while (this.running && this.stats.errors.length === 0) {
      try {
        await this.one(l, Math.floor(this.rnd() * this.o.slotsPerLane), this.rnd() < (this.o.writeRatio ?? 0.6));
      } catch (err) {
        this.stats.errors.push(`lane ${l}: ${(err as Error).message}`);
      }
    }
  }

  private async one(l: number, slot: number, write: boolean): Promise<void> {
    const bytes = this.o.blockSize * this.o.blocksPerIo;
    const lba = this.lba(l, slot);
    const buf = this.bufs[l]!;
    if (write) {
      const seq = ++this.seq;
      this.drv.write(buf, this.pattern(l, seq, lba));
      const c = await this.drv.io(this.q, 0x01, this.o.nsid, lba, this.o.blocksPerIo, buf, bytes);
      if (c.status) throw new Error(`write of LBA ${lba} failed with status 0x${c.status.toString(16)}`);
      this.model[l]!.set(slot, seq); // acknowledged
      this.stats.writes++;
      return;
    }
    this.drv.write(buf, Buffer.alloc(bytes, 0xa5)); // stale bytes must not pass as data
    const c = await this.drv.io(this.q, 0x02, this.o.nsid, lba, this.o.blocksPerIo, buf, bytes);
    if (c.status) throw new Error(`read of LBA ${lba} failed with status 0x${c.status.toString(16)}`);
    this.stats.reads++;
    this.check(l, slot, lba, this.drv.read(buf, bytes));
  }

  private check(l: number, slot: number, lba: bigint, got: Buffer): void {
    const seq = this.model[l]!.get(slot);
    if (seq === undefined) return; // never written here: whatever the file held before
    const want = this.pattern(l, seq, lba);
    if (!got.equals(want)) {
      const at = got.findIndex((b, i) => b !== want[i]);
      throw new Error(`LBA ${lba}: data differs at byte ${at} (lane ${got.readUInt32LE(at - (at % 16))} seq ${got.readUInt32LE(at - (at % 16) + 4)}, expected seq ${seq})`);
    }
    this.stats.verifiedReads++;
  }

  /** Reads back every slot ever written and checks it (workload stopped). */
  async verifyAll(): Promise<number> {
    let n = 0;
    const bytes = this.o.blockSize * this.o.blocksPerIo;
    for (let l = 0; l < this.o.lanes; l++) {
      for (const [slot] of this.model[l]!) {
        const lba = this.lba(l, slot);
        const buf = this.bufs[l]!;
        const c = await this.drv.io(this.q, 0x02, this.o.nsid, lba, this.o.blocksPerIo, buf, bytes);
        if (c.status) throw new Error(`verify read of LBA ${lba} failed with status 0x${c.status.toString(16)}`);
        this.check(l, slot, lba, this.drv.read(buf, bytes));
        n++;
      }
    }
    return n;
  }

  /** Blocks the workload touches (size the namespace to at least this). */
  static blocksNeeded(o: WorkloadOptions): number {
    return o.lanes * o.slotsPerLane * o.blocksPerIo;
  }
}

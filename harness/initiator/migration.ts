// The initiator as a VMM that live-migrates a vfio-user device: v2 (DEVICE_FEATURE +
// MIG_DATA, dirty logging with DMA_LOGGING_*) and v1 (the migration region, DIRTY_PAGES).
// MigrationChannel speaks one protocol to one target; migrateDriver() moves a running
// NvmeDriver from its target to another: dirty logging and pre-copy rounds, pause the
// guest, STOP_COPY, read the device state, RESUMING on the destination, write it, RUNNING,
// switch the driver over, resume the guest. Guest memory is the driver's memfd, which the
// destination maps too (as QEMU's shared memory backend would be on the destination host).
import { VfioUserClient } from './vfio-user-client.js';
import type { NvmeDriver } from './nvme-driver.js';
import * as W from '../../target/vfio-user/wire.js';
import { MigState, toV1 } from '../../target/migration/state-machine.js';
import { DATA_OFFSET, DIRTY_PAGES_GET_BITMAP, DIRTY_PAGES_START, DIRTY_PAGES_STOP } from '../../target/migration/v1.js';

export type MigrationProtocol = 'v1' | 'v2';

const CHUNK = 256 << 10;

/** One target's migration interface, in either protocol. */
export class MigrationChannel {
  constructor(
    readonly client: VfioUserClient,
    readonly protocol: MigrationProtocol,
    readonly pageSize = 4096,
  ) {}

  // ------------------------------------------------------------------ v2 primitives

  async feature(flags: number, data: Buffer = Buffer.alloc(0), argsz?: number): Promise<Buffer> {
    const r = await this.client.call(W.Command.DEVICE_FEATURE, W.encodeDeviceFeature({ flags, data, argsz: argsz ?? W.DEVICE_FEATURE_SIZE + data.length }));
    return W.decodeDeviceFeature(r.payload).data;
  }

  /** MIGRATION feature flags (v2): STOP_COPY 1, P2P 2, PRE_COPY 4. */
  async migrationFlags(): Promise<bigint> {
    return (await this.feature(W.FEATURE_GET | W.Feature.MIGRATION, Buffer.alloc(0), 16)).readBigUInt64LE(0);
  }

  async state(): Promise<number> {
    if (this.protocol === 'v1') return (await this.client.regionRead(W.RegionIndex.MIGRATION, 0, 4)).readUInt32LE(0);
    return (await this.feature(W.FEATURE_GET | W.Feature.MIG_DEVICE_STATE, Buffer.alloc(0), 16)).readUInt32LE(0);
  }

  /** Sets the device state (a v2 state; translated to v1 bits for v1). */
  async setState(s: MigState): Promise<void> {
    if (this.protocol === 'v1') {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(toV1(s));
      await this.client.regionWrite(W.RegionIndex.MIGRATION, 0, b);
      return;
    }
    const d = Buffer.alloc(8);
    d.writeUInt32LE(s, 0);
    d.writeInt32LE(-1, 4);
    await this.feature(W.FEATURE_SET | W.Feature.MIG_DEVICE_STATE, d);
  }

  async startDirtyLogging(ranges: { iova: bigint; length: bigint }[]): Promise<void> {
    if (this.protocol === 'v1') {
      await this.dirtyPages(DIRTY_PAGES_START);
      return;
    }
    const d = Buffer.alloc(16 + 16 * ranges.length);
    d.writeBigUInt64LE(BigInt(this.pageSize), 0);
    d.writeUInt32LE(ranges.length, 8);
    ranges.forEach((r, i) => {
      d.writeBigUInt64LE(r.iova, 16 + 16 * i);
      d.writeBigUInt64LE(r.length, 24 + 16 * i);
    });
    await this.feature(W.FEATURE_SET | W.Feature.DMA_LOGGING_START, d);
  }

  async stopDirtyLogging(): Promise<void> {
    if (this.protocol === 'v1') await this.dirtyPages(DIRTY_PAGES_STOP);
    else await this.feature(W.FEATURE_SET | W.Feature.DMA_LOGGING_STOP);
  }

  /** The dirty bitmap of [iova, +length), one bit per page (cleared on the target as read). */
  async dirtyBitmap(iova: bigint, length: bigint): Promise<Buffer> {
    const pages = Number((length + BigInt(this.pageSize) - 1n) / BigInt(this.pageSize));
    const bytes = Math.ceil(pages / 64) * 8;
    if (this.protocol === 'v1') {
      const r = await this.dirtyPages(DIRTY_PAGES_GET_BITMAP, { iova, size: length, bytes });
      return r.subarray(40, 40 + bytes);
    }
    const d = Buffer.alloc(24);
    d.writeBigUInt64LE(iova, 0);
    d.writeBigUInt64LE(length, 8);
    d.writeBigUInt64LE(BigInt(this.pageSize), 16);
    const out = await this.feature(W.FEATURE_GET | W.Feature.DMA_LOGGING_REPORT, d, W.DEVICE_FEATURE_SIZE + 24 + bytes);
    return out.subarray(24, 24 + bytes);
  }

  private async dirtyPages(flags: number, range?: { iova: bigint; size: bigint; bytes: number }): Promise<Buffer> {
    const p = Buffer.alloc(range ? 40 : 8);
    p.writeUInt32LE(range ? 40 + range.bytes : 8, 0);
    p.writeUInt32LE(flags, 4);
    if (range) {
      p.writeBigUInt64LE(range.iova, 8);
      p.writeBigUInt64LE(range.size, 16);
      p.writeBigUInt64LE(BigInt(this.pageSize), 24);
      p.writeBigUInt64LE(BigInt(range.bytes), 32);
    }
    return (await this.client.call(W.Command.DIRTY_PAGES, p)).payload;
  }

  // ------------------------------------------------------------------ device state streams

  /** Reads the whole outgoing stream (PRE_COPY: what is there now; STOP_COPY: the record). */
  async readAll(): Promise<Buffer> {
    const parts: Buffer[] = [];
    if (this.protocol === 'v1') {
      const R = W.RegionIndex.MIGRATION;
      for (;;) {
        const pending = (await this.client.regionRead(R, 8, 8)).readBigUInt64LE(0);
        if (pending === 0n) break;
        const off = (await this.client.regionRead(R, 16, 8)).readBigUInt64LE(0);
        const size = Number((await this.client.regionRead(R, 24, 8)).readBigUInt64LE(0));
        if (size === 0) throw new Error('v1: pending bytes but a data_size of 0');
        for (let at = 0; at < size; at += CHUNK) parts.push(await this.client.regionRead(R, off + BigInt(at), Math.min(CHUNK, size - at)));
      }
      return Buffer.concat(parts);
    }
    for (;;) {
      const r = await this.client.call(W.Command.MIG_DATA_READ, W.encodeMigData({ argsz: W.MIG_DATA_SIZE + CHUNK, size: CHUNK }));
      const d = W.decodeMigData(r.payload);
      parts.push(Buffer.from(d.data.subarray(0, d.size)));
      if (d.size < CHUNK) break;
    }
    return Buffer.concat(parts);
  }

  /** Writes a record into a target in RESUMING, in chunks. */
  async writeAll(record: Buffer): Promise<void> {
    for (let at = 0; at < record.length; at += CHUNK) {
      const chunk = record.subarray(at, at + CHUNK);
      if (this.protocol === 'v1') {
        const R = W.RegionIndex.MIGRATION;
        const off = (await this.client.regionRead(R, 16, 8)).readBigUInt64LE(0);
        if (off !== BigInt(DATA_OFFSET)) throw new Error(`v1: unexpected data_offset ${off}`);
        await this.client.regionWrite(R, off, chunk);
        const sz = Buffer.alloc(8);
        sz.writeBigUInt64LE(BigInt(chunk.length));
        await this.client.regionWrite(R, 24, sz);
      } else {
        await this.client.call(W.Command.MIG_DATA_WRITE, W.encodeMigData({ size: chunk.length, data: chunk }));
      }
    }
  }
}

/** Opens a client on a target the way the migration VMM does (QEMU's capabilities, incl. v1 migration). */
export async function openMigrationClient(path: string): Promise<VfioUserClient> {
  return VfioUserClient.open(path);
}

export function popcount(bitmap: Buffer): number {
  let n = 0;
  for (const b of bitmap) {
    let x = b;
    while (x) {
      x &= x - 1;
      n++;
    }
  }
  return n;
}

export interface MigrationResult {
  protocol: MigrationProtocol;
  /** Guest paused (no doorbells, no reaping) until it runs on the destination. */
  downtimeMs: number;
  /** From the start of dirty logging to the guest running on the destination. */
  totalMs: number;
  /** Source STOP_COPY transition (quiesce + capture). */
  stopCopyMs: number;
  recordBytes: number;
  precopyRounds: number;
  /** Dirty pages reported per pre-copy round, then the final (stopped) round. */
  dirtyPages: number[];
  /** Commands submitted but not yet reaped when the guest paused (carried across). */
  inflightAtStop: number;
  /** Where the downtime went: stopCopy, finalBitmap, readState, writeState, restore, switch. */
  phasesMs: Record<string, number>;
}

export interface MigrateOptions {
  protocol: MigrationProtocol;
  precopyRounds?: number;
  /** Delay between pre-copy rounds (ms), so the guest dirties memory meanwhile. */
  roundDelayMs?: number;
  /** Called with the record before it is written to the destination (tests corrupt it here). */
  mutateRecord?: (record: Buffer) => Buffer;
}

/**
 * Migrates a running driver's device from its current target to `destPath`. On failure
 * the source is resumed and the guest continues there; the error is rethrown.
 */
export async function migrateDriver(drv: NvmeDriver, destPath: string, o: MigrateOptions): Promise<MigrationResult> {
  const t0 = performance.now();
  const src = new MigrationChannel(drv.client, o.protocol);
  const mem = drv.mem;
  const memRange = { iova: mem.iova, length: BigInt(mem.size) };
  const dirtyPages: number[] = [];
  await src.startDirtyLogging([memRange]);
  await src.setState(MigState.PRE_COPY);
  // The destination is prepared while the guest still runs: connect, map guest memory.
  const destClient = await openMigrationClient(destPath);
  let dst: MigrationChannel | null = null;
  let paused = false;
  try {
    await destClient.mapMemory(mem);
    dst = new MigrationChannel(destClient, o.protocol);
    if (o.protocol === 'v2' && !((await dst.migrationFlags()) & 1n)) throw new Error('destination does not support STOP_COPY');
    const rounds = o.precopyRounds ?? 2;
    for (let i = 0; i < rounds; i++) {
      // Pre-copy: what the device dirtied since the last round would be copied now.
      dirtyPages.push(popcount(await src.dirtyBitmap(memRange.iova, memRange.length)));
      const pre = await src.readAll(); // PRE_COPY carries no device data; the stream must be empty
      if (pre.length) throw new Error(`unexpected ${pre.length} bytes of pre-copy data`);
      if (o.roundDelayMs) await new Promise((r) => setTimeout(r, o.roundDelayMs));
    }
    // Stop the guest, then the device.
    drv.pauseGuest();
    paused = true;
    const inflightAtStop = drv.outstanding();
    const tDown = performance.now();
    const phases: Record<string, number> = {};
    let tp = tDown;
    const mark = (name: string) => {
      const now = performance.now();
      phases[name] = now - tp;
      tp = now;
    };
    await src.setState(MigState.STOP_COPY);
    const stopCopyMs = performance.now() - tDown;
    mark('stopCopy');
    dirtyPages.push(popcount(await src.dirtyBitmap(memRange.iova, memRange.length)));
    mark('finalBitmap');
    let record = await src.readAll();
    const recordBytes = record.length;
    mark('readState');
    if (o.mutateRecord) record = o.mutateRecord(record);
    await dst.setState(MigState.RESUMING);
    await dst.writeAll(record);
    mark('writeState');
    await dst.setState(MigState.RUNNING);
    mark('restore');
    const old = await drv.switchClient(destClient, { keepOld: true });
    await drv.resumeGuest();
    mark('switch');
    paused = false;
    const tEnd = performance.now();
    // The source stays stopped; finishing with it is outside the guest's pause.
    try {
      await src.setState(MigState.STOP);
      await src.stopDirtyLogging();
    } finally {
      old.dispose();
    }
    return { protocol: o.protocol, downtimeMs: tEnd - tDown, totalMs: tEnd - t0, stopCopyMs, recordBytes, precopyRounds: rounds, dirtyPages, inflightAtStop, phasesMs: phases };
  } catch (err) {
    // Back to the source: it resumes where it stopped (STOP_COPY/PRE_COPY -> RUNNING).
    try {
      if (!src.client.closed) {
        await src.setState(MigState.RUNNING);
        await src.stopDirtyLogging();
      }
      if (paused) await drv.resumeGuest();
    } finally {
      if (drv.client !== destClient) destClient.close();
    }
    throw err;
  }
}

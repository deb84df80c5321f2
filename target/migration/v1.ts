// Migration v1 (vfio-user spec before libvfio-user #782; what Oracle's QEMU branch
// vfio-user-dbfix and SPDK <= 25.05 speak), mapped onto the same state machine and stream:
//   * region 9, VFIO_REGION_TYPE_MIGRATION (3) / SUBTYPE_MIGRATION (1), header at 0:
//     device_state u32 @0, reserved u32 @4, pending_bytes u64 @8, data_offset u64 @16,
//     data_size u64 @24; the data window starts at DATA_OFFSET.
//     device_state bits: RUNNING 1, SAVING 2, RESUMING 4 (state-machine.ts fromV1/toV1).
//     Save: read pending_bytes (consumes the chunk read before) -> read data_offset (stages
//     the next chunk; idempotent until pending_bytes is read) -> read data_size -> read the
//     data; STOP_COPY ends at pending 0.
//     Restore: read data_offset -> write the chunk into the window -> write data_size.
//   * DIRTY_PAGES (14): argsz u32 @0, flags u32 @4 (START 1, STOP 2, GET_BITMAP 4); with
//     GET_BITMAP a range follows: iova u64 @8, size u64 @16, pgsize u64 @24, bitmap size u64
//     @32; the reply is argsz, flags, the range, then the bitmap.
//   * DMA_UNMAP flag GET_DIRTY_BITMAP: the bitmap of the range goes with the reply.
//   * VERSION capability "migration": {pgsize, max_bitmap_size}.
import * as W from '../vfio-user/wire.js';
import type { RegionSpec } from '../vfio-user/device.js';
import type { DeviceMigration } from './migration.js';
import { fromV1, MigState, stateName, toV1 } from './state-machine.js';

export const VFIO_REGION_TYPE_MIGRATION = 3;
export const VFIO_REGION_SUBTYPE_MIGRATION = 1;
export const DATA_OFFSET = 0x1000;
export const DATA_WINDOW = 1 << 20;
export const REGION_SIZE = DATA_OFFSET + DATA_WINDOW;
export const DIRTY_PAGES_START = 1;
export const DIRTY_PAGES_STOP = 2;
export const DIRTY_PAGES_GET_BITMAP = 4;
export const DIRTY_PAGES_SIZE = 8;
export const BITMAP_RANGE_SIZE = 32;
export const MAX_BITMAP_SIZE = 256 << 20; // QEMU's default; it refuses anything larger

const OFF_STATE = 0;
const OFF_PENDING = 8;
const OFF_DATA_OFFSET = 16;
const OFF_DATA_SIZE = 24;

export class MigrationV1 {
  readonly region: RegionSpec = {
    index: W.RegionIndex.MIGRATION,
    size: BigInt(REGION_SIZE),
    readable: true,
    writable: true,
    type: { type: VFIO_REGION_TYPE_MIGRATION, subtype: VFIO_REGION_SUBTYPE_MIGRATION },
  };
  /** Page size agreed in VERSION (the client's migration.pgsize). */
  pgsize = 4096;
  private staged: Buffer | null = null; // chunk offered at the data window (save)
  private window = Buffer.alloc(0); // chunk written by the client (restore)

  constructor(readonly m: DeviceMigration) {}

  versionCaps(client: W.VersionCaps): Partial<W.VersionCaps> {
    const mig = client.migration;
    if (!mig || typeof mig !== 'object') return {};
    const pg = typeof mig.pgsize === 'number' ? mig.pgsize : 4096;
    if (pg !== 4096) throw new W.WireError(W.Errno.EINVAL, `VERSION: migration pgsize ${pg} (only 4096)`);
    this.pgsize = pg;
    const maxBitmap = Math.min(typeof mig.max_bitmap_size === 'number' ? mig.max_bitmap_size : MAX_BITMAP_SIZE, MAX_BITMAP_SIZE);
    return { migration: { pgsize: pg, max_bitmap_size: maxBitmap } };
  }

  /** Forget per-connection stream state. */
  reset(): void {
    this.staged = null;
    this.window = Buffer.alloc(0);
  }

  private header(): Buffer {
    const h = Buffer.alloc(32);
    h.writeUInt32LE(toV1(this.m.state), OFF_STATE);
    h.writeBigUInt64LE(BigInt(this.m.pendingBytes + (this.staged?.length ?? 0)), OFF_PENDING);
    h.writeBigUInt64LE(BigInt(DATA_OFFSET), OFF_DATA_OFFSET);
    h.writeBigUInt64LE(BigInt(this.staged?.length ?? 0), OFF_DATA_SIZE);
    return h;
  }

  regionRead(offset: bigint, count: number): Buffer {
    const o = Number(offset);
    if (o >= DATA_OFFSET) {
      const d = this.staged ?? Buffer.alloc(0);
      const at = o - DATA_OFFSET;
      if (at + count > d.length) throw new W.WireError(W.Errno.EINVAL, `migration region: read of [${at}, +${count}) beyond the ${d.length}-byte chunk`);
      return Buffer.from(d.subarray(at, at + count));
    }
    if (o + count > 32) throw new W.WireError(W.Errno.EINVAL, `migration region: access [${o}, +${count}) outside the header`);
    // Side effects, in the order QEMU's v1 save loop relies on.
    if (o === OFF_PENDING) this.staged = null; // the chunk read before is consumed
    // Reading data_offset stages the next chunk; again before pending_bytes, the same one.
    if (o === OFF_DATA_OFFSET && this.saving() && this.staged === null) this.staged = Buffer.from(this.m.readData(DATA_WINDOW));
    return this.header().subarray(o, o + count);
  }

  private saving(): boolean {
    return this.m.state === MigState.STOP_COPY || this.m.state === MigState.PRE_COPY;
  }

  regionWrite(offset: bigint, data: Buffer): void | Promise<void> {
    const o = Number(offset);
    if (o >= DATA_OFFSET) {
      if (this.m.state !== MigState.RESUMING) throw new W.WireError(W.Errno.EINVAL, `migration region: data written in ${stateName(this.m.state)}`);
      const at = o - DATA_OFFSET;
      if (this.window.length < at + data.length) {
        const grown = Buffer.alloc(at + data.length);
        this.window.copy(grown);
        this.window = grown;
      }
      data.copy(this.window, at);
      return;
    }
    if (o === OFF_STATE && data.length === 4) {
      const bits = data.readUInt32LE(0);
      const to = fromV1(bits);
      if (to === null || to === MigState.ERROR) throw new W.WireError(W.Errno.EINVAL, `migration region: device_state 0x${bits.toString(16)} is not a valid v1 state`);
      this.staged = null;
      this.window = Buffer.alloc(0);
      return this.m.setState(to);
    }
    if (o === OFF_DATA_SIZE && data.length === 8) {
      const size = Number(data.readBigUInt64LE(0));
      if (this.m.state !== MigState.RESUMING) throw new W.WireError(W.Errno.EINVAL, `migration region: data_size written in ${stateName(this.m.state)}`);
      if (size > this.window.length) throw new W.WireError(W.Errno.EINVAL, `migration region: data_size ${size} but ${this.window.length} bytes written`);
      this.m.writeData(this.window.subarray(0, size));
      this.window = Buffer.alloc(0);
      return;
    }
    throw new W.WireError(W.Errno.EINVAL, `migration region: write of ${data.length} bytes at ${o} (only device_state and data_size are writable)`);
  }

  dirtyPages(p: Buffer): Buffer {
    if (p.length < DIRTY_PAGES_SIZE) throw new W.WireError(W.Errno.EINVAL, 'DIRTY_PAGES: short request');
    const flags = p.readUInt32LE(4);
    const one = [DIRTY_PAGES_START, DIRTY_PAGES_STOP, DIRTY_PAGES_GET_BITMAP].filter((f) => flags & f);
    if (one.length !== 1 || flags & ~7) throw new W.WireError(W.Errno.EINVAL, `DIRTY_PAGES: flags 0x${flags.toString(16)} need exactly one of START, STOP, GET_BITMAP`);
    if (flags === DIRTY_PAGES_START) {
      this.m.startLogging(this.pgsize);
      return echo(p, flags);
    }
    if (flags === DIRTY_PAGES_STOP) {
      this.m.stopLogging();
      return echo(p, flags);
    }
    if (p.length < DIRTY_PAGES_SIZE + BITMAP_RANGE_SIZE) throw new W.WireError(W.Errno.EINVAL, 'DIRTY_PAGES GET_BITMAP: no range');
    const iova = p.readBigUInt64LE(8);
    const size = p.readBigUInt64LE(16);
    const pgsize = p.readBigUInt64LE(24);
    const bsize = p.readBigUInt64LE(32);
    const bitmap = this.bitmap(iova, size, pgsize, bsize);
    const out = Buffer.alloc(DIRTY_PAGES_SIZE + BITMAP_RANGE_SIZE + bitmap.length);
    out.writeUInt32LE(out.length, 0);
    out.writeUInt32LE(flags, 4);
    p.copy(out, 8, 8, 8 + BITMAP_RANGE_SIZE);
    bitmap.copy(out, DIRTY_PAGES_SIZE + BITMAP_RANGE_SIZE);
    return out;
  }

  /** A bitmap of exactly `bsize` bytes; the client must allow at least one bit per page. */
  bitmap(iova: bigint, size: bigint, pgsize: bigint, bsize: bigint): Buffer {
    if (pgsize !== BigInt(this.pgsize)) throw new W.WireError(W.Errno.EINVAL, `dirty bitmap page size ${pgsize}, negotiated ${this.pgsize}`);
    if (size === 0n) throw new W.WireError(W.Errno.EINVAL, 'dirty bitmap of an empty range');
    const pages = (size + pgsize - 1n) / pgsize;
    if (bsize < (pages + 7n) / 8n || bsize > BigInt(MAX_BITMAP_SIZE)) throw new W.WireError(W.Errno.EINVAL, `dirty bitmap of ${bsize} bytes for ${pages} pages`);
    const words = this.m.dirtyBitmap(iova, size, Number(pgsize));
    const out = Buffer.alloc(Number(bsize));
    words.copy(out, 0, 0, Math.min(words.length, out.length));
    return out;
  }
}

function echo(p: Buffer, flags: number): Buffer {
  const out = Buffer.alloc(DIRTY_PAGES_SIZE);
  out.writeUInt32LE(DIRTY_PAGES_SIZE, 0);
  out.writeUInt32LE(flags, 4);
  void p;
  return out;
}

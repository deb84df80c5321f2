// What the vfio-user server asks of a migration implementation (target/migration/): the
// v2 commands (DEVICE_FEATURE, MIG_DATA_READ/WRITE), the v1 migration region, DIRTY_PAGES
// and DMA_UNMAP's dirty bitmap, the VERSION capability, and notice of reset and disconnect.
// The server stays a router; every migration rule lives behind this interface.
import type { RegionSpec } from './device.js';
import type { VersionCaps } from './wire.js';

export interface MigrationHooks {
  /** DEVICE_FEATURE (16): returns the reply payload. */
  deviceFeature(payload: Buffer): Buffer | Promise<Buffer>;
  /** MIG_DATA_READ (17): returns the reply payload; `maxXfer` bounds the data. */
  migDataRead(payload: Buffer, maxXfer: number): Buffer;
  /** MIG_DATA_WRITE (18). */
  migDataWrite(payload: Buffer): void;
  /** Migration v1 only: the migration region (index 9), DIRTY_PAGES and unmap bitmaps. */
  readonly v1Region?: RegionSpec;
  v1RegionRead?(offset: bigint, count: number): Buffer;
  v1RegionWrite?(offset: bigint, data: Buffer): void | Promise<void>;
  dirtyPages?(payload: Buffer): Buffer;
  /** The dirty bitmap of a range about to be unmapped (DMA_UNMAP GET_DIRTY_BITMAP). */
  unmapDirtyBitmap?(iova: bigint, size: bigint, pgsize: bigint, bitmapBytes: bigint): Buffer;
  /** Capabilities to add to the VERSION reply, given the client's. */
  versionCaps?(client: VersionCaps): Partial<VersionCaps>;
  /** DEVICE_RESET completed: ERROR is left only this way. */
  deviceReset(): void;
  /** The client disconnected: drop streams and logging; the next client finds a running device. */
  clientGone(): void | Promise<void>;
}

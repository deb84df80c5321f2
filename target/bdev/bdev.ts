// The block device abstraction namespaces are built on, named as SPDK's bdevs are.
//
// Every bdev serves I/O through async TypeScript methods. Bdevs whose data the native I/O
// engine can reach directly also describe that backing (`nativeBacking`): a malloc bdev is a
// memfd the engine maps, a file bdev an fd it reads and writes with pread/pwrite. Bdevs with
// per-I/O behaviour in TypeScript (error injection, delay) return null, and the engine sends
// their I/O up to TypeScript.

/** An NVMe status a bdev wants a command to complete with (SCT, SC), e.g. media errors. */
export interface NvmeStatusCode {
  sct: number;
  sc: number;
}

/** Thrown by bdev I/O to complete a command with a specific NVMe status. */
export class BdevIoError extends Error {
  constructor(
    message: string,
    readonly status: NvmeStatusCode,
  ) {
    super(message);
  }
}

/**
 * A bdev's per-block metadata, as SPDK's bdev_malloc_create configures it (md_size,
 * md_interleave, dif_type, dif_is_head_of_md; 16-bit Guard PI only). The namespace shows it as
 * its LBA format: MS, FLBAS bit 4 (interleaved: extended), DPS.
 */
export interface BdevMetadata {
  /** Bytes a block: 8, 16, 32, 64 or 128. */
  size: number;
  /** Interleaved after each block's data (NVMe extended LBA) or a separate buffer (MPTR). */
  interleave: boolean;
  /** Protection information type 0 (none), 1, 2 or 3. */
  piType: number;
  /** PI in the first 8 bytes of the metadata (else the last 8). */
  piFirst: boolean;
}

/**
 * A zoned bdev's layout (bdev_zone_block_create): zone size (a power of two) and capacity in
 * blocks, the number of zones, Max Open and Max Active Resources in zones (0: no limit).
 */
export interface BdevZoneLayout {
  zoneSize: number;
  zoneCapacity: number;
  zones: number;
  maxOpenZones: number;
  maxActiveZones: number;
}

export type NativeBacking =
  | { kind: 'memory'; fd: number; size: number; metadata?: BdevMetadata; zoned?: BdevZoneLayout }
  | { kind: 'file'; fd: number; size: number; direct: boolean }
  | { kind: 'null' };

export interface BdevIoStats {
  bytes_read: number;
  num_read_ops: number;
  bytes_written: number;
  num_write_ops: number;
  bytes_unmapped: number;
  num_unmap_ops: number;
  num_flush_ops: number;
  num_write_zeroes_ops: number;
  read_latency_ticks: number;
  write_latency_ticks: number;
}

export interface Bdev {
  readonly name: string;
  /** 'Malloc disk', 'Null disk', 'AIO disk', 'Error disk', 'Delay disk' as SPDK's product_name. */
  readonly productName: string;
  readonly blockSize: number;
  readonly numBlocks: number;
  readonly uuid: string;
  /** Whether a volatile write cache exists that flush must drain. */
  readonly writeCache: boolean;
  readonly stats: BdevIoStats;
  /** Name of the bdev this one is stacked on (error, delay), if any. */
  readonly baseBdev?: string;
  /**
   * Per-block metadata, if any. Only the native I/O engine moves metadata (a malloc bdev's
   * metadata area), so a bdev with metadata always has a native backing and no TypeScript
   * bdev may be stacked on it; read/write here move the data alone.
   */
  readonly metadata?: BdevMetadata;
  /** Zoned (bdev_zone_block): the namespace over it is a ZNS namespace the native engine serves. */
  readonly zoned?: BdevZoneLayout;

  read(lba: bigint, blocks: number): Promise<Buffer>;
  write(lba: bigint, data: Buffer): Promise<void>;
  flush(): Promise<void>;
  writeZeroes(lba: bigint, blocks: number): Promise<void>;
  /** Deallocate (DSM/unmap). Reads of deallocated blocks return zeroes afterwards. */
  unmap(lba: bigint, blocks: number): Promise<void>;
  nativeBacking(): NativeBacking | null;
  /** Bdev-specific JSON for bdev_get_bdevs `driver_specific`. */
  driverSpecific(): Record<string, unknown>;
  close(): Promise<void>;
}

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

export type NativeBacking =
  | { kind: 'memory'; fd: number; size: number }
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

// A subsystem's capacity pool for Namespace Management: how many bytes namespaces the host
// creates (NVMe Base 2.0 5.23) may take in all, the block sizes they may be formatted with,
// and the malloc bdevs holding them, created on demand and deleted with their namespace.
//
// This is vnvme's own (RPC vnvme_subsystem_set_ns_pool): SPDK's nvmf target does not implement
// Namespace Management or Attachment, its namespaces come only from nvmf_subsystem_add_ns.
// Without a pool, a subsystem's controllers do not offer them (OACS bit 3 clear).
import { MallocBdev } from '../bdev/malloc.js';
import type { Bdev } from '../bdev/bdev.js';
import type { BdevRegistry } from '../bdev/registry.js';

export interface NamespacePoolOptions {
  /** Bytes all namespaces created from the pool may take together (TNVMCAP's share). */
  capacity: number;
  /** The LBA formats a created namespace may use, as block sizes (FLBAS indexes this list). */
  blockSizes: number[];
}

/** The LBA formats a pool offers unless told otherwise: 512-byte and 4 KiB blocks. */
export const DEFAULT_POOL_BLOCK_SIZES = [512, 4096];

export class NamespacePool {
  private used = 0;
  /** The bdevs this pool created, by name, with their size. */
  private readonly made = new Map<string, number>();

  constructor(
    readonly nqn: string,
    readonly options: NamespacePoolOptions,
    private readonly bdevs: BdevRegistry,
  ) {}

  get capacity(): number {
    return this.options.capacity;
  }
  get allocated(): number {
    return this.used;
  }
  get unallocated(): number {
    return this.options.capacity - this.used;
  }

  /** Whether this pool made the bdev (it then deletes it with its namespace). */
  owns(bdev: Bdev): boolean {
    return this.made.has(bdev.name);
  }

  /**
   * A new malloc bdev of `blocks` x `blockSize` for namespace `nsid`, its bytes taken from the
   * pool and the bdev claimed by `owner`. Registered so bdev_get_bdevs and bdev_get_iostat show
   * it, but not saved by save_config (the host made it; its data is in RAM). Throws when it
   * does not fit (the caller checked) or the memory cannot be had.
   */
  allocate(nsid: number, blockSize: number, blocks: number, owner: string): Bdev {
    const bytes = blockSize * blocks;
    if (bytes > this.unallocated) throw new Error(`namespace of ${bytes} bytes does not fit in the ${this.unallocated} bytes left in the pool of ${this.nqn}`);
    const name = this.freeName(nsid);
    const bdev = new MallocBdev({ name, blockSize, numBlocks: blocks });
    this.bdevs.add(bdev, { method: 'bdev_malloc_create', params: { name, num_blocks: blocks, block_size: blockSize, uuid: bdev.uuid } }, { saved: false });
    this.bdevs.claim(name, owner);
    this.made.set(name, bytes);
    this.used += bytes;
    return bdev;
  }

  /** Gives a bdev this pool made back: its bytes return to the pool and the bdev is deleted. */
  async free(bdev: Bdev, owner: string): Promise<void> {
    const bytes = this.made.get(bdev.name);
    if (bytes === undefined) return;
    this.made.delete(bdev.name);
    this.used -= bytes;
    this.bdevs.release(bdev.name, owner);
    await this.bdevs.delete(bdev.name, ['bdev_malloc_create']);
  }

  /** Bdev names like `nqn...:cnode0/n2`, unique in the registry. */
  private freeName(nsid: number): string {
    const base = `${this.nqn}/n${nsid}`;
    let name = base;
    for (let i = 1; this.bdevs.has(name); i++) name = `${base}.${i}`;
    return name;
  }

  /** vnvme_subsystem_get_ns_pool's answer. */
  toJSON(): Record<string, unknown> {
    return {
      nqn: this.nqn,
      capacity: this.capacity,
      allocated: this.allocated,
      unallocated: this.unallocated,
      block_sizes: [...this.options.blockSizes],
      bdevs: [...this.made.keys()],
    };
  }
}

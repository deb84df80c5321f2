// The named bdevs of one target, as SPDK's bdev layer keeps them: unique names, claims by
// stacked bdevs and namespaces, creation order (save_config replays it) and teardown.
import { Bdev } from './bdev.js';
import { TargetError } from '../errors.js';

export interface BdevConfigEntry {
  method: string;
  params: Record<string, unknown>;
}

interface Entry {
  bdev: Bdev;
  /** The RPC that recreates this bdev (save_config). */
  config: BdevConfigEntry;
  /** Who holds the bdev: a stacked bdev's name or a namespace ("nqn... nsid 1"). */
  claimedBy?: string;
  /** Whether save_config replays it (not a namespace pool's bdevs: the host creates those). */
  saved: boolean;
}

export class BdevRegistry {
  private readonly entries = new Map<string, Entry>();
  private nextMalloc = 0;

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The bdev, or -ENODEV naming it. */
  get(name: string): Bdev {
    const e = this.entries.get(name);
    if (!e) throw new TargetError('not_found', 'ENODEV', `bdev '${name}' does not exist`, { type: 'bdev', name });
    return e.bdev;
  }

  list(): Bdev[] {
    return [...this.entries.values()].map((e) => e.bdev);
  }

  /** A free name like Malloc0, Malloc1 ... as SPDK's default naming. */
  defaultName(prefix: string): string {
    for (;;) {
      const n = `${prefix}${this.nextMalloc++}`;
      if (!this.entries.has(n)) return n;
    }
  }

  /** Fails with -EEXIST when the name is taken; call before building the bdev. */
  checkFree(name: string): void {
    if (this.entries.has(name)) throw new TargetError('exists', 'EEXIST', `bdev '${name}' already exists`, { type: 'bdev', name });
  }

  add(bdev: Bdev, config: BdevConfigEntry, opts: { saved?: boolean } = {}): void {
    this.checkFree(bdev.name);
    this.entries.set(bdev.name, { bdev, config, saved: opts.saved ?? true });
  }

  claimedBy(name: string): string | undefined {
    return this.entries.get(name)?.claimedBy;
  }

  /** Claims a bdev for exclusive use; -EBUSY if someone else holds it. */
  claim(name: string, owner: string): Bdev {
    const e = this.entries.get(name);
    if (!e) throw new TargetError('not_found', 'ENODEV', `bdev '${name}' does not exist`, { type: 'bdev', name });
    if (e.claimedBy !== undefined) throw new TargetError('busy', 'EBUSY', `bdev '${name}' is already claimed by ${e.claimedBy}`, { type: 'bdev', name });
    e.claimedBy = owner;
    return e.bdev;
  }

  release(name: string, owner: string): void {
    const e = this.entries.get(name);
    if (e && e.claimedBy === owner) e.claimedBy = undefined;
  }

  /**
   * Removes and closes a bdev. `kind` is the creating method (bdev_malloc_create...) the
   * delete RPC applies to: another kind's bdev of that name is -ENODEV, as in SPDK. A claimed
   * bdev is -EBUSY: remove the namespace or the stacked bdev first.
   */
  async delete(name: string, kinds: string[]): Promise<void> {
    const e = this.entries.get(name);
    if (!e || !kinds.includes(e.config.method)) throw new TargetError('not_found', 'ENODEV', `no ${kinds.join('/').replace(/_create/g, '')} bdev named '${name}'`, { type: 'bdev', name });
    if (e.claimedBy !== undefined) throw new TargetError('busy', 'EBUSY', `bdev '${name}' is in use by ${e.claimedBy}`, { type: 'bdev', name });
    this.entries.delete(name);
    if (e.bdev.baseBdev) this.release(e.bdev.baseBdev, `bdev '${name}'`);
    await e.bdev.close();
  }

  configEntries(): BdevConfigEntry[] {
    return [...this.entries.values()].filter((e) => e.saved).map((e) => structuredClone(e.config));
  }

  /** Closes every bdev, stacked ones first; file bdevs flush on close. */
  async closeAll(): Promise<void> {
    const all = [...this.entries.values()].reverse();
    this.entries.clear();
    for (const e of all) await e.bdev.close().catch(() => {});
  }
}

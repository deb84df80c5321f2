// What RPC methods act on: the bdevs and the nvmf target of one daemon.
import type { Logger } from '../log.js';
import type { BdevRegistry } from '../bdev/registry.js';
import type { NvmfTarget } from '../nvmf/target.js';
import type { MethodTable } from './method.js';

export interface TargetContext {
  bdevs: BdevRegistry;
  nvmf: NvmfTarget;
  methods: MethodTable<TargetContext>;
  /** Target-wide settings of the bdev layer (bdev_set_options), replayed by save_config. */
  bdevOptions: Record<string, unknown>;
  /** `vnvme target --malloc-hugepages`: malloc bdevs on 2 MiB huge pages when enough are free. */
  mallocHugepages?: boolean;
  /** The daemon's logger: log_set_flag / log_set_print_level change what it prints. */
  log: Logger;
  /** Starts a shutdown as the given signal would (spdk_kill_instance). */
  kill(signal: string): void;
}

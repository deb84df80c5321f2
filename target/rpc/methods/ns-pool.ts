// vnvme's own methods (SPDK has none of them): a subsystem's capacity pool for Namespace
// Management. SPDK's nvmf target, vfio-user included, implements neither Namespace Management
// nor Attachment; its namespaces come from nvmf_subsystem_add_ns only. With a pool, the host
// creates namespaces (malloc bdevs made on demand, shown by bdev_get_bdevs, not kept by
// save_config), attaches, detaches and deletes them (nvme create-ns, attach-ns, ...).
import { z } from 'zod';
import type { TargetContext } from '../context.js';
import { methodsFor, RpcMethod, u32, u64 } from '../method.js';

const method = methodsFor<TargetContext>();

export const namespacePoolMethods: RpcMethod<TargetContext>[] = [
  method({
    name: 'vnvme_subsystem_set_ns_pool',
    params: z.object({
      nqn: z.string(),
      /** Bytes the host's namespaces may take in all. */
      capacity: u64(),
      /** LBA formats a created namespace may use, as block sizes (FLBAS indexes the list). */
      block_sizes: z.array(u32()).optional(),
    }),
    handler: (p, ctx) => {
      ctx.nvmf.setNamespacePool(p.nqn, p.capacity, p.block_sizes);
      return true;
    },
  }),
  method({
    name: 'vnvme_subsystem_remove_ns_pool',
    params: z.object({ nqn: z.string() }),
    handler: (p, ctx) => {
      ctx.nvmf.removeNamespacePool(p.nqn);
      return true;
    },
  }),
  method({
    name: 'vnvme_subsystem_get_ns_pool',
    readOnly: true,
    params: z.object({ nqn: z.string() }),
    handler: (p, ctx) => ctx.nvmf.getNamespacePool(p.nqn),
  }),
];

// Before a live migration between two targets: do they export the same controller? The
// destination must serve the same subsystem with the same namespaces (NSID, UUID/NGUID/EUI-64,
// block size and count) backed by the same storage, or the migration fails late (a different
// UUID is noticed only when the destination leaves RESUMING, after the source said
// "completed") or "succeeds" with the data left behind (malloc bdevs). compareTargets() says
// what differs, in the words of the RPC fields, so the user knows which command to fix.

/** The parts of `nvmf_get_subsystems` and `bdev_get_bdevs` output a migration depends on. */
export interface SubsystemInfo {
  nqn: string;
  serial_number?: string;
  model_number?: string;
  namespaces?: Array<{ nsid: number; bdev_name: string; uuid?: string; nguid?: string; eui64?: string }>;
}
export interface BdevInfo {
  name: string;
  product_name?: string;
  block_size: number;
  num_blocks: number;
  uuid?: string;
  driver_specific?: Record<string, { filename?: string } | undefined>;
}

export interface MigrationProfile {
  nqn: string;
  serial: string;
  model: string;
  namespaces: Array<{ nsid: number; uuid: string; nguid: string; eui64: string; blockSize: number; numBlocks: number; backing: string }>;
}

/** What the storage behind a bdev is: a file or device path both targets can open, or `memory:` for RAM-only bdevs. */
function backingOf(b: BdevInfo): string {
  for (const kind of ['aio', 'uring', 'file']) {
    const f = b.driver_specific?.[kind]?.filename;
    if (f) return `file:${f}`;
  }
  return `memory:${b.product_name ?? 'bdev'} ${b.name}`;
}

export function migrationProfile(nqn: string, subsystems: readonly SubsystemInfo[], bdevs: readonly BdevInfo[]): MigrationProfile {
  const s = subsystems.find((x) => x.nqn === nqn);
  if (!s) throw new Error(`subsystem ${nqn} does not exist (nvmf_get_subsystems)`);
  return {
    nqn,
    serial: s.serial_number ?? '',
    model: s.model_number ?? '',
    namespaces: (s.namespaces ?? [])
      .map((ns) => {
        const b = bdevs.find((x) => x.name === ns.bdev_name);
        if (!b) throw new Error(`namespace ${ns.nsid} of ${nqn}: bdev ${ns.bdev_name} not in bdev_get_bdevs`);
        return {
          nsid: ns.nsid,
          uuid: (ns.uuid ?? b.uuid ?? '').toLowerCase(),
          nguid: (ns.nguid ?? '').toLowerCase(),
          eui64: (ns.eui64 ?? '').toLowerCase(),
          blockSize: b.block_size,
          numBlocks: b.num_blocks,
          backing: backingOf(b),
        };
      })
      .sort((a, b) => a.nsid - b.nsid),
  };
}

/** Every difference that would make the migration fail or lose data; empty when it can go ahead. */
export function compareProfiles(src: MigrationProfile, dst: MigrationProfile): string[] {
  const out: string[] = [];
  const diff = (what: string, a: unknown, b: unknown) => {
    if (a !== b) out.push(`${what}: source ${JSON.stringify(a)}, destination ${JSON.stringify(b)}`);
  };
  diff('subsystem NQN', src.nqn, dst.nqn);
  diff('serial number (nvmf_create_subsystem -s)', src.serial, dst.serial);
  diff('model number (nvmf_create_subsystem -d)', src.model, dst.model);
  const nsids = [...new Set([...src.namespaces, ...dst.namespaces].map((n) => n.nsid))].sort((a, b) => a - b);
  for (const nsid of nsids) {
    const a = src.namespaces.find((n) => n.nsid === nsid);
    const b = dst.namespaces.find((n) => n.nsid === nsid);
    if (!a || !b) {
      out.push(`namespace ${nsid}: only on the ${a ? 'source' : 'destination'} (nvmf_subsystem_add_ns)`);
      continue;
    }
    diff(`namespace ${nsid} UUID (nvmf_subsystem_add_ns -u)`, a.uuid, b.uuid);
    diff(`namespace ${nsid} NGUID (nvmf_subsystem_add_ns -g)`, a.nguid, b.nguid);
    diff(`namespace ${nsid} EUI-64 (nvmf_subsystem_add_ns -e)`, a.eui64, b.eui64);
    diff(`namespace ${nsid} block size`, a.blockSize, b.blockSize);
    diff(`namespace ${nsid} block count`, a.numBlocks, b.numBlocks);
    if (a.backing.startsWith('memory:') || b.backing.startsWith('memory:')) {
      out.push(`namespace ${nsid} is backed by memory (${a.backing.startsWith('memory:') ? a.backing.slice(7) : b.backing.slice(7)}): its data would stay behind on the source; use one file or block device both targets open (bdev_aio_create)`);
    } else diff(`namespace ${nsid} storage`, a.backing, b.backing);
  }
  return out;
}

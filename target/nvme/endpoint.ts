// A vfio-user NVMe endpoint: the directory SPDK's listener uses (DIR/cntrl socket, the
// doorbell page as an unlinked DIR/bar0 file), a PCI function with our NVMe controller, and
// the vfio-user server. Registered as the VFIOUSER transport's endpoint factory.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../native/index.js';
import { PciFunction } from '../pci/function.js';
import { VfioUserServer } from '../vfio-user/server.js';
import { silentLogger, type Logger } from '../vfio-user/device.js';
import type { Bdev } from '../bdev/bdev.js';
import { NvmeController } from './controller.js';
import { hexBytes, uuidBytes, type NamespaceInventory, type NamespaceView } from './model.js';
import { NvmeMigratable } from './migration.js';
import type { ReservationDomain } from './reservations.js';
import { DeviceMigration } from '../migration/migration.js';
import { migrationHooks } from '../migration/hooks.js';

/** A namespace as an endpoint is given it (identifiers as RPC spells them). */
export interface EndpointNamespace {
  nsid: number;
  bdev: Bdev;
  uuid?: string;
  nguid?: string;
  eui64?: string;
  /** Created by Namespace Management: the pool's LBA formats, the one in use, NMIC bit 0. */
  lbaFormats?: number[];
  formatIndex?: number;
  shared?: boolean;
}

export function namespaceView(n: EndpointNamespace): NamespaceView {
  return {
    nsid: n.nsid,
    bdev: n.bdev,
    blocks: BigInt(n.bdev.numBlocks),
    blockSize: n.bdev.blockSize,
    uuid: uuidBytes(n.uuid ?? n.bdev.uuid),
    nguid: hexBytes(n.nguid, 16),
    eui64: hexBytes(n.eui64, 8),
    lbaFormats: n.lbaFormats,
    formatIndex: n.formatIndex,
    shared: n.shared,
  };
}

export interface NvmeEndpointOptions {
  traddr: string;
  serialNumber: string;
  modelNumber: string;
  subnqn: string;
  cntlid?: number;
  /** The namespaces attached to this controller (its active namespaces). */
  namespaces: () => EndpointNamespace[];
  /** The NVM subsystem's namespaces for Namespace Management and Attachment (absent: not offered). */
  inventory?: NamespaceInventory;
  /** The subsystem's reservations, shared by its controllers (absent: the controller's own). */
  reservations?: ReservationDomain;
  /** SPDK's disable_mappable_bar0: doorbells as messages instead of a shared page. */
  disableMappableBar0?: boolean;
  disableShadowDoorbells?: boolean;
  /** The engine sleeps whenever idle (nvmf_tgt --interrupt-mode); message doorbells only. */
  interruptMode?: boolean;
  maxQueueDepth?: number;
  maxIoQueuePairs?: number;
  maxNamespaces?: number;
  msixVectors?: number;
  socketMode?: number;
  /** Owner and group of the socket (QEMU under libvirt runs as its own user). */
  socketUid?: number;
  socketGid?: number;
  log?: Logger;
  /** Live migration: v2 always (unless false); v1 (Oracle's QEMU fork) when asked. */
  migration?: false | { v1?: boolean };
}

export class NvmeEndpoint {
  readonly controller: NvmeController;
  readonly fn: PciFunction;
  readonly server: VfioUserServer;
  readonly socketPath: string;
  /** Live migration state (null when disabled). */
  readonly migration: DeviceMigration | null = null;
  private doorbell: { fd: number; mem: ReturnType<typeof mapDoorbells> } | null;

  constructor(readonly opts: NvmeEndpointOptions) {
    const log = opts.log ?? silentLogger;
    this.socketPath = join(opts.traddr, 'cntrl');
    const mappable = !opts.disableMappableBar0;
    if (mappable) {
      const path = join(opts.traddr, 'bar0');
      if (existsSync(path)) throw new Error(`${path} exists; remove it (a stale file of an earlier target)`);
      // The doorbell page is handed to the client (sparse mmap of BAR0): a sealed memfd, so the
      // client can write doorbells through it but never shrink it under our mapping (SIGBUS).
      const fd = native.memfdCreate('vnvme-bar0', 0x4000);
      try {
        native.memfdSealSize(fd);
        this.doorbell = { fd, mem: mapDoorbells(fd) };
      } catch (err) {
        native.closeFd(fd);
        throw err;
      }
    } else this.doorbell = null;
    try {
    const msixVectors = opts.msixVectors ?? 64;
    this.controller = new NvmeController({
      identity: {
        vendorId: 0x4e58,
        subsystemVendorId: 0x4e58,
        serialNumber: opts.serialNumber,
        modelNumber: opts.modelNumber,
        firmwareRevision: '0.1.0',
        ieeeOui: 0x5cd2e4,
        cntlid: opts.cntlid ?? 1,
        subnqn: opts.subnqn,
        mdts: 8,
        maxNamespaces: opts.maxNamespaces ?? 32,
        // Shadow doorbells only help when doorbells trap (SPDK forces them off otherwise).
        shadowDoorbells: !mappable && !opts.disableShadowDoorbells,
      },
      doorbellFile: this.doorbell ? { fd: this.doorbell.fd, mem: this.doorbell.mem } : null,
      maxQueueEntries: Math.min(opts.maxQueueDepth ?? 1024, 4096),
      maxIoQueues: Math.min(opts.maxIoQueuePairs ?? 127, 511),
      msixVectors,
      interruptMode: opts.interruptMode === true,
      log,
      inventory: opts.inventory,
      reservations: opts.reservations,
    });
    this.fn = new PciFunction({
      identity: { vendorId: 0x4e58, deviceId: 0x0001, subsystemVendorId: 0x4e58, subsystemId: 0x0000, revision: 0, classCode: 0x010802 },
      msixVectors,
      model: this.controller,
    });
    this.refreshNamespaces();
    this.server = new VfioUserServer(this.socketPath, this.fn, { log, mode: opts.socketMode, uid: opts.socketUid, gid: opts.socketGid });
    if (opts.migration !== false) {
      const device = new NvmeMigratable(this.controller, this.fn, { vendorId: 0x4e58, deviceId: 0x0001 });
      this.migration = new DeviceMigration(device, this.server.dma, { log });
      this.server.migration = migrationHooks(this.migration, { v1: opts.migration?.v1 });
    }
    } catch (err) {
      // Nothing half-built stays behind: the doorbell page's fd is ours to close.
      if (this.doorbell) native.closeFd(this.doorbell.fd);
      throw err;
    }
    this.statsTimer = setInterval(() => this.controller.foldBdevStats(), 1000).unref();
  }

  refreshNamespaces(): void {
    const list: NamespaceView[] = this.opts.namespaces().map(namespaceView);
    this.controller.setNamespaces(list);
  }

  get attached(): boolean {
    return this.server.attached;
  }

  /**
   * Keeps bdev_get_iostat current with the I/O the native engine serves (at most 1 s old).
   * Started last in the constructor: a constructor that throws (a listener directory already
   * holding `bar0`, an unusable path) must leave no timer that fires on a half-built endpoint.
   */
  private statsTimer: NodeJS.Timeout | undefined;

  async close(): Promise<void> {
    clearInterval(this.statsTimer);
    this.controller.foldBdevStats();
    await this.server.close();
    this.controller.close();
    if (this.doorbell) {
      this.doorbell.mem.unmap();
      native.closeFd(this.doorbell.fd);
      this.doorbell = null;
    }
  }
}

/** The doorbell page of BAR0 (file offset 0x1000), as the engine and the host see it. */
function mapDoorbells(fd: number) {
  return new native.SharedMemory(fd, 0x1000, 0x1000);
}

// ------------------------------------------------------------------ the VFIOUSER transport's factory

import type { ControllerEndpoint, EndpointOptions } from '../nvmf/transport.js';
import type { Namespace, Subsystem } from '../nvmf/subsystem.js';
import { silentLogger as silentTargetLogger, type Logger as TargetLogger } from '../log.js';

let nextCntlid = 1;

/** A subsystem's namespace as an endpoint is given it. */
function endpointNamespace(sub: Subsystem, n: Namespace): EndpointNamespace {
  const pooled = n.pooled && sub.pool ? { lbaFormats: [...sub.pool.options.blockSizes], formatIndex: n.formatIndex } : {};
  // NMIC bit 0 as the subsystem has it: namespaces added by RPC are shared (every controller of
  // the subsystem may have them), created ones as the host asked.
  return { nsid: n.nsid, bdev: n.bdev, uuid: n.uuid, nguid: n.nguid, eui64: n.eui64, shared: n.shared, ...pooled };
}

/**
 * The subsystem's namespaces as Namespace Management and Attachment see them. TNVMCAP is the
 * pool plus the namespaces the operator added (nvmf_subsystem_add_ns), so that TNVMCAP -
 * UNVMCAP is what the allocated namespaces hold; UNVMCAP is what is left in the pool.
 */
export function subsystemInventory(sub: Subsystem, log: TargetLogger = silentTargetLogger): NamespaceInventory {
  return {
    supported: () => sub.pool !== null,
    capacity: () => {
      const pool = sub.pool;
      const operator = sub
        .namespaceList()
        .filter((n) => !n.pooled)
        .reduce((sum, n) => sum + BigInt(n.bdev.numBlocks) * BigInt(n.bdev.blockSize), 0n);
      return { total: BigInt(pool?.capacity ?? 0) + operator, unallocated: BigInt(pool?.unallocated ?? 0) };
    },
    lbaFormats: () => [...(sub.pool?.options.blockSizes ?? [])],
    allocated: () => sub.namespaceList().map((n) => ({ view: namespaceView(endpointNamespace(sub, n)), controllers: sub.attachedControllers(n), shared: n.shared })),
    controllers: () => sub.controllerIds(),
    create: (r) => {
      const ns = sub.createNamespace({ nsid: r.nsid, blocks: Number(r.blocks), formatIndex: r.formatIndex, shared: r.shared });
      log.notice('namespace created by the host', { nqn: sub.nqn, nsid: ns.nsid, bdev: ns.bdev.name, blocks: ns.bdev.numBlocks, block_size: ns.bdev.blockSize });
    },
    delete: async (nsid) => {
      const ns = await sub.removeNamespace(nsid);
      log.notice('namespace deleted by the host', { nqn: sub.nqn, nsid, bdev: ns.bdev.name });
    },
    attach: (nsid, cntlids) => {
      sub.attach(nsid, cntlids);
      log.notice('namespace attached by the host', { nqn: sub.nqn, nsid, cntlids });
    },
    detach: (nsid, cntlids) => {
      sub.detach(nsid, cntlids);
      log.notice('namespace detached by the host', { nqn: sub.nqn, nsid, cntlids });
    },
  };
}

/**
 * The endpoint an `nvmf_subsystem_add_listener -t VFIOUSER -a DIR` listener serves, and the
 * NvmeEndpoint behind it (the in-process conformance target works on that directly).
 */
export function vfioUserEndpointFor(o: EndpointOptions): { nvme: NvmeEndpoint; endpoint: ControllerEndpoint } {
  const sub = o.subsystem;
  const cntlid = nextCntlid++;
  const ep = new NvmeEndpoint({
    traddr: o.traddr,
    serialNumber: sub.options.serialNumber,
    modelNumber: sub.options.modelNumber,
    subnqn: sub.nqn,
    cntlid,
    namespaces: () => sub.namespacesOf(cntlid).map((n) => endpointNamespace(sub, n)),
    inventory: subsystemInventory(sub, o.log),
    reservations: sub.reservations,
    disableMappableBar0: o.transport.disable_mappable_bar0,
    disableShadowDoorbells: o.transport.disable_shadow_doorbells,
    interruptMode: o.interruptMode,
    maxQueueDepth: o.transport.max_queue_depth,
    maxIoQueuePairs: o.transport.max_io_qpairs_per_ctrlr,
    maxNamespaces: sub.options.maxNamespaces || 32,
    socketMode: o.socket?.mode,
    socketUid: o.socket?.uid,
    socketGid: o.socket?.gid,
    log: o.log,
    // Migration v2 always; v1 (Oracle's QEMU fork) adds region 9 and the VERSION capability,
    // so it is opt-in (SPDK's RPC has no option for it).
    migration: { v1: process.env.VNVME_MIGRATION_V1 === '1' },
  });
  return {
    nvme: ep,
    endpoint: {
      cntlid,
      close: () => ep.close(),
      info: () =>
        ep.attached
          ? [{ cntlid, hostnqn: '', hostid: hostIdText(ep.controller.features.hostId), num_io_qpairs: ep.controller.sqs.size }]
          : [],
      namespacesChanged: () => ep.refreshNamespaces(),
      stats: () => ({ ...ep.controller.ioStats(), connections: ep.server.connections, attached: ep.attached }),
    },
  };
}

/** The Host Identifier (Set Features 81h; zeros until the host sets one) as SPDK prints a host ID, 16 bytes as a UUID. */
function hostIdText(id: Buffer): string {
  const h = Buffer.concat([id, Buffer.alloc(16)]).subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Creates the endpoint an `nvmf_subsystem_add_listener -t VFIOUSER -a DIR` listener serves. */
export async function startVfioUserEndpoint(o: EndpointOptions): Promise<ControllerEndpoint> {
  return vfioUserEndpointFor(o).endpoint;
}

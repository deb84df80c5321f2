// An NVM subsystem as SPDK's nvmf target keeps it: identity (NQN, serial, model), host
// policy, namespaces backed by bdevs, and listeners (one vfio-user endpoint, one controller
// each); with a namespace pool, which controller each namespace is attached to.
import type { Bdev } from '../bdev/bdev.js';
import type { ControllerEndpoint } from './transport.js';
import type { NamespacePool } from './namespace-pool.js';
import type { BdevRegistry } from '../bdev/registry.js';
import { ReservationDomain } from '../nvme/reservations.js';

export const DISCOVERY_NQN = 'nqn.2014-08.org.nvmexpress.discovery';

export interface Namespace {
  nsid: number;
  bdev: Bdev;
  /** 32 hex digits, upper case as SPDK prints it, when given. */
  nguid?: string;
  /** 16 hex digits, when given. */
  eui64?: string;
  uuid: string;
  /** Whether the uuid was given (save_config keeps only given identifiers). */
  uuidGiven: boolean;
  anagrpid: number;
  noAutoVisible: boolean;
  ptplFile?: string;
  /**
   * The controllers it is attached to. A namespace added by nvmf_subsystem_add_ns is attached
   * to every controller, present and future, but those it was detached from (Namespace
   * Attachment); one created by Namespace Management only to those it was attached to.
   */
  attachment: { to: 'all-but' | 'only'; cntlids: Set<number> };
  /** Created by Namespace Management from the pool (its bdev goes with it). */
  pooled: boolean;
  /** NMIC bit 0: may be attached to more than one controller. */
  shared: boolean;
  /** The LBA format it was created with (an index into the pool's block sizes). */
  formatIndex?: number;
}

/** Attachment of a namespace added by RPC: every controller (SPDK's namespaces are visible to all). */
export function attachedEverywhere(): Namespace['attachment'] {
  return { to: 'all-but', cntlids: new Set() };
}

export interface ListenAddress {
  trtype: string;
  adrfam?: string;
  traddr: string;
  trsvcid?: string;
}

export interface Listener {
  address: ListenAddress;
  endpoint: ControllerEndpoint;
  secureChannel: boolean;
  anaState?: string;
}

export interface SubsystemOptions {
  nqn: string;
  serialNumber: string;
  modelNumber: string;
  allowAnyHost: boolean;
  /** 0 = no limit beyond the NVMe maximum. */
  maxNamespaces: number;
  anaReporting: boolean;
  minCntlid: number;
  maxCntlid: number;
  dmrsl: number;
  wzsl: number;
  passthrough: boolean;
  enableNssr: boolean;
  adminLabel?: string;
}

export class Subsystem {
  readonly namespaces = new Map<number, Namespace>();
  readonly listeners: Listener[] = [];
  readonly hosts: string[] = [];
  /** Capacity for Namespace Management (vnvme_subsystem_set_ns_pool); null: not offered. */
  pool: NamespacePool | null = null;
  /** Reservations of its namespaces, shared by all its controllers (target/nvme/reservations.ts). */
  readonly reservations = new ReservationDomain();

  constructor(
    readonly options: SubsystemOptions,
    /** Where namespaces' bdevs are claimed (NvmfTarget's registry). */
    private readonly bdevs?: BdevRegistry,
  ) {}

  get nqn(): string {
    return this.options.nqn;
  }

  /** Namespaces in NSID order. */
  namespaceList(): Namespace[] {
    return [...this.namespaces.values()].sort((a, b) => a.nsid - b.nsid);
  }

  /** The lowest free NSID, as SPDK assigns when none is requested. */
  freeNsid(): number | undefined {
    const limit = this.options.maxNamespaces || 0xfffffffe;
    for (let n = 1; n <= limit; n++) if (!this.namespaces.has(n)) return n;
    return undefined;
  }

  /** Tells every endpoint the namespace list changed. */
  notifyNamespacesChanged(): void {
    for (const l of this.listeners) l.endpoint.namespacesChanged();
  }

  /** The IDs of this subsystem's controllers (one per listener), ascending. */
  controllerIds(): number[] {
    return this.listeners
      .map((l) => l.endpoint.cntlid)
      .filter((id): id is number => id !== undefined)
      .sort((a, b) => a - b);
  }

  isAttached(ns: Namespace, cntlid: number): boolean {
    const has = ns.attachment.cntlids.has(cntlid);
    return ns.attachment.to === 'all-but' ? !has : has;
  }

  /** The controllers `ns` is attached to, ascending. */
  attachedControllers(ns: Namespace): number[] {
    return this.controllerIds().filter((id) => this.isAttached(ns, id));
  }

  /** The namespaces controller `cntlid` has (its active namespaces), by NSID. */
  namespacesOf(cntlid: number): Namespace[] {
    return this.namespaceList().filter((ns) => this.isAttached(ns, cntlid));
  }

  /** Attaches `nsid` to those controllers and tells every endpoint (Namespace Attachment). */
  attach(nsid: number, cntlids: number[]): void {
    const ns = this.mustHave(nsid);
    for (const id of cntlids) {
      if (ns.attachment.to === 'all-but') ns.attachment.cntlids.delete(id);
      else ns.attachment.cntlids.add(id);
    }
    this.notifyNamespacesChanged();
  }

  detach(nsid: number, cntlids: number[]): void {
    const ns = this.mustHave(nsid);
    for (const id of cntlids) {
      if (ns.attachment.to === 'all-but') ns.attachment.cntlids.add(id);
      else ns.attachment.cntlids.delete(id);
    }
    this.notifyNamespacesChanged();
  }

  private mustHave(nsid: number): Namespace {
    const ns = this.namespaces.get(nsid);
    if (!ns) throw new Error(`namespace ${nsid} does not exist in ${this.nqn}`);
    return ns;
  }

  /** Namespace Management create: a namespace of `blocks` from the pool, attached nowhere yet. */
  createNamespace(req: { nsid: number; blocks: number; formatIndex: number; shared: boolean }): Namespace {
    const pool = this.pool;
    if (!pool) throw new Error(`${this.nqn} has no namespace pool`);
    if (this.namespaces.has(req.nsid)) throw new Error(`NSID ${req.nsid} is already allocated in ${this.nqn}`);
    const blockSize = pool.options.blockSizes[req.formatIndex];
    if (blockSize === undefined) throw new Error(`LBA format ${req.formatIndex} is not offered by the pool of ${this.nqn}`);
    const bdev = pool.allocate(req.nsid, blockSize, req.blocks, nsOwner(this.nqn, req.nsid));
    const ns: Namespace = {
      nsid: req.nsid,
      bdev,
      uuid: bdev.uuid,
      uuidGiven: false,
      anagrpid: req.nsid,
      noAutoVisible: false,
      attachment: { to: 'only', cntlids: new Set() },
      pooled: true,
      shared: req.shared,
      formatIndex: req.formatIndex,
    };
    this.namespaces.set(req.nsid, ns);
    return ns;
  }

  /**
   * Takes a namespace out of the subsystem, detaching it from every controller (each is told).
   * Its bytes go back to the pool and its bdev is deleted if the pool made it; a bdev the
   * operator gave (nvmf_subsystem_add_ns) is released and stays, as nvmf_subsystem_remove_ns
   * leaves it.
   */
  async removeNamespace(nsid: number): Promise<Namespace> {
    const ns = this.mustHave(nsid);
    this.namespaces.delete(nsid);
    this.reservations.forget(nsid);
    this.notifyNamespacesChanged();
    await this.releaseBdev(ns);
    return ns;
  }

  /** A removed namespace's bdev: back to the pool that made it, or released to the operator. */
  async releaseBdev(ns: Namespace): Promise<void> {
    const owner = nsOwner(this.nqn, ns.nsid);
    if (ns.pooled && this.pool?.owns(ns.bdev)) await this.pool.free(ns.bdev, owner);
    else this.bdevs?.release(ns.bdev.name, owner);
  }

  /** nvmf_get_subsystems element (lib/nvmf/nvmf_rpc.c dump_nvmf_subsystem). */
  toJSON(): Record<string, unknown> {
    const o = this.options;
    return {
      nqn: o.nqn,
      subtype: 'NVMe',
      listen_addresses: this.listeners.map((l) => ({
        trtype: l.address.trtype,
        adrfam: l.address.adrfam ?? 'unknown',
        traddr: l.address.traddr,
        trsvcid: l.address.trsvcid ?? '',
      })),
      allow_any_host: o.allowAnyHost,
      hosts: this.hosts.map((h) => ({ nqn: h })),
      serial_number: o.serialNumber,
      model_number: o.modelNumber,
      ...(o.maxNamespaces ? { max_namespaces: o.maxNamespaces } : {}),
      passthrough: o.passthrough,
      min_cntlid: o.minCntlid,
      max_cntlid: o.maxCntlid,
      dmrsl: o.dmrsl,
      wzsl: o.wzsl,
      namespaces: this.namespaceList().map((ns) => ({
        nsid: ns.nsid,
        bdev_name: ns.bdev.name,
        name: ns.bdev.name,
        ...(ns.nguid ? { nguid: ns.nguid } : {}),
        ...(ns.eui64 ? { eui64: ns.eui64 } : {}),
        uuid: ns.uuid,
        ...(o.anaReporting ? { anagrpid: ns.anagrpid } : {}),
        no_auto_visible: ns.noAutoVisible,
      })),
    };
  }
}

/** Who claims a namespace's bdev in the registry. */
export function nsOwner(nqn: string, nsid: number): string {
  return `namespace ${nsid} of ${nqn}`;
}

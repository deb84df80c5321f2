// An NVM subsystem as SPDK's nvmf target keeps it: identity (NQN, serial, model), host
// policy, namespaces backed by bdevs, and listeners (one vfio-user endpoint each).
import type { Bdev } from '../bdev/bdev.js';
import type { ControllerEndpoint } from './transport.js';

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

  constructor(readonly options: SubsystemOptions) {}

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

// The NVMe-oF target state behind the nvmf_* RPCs: transports, subsystems, namespaces and
// listeners. Every mutating call validates everything first and changes state last, so a
// failed call leaves the target as it was.
import { accessSync, constants as fsc, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { connect } from 'node:net';
import { totalmem } from 'node:os';
import type { BdevRegistry } from '../bdev/registry.js';
import type { Logger } from '../log.js';
import { invalid, TargetError } from '../errors.js';
import { attachedEverywhere, DISCOVERY_NQN, ListenAddress, Namespace, nsOwner, Subsystem, SubsystemOptions } from './subsystem.js';
import { DEFAULT_POOL_BLOCK_SIZES, NamespacePool } from './namespace-pool.js';

export { nsOwner };
import {
  type EndpointFactory,
  resolveTransportOptions,
  VfioUserTransport,
  VfioUserTransportOptions,
  VFIOUSER_MAX_QPAIRS_PER_CTRLR,
} from './transport.js';
import { listenerDirectoryProblem } from './listener-dir.js';

/** NQN rules (NVMe Base spec 4.7): at most 223 bytes, "nqn.yyyy-mm.reverse-domain:..." or a UUID NQN. */
export function checkNqn(nqn: string): void {
  if (Buffer.byteLength(nqn) > 223) throw invalid(`NQN '${nqn}' is longer than 223 bytes`);
  if (nqn === DISCOVERY_NQN) return;
  if (/^nqn\.2014-08\.org\.nvmexpress:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(nqn)) return;
  if (!/^nqn\.\d{4}-\d{2}\.[^:]+(:.+)?$/.test(nqn))
    throw invalid(`NQN '${nqn}' is not of the form nqn.yyyy-mm.reverse.domain:name`);
}

export interface NamespaceRequest {
  bdev_name: string;
  nsid?: number;
  nguid?: string;
  eui64?: string;
  uuid?: string;
  anagrpid?: number;
  no_auto_visible?: boolean;
  ptpl_file?: string;
}

export interface ListenerRequest {
  address: ListenAddress;
  secureChannel?: boolean;
  anaState?: string;
}

function unknownSubsystem(nqn: string): TargetError {
  return new TargetError('not_found', 'ENOENT', `subsystem '${nqn}' does not exist`, { type: 'subsystem', name: nqn });
}

function hexId(s: string, bytes: number, what: string): string {
  const h = s.replace(/-/g, '');
  if (!new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(h)) throw invalid(`${what} '${s}' is not ${bytes} bytes of hex`);
  return h.toUpperCase();
}

export class NvmfTarget {
  readonly transports = new Map<string, VfioUserTransport>();
  readonly subsystems = new Map<string, Subsystem>();
  /** Target-wide settings accepted for SPDK config compatibility (nvmf_set_config, ...). */
  readonly settings: Record<string, Record<string, unknown>> = {};

  constructor(
    readonly bdevs: BdevRegistry,
    readonly log: Logger,
    /** Creates the vfio-user endpoint of each listener (target/nvme/endpoint.ts in the daemon). */
    private readonly endpointFactory: EndpointFactory,
    /** nvmf_tgt --interrupt-mode: every controller sleeps whenever idle (needs trapped doorbells). */
    readonly interruptMode = false,
  ) {}

  subsystem(nqn: string): Subsystem {
    const s = this.subsystems.get(nqn);
    if (!s) throw unknownSubsystem(nqn);
    return s;
  }

  createTransport(trtype: string, given: Partial<VfioUserTransportOptions> & Record<string, unknown>): void {
    if (trtype.toUpperCase() !== 'VFIOUSER') throw invalid(`transport type '${trtype}' is not supported (only VFIOUSER)`);
    if (this.transports.has('VFIOUSER')) throw new TargetError('exists', 'EEXIST', 'transport VFIOUSER already exists', { type: 'transport', name: 'VFIOUSER' });
    const o = resolveTransportOptions(given);
    if (this.interruptMode) {
      // As SPDK's vfio_user.c: only a trapped BAR0 can wake a sleeping target (a doorbell
      // written to a shared page is seen only by polling), and adaptive IRQs need a poller.
      if (!o.disable_mappable_bar0)
        throw invalid('interrupt mode needs doorbells that trap: create the transport with disable_mappable_bar0 (rpc.py nvmf_create_transport -t VFIOUSER -M)');
      o.disable_adaptive_irq = true;
    }
    if (o.max_queue_depth < 2 || o.max_queue_depth > 65536) throw invalid(`max_queue_depth ${o.max_queue_depth} must be 2..65536`);
    if (o.max_aq_depth < 2 || o.max_aq_depth > 4096) throw invalid(`max_aq_depth ${o.max_aq_depth} must be 2..4096`);
    if (o.max_io_qpairs_per_ctrlr < 1 || o.max_io_qpairs_per_ctrlr + 1 > VFIOUSER_MAX_QPAIRS_PER_CTRLR)
      throw invalid(`max_io_qpairs_per_ctrlr ${o.max_io_qpairs_per_ctrlr} must be 1..${VFIOUSER_MAX_QPAIRS_PER_CTRLR - 1}`);
    this.transports.set('VFIOUSER', new VfioUserTransport(o, { trtype: 'VFIOUSER', ...given }));
    this.log.notice('transport created', { trtype: 'VFIOUSER', ...given });
  }

  getTransports(trtype?: string): Record<string, unknown>[] {
    const list = [...this.transports.values()].filter((t) => !trtype || t.trtype === trtype.toUpperCase());
    if (trtype && list.length === 0) throw new TargetError('not_found', 'EINVAL', `transport '${trtype}' does not exist`, { type: 'transport', name: trtype });
    return list.map((t) => ({ ...t.options }));
  }

  createSubsystem(o: SubsystemOptions): void {
    checkNqn(o.nqn);
    if (o.nqn === DISCOVERY_NQN || this.subsystems.has(o.nqn)) throw new TargetError('exists', 'EEXIST', `subsystem ${o.nqn} already exists`, { type: 'subsystem', name: o.nqn });
    if (Buffer.byteLength(o.serialNumber) > 20 || !/^[\x20-\x7e]*$/.test(o.serialNumber))
      throw invalid(`serial number '${o.serialNumber}' must be at most 20 printable ASCII characters`);
    if (Buffer.byteLength(o.modelNumber) > 40 || !/^[\x20-\x7e]*$/.test(o.modelNumber))
      throw invalid(`model number '${o.modelNumber}' must be at most 40 printable ASCII characters`);
    if (o.minCntlid < 1 || o.maxCntlid > 0xffef || o.minCntlid > o.maxCntlid)
      throw invalid(`Invalid cntlid range [${o.minCntlid}-${o.maxCntlid}]`);
    this.subsystems.set(o.nqn, new Subsystem(o, this.bdevs));
    this.log.notice('subsystem created', { nqn: o.nqn });
  }

  async deleteSubsystem(nqn: string): Promise<void> {
    const s = this.subsystem(nqn);
    this.subsystems.delete(nqn);
    for (const l of s.listeners.splice(0)) await l.endpoint.close().catch((err) => this.log.error('closing endpoint failed', { err: String(err) }));
    const all = s.namespaceList();
    s.namespaces.clear();
    for (const ns of all) await s.releaseBdev(ns);
    s.pool = null;
    this.log.notice('subsystem deleted', { nqn });
  }

  addNamespace(nqn: string, req: NamespaceRequest): number {
    const s = this.subsystem(nqn);
    const nsid = req.nsid ?? s.freeNsid();
    if (nsid === undefined) throw invalid(`subsystem ${nqn} already has its maximum of ${s.options.maxNamespaces} namespaces`);
    if (!Number.isInteger(nsid) || nsid < 1 || nsid > 0xfffffffe) throw invalid(`NSID ${nsid} must be 1..4294967294`);
    if (s.options.maxNamespaces && nsid > s.options.maxNamespaces)
      throw invalid(`NSID ${nsid} exceeds max_namespaces ${s.options.maxNamespaces} of ${nqn}`);
    if (s.namespaces.has(nsid)) throw invalid(`NSID ${nsid} is already in use in ${nqn}`);
    const nguid = req.nguid !== undefined ? hexId(req.nguid, 16, 'nguid') : undefined;
    const eui64 = req.eui64 !== undefined ? hexId(req.eui64, 8, 'eui64') : undefined;
    if (req.uuid !== undefined && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(req.uuid))
      throw invalid(`uuid '${req.uuid}' is not an RFC 4122 UUID`);
    const bdev = this.bdevs.get(req.bdev_name);
    const holder = this.bdevs.claimedBy(req.bdev_name);
    if (holder !== undefined) throw new TargetError('busy', 'EBUSY', `bdev '${req.bdev_name}' is already in use by ${holder}`, { type: 'bdev', name: req.bdev_name });
    this.bdevs.claim(req.bdev_name, nsOwner(nqn, nsid));
    const ns: Namespace = {
      nsid,
      bdev,
      nguid,
      eui64,
      uuid: req.uuid ?? bdev.uuid,
      uuidGiven: req.uuid !== undefined,
      anagrpid: req.anagrpid ?? nsid,
      noAutoVisible: req.no_auto_visible ?? false,
      ptplFile: req.ptpl_file,
      attachment: attachedEverywhere(),
      pooled: false,
      shared: true,
    };
    s.namespaces.set(nsid, ns);
    // ptpl_file: the namespace's reservations may persist through power loss there (RESCAP
    // PTPL), and those an earlier run persisted come back (SPDK's nvmf_ns_reservation_restore).
    if (req.ptpl_file) s.reservations.setPersistence(nsid, req.ptpl_file, bdev.uuid);
    s.notifyNamespacesChanged();
    this.log.notice('namespace added', { nqn, nsid, bdev: bdev.name });
    return nsid;
  }

  /** nvmf_subsystem_remove_ns; a namespace the host created from the pool takes its bdev with it. */
  async removeNamespace(nqn: string, nsid: number): Promise<void> {
    const s = this.subsystem(nqn);
    const ns = s.namespaces.get(nsid);
    if (!ns) throw invalid(`namespace ${nsid} does not exist in ${nqn}`);
    await s.removeNamespace(nsid);
    this.log.notice('namespace removed', { nqn, nsid, bdev: ns.bdev.name });
  }

  /**
   * vnvme_subsystem_set_ns_pool: gives the subsystem `capacity` bytes for namespaces the host
   * creates with Namespace Management (malloc bdevs made on demand), in these block sizes; its
   * controllers then offer Namespace Management and Attachment (OACS bit 3). Called again, it
   * resizes the pool (not below what is allocated); the block sizes stay while namespaces
   * created from it exist.
   */
  setNamespacePool(nqn: string, capacity: number, blockSizes: number[] = DEFAULT_POOL_BLOCK_SIZES): void {
    const s = this.subsystem(nqn);
    if (!Number.isSafeInteger(capacity) || capacity < 0) throw invalid(`capacity ${capacity} must be a byte count`);
    if (capacity > totalmem())
      throw new TargetError('invalid', 'ENOMEM', `a ${capacity}-byte namespace pool is larger than this machine's memory (${Math.floor(totalmem() / 2 ** 20)} MiB)`);
    if (blockSizes.length < 1 || blockSizes.length > 16) throw invalid(`block_sizes must list 1 to 16 LBA formats, not ${blockSizes.length}`);
    for (const bs of blockSizes)
      if (!Number.isInteger(bs) || bs < 512 || bs > 65536 || (bs & (bs - 1)) !== 0) throw invalid(`block size ${bs} must be a power of two from 512 to 65536`);
    if (new Set(blockSizes).size !== blockSizes.length) throw invalid(`block_sizes ${JSON.stringify(blockSizes)} lists a size twice`);
    const old = s.pool;
    if (old) {
      if (capacity < old.allocated) throw new TargetError('busy', 'EBUSY', `the pool of ${nqn} has ${old.allocated} bytes allocated to namespaces; it cannot shrink to ${capacity}`);
      const same = old.options.blockSizes.length === blockSizes.length && old.options.blockSizes.every((b, i) => b === blockSizes[i]);
      if (!same && old.allocated > 0) throw new TargetError('busy', 'EBUSY', `namespaces created from the pool of ${nqn} use its block sizes; delete them before changing block_sizes`);
      old.options.capacity = capacity;
      old.options.blockSizes = [...blockSizes];
    } else s.pool = new NamespacePool(nqn, { capacity, blockSizes: [...blockSizes] }, this.bdevs);
    this.log.notice('namespace pool set', { nqn, capacity, block_sizes: blockSizes });
  }

  /** vnvme_subsystem_remove_ns_pool: Namespace Management is no longer offered (EBUSY while namespaces created from the pool exist). */
  removeNamespacePool(nqn: string): void {
    const s = this.subsystem(nqn);
    if (!s.pool) throw invalid(`subsystem ${nqn} has no namespace pool`);
    if (s.pool.allocated > 0) throw new TargetError('busy', 'EBUSY', `namespaces created from the pool of ${nqn} still exist; delete them first (nvmf_subsystem_remove_ns or the host's Namespace Management)`);
    s.pool = null;
    this.log.notice('namespace pool removed', { nqn });
  }

  getNamespacePool(nqn: string): Record<string, unknown> {
    const s = this.subsystem(nqn);
    if (!s.pool) throw invalid(`subsystem ${nqn} has no namespace pool`);
    return {
      ...s.pool.toJSON(),
      namespaces: s
        .namespaceList()
        .filter((ns) => ns.pooled)
        .map((ns) => ({ nsid: ns.nsid, bdev_name: ns.bdev.name, block_size: ns.bdev.blockSize, num_blocks: ns.bdev.numBlocks, shared: ns.shared, controllers: s.attachedControllers(ns) })),
    };
  }

  private findListener(traddr: string): { subsystem: Subsystem; index: number } | undefined {
    const want = resolve(traddr);
    for (const s of this.subsystems.values()) {
      const index = s.listeners.findIndex((l) => resolve(l.address.traddr) === want);
      if (index >= 0) return { subsystem: s, index };
    }
    return undefined;
  }

  async addListener(nqn: string, req: ListenerRequest): Promise<void> {
    const s = this.subsystem(nqn);
    const a = req.address;
    if (a.trtype.toUpperCase() !== 'VFIOUSER') throw invalid(`trtype '${a.trtype}' is not supported (only VFIOUSER)`);
    const transport = this.transports.get('VFIOUSER');
    if (!transport) throw invalid('transport VFIOUSER has not been created (run nvmf_create_transport -t VFIOUSER first)');
    const dir = resolve(a.traddr);
    let st;
    try {
      st = statSync(dir);
    } catch {
      throw new TargetError('not_found', 'ENOENT', `listener directory '${a.traddr}' does not exist`);
    }
    if (!st.isDirectory()) throw new TargetError('not_found', 'ENOTDIR', `listener address '${a.traddr}' is not a directory`);
    const unsafe = listenerDirectoryProblem(dir);
    if (unsafe) throw new TargetError('denied', 'EACCES', unsafe);
    try {
      accessSync(dir, fsc.W_OK | fsc.X_OK);
    } catch {
      throw new TargetError('denied', 'EACCES', `listener directory '${a.traddr}' is not writable`);
    }
    const dup = this.findListener(dir);
    if (dup) throw new TargetError('exists', 'EEXIST', `'${a.traddr}' is already a listener of ${dup.subsystem.nqn}`);
    // A cntrl socket left by a dead target is replaced; one that answers belongs to a live one.
    if (await socketAnswers(join(dir, 'cntrl')))
      throw new TargetError('busy', 'EADDRINUSE', `another process is serving ${join(dir, 'cntrl')}; stop it or choose another directory`);
    let endpoint;
    try {
      endpoint = await this.endpointFactory({ traddr: dir, subsystem: s, transport: transport.options, log: this.log.child('vfio_user'), interruptMode: this.interruptMode });
    } catch (err) {
      if (err instanceof TargetError) throw err;
      throw new TargetError('failed', 'EIO', `failed to listen on ${a.traddr}/cntrl: ${err instanceof Error ? err.message : String(err)}`);
    }
    // The subsystem may have been deleted while the endpoint started.
    if (this.subsystems.get(nqn) !== s) {
      await endpoint.close();
      throw unknownSubsystem(nqn);
    }
    s.listeners.push({
      address: { trtype: 'VFIOUSER', traddr: a.traddr, trsvcid: a.trsvcid, adrfam: a.adrfam },
      endpoint,
      secureChannel: req.secureChannel ?? false,
      anaState: req.anaState,
    });
    this.log.notice('listening', { nqn, socket: `${dir}/cntrl` });
  }

  async removeListener(nqn: string, a: ListenAddress): Promise<void> {
    const s = this.subsystem(nqn);
    const want = resolve(a.traddr);
    const index = s.listeners.findIndex((l) => l.address.trtype.toUpperCase() === a.trtype.toUpperCase() && resolve(l.address.traddr) === want);
    if (index < 0) throw invalid(`subsystem ${nqn} has no ${a.trtype} listener at '${a.traddr}'`);
    const [l] = s.listeners.splice(index, 1);
    await l.endpoint.close();
    this.log.notice('listener removed', { nqn, traddr: a.traddr });
  }

  getSubsystems(nqn?: string): Record<string, unknown>[] {
    const discovery = {
      nqn: DISCOVERY_NQN,
      subtype: 'Discovery',
      listen_addresses: [],
      allow_any_host: true,
      hosts: [],
    };
    if (nqn !== undefined) return nqn === DISCOVERY_NQN ? [discovery] : [this.subsystem(nqn).toJSON()];
    return [discovery, ...[...this.subsystems.values()].map((s) => s.toJSON())];
  }

  getControllers(nqn: string): Record<string, unknown>[] {
    const s = this.subsystem(nqn);
    return s.listeners.flatMap((l) => l.endpoint.info());
  }

  getStats(): Record<string, unknown> {
    const all = [...this.subsystems.values()].flatMap((s) => s.listeners);
    const ctrlrs = all.flatMap((l) => l.endpoint.info());
    const ioq = ctrlrs.reduce((n, c) => n + (c.num_io_qpairs ?? 0), 0);
    return {
      tick_rate: 1_000_000_000,
      poll_groups: [
        {
          name: 'nvmf_tgt_poll_group_000',
          admin_qpairs: ctrlrs.length,
          io_qpairs: ioq,
          current_admin_qpairs: ctrlrs.length,
          current_io_qpairs: ioq,
          pending_bdev_io: 0,
          completed_nvme_io: 0,
          transports: [...this.transports.values()].map((t) => ({
            trtype: t.trtype,
            endpoints: all.map((l) => ({ traddr: l.address.traddr, ...l.endpoint.stats() })),
          })),
        },
      ],
    };
  }

  /** save_config entries for the nvmf subsystem, in replay order (lib/nvmf/nvmf.c). */
  configEntries(): Array<{ method: string; params: Record<string, unknown> }> {
    const out: Array<{ method: string; params: Record<string, unknown> }> = [];
    for (const [method, params] of Object.entries(this.settings)) out.push({ method, params: { ...params } });
    for (const t of this.transports.values()) out.push({ method: 'nvmf_create_transport', params: { ...t.given } });
    for (const s of this.subsystems.values()) {
      const o = s.options;
      out.push({
        method: 'nvmf_create_subsystem',
        params: {
          nqn: o.nqn,
          allow_any_host: o.allowAnyHost,
          serial_number: o.serialNumber,
          model_number: o.modelNumber,
          ...(o.maxNamespaces ? { max_namespaces: o.maxNamespaces } : {}),
          min_cntlid: o.minCntlid,
          max_cntlid: o.maxCntlid,
          ana_reporting: o.anaReporting,
          dmrsl: o.dmrsl,
          wzsl: o.wzsl,
          passthrough: o.passthrough,
          enable_nssr: o.enableNssr,
          ...(o.adminLabel ? { admin_label: o.adminLabel } : {}),
        },
      });
      for (const l of s.listeners)
        out.push({
          method: 'nvmf_subsystem_add_listener',
          params: {
            nqn: o.nqn,
            secure_channel: l.secureChannel,
            listen_address: {
              trtype: l.address.trtype,
              traddr: l.address.traddr,
              ...(l.address.adrfam ? { adrfam: l.address.adrfam } : {}),
              ...(l.address.trsvcid !== undefined ? { trsvcid: l.address.trsvcid } : {}),
            },
            ...(l.anaState ? { ana_state: l.anaState } : {}),
          },
        });
      if (s.pool) out.push({ method: 'vnvme_subsystem_set_ns_pool', params: { nqn: o.nqn, capacity: s.pool.capacity, block_sizes: [...s.pool.options.blockSizes] } });
      for (const h of s.hosts) out.push({ method: 'nvmf_subsystem_add_host', params: { nqn: o.nqn, host: h } });
      // Namespaces the host created from the pool are not replayed: their data was in RAM.
      for (const ns of s.namespaceList().filter((n) => !n.pooled))
        out.push({
          method: 'nvmf_subsystem_add_ns',
          params: {
            nqn: o.nqn,
            namespace: {
              nsid: ns.nsid,
              bdev_name: ns.bdev.name,
              ...(ns.ptplFile ? { ptpl_file: ns.ptplFile } : {}),
              ...(ns.nguid ? { nguid: ns.nguid } : {}),
              ...(ns.eui64 ? { eui64: ns.eui64 } : {}),
              ...(ns.uuidGiven ? { uuid: ns.uuid } : {}),
              ...(o.anaReporting ? { anagrpid: ns.anagrpid } : {}),
              no_auto_visible: ns.noAutoVisible,
            },
          },
        });
    }
    return out;
  }

  /** Closes every endpoint (clients are told the controller is going away). */
  async shutdown(): Promise<void> {
    for (const s of this.subsystems.values())
      for (const l of s.listeners.splice(0)) await l.endpoint.close().catch((err) => this.log.error('closing endpoint failed', { err: String(err) }));
  }
}

/** Whether something accepts connections on the UNIX socket at `path` (false if absent or stale). */
export function socketAnswers(path: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((res) => {
    let st;
    try {
      st = statSync(path);
    } catch {
      res(false);
      return;
    }
    if (!st.isSocket()) {
      res(false);
      return;
    }
    const s = connect(path);
    const done = (v: boolean) => {
      clearTimeout(timer);
      s.destroy();
      res(v);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}

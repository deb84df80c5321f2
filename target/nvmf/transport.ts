// The VFIOUSER transport: its options (nvmf_create_transport), and the interface of the
// endpoint a listener creates at DIR/cntrl. The implementation (target/nvme/endpoint.ts) is
// handed to NvmfTarget by whoever composes the target (the daemon; tests pass their own).
import type { Logger } from '../log.js';
import type { Subsystem } from './subsystem.js';

/** Transport options as nvmf_get_transports reports them; defaults are SPDK's vfio-user ones. */
export interface VfioUserTransportOptions {
  trtype: 'VFIOUSER';
  max_queue_depth: number;
  max_io_qpairs_per_ctrlr: number;
  in_capsule_data_size: number;
  max_io_size: number;
  io_unit_size: number;
  max_aq_depth: number;
  num_shared_buffers: number;
  buf_cache_size: number;
  dif_insert_or_strip: boolean;
  zcopy: boolean;
  abort_timeout_sec: number;
  ack_timeout: number;
  data_wr_pool_size: number;
  disable_command_passthru: boolean;
  kas: number;
  min_kato: number;
  /** BAR0 fully trapped: doorbells arrive as vfio-user region writes, no shared doorbell page. */
  disable_mappable_bar0: boolean;
  disable_adaptive_irq: boolean;
  /** Forced true while BAR0 is mappable, as SPDK does (vfio_user.c: shadow doorbells need a trapped BAR0). */
  disable_shadow_doorbells: boolean;
  enable_intr_mode_sq_spreading: boolean;
  masked_oncs: string[];
  masked_fuses: string[];
}

/** SPDK's vfio-user defaults (lib/nvmf/vfio_user.c NVMF_VFIO_USER_DEFAULT_*). */
export const VFIOUSER_DEFAULTS: VfioUserTransportOptions = {
  trtype: 'VFIOUSER',
  max_queue_depth: 256,
  max_io_qpairs_per_ctrlr: 127,
  in_capsule_data_size: 0,
  max_io_size: 131072,
  io_unit_size: 131072,
  max_aq_depth: 32,
  num_shared_buffers: 0,
  buf_cache_size: 0,
  dif_insert_or_strip: false,
  zcopy: false,
  abort_timeout_sec: 0,
  ack_timeout: 0,
  data_wr_pool_size: 0,
  disable_command_passthru: false,
  kas: 10,
  min_kato: 10000,
  disable_mappable_bar0: false,
  disable_adaptive_irq: false,
  disable_shadow_doorbells: false,
  enable_intr_mode_sq_spreading: false,
  masked_oncs: [],
  masked_fuses: [],
};

/** vfio-user allows at most 512 queue pairs (admin + I/O) per controller. */
export const VFIOUSER_MAX_QPAIRS_PER_CTRLR = 512;

/** One controller as nvmf_subsystem_get_controllers lists it. */
export interface ControllerInfo {
  cntlid: number;
  hostnqn: string;
  hostid: string;
  num_io_qpairs: number;
  [key: string]: unknown;
}

/** The vfio-user endpoint serving one listener (DIR/cntrl) of one subsystem. */
export interface ControllerEndpoint {
  /** The ID of the controller this endpoint serves (Namespace Attachment's controller lists). */
  readonly cntlid?: number;
  /** Tells a connected client the controller is going away, and removes DIR/cntrl. */
  close(): Promise<void>;
  /** The controllers currently attached through this endpoint. */
  info(): ControllerInfo[];
  /** The subsystem's namespaces changed (add_ns/remove_ns): update identify data, send AENs. */
  namespacesChanged(): void;
  /** Transport statistics for nvmf_get_stats. */
  stats(): Record<string, unknown>;
}

export interface EndpointOptions {
  /** The listener directory; the endpoint's socket is `${traddr}/cntrl`. */
  traddr: string;
  subsystem: Subsystem;
  transport: VfioUserTransportOptions;
  log: Logger;
  /** Mode, owner and group of `${traddr}/cntrl` (0600, ours, unless `vnvme target --socket-*` says otherwise). */
  socket?: { mode?: number; uid?: number; gid?: number };
  /** `vnvme target --interrupt-mode`: the controller's engine sleeps whenever idle. */
  interruptMode?: boolean;
}

export type EndpointFactory = (opts: EndpointOptions) => Promise<ControllerEndpoint>;

/** Normalises user options into the transport's effective ones. */
export function resolveTransportOptions(given: Partial<VfioUserTransportOptions>): VfioUserTransportOptions {
  const o: VfioUserTransportOptions = { ...VFIOUSER_DEFAULTS, ...given, trtype: 'VFIOUSER' };
  if (!o.disable_mappable_bar0) o.disable_shadow_doorbells = true;
  return o;
}

export class VfioUserTransport {
  readonly trtype = 'VFIOUSER';
  constructor(
    readonly options: VfioUserTransportOptions,
    /** The options as given, for save_config. */
    readonly given: Record<string, unknown>,
  ) {}
}

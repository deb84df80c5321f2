// nvmf methods (lib/nvmf/nvmf_rpc.c): transports, subsystems, namespaces, listeners,
// controllers and stats. Parameter names are the union of what rpc.py releases send.
import { z } from 'zod';
import type { TargetContext } from '../context.js';
import { RpcError, INVALID_PARAMS, invalidParams } from '../errors.js';
import { i32, methodsFor, RpcMethod, u16, u32, u8, uuid } from '../method.js';
import { DISCOVERY_NQN } from '../../nvmf/subsystem.js';

const method = methodsFor<TargetContext>();

/** The one target of this daemon, as SPDK names its default target. */
export const DEFAULT_TGT_NAME = 'nvmf_tgt';

function checkTarget(tgtName: string | undefined): void {
  if (tgtName !== undefined && tgtName !== DEFAULT_TGT_NAME) throw new RpcError(INVALID_PARAMS, `Unable to find target ${tgtName}`);
}

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

const tgt = { tgt_name: z.string().optional() };
const nqnParams = z.object({ nqn: z.string(), ...tgt });

const ONCS = ['nvmcmps', 'nvmdsmsv', 'nvmwzsv', 'reservs', 'nvmcpys'] as const;
const FUSES = ['fcws'] as const;

const listenAddress = z.object({
  trtype: z.string(),
  adrfam: z.string().optional(),
  traddr: z.string(),
  trsvcid: z.string().optional(),
  /** older rpc.py spelling */
  transport: z.string().optional(),
});

const transportParams = z.object({
  trtype: z.string(),
  ...tgt,
  max_queue_depth: u16().optional(),
  max_qpairs_per_ctrlr: u16().optional(),
  max_io_qpairs_per_ctrlr: u16().optional(),
  in_capsule_data_size: u32().optional(),
  max_io_size: u32().optional(),
  io_unit_size: u32().optional(),
  max_aq_depth: u32().optional(),
  num_shared_buffers: u32().optional(),
  buf_cache_size: u32().optional(),
  iobuf_small_cache_size: u32().optional(),
  iobuf_large_cache_size: u32().optional(),
  zcopy: z.boolean().optional(),
  num_cqe: i32().optional(),
  max_srq_depth: u32().optional(),
  no_srq: z.boolean().optional(),
  c2h_success: z.boolean().optional(),
  dif_insert_or_strip: z.boolean().optional(),
  sock_priority: u32().optional(),
  acceptor_backlog: i32().optional(),
  abort_timeout_sec: u32().optional(),
  no_wr_batching: z.boolean().optional(),
  control_msg_num: u16().optional(),
  acceptor_poll_rate: u32().optional(),
  ack_timeout: u32().optional(),
  data_wr_pool_size: u32().optional(),
  disable_command_passthru: z.boolean().optional(),
  kas: u16().optional(),
  min_kato: u32().optional(),
  masked_oncs: z.union([z.array(z.enum(ONCS)), u32()]).optional(),
  masked_fuses: z.union([z.array(z.enum(FUSES)), u32()]).optional(),
  // vfio-user transport-specific (lib/nvmf/vfio_user.c vfio_user_transport_opts_decoder)
  disable_mappable_bar0: z.boolean().optional(),
  disable_adaptive_irq: z.boolean().optional(),
  disable_shadow_doorbells: z.boolean().optional(),
  enable_intr_mode_sq_spreading: z.boolean().optional(),
  /** removed from SPDK in v26.05 (use masked_oncs); old configs still send it */
  disable_compare: z.boolean().optional(),
});

function bitNames<T extends string>(v: T[] | number | undefined, names: readonly T[]): T[] | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v;
  return names.filter((_, i) => v & (1 << i));
}

export const nvmfMethods: RpcMethod<TargetContext>[] = [
  method({
    name: 'nvmf_create_transport',
    params: transportParams,
    handler: (p, ctx) => {
      checkTarget(p.tgt_name);
      if (p.disable_compare !== undefined) ctx.log.warn('nvmf_create_transport: disable_compare is obsolete (use masked_oncs); ignored');
      const maxIo = p.max_io_qpairs_per_ctrlr ?? (p.max_qpairs_per_ctrlr !== undefined ? p.max_qpairs_per_ctrlr - 1 : undefined);
      const given = defined({
        max_queue_depth: p.max_queue_depth,
        max_io_qpairs_per_ctrlr: maxIo,
        in_capsule_data_size: p.in_capsule_data_size,
        max_io_size: p.max_io_size,
        io_unit_size: p.io_unit_size,
        max_aq_depth: p.max_aq_depth,
        num_shared_buffers: p.num_shared_buffers,
        buf_cache_size: p.buf_cache_size,
        dif_insert_or_strip: p.dif_insert_or_strip,
        zcopy: p.zcopy,
        abort_timeout_sec: p.abort_timeout_sec,
        ack_timeout: p.ack_timeout,
        data_wr_pool_size: p.data_wr_pool_size,
        disable_command_passthru: p.disable_command_passthru,
        kas: p.kas,
        min_kato: p.min_kato,
        disable_mappable_bar0: p.disable_mappable_bar0,
        disable_adaptive_irq: p.disable_adaptive_irq,
        disable_shadow_doorbells: p.disable_shadow_doorbells,
        enable_intr_mode_sq_spreading: p.enable_intr_mode_sq_spreading,
        masked_oncs: bitNames(p.masked_oncs, ONCS),
        masked_fuses: bitNames(p.masked_fuses, FUSES),
      });
      ctx.nvmf.createTransport(p.trtype, given);
      return true;
    },
  }),
  method({
    name: 'nvmf_get_transports',
    readOnly: true,
    params: z.object({ trtype: z.string().optional(), ...tgt }),
    handler: (p, ctx) => {
      checkTarget(p.tgt_name);
      return ctx.nvmf.getTransports(p.trtype);
    },
  }),
  method({
    name: 'nvmf_create_subsystem',
    params: z.object({
      nqn: z.string(),
      ...tgt,
      serial_number: z.string().default('00000000000000000000'),
      model_number: z.string().default('SPDK bdev Controller'),
      admin_label: z.string().optional(),
      max_namespaces: u32().default(32),
      allow_any_host: z.boolean().default(false),
      ana_reporting: z.boolean().default(false),
      min_cntlid: u16().default(1),
      max_cntlid: u16().default(0xffef),
      dmrsl: u32().default(0),
      wzsl: u8().default(0),
      passthrough: z.boolean().default(false),
      enable_nssr: z.boolean().default(false),
    }),
    handler: (p, ctx) => {
      checkTarget(p.tgt_name);
      ctx.nvmf.createSubsystem({
        nqn: p.nqn,
        serialNumber: p.serial_number,
        modelNumber: p.model_number,
        adminLabel: p.admin_label,
        maxNamespaces: p.max_namespaces,
        allowAnyHost: p.allow_any_host,
        anaReporting: p.ana_reporting,
        minCntlid: p.min_cntlid,
        maxCntlid: p.max_cntlid,
        dmrsl: p.dmrsl,
        wzsl: p.wzsl,
        passthrough: p.passthrough,
        enableNssr: p.enable_nssr,
      });
      return true;
    },
  }),
  method({
    name: 'nvmf_delete_subsystem',
    params: nqnParams,
    handler: async (p, ctx) => {
      checkTarget(p.tgt_name);
      if (p.nqn === DISCOVERY_NQN) throw invalidParams('the discovery subsystem cannot be deleted');
      await ctx.nvmf.deleteSubsystem(p.nqn);
      return true;
    },
  }),
  method({
    name: 'nvmf_get_subsystems',
    readOnly: true,
    params: z.object({ nqn: z.string().optional(), ...tgt }),
    handler: (p, ctx) => {
      checkTarget(p.tgt_name);
      return ctx.nvmf.getSubsystems(p.nqn);
    },
  }),
  method({
    name: 'nvmf_subsystem_add_ns',
    params: z.object({
      nqn: z.string(),
      ...tgt,
      namespace: z.object({
        bdev_name: z.string(),
        nsid: u32().optional(),
        nguid: z.string().optional(),
        eui64: z.string().optional(),
        uuid: uuid().optional(),
        ptpl_file: z.string().optional(),
        anagrpid: u32().optional(),
        no_auto_visible: z.boolean().optional(),
        hide_metadata: z.boolean().optional(),
      }),
    }),
    handler: (p, ctx) => {
      checkTarget(p.tgt_name);
      const ns = p.namespace;
      return ctx.nvmf.addNamespace(p.nqn, { ...ns, nsid: ns.nsid === 0 ? undefined : ns.nsid });
    },
  }),
  method({
    name: 'nvmf_subsystem_remove_ns',
    params: z.object({ nqn: z.string(), nsid: u32(), ...tgt }),
    handler: async (p, ctx) => {
      checkTarget(p.tgt_name);
      await ctx.nvmf.removeNamespace(p.nqn, p.nsid);
      return true;
    },
  }),
  method({
    name: 'nvmf_subsystem_add_listener',
    params: z.object({
      nqn: z.string(),
      ...tgt,
      listen_address: listenAddress,
      secure_channel: z.boolean().optional(),
      ana_state: z.enum(['optimized', 'non_optimized', 'inaccessible']).optional(),
      sock_impl: z.string().optional(),
      numa_id: i32().optional(),
    }),
    handler: async (p, ctx) => {
      checkTarget(p.tgt_name);
      if (p.secure_channel) throw invalidParams('secure_channel is not supported by the VFIOUSER transport');
      await ctx.nvmf.addListener(p.nqn, { address: p.listen_address, secureChannel: p.secure_channel, anaState: p.ana_state });
      return true;
    },
  }),
  method({
    name: 'nvmf_subsystem_remove_listener',
    params: z.object({ nqn: z.string(), ...tgt, listen_address: listenAddress }),
    handler: async (p, ctx) => {
      checkTarget(p.tgt_name);
      await ctx.nvmf.removeListener(p.nqn, p.listen_address);
      return true;
    },
  }),
  method({
    name: 'nvmf_subsystem_get_listeners',
    readOnly: true,
    params: nqnParams,
    handler: (p, ctx) => {
      checkTarget(p.tgt_name);
      return ctx.nvmf.subsystem(p.nqn).listeners.map((l) => ({
        address: { trtype: l.address.trtype, adrfam: l.address.adrfam ?? 'unknown', traddr: l.address.traddr, trsvcid: l.address.trsvcid ?? '' },
        ana_states: [{ ana_group: 1, ana_state: l.anaState ?? 'optimized' }],
      }));
    },
  }),
  method({
    name: 'nvmf_subsystem_get_controllers',
    readOnly: true,
    params: nqnParams,
    handler: (p, ctx) => {
      checkTarget(p.tgt_name);
      return ctx.nvmf.getControllers(p.nqn);
    },
  }),
  method({
    name: 'nvmf_get_stats',
    readOnly: true,
    params: z.object({ ...tgt }),
    handler: (p, ctx) => {
      checkTarget(p.tgt_name);
      return ctx.nvmf.getStats();
    },
  }),
  method({
    name: 'nvmf_subsystem_add_host',
    params: z.object({ nqn: z.string(), host: z.string(), ...tgt, psk: z.string().optional(), dhchap_key: z.string().optional(), dhchap_ctrlr_key: z.string().optional() }),
    handler: (p, ctx) => {
      checkTarget(p.tgt_name);
      const s = ctx.nvmf.subsystem(p.nqn);
      if (s.hosts.includes(p.host)) throw invalidParams(`host ${p.host} is already allowed on ${p.nqn}`);
      s.hosts.push(p.host);
      return true;
    },
  }),
  method({
    name: 'nvmf_subsystem_remove_host',
    params: z.object({ nqn: z.string(), host: z.string(), ...tgt }),
    handler: (p, ctx) => {
      checkTarget(p.tgt_name);
      const s = ctx.nvmf.subsystem(p.nqn);
      const i = s.hosts.indexOf(p.host);
      if (i < 0) throw invalidParams(`host ${p.host} is not allowed on ${p.nqn}`);
      s.hosts.splice(i, 1);
      return true;
    },
  }),
  method({
    name: 'nvmf_subsystem_allow_any_host',
    params: z.object({ nqn: z.string(), allow_any_host: z.boolean(), ...tgt }),
    handler: (p, ctx) => {
      checkTarget(p.tgt_name);
      ctx.nvmf.subsystem(p.nqn).options.allowAnyHost = p.allow_any_host;
      return true;
    },
  }),
  // Target-wide settings SPDK's save_config emits: accepted and replayed, otherwise inert here.
  ...(
    [
      [
        'nvmf_set_config',
        z.object(
          Object.fromEntries(
            ['acceptor_poll_rate', 'conn_sched', 'admin_cmd_passthru', 'poll_groups_mask', 'discovery_filter', 'discovery_filters', 'dhchap_digests', 'dhchap_dhgroups', 'dup_host_policy'].map(
              (k) => [k, z.unknown().optional()],
            ),
          ),
        ),
      ],
      ['nvmf_set_max_subsystems', z.object({ max_subsystems: u32() })],
      ['nvmf_set_crdt', z.object({ crdt1: u16().optional(), crdt2: u16().optional(), crdt3: u16().optional() })],
    ] as const
  ).map(([name, params]) =>
    method({
      name,
      states: ['startup', 'runtime'],
      params: params as z.ZodObject,
      handler: (p, ctx) => {
        ctx.nvmf.settings[name] = { ...(ctx.nvmf.settings[name] ?? {}), ...defined(p as Record<string, unknown>) };
        return true;
      },
    }),
  ),
];

// Framework and application methods: rpc_get_methods, spdk_get_version, framework_*,
// spdk_kill_instance (lib/rpc/rpc.c, lib/event/app.c, lib/init/subsystem_rpc.c).
import { z } from 'zod';
import type { TargetContext } from '../context.js';
import { invalidParams } from '../errors.js';
import { methodsFor, RpcMethod } from '../method.js';
import { LOG_COMPONENTS, parseLogLevel, type Logger, type LogLevel } from '../../log.js';

const method = methodsFor<TargetContext>();

/** The SPDK release whose RPC interface we follow; tools parse these fields. */
export const SPDK_COMPAT = { major: 26, minor: 9, patch: 0, suffix: '-pre' };
export const VNVME_VERSION = '0.1.0';

/** Subsystems in init order; save_config walks depends_on (python/spdk/rpc/config.py). */
export const SUBSYSTEMS = [
  { subsystem: 'bdev', depends_on: [] as string[] },
  { subsystem: 'nvmf', depends_on: ['bdev'] },
];

export const KILL_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGQUIT', 'SIGHUP', 'SIGKILL', 'SIGUSR1'] as const;

export function subsystemConfig(ctx: TargetContext, name: string): Array<{ method: string; params: Record<string, unknown> }> {
  switch (name) {
    case 'bdev':
      return [
        { method: 'bdev_set_options', params: { bdev_io_pool_size: 65535, bdev_io_cache_size: 256, bdev_auto_examine: true, ...ctx.bdevOptions } },
        ...ctx.bdevs.configEntries(),
        { method: 'bdev_wait_for_examine', params: {} },
      ];
    case 'nvmf':
      return ctx.nvmf.configEntries();
    default:
      throw invalidParams(`subsystem '${name}' not found (known: ${SUBSYSTEMS.map((s) => s.subsystem).join(', ')})`);
  }
}

const LOG_FLAGS: readonly string[] = [...LOG_COMPONENTS, 'all'];
const logFlag = z.object({ flag: z.string() });
const logLevel = z.object({ level: z.string() });
function parseLevel(level: string): LogLevel {
  try {
    return parseLogLevel(level);
  } catch {
    throw invalidParams('Tried to set invalid log level');
  }
}

/** SPDK's log_* methods (lib/log/log_rpc.c): flags are the -L components, levels SPDK's names. */
const logMethods: RpcMethod<TargetContext>[] = [
  ...([
    ['log_set_flag', 'spdk_log_set_flag', (log: Logger, flag: string) => log.addFlag(flag)],
    ['log_clear_flag', 'spdk_log_clear_flag', (log: Logger, flag: string) => log.clearFlag(flag)],
  ] as const).map(([name, spdkName, apply]) =>
    method({
      name,
      states: ['startup', 'runtime'],
      params: logFlag,
      handler: (p, ctx) => {
        if (!LOG_FLAGS.includes(p.flag)) throw invalidParams(`${spdkName} failed: unknown flag '${p.flag}' (known: ${LOG_FLAGS.join(', ')})`);
        apply(ctx.log, p.flag);
        return true;
      },
    }),
  ),
  method({
    name: 'log_get_flags',
    states: ['startup', 'runtime'],
    readOnly: true,
    handler: (_p, ctx) => {
      const on = new Set(ctx.log.flags);
      return Object.fromEntries(LOG_COMPONENTS.map((c) => [c, on.has('all') || on.has(c)]));
    },
  }),
  ...(['log_set_print_level', 'log_set_level'] as const).map((name) =>
    method({
      name,
      states: ['startup', 'runtime'],
      params: logLevel,
      handler: (p, ctx) => {
        ctx.log.setLevel(parseLevel(p.level));
        return true;
      },
    }),
  ),
  ...(['log_get_print_level', 'log_get_level'] as const).map((name) =>
    method({ name, states: ['startup', 'runtime'], readOnly: true, handler: (_p, ctx) => ctx.log.level.toUpperCase() }),
  ),
];

export const frameworkMethods: RpcMethod<TargetContext>[] = [
  ...logMethods,
  method({
    name: 'rpc_get_methods',
    states: ['startup', 'runtime'],
    readOnly: true,
    params: z.object({ current: z.boolean().default(false), include_aliases: z.boolean().default(false) }),
    handler: (p, ctx) => ctx.methods.names(p.current, p.include_aliases),
  }),
  method({
    name: 'spdk_get_version',
    states: ['startup', 'runtime'],
    readOnly: true,
    handler: () => {
      const v = SPDK_COMPAT;
      return {
        version: `SPDK v${v.major}.${String(v.minor).padStart(2, '0')}${v.suffix} (vnvme ${VNVME_VERSION})`,
        fields: { ...v, commit: `vnvme-${VNVME_VERSION}` },
      };
    },
  }),
  method({
    name: 'framework_wait_init',
    states: ['startup', 'runtime'],
    readOnly: true,
    // Returns once the framework is initialized (at once unless started with --wait-for-rpc).
    handler: async (_p, ctx) => {
      while (ctx.methods.state !== 'runtime') await new Promise((r) => setTimeout(r, 20));
      return true;
    },
  }),
  method({
    // SPDK allows it only before init. The target initializes at start, so at runtime it is
    // accepted as a no-op but not listed by rpc_get_methods --current (load_config calls it
    // whenever it is listed).
    name: 'framework_start_init',
    states: ['startup', 'runtime'],
    listedStates: ['startup'],
    handler: (_p, ctx) => {
      ctx.methods.state = 'runtime';
      return true;
    },
  }),
  method({
    name: 'framework_get_subsystems',
    states: ['startup', 'runtime'],
    readOnly: true,
    handler: () => structuredClone(SUBSYSTEMS),
  }),
  method({
    name: 'framework_get_config',
    readOnly: true,
    params: z.object({ name: z.string(), with_batches: z.boolean().default(false) }),
    handler: (p, ctx) => subsystemConfig(ctx, p.name),
  }),
  method({
    name: 'spdk_kill_instance',
    states: ['startup', 'runtime'],
    params: z.object({ sig_name: z.string() }),
    handler: (p, ctx) => {
      const raw = p.sig_name.toUpperCase();
      const sig = raw.startsWith('SIG') ? raw : `SIG${raw}`;
      if (!(KILL_SIGNALS as readonly string[]).includes(sig))
        throw invalidParams(`'sig_name' must be one of ${KILL_SIGNALS.join(', ')} (got "${p.sig_name}")`);
      // Reply first, then act, as SPDK's kill() of itself lands after the response is queued.
      setImmediate(() => ctx.kill(sig));
      return true;
    },
  }),
];

// The target daemon (`vnvme target`): what a user starts instead of SPDK's nvmf_tgt.
//
// It takes `<sock>.lock` (refusing a second target on the same RPC socket, as SPDK's flock
// does), removes a stale socket, serves JSON-RPC, optionally starts from a saved config (as
// `nvmf_tgt --json`), and on SIGINT/SIGTERM or spdk_kill_instance shuts down cleanly: RPC
// stops, vfio-user endpoints close (clients are told, sockets removed), file bdevs flush.
import { closeSync, existsSync, linkSync, lstatSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { BdevRegistry } from './bdev/registry.js';
import { Logger } from './log.js';
import { NvmfTarget } from './nvmf/target.js';
import type { TargetContext } from './rpc/context.js';
import { JsonRpcServer } from './rpc/jsonrpc.js';
import { MethodTable } from './rpc/method.js';
import { bdevMethods } from './rpc/methods/bdev.js';
import { frameworkMethods } from './rpc/methods/framework.js';
import { nvmfMethods } from './rpc/methods/nvmf.js';
import { loadDefaultEndpointFactory } from './nvmf/transport.js';

export const DEFAULT_RPC_SOCKET = '/var/tmp/spdk.sock';

export interface DaemonOptions {
  rpcSocket?: string;
  /** A saved config (save_config output) to apply before serving. */
  config?: string | SavedConfig;
  log?: Logger;
  /** Install SIGINT/SIGTERM handlers that stop the daemon (the CLI does; tests don't). */
  handleSignals?: boolean;
  /** Start in the STARTUP state, as nvmf_tgt --wait-for-rpc, until framework_start_init. */
  waitForRpc?: boolean;
}

export interface SavedConfig {
  subsystems: Array<{ subsystem: string; config: unknown[] | null }>;
}

/** Locks held by this process, so two daemons in one process are refused too. */
const heldLocks = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `<sock>.lock` holding our pid; refuses when a live process (or this one) holds it. */
export function acquireLock(lockPath: string): void {
  if (heldLocks.has(lockPath)) throw new Error(`RPC socket lock ${lockPath} is already held by a target in this process`);
  for (let attempt = 0; attempt < 2; attempt++) {
    // The pid is written to a private file first and linked into place, so the lock never
    // exists without its pid (link fails with EEXIST if another target holds it).
    const tmp = `${lockPath}.${process.pid}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    try {
      linkSync(tmp, lockPath);
      heldLocks.add(lockPath);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      unlinkSync(tmp);
    }
    let pid = NaN;
    try {
      pid = Number.parseInt(readFileSync(lockPath, 'utf8').trim(), 10);
    } catch {
      // vanished or unreadable: treat as stale
    }
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid))
      throw new Error(`another target (pid ${pid}) holds ${lockPath}; is the RPC socket already in use? Use -r to choose another`);
    try {
      unlinkSync(lockPath); // stale: its process is gone
    } catch {
      // someone else removed it first
    }
  }
  throw new Error(`could not take ${lockPath}`);
}

export function releaseLock(lockPath: string): void {
  if (!heldLocks.delete(lockPath)) return;
  try {
    if (Number.parseInt(readFileSync(lockPath, 'utf8'), 10) === process.pid) unlinkSync(lockPath);
  } catch {
    // already gone
  }
}

export class TargetDaemon {
  readonly ctx: TargetContext;
  readonly methods: MethodTable<TargetContext>;
  readonly rpcSocket: string;
  readonly log: Logger;
  private server?: JsonRpcServer;
  private stopping?: Promise<void>;
  private resolveDone!: () => void;
  /** Resolves once the daemon has stopped. */
  readonly done = new Promise<void>((r) => (this.resolveDone = r));
  private signalHandlers: Array<[NodeJS.Signals, () => void]> = [];

  private constructor(opts: DaemonOptions) {
    this.rpcSocket = opts.rpcSocket ?? DEFAULT_RPC_SOCKET;
    this.log = opts.log ?? Logger.create();
    const bdevs = new BdevRegistry();
    const ctx = {
      bdevs,
      nvmf: new NvmfTarget(bdevs, this.log.child('nvmf')),
      bdevOptions: {},
      log: this.log,
      kill: (sig: string) => this.onSignal(sig),
    } as Omit<TargetContext, 'methods'> as TargetContext;
    this.methods = new MethodTable<TargetContext>(ctx, this.log.child('rpc'));
    ctx.methods = this.methods;
    this.methods.add(...frameworkMethods, ...bdevMethods, ...nvmfMethods);
    if (opts.waitForRpc) this.methods.state = 'startup';
    this.ctx = ctx;
  }

  static async start(opts: DaemonOptions = {}): Promise<TargetDaemon> {
    const d = new TargetDaemon(opts);
    await loadDefaultEndpointFactory(d.log);
    const lock = `${d.rpcSocket}.lock`;
    acquireLock(lock);
    try {
      if (existsSync(d.rpcSocket)) {
        if (!lstatSync(d.rpcSocket).isSocket()) throw new Error(`${d.rpcSocket} exists and is not a socket; refusing to replace it`);
        d.log.notice('removing stale RPC socket', { path: d.rpcSocket });
        unlinkSync(d.rpcSocket);
      }
      if (opts.config !== undefined) await d.applyConfig(opts.config);
      d.server = new JsonRpcServer({ path: d.rpcSocket, dispatch: d.methods.dispatch, log: d.log.child('rpc') });
      await d.server.listen();
    } catch (err) {
      await d.ctx.nvmf.shutdown();
      await d.ctx.bdevs.closeAll();
      releaseLock(lock);
      throw err;
    }
    if (opts.handleSignals) {
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        const h = () => d.onSignal(sig);
        process.on(sig, h);
        d.signalHandlers.push([sig, h]);
      }
    }
    d.log.notice('vnvme target started', { rpc: d.rpcSocket, pid: process.pid });
    return d;
  }

  /** Applies a saved config in order, as nvmf_tgt --json does. Unknown subsystems and methods are skipped with a warning. */
  async applyConfig(config: string | SavedConfig): Promise<void> {
    const cfg: SavedConfig = typeof config === 'string' ? JSON.parse(readFileSync(config, 'utf8')) : config;
    if (!cfg || !Array.isArray(cfg.subsystems)) throw new Error('config has no "subsystems" array');
    const prev = this.methods.state;
    for (const sub of cfg.subsystems) {
      if (!sub.config || sub.config.length === 0) continue;
      if (!['bdev', 'nvmf'].includes(sub.subsystem)) {
        this.log.warn(`config: skipping subsystem '${sub.subsystem}' (not part of vnvme)`);
        continue;
      }
      const entries = sub.config.flatMap((e) => (Array.isArray(e) ? e : [e])) as Array<{ method?: string; params?: unknown }>;
      for (const e of entries) {
        if (!e || typeof e.method !== 'string') throw new Error(`config: entry without a method in subsystem ${sub.subsystem}`);
        if (!this.methods.has(e.method)) {
          this.log.warn(`config: skipping unknown method ${e.method}`);
          continue;
        }
        this.methods.state = 'runtime';
        try {
          await this.methods.call(e.method, e.params);
        } catch (err) {
          throw new Error(`config: ${e.method} failed: ${err instanceof Error ? err.message : String(err)}`);
        } finally {
          this.methods.state = prev;
        }
      }
    }
    this.methods.state = 'runtime';
  }

  private onSignal(sig: string): void {
    if (sig === 'SIGKILL') process.kill(process.pid, 'SIGKILL');
    if (sig === 'SIGHUP' || sig === 'SIGUSR1') {
      this.log.notice(`${sig} received; ignored`);
      return;
    }
    this.log.notice(`${sig} received, shutting down`);
    void this.stop();
  }

  /** Stops serving and tears everything down; idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const [sig, h] of this.signalHandlers) process.off(sig, h);
      await this.server?.close().catch((err) => this.log.error('closing RPC server failed', { err: String(err) }));
      await this.ctx.nvmf.shutdown();
      await this.ctx.bdevs.closeAll();
      try {
        if (existsSync(this.rpcSocket) && lstatSync(this.rpcSocket).isSocket()) unlinkSync(this.rpcSocket);
      } catch {
        // already gone
      }
      releaseLock(`${this.rpcSocket}.lock`);
      this.log.notice('vnvme target stopped');
      this.resolveDone();
    })();
    return this.stopping;
  }
}

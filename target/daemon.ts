// The target daemon (`vnvme target`): what a user starts instead of SPDK's nvmf_tgt.
//
// It takes `<sock>.lock` (refusing a second target on the same RPC socket, as SPDK's flock
// does; rpc/socket-lock.ts), removes a stale socket (one nothing answers on), serves JSON-RPC, optionally starts from a saved config (as
// `nvmf_tgt --json`), and on SIGINT/SIGTERM or spdk_kill_instance shuts down cleanly: RPC
// stops, vfio-user endpoints close (clients are told, sockets removed), file bdevs flush.
import { existsSync, lstatSync, readFileSync, unlinkSync } from 'node:fs';
import { BdevRegistry } from './bdev/registry.js';
import { Logger } from './log.js';
import { NvmfTarget } from './nvmf/target.js';
import type { TargetContext } from './rpc/context.js';
import { JsonRpcServer } from './rpc/jsonrpc.js';
import type { RpcLimits } from './rpc/limits.js';
import { SocketLock } from './rpc/socket-lock.js';
import type { SocketPermissions } from './rpc/socket-perms.js';
import { MethodTable } from './rpc/method.js';
import { bdevMethods } from './rpc/methods/bdev.js';
import { frameworkMethods } from './rpc/methods/framework.js';
import { nvmfMethods } from './rpc/methods/nvmf.js';
import { namespacePoolMethods } from './rpc/methods/ns-pool.js';
import type { EndpointFactory } from './nvmf/transport.js';
import { startVfioUserEndpoint } from './nvme/endpoint.js';
import { socketAnswers } from './nvmf/target.js';
import { DEFAULT_RPC_SOCKET } from './rpc/socket-path.js';

export { DEFAULT_RPC_SOCKET };

export interface DaemonOptions {
  rpcSocket?: string;
  /** Mode, owner and group of the RPC socket (0600, ours, by default, whatever the umask). */
  rpcSocketPermissions?: SocketPermissions;
  /** Overrides of the RPC server's limits (tests use small ones). */
  rpcLimits?: Partial<RpcLimits>;
  /** A saved config (save_config output) to apply before serving. */
  config?: string | SavedConfig;
  log?: Logger;
  /** Install SIGINT/SIGTERM handlers that stop the daemon (the CLI does; tests don't). */
  handleSignals?: boolean;
  /** Start in the STARTUP state, as nvmf_tgt --wait-for-rpc, until framework_start_init. */
  waitForRpc?: boolean;
  /** What a listener serves (the NVMe controller over vfio-user unless a test passes its own). */
  endpointFactory?: EndpointFactory;
  /** Mode, owner and group of every vfio-user listener socket DIR/cntrl (QEMU as another user: libvirt). */
  listenerSocketPermissions?: SocketPermissions;
  /** nvmf_tgt --interrupt-mode: controllers sleep whenever idle; transports must trap BAR0 (-M). */
  interruptMode?: boolean;
  /** Malloc bdevs on 2 MiB huge pages when enough are free (as SPDK's live in hugepage memory). */
  mallocHugepages?: boolean;
}

export interface SavedConfig {
  subsystems: Array<{ subsystem: string; config: unknown[] | null }>;
}

/** The factory with every listener socket given `perms` (unchanged when none were asked for). */
function withSocketPermissions(factory: EndpointFactory, perms: SocketPermissions | undefined): EndpointFactory {
  return perms ? (o) => factory({ ...o, socket: perms }) : factory;
}

export class TargetDaemon {
  readonly ctx: TargetContext;
  readonly methods: MethodTable<TargetContext>;
  readonly rpcSocket: string;
  readonly log: Logger;
  private server?: JsonRpcServer;
  private lock?: SocketLock;
  private readonly rpcSocketPermissions?: SocketPermissions;
  private readonly rpcLimits?: Partial<RpcLimits>;
  private stopping?: Promise<void>;
  private resolveDone!: () => void;
  /** Resolves once the daemon has stopped. */
  readonly done = new Promise<void>((r) => (this.resolveDone = r));
  private signalHandlers: Array<[NodeJS.Signals, () => void]> = [];

  private constructor(opts: DaemonOptions) {
    this.rpcSocket = opts.rpcSocket ?? DEFAULT_RPC_SOCKET;
    this.log = opts.log ?? Logger.create();
    this.rpcSocketPermissions = opts.rpcSocketPermissions;
    this.rpcLimits = opts.rpcLimits;
    const bdevs = new BdevRegistry();
    const ctx = {
      bdevs,
      nvmf: new NvmfTarget(bdevs, this.log.child('nvmf'), withSocketPermissions(opts.endpointFactory ?? startVfioUserEndpoint, opts.listenerSocketPermissions), opts.interruptMode === true),
      bdevOptions: {},
      mallocHugepages: opts.mallocHugepages === true,
      log: this.log,
      kill: (sig: string) => this.onSignal(sig),
    } as Omit<TargetContext, 'methods'> as TargetContext;
    this.methods = new MethodTable<TargetContext>(ctx, this.log.child('rpc'));
    ctx.methods = this.methods;
    this.methods.add(...frameworkMethods, ...bdevMethods, ...nvmfMethods, ...namespacePoolMethods);
    if (opts.waitForRpc) this.methods.state = 'startup';
    this.ctx = ctx;
  }

  static async start(opts: DaemonOptions = {}): Promise<TargetDaemon> {
    const d = new TargetDaemon(opts);
    d.lock = await SocketLock.acquire(`${d.rpcSocket}.lock`, d.rpcSocket);
    try {
      await d.removeStaleSocket();
      if (opts.config !== undefined) await d.applyConfig(opts.config);
      d.server = new JsonRpcServer({
        path: d.rpcSocket,
        dispatch: d.methods.dispatch,
        log: d.log.child('rpc'),
        permissions: d.rpcSocketPermissions,
        limits: d.rpcLimits,
      });
      await d.server.listen();
    } catch (err) {
      await d.ctx.nvmf.shutdown();
      await d.ctx.bdevs.closeAll();
      d.lock.release();
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

  /** A socket file nothing answers on is a dead target's; one that answers is someone's. */
  private async removeStaleSocket(): Promise<void> {
    let st;
    try {
      st = lstatSync(this.rpcSocket);
    } catch {
      return; // absent
    }
    if (!st.isSocket()) throw new Error(`${this.rpcSocket} exists and is not a socket; refusing to replace it`);
    if (await socketAnswers(this.rpcSocket))
      throw new Error(`another process is serving ${this.rpcSocket}; stop it or choose another socket with -r`);
    this.log.notice('removing stale RPC socket', { path: this.rpcSocket });
    unlinkSync(this.rpcSocket);
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
      this.lock?.release();
      this.log.notice('vnvme target stopped');
      this.resolveDone();
    })();
    return this.stopping;
  }
}

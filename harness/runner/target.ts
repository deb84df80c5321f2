// A scenario's own target: `node bin/vnvme.js target -r DIR/spdk.sock` in a child process,
// configured with `node bin/vnvme.js rpc -s DIR/spdk.sock METHOD ARGS...`, exactly what a user
// types. Every rpc line and its output goes into the target's command log (an artifact), the
// daemon's own output into target.log. Killed by its pid at the end.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandText } from '../process.js';
import { registerChild } from '../teardown.js';
import type { TargetController } from '../target-process.js';

export function vnvmeBin(): string {
  // dist/harness/runner/target.js -> ../../../bin/vnvme.js
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'vnvme.js');
}

export interface RpcResult {
  command: string;
  exitCode: number | null;
  output: string;
}

export class RpcFailed extends Error {
  constructor(readonly result: RpcResult) {
    super(`\`${result.command}\` exited ${result.exitCode}: ${result.output.trim().slice(-800)}`);
    this.name = 'RpcFailed';
  }
}

/** A controller a scenario exported: the harness's TargetController without the size fields. */
export type ExportedController = Pick<TargetController, 'nqn' | 'dir' | 'socket' | 'serial' | 'model' | 'bdev'>;

export class ScenarioTarget {
  pid = 0;
  private exited: string | undefined;
  private unregister: () => void = () => {};
  private transport = false;
  /** What ensureTransport passes to nvmf_create_transport (the scenario context sets the run's doorbell mode). */
  transportArgs: string[] = ['-t', 'VFIOUSER'];
  readonly rpcSocket: string;
  readonly logFile: string;
  readonly rpcLog: string;

  /**
   * @param workDir short scratch dir for sockets (UNIX socket paths are limited to 107 bytes)
   * @param logDir where target.log and rpc.log go (the scenario's report directory)
   */
  constructor(
    readonly workDir: string,
    logDir: string,
    private readonly onPid: (pid: number) => void = () => {},
    readonly label = 'target',
    /** Environment additions for the daemon (VNVME_MIGRATION_V1=1 for Oracle's QEMU). */
    private readonly env: Record<string, string> = {},
    /** More `vnvme target` options (e.g. --socket-group kvm --socket-mode 0660 for QEMU under libvirt). */
    private readonly extraArgs: readonly string[] = [],
  ) {
    mkdirSync(workDir, { recursive: true, mode: 0o700 });
    this.rpcSocket = join(workDir, 'spdk.sock');
    this.logFile = join(logDir, `${label}.log`);
    this.rpcLog = join(logDir, `${label}-rpc.log`);
  }

  get running(): boolean {
    return this.pid !== 0 && this.exited === undefined;
  }

  get exitStatus(): string | undefined {
    return this.exited;
  }

  /** Starts the daemon (again, after kill) and waits until its RPC socket answers. */
  async start(): Promise<void> {
    if (this.running) throw new Error('target already running');
    this.exited = undefined;
    const fd = openSync(this.logFile, 'a');
    const argv = [vnvmeBin(), 'target', '-r', this.rpcSocket, ...this.extraArgs];
    appendFileSync(this.rpcLog, `# ${new Date().toISOString()} $ ${Object.entries(this.env).map(([k, v]) => `${k}=${v} `).join('')}${commandText('node', argv.map((a, i) => (i === 0 ? 'bin/vnvme.js' : a)))}\n`);
    const child = spawn(process.execPath, argv, { stdio: ['ignore', fd, fd], env: { ...process.env, ...this.env } });
    closeSync(fd);
    if (child.pid === undefined) throw new Error('could not start `vnvme target`');
    this.pid = child.pid;
    this.onPid(child.pid);
    this.unregister = registerChild(child.pid, `vnvme ${this.label}`);
    child.on('exit', (code, signal) => {
      this.exited = signal ? `killed by ${signal}` : `exit status ${code}`;
      this.unregister();
    });
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (this.exited) throw new Error(`\`vnvme target\` ended at start (${this.exited}); log ${this.logFile}:\n${this.logTail(30)}`);
      if (existsSync(this.rpcSocket)) {
        const r = await this.rpcRaw('spdk_get_version');
        if (r.exitCode === 0) return;
      }
      if (Date.now() > deadline) throw new Error(`\`vnvme target\` did not answer RPC within 20 s; log:\n${this.logTail(30)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** `vnvme rpc -s SOCK METHOD ARGS...`; resolves whatever the exit status. */
  rpcRaw(method: string, ...args: string[]): Promise<RpcResult> {
    const argv = [vnvmeBin(), 'rpc', '-s', this.rpcSocket, method, ...args];
    const shown = commandText('vnvme', ['rpc', '-s', this.rpcSocket, method, ...args]);
    return new Promise((resolve) => {
      const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      child.on('close', (code) => {
        appendFileSync(this.rpcLog, `$ ${shown}\n${output}${output.endsWith('\n') || !output ? '' : '\n'}# exit ${code}\n`);
        resolve({ command: shown, exitCode: code, output });
      });
    });
  }

  /** Like rpcRaw but rejects (RpcFailed) on a non-zero exit. */
  async rpc(method: string, ...args: string[]): Promise<RpcResult> {
    const r = await this.rpcRaw(method, ...args);
    if (r.exitCode !== 0) throw new RpcFailed(r);
    return r;
  }

  /** `rpc` and parse its JSON output. */
  async rpcJson<T = unknown>(method: string, ...args: string[]): Promise<T> {
    return JSON.parse((await this.rpc(method, ...args)).output) as T;
  }

  async ensureTransport(): Promise<void> {
    if (this.transport) return;
    await this.rpc('nvmf_create_transport', ...this.transportArgs);
    this.transport = true;
  }

  /**
   * A subsystem with the given bdevs as namespaces 1..n and a VFIOUSER listener at
   * workDir/<name>; resolves once DIR/cntrl exists.
   */
  async exportController(o: { name: string; serial: string; model: string; bdevs: string[] }): Promise<ExportedController> {
    await this.ensureTransport();
    const nqn = `nqn.2019-07.io.spdk:${o.name}`;
    const dir = join(this.workDir, o.name);
    mkdirSync(dir, { recursive: true, mode: 0o700 }); // a listener directory: ours alone (listener-dir.ts)
    await this.rpc('nvmf_create_subsystem', nqn, '-a', '-s', o.serial, '-d', o.model);
    for (const b of o.bdevs) await this.rpc('nvmf_subsystem_add_ns', nqn, b);
    await this.rpc('nvmf_subsystem_add_listener', nqn, '-t', 'VFIOUSER', '-a', dir, '-s', '0');
    const socket = join(dir, 'cntrl');
    const deadline = Date.now() + 10_000;
    while (!existsSync(socket)) {
      if (Date.now() > deadline) throw new Error(`listener accepted but ${socket} did not appear (log ${this.logFile})`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { nqn, dir, socket, serial: o.serial, model: o.model, bdev: o.bdevs[0] ?? '' };
  }

  /** Re-creates the configuration after a restart: the same commands again. */
  resetConfigState(): void {
    this.transport = false;
  }

  /** Kills the daemon with `signal` (by pid) and waits for it to exit. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!this.running) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      /* gone */
    }
    const deadline = Date.now() + 5_000;
    while (this.exited === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (this.exited === undefined) {
      try {
        process.kill(this.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
      while (this.exited === undefined) await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** SIGTERM (clean shutdown), then SIGKILL after 5 s. */
  stop(): Promise<void> {
    return this.kill('SIGTERM');
  }

  logTail(lines: number): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n') : '';
  }
}

/** `git rev-parse HEAD` and whether the tree has changes, for the report's environment. */
export function targetCommit(cwd: string): { commit: string; dirty: boolean } {
  const rev = spawnSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8' });
  if (rev.status !== 0) return { commit: 'unknown (not a git checkout)', dirty: false };
  const st = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8' });
  return { commit: rev.stdout.trim(), dirty: st.stdout.trim() !== '' };
}

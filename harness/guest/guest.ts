// A Linux guest under QEMU, attached to vfio-user targets and (optionally) to QEMU's own
// emulated NVMe as a baseline: boot, QMP, SSH, serial log, teardown. The state needed to reach
// a running guest again (`vnvme vm exec/stop` from another process) is saved as state.json.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statfsSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { GuestImage } from '../../images/build.js';
import { cacheDir } from '../cache.js';
import { buildQemuArgs, type Accelerator, type BaselineNvme, type VfioUserDevice } from '../qemu/command-line.js';
import { explainQemuFailure, QemuStartError } from '../qemu/errors.js';
import { qemuArgv, type QemuInstall } from '../qemu/install.js';
import { commandText, pidAlive } from '../process.js';
import { silentProgress, type Progress } from '../progress.js';
import { registerChild, registerCleanup } from '../teardown.js';
import { chooseAccelerator, type AcceleratorPreference } from './accel.js';
import { prepareGuestMemory, releaseGuestMemory, releaseGuestMemorySync, type MemoryPreference, type MemoryReservation } from './memory.js';
import { QmpClient } from './qmp.js';
import { GuestSsh, type ExecOptions, type ExecResult } from './ssh.js';

export const BASELINE_SERIAL = 'QEMUBASELINE0001';

export interface GuestOptions {
  qemu: QemuInstall;
  image: GuestImage;
  /** Names the run directory and the QEMU process; one running guest per name. */
  name?: string;
  memMiB?: number;
  smp?: number;
  accel?: AcceleratorPreference;
  memory?: MemoryPreference;
  /** vfio-user sockets to attach (each a running target's `DIR/cntrl`). */
  vfioUser?: readonly VfioUserDevice[];
  /** QEMU's own `-device nvme` on a sparse raw file of this many MiB (the baseline); 0/undefined: none. */
  baselineNvmeMiB?: number;
  /** Extra kernel command line. */
  append?: string;
  /** Keep QEMU running after this process exits (`vnvme vm start`). */
  detached?: boolean;
  bootTimeoutMs?: number;
  progress?: Progress;
  extraQemuArgs?: readonly string[];
}

/** Everything recorded about a guest; goes into results and state.json. */
export interface GuestInfo {
  name: string;
  runDir: string;
  pid: number;
  accel: Accelerator;
  accelReason: string;
  memory: string;
  memMiB: number;
  smp: number;
  qemu: string;
  qemuCommand: string;
  sshPort: number;
  privateKeyPath: string;
  qmpSocket: string;
  serialLog: string;
  vfioUser: VfioUserDevice[];
  baselineNvme?: BaselineNvme;
  kernel: string;
  /** From spawning QEMU to sshd answering. */
  bootMs: number;
  reservation: MemoryReservation;
}

export function runDirFor(name: string): string {
  return join(cacheDir('vms'), name);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The pid's command line mentions our run directory: it is our QEMU, not a reused pid. */
function isOurQemu(pid: number, runDir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(runDir);
  } catch {
    return false;
  }
}

export class Guest {
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private unregisterCleanup: () => void = () => {};
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly info: GuestInfo,
    public ssh: GuestSsh,
    private readonly progress: Progress,
  ) {}

  /** Boots a guest and returns once SSH works; on any failure everything started is torn down. */
  static async start(opts: GuestOptions): Promise<Guest> {
    const progress = opts.progress ?? silentProgress;
    const name = opts.name ?? `guest-${process.pid}-${Date.now().toString(36)}`;
    const runDir = runDirFor(name);
    const stateFile = join(runDir, 'state.json');
    if (existsSync(stateFile)) {
      const old = JSON.parse(readFileSync(stateFile, 'utf8')) as GuestInfo;
      if (pidAlive(old.pid) && isOurQemu(old.pid, runDir)) {
        throw new Error(`a guest named "${name}" is already running (QEMU pid ${old.pid}). Stop it with \`npx vnvme vm stop --name ${name}\`, or pick another --name.`);
      }
      await releaseGuestMemory(old.reservation);
    }
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(runDir, { recursive: true });

    const memMiB = opts.memMiB ?? 2048;
    const smp = opts.smp ?? 2;
    const accel = await chooseAccelerator(opts.accel ?? 'auto', opts.qemu, opts.image.kernel, progress);
    const memory = await prepareGuestMemory(memMiB, opts.memory ?? 'auto', runDir);
    const undoMemory = registerCleanup(
      `release guest memory of ${name}`,
      () => releaseGuestMemory(memory.reservation),
      () => releaseGuestMemorySync(memory.reservation),
    );
    progress.step(`guest ${name}: ${accel.reason}; memory: ${memory.description}`);
    // Until QEMU holds its hugepages, no other guest counts the free ones (memory.ts).
    let qemuPid: number | undefined = 0;
    void memory.settle(() => qemuPid);

    let baselineNvme: BaselineNvme | undefined;
    if (opts.baselineNvmeMiB) {
      const backingFile = join(runDir, 'baseline-nvme.raw');
      closeSync(openSync(backingFile, 'w'));
      truncateSync(backingFile, opts.baselineNvmeMiB * 2 ** 20);
      const TMPFS_MAGIC = 0x01021994;
      baselineNvme = { id: 'nvme-baseline', backingFile, serial: BASELINE_SERIAL, direct: statfsSync(runDir).type !== TMPFS_MAGIC };
    }
    for (const dev of opts.vfioUser ?? []) {
      if (!existsSync(dev.socket)) {
        qemuPid = undefined;
        await releaseGuestMemory(memory.reservation);
        undoMemory();
        throw new QemuStartError('vfio-user-no-socket', `no vfio-user target is listening at ${dev.socket}: the socket file does not exist. Start the target first and pass the socket it created with --socket.`, '');
      }
    }

    const bootTimeoutMs = opts.bootTimeoutMs ?? (accel.accel === 'kvm' ? 90_000 : 240_000);
    for (let attempt = 1; ; attempt++) {
      const sshPort = await freePort();
      const spec = {
        name,
        accel: accel.accel,
        memMiB,
        smp,
        memory: memory.backend,
        kernel: opts.image.kernel,
        initrd: opts.image.initrd,
        rootDisk: opts.image.disk,
        append: [opts.image.append, opts.append].filter(Boolean).join(' '),
        qmpSocket: join(runDir, 'qmp.sock'),
        serialLog: join(runDir, 'serial.log'),
        sshPort,
        vfioUser: [...(opts.vfioUser ?? [])],
        vfioUserSyntax: opts.qemu.vfioUserSyntax,
        baselineNvme,
        pidFile: join(runDir, 'qemu.pid'),
        extraArgs: opts.extraQemuArgs,
      };
      const argv = qemuArgv(opts.qemu, buildQemuArgs(spec));
      const qemuCommand = commandText(opts.qemu.command, argv);
      writeFileSync(join(runDir, 'qemu.cmdline'), `${qemuCommand}\n`);
      const stderrPath = join(runDir, 'qemu.stderr');
      const errFd = openSync(stderrPath, 'w');
      const started = Date.now();
      const child = spawn(opts.qemu.command, argv, {
        env: { ...process.env, ...opts.qemu.env },
        stdio: ['ignore', errFd, errFd],
        detached: opts.detached === true,
      });
      closeSync(errFd);
      const pid = child.pid;
      if (pid === undefined) {
        qemuPid = undefined;
        throw new Error(`could not start QEMU (${opts.qemu.command})`);
      }
      qemuPid = pid;
      const unregisterChild = registerChild(pid, `QEMU for guest ${name}`);
      let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
      child.on('exit', (code, signal) => (exited = { code, signal }));
      const deadError = (): QemuStartError | undefined =>
        exited ? explainQemuFailure(readFileSync(stderrPath, 'utf8'), exited.code, exited.signal) : undefined;

      progress.step(`guest ${name}: QEMU pid ${pid} booting (${accel.accel}, ${memMiB} MiB, ${smp} vCPU); serial log ${spec.serialLog}`);
      const info: GuestInfo = {
        name, runDir, pid, accel: accel.accel, accelReason: accel.reason, memory: memory.description, memMiB, smp,
        qemu: opts.qemu.description, qemuCommand, sshPort, privateKeyPath: opts.image.privateKeyPath,
        qmpSocket: spec.qmpSocket, serialLog: spec.serialLog, vfioUser: spec.vfioUser, baselineNvme,
        kernel: opts.image.manifest.kernelVersion, bootMs: 0, reservation: memory.reservation,
      };
      try {
        const ssh = await GuestSsh.connect(
          { host: '127.0.0.1', port: sshPort, username: 'root', privateKeyPath: opts.image.privateKeyPath },
          { timeoutMs: bootTimeoutMs, alive: deadError },
        );
        info.bootMs = Date.now() - started;
        writeFileSync(stateFile, JSON.stringify(info, null, 2));
        const guest = new Guest(info, ssh, progress);
        child.on('exit', (code, signal) => (guest.exited = { code, signal }));
        if (exited) guest.exited = exited;
        if (opts.detached) {
          unregisterChild();
          undoMemory();
          child.unref();
        } else {
          guest.unregisterCleanup = registerCleanup(
            `stop guest ${name}`,
            () => guest.stop(),
            () => releaseGuestMemorySync(info.reservation),
          );
          undoMemory();
        }
        progress.done(`guest ${name}: SSH up after ${(info.bootMs / 1000).toFixed(1)} s (127.0.0.1:${sshPort})`);
        return guest;
      } catch (err) {
        // Give QEMU a moment to finish writing why it exited, then tear down what we started.
        if (!exited) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }
        await new Promise((r) => setTimeout(r, 200));
        unregisterChild();
        const why = deadError() ?? (err as Error);
        if (why instanceof QemuStartError && why.kind === 'port-in-use' && attempt < 3) continue;
        qemuPid = undefined;
        await releaseGuestMemory(memory.reservation);
        undoMemory();
        throw why;
      }
    }
  }

  get alive(): boolean {
    return this.exited === undefined && pidAlive(this.info.pid);
  }

  exec(command: string, opts?: ExecOptions): Promise<ExecResult> {
    return this.ssh.exec(command, opts);
  }

  check(command: string, opts?: ExecOptions): Promise<ExecResult> {
    return this.ssh.check(command, opts);
  }

  putFile(local: string, remote: string): Promise<void> {
    return this.ssh.putFile(local, remote);
  }

  getFile(remote: string, local: string): Promise<void> {
    return this.ssh.getFile(remote, local);
  }

  /** A fresh QMP connection (QEMU serves one client at a time; close it when done). */
  qmp(): Promise<QmpClient> {
    return QmpClient.connect(this.info.qmpSocket, 10_000);
  }

  serialLog(): string {
    return existsSync(this.info.serialLog) ? readFileSync(this.info.serialLog, 'utf8') : '';
  }

  /** Stops QEMU (QMP quit, then SIGKILL by pid), releases memory. Safe to call more than once. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.unregisterCleanup();
      this.ssh.close();
      await stopGuestByInfo(this.info, this.progress);
    })();
    return this.stopping;
  }
}

/** Teardown from the saved state: used by Guest.stop and by `vnvme vm stop` in another process. */
export async function stopGuestByInfo(info: GuestInfo, progress: Progress = silentProgress): Promise<void> {
  const { pid, runDir } = info;
  if (pidAlive(pid) && isOurQemu(pid, runDir)) {
    try {
      const qmp = await QmpClient.connect(info.qmpSocket, 2_000);
      await Promise.race([qmp.quit().catch(() => undefined), new Promise((r) => setTimeout(r, 2_000))]);
      qmp.close();
    } catch {
      /* QMP unreachable: fall through to signals */
    }
    const deadline = Date.now() + 5_000;
    while (pidAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (pidAlive(pid) && isOurQemu(pid, runDir)) {
      progress.warn(`QEMU pid ${pid} did not quit; killing it`);
      process.kill(pid, 'SIGKILL');
      while (pidAlive(pid)) await new Promise((r) => setTimeout(r, 50));
    }
  }
  await releaseGuestMemory(info.reservation);
  rmSync(join(runDir, 'state.json'), { force: true });
  rmSync(join(runDir, 'baseline-nvme.raw'), { force: true });
}

export function loadGuestInfo(name: string): GuestInfo {
  const stateFile = join(runDirFor(name), 'state.json');
  if (!existsSync(stateFile)) throw new Error(`no guest named "${name}" is running (no ${stateFile}). Start one with \`npx vnvme vm start\`.`);
  const info = JSON.parse(readFileSync(stateFile, 'utf8')) as GuestInfo;
  if (!pidAlive(info.pid) || !isOurQemu(info.pid, info.runDir)) {
    const stderrPath = join(info.runDir, 'qemu.stderr');
    const said = existsSync(stderrPath) ? readFileSync(stderrPath, 'utf8').trim().split('\n').slice(-3).join('\n') : '';
    throw new Error(
      `guest "${name}" is not running any more (QEMU pid ${info.pid} is gone; serial log: ${info.serialLog}).` +
        `${said ? `\n--- QEMU said ---\n${said}\n` : ' '}Clean up with \`npx vnvme vm stop --name ${name}\`.`,
    );
  }
  return info;
}

/** Reconnects SSH to a guest started by another process. */
export async function attachGuestSsh(info: GuestInfo): Promise<GuestSsh> {
  return GuestSsh.connect({ host: '127.0.0.1', port: info.sshPort, username: 'root', privateKeyPath: info.privateKeyPath }, { timeoutMs: 20_000 });
}

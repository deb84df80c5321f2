// Our vfio-user target as the harness runs it: a `vnvme target` daemon in its own process,
// configured over its SPDK JSON-RPC socket the way rpc.py would (transport, malloc bdev,
// subsystem with serial/model, namespace, VFIOUSER listener). The listener's DIR/cntrl is the
// socket a guest's vfio-user-pci connects to.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JsonRpcClient } from './rpc/client.js';
import { registerChild } from './teardown.js';

export interface TargetController {
  nqn: string;
  /** The listener directory (traddr) and the socket in it. */
  dir: string;
  socket: string;
  serial: string;
  model: string;
  bdev: string;
  sizeBytes: number;
  blockSize: number;
}

export interface MallocControllerSpec {
  name: string;
  sizeMiB: number;
  blockSize?: number;
  serial: string;
  model: string;
}

/** bin/vnvme.js of this checkout (dist/harness/target-process.js -> ../../bin). */
function vnvmeBin(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'vnvme.js');
}

export class TargetProcess {
  private transportCreated = false;
  private exited = false;

  private constructor(
    readonly pid: number,
    readonly workDir: string,
    readonly rpcSocket: string,
    readonly logFile: string,
    private readonly rpc: JsonRpcClient,
    private readonly unregister: () => void,
  ) {}

  /** Starts the daemon with its RPC socket in `workDir` and waits until RPC answers. */
  static async start(workDir: string, extraArgs: readonly string[] = []): Promise<TargetProcess> {
    mkdirSync(workDir, { recursive: true, mode: 0o700 });
    const rpcSocket = join(workDir, 'rpc.sock');
    const logFile = join(workDir, 'target.log');
    const fd = openSync(logFile, 'w');
    const child = spawn(process.execPath, [vnvmeBin(), 'target', '-r', rpcSocket, ...extraArgs], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    if (child.pid === undefined) throw new Error('could not start `vnvme target`');
    const unregister = registerChild(child.pid, 'vnvme target');
    let exited: string | undefined;
    child.on('exit', (code, signal) => (exited = signal ? `killed by ${signal}` : `exit status ${code}`));
    const deadline = Date.now() + 20_000;
    while (!existsSync(rpcSocket)) {
      if (exited || Date.now() > deadline) {
        if (!exited) process.kill(child.pid, 'SIGKILL');
        unregister();
        throw new Error(`\`vnvme target\` ${exited ? `ended (${exited})` : 'did not open its RPC socket within 20 s'}; its log (${logFile}):\n${readFileSync(logFile, 'utf8').slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    const rpc = await JsonRpcClient.connect(rpcSocket, { timeout: 30, retries: 20 });
    const t = new TargetProcess(child.pid, workDir, rpcSocket, logFile, rpc, unregister);
    child.on('exit', () => (t.exited = true));
    return t;
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    return this.rpc.call(method, params);
  }

  /** A controller backed by a malloc bdev, listening at workDir/<name>/cntrl. */
  async addMallocController(spec: MallocControllerSpec): Promise<TargetController> {
    const blockSize = spec.blockSize ?? 512;
    if (!this.transportCreated) {
      await this.call('nvmf_create_transport', { trtype: 'VFIOUSER' });
      this.transportCreated = true;
    }
    const bdev = `${spec.name}-malloc`;
    const nqn = `nqn.2019-07.io.spdk:${spec.name}`;
    const dir = join(this.workDir, spec.name);
    mkdirSync(dir, { recursive: true, mode: 0o700 }); // a listener directory: ours alone (listener-dir.ts)
    const numBlocks = (spec.sizeMiB * 2 ** 20) / blockSize;
    await this.call('bdev_malloc_create', { name: bdev, block_size: blockSize, num_blocks: numBlocks });
    await this.call('nvmf_create_subsystem', { nqn, serial_number: spec.serial, model_number: spec.model, allow_any_host: true });
    await this.call('nvmf_subsystem_add_ns', { nqn, namespace: { bdev_name: bdev } });
    await this.call('nvmf_subsystem_add_listener', { nqn, listen_address: { trtype: 'VFIOUSER', adrfam: 'IPv4', traddr: dir, trsvcid: '' } });
    const socket = join(dir, 'cntrl');
    const deadline = Date.now() + 10_000;
    while (!existsSync(socket)) {
      if (Date.now() > deadline) throw new Error(`the target accepted the listener but ${socket} did not appear (log: ${this.logFile})`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return { nqn, dir, socket, serial: spec.serial, model: spec.model, bdev, sizeBytes: numBlocks * blockSize, blockSize };
  }

  /** SIGTERM, then SIGKILL after 5 s; only this daemon's pid is signalled. */
  async stop(): Promise<void> {
    this.rpc.close();
    if (!this.exited) {
      try {
        process.kill(this.pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      const deadline = Date.now() + 5_000;
      while (!this.exited && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (!this.exited) process.kill(this.pid, 'SIGKILL');
    }
    this.unregister();
  }
}

// `vnvme target`: the daemon, as SPDK's nvmf_tgt (its client, `vnvme rpc`, is harness/rpc/cli.ts).
import type { Command } from 'commander';
import { DEFAULT_RPC_SOCKET, TargetDaemon } from './daemon.js';
import { Logger, LogLevel, parseLogLevel } from './log.js';
import { parseSocketMode, SocketPermissions } from './rpc/socket-perms.js';
import { groupId, userId } from './account-ids.js';

interface TargetCliOptions {
  rpcSocket: string;
  rpcSocketMode: string;
  rpcSocketOwner?: string;
  rpcSocketGroup?: string;
  socketMode?: string;
  socketOwner?: string;
  socketGroup?: string;
  config?: string;
  json?: string;
  logflag: string[];
  logLevel: string;
  jsonLogs?: boolean;
  waitForRpc?: boolean;
  interruptMode?: boolean;
  mallocHugepages?: boolean;
}

/** --rpc-socket-mode/--rpc-socket-owner/--rpc-socket-group as the daemon takes them. */
function socketPermissions(o: TargetCliOptions): SocketPermissions {
  return {
    mode: parseSocketMode(o.rpcSocketMode),
    uid: o.rpcSocketOwner === undefined ? undefined : userId(o.rpcSocketOwner),
    gid: o.rpcSocketGroup === undefined ? undefined : groupId(o.rpcSocketGroup),
  };
}

/** --socket-mode/--socket-owner/--socket-group: every vfio-user listener socket DIR/cntrl; undefined when none is given. */
function listenerPermissions(o: TargetCliOptions): SocketPermissions | undefined {
  if (o.socketMode === undefined && o.socketOwner === undefined && o.socketGroup === undefined) return undefined;
  return {
    mode: o.socketMode === undefined ? undefined : parseSocketMode(o.socketMode),
    uid: o.socketOwner === undefined ? undefined : userId(o.socketOwner),
    gid: o.socketGroup === undefined ? undefined : groupId(o.socketGroup),
  };
}

export function register(program: Command): void {
  program
    .command('target')
    .description("Run the vfio-user NVMe target daemon (what SPDK's nvmf_tgt is), serving SPDK JSON-RPC")
    .option('-r, --rpc-socket <path>', 'RPC listen address (UNIX socket path)', DEFAULT_RPC_SOCKET)
    .option('--rpc-socket-mode <mode>', 'file mode of the RPC socket, octal (whoever can connect controls the target)', '0600')
    .option('--rpc-socket-owner <user>', 'owner of the RPC socket (name or uid), e.g. the user a management tool runs as')
    .option('--rpc-socket-group <group>', 'group of the RPC socket (name or gid); with --rpc-socket-mode 0660 its members may connect')
    .option('--socket-mode <mode>', 'file mode of every vfio-user listener socket DIR/cntrl, octal (default 0600); 0660 with --socket-group lets QEMU under libvirt connect')
    .option('--socket-owner <user>', 'owner of every listener socket (name or uid), e.g. the user QEMU runs as (libvirt-qemu)')
    .option('--socket-group <group>', "group of every listener socket (name or gid), e.g. QEMU's group under libvirt (kvm, libvirt-qemu)")
    .option('-c, --config <file>', 'JSON config to load at start (save_config output)')
    .option('--json <file>', 'same as --config, as nvmf_tgt spells it')
    .option('-L, --logflag <flag>', 'enable debug logs of a component (bdev, nvmf, rpc, vfio_user, all); repeatable', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--log-level <level>', 'most verbose level printed: error, warning, notice, info, debug', 'notice')
    .option('--json-logs', 'write logs as one JSON object per line')
    .option('--wait-for-rpc', 'wait for framework_start_init before initializing (as nvmf_tgt)')
    .option('--malloc-hugepages', "put malloc bdevs on 2 MiB huge pages when enough are free (SPDK's live in hugepage memory): faster random I/O; else ordinary pages, with a warning")
    .option('--interrupt-mode', 'sleep whenever idle instead of polling (as nvmf_tgt); transports must trap doorbells: nvmf_create_transport -t VFIOUSER -M')
    .option('-m, --cpumask <mask>', 'accepted for nvmf_tgt compatibility; ignored')
    .option('-s, --mem-size <size>', 'accepted for nvmf_tgt compatibility; ignored')
    .option('-i, --shm-id <id>', 'accepted for nvmf_tgt compatibility; ignored')
    .action(async (o: TargetCliOptions) => {
      let level: LogLevel;
      let perms: SocketPermissions;
      let listenerPerms: SocketPermissions | undefined;
      try {
        level = parseLogLevel(o.logLevel);
        perms = socketPermissions(o);
        listenerPerms = listenerPermissions(o);
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      const log = Logger.create({ level, flags: o.logflag, json: o.jsonLogs }, 'app');
      let d: TargetDaemon;
      try {
        d = await TargetDaemon.start({
          rpcSocket: o.rpcSocket,
          rpcSocketPermissions: perms,
          listenerSocketPermissions: listenerPerms,
          config: o.config ?? o.json,
          log,
          handleSignals: true,
          waitForRpc: o.waitForRpc,
          interruptMode: o.interruptMode === true,
          mallocHugepages: o.mallocHugepages === true,
        });
      } catch (err) {
        log.error(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
        process.exitCode = 1;
        return;
      }
      // Under `npx vnvme target &` the shell's $! is npm's pid, and npm runs us through `sh -c`,
      // which does not pass signals on: when that wrapper goes (SIGTERM to npm ends it), we are
      // reparented, and stop as if we had been sent SIGTERM ourselves.
      let watch: NodeJS.Timeout | undefined;
      if (process.env.npm_command === 'exec') {
        const parent = process.ppid;
        watch = setInterval(() => {
          if (process.ppid !== parent) {
            clearInterval(watch);
            process.kill(process.pid, 'SIGTERM');
          }
        }, 250);
        watch.unref();
      }
      await d.done;
      if (watch) clearInterval(watch);
      process.exitCode = 0;
      // Anything still holding the loop open after a clean stop is not worth waiting for.
      setTimeout(() => process.exit(0), 1000).unref();
    });
}

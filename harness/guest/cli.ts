// `vnvme vm start|exec|stop|status|qmp|put|get|accel`: a guest attached to a running target, driven
// from the shell; each subcommand reaches the guest through its saved state (by --name).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkSocketPath } from '../initiator/endpoint.js';
import type { Command } from 'commander';
import { consoleProgress } from '../progress.js';
import { shellQuote } from '../process.js';
import { parseMiB } from '../qemu/command-line.js';
import type { AcceleratorPreference } from './accel.js';
import { attachGuestSsh, Guest, loadGuestInfo, runDirFor, stopGuestByInfo, type GuestInfo } from './guest.js';
import type { MemoryPreference } from './memory.js';
import { provisionGuestParts } from './parts.js';
import { QmpClient } from './qmp.js';

function oneOf<T extends string>(name: string, allowed: readonly T[]) {
  return (v: string): T => {
    if (!(allowed as readonly string[]).includes(v)) throw new Error(`${name} must be one of ${allowed.join(', ')} (got "${v}")`);
    return v as T;
  };
}

function collect(v: string, prev: string[] = []): string[] {
  return [...prev, v];
}

export function sshCommandLine(info: GuestInfo): string {
  return `ssh -i ${info.privateKeyPath} -p ${info.sshPort} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null root@127.0.0.1`;
}

interface StartOptions {
  socket: string[];
  baselineNvme?: string | boolean;
  mem: string;
  smp: string;
  accel: AcceleratorPreference;
  memory: MemoryPreference;
  name: string;
  qemu?: string;
  qemuGit?: string;
  qemuRef?: string;
  migration?: boolean;
  append?: string;
}

export function register(program: Command): void {
  const vm = program.command('vm').description('boot and drive a Linux guest attached to a running vfio-user target');

  vm.command('start')
    .description('boot a guest (QEMU, provisioned if needed) attached to the target socket(s); prints how to SSH in')
    .option('--socket <path>', 'vfio-user socket of a running target (DIR/cntrl); repeatable', collect, [])
    .option('--baseline-nvme [MiB]', "also attach QEMU's own emulated NVMe (default 1024 MiB) for side-by-side comparison")
    .option('--mem <size>', 'guest memory', '2G')
    .option('--smp <n>', 'vCPUs', '2')
    .option('--accel <kind>', 'auto (probe KVM, else TCG), kvm or tcg', oneOf('--accel', ['auto', 'kvm', 'tcg'] as const), 'auto')
    .option('--memory <kind>', 'guest RAM backend: auto (hugepages, else memfd), hugepages or memfd', oneOf('--memory', ['auto', 'hugepages', 'memfd'] as const), 'auto')
    .option('--name <name>', 'name of this guest (for exec/stop)', 'default')
    .option('--qemu <path>', 'QEMU binary to use (must have vfio-user-pci)')
    .option('--qemu-git <url>', 'build QEMU from this git repository (e.g. https://github.com/oracle/qemu)')
    .option('--qemu-ref <ref>', 'branch, tag or commit for --qemu-git')
    .option('--migration', "vfio-user migration (x-enable-migration=on; Oracle's fork only)")
    .option('--append <args>', 'extra kernel command line')
    .action(async (o: StartOptions) => {
      for (const socket of o.socket) await checkSocketPath(socket);
      const progress = consoleProgress();
      const parts = await provisionGuestParts({ qemu: o.qemu, qemuGit: o.qemuGit, qemuRef: o.qemuRef }, progress);
      const baseline = o.baselineNvme === undefined ? 0 : o.baselineNvme === true ? 1024 : parseMiB(String(o.baselineNvme));
      const guest = await Guest.start({
        ...parts,
        name: o.name,
        memMiB: parseMiB(o.mem),
        smp: Number.parseInt(o.smp, 10),
        accel: o.accel,
        memory: o.memory,
        vfioUser: o.socket.map((socket, i) => ({ id: `vfu${i}`, socket, migration: o.migration })),
        baselineNvmeMiB: baseline,
        append: o.append,
        detached: true,
        progress,
      });
      guest.ssh.close();
      const i = guest.info;
      process.stdout.write(
        [
          `guest "${i.name}" is up: QEMU pid ${i.pid}, ${i.accel} (${i.accelReason}), memory ${i.memory}`,
          `  ssh:     ${sshCommandLine(i)}`,
          `  exec:    npx vnvme vm exec${i.name === 'default' ? '' : ` --name ${i.name}`} -- nvme list`,
          `  qmp:     npx vnvme vm qmp${i.name === 'default' ? '' : ` --name ${i.name}`} query-status   (socket ${i.qmpSocket})`,
          `  serial:  ${i.serialLog}`,
          `  stop:    npx vnvme vm stop${i.name === 'default' ? '' : ` --name ${i.name}`}`,
          '',
        ].join('\n'),
      );
    });

  vm.command('exec')
    .description('run a command in the guest; prints its output and exits with its status')
    .option('--name <name>', 'guest name', 'default')
    .option('--timeout <seconds>', 'give up after this long')
    .argument('<command...>', 'command and arguments (put them after --)')
    .action(async (command: string[], o: { name: string; timeout?: string }) => {
      const ssh = await attachGuestSsh(loadGuestInfo(o.name));
      try {
        // One argument is a shell command line as typed (`vm exec -- 'dmesg | tail'`); several are
        // an argv, each quoted so `vm exec -- sh -c 'a; b'` reaches the guest as three words.
        const line = command.length === 1 ? command[0]! : command.map(shellQuote).join(' ');
        const r = await ssh.exec(line, {
          timeoutMs: o.timeout ? Number(o.timeout) * 1000 : undefined,
          onStdout: (d) => process.stdout.write(d),
          onStderr: (d) => process.stderr.write(d),
        });
        process.exitCode = r.code ?? 255;
      } finally {
        ssh.close();
      }
    });

  vm.command('put')
    .description('copy a local file into the guest')
    .option('--name <name>', 'guest name', 'default')
    .argument('<local>')
    .argument('<remote>')
    .action(async (local: string, remote: string, o: { name: string }) => {
      const ssh = await attachGuestSsh(loadGuestInfo(o.name));
      try {
        await ssh.putFile(local, remote);
      } finally {
        ssh.close();
      }
    });

  vm.command('get')
    .description('copy a file out of the guest')
    .option('--name <name>', 'guest name', 'default')
    .argument('<remote>')
    .argument('<local>')
    .action(async (remote: string, local: string, o: { name: string }) => {
      const ssh = await attachGuestSsh(loadGuestInfo(o.name));
      try {
        await ssh.getFile(remote, local);
      } finally {
        ssh.close();
      }
    });

  vm.command('qmp')
    .description('send one QMP command (device_add, device_del, system_reset, migrate, query-status, ...) and print the reply as JSON')
    .option('--name <name>', 'guest name', 'default')
    .argument('<command>', 'QMP command name')
    .argument('[arguments]', 'its arguments as a JSON object')
    .action(async (command: string, args: string | undefined, o: { name: string }) => {
      const info = loadGuestInfo(o.name);
      let parsed: Record<string, unknown> | undefined;
      if (args !== undefined) {
        try {
          parsed = JSON.parse(args) as Record<string, unknown>;
        } catch (err) {
          throw new Error(`QMP arguments must be a JSON object: ${(err as Error).message}`);
        }
      }
      const qmp = await QmpClient.connect(info.qmpSocket, 5_000);
      try {
        process.stdout.write(`${JSON.stringify(await qmp.execute(command, parsed), null, 2)}\n`);
      } finally {
        qmp.close();
      }
    });

  vm.command('status')
    .description('show a running guest: pid, accelerator, memory, ports, and QEMU run state')
    .option('--name <name>', 'guest name', 'default')
    .action(async (o: { name: string }) => {
      const info = loadGuestInfo(o.name);
      const qmp = await QmpClient.connect(info.qmpSocket, 5_000);
      const status = await qmp.queryStatus().finally(() => qmp.close());
      process.stdout.write(`${JSON.stringify({ ...info, runState: status.status, ssh: sshCommandLine(info) }, null, 2)}\n`);
    });

  vm.command('accel')
    .description('say whether guests will run under KVM or TCG here: the probe guests use (a tiny boot of the guest kernel under KVM), provisioning QEMU and the image first if needed')
    .option('--qemu <path>', 'QEMU binary to probe with')
    .option('--qemu-git <url>', 'the QEMU built from this git repository')
    .option('--qemu-ref <ref>', 'branch, tag or commit for --qemu-git')
    .option('--json', 'print {"accel", "reason"} as JSON')
    .action(async (o: { qemu?: string; qemuGit?: string; qemuRef?: string; json?: boolean }) => {
      const { chooseAccelerator } = await import('./accel.js');
      const progress = consoleProgress();
      const parts = await provisionGuestParts({ qemu: o.qemu, qemuGit: o.qemuGit, qemuRef: o.qemuRef }, progress);
      const choice = await chooseAccelerator('auto', parts.qemu, parts.image.kernel, progress);
      process.stdout.write(o.json ? `${JSON.stringify(choice)}\n` : `guests will use ${choice.accel.toUpperCase()}: ${choice.reason.replace(/^TCG: /, "")}\n`);
    });

  vm.command('stop')
    .description('stop the guest: QEMU quits (or is killed), hugepages and mounts are released')
    .option('--name <name>', 'guest name', 'default')
    .action(async (o: { name: string }) => {
      const stateFile = join(runDirFor(o.name), 'state.json');
      if (!existsSync(stateFile)) {
        process.stderr.write(`no guest named "${o.name}" (nothing to stop)\n`);
        return;
      }
      const info = JSON.parse(readFileSync(stateFile, 'utf8')) as GuestInfo;
      await stopGuestByInfo(info, consoleProgress());
      process.stdout.write(`guest "${o.name}" stopped\n`);
    });
}

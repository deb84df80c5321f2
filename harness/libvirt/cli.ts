// `vnvme libvirt domain --socket DIR/cntrl [--hugepages|--memfd] [--qemu PATH] [--name N] ...`:
// prints a libvirt domain (harness/libvirt/domain.ts) for a guest on a running target's
// vfio-user controller: `virsh define` it, then `virsh start NAME`. Notes go to stderr.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { consoleProgress } from '../progress.js';
import { parseMiB } from '../qemu/command-line.js';
import type { QemuInstall, VfioUserSyntax } from '../qemu/install.js';
import { domainXml } from './domain.js';

interface DomainOptions {
  socket: string;
  hugepages?: boolean;
  memfd?: boolean;
  qemu?: string;
  name: string;
  syntax?: VfioUserSyntax;
  mem: string;
  smp: string;
  accel: 'auto' | 'kvm' | 'tcg';
  sshPort?: string;
  stage?: string;
  kernel?: string;
  initrd?: string;
  disk?: string;
  cmdline?: string;
}

function oneOf<T extends string>(name: string, allowed: readonly T[]) {
  return (v: string): T => {
    if (!(allowed as readonly string[]).includes(v)) throw new Error(`${name} must be one of ${allowed.join(', ')} (got "${v}")`);
    return v as T;
  };
}

export function register(program: Command): void {
  const libvirt = program.command('libvirt').description('run guests on our vfio-user controller under libvirt');
  libvirt
    .command('domain')
    .description("print a libvirt domain XML for a guest on DIR/cntrl: shared guest RAM (hugepages or memfd), the harness's guest image, the vfio-user device through <qemu:commandline> in the chosen QEMU's syntax")
    .requiredOption('--socket <path>', 'the vfio-user socket of a running target (DIR/cntrl); QEMU runs as libvirt-qemu, so give it access: vnvme target --socket-group kvm --socket-mode 0660')
    .option('--hugepages', "guest RAM on 2 MiB hugepages (<hugepages><page size='2048' unit='KiB'/>; the default)")
    .option('--memfd', "guest RAM in a memfd (<source type='memfd'/>)")
    .option('--qemu <path>', "libvirt's <emulator> (its vfio-user syntax is read from its help); default: the harness's QEMU (needs --stage when it runs through a tree's loader)")
    .option('--name <name>', 'domain name', 'vnvme-guest')
    .option('--syntax <kind>', "vfio-user device syntax: json (upstream QEMU >= 10.1) or oracle (Oracle's fork: socket=PATH); default: what the QEMU's help says", oneOf('--syntax', ['json', 'oracle'] as const))
    .option('--mem <size>', 'guest memory', '1G')
    .option('--smp <n>', 'vCPUs', '2')
    .option('--accel <kind>', "domain type: kvm, tcg (type='qemu'), or auto (the harness's KVM probe)", oneOf('--accel', ['auto', 'kvm', 'tcg'] as const), 'auto')
    .option('--ssh-port <port>', "forward 127.0.0.1:PORT to the guest's sshd (user-mode network on the QEMU command line)")
    .option('--stage <dir>', "copy the image (and the harness's QEMU, with a wrapper) into DIR, readable by libvirt's QEMU user, and point the domain there (e.g. /var/lib/vnvme/libvirt/NAME)")
    .option('--kernel <path>', "boot this kernel instead of the harness's image (with --initrd, --disk, --cmdline)")
    .option('--initrd <path>', 'the initrd for --kernel')
    .option('--disk <path>', 'a raw root disk for --kernel (attached as vda)')
    .option('--cmdline <text>', 'kernel command line for --kernel')
    .action(async (o: DomainOptions) => {
      if (o.hugepages && o.memfd) throw new Error('--hugepages and --memfd exclude each other');
      const note = (t: string): void => void process.stderr.write(`${t}\n`);
      if (!existsSync(o.socket)) note(`note: ${o.socket} does not exist yet; start the target and its listener before \`virsh start\``);
      const progress = consoleProgress('libvirt');
      const image = o.kernel
        ? { kernel: o.kernel, initrd: o.initrd ?? '', disk: o.disk, append: o.cmdline ?? 'console=ttyS0,115200' }
        : await (await import('../../images/build.js')).guestImage(progress);
      if (!image.initrd) throw new Error('--kernel needs --initrd');
      // The QEMU: probed only when something is not given (its syntax, the accelerator, or the emulator itself).
      let qemu: QemuInstall | undefined;
      const needQemu = !o.syntax || o.accel === 'auto' || (!o.qemu && o.stage !== undefined);
      if (needQemu) {
        const { locateQemu } = await import('../qemu/locate.js');
        qemu = await locateQemu({ qemu: o.qemu }, progress);
      }
      const syntax = o.syntax ?? qemu!.vfioUserSyntax;
      let type: 'kvm' | 'qemu' = o.accel === 'kvm' ? 'kvm' : 'qemu';
      if (o.accel === 'auto') {
        const { chooseAccelerator } = await import('../guest/accel.js');
        const choice = await chooseAccelerator('auto', qemu!, image.kernel, progress);
        type = choice.accel === 'kvm' ? 'kvm' : 'qemu';
        note(`domain type ${type}: ${choice.reason}`);
      }
      let paths: { kernel: string; initrd: string; disk?: string; emulator?: string; serialLog?: string } = { kernel: image.kernel, initrd: image.initrd, disk: image.disk, emulator: o.qemu };
      if (o.stage) {
        const { stageForLibvirt } = await import('./stage.js');
        const staged = stageForLibvirt(o.stage, image, o.qemu ? undefined : qemu);
        paths = { ...staged, emulator: o.qemu ?? staged.emulator };
        note(`staged the image${o.qemu ? '' : ' and QEMU'} in ${o.stage}`);
      } else if (!o.qemu && qemu) {
        if (qemu.prefixArgs.length || qemu.dataDirs.length || Object.keys(qemu.env).length) {
          throw new Error(`${qemu.description} runs through its tree's loader, which libvirt cannot call as <emulator>; pass --stage DIR (a wrapper is written there) or --qemu PATH`);
        }
        paths.emulator = qemu.command;
      }
      process.stdout.write(
        domainXml({
          name: o.name,
          type,
          memMiB: parseMiB(o.mem),
          vcpus: Number(o.smp),
          memory: o.memfd ? 'memfd' : 'hugepages',
          emulator: paths.emulator,
          kernel: paths.kernel,
          initrd: paths.initrd,
          cmdline: image.append,
          disk: paths.disk,
          // A disk that is not the domain's own copy must not take the guest's writes.
          transientDisk: paths.disk !== undefined && !o.stage,
          serialLog: paths.serialLog,
          socket: o.socket,
          syntax,
          sshPort: o.sshPort === undefined ? undefined : Number(o.sshPort),
        }),
      );
    });
}

// `vnvme qemu provision`: find, provision or build a QEMU with vfio-user-pci and say which.
import type { Command } from 'commander';
import { consoleProgress } from '../progress.js';
import { locateQemu, qemuChoiceFromEnv } from './locate.js';

export function register(program: Command): void {
  const qemu = program.command('qemu').description('the QEMU the harness runs guests with');
  qemu
    .command('provision')
    .description('locate a QEMU >= 10.1.1 with vfio-user-pci, or provision one (Debian trixie-backports tree, or --qemu-git)')
    .option('--qemu <path>', 'use this binary (checked, not provisioned)')
    .option('--qemu-git <url>', 'build from this git repository')
    .option('--qemu-ref <ref>', 'branch, tag or commit for --qemu-git')
    .action(async (o: { qemu?: string; qemuGit?: string; qemuRef?: string }) => {
      const env = qemuChoiceFromEnv();
      const q = await locateQemu({ qemu: o.qemu ?? env.qemu, qemuGit: o.qemuGit ?? env.qemuGit, qemuRef: o.qemuRef ?? env.qemuRef }, consoleProgress());
      process.stdout.write(`${JSON.stringify(q, null, 2)}\n`);
    });
}

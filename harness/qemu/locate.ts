// Finding a QEMU that speaks vfio-user, from three sources in order:
//   1. --qemu PATH (or VNVME_QEMU), else a qemu-system-x86_64 on PATH whose vfio-user-pci works;
//   2. --qemu-git URL --qemu-ref REF: built from source and cached;
//   3. the embedded default: QEMU from Debian trixie-backports in a debootstrapped tree.
import type { Progress } from '../progress.js';
import { which } from '../process.js';
import { buildQemuFromGit, parseSubmoduleMap } from './build-from-git.js';
import type { QemuInstall } from './install.js';
import { probeQemu } from './probe.js';
import { provisionDebianQemu } from './provision.js';

export interface QemuChoice {
  /** An explicit binary; it must work, or this fails (no silent fallback). */
  qemu?: string;
  qemuGit?: string;
  qemuRef?: string;
  /** Where the git build's submodules come from (KEY=SOURCE entries; see build-from-git.ts). */
  submodules?: string[];
}

export function qemuChoiceFromEnv(env: NodeJS.ProcessEnv = process.env): QemuChoice {
  return { qemu: env.VNVME_QEMU || undefined, qemuGit: env.VNVME_QEMU_GIT || undefined, qemuRef: env.VNVME_QEMU_REF || undefined, submodules: env.VNVME_QEMU_SUBMODULES ? [env.VNVME_QEMU_SUBMODULES] : undefined };
}

export async function locateQemu(choice: QemuChoice, progress: Progress): Promise<QemuInstall> {
  if (choice.qemu) {
    const command = choice.qemu.includes('/') ? choice.qemu : (which(choice.qemu) ?? choice.qemu);
    const probe = await probeQemu({ command, prefixArgs: [], dataDirs: [], env: {} }, 'option', choice.qemu);
    if (!probe.ok) throw new Error(`--qemu ${choice.qemu} cannot be used: ${probe.reason}. Drop --qemu to let the harness provision one.`);
    progress.step(`using ${probe.install.description}`);
    return probe.install;
  }
  if (choice.qemuGit) {
    if (!choice.qemuRef) throw new Error('--qemu-git needs --qemu-ref (a branch, tag or commit), e.g. --qemu-ref vfio-user-dbfix');
    return buildQemuFromGit({
      source: choice.qemuGit,
      ref: choice.qemuRef,
      submodules: choice.submodules ? parseSubmoduleMap(choice.submodules) : undefined,
      progress,
    });
  }
  const onPath = which('qemu-system-x86_64');
  if (onPath) {
    const probe = await probeQemu({ command: onPath, prefixArgs: [], dataDirs: [], env: {} }, 'path', onPath);
    if (probe.ok) {
      progress.step(`using ${probe.install.description}`);
      return probe.install;
    }
    progress.step(`not using ${onPath}: ${probe.reason}`);
  }
  return provisionDebianQemu(progress);
}

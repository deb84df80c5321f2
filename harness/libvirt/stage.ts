// What libvirt's QEMU (running as its own unprivileged user, libvirt-qemu) must be able to
// open: the kernel, the initrd, the root disk and QEMU itself. The harness keeps them in its
// cache (~/.cache/vnvme, under a home directory that user cannot enter), so they are staged in
// a directory it can reach: the image files copied (the disk sparse, one writable copy per
// domain), the QEMU tree or build hard-linked (copied when hard links cannot be made), and a
// wrapper script as libvirt's <emulator> when QEMU runs through its tree's loader.
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { GuestImage } from '../../images/build.js';
import type { QemuInstall } from '../qemu/install.js';
import { shellQuote } from '../process.js';

export interface StagedGuest {
  dir: string;
  kernel: string;
  initrd: string;
  disk?: string;
  /** libvirt's <emulator>: the QEMU binary, or the wrapper script that runs it (libvirt's default when no QEMU was given). */
  emulator?: string;
  serialLog: string;
}

/** Whether a user who is neither owner nor group can reach `path` (x on every directory, r (and x) on the file). */
export function reachableByOthers(path: string, executable = false): boolean {
  const abs = resolve(path);
  let dir = dirname(abs);
  for (;;) {
    try {
      if ((statSync(dir).mode & 0o001) === 0) return false;
    } catch {
      return false;
    }
    if (dir === dirname(dir)) break;
    dir = dirname(dir);
  }
  try {
    const mode = statSync(abs).mode;
    return (mode & 0o004) !== 0 && (!executable || (mode & 0o001) !== 0);
  } catch {
    return false;
  }
}

/** A plain binary libvirt can run as it is: no loader prefix, no firmware directories, no environment. */
function plainBinary(q: QemuInstall): boolean {
  return q.prefixArgs.length === 0 && q.dataDirs.length === 0 && Object.keys(q.env).length === 0 && isAbsolute(q.command);
}

/** The deepest directory holding every absolute path the install uses. */
export function installRoot(q: QemuInstall): string {
  const paths = [q.command, ...q.prefixArgs, ...q.dataDirs, ...Object.values(q.env)]
    .flatMap((p) => p.split(':'))
    .filter((p) => isAbsolute(p));
  let root = dirname(paths[0]!);
  for (const p of paths) while (root !== sep && relative(root, p).startsWith('..')) root = dirname(root);
  return root;
}

function linkOrCopyTree(from: string, to: string): void {
  if (existsSync(to)) return;
  mkdirSync(dirname(to), { recursive: true, mode: 0o755 });
  const tmp = `${to}.partial-${process.pid}`;
  spawnSync('rm', ['-rf', tmp]);
  let r = spawnSync('cp', ['-al', from, tmp], { encoding: 'utf8' });
  if (r.status !== 0) {
    spawnSync('rm', ['-rf', tmp]);
    r = spawnSync('cp', ['-a', from, tmp], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cannot copy ${from} to ${tmp}: ${r.stderr.trim()}`);
  }
  const mv = spawnSync('mv', ['-T', tmp, to], { encoding: 'utf8' });
  if (mv.status !== 0) throw new Error(`cannot move ${tmp} to ${to}: ${mv.stderr.trim()}`);
}

/** libvirt's <emulator> for this QEMU: the binary itself, or a wrapper in `dir` around a staged copy of its tree. */
export function stageQemu(q: QemuInstall, dir: string): string {
  if (plainBinary(q) && reachableByOthers(q.command, true)) return q.command;
  const root = installRoot(q);
  let move = (p: string): string => p;
  if (!reachableByOthers(q.command, true)) {
    const copy = join(dir, 'qemu', root.split(sep).filter(Boolean).pop() ?? 'qemu');
    linkOrCopyTree(root, copy);
    move = (p) => p.split(':').map((x) => (isAbsolute(x) && !relative(root, x).startsWith('..') ? join(copy, relative(root, x)) : x)).join(':');
  }
  const argv = [move(q.command), ...q.prefixArgs.map(move), ...q.dataDirs.flatMap((d) => ['-L', move(d)])];
  const wrapper = join(dir, 'qemu-system-x86_64');
  writeFileSync(
    wrapper,
    [
      '#!/bin/sh',
      `# ${q.description}, for libvirt (written by vnvme libvirt: harness/libvirt/stage.ts)`,
      ...Object.entries(q.env).map(([k, v]) => `export ${k}=${shellQuote(move(v))}`),
      `exec ${argv.map((a) => shellQuote(a)).join(' ')} "$@"`,
      '',
    ].join('\n'),
  );
  chmodSync(wrapper, 0o755);
  return wrapper;
}

/** Copies the image (and stages QEMU) into `dir`, every file readable by libvirt's QEMU user. */
export function stageForLibvirt(dir: string, image: Pick<GuestImage, 'kernel' | 'initrd' | 'disk'>, qemu: QemuInstall | undefined): StagedGuest {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chmodSync(dir, 0o755);
  const put = (from: string, name: string): string => {
    const to = join(dir, name);
    copyFileSync(from, to);
    chmodSync(to, 0o644);
    return to;
  };
  const kernel = put(image.kernel, 'vmlinuz');
  if (!reachableByOthers(kernel)) {
    throw new Error(`${dir} is below a directory that libvirt's QEMU user cannot enter; stage into a directory such as /var/lib/vnvme/libvirt/NAME`);
  }
  const initrd = put(image.initrd, 'initrd.cpio');
  let disk: string | undefined;
  if (image.disk) {
    disk = join(dir, 'root.raw');
    const r = spawnSync('cp', ['--sparse=always', image.disk, disk], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cannot copy ${image.disk}: ${r.stderr.trim()}`);
    chmodSync(disk, 0o644);
  }
  return { dir, kernel, initrd, disk, emulator: qemu ? stageQemu(qemu, dir) : undefined, serialLog: join(dir, 'serial.log') };
}

// The disk-root variant of the guest: the root filesystem goes into an ext4 image (mke2fs -d,
// no journal: QEMU's snapshot=on discards writes anyway) and a tiny first-stage initramfs
// (busybox, libc, the decompressed virtio_blk/ext4 modules) mounts it and switches to it.
// The guest then pages in only what it runs, instead of unpacking the whole root into RAM.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { run, shellQuote } from '../harness/process.js';

/** First stage: load the disk drivers, mount /dev/vda, switch_root into it. */
export const BOOT_INIT = `#!/bin/busybox sh
# vnvme first stage: mount the root disk (virtio-blk, ext4) and switch to it.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in $(cat /modules/order); do insmod /modules/$m.ko 2>/dev/null || echo "vnvme-boot: insmod $m failed"; done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
mkdir -p /newroot
if ! mount -t ext4 -o rw,noatime /dev/vda /newroot; then
  echo "vnvme-boot: cannot mount the root disk /dev/vda; dropping to a shell"
  exec sh
fi
umount /proc /sys
umount /dev 2>/dev/null
exec switch_root /newroot /init
`;

/** Module names -> their files and dependency closure, dependencies first, from modules.dep. */
export function moduleClosure(modulesDep: string, names: readonly string[]): string[] {
  const deps = new Map<string, string[]>();
  const byName = new Map<string, string>();
  const modName = (path: string) => basename(path).replace(/\.ko(\.\w+)?$/, '').replace(/-/g, '_');
  for (const line of modulesDep.split('\n')) {
    const m = /^([^:]+):\s*(.*)$/.exec(line);
    if (!m?.[1]) continue;
    deps.set(m[1], (m[2] ?? '').split(/\s+/).filter(Boolean));
    byName.set(modName(m[1]), m[1]);
  }
  const order: string[] = [];
  const visit = (path: string, stack: Set<string>) => {
    if (order.includes(path) || stack.has(path)) return;
    stack.add(path);
    for (const d of deps.get(path) ?? []) visit(d, stack);
    order.push(path);
  };
  for (const n of names) {
    const path = byName.get(n.replace(/-/g, '_'));
    if (!path) throw new Error(`kernel module ${n} is not in modules.dep (built in, or pruned away by keepModules?)`);
    visit(path, new Set());
  }
  return order;
}

/** Shared libraries of a binary in the tree, from `ldd` run inside it. */
export function parseLdd(text: string): string[] {
  const libs: string[] = [];
  for (const line of text.split('\n')) {
    const arrow = /=>\s*(\/\S+)/.exec(line);
    const bare = /^\s*(\/\S+)\s+\(/.exec(line);
    const p = arrow?.[1] ?? bare?.[1];
    if (p) libs.push(p);
  }
  return libs;
}

export async function buildBootStage(root: string, kver: string, modules: readonly string[], out: string, log: string): Promise<void> {
  const stage = `${out}.d`;
  for (const d of ['usr/bin', 'usr/lib/x86_64-linux-gnu', 'usr/lib64', 'modules', 'proc', 'sys', 'dev', 'newroot']) mkdirSync(join(stage, d), { recursive: true });
  symlinkSync('usr/bin', join(stage, 'bin'));
  symlinkSync('usr/lib', join(stage, 'lib'));
  symlinkSync('usr/lib64', join(stage, 'lib64'));
  copyFileSync(join(root, 'usr/bin/busybox'), join(stage, 'usr/bin/busybox'));
  chmodSync(join(stage, 'usr/bin/busybox'), 0o755);
  const ldd = await run('chroot', [root, 'ldd', '/usr/bin/busybox'], { capture: true, logFile: log });
  for (const lib of parseLdd(ldd)) {
    // Resolve through the tree (merged /usr): /lib/x86_64-linux-gnu/x -> usr/lib/x86_64-linux-gnu/x.
    const rel = lib.replace(/^\/(usr\/)?/, 'usr/');
    mkdirSync(join(stage, rel, '..'), { recursive: true });
    copyFileSync(join(root, rel), join(stage, rel));
  }
  const modDir = join(root, 'usr/lib/modules', kver);
  const order = moduleClosure(readFileSync(join(modDir, 'modules.dep'), 'utf8'), modules);
  const names: string[] = [];
  for (const rel of order) {
    const name = basename(rel).replace(/\.ko(\.\w+)?$/, '');
    const dst = join(stage, 'modules', `${name}.ko`);
    if (rel.endsWith('.xz')) await run('sh', ['-c', `xz -dc ${shellQuote(join(modDir, rel))} > ${shellQuote(dst)}`], { logFile: log });
    else if (rel.endsWith('.zst')) await run('zstd', ['-qdf', join(modDir, rel), '-o', dst], { logFile: log });
    else copyFileSync(join(modDir, rel), dst);
    names.push(name);
  }
  writeFileSync(join(stage, 'modules/order'), `${names.join('\n')}\n`);
  writeFileSync(join(stage, 'init'), BOOT_INIT, { mode: 0o755 });
  // The kernel opens /dev/console in the initramfs before running /init.
  await run('mknod', ['-m', '600', join(stage, 'dev/console'), 'c', '5', '1'], { logFile: log });
  await run('sh', ['-c', `cd ${shellQuote(stage)} && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet > ${shellQuote(out)}`], { logFile: log });
  await run('rm', ['-rf', stage]);
}

/** The root tree as an ext4 image with some free space (guests write logs, fio files). */
export async function buildRootDisk(root: string, rootBytes: number, out: string, log: string): Promise<number> {
  const mib = Math.ceil((rootBytes * 1.25) / 2 ** 20) + 256;
  await run('mke2fs', ['-q', '-F', '-t', 'ext4', '-O', '^has_journal,^metadata_csum', '-L', 'vnvme-root', '-d', root, out, `${mib}M`], {
    logFile: log,
    hint: 'mke2fs comes with e2fsprogs (>= 1.43 for -d): `apt-get install e2fsprogs`.',
  });
  return mib;
}

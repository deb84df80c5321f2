// The embedded default QEMU for Debian/Ubuntu hosts without a usable one: a debootstrapped
// Debian trixie tree (minbase) in the cache with qemu-system-x86 from trixie-backports,
// run in place through the tree's own dynamic loader (no chroot needed, so sockets, hugetlbfs
// and images are reachable at their host paths).
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAtomically, cacheDir, contentKey } from '../cache.js';
import { debianMirror } from '../debian/mirror.js';
import { debootstrap, inChroot, requireRoot } from '../debian/debootstrap.js';
import type { Progress } from '../progress.js';
import type { QemuInstall } from './install.js';
import { probeQemu, type QemuInvocation } from './probe.js';

/** Everything that decides the tree's content; its hash names the cache entry. */
export const DEBIAN_TREE_RECIPE = {
  recipe: 1,
  suite: 'trixie',
  variant: 'minbase',
  backports: 'trixie-backports',
  packages: ['qemu-system-x86'],
} as const;

export function debianTreeDir(): string {
  return join(cacheDir('qemu'), `debian-${DEBIAN_TREE_RECIPE.suite}-${contentKey(DEBIAN_TREE_RECIPE)}`);
}

/** How to run the tree's QEMU without chroot: its loader, its libraries, its firmware. */
export function treeInvocation(tree: string): QemuInvocation {
  const lib = join(tree, 'usr/lib/x86_64-linux-gnu');
  return {
    command: join(tree, 'usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'),
    prefixArgs: ['--library-path', `${lib}:${join(tree, 'lib/x86_64-linux-gnu')}`, join(tree, 'usr/bin/qemu-system-x86_64')],
    dataDirs: [join(tree, 'usr/share/qemu'), join(tree, 'usr/share/seabios')],
    env: { QEMU_MODULE_DIR: join(lib, 'qemu') },
  };
}

interface TreeStamp {
  version: string;
  seconds: number;
  mirror: string;
  builtAt: string;
}

export function isDebianLike(): boolean {
  return existsSync('/etc/debian_version');
}

async function buildTree(dir: string, progress: Progress): Promise<void> {
  requireRoot('provisioning QEMU into a Debian tree', 'pass --qemu PATH to a QEMU >= 10.1.1 with vfio-user-pci');
  const mirror = debianMirror();
  const started = Date.now();
  const tree = join(dir, 'tree');
  const log = join(cacheDir('logs'), `qemu-debian-${contentKey(DEBIAN_TREE_RECIPE)}.log`);
  rmSync(log, { force: true });
  progress.step(`provisioning QEMU: debootstrap ${DEBIAN_TREE_RECIPE.suite} (${DEBIAN_TREE_RECIPE.variant}) from ${mirror} (log: ${log})`);
  await debootstrap({ suite: DEBIAN_TREE_RECIPE.suite, variant: 'minbase', include: [], mirror }, tree, log, progress);
  progress.step(`provisioning QEMU: apt-get install -t ${DEBIAN_TREE_RECIPE.backports} ${DEBIAN_TREE_RECIPE.packages.join(' ')}`);
  copyFileSync('/etc/resolv.conf', join(tree, 'etc/resolv.conf'));
  writeFileSync(join(tree, 'etc/apt/sources.list.d/backports.list'), `deb ${mirror} ${DEBIAN_TREE_RECIPE.backports} main\n`);
  const aptHint = `apt-get inside the tree failed; check that ${mirror}/dists/${DEBIAN_TREE_RECIPE.backports}/Release is reachable.`;
  await inChroot(tree, ['apt-get', 'update', '-q'], log, progress, aptHint);
  await inChroot(
    tree,
    ['apt-get', 'install', '-y', '-q', '--no-install-recommends', '-t', DEBIAN_TREE_RECIPE.backports, ...DEBIAN_TREE_RECIPE.packages],
    log,
    progress,
    aptHint,
  );
  await inChroot(tree, ['apt-get', 'clean'], log, progress);
  rmSync(join(tree, 'var/lib/apt/lists'), { recursive: true, force: true });
  const probe = await probeQemu(treeInvocation(tree), 'debian-tree', tree);
  if (!probe.ok) throw new Error(`the provisioned QEMU does not work: ${probe.reason} (log: ${log})`);
  const stamp: TreeStamp = {
    version: probe.install.version,
    seconds: (Date.now() - started) / 1000,
    mirror,
    builtAt: new Date().toISOString(),
  };
  writeFileSync(join(dir, 'stamp.json'), JSON.stringify(stamp, null, 2));
  progress.done(`provisioned QEMU ${stamp.version} in ${stamp.seconds.toFixed(0)} s`);
}

/** Returns the tree's QEMU, building the tree first if it is not cached. */
export async function provisionDebianQemu(progress: Progress): Promise<QemuInstall> {
  const dir = debianTreeDir();
  if (!existsSync(join(dir, 'stamp.json'))) {
    if (!isDebianLike()) {
      throw new Error(
        'no usable QEMU: none on PATH has vfio-user-pci (>= 10.1.1), and the embedded default (a Debian trixie tree) ' +
          'needs a Debian/Ubuntu host with debootstrap. Pass --qemu PATH, or --qemu-git URL --qemu-ref REF to build one.',
      );
    }
    await buildAtomically(dir, (scratch) => buildTree(scratch, progress));
  }
  const tree = join(dir, 'tree');
  const probe = await probeQemu(treeInvocation(tree), 'debian-tree', tree);
  if (!probe.ok) {
    throw new Error(`the cached QEMU tree at ${dir} is broken (${probe.reason}). Remove it (rm -rf ${dir}) and retry to rebuild it.`);
  }
  const stamp = JSON.parse(readFileSync(join(dir, 'stamp.json'), 'utf8')) as TreeStamp;
  progress.step(`QEMU ${stamp.version} from the Debian ${DEBIAN_TREE_RECIPE.backports} tree (cached, ${dir})`);
  return { ...probe.install, description: `QEMU ${probe.install.version} (Debian ${DEBIAN_TREE_RECIPE.backports} tree in ${tree})` };
}

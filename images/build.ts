// Builds the guest described by images/recipe.ts: debootstrap, add the init files and the SSH
// key, prune, pack the root filesystem as a newc cpio initrd next to the kernel. Cached by
// the hash of the recipe and the key; `npx vnvme image build` rebuilds on demand.
import { chmodSync, copyFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { buildBootStage, buildRootDisk } from './boot-stage.js';
import { buildAtomically, cacheDir, contentKey } from '../harness/cache.js';
import { debianMirror } from '../harness/debian/mirror.js';
import { debootstrap, inChroot, requireRoot } from '../harness/debian/debootstrap.js';
import { run, shellQuote, which } from '../harness/process.js';
import type { Progress } from '../harness/progress.js';
import { GUEST_RECIPE, keepModule, type GuestRecipe } from './recipe.js';
import { guestKey, type GuestKey } from './ssh-key.js';

export interface GuestImage {
  dir: string;
  kernel: string;
  initrd: string;
  /** Root filesystem image for virtio-blk (snapshot=on), when the recipe puts the root on a disk. */
  disk?: string;
  /** Kernel command line the image needs (console etc.). */
  append: string;
  privateKeyPath: string;
  manifest: ImageManifest;
}

export interface ImageManifest {
  key: string;
  kernelVersion: string;
  packages: Record<string, string>;
  initrd: string;
  initrdBytes: number;
  /** The root disk image (rootfs `disk`), attached with snapshot=on so it never changes. */
  disk?: string;
  diskBytes?: number;
  rootBytes: number;
  buildSeconds: number;
  builtAt: string;
}

export function imageKey(recipe: GuestRecipe, key: GuestKey): string {
  return contentKey({ recipe, authorizedKey: key.publicKey });
}

function imageDir(recipe: GuestRecipe, key: GuestKey): string {
  return join(cacheDir('images'), `guest-${recipe.suite}-${imageKey(recipe, key)}`);
}

function duBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isDirectory() && !st.isSymbolicLink()) total += duBytes(p);
    else total += st.size;
  }
  return total;
}

function walkFiles(dir: string, out: string[] = []): string[] {
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) walkFiles(p, out);
    else out.push(p);
  }
  return out;
}

function pruneModules(root: string, kver: string, keep: readonly string[]): void {
  const base = join(root, 'usr/lib/modules', kver);
  for (const file of walkFiles(base)) {
    if (!keepModule(relative(base, file), keep)) rmSync(file);
  }
}

async function buildImage(dir: string, recipe: GuestRecipe, key: GuestKey, progress: Progress): Promise<void> {
  requireRoot('building the guest image', 'point VNVME_CACHE at a cache where root already built it');
  for (const tool of ['cpio', ...(recipe.compression === 'zstd' ? ['zstd'] : [])]) {
    if (!which(tool)) throw new Error(`${tool} is needed to pack the guest initrd: \`apt-get install ${tool}\`.`);
  }
  const started = Date.now();
  const mirror = debianMirror();
  const root = join(dir, 'root');
  const log = join(cacheDir('logs'), `image-${imageKey(recipe, key)}.log`);
  rmSync(log, { force: true });
  progress.step(`building guest image: debootstrap ${recipe.suite} + ${recipe.packages.join(', ')} (log: ${log})`);
  // INITRD=No: the kernel's postinst hook skips initramfs-tools; the whole root is our initrd.
  await debootstrap({ suite: recipe.suite, variant: recipe.variant, include: recipe.packages, mirror, env: { INITRD: 'No' } }, root, log, progress);

  progress.step('building guest image: configuring init, sshd, key; pruning');
  for (const f of recipe.files) {
    const p = join(root, f.path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, f.content);
    chmodSync(p, f.mode);
  }
  rmSync(join(root, 'init'), { force: true });
  symlinkSync('bin/busybox', join(root, 'init'));
  mkdirSync(join(root, 'root/.ssh'), { recursive: true, mode: 0o700 });
  writeFileSync(join(root, 'root/.ssh/authorized_keys'), `${key.publicKey}\n`, { mode: 0o600 });

  const kvers = readdirSync(join(root, 'usr/lib/modules'));
  const kver = kvers[0];
  if (kvers.length !== 1 || kver === undefined) throw new Error(`expected one kernel in the guest, found: ${kvers.join(', ') || 'none'} (log: ${log})`);
  copyFileSync(join(root, 'boot', `vmlinuz-${kver}`), join(dir, 'vmlinuz'));

  const pkgOut = await run('chroot', [root, 'dpkg-query', '-W', '-f', '${Package} ${Version}\\n', ...recipe.packages.filter((p) => p !== 'linux-image-amd64'), `linux-image-${kver}`], {
    capture: true,
    logFile: log,
  });
  const packages: Record<string, string> = {};
  for (const line of pkgOut.trim().split('\n')) {
    const [name, version] = line.split(' ');
    if (name && version) packages[name] = version;
  }

  for (const p of recipe.prune) rmSync(join(root, p), { recursive: true, force: true });
  pruneModules(root, kver, recipe.keepModules);
  await inChroot(root, ['depmod', kver], log, progress);
  for (const cmd of recipe.smoke) {
    await inChroot(root, ['/bin/sh', '-c', cmd], log, progress, `the pruned guest cannot run \`${cmd}\`: a prune entry in images/recipe.ts removed something it needs.`);
  }
  const rootBytes = duBytes(root);

  let initrd: string;
  let disk: string | undefined;
  if (recipe.rootfs === 'disk') {
    disk = join(dir, 'root.ext4');
    progress.step(`building guest image: ${(rootBytes / 2 ** 20).toFixed(0)} MiB root filesystem into an ext4 image, first-stage initramfs`);
    await buildRootDisk(root, rootBytes, disk, log);
    initrd = join(dir, 'boot.cpio');
    await buildBootStage(root, kver, recipe.bootModules, initrd, log);
  } else {
    progress.step(`building guest image: packing ${(rootBytes / 2 ** 20).toFixed(0)} MiB root filesystem into the initrd`);
    initrd = join(dir, recipe.compression === 'zstd' ? 'rootfs.cpio.zst' : 'rootfs.cpio');
    const compress = recipe.compression === 'zstd' ? ` | zstd -q -T2 -10 -o ${shellQuote(initrd)}` : ` > ${shellQuote(initrd)}`;
    await run('sh', ['-c', `cd ${shellQuote(root)} && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet${compress}`], {
      logFile: log,
      progress,
    });
  }
  rmSync(root, { recursive: true, force: true });

  const manifest: ImageManifest = {
    key: imageKey(recipe, key),
    kernelVersion: kver,
    packages,
    initrd: basename(initrd),
    initrdBytes: statSync(initrd).size,
    ...(disk ? { disk: basename(disk), diskBytes: statSync(disk).size } : {}),
    rootBytes,
    buildSeconds: (Date.now() - started) / 1000,
    builtAt: new Date().toISOString(),
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  progress.done(
    `built guest image (kernel ${kver}, initrd ${(manifest.initrdBytes / 2 ** 20).toFixed(1)} MiB${disk ? `, root disk ${((manifest.diskBytes ?? 0) / 2 ** 20).toFixed(0)} MiB` : ''}) in ${manifest.buildSeconds.toFixed(0)} s`,
  );
}

function loadImage(dir: string, recipe: GuestRecipe, key: GuestKey): GuestImage {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ImageManifest;
  return {
    dir,
    kernel: join(dir, 'vmlinuz'),
    initrd: join(dir, manifest.initrd),
    disk: manifest.disk ? join(dir, manifest.disk) : undefined,
    append: recipe.append,
    privateKeyPath: key.privateKeyPath,
    manifest,
  };
}

/** The cached guest image, built first if missing (or always, with `rebuild`). */
export async function guestImage(progress: Progress, opts: { rebuild?: boolean; recipe?: GuestRecipe } = {}): Promise<GuestImage> {
  const recipe = opts.recipe ?? GUEST_RECIPE;
  const key = await guestKey();
  const dir = imageDir(recipe, key);
  if (opts.rebuild) rmSync(dir, { recursive: true, force: true });
  if (!existsSync(join(dir, 'manifest.json'))) {
    await buildAtomically(dir, (scratch) => buildImage(scratch, recipe, key, progress));
  } else {
    progress.step(`guest image ${relative(cacheDir(), dir)} (cached)`);
  }
  return loadImage(dir, recipe, key);
}

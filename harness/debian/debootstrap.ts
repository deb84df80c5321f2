// A Debian tree made with debootstrap, with the .deb files shared across trees in the cache.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from '../cache.js';
import { run, which } from '../process.js';
import type { Progress } from '../progress.js';

export interface DebootstrapSpec {
  suite: string;
  variant: 'minbase' | 'buildd' | 'default';
  include: readonly string[];
  mirror: string;
  /** Extra environment for the maintainer scripts (e.g. INITRD=No). */
  env?: Record<string, string>;
}

/** Fails with what to do instead when not root (debootstrap and chroot need it). */
export function requireRoot(what: string, instead: string): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error(`${what} needs root (debootstrap and chroot). Run it as root once (the result is cached), or ${instead}.`);
  }
}

export async function debootstrap(spec: DebootstrapSpec, target: string, logFile: string, progress: Progress): Promise<void> {
  if (!which('debootstrap', `${process.env.PATH ?? ''}:/usr/sbin:/sbin`)) {
    throw new Error('debootstrap is not installed. Install it with `apt-get install debootstrap` (Debian/Ubuntu), then retry.');
  }
  if (!existsSync(`/usr/share/debootstrap/scripts/${spec.suite}`)) {
    throw new Error(
      `this debootstrap does not know the suite "${spec.suite}". Update it (\`apt-get install debootstrap\` from your release's updates or backports).`,
    );
  }
  const args = [`--variant=${spec.variant}`, `--cache-dir=${cacheDir('debs')}`];
  if (spec.include.length) args.push(`--include=${spec.include.join(',')}`);
  args.push(spec.suite, target, spec.mirror);
  await run('debootstrap', args, {
    env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin:/sbin`, DEBIAN_FRONTEND: 'noninteractive', ...spec.env },
    logFile,
    progress,
    hint:
      `debootstrap of ${spec.suite} from ${spec.mirror} failed. Check that the mirror is reachable ` +
      `(\`curl -I ${spec.mirror}/dists/${spec.suite}/Release\`), that debian-archive-keyring is installed, ` +
      `and see ${join(target, 'debootstrap/debootstrap.log')} if it exists.`,
  });
}

/** Runs a command inside the tree with chroot (for apt-get, depmod, ...). */
export async function inChroot(root: string, argv: readonly string[], logFile: string, progress: Progress, hint?: string): Promise<void> {
  await run('chroot', [root, ...argv], {
    env: {
      PATH: '/usr/sbin:/usr/bin:/sbin:/bin',
      DEBIAN_FRONTEND: 'noninteractive',
      LANG: 'C.UTF-8',
      ...(process.env.http_proxy ? { http_proxy: process.env.http_proxy } : {}),
      ...(process.env.https_proxy ? { https_proxy: process.env.https_proxy } : {}),
    },
    logFile,
    progress,
    hint,
  });
}

// QEMU built from a git repository (e.g. Oracle's fork for vfio-user migration v1):
// `./configure --enable-multiprocess --target-list=x86_64-softmmu && make`, cached by URL and
// the commit the ref resolves to.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { buildAtomically, cacheDir, contentKey } from '../cache.js';
import { run, which } from '../process.js';
import type { Progress } from '../progress.js';
import type { QemuInstall } from './install.js';
import { probeQemu, type QemuInvocation } from './probe.js';

export const CONFIGURE_FLAGS = ['--enable-multiprocess', '--target-list=x86_64-softmmu'] as const;

const BUILD_DEPS_HINT =
  'QEMU build dependencies on Debian/Ubuntu: `apt-get install git build-essential ninja-build meson pkg-config ' +
  'python3-venv libglib2.0-dev libpixman-1-dev libslirp-dev flex bison`.';

export function gitBuildKey(url: string, commit: string): string {
  return contentKey({ url, commit, configure: CONFIGURE_FLAGS });
}

/** A full or abbreviated commit id is used as-is; a branch or tag is resolved with ls-remote. */
export async function resolveRef(url: string, ref: string): Promise<string> {
  if (/^[0-9a-f]{7,40}$/i.test(ref)) return ref.toLowerCase();
  const out = await run('git', ['ls-remote', url, ref, `refs/heads/${ref}`, `refs/tags/${ref}^{}`, `refs/tags/${ref}`], {
    capture: true,
    hint: `could not reach ${url}; check the URL and network access.`,
  });
  const first = out.trim().split('\n').find(Boolean)?.split(/\s+/)[0];
  if (!first) throw new Error(`ref "${ref}" not found in ${url}. List refs with \`git ls-remote ${url}\`.`);
  return first;
}

function invocation(src: string): QemuInvocation {
  return { command: join(src, 'build', 'qemu-system-x86_64'), prefixArgs: [], dataDirs: [join(src, 'pc-bios')], env: {} };
}

export async function buildQemuFromGit(url: string, ref: string, progress: Progress): Promise<QemuInstall> {
  if (!which('git')) throw new Error(`git is needed for --qemu-git. ${BUILD_DEPS_HINT}`);
  const commit = await resolveRef(url, ref);
  const dir = join(cacheDir('qemu'), `git-${gitBuildKey(url, commit)}`);
  const stamp = join(dir, 'stamp.json');
  if (!existsSync(stamp)) {
    await buildAtomically(dir, async (scratch) => {
      const src = join(scratch, 'src');
      const log = join(cacheDir('logs'), `qemu-git-${gitBuildKey(url, commit)}.log`);
      const started = Date.now();
      progress.step(`building QEMU from ${url} at ${commit} (log: ${log}); this takes a while`);
      await run('git', ['clone', '--no-checkout', url, src], { logFile: log, progress, hint: `git clone of ${url} failed.` });
      await run('git', ['-C', src, 'checkout', '--detach', commit], { logFile: log, progress, hint: `commit ${commit} is not in ${url}.` });
      await run('./configure', [...CONFIGURE_FLAGS], { cwd: src, logFile: log, progress, hint: BUILD_DEPS_HINT });
      await run('make', [`-j${Math.max(1, availableParallelism())}`], { cwd: src, logFile: log, progress, hint: BUILD_DEPS_HINT });
      writeFileSync(join(scratch, 'stamp.json'), JSON.stringify({ url, ref, commit, seconds: (Date.now() - started) / 1000 }, null, 2));
      progress.done(`built QEMU from ${url}@${commit.slice(0, 10)} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
    });
  } else {
    progress.step(`QEMU from ${url}@${commit.slice(0, 10)} (cached, ${dir})`);
  }
  const meta = JSON.parse(readFileSync(stamp, 'utf8')) as { commit: string };
  const probe = await probeQemu(invocation(join(dir, 'src')), 'git', `${url}@${meta.commit.slice(0, 10)}`);
  if (!probe.ok) throw new Error(`the QEMU built from ${url} is not usable: ${probe.reason}. Remove ${dir} to rebuild.`);
  return probe.install;
}

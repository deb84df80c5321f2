// QEMU built from a git repository as users build Oracle's vfio-user fork:
// `./configure --enable-multiprocess --target-list=x86_64-softmmu ... && make`, from a URL or a
// local clone/mirror, with exactly the submodules the build needs, each of which may come from a
// local mirror of its own. Cached by source + commit + configure flags; a second call is a
// `git rev-parse` (local source) or an `ls-remote` (URL, named ref) and a probe.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { isAbsolute, join, resolve as resolvePath } from 'node:path';
import { buildAtomically, cacheDir, contentKey } from '../cache.js';
import { run, which } from '../process.js';
import type { Progress } from '../progress.js';
import type { QemuInstall } from './install.js';
import { probeQemu, type QemuInvocation } from './probe.js';

/**
 * The flags every git build uses. `--enable-multiprocess` is what the fork's vfio-user client
 * needs; the rest keeps the build to what the harness uses (x86_64 system emulation, -netdev
 * user from the system libslirp, the system libfdt) and off the network (`ignore`: the harness
 * fetches the submodules itself). `--disable-werror`: 6.x trees predate gcc 12's warnings.
 */
export const CONFIGURE_FLAGS = [
  '--enable-multiprocess',
  '--target-list=x86_64-softmmu',
  '--with-git-submodules=ignore',
  '--enable-slirp=system',
  '--enable-fdt=system',
  '--disable-capstone',
  '--disable-docs',
  '--disable-werror',
  '--disable-gtk',
  '--disable-sdl',
  '--disable-vnc',
  '--disable-opengl',
  '--disable-virglrenderer',
  '--disable-spice',
  '--disable-xen',
] as const;

/** Submodules the x86_64-softmmu build needs even with the options above (paths in the QEMU tree). */
export const NEEDED_SUBMODULES = ['ui/keycodemapdb', 'tests/fp/berkeley-softfloat-3', 'tests/fp/berkeley-testfloat-3'] as const;

/** What the build needs from the host, and the Debian package that provides each. */
const HOST_TOOLS: ReadonlyArray<{ what: string; pkg: string; present: () => boolean }> = [
  { what: 'git', pkg: 'git', present: () => which('git') !== undefined },
  { what: 'make', pkg: 'make', present: () => which('make') !== undefined },
  { what: 'a C compiler (cc)', pkg: 'build-essential', present: () => which('cc') !== undefined },
  { what: 'ninja', pkg: 'ninja-build', present: () => which('ninja') !== undefined },
  { what: 'meson', pkg: 'meson', present: () => which('meson') !== undefined },
  { what: 'pkg-config', pkg: 'pkg-config', present: () => which('pkg-config') !== undefined },
  { what: 'flex', pkg: 'flex', present: () => which('flex') !== undefined },
  { what: 'bison', pkg: 'bison', present: () => which('bison') !== undefined },
  { what: 'python3', pkg: 'python3-venv', present: () => which('python3') !== undefined },
];
const PKG_CONFIG_MODULES: ReadonlyArray<{ module: string; pkg: string }> = [
  { module: 'glib-2.0', pkg: 'libglib2.0-dev' },
  { module: 'pixman-1', pkg: 'libpixman-1-dev' },
  { module: 'slirp', pkg: 'libslirp-dev' },
];
const HEADERS: ReadonlyArray<{ path: string; pkg: string }> = [{ path: '/usr/include/libfdt.h', pkg: 'libfdt-dev' }];

export const BUILD_PACKAGES = [
  ...new Set([...HOST_TOOLS.map((t) => t.pkg), ...PKG_CONFIG_MODULES.map((m) => m.pkg), ...HEADERS.map((h) => h.pkg), 'seabios']),
];

/** Debian packages missing for the build, by checking each tool, pkg-config module and header. */
export async function missingBuildPackages(): Promise<string[]> {
  const missing = new Set<string>();
  for (const t of HOST_TOOLS) if (!t.present()) missing.add(t.pkg);
  for (const h of HEADERS) if (!existsSync(h.path)) missing.add(h.pkg);
  if (which('pkg-config')) {
    for (const m of PKG_CONFIG_MODULES) {
      try {
        await run('pkg-config', ['--exists', m.module]);
      } catch {
        missing.add(m.pkg);
      }
    }
  } else {
    for (const m of PKG_CONFIG_MODULES) missing.add(m.pkg);
  }
  if (!seabiosDir()) missing.add('seabios');
  return [...missing];
}

/**
 * Firmware: the fork's bundled SeaBIOS 1.15 hangs at "Probing EDD" with an NVMe disk; Debian's
 * `seabios` package (1.16 on Debian 12) boots it. Returns the directory holding bios-256k.bin.
 */
export function seabiosDir(candidates: readonly string[] = ['/usr/share/seabios']): string | undefined {
  return candidates.find((d) => existsSync(join(d, 'bios-256k.bin')));
}

/** Where a build's sources come from: a URL git can fetch, or a local clone/mirror (bare or not). */
export function isLocalSource(source: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) || /^[^/]+@[^:]+:/.test(source)) return false;
  return existsSync(source) && statSync(source).isDirectory();
}

/** Local sources are keyed by their absolute path; URLs as given, without a trailing slash or `.git`. */
export function normalizeSource(source: string): string {
  if (isLocalSource(source)) return isAbsolute(source) ? source : resolvePath(source);
  return source.replace(/\/+$/, '').replace(/\.git$/, '');
}

export function gitBuildKey(source: string, commit: string, configure: readonly string[] = CONFIGURE_FLAGS): string {
  return contentKey({ source: normalizeSource(source), commit: commit.toLowerCase(), configure });
}

/**
 * Where each submodule comes from, as `KEY=SOURCE` entries (comma- or newline-separated in
 * VNVME_QEMU_SUBMODULES, repeatable `--submodule`): KEY is the submodule's path in the tree
 * (`ui/keycodemapdb`), its URL, or its repository name (`keycodemapdb`); SOURCE a local clone or
 * mirror or another URL. Unmapped submodules use the URL in `.gitmodules`, through git's own
 * `url.<base>.insteadOf` rules, so a machine-wide mirror configuration works as it is.
 */
export type SubmoduleMap = ReadonlyMap<string, string>;

export function parseSubmoduleMap(entries: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const raw of entries.flatMap((e) => e.split(/[,\n]/))) {
    const entry = raw.trim();
    if (entry === '') continue;
    const eq = entry.indexOf('=');
    if (eq <= 0 || eq === entry.length - 1) {
      throw new Error(`submodule mapping "${entry}" is not KEY=SOURCE (e.g. ui/keycodemapdb=/srv/mirrors/keycodemapdb.git)`);
    }
    map.set(entry.slice(0, eq).trim(), entry.slice(eq + 1).trim());
  }
  return map;
}

/** The repository name of a URL or path: `https://gitlab.com/qemu-project/keycodemapdb.git/` -> `keycodemapdb`. */
function repoName(url: string): string {
  return (url.replace(/\/+$/, '').split(/[/:]/).pop() ?? url).replace(/\.git$/, '');
}

export function submoduleSource(path: string, url: string, map: SubmoduleMap): string {
  for (const key of [path, url, url.replace(/\/+$/, ''), url.replace(/\/+$/, '').replace(/\.git$/, ''), repoName(url)]) {
    const hit = map.get(key);
    if (hit !== undefined) return hit;
  }
  return url;
}

/** `.gitmodules` text -> path -> url. */
export function parseGitmodules(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let path: string | undefined;
  let url: string | undefined;
  const flush = (): void => {
    if (path !== undefined && url !== undefined) out.set(path, url);
    path = url = undefined;
  };
  for (const line of text.split('\n')) {
    if (/^\s*\[submodule\b/.test(line)) flush();
    const m = /^\s*(path|url)\s*=\s*(.*?)\s*$/.exec(line);
    if (m?.[1] === 'path') path = m[2];
    else if (m?.[1] === 'url') url = m[2];
  }
  flush();
  return out;
}

/** A full or abbreviated commit id, a branch or a tag -> the full commit id where that can be known without cloning. */
export async function resolveRef(source: string, ref: string): Promise<string> {
  if (isLocalSource(source)) {
    const out = await run('git', ['-C', source, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { capture: true }).catch(() => '');
    const commit = out.trim();
    if (!/^[0-9a-f]{40}$/.test(commit)) {
      throw new Error(`ref "${ref}" is not in ${source}. List its branches with \`git -C ${source} branch -a\`.`);
    }
    return commit;
  }
  if (/^[0-9a-f]{7,40}$/i.test(ref)) return ref.toLowerCase();
  const out = await run('git', ['ls-remote', source, ref, `refs/heads/${ref}`, `refs/tags/${ref}^{}`, `refs/tags/${ref}`], {
    capture: true,
    hint: `could not reach ${source}; check the URL and network access, or point --qemu-git at a local clone or mirror.`,
  });
  const lines = out.trim().split('\n').filter(Boolean);
  // A peeled tag (`^{}`) names the commit; prefer it over the tag object.
  const pick = lines.find((l) => l.endsWith('^{}')) ?? lines[0];
  const first = pick?.split(/\s+/)[0];
  if (!first) throw new Error(`ref "${ref}" not found in ${source}. List refs with \`git ls-remote ${source}\`.`);
  return first;
}

/** Fetches one commit of `source` into the (possibly new) repository at `dir` and checks it out. */
async function checkoutCommit(source: string, commit: string, dir: string, log: string, progress: Progress, what: string): Promise<string> {
  const git = (args: string[], hint?: string) => run('git', ['-C', dir, ...args], { logFile: log, progress, hint, capture: true });
  await run('git', ['init', '-q', dir], { logFile: log });
  // A full id can be fetched alone (protocol v2 allows any reachable commit); an abbreviated one
  // needs the refs, then rev-parse.
  if (/^[0-9a-f]{40}$/.test(commit)) {
    try {
      await git(['fetch', '-q', '--depth', '1', source, commit]);
      await git(['checkout', '-q', '--detach', 'FETCH_HEAD']);
      return commit;
    } catch {
      progress.step(`${what}: shallow fetch of ${commit.slice(0, 12)} refused by ${source}; fetching its branches and tags`);
    }
  }
  await git(['fetch', '-q', '--tags', source, '+refs/heads/*:refs/remotes/src/*'], `could not fetch ${source}; check the URL or mirror path.`);
  const full = (await git(['rev-parse', '--verify', `${commit}^{commit}`], `commit ${commit} is not in ${source}; update the mirror (git -C ${source} fetch) or check the ref.`)).trim();
  await git(['checkout', '-q', '--detach', full]);
  return full;
}

export interface GitBuildOptions {
  /** URL, or local clone or mirror directory. */
  source: string;
  ref: string;
  /** Where submodules come from (see SubmoduleMap); default VNVME_QEMU_SUBMODULES. */
  submodules?: SubmoduleMap;
  progress: Progress;
  /** Check the host's build packages first (default true; tests building a stand-in tree turn it off). */
  checkHostPackages?: boolean;
}

interface BuildStamp {
  source: string;
  ref: string;
  commit: string;
  configure: string[];
  submodules: Record<string, { source: string; commit: string }>;
  seconds: number;
  builtAt: string;
}

function invocation(src: string, seabios: string | undefined): QemuInvocation {
  // SeaBIOS that boots NVMe first (-L dirs are searched in order), then the tree's own firmware.
  return { command: join(src, 'build', 'qemu-system-x86_64'), prefixArgs: [], dataDirs: [...(seabios ? [seabios] : []), join(src, 'pc-bios')], env: {} };
}

export function submodulesFromEnv(env: NodeJS.ProcessEnv = process.env): Map<string, string> {
  return parseSubmoduleMap(env.VNVME_QEMU_SUBMODULES ? [env.VNVME_QEMU_SUBMODULES] : []);
}

/** Builds (or finds in the cache) QEMU from `source` at `ref`; returns the probed install. */
export async function buildQemuFromGit(opts: GitBuildOptions): Promise<QemuInstall> {
  const { source, ref, progress } = opts;
  const submodules = opts.submodules ?? submodulesFromEnv();
  if (!which('git')) throw new Error('git is needed to build QEMU from git: `apt-get install git`.');
  const commit = await resolveRef(source, ref);
  const key = gitBuildKey(source, commit);
  const dir = join(cacheDir('qemu'), `git-${key}`);
  const seabios = seabiosDir();
  if (!existsSync(join(dir, 'stamp.json'))) {
    const missing = opts.checkHostPackages === false ? [] : await missingBuildPackages();
    if (missing.length > 0) {
      throw new Error(`building QEMU from git needs Debian packages that are missing: \`apt-get install ${missing.join(' ')}\``);
    }
    await buildAtomically(dir, async (scratch) => {
      const src = join(scratch, 'src');
      const log = join(cacheDir('logs'), `qemu-git-${key}.log`);
      writeFileSync(log, '');
      const started = Date.now();
      progress.step(`building QEMU from ${source} at ${ref} (${commit.slice(0, 12)}); log: ${log}`);
      const full = await checkoutCommit(source, commit, src, log, progress, 'QEMU');
      const gitmodules = existsSync(join(src, '.gitmodules')) ? parseGitmodules(readFileSync(join(src, '.gitmodules'), 'utf8')) : new Map<string, string>();
      const subs: BuildStamp['submodules'] = {};
      for (const path of NEEDED_SUBMODULES) {
        const url = gitmodules.get(path);
        if (url === undefined) continue; // newer trees vendor or drop it
        const pin = (await run('git', ['-C', src, 'rev-parse', `HEAD:${path}`], { capture: true, logFile: log })).trim();
        const from = submoduleSource(path, url, submodules);
        progress.step(`submodule ${path} at ${pin.slice(0, 12)} from ${from}`);
        await checkoutCommit(from, pin, join(src, path), log, progress, `submodule ${path}`).catch((err: Error) => {
          throw new Error(`${err.message}\nMap ${path} to a local mirror with --submodule ${path}=DIR (or VNVME_QEMU_SUBMODULES), or a git url.<base>.insteadOf rule.`);
        });
        subs[path] = { source: from, commit: pin };
      }
      progress.step(`configure ${CONFIGURE_FLAGS.join(' ')}`);
      await run('./configure', [...CONFIGURE_FLAGS], { cwd: src, logFile: log, progress, hint: `configure failed; see ${log}. Build packages: apt-get install ${BUILD_PACKAGES.join(' ')}` });
      const jobs = Math.max(1, availableParallelism());
      progress.step(`make -j${jobs} (about 10 minutes on 2 cores)`);
      await run('make', [`-j${jobs}`], { cwd: src, logFile: log, progress, hint: `the build failed; see ${log}.` });
      const stamp: BuildStamp = {
        source: normalizeSource(source),
        ref,
        commit: full,
        configure: [...CONFIGURE_FLAGS],
        submodules: subs,
        seconds: (Date.now() - started) / 1000,
        builtAt: new Date().toISOString(),
      };
      writeFileSync(join(scratch, 'stamp.json'), JSON.stringify(stamp, null, 2));
      progress.done(`built QEMU from ${source}@${full.slice(0, 10)} in ${stamp.seconds.toFixed(0)} s`);
    });
  } else {
    progress.step(`QEMU from ${source}@${commit.slice(0, 10)} (cached, ${dir})`);
  }
  const meta = JSON.parse(readFileSync(join(dir, 'stamp.json'), 'utf8')) as BuildStamp;
  const where = `${source}@${meta.commit.slice(0, 10)}${ref !== meta.commit && !meta.commit.startsWith(ref) ? ` (${ref})` : ''}`;
  const probe = await probeQemu(invocation(join(dir, 'src'), seabios), 'git', where);
  if (!probe.ok) throw new Error(`the QEMU built from ${source} is not usable: ${probe.reason}. Remove ${dir} to rebuild.`);
  if (!seabios) progress.warn('no SeaBIOS >= 1.16 found (/usr/share/seabios); the tree\'s bundled SeaBIOS hangs at "Probing EDD" with NVMe disks: apt-get install seabios');
  return probe.install;
}

// The QEMU git builder, end to end on a stand-in tree: a small local repository shaped like
// QEMU's (a .gitmodules naming the submodules the build needs, gitlinks pinning them, a
// configure script and a Makefile producing build/qemu-system-x86_64), its submodules served
// from local mirrors through the KEY=SOURCE map, the cache key, and the cached second call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildQemuFromGit, CONFIGURE_FLAGS, gitBuildKey, NEEDED_SUBMODULES, parseGitmodules, parseSubmoduleMap, resolveRef, submoduleSource,
} from '../../harness/qemu/build-from-git.js';
import { silentProgress } from '../../harness/progress.js';

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', '-c', 'protocol.file.allow=always', ...args], { cwd, encoding: 'utf8' }).trim();

function repoWith(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q');
  for (const [f, text] of Object.entries(files)) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'x');
  return git(dir, 'rev-parse', 'HEAD');
}

test('submodule map: by path, URL or repository name; malformed entries are refused', () => {
  const m = parseSubmoduleMap(['ui/keycodemapdb=/m/kc', 'berkeley-softfloat-3=/m/sf,https://gitlab.com/qemu-project/berkeley-testfloat-3.git=/m/tf']);
  assert.equal(submoduleSource('ui/keycodemapdb', 'https://gitlab.com/qemu-project/keycodemapdb.git', m), '/m/kc');
  assert.equal(submoduleSource('tests/fp/berkeley-softfloat-3', 'https://gitlab.com/qemu-project/berkeley-softfloat-3.git/', m), '/m/sf');
  assert.equal(submoduleSource('tests/fp/berkeley-testfloat-3', 'https://gitlab.com/qemu-project/berkeley-testfloat-3.git', m), '/m/tf');
  assert.equal(submoduleSource('dtc', 'https://gitlab.com/qemu-project/dtc.git', m), 'https://gitlab.com/qemu-project/dtc.git');
  assert.throws(() => parseSubmoduleMap(['nokey']), /KEY=SOURCE/);
  assert.deepEqual(
    [...parseGitmodules('[submodule "a"]\n\tpath = ui/keycodemapdb\n\turl = https://x/keycodemapdb.git\n[submodule "roms/opensbi"]\n\tpath = roms/opensbi\n\turl = \thttps://x/opensbi.git\n')],
    [['ui/keycodemapdb', 'https://x/keycodemapdb.git'], ['roms/opensbi', 'https://x/opensbi.git']],
  );
});

test('cache key: source, commit and configure flags; URL spelling variants agree', () => {
  const a = gitBuildKey('https://github.com/oracle/qemu', 'd377d483f9');
  assert.equal(a, gitBuildKey('https://github.com/oracle/qemu.git', 'D377D483F9'));
  assert.equal(a, gitBuildKey('https://github.com/oracle/qemu/', 'd377d483f9'));
  assert.notEqual(a, gitBuildKey('https://github.com/oracle/qemu', '024463ffb2'));
  assert.notEqual(a, gitBuildKey('https://example.org/qemu', 'd377d483f9'));
  assert.notEqual(a, gitBuildKey('https://github.com/oracle/qemu', 'd377d483f9', [...CONFIGURE_FLAGS, '--enable-debug']));
});

test('builds a QEMU-shaped tree from a local mirror with submodules from their own mirrors, then hits the cache', async () => {
  const root = mkdtempSync(join(tmpdir(), 'vnvme-gitbuild-'));
  const prevCache = process.env.VNVME_CACHE;
  process.env.VNVME_CACHE = join(root, 'cache');
  try {
    // Submodule mirrors, each a repository of its own.
    const pins: Record<string, string> = {};
    for (const path of NEEDED_SUBMODULES) pins[path] = repoWith(join(root, 'mirrors', path.split('/').pop()!), { README: `${path}\n` });
    // The stand-in QEMU: configure checks the submodules are there and records its flags.
    const fake = `#!/bin/sh
case "$*" in
  *-version*) echo "QEMU emulator version 6.2.50 (stand-in)";;
  *vfio-user-pci,help*) printf 'vfio-user-pci options:\\n  socket=<str>\\n  x-enable-migration=<bool>\\n';;
esac
`;
    const src = join(root, 'qemu');
    repoWith(src, {
      '.gitmodules': NEEDED_SUBMODULES.map((p) => `[submodule "${p}"]\n\tpath = ${p}\n\turl = https://gitlab.com/qemu-project/${p.split('/').pop()}.git\n`).join(''),
      configure: `#!/bin/sh\nfor d in ${NEEDED_SUBMODULES.join(' ')}; do [ -f "$d/README" ] || { echo "missing submodule $d"; exit 1; }; done\necho "$@" > configured-with\n`,
      Makefile: 'all:\n\tmkdir -p build\n\tcp fake-qemu build/qemu-system-x86_64\n\tchmod +x build/qemu-system-x86_64\n',
      'fake-qemu': fake,
      'pc-bios/README': 'firmware\n',
    });
    chmodSync(join(src, 'configure'), 0o755);
    git(src, 'add', '--chmod=+x', 'configure');
    for (const path of NEEDED_SUBMODULES) git(src, 'update-index', '--add', '--cacheinfo', `160000,${pins[path]},${path}`);
    git(src, 'commit', '-qm', 'submodules');
    git(src, 'branch', 'vfio-user-dbfix');
    const commit = await resolveRef(src, 'vfio-user-dbfix');
    assert.equal(commit, git(src, 'rev-parse', 'HEAD'));
    await assert.rejects(resolveRef(src, 'no-such-branch'), /is not in/);

    const submodules = parseSubmoduleMap(NEEDED_SUBMODULES.map((p) => `${p.split('/').pop()}=${join(root, 'mirrors', p.split('/').pop()!)}`));
    const q = await buildQemuFromGit({ source: src, ref: 'vfio-user-dbfix', submodules, progress: silentProgress, checkHostPackages: false });
    assert.equal(q.version, '6.2.50');
    assert.equal(q.vfioUserSyntax, 'oracle');
    assert.equal(q.vfioUserMigration, true);
    const dir = join(process.env.VNVME_CACHE, 'qemu', `git-${gitBuildKey(src, commit)}`);
    assert.ok(q.command.startsWith(dir), `${q.command} is in the cache entry ${dir}`);
    assert.equal(readFileSync(join(dir, 'src', 'configured-with'), 'utf8').trim(), CONFIGURE_FLAGS.join(' '));
    const stamp = JSON.parse(readFileSync(join(dir, 'stamp.json'), 'utf8')) as { submodules: Record<string, { commit: string }> };
    for (const path of NEEDED_SUBMODULES) assert.equal(stamp.submodules[path]?.commit, pins[path], `${path} at its pinned commit`);

    // Second call: the cache, no clone (the source may even be gone by then).
    rmSync(join(dir, 'src', 'Makefile'));
    const t0 = Date.now();
    const again = await buildQemuFromGit({ source: src, ref: 'vfio-user-dbfix', submodules, progress: silentProgress, checkHostPackages: false });
    assert.equal(again.command, q.command);
    assert.ok(!existsSync(join(dir, 'src', 'Makefile')), 'not rebuilt');
    assert.ok(Date.now() - t0 < 5000, 'cache hit is quick');

    // A submodule whose mirror lacks the pinned commit: a clear error naming the mapping option.
    const emptyMirror = join(root, 'empty');
    repoWith(emptyMirror, { other: 'x' });
    git(src, 'commit', '-q', '--allow-empty', '-m', 'new commit: new cache entry');
    await assert.rejects(
      buildQemuFromGit({ source: src, ref: 'HEAD', submodules: new Map([['keycodemapdb', emptyMirror]]), progress: silentProgress, checkHostPackages: false }),
      /--submodule ui\/keycodemapdb=DIR/,
    );
  } finally {
    if (prevCache === undefined) delete process.env.VNVME_CACHE;
    else process.env.VNVME_CACHE = prevCache;
    rmSync(root, { recursive: true, force: true });
  }
});

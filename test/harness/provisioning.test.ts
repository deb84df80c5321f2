// Cache keys, the host's Debian mirror, what a QEMU says about itself, the guest recipe's
// module filter, hugetlbfs discovery, the KVM probe verdict, and tool failures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAtomically, cacheRoot, canonicalJson, contentKey } from '../../harness/cache.js';
import { debianMirror, parseDeb822Sources, parseOneLineSources, pickDebianMirror } from '../../harness/debian/mirror.js';
import { parseQemuVersion, parseVfioUserHelp, versionAtLeast } from '../../harness/qemu/probe.js';
import { gitBuildKey } from '../../harness/qemu/build-from-git.js';
import { GUEST_RECIPE, keepModule } from '../../images/recipe.js';
import { imageKey } from '../../images/build.js';
import { findHugetlbfsMount, hugepagesNeeded } from '../../harness/guest/memory.js';
import { probeVerdict } from '../../harness/guest/accel.js';
import { CommandError, run, shellQuote } from '../../harness/process.js';

test('cache root follows VNVME_CACHE, else ~/.cache/vnvme', () => {
  assert.equal(cacheRoot({ VNVME_CACHE: '/x/y', HOME: '/h' }), '/x/y');
  assert.equal(cacheRoot({ HOME: '/h' }), '/h/.cache/vnvme');
  assert.equal(cacheRoot({ VNVME_CACHE: '', HOME: '/h' }), '/h/.cache/vnvme');
});

test('content keys ignore key order but not content', () => {
  assert.equal(canonicalJson({ b: 1, a: [2, { d: 1, c: 2 }] }), '{"a":[2,{"c":2,"d":1}],"b":1}');
  assert.equal(contentKey({ a: 1, b: 2 }), contentKey({ b: 2, a: 1 }));
  assert.notEqual(contentKey({ a: 1 }), contentKey({ a: 2 }));
  assert.match(contentKey({}), /^[0-9a-f]{16}$/);
});

test('the image key changes with the recipe and with the SSH key', () => {
  const key = { privateKeyPath: '/k', publicKey: 'ssh-ed25519 AAAA one' };
  const base = imageKey(GUEST_RECIPE, key);
  assert.equal(base, imageKey({ ...GUEST_RECIPE }, { ...key }));
  assert.notEqual(base, imageKey({ ...GUEST_RECIPE, packages: [...GUEST_RECIPE.packages, 'strace'] }, key));
  assert.notEqual(base, imageKey(GUEST_RECIPE, { ...key, publicKey: 'ssh-ed25519 BBBB two' }));
  const files = GUEST_RECIPE.files.map((f) => (f.path === 'etc/inittab' ? { ...f, content: `${f.content}# changed\n` } : f));
  assert.notEqual(base, imageKey({ ...GUEST_RECIPE, files }, key));
});

test('git builds are keyed by URL and commit', () => {
  const a = gitBuildKey('https://github.com/oracle/qemu', 'd377d483f9');
  assert.equal(a, gitBuildKey('https://github.com/oracle/qemu', 'd377d483f9'));
  assert.notEqual(a, gitBuildKey('https://github.com/oracle/qemu', 'aaaaaaaaaa'));
  assert.notEqual(a, gitBuildKey('https://example.org/qemu', 'd377d483f9'));
});

test('buildAtomically leaves nothing behind when the build fails, and renames on success', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-cache-'));
  const final = join(dir, 'entry');
  await assert.rejects(buildAtomically(final, async (s) => {
    writeFileSync(join(s, 'half'), 'x');
    throw new Error('boom');
  }), /boom/);
  assert.ok(!existsSync(final));
  assert.deepEqual((await import('node:fs')).readdirSync(dir), []);
  await buildAtomically(final, async (s) => writeFileSync(join(s, 'done'), 'y'));
  assert.ok(existsSync(join(final, 'done')));
  rmSync(dir, { recursive: true, force: true });
});

test('APT sources: deb822 and one-line, security and third-party repos skipped', () => {
  const deb822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
`;
  const s1 = parseDeb822Sources(deb822, 'd.sources');
  assert.deepEqual(s1.map((s) => s.uri), ['http://deb.debian.org/debian', 'http://deb.debian.org/debian-security']);
  assert.deepEqual(s1[0]?.suites, ['bookworm', 'bookworm-updates']);
  const s2 = parseOneLineSources('deb https://packages.cloud.google.com/apt cloud-sdk main\n# deb http://x/debian sid main\ndeb [arch=amd64 signed-by=/k] http://mirror.example/debian/ bookworm main\n', 'a.list');
  assert.deepEqual(s2.map((s) => s.uri), ['https://packages.cloud.google.com/apt', 'http://mirror.example/debian/']);
  assert.equal(pickDebianMirror([...s2.slice(0, 1), ...s1.reverse()]), 'http://deb.debian.org/debian');
  assert.equal(pickDebianMirror(s2), 'http://mirror.example/debian');
  assert.equal(pickDebianMirror([]), undefined);
});

test('mirror: override, APT config, or an error that says what to set', () => {
  const root = mkdtempSync(join(tmpdir(), 'vnvme-apt-'));
  mkdirSync(join(root, 'sources.list.d'));
  assert.equal(debianMirror({ VNVME_DEBIAN_MIRROR: 'http://m/debian/' }, root), 'http://m/debian');
  assert.throws(() => debianMirror({}, root), /VNVME_DEBIAN_MIRROR/);
  writeFileSync(join(root, 'sources.list.d', 'debian.sources'), 'Types: deb\nURIs: http://local/debian\nSuites: bookworm\nComponents: main\n');
  assert.equal(debianMirror({}, root), 'http://local/debian');
  rmSync(root, { recursive: true, force: true });
});

test('QEMU version and vfio-user flavour from its own output', () => {
  assert.deepEqual(parseQemuVersion('QEMU emulator version 11.1.3 (Debian 1:11.1.3+ds-1~bpo13+1)\nCopyright'), [11, 1, 3]);
  assert.deepEqual(parseQemuVersion('QEMU emulator version 10.1.0'), [10, 1, 0]);
  assert.equal(parseQemuVersion('nope'), undefined);
  assert.ok(versionAtLeast([10, 1, 1], [10, 1, 1]));
  assert.ok(versionAtLeast([11, 0, 0], [10, 1, 1]));
  assert.ok(!versionAtLeast([10, 1, 0], [10, 1, 1]));
  assert.ok(!versionAtLeast([9, 2, 5], [10, 1, 1]));
  const upstream = 'vfio-user-pci options:\n  rombar=<int32>         -  (default: -1)\n  socket=<SocketAddress> - SocketAddress (UNIX sockets only)\n  x-msg-timeout=<uint32> -  (default: 5000)\n';
  assert.deepEqual(parseVfioUserHelp(upstream), { syntax: 'json', migration: false });
  const oracle = 'vfio-user-pci options:\n  socket=<str>\n  x-enable-migration=<bool> - on/off\n';
  assert.deepEqual(parseVfioUserHelp(oracle), { syntax: 'oracle', migration: true });
  assert.equal(parseVfioUserHelp("'vfio-user-pci' is not a valid device model name"), undefined);
});

test('guest recipe keeps the NVMe and virtio-net modules and drops the rest', () => {
  const keep = GUEST_RECIPE.keepModules;
  for (const m of ['kernel/drivers/nvme/host/nvme.ko.xz', 'kernel/drivers/nvme/host/nvme-core.ko.xz', 'kernel/drivers/nvme/common/nvme-auth.ko.xz',
    'kernel/drivers/net/virtio_net.ko.xz', 'kernel/drivers/net/net_failover.ko.xz', 'kernel/net/core/failover.ko.xz', 'modules.order']) {
    assert.ok(keepModule(m, keep), m);
  }
  for (const m of ['kernel/drivers/gpu/drm/i915/i915.ko.xz', 'kernel/sound/core/snd.ko.xz', 'kernel/drivers/net/virtio_netx/a.ko', 'kernel/fs/btrfs/btrfs.ko.xz']) {
    assert.ok(!keepModule(m, keep), m);
  }
});

test('hugetlbfs discovery from /proc/mounts; pages needed round up', () => {
  const mounts = 'proc /proc proc rw 0 0\nhugetlbfs /dev/huge\\0401G hugetlbfs rw,relatime,pagesize=1024M 0 0\nhugetlbfs /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n';
  assert.equal(findHugetlbfsMount(mounts), '/dev/hugepages');
  assert.equal(findHugetlbfsMount('proc /proc proc rw 0 0\n'), undefined);
  assert.equal(hugepagesNeeded(2048), 1024);
  assert.equal(hugepagesNeeded(1025), 513);
});

test('KVM probe verdict: the expected panic is success; internal errors and silence are not', () => {
  assert.equal(probeVerdict('[ 1.2] Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)', '').ok, true);
  assert.equal(probeVerdict('', 'KVM internal error. Suberror: 1\nextra data[0]: ...').ok, false);
  assert.match(probeVerdict('', 'KVM internal error. Suberror: 1').detail, /PVM/);
  assert.equal(probeVerdict('[ 0.0] Linux version 6.12', '').ok, false);
});

test('a failing tool reports its command, status, last output and the hint', async () => {
  const err = await run('sh', ['-c', 'echo first; echo the-reason >&2; exit 7'], { hint: 'install foo' }).catch((e: unknown) => e);
  assert.ok(err instanceof CommandError);
  assert.equal(err.exitCode, 7);
  assert.match(err.message, /exited with status 7/);
  assert.match(err.message, /the-reason/);
  assert.match(err.message, /install foo/);
  await assert.rejects(run('vnvme-no-such-tool', []), /not installed or not on PATH/);
  assert.equal(await run('sh', ['-c', 'echo out'], { capture: true }), 'out\n');
  assert.equal(shellQuote("it's"), `'it'\\''s'`);
  assert.equal(shellQuote('/a/b-c.d'), '/a/b-c.d');
});

test('first-stage modules come with their dependencies, dependencies first', async () => {
  const { moduleClosure, parseLdd } = await import('../../images/boot-stage.js');
  const dep = [
    'kernel/fs/ext4/ext4.ko.xz: kernel/lib/crc16.ko.xz kernel/fs/mbcache.ko.xz kernel/fs/jbd2/jbd2.ko.xz',
    'kernel/fs/jbd2/jbd2.ko.xz:',
    'kernel/fs/mbcache.ko.xz:',
    'kernel/lib/crc16.ko.xz:',
    'kernel/drivers/block/virtio_blk.ko.xz:',
    'kernel/crypto/crc32c_generic.ko.xz:',
    'kernel/drivers/nvme/host/nvme-core.ko.xz: kernel/drivers/nvme/common/nvme-auth.ko.xz',
    'kernel/drivers/nvme/common/nvme-auth.ko.xz:',
  ].join('\n');
  const order = moduleClosure(dep, ['virtio_blk', 'ext4']);
  assert.deepEqual(order, ['kernel/drivers/block/virtio_blk.ko.xz', 'kernel/lib/crc16.ko.xz', 'kernel/fs/mbcache.ko.xz', 'kernel/fs/jbd2/jbd2.ko.xz', 'kernel/fs/ext4/ext4.ko.xz']);
  assert.deepEqual(moduleClosure(dep, ['nvme_core']), ['kernel/drivers/nvme/common/nvme-auth.ko.xz', 'kernel/drivers/nvme/host/nvme-core.ko.xz']);
  assert.throws(() => moduleClosure(dep, ['btrfs']), /btrfs is not in modules.dep/);
  const ldd = '\tlinux-vdso.so.1 (0x00007ffd)\n\tlibresolv.so.2 => /lib/x86_64-linux-gnu/libresolv.so.2 (0x1)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x2)\n\t/lib64/ld-linux-x86-64.so.2 (0x3)\n';
  assert.deepEqual(parseLdd(ldd), ['/lib/x86_64-linux-gnu/libresolv.so.2', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
});

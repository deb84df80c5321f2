// `vnvme libvirt domain`: the domain XML for every memory backing x vfio-user syntax x domain
// type is valid for libvirt (virt-xml-validate, Debian's libvirt-clients + libxml2-utils; the
// check is skipped with the reason where they are missing), says what the guide says (2 MiB
// hugepages or memfd, shared access) and carries the device in the QEMU's own syntax; and the
// staging that lets libvirt's unprivileged QEMU user reach the image and a tree-run QEMU.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { domainXml, qemuCommandlineArgs, type DomainSpec } from '../../harness/libvirt/domain.js';
import { installRoot, reachableByOthers, stageForLibvirt, stageQemu } from '../../harness/libvirt/stage.js';
import type { QemuInstall } from '../../harness/qemu/install.js';
import { which } from '../../harness/process.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'vnvme.js');
const noValidator = !which('virt-xml-validate') ? 'virt-xml-validate is not installed (apt-get install libvirt-clients libxml2-utils)' : !which('xmllint') ? 'xmllint is not installed (apt-get install libxml2-utils), virt-xml-validate needs it' : false;

function validate(xml: string): { ok: boolean; out: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-dom-'));
  try {
    const f = join(dir, 'domain.xml');
    writeFileSync(f, xml);
    const r = spawnSync('virt-xml-validate', [f, 'domain'], { encoding: 'utf8' });
    return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const base: DomainSpec = {
  name: 'vnvme-test',
  type: 'qemu',
  memMiB: 1024,
  vcpus: 2,
  memory: 'hugepages',
  emulator: '/var/lib/vnvme/libvirt/vnvme-test/qemu-system-x86_64',
  kernel: '/var/lib/vnvme/libvirt/vnvme-test/vmlinuz',
  initrd: '/var/lib/vnvme/libvirt/vnvme-test/initrd.cpio',
  cmdline: 'console=ttyS0,115200 panic=-1 quiet',
  disk: '/var/lib/vnvme/libvirt/vnvme-test/root.raw',
  serialLog: '/var/lib/vnvme/libvirt/vnvme-test/serial.log',
  socket: '/var/lib/vnvme/libvirt/vnvme-test/ctrl/cntrl',
  syntax: 'json',
  sshPort: 2222,
};

const unescape = (s: string): string => s.replace(/&apos;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
const qemuArgs = (xml: string): string[] => [...xml.matchAll(/<qemu:arg value='([^']*)'\/>/g)].map((m) => unescape(m[1]!));

test('domain XML: hugepages/memfd x json/oracle x kvm/qemu, with and without disk, file or pty serial, is valid for libvirt', { skip: noValidator }, () => {
  for (const memory of ['hugepages', 'memfd'] as const)
    for (const syntax of ['json', 'oracle'] as const)
      for (const type of ['kvm', 'qemu'] as const)
        for (const variant of [{}, { disk: undefined, serialLog: undefined, emulator: undefined, sshPort: undefined }, { transientDisk: true }]) {
          const xml = domainXml({ ...base, memory, syntax, type, ...variant });
          const r = validate(xml);
          assert.ok(r.ok, `${memory} ${syntax} ${type} ${JSON.stringify(variant)}: ${r.out}\n${xml}`);
        }
  assert.equal(validate("<domain type='qemu'><name>x</name><bogus/></domain>").ok, false, 'the validator refuses a broken domain');
});

test("the guide's memory backing and shared access; the device in the QEMU's syntax", () => {
  const huge = domainXml(base);
  assert.match(huge, /<memoryBacking>\s*<hugepages>\s*<page size='2048' unit='KiB'\/>\s*<\/hugepages>\s*<access mode='shared'\/>\s*<\/memoryBacking>/);
  assert.doesNotMatch(huge, /memfd/);
  const memfd = domainXml({ ...base, memory: 'memfd' });
  assert.match(memfd, /<memoryBacking>\s*<source type='memfd'\/>\s*<access mode='shared'\/>\s*<\/memoryBacking>/);
  assert.doesNotMatch(memfd, /hugepages/);
  const json = qemuArgs(huge);
  assert.equal(json[0], '-device');
  assert.deepEqual(JSON.parse(json[1]!), { driver: 'vfio-user-pci', id: 'vfu0', bus: 'pcie.0', socket: { type: 'unix', path: base.socket }, addr: '0x10' });
  assert.deepEqual(qemuArgs(domainXml({ ...base, syntax: 'oracle' })).slice(0, 2), ['-device', `vfio-user-pci,id=vfu0,bus=pcie.0,addr=0x10,socket=${base.socket}`]);
  assert.deepEqual(qemuArgs(huge).slice(2), ['-netdev', 'user,id=vnvmenet,hostfwd=tcp:127.0.0.1:2222-:22', '-device', 'virtio-net-pci,netdev=vnvmenet,bus=pcie.0,addr=0x11,romfile=']);
  assert.match(huge, /<domain type='qemu'/);
  assert.match(huge, /<cpu mode='maximum'\/>/);
  assert.match(domainXml({ ...base, type: 'kvm' }), /<domain type='kvm'[\s\S]*<cpu mode='host-passthrough'\/>/);
  assert.match(huge, /<kernel>\/var\/lib\/vnvme\/libvirt\/vnvme-test\/vmlinuz<\/kernel>/);
  assert.match(huge, /<target dev='vda' bus='virtio'\/>/);
  assert.match(domainXml({ ...base, transientDisk: true }), /<transient\/>/);
});

test('paths with XML specials are escaped and survive; bad specs are refused', { skip: noValidator }, () => {
  const socket = "/srv/a&b/it's <odd>/cntrl";
  const xml = domainXml({ ...base, socket, kernel: '/k&k' });
  assert.ok(validate(xml).ok, xml);
  assert.equal((JSON.parse(qemuArgs(xml)[1]!) as { socket: { path: string } }).socket.path, socket);
  assert.match(xml, /<kernel>\/k&amp;k<\/kernel>/);
  assert.throws(() => domainXml({ ...base, name: 'a b' }), /domain name/);
  assert.throws(() => domainXml({ ...base, memMiB: 1025 }), /2 MiB hugepages/);
  assert.throws(() => domainXml({ ...base, memMiB: 128 }), /too small/);
  assert.throws(() => qemuCommandlineArgs({ socket: '/a,b/cntrl', syntax: 'oracle' }), /comma/);
  assert.throws(() => qemuCommandlineArgs({ socket: '/a/cntrl', syntax: 'json', sshPort: 70000 }), /not a TCP port/);
});

test('vnvme libvirt domain prints a valid domain; --hugepages and --memfd exclude each other', { skip: noValidator }, () => {
  const args = ['libvirt', 'domain', '--socket', '/run/vnvme-test/cntrl', '--qemu', '/usr/bin/qemu-system-x86_64', '--syntax', 'json', '--accel', 'tcg', '--kernel', '/boot/vmlinuz', '--initrd', '/boot/initrd.img', '--cmdline', 'console=ttyS0', '--name', 'cli-test', '--mem', '2G'];
  for (const mem of ['--hugepages', '--memfd']) {
    const r = spawnSync(process.execPath, [bin, ...args, mem], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /does not exist yet/);
    assert.match(r.stdout, mem === '--memfd' ? /<source type='memfd'\/>/ : /<page size='2048' unit='KiB'\/>/);
    assert.match(r.stdout, /<memory unit='MiB'>2048<\/memory>/);
    assert.match(r.stdout, /<emulator>\/usr\/bin\/qemu-system-x86_64<\/emulator>/);
    assert.ok(validate(r.stdout).ok);
  }
  const both = spawnSync(process.execPath, [bin, ...args, '--hugepages', '--memfd'], { encoding: 'utf8' });
  assert.notEqual(both.status, 0);
  assert.match(both.stderr, /exclude each other/);
});

/** A QEMU that runs through a loader in a private tree, like the harness's Debian tree. */
function fakeTree(t: { after(fn: () => unknown): void }): { install: QemuInstall; tree: string } {
  const priv = mkdtempSync(join(tmpdir(), 'vnvme-priv-'));
  t.after(() => rmSync(priv, { recursive: true, force: true }));
  chmodSync(priv, 0o700);
  const tree = join(priv, 'debian-trixie-0123456789abcdef', 'tree');
  mkdirSync(join(tree, 'usr/lib'), { recursive: true });
  mkdirSync(join(tree, 'usr/share/qemu'), { recursive: true });
  writeFileSync(join(tree, 'usr/lib/ld.so'), '#!/bin/sh\necho "loader $QEMU_MODULE_DIR $*"\n');
  chmodSync(join(tree, 'usr/lib/ld.so'), 0o755);
  const install: QemuInstall = {
    source: 'debian-tree',
    command: join(tree, 'usr/lib/ld.so'),
    prefixArgs: ['--library-path', `${join(tree, 'usr/lib')}:${join(tree, 'lib')}`, join(tree, 'usr/bin/qemu-system-x86_64')],
    dataDirs: [join(tree, 'usr/share/qemu')],
    env: { QEMU_MODULE_DIR: join(tree, 'usr/lib/qemu') },
    version: '11.1.3',
    vfioUserSyntax: 'json',
    vfioUserMigration: false,
    description: 'fake tree QEMU',
  };
  return { install, tree };
}

test("staging: a QEMU in a private tree gets a copy libvirt's user can reach and a wrapper with every path moved", (t) => {
  const { install, tree } = fakeTree(t);
  assert.equal(installRoot(install), tree);
  assert.equal(reachableByOthers(install.command, true), false, 'the private tree is out of reach');
  const stage = mkdtempSync(join(tmpdir(), 'vnvme-stage-'));
  t.after(() => rmSync(stage, { recursive: true, force: true }));
  chmodSync(stage, 0o755);
  const wrapper = stageQemu(install, stage);
  assert.equal(wrapper, join(stage, 'qemu-system-x86_64'));
  assert.equal(statSync(wrapper).mode & 0o777, 0o755);
  const r = spawnSync(wrapper, ['-machine', 'none'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const copy = join(stage, 'qemu', 'tree');
  assert.equal(r.stdout.trim(), `loader ${copy}/usr/lib/qemu --library-path ${copy}/usr/lib:${copy}/lib ${copy}/usr/bin/qemu-system-x86_64 -L ${copy}/usr/share/qemu -machine none`);
  assert.ok(!readFileSync(wrapper, 'utf8').includes(tree), 'no path into the private tree is left');
  // A plain binary anyone can run is used as it is.
  assert.equal(stageQemu({ ...install, command: '/bin/sh', prefixArgs: [], dataDirs: [], env: {} }, stage), '/bin/sh');
});

test('staging the image: copies readable by others, the disk sparse and the domain its own', (t) => {
  const src = mkdtempSync(join(tmpdir(), 'vnvme-img-'));
  t.after(() => rmSync(src, { recursive: true, force: true }));
  chmodSync(src, 0o700);
  writeFileSync(join(src, 'vmlinuz'), 'k');
  writeFileSync(join(src, 'boot.cpio'), 'i');
  spawnSync('truncate', ['-s', '64M', join(src, 'root.ext4')]);
  const stage = join(mkdtempSync(join(tmpdir(), 'vnvme-stage-')), 'dom');
  t.after(() => rmSync(dirname(stage), { recursive: true, force: true }));
  chmodSync(dirname(stage), 0o755);
  const s = stageForLibvirt(stage, { kernel: join(src, 'vmlinuz'), initrd: join(src, 'boot.cpio'), disk: join(src, 'root.ext4') }, undefined);
  for (const f of [s.kernel, s.initrd, s.disk!]) assert.ok(reachableByOthers(f), f);
  assert.equal(statSync(s.disk!).size, 64 << 20);
  assert.ok(statSync(s.disk!).blocks * 512 < 1 << 20, 'sparse');
  assert.equal(s.emulator, undefined);
  assert.equal(s.serialLog, join(stage, 'serial.log'));
  const hidden = join(src, 'inner');
  assert.throws(() => stageForLibvirt(hidden, { kernel: join(src, 'vmlinuz'), initrd: join(src, 'boot.cpio') }, undefined), /cannot enter/);
});

// The QEMU command line: memory backends, vfio-user device syntax per QEMU flavour, the
// baseline NVMe, networking and control sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQemuArgs, memoryArgs, parseMiB, vfioUserDeviceArgs, type QemuLaunchSpec } from '../../harness/qemu/command-line.js';
import { qemuArgv, type QemuInstall } from '../../harness/qemu/install.js';

const spec: QemuLaunchSpec = {
  name: 'g1',
  accel: 'tcg',
  memMiB: 2048,
  smp: 2,
  memory: { kind: 'hugetlbfs', mountPoint: '/dev/hugepages' },
  kernel: '/k/vmlinuz',
  initrd: '/k/rootfs.cpio.zst',
  append: 'console=ttyS0',
  qmpSocket: '/run/g1/qmp.sock',
  serialLog: '/run/g1/serial.log',
  sshPort: 40022,
  vfioUser: [{ id: 'vfu0', socket: '/tmp/t/cntrl' }],
  vfioUserSyntax: 'json',
  baselineNvme: { id: 'nvme-baseline', backingFile: '/run/g1/base.raw', serial: 'BASE1', direct: true },
};

function after(args: string[], flag: string): string[] {
  const out: string[] = [];
  args.forEach((a, i) => {
    const next = args[i + 1];
    if (a === flag && next !== undefined) out.push(next);
  });
  return out;
}

test('hugetlbfs memory is a shared, preallocated memory-backend-file bound with -numa', () => {
  assert.deepEqual(memoryArgs({ kind: 'hugetlbfs', mountPoint: '/dev/hugepages' }, 2048), [
    '-m', '2048M',
    '-object', 'memory-backend-file,id=mem0,size=2048M,mem-path=/dev/hugepages,share=on,prealloc=on',
    '-numa', 'node,memdev=mem0',
  ]);
});

test('memfd memory is shared', () => {
  const args = memoryArgs({ kind: 'memfd' }, 1024);
  assert.equal(after(args, '-object')[0], 'memory-backend-memfd,id=mem0,size=1024M,share=on');
  assert.equal(after(args, '-m')[0], '1024M');
});

test('upstream vfio-user-pci takes the JSON form with a unix SocketAddress', () => {
  const [flag, dev] = vfioUserDeviceArgs({ id: 'vfu0', socket: '/a b/cntrl' }, 'json');
  assert.equal(flag, '-device');
  assert.deepEqual(JSON.parse(dev ?? ''), { driver: 'vfio-user-pci', id: 'vfu0', socket: { type: 'unix', path: '/a b/cntrl' } });
  assert.ok(!dev?.includes('socket.path'), 'the dotted form fails on QEMU 11.1');
});

test("Oracle's fork takes socket=PATH and x-enable-migration", () => {
  assert.deepEqual(vfioUserDeviceArgs({ id: 'v', socket: '/s/cntrl', migration: true }, 'oracle'), [
    '-device', 'vfio-user-pci,id=v,socket=/s/cntrl,x-enable-migration=on',
  ]);
  assert.deepEqual(vfioUserDeviceArgs({ id: 'v', socket: '/s/cntrl' }, 'oracle'), ['-device', 'vfio-user-pci,id=v,socket=/s/cntrl']);
  assert.deepEqual(vfioUserDeviceArgs({ id: 'v', socket: '/s/cntrl' }, 'oracle', 'rp0'), ['-device', 'vfio-user-pci,id=v,bus=rp0,socket=/s/cntrl']);
  assert.throws(() => vfioUserDeviceArgs({ id: 'v', socket: '/s,x/cntrl' }, 'oracle'), /comma/);
});

test('migration on upstream syntax is refused with a way out', () => {
  assert.throws(() => vfioUserDeviceArgs({ id: 'v', socket: '/s', migration: true }, 'json'), /oracle\/qemu/);
});

test('full command line: accel, kernel boot, serial, QMP, SSH forward on loopback, devices', () => {
  const args = buildQemuArgs(spec);
  assert.deepEqual(after(args, '-accel'), ['tcg']);
  assert.deepEqual(after(args, '-cpu'), ['max']);
  assert.deepEqual(after(args, '-kernel'), ['/k/vmlinuz']);
  assert.deepEqual(after(args, '-initrd'), ['/k/rootfs.cpio.zst']);
  assert.deepEqual(after(args, '-append'), ['console=ttyS0']);
  assert.deepEqual(after(args, '-serial'), ['file:/run/g1/serial.log']);
  assert.deepEqual(after(args, '-qmp'), ['unix:/run/g1/qmp.sock,server=on,wait=off']);
  assert.deepEqual(after(args, '-netdev'), ['user,id=net0,hostfwd=tcp:127.0.0.1:40022-:22']);
  assert.ok(args.includes('-no-reboot'));
  const devices = after(args, '-device');
  // NIC; root port + vfio-user; root port + baseline; two spare hotplug ports.
  assert.equal(devices.length, 7);
  assert.equal(devices[1], 'pcie-root-port,id=rp-vfu0,bus=pcie.0,chassis=1,slot=1');
  assert.deepEqual(JSON.parse(devices[2] ?? ''), { driver: 'vfio-user-pci', id: 'vfu0', bus: 'rp-vfu0', socket: { type: 'unix', path: '/tmp/t/cntrl' } });
  assert.equal(devices[3], 'pcie-root-port,id=rp-nvme-baseline,bus=pcie.0,chassis=2,slot=2');
  assert.equal(devices[4], 'nvme,id=nvme-baseline,bus=rp-nvme-baseline,serial=BASE1,drive=nvme-baseline-drive');
  assert.deepEqual(devices.slice(5), ['pcie-root-port,id=hp0,bus=pcie.0,chassis=3,slot=3', 'pcie-root-port,id=hp1,bus=pcie.0,chassis=4,slot=4']);
  assert.match(after(args, '-drive')[0] ?? '', /^file=\/run\/g1\/base\.raw,if=none,id=nvme-baseline-drive,format=raw,cache=none/);
  const onTmpfs = buildQemuArgs({ ...spec, baselineNvme: { ...spec.baselineNvme!, direct: false } });
  assert.match(after(onTmpfs, '-drive')[0] ?? '', /cache=writeback/);
});

test('a root disk is attached as virtio-blk with snapshot=on, so the image never changes', () => {
  const args = buildQemuArgs({ ...spec, rootDisk: '/k/root.ext4', baselineNvme: undefined });
  assert.deepEqual(after(args, '-drive'), ['file=/k/root.ext4,if=none,id=rootdisk,format=raw,snapshot=on']);
  assert.ok(after(args, '-device').includes('virtio-blk-pci,drive=rootdisk'));
});

test('KVM uses the host CPU', () => {
  const args = buildQemuArgs({ ...spec, accel: 'kvm', baselineNvme: undefined, vfioUser: [] });
  assert.deepEqual(after(args, '-accel'), ['kvm']);
  assert.deepEqual(after(args, '-cpu'), ['host']);
  assert.equal(after(args, '-device').length, 3, 'the NIC and two hotplug ports');
});

test('bad sizes are refused', () => {
  assert.throws(() => buildQemuArgs({ ...spec, memMiB: 100 }), /too small/);
  assert.throws(() => buildQemuArgs({ ...spec, smp: 0 }), /smp/);
});

test('parseMiB reads G/M/plain MiB and rejects fractions of a MiB', () => {
  assert.equal(parseMiB('2G'), 2048);
  assert.equal(parseMiB('512M'), 512);
  assert.equal(parseMiB('1024'), 1024);
  assert.equal(parseMiB('1.5G'), 1536);
  assert.equal(parseMiB('2GiB'), 2048);
  assert.throws(() => parseMiB('abc'), /cannot read/);
  assert.throws(() => parseMiB('1K'), /whole/);
});

test('a relocated tree runs through its loader, firmware directories first', () => {
  const q: QemuInstall = {
    source: 'debian-tree', command: '/t/ld.so', prefixArgs: ['--library-path', '/t/lib', '/t/qemu'], dataDirs: ['/t/share/qemu', '/t/share/seabios'],
    env: {}, version: '11.1.3', vfioUserSyntax: 'json', vfioUserMigration: false, description: 'x',
  };
  assert.deepEqual(qemuArgv(q, ['-version']), ['--library-path', '/t/lib', '/t/qemu', '-L', '/t/share/qemu', '-L', '/t/share/seabios', '-version']);
});

// Which user and group libvirt runs QEMU as (the group `vnvme target --socket-group` must give
// the listener socket): qemu.conf's settings, else Debian's default user and its primary group.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { libvirtQemuAccount } from '../../harness/libvirt/daemon.js';

test('qemu.conf user/group win; commented ones do not count', () => {
  assert.deepEqual(libvirtQemuAccount('user = "qemu"\ngroup = "qemu"\n'), { user: 'qemu', group: 'qemu' });
  assert.deepEqual(libvirtQemuAccount('#user = "x"\n  group = "kvm"\n'), { user: 'libvirt-qemu', group: 'kvm' });
});

test("without a group setting: the user's primary group (kvm for Debian's libvirt-qemu), else kvm", () => {
  const primary = spawnSync('id', ['-gn', 'libvirt-qemu'], { encoding: 'utf8' });
  const expected = primary.status === 0 ? primary.stdout.trim() : 'kvm';
  assert.deepEqual(libvirtQemuAccount('#group = "libvirt-qemu"\n'), { user: 'libvirt-qemu', group: expected });
});

// .ci/prepare-runner: its dry run names every step and changes nothing on this machine; bad
// options are refused; the script parses. (It ran for real here once: see the README's "CI on
// KVM runners"; a second run reports 0 changes.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const script = join(root, '.ci', 'prepare-runner');

function state(): string {
  const nr = existsSync('/proc/sys/vm/nr_hugepages') ? readFileSync('/proc/sys/vm/nr_hugepages', 'utf8').trim() : '-';
  const mounts = readFileSync('/proc/mounts', 'utf8').split('\n').filter((l) => l.includes('hugetlbfs')).join(';');
  const rule = existsSync('/etc/udev/rules.d/99-vnvme-kvm.rules') ? readFileSync('/etc/udev/rules.d/99-vnvme-kvm.rules', 'utf8') : 'none';
  const kvm = existsSync('/dev/kvm') ? statSync('/dev/kvm').mode.toString(8) : 'none';
  return JSON.stringify({ nr, mounts, rule, kvm });
}

test('prepare-runner is executable bash that parses', () => {
  assert.ok((statSync(script).mode & 0o111) !== 0, 'executable');
  assert.match(readFileSync(script, 'utf8').split('\n')[0]!, /^#!\/usr\/bin\/env bash$/);
  const r = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
});

test('--dry-run reports each step (packages, KVM rule, hugepages, hugetlbfs, probe) and changes nothing', () => {
  const before = state();
  const r = spawnSync(script, ['--dry-run', '--hugepages', '4096', '--with-libvirt', '--with-qemu-build'], { encoding: 'utf8', cwd: root });
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /prepare-runner: (would change: apt-get install|packages: all \d+ present|packages: not a Debian)/);
  assert.match(out, /prepare-runner: (would change: wrote \/etc\/udev\/rules\.d\/99-vnvme-kvm\.rules: KERNEL=="kvm", GROUP="kvm", MODE="0666"|kvm udev rule: .* already in place)/);
  assert.match(out, /prepare-runner: kvm: /);
  assert.match(out, /prepare-runner: (would change: vm\.nr_hugepages \d+ -> 4096|hugepages: \d+ x 2 MiB reserved|hugepages: the kernel has no)/);
  assert.match(out, /would run: node bin\/vnvme\.js vm accel/);
  assert.match(out, /dry run: \d+ change\(s\) would be made/);
  assert.doesNotMatch(out, /prepare-runner: changed:/);
  assert.equal(state(), before, 'nothing on the host changed');
});

test('bad options are refused with exit status 2', () => {
  for (const args of [['--hugepages', 'lots'], ['--frobnicate']]) {
    const r = spawnSync(script, ['--dry-run', ...args], { encoding: 'utf8', cwd: root });
    assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
  }
});

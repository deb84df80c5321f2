// The vfio-user listener socket DIR/cntrl: 0600 and ours by default; with `vnvme target
// --socket-owner/--socket-group/--socket-mode` (daemon option listenerSocketPermissions) it gets
// that owner, group and mode, so QEMU under libvirt (user libvirt-qemu, group kvm) can connect
// while the target does not run QEMU as root.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TargetDaemon } from '../../target/daemon.js';
import { Logger } from '../../target/log.js';
import { JsonRpcClient } from '../../harness/rpc/client.js';
import { groupId, userId } from '../../target/account-ids.js';
import type { SocketPermissions } from '../../target/rpc/socket-perms.js';
import { sleep } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'vnvme.js');
const quiet = () => Logger.create({ level: 'error', sink: { write: () => {} } });
const asRoot = process.geteuid?.() !== 0 && 'needs root to chown';

async function listenerStat(t: { after(fn: () => unknown): void }, perms?: SocketPermissions) {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-lperm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const d = await TargetDaemon.start({ rpcSocket: join(dir, 'spdk.sock'), log: quiet(), listenerSocketPermissions: perms });
  t.after(() => d.stop());
  const c = await JsonRpcClient.connect(join(dir, 'spdk.sock'));
  t.after(() => c.close());
  const nqn = 'nqn.2019-07.io.spdk:perm';
  await c.call('nvmf_create_transport', { trtype: 'VFIOUSER' });
  await c.call('bdev_malloc_create', { name: 'M0', num_blocks: 2048, block_size: 512 });
  await c.call('nvmf_create_subsystem', { nqn, allow_any_host: true });
  await c.call('nvmf_subsystem_add_ns', { nqn, namespace: { bdev_name: 'M0' } });
  const ep = join(dir, 'ep');
  mkdirSync(ep, { mode: 0o750 });
  await c.call('nvmf_subsystem_add_listener', { nqn, listen_address: { trtype: 'VFIOUSER', adrfam: 'IPv4', traddr: ep, trsvcid: '0' } });
  return statSync(join(ep, 'cntrl'));
}

test('by default the listener socket is 0600 and ours', async (t) => {
  const st = await listenerStat(t);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o7777, 0o600);
  assert.equal(st.uid, process.geteuid!());
});

test('listenerSocketPermissions: owner, group and mode of DIR/cntrl as asked', { skip: asRoot }, async (t) => {
  const gid = groupId('nogroup');
  const st = await listenerStat(t, { uid: 65534, gid, mode: 0o660 });
  assert.equal(st.uid, 65534);
  assert.equal(st.gid, gid);
  assert.equal(st.mode & 0o7777, 0o660);
  const only = await listenerStat(t, { mode: 0o660 });
  assert.equal(only.mode & 0o7777, 0o660, 'a mode alone');
});

test('vnvme target --socket-owner/--socket-group/--socket-mode; bad values refused', { skip: asRoot }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-lperm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'spdk.sock');
  const child = spawn(process.execPath, [bin, 'target', '-r', sock, '--socket-owner', 'nobody', '--socket-group', 'nogroup', '--socket-mode', '0660'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  t.after(() => child.kill('SIGKILL'));
  for (let i = 0; i < 400 && !existsSync(sock); i++) await sleep(25);
  assert.ok(existsSync(sock), out);
  const ep = join(dir, 'ep');
  mkdirSync(ep, { mode: 0o700 });
  const rpc = (...a: string[]) => spawnSync(process.execPath, [bin, 'rpc', '-s', sock, ...a], { encoding: 'utf8' });
  for (const a of [
    ['nvmf_create_transport', '-t', 'VFIOUSER'],
    ['bdev_malloc_create', '-b', 'M0', '1', '512'],
    ['nvmf_create_subsystem', 'nqn.2019-07.io.spdk:p', '-a'],
    ['nvmf_subsystem_add_ns', 'nqn.2019-07.io.spdk:p', 'M0'],
    ['nvmf_subsystem_add_listener', 'nqn.2019-07.io.spdk:p', '-t', 'VFIOUSER', '-a', ep, '-s', '0'],
  ]) {
    const r = rpc(...a);
    assert.equal(r.status, 0, `${a.join(' ')}: ${r.stdout}${r.stderr}`);
  }
  const st = statSync(join(ep, 'cntrl'));
  assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [userId('nobody'), groupId('nogroup'), 0o660]);
  assert.equal(statSync(sock).mode & 0o7777, 0o600, 'the RPC socket keeps its own (private) permissions');
  for (const bad of [['--socket-mode', '9'], ['--socket-group', 'no-such-group-xyz'], ['--socket-owner', 'no-such-user-xyz']]) {
    const r = spawnSync(process.execPath, [bin, 'target', '-r', join(dir, 'x.sock'), ...bad], { encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(r.status, 0, `${bad.join(' ')} is refused: ${r.stdout}${r.stderr}`);
  }
});

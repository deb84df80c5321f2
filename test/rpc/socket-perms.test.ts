// The RPC socket is 0600 whatever the umask (under umask 000 it used to be 0777: any local user
// could bdev_aio_create /etc/shadow), and takes an owner, group and mode when asked, from the
// daemon's options and from `vnvme target --rpc-socket-owner/-group/-mode`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TargetDaemon } from '../../target/daemon.js';
import { Logger } from '../../target/log.js';
import { JsonRpcClient } from '../../harness/rpc/client.js';
import { groupId, userId } from '../../target/account-ids.js';
import { parseSocketMode } from '../../target/rpc/socket-perms.js';
import { sleep } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'vnvme.js');
const quiet = () => Logger.create({ level: 'error', sink: { write: () => {} } });

function scratch(t: { after(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-perm-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('under umask 000 the RPC socket is still 0600 and ours', async (t) => {
  const sock = join(scratch(t), 'spdk.sock');
  const old = process.umask(0);
  let d: TargetDaemon;
  try {
    d = await TargetDaemon.start({ rpcSocket: sock, log: quiet() });
  } finally {
    process.umask(old);
  }
  t.after(() => d.stop());
  const st = statSync(sock);
  assert.ok(st.isSocket());
  assert.equal(st.mode & 0o7777, 0o600, `mode 0${(st.mode & 0o7777).toString(8)}`);
  assert.equal(st.uid, process.geteuid!());
  assert.equal(process.umask(), old, 'the umask is restored');
  const c = await JsonRpcClient.connect(sock);
  assert.match(((await c.call('spdk_get_version')) as { version: string }).version, /SPDK/);
  c.close();
});

test('owner, group and mode of the RPC socket as asked (libvirt: QEMU runs as another user)', { skip: process.geteuid?.() !== 0 && 'needs root to chown' }, async (t) => {
  const sock = join(scratch(t), 'spdk.sock');
  const gid = groupId('nogroup');
  const old = process.umask(0);
  let d: TargetDaemon;
  try {
    d = await TargetDaemon.start({ rpcSocket: sock, log: quiet(), rpcSocketPermissions: { uid: 65534, gid, mode: 0o660 } });
  } finally {
    process.umask(old);
  }
  t.after(() => d.stop());
  const st = statSync(sock);
  assert.equal(st.uid, 65534);
  assert.equal(st.gid, gid);
  assert.equal(st.mode & 0o7777, 0o660);
});

test('vnvme target --rpc-socket-owner/--rpc-socket-group/--rpc-socket-mode; bad values refused', { skip: process.geteuid?.() !== 0 && 'needs root to chown' }, async (t) => {
  const dir = scratch(t);
  const sock = join(dir, 'spdk.sock');
  // umask 000 for the child too: the shell's umask must not matter.
  const child = spawn('/bin/sh', ['-c', 'umask 000; exec "$0" "$@"', process.execPath, bin, 'target', '-r', sock, '--rpc-socket-owner', 'nobody', '--rpc-socket-group', 'nogroup'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exit = new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
  t.after(() => child.kill('SIGKILL'));
  for (let i = 0; i < 400 && !existsSync(sock); i++) await sleep(25);
  assert.ok(existsSync(sock), out);
  const st = statSync(sock);
  assert.equal(st.uid, userId('nobody'));
  assert.equal(st.gid, groupId('nogroup'));
  assert.equal(st.mode & 0o7777, 0o600, 'mode stays 0600 unless asked');
  child.kill('SIGTERM');
  assert.equal(await exit, 0, out);

  assert.equal(parseSocketMode('0660'), 0o660);
  assert.equal(parseSocketMode('600'), 0o600);
  for (const bad of ['0999', '4755', 'rw', '']) assert.throws(() => parseSocketMode(bad), /octal/, bad);
  assert.throws(() => userId('no-such-user-vnvme'), /no user named/);
  const bad = spawn(process.execPath, [bin, 'target', '-r', join(dir, 'b.sock'), '--rpc-socket-mode', 'wide'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let badOut = '';
  bad.stderr.on('data', (d) => (badOut += d));
  assert.equal(await new Promise((res) => bad.on('exit', res)), 1);
  assert.match(badOut, /invalid socket mode 'wide'/);
  assert.ok(!existsSync(join(dir, 'b.sock')));
});

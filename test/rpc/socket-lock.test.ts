// `<sock>.lock` in a world-writable directory trusts nothing it finds there: a planted symlink
// (at the lock, or at the temporary name the lock used to be written through) is refused and
// its target left alone; a file of another user is refused; a garbage pid, a dead pid or the
// pid of an unrelated live process does not stop a target; a running target's lock does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TargetDaemon } from '../../target/daemon.js';
import { Logger } from '../../target/log.js';
import { JsonRpcClient } from '../../harness/rpc/client.js';
import { sleep } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'vnvme.js');
const quiet = () => Logger.create({ level: 'error', sink: { write: () => {} } });

function scratch(t: { after(fn: () => unknown): void }): { dir: string; sock: string; lock: string } {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'spdk.sock');
  return { dir, sock, lock: `${sock}.lock` };
}

async function startsAndServes(sock: string): Promise<void> {
  const d = await TargetDaemon.start({ rpcSocket: sock, log: quiet() });
  try {
    assert.equal(readFileSync(`${sock}.lock`, 'utf8'), `${process.pid}\n`, 'the lock now holds our pid');
    const c = await JsonRpcClient.connect(sock);
    assert.match(((await c.call('spdk_get_version')) as { version: string }).version, /SPDK/);
    c.close();
  } finally {
    await d.stop();
  }
  assert.ok(!existsSync(`${sock}.lock`), 'the lock is removed on stop');
}

test('a symlink planted at the lock path is refused and its target left untouched', async (t) => {
  const { dir, sock, lock } = scratch(t);
  const precious = join(dir, 'precious');
  writeFileSync(precious, 'do not touch\n');
  symlinkSync(precious, lock);
  await assert.rejects(TargetDaemon.start({ rpcSocket: sock, log: quiet() }), /spdk\.sock\.lock is a symbolic link; refusing.*remove it/);
  assert.equal(readFileSync(precious, 'utf8'), 'do not touch\n');
  assert.ok(lstatSync(lock).isSymbolicLink(), 'the symlink itself is left for the admin to look at');
  assert.ok(!existsSync(sock), 'no RPC socket was made');
  // A dangling symlink (to a file root would create) is refused the same way.
  rmSync(lock);
  symlinkSync(join(dir, 'created-through-link'), lock);
  await assert.rejects(TargetDaemon.start({ rpcSocket: sock, log: quiet() }), /symbolic link/);
  assert.ok(!existsSync(join(dir, 'created-through-link')));
});

test('a symlink at the old predictable temporary name is never opened', async (t) => {
  const { dir, sock, lock } = scratch(t);
  const precious = join(dir, 'precious');
  writeFileSync(precious, 'do not touch\n');
  symlinkSync(precious, `${lock}.${process.pid}.tmp`); // the name the lock used to be written through
  await startsAndServes(sock);
  assert.equal(readFileSync(precious, 'utf8'), 'do not touch\n');
});

test('a lock that is not a regular file of ours is refused', { skip: process.geteuid?.() !== 0 && 'needs root to chown' }, async (t) => {
  const { sock, lock } = scratch(t);
  writeFileSync(lock, '1\n');
  chownSync(lock, 65534, 65534);
  await assert.rejects(TargetDaemon.start({ rpcSocket: sock, log: quiet() }), /owned by uid 65534, not by us.*remove it/);
  assert.equal(readFileSync(lock, 'utf8'), '1\n', 'left as it was');
  rmSync(lock);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(lock);
  await assert.rejects(TargetDaemon.start({ rpcSocket: sock, log: quiet() }), /lock/);
});

test('garbage, out-of-range, dead and unrelated live pids in the lock do not stop a target', async (t) => {
  const { sock, lock } = scratch(t);
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  t.after(() => sleeper.kill('SIGKILL'));
  await new Promise((r) => sleeper.once('spawn', r));
  const dead = spawn('true');
  await new Promise((r) => dead.once('exit', r));
  for (const content of ['garbage\n', '', '-5\n', '99999999999\n', '0\n', '1e3\n', `${'1'.repeat(100)}\n`, `${dead.pid}\n`, `${sleeper.pid}\n`, `${process.pid}\n`, '1\n']) {
    writeFileSync(lock, content, { mode: 0o600 });
    await startsAndServes(sock);
  }
});

test("a running target's lock refuses a second target, which leaves both lock and socket alone", async (t) => {
  const { sock, lock } = scratch(t);
  const first = spawn(process.execPath, [bin, 'target', '-r', sock], { stdio: 'ignore' });
  t.after(() => first.kill('SIGKILL'));
  for (let i = 0; i < 400 && !existsSync(sock); i++) await sleep(25);
  assert.ok(existsSync(sock));
  await assert.rejects(TargetDaemon.start({ rpcSocket: sock, log: quiet() }), new RegExp(`another target \\(pid ${first.pid}\\) holds`));
  assert.equal(readFileSync(lock, 'utf8').trim(), String(first.pid));
  const c = await JsonRpcClient.connect(sock);
  assert.match(((await c.call('spdk_get_version')) as { version: string }).version, /SPDK/);
  c.close();
  // A socket that answers is someone's even when the lock names nobody: not removed.
  writeFileSync(lock, 'garbage\n');
  await assert.rejects(TargetDaemon.start({ rpcSocket: sock, log: quiet() }), /serving .*spdk\.sock|another target/);
  assert.ok(existsSync(sock));
  first.kill('SIGTERM');
  await new Promise((r) => first.once('exit', r));
});

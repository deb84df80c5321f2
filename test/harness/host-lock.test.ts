// The host-wide lock that keeps guests booting at once (--jobs N) from counting the same free
// hugepages: one holder at a time across processes, a dead holder's lock taken over.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { acquireHostLock, acquireHostLockSync, tryHostLock } from '../../harness/host-lock.js';
import { cacheDir } from '../../harness/cache.js';

const name = `test-${process.pid}`;
const lockFile = (): string => (process.getuid?.() === 0 ? join('/run/vnvme', `${name}.lock`) : join(cacheDir('locks'), `${name}.lock`));

test('one holder at a time; released, it can be taken again', async () => {
  const a = await acquireHostLock(name);
  assert.equal(tryHostLock(name), undefined, 'held: no second holder');
  assert.equal(acquireHostLockSync(name, 200), undefined);
  await assert.rejects(acquireHostLock(name, 300), /held by pid \d+/);
  a.release();
  const b = tryHostLock(name);
  assert.ok(b, 'free again');
  b.release();
  b.release();
  assert.equal(existsSync(lockFile()), false);
});

test('another process holding it makes us wait; its death frees the lock', async () => {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise((r) => child.once('spawn', r));
  mkdirSync(join(lockFile(), '..'), { recursive: true });
  writeFileSync(lockFile(), String(child.pid));
  assert.equal(tryHostLock(name), undefined, 'a live holder keeps it');
  const waiting = acquireHostLock(name, 10_000);
  setTimeout(() => child.kill('SIGKILL'), 300);
  const lock = await waiting;
  lock.release();
});

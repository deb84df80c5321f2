// A failed nvmf_subsystem_add_listener leaves the target alive and its state unchanged: a
// directory that already holds a `bar0` file, or a path where no socket can be made, gets a
// JSON-RPC error, and the target still answers well after (a timer of the half-built endpoint
// used to fire a second later and kill it).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'vnvme.js');
const NQN = 'nqn.2019-07.io.spdk:cnode0';

test('a failed nvmf_subsystem_add_listener leaves the target serving and unchanged', { timeout: 60_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-lsn-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'spdk.sock');
  const tgt = spawn(process.execPath, [bin, 'target', '-r', sock], { stdio: 'ignore' });
  let exited = false;
  tgt.on('exit', () => (exited = true));
  t.after(() => tgt.kill('SIGKILL'));
  for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  const rpc = (...args: string[]) => {
    try {
      return { status: 0, out: execFileSync(process.execPath, [bin, 'rpc', '-s', sock, ...args], { encoding: 'utf8', stdio: 'pipe' }) };
    } catch (err) {
      const e = err as { status: number; stdout: string; stderr: string };
      return { status: e.status, out: `${e.stdout}${e.stderr}` };
    }
  };
  assert.equal(rpc('nvmf_create_transport', '-t', 'VFIOUSER').status, 0);
  assert.equal(rpc('bdev_malloc_create', '8', '512', '-b', 'Malloc0').status, 0);
  assert.equal(rpc('nvmf_create_subsystem', NQN, '-a', '-s', 'SPDK0').status, 0);
  assert.equal(rpc('nvmf_subsystem_add_ns', NQN, 'Malloc0').status, 0);
  const withBar0 = join(dir, 'ep-bar0');
  mkdirSync(withBar0);
  writeFileSync(join(withBar0, 'bar0'), 'x');
  for (const addr of [withBar0, '/proc']) {
    const r = rpc('nvmf_subsystem_add_listener', NQN, '-t', 'VFIOUSER', '-a', addr, '-s', '0');
    assert.notEqual(r.status, 0, `${addr}: refused`);
    assert.match(r.out, /Got JSON-RPC error response/, addr);
  }
  await new Promise((r) => setTimeout(r, 2500)); // past the 1 s timer that used to fire
  assert.equal(exited, false, 'the target is still running');
  const subs = JSON.parse(rpc('nvmf_get_subsystems', NQN).out) as Array<{ listen_addresses: unknown[] }>;
  assert.deepEqual(subs[0]?.listen_addresses, [], 'no listener was added');
  const ok = join(dir, 'ep');
  mkdirSync(ok);
  assert.equal(rpc('nvmf_subsystem_add_listener', NQN, '-t', 'VFIOUSER', '-a', ok, '-s', '0').status, 0, 'a good listener still works');
  assert.ok(existsSync(join(ok, 'cntrl')));
});

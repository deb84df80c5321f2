// End to end through the command line: `vnvme target` spawned, the six commands run
// with `vnvme rpc`, our initiator attached to DIR/cntrl; the lock refusing a second target;
// SIGTERM/SIGINT shutdown removing sockets; starting from a saved config with -c.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NvmeDriver } from '../../harness/initiator/nvme-driver.js';
import { sleep } from './helpers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'vnvme.js');
const NQN = 'nqn.2019-07.io.spdk:cnode0';

interface Spawned {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<number | null>;
}

function spawnTarget(args: string[], env: NodeJS.ProcessEnv = process.env): Spawned {
  const child = spawn(process.execPath, [bin, 'target', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  child.stdout!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  return { child, stderr: () => err, exit };
}

async function waitFor(path: string, ms = 10000): Promise<void> {
  const until = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > until) throw new Error(`${path} did not appear`);
    await sleep(25);
  }
}

function rpc(sock: string, ...args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((res) => {
    const child = spawn(process.execPath, [bin, 'rpc', '-s', sock, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (status) => res({ status, out }));
  });
}

test('vnvme target + the six vnvme rpc commands; the initiator attaches to DIR/cntrl; SIGTERM cleans up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'spdk.sock');
  const ep = join(dir, 'vnvme');
  const tgt = spawnTarget(['-r', sock]);
  t.after(() => tgt.child.kill('SIGKILL'));
  await waitFor(sock);
  assert.equal(readFileSync(`${sock}.lock`, 'utf8').trim(), String(tgt.child.pid));
  mkdirSync(ep, { recursive: true });

  const steps: string[][] = [
    ['nvmf_create_transport', '-t', 'VFIOUSER'],
    ['bdev_malloc_create', '512', '512', '-b', 'Malloc0'],
    ['nvmf_create_subsystem', NQN, '-a', '-s', 'SPDK0'],
    ['nvmf_subsystem_add_ns', NQN, 'Malloc0'],
    ['nvmf_subsystem_add_listener', NQN, '-t', 'VFIOUSER', '-a', ep, '-s', '0'],
  ];
  const outs: string[] = [];
  for (const s of steps) {
    const r = await rpc(sock, ...s);
    assert.equal(r.status, 0, `${s.join(' ')}: ${r.out}\n${tgt.stderr()}`);
    outs.push(r.out);
  }
  assert.equal(outs[1], 'Malloc0\n'); // printed as rpc.py prints a string result
  assert.ok(existsSync(join(ep, 'cntrl')));

  // A bad request: clear error, exit status 1, as rpc.py.
  const dup = await rpc(sock, 'bdev_malloc_create', '8', '512', '-b', 'Malloc0');
  assert.equal(dup.status, 1);
  assert.match(dup.out, /"code": -17/);
  assert.match(dup.out, /Got JSON-RPC error response/);

  // Our initiator drives the controller behind DIR/cntrl.
  const drv = await NvmeDriver.attach(join(ep, 'cntrl'));
  try {
    const id = await drv.identify(1);
    assert.equal(id.toString('ascii', 4, 24).trim(), 'SPDK0');
    const ns = await drv.identify(0, 1);
    assert.equal(ns.readBigUInt64LE(0), BigInt((512 * 1024 * 1024) / 512));
    const q = await drv.createIoQueuePair(1, 16);
    const buf = drv.alloc(4096);
    const data = Buffer.alloc(4096);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    drv.write(buf, data);
    assert.equal((await drv.io(q, 0x01, 1, 100n, 8, buf, 4096)).status, 0);
    drv.write(buf, Buffer.alloc(4096));
    assert.equal((await drv.io(q, 0x02, 1, 100n, 8, buf, 4096)).status, 0);
    assert.deepEqual(drv.read(buf, 4096), data);
    const ctrlrs = await rpc(sock, 'nvmf_subsystem_get_controllers', NQN);
    assert.equal(ctrlrs.status, 0);
    assert.equal(JSON.parse(ctrlrs.out).length, 1);
    const iostat = await rpc(sock, 'bdev_get_iostat', '--names', 'Malloc0');
    // (I/O the native engine serves straight from the memfd is not yet counted in bdev stats)
    assert.equal(JSON.parse(iostat.out).bdevs[0].name, 'Malloc0');
  } finally {
    drv.close();
  }

  tgt.child.kill('SIGTERM');
  assert.equal(await tgt.exit, 0, tgt.stderr());
  assert.ok(!existsSync(sock), 'RPC socket removed');
  assert.ok(!existsSync(`${sock}.lock`), 'lock removed');
  assert.ok(!existsSync(join(ep, 'cntrl')), 'vfio-user socket removed');
  assert.match(tgt.stderr(), /SIGTERM received/);
});

test('a second target on the same RPC socket is refused; SIGINT stops the first', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'spdk.sock');
  const first = spawnTarget(['-r', sock]);
  t.after(() => first.child.kill('SIGKILL'));
  await waitFor(sock);
  const second = spawnTarget(['-r', sock]);
  assert.equal(await second.exit, 1);
  assert.match(second.stderr(), new RegExp(`another target \\(pid ${first.child.pid}\\)`));
  // the first still serves
  const v = await rpc(sock, 'spdk_get_version');
  assert.equal(v.status, 0);
  assert.match(v.out, /SPDK v26/);
  first.child.kill('SIGINT');
  assert.equal(await first.exit, 0);
  assert.ok(!existsSync(sock));
  // A stale lock (dead pid) and a stale socket file do not stop the next target.
  writeFileSync(`${sock}.lock`, '999999\n');
  const third = spawnTarget(['-r', sock, '--log-level', 'debug', '-L', 'rpc']);
  t.after(() => third.child.kill('SIGKILL'));
  await waitFor(sock);
  const k = await rpc(sock, 'spdk_kill_instance', 'SIGTERM');
  assert.equal(k.status, 0, k.out);
  assert.equal(await third.exit, 0);
  assert.match(third.stderr(), /DEBUG: RPC call/);
});

test('vnvme target -c starts from a saved config; --help works for every subcommand', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'spdk.sock');
  const cfg = join(dir, 'config.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      subsystems: [
        { subsystem: 'bdev', config: [{ method: 'bdev_null_create', params: { name: 'Null0', num_blocks: 64, block_size: 512 } }] },
        { subsystem: 'nvmf', config: [{ method: 'nvmf_create_subsystem', params: { nqn: NQN, serial_number: 'CFG0' } }] },
        { subsystem: 'accel', config: [{ method: 'accel_set_options', params: {} }] },
      ],
    }),
  );
  const tgt = spawnTarget(['-r', sock, '-c', cfg]);
  t.after(() => tgt.child.kill('SIGKILL'));
  await waitFor(sock);
  const r = await rpc(sock, 'nvmf_get_subsystems', NQN);
  assert.equal(r.status, 0, r.out);
  assert.equal(JSON.parse(r.out)[0].serial_number, 'CFG0');
  assert.match(tgt.stderr(), /skipping subsystem 'accel'/);
  tgt.child.kill('SIGTERM');
  assert.equal(await tgt.exit, 0);

  // a broken config stops the start with a clear message
  writeFileSync(cfg, JSON.stringify({ subsystems: [{ subsystem: 'bdev', config: [{ method: 'bdev_malloc_create', params: { name: 'X' } }] }] }));
  const bad = spawnTarget(['-r', sock, '-c', cfg]);
  assert.equal(await bad.exit, 1);
  assert.match(bad.stderr(), /bdev_malloc_create failed.*num_blocks/);
  assert.ok(!existsSync(`${sock}.lock`));

  for (const args of [['target', '--help'], ['rpc', '--help'], ['rpc', 'nvmf_subsystem_add_listener', '--help']]) {
    const h = await new Promise<string>((res) => {
      const c = spawn(process.execPath, [bin, ...args]);
      let out = '';
      c.stdout.on('data', (d) => (out += d));
      c.on('exit', () => res(out));
    });
    assert.match(h, /Usage: vnvme/);
  }
});

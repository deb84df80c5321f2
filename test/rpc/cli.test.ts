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
import { JsonRpcClient } from '../../harness/rpc/client.js';
import { Command } from 'commander';
import { register } from '../../target/cli.js';
import { runRpcCli } from '../../harness/rpc/cli.js';
import { COMMANDS } from '../../harness/rpc/commands.js';

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

/** Waits for the target's RPC socket; fails early, with its log, if the target exits. */
async function waitFor(path: string, tgt: Spawned, ms = 30000): Promise<void> {
  const until = Date.now() + ms;
  let exited = false;
  void tgt.exit.then(() => (exited = true));
  while (!existsSync(path)) {
    if (exited || Date.now() > until) throw new Error(`${path} did not appear${exited ? ' (target exited)' : ''}:\n${tgt.stderr()}`);
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
  await waitFor(sock, tgt);
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
    const c = await JsonRpcClient.connect(sock);
    assert.equal(((await c.call('nvmf_subsystem_get_controllers', { nqn: NQN })) as unknown[]).length, 1);
    c.close();
    // Shut down with the client still attached: the target tells it and goes.
    tgt.child.kill('SIGTERM');
    assert.equal(await tgt.exit, 0, tgt.stderr());
  } finally {
    drv.close();
  }
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
  await waitFor(sock, first);
  const second = spawnTarget(['-r', sock]);
  assert.equal(await second.exit, 1, second.stderr());
  assert.match(second.stderr(), new RegExp(`another target \\(pid ${first.child.pid}\\)`));
  // the first still serves
  const c = await JsonRpcClient.connect(sock);
  assert.match(((await c.call('spdk_get_version')) as { version: string }).version, /SPDK v26/);
  c.close();
  first.child.kill('SIGINT');
  assert.equal(await first.exit, 0);
  assert.ok(!existsSync(sock));
  // A stale lock (dead pid) and a stale socket file do not stop the next target.
  writeFileSync(`${sock}.lock`, `${second.child.pid}\n`); // a pid that has exited
  const third = spawnTarget(['-r', sock, '--log-level', 'debug', '-L', 'rpc']);
  t.after(() => third.child.kill('SIGKILL'));
  await waitFor(sock, third);
  const c3 = await JsonRpcClient.connect(sock);
  assert.equal(await c3.call('spdk_kill_instance', { sig_name: 'SIGTERM' }), true);
  c3.close();
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
  await waitFor(sock, tgt);
  const c = await JsonRpcClient.connect(sock);
  assert.equal(((await c.call('nvmf_get_subsystems', { nqn: NQN })) as Array<{ serial_number: string }>)[0].serial_number, 'CFG0');
  c.close();
  assert.match(tgt.stderr(), /skipping subsystem 'accel'/);
  tgt.child.kill('SIGTERM');
  assert.equal(await tgt.exit, 0);

  // a broken config stops the start with a clear message
  writeFileSync(cfg, JSON.stringify({ subsystems: [{ subsystem: 'bdev', config: [{ method: 'bdev_malloc_create', params: { name: 'X' } }] }] }));
  const bad = spawnTarget(['-r', sock, '-c', cfg]);
  assert.equal(await bad.exit, 1);
  assert.match(bad.stderr(), /bdev_malloc_create failed.*num_blocks/);
  assert.ok(!existsSync(`${sock}.lock`));

  // --help of every subcommand (in-process: the text is commander's, from the same specs)
  const help = await runRpcCli(['nvmf_subsystem_add_listener', '--help']);
  assert.equal(help.status, 0);
  assert.match(help.output, /Usage: vnvme rpc nvmf_subsystem_add_listener \[options\] <nqn>/);
  assert.match(help.output, /-a, --traddr <traddr>/);
  for (const spec of COMMANDS) assert.equal((await runRpcCli([spec.name, '--help'])).status, 0, spec.name);
  let targetHelp = '';
  const program = new Command('vnvme').exitOverride().configureOutput({ writeOut: (t) => (targetHelp += t) });
  register(program);
  await assert.rejects(program.parseAsync(['target', '--help'], { from: 'user' }), (e: { exitCode?: number }) => e.exitCode === 0);
  assert.match(targetHelp, /-r, --rpc-socket <path>/);
  assert.match(targetHelp, /-L, --logflag <flag>/);
});

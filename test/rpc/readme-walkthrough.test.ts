// The README's target walkthrough, typed as printed: every line of the block under "The target,
// as SPDK users drive it" runs verbatim in bash (npx in the checkout, the default RPC socket
// /var/tmp/spdk.sock, the listener /var/run/vnvme). After the `npx vnvme target &` line the test
// waits for the RPC socket, as a user waits for the start message. Then the target serves the
// configured namespace, and SIGTERM to the pid the shell got from `&` stops it and removes its
// sockets. Also `vnvme rpc < commands.txt` (script mode) with method options -t/-s/-a.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { socketAnswers } from '../../target/nvmf/target.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SOCK = '/var/tmp/spdk.sock';

function readmeBlock(): string[] {
  const text = readFileSync(join(root, 'README.md'), 'utf8');
  const at = text.indexOf('## The target, as SPDK users drive it');
  assert.ok(at >= 0, 'README has the walkthrough section');
  const m = /```\n([\s\S]*?)```/.exec(text.slice(at));
  assert.ok(m, 'walkthrough code block');
  return m[1]!.split('\n').filter((l) => l.trim() !== '');
}

/**
 * Processes running `vnvme target` with no further arguments (the walkthrough's), however they
 * were started (bin/vnvme.js, npx's .bin/vnvme): read from /proc, not with pgrep, which also
 * hangs when the test runs with ASan preloaded (npm test -- --asan).
 */
function walkthroughTargets(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    } catch {
      continue; // exited meanwhile
    }
    const i = argv.findIndex((a) => /(^|\/)vnvme(\.js)?$/.test(a));
    if (i >= 0 && argv[i + 1] === 'target' && argv.length === i + 2) found.push(`${pid}: ${argv.join(' ')}`);
  }
  return found;
}

const bash = (line: string) => execFileSync('bash', ['-c', line], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 });

test('README walkthrough runs verbatim; SIGTERM to the pid of `npx vnvme target &` stops the target', { timeout: 180_000 }, async (t) => {
  if (await socketAnswers(SOCK, 2000)) return t.skip(`a target already serves ${SOCK}; not touching it`);
  const lines = readmeBlock();
  assert.match(lines[0]!, /^npx vnvme target &/);
  // The daemon in the background, exactly as the line says; $! is what the user gets.
  const sh = spawn('bash', ['-c', `${lines[0]!.replace(/\s+#.*$/, '')}\necho $!\nwait`], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  sh.stdout.on('data', (d: Buffer) => (out += d.toString()));
  sh.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const pid = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no pid printed: ${out}`)), 10_000);
    const check = () => {
      const m = /^(\d+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      } else setTimeout(check, 20);
    };
    check();
  });
  t.after(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already stopped */
    }
  });
  for (let i = 0; i < 300 && !(await socketAnswers(SOCK, 2000)); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(existsSync(SOCK), `the target serves ${SOCK}: ${out}`);
  for (const line of lines.slice(1)) bash(line);
  const subs = JSON.parse(bash('npx vnvme rpc nvmf_get_subsystems')) as Array<{ nqn: string; serial_number?: string; namespaces?: Array<{ bdev_name: string }> }>;
  const s = subs.find((x) => x.nqn === 'nqn.2019-07.io.spdk:cnode0');
  assert.equal(s?.serial_number, 'SPDK0');
  assert.deepEqual(s?.namespaces?.map((n) => n.bdev_name), ['Malloc0']);
  assert.ok(existsSync('/var/run/vnvme/cntrl'), 'the listener socket /var/run/vnvme/cntrl');
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && existsSync(SOCK); i++) await new Promise((r) => setTimeout(r, 100));
  assert.ok(!existsSync(SOCK), 'the RPC socket is removed');
  assert.ok(!existsSync('/var/run/vnvme/cntrl'), 'the listener socket is removed');
  for (let i = 0; i < 50 && walkthroughTargets().length; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(walkthroughTargets(), [], 'no target process left');
});

test('script mode: `vnvme rpc < commands.txt` with method options -t, -s, -a', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-script-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sock = join(dir, 'spdk.sock');
  const tgt = spawn(process.execPath, [join(root, 'bin', 'vnvme.js'), 'target', '-r', sock], { stdio: 'ignore' });
  t.after(() => tgt.kill('SIGKILL'));
  for (let i = 0; i < 200 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  const script = [
    'nvmf_create_transport -t VFIOUSER',
    'bdev_malloc_create 64 512 -b Malloc0',
    'nvmf_create_subsystem nqn.2019-07.io.spdk:cnode0 -a -s SPDK0',
    'nvmf_subsystem_add_ns nqn.2019-07.io.spdk:cnode0 Malloc0',
    `nvmf_subsystem_add_listener nqn.2019-07.io.spdk:cnode0 -t VFIOUSER -a ${dir} -s 0`,
    'nvmf_get_subsystems nqn.2019-07.io.spdk:cnode0',
  ].join('\n');
  const out = execFileSync(process.execPath, [join(root, 'bin', 'vnvme.js'), 'rpc', '-s', sock], { input: script, encoding: 'utf8', timeout: 60_000 });
  assert.match(out, /"serial_number": "SPDK0"/);
  assert.ok(existsSync(join(dir, 'cntrl')), 'listener created from script mode');
});

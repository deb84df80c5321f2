#!/usr/bin/env node
// `npm test`: builds what is stale, then runs every test file with node's test runner.
//
// Tags come from file names: `*.test.ts` are fast unit/protocol tests and always run;
// `*.guest.test.ts` boot real guests under QEMU and run unless `--fast` (or VNVME_FAST=1)
// is given; they skip themselves, with the reason, when QEMU cannot be provisioned.
// `--asan` runs the tests against the ASan/UBSan build of the addon (npm run build:asan).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const fast = args.includes('--fast') || process.env.VNVME_FAST === '1';
const asan = args.includes('--asan');
const only = args.filter((a) => !a.startsWith('--'));

function run(cmd, argv, env = process.env) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!existsSync('build/Release/vnvme.node')) run('npm', ['run', '--silent', 'build:native']);
run('npx', ['tsc', '-p', 'tsconfig.json']);

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

let files = walk('dist/test').sort();
if (fast) files = files.filter((f) => !f.endsWith('.guest.test.js'));
if (only.length) files = files.filter((f) => only.some((o) => f.includes(o)));

const env = { ...process.env };
if (asan) {
  // The sanitizer runtimes must be loaded before anything else in the process (node itself is
  // not instrumented): LD_PRELOAD them. Leak detection is off: V8 and node keep memory to exit.
  const lib = (name) => spawnSync(process.env.CXX ?? 'g++', [`-print-file-name=${name}`], { encoding: 'utf8' }).stdout?.trim() ?? '';
  const runtimes = [lib('libasan.so'), lib('libubsan.so')];
  if (runtimes.some((p) => !p.startsWith('/') || !existsSync(p))) {
    console.error(`--asan: sanitizer runtimes not found (${runtimes.join(', ')}); install g++ with libasan/libubsan`);
    process.exit(1);
  }
  run(process.execPath, ['scripts/build-asan.mjs']); // incremental: only stale objects rebuild
  env.VNVME_NATIVE = 'build-asan/vnvme.node';
  env.LD_PRELOAD = runtimes.join(' ');
  env.ASAN_OPTIONS = 'detect_leaks=0:abort_on_error=1:detect_odr_violation=0';
  env.UBSAN_OPTIONS = 'print_stacktrace=1:halt_on_error=1';
  // Refuse to report a green run that never loaded the sanitized addon.
  const probe = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', "import { native } from './dist/native/index.js'; if (!native.sanitized) process.exit(3);"],
    { env, stdio: 'inherit' },
  );
  if (probe.status !== 0) {
    console.error('--asan: the ASan addon did not load with the sanitizer runtimes preloaded');
    process.exit(1);
  }
  files = files.filter((f) => !f.endsWith('.guest.test.js'));
}

// Test files run one at a time: several boot guests or bind sockets, and the machine has 2 cores.
run(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], env);

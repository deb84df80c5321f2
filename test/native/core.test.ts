// Builds and runs the C++ unit tests of the plain-C++ core (no N-API) with AddressSanitizer and
// UBSan, warnings as errors: the NVMe data-pointer walker (walk_test.cc against nvme-data.cc),
// metadata and protection information (protection_test.cc against nvme-protection.cc)
// and the I/O engine core (engine_test.cc against nvme-engine.cc, dma-map.cc). A compiler
// missing is a failure: the addon needs g++ too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const CORE = ['nvme-data.cc', 'nvme-protection.cc', 'dma-map.cc', 'guest-fault.cc', 'nvme-engine.cc', 'nvme-engine-io.cc', 'nvme-zones.cc'].map((f) => join(root, 'native', f));

function buildAndRun(name: string, sources: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), `vnvme-${name}-`));
  try {
    const bin = join(dir, name);
    const cxx = process.env.CXX ?? 'g++';
    const env = { ...process.env, LD_PRELOAD: '' }; // the test script may preload ASan for node
    const flags = ['-std=c++17', '-Wall', '-Wextra', '-Werror', '-Wno-unused-parameter', '-O1', '-g', '-pthread'];
    const build = spawnSync(cxx, [...flags, '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', ...sources, '-o', bin], { encoding: 'utf8', env });
    assert.equal(build.status, 0, `${cxx} failed:\n${build.stderr}`);
    const run = spawnSync(bin, [], { encoding: 'utf8', env: { ...env, ASAN_OPTIONS: 'detect_leaks=1' }, timeout: 60_000 });
    assert.equal(run.status, 0, `${name} failed:\n${run.stdout}${run.stderr}`);
    return run.stdout;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('C++ unit test of the data-pointer walker (PRP/SGL boundaries, cycles, every descriptor type)', () => {
  assert.match(buildAndRun('walk_test', [join(root, 'native/nvme-data.cc'), join(root, 'test/native/walk_test.cc')]), /walk_test: \d+ checks, 0 failed/);
});

test('C++ unit test of the engine core (I/O, statuses, bdev operations, queue and restore validation)', () => {
  assert.match(buildAndRun('engine_test', [...CORE, join(root, 'test/native/engine_test.cc')]), /engine_test: \d+ checks, 0 failed/);
});

test('C++ unit test of metadata and protection information (CRC16 T10-DIF vector, PI checks and statuses, PRINFO rules)', () => {
  assert.match(buildAndRun('protection_test', [join(root, 'native/nvme-protection.cc'), join(root, 'native/nvme-data.cc'), join(root, 'test/native/protection_test.cc')]), /protection_test: \d+ checks, 0 failed/);
});

test('C++ unit test of the zone state machine (ZNS: write pointer, limits, Zone Send Actions, Report Zones)', () => {
  assert.match(buildAndRun('zones_test', [...CORE, join(root, 'test/native/zones_test.cc')]), /zones_test: \d+ checks, 0 failed/);
});

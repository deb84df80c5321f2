// Builds and runs the C++ unit test of the NVMe data-pointer walker (test/native/walk_test.cc
// against native/nvme-data.cc, which has no N-API), with AddressSanitizer and UBSan, warnings
// as errors. A compiler missing is a failure: the addon needs g++ too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');

test('C++ unit test of the data-pointer walker (PRP/SGL boundaries, cycles, every descriptor type)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-walk-test-'));
  try {
    const bin = join(dir, 'walk_test');
    const cxx = process.env.CXX ?? 'g++';
    const env = { ...process.env, LD_PRELOAD: '' }; // the test script may preload ASan for node
    const build = spawnSync(
      cxx,
      ['-std=c++17', '-Wall', '-Wextra', '-Werror', '-O1', '-g', '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined',
        join(root, 'native/nvme-data.cc'), join(root, 'test/native/walk_test.cc'), '-o', bin],
      { encoding: 'utf8', env },
    );
    assert.equal(build.status, 0, `${cxx} failed:\n${build.stderr}`);
    const run = spawnSync(bin, [], { encoding: 'utf8', env: { ...env, ASAN_OPTIONS: 'detect_leaks=1' } });
    assert.equal(run.status, 0, `walk_test failed:\n${run.stdout}${run.stderr}`);
    assert.match(run.stdout, /walk_test: \d+ checks, 0 failed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

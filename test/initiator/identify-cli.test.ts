// `vnvme identify` and `vnvme conformance` as a user runs them: the CLI in a child process
// against a target served by this process.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startInProcessTarget } from '../../harness/initiator/conformance/index.js';
import type { IdentifyReport } from '../../harness/initiator/identify.js';

function vnvme(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['bin/vnvme.js', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('vnvme identify / conformance CLI', () => {
  let target: Awaited<ReturnType<typeof startInProcessTarget>>;
  let trid: string;
  let scratch: string;

  before(async () => {
    target = await startInProcessTarget('mapped');
    trid = `trtype:VFIOUSER traddr:${dirname(target.endpoint.socketPath)} subnqn:nqn.2019-07.io.spdk:cnode-conformance`;
    scratch = mkdtempSync(join(tmpdir(), 'vnvme-cli-'));
  });
  after(async () => {
    await target?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  test('identify prints controller and namespace data like spdk_nvme_identify', async () => {
    const r = await vnvme(['identify', '-r', trid]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    for (const re of [
      /^Vendor ID:\s+4e58$/m,
      /^Serial Number:\s+VNVMECONF0001$/m,
      /^Model Number:\s+vnvme conformance target$/m,
      /^Firmware Version:\s+0\.1\.0$/m,
      /^Max Data Transfer Size:\s+1048576 \(MDTS 8\)$/m,
      /^Controller ID:\s+0x0001$/m,
      /^Version:\s+1\.4$/m,
      /^Optional Admin Command Support \(OACS\):\s+0xa$/m, // Format NVM; Namespace Management (the in-process target has a pool)
      /^ {2}Namespace Management:\s+Supported$/m,
      /^ {2}Format NVM:\s+Supported$/m,
      // Compare, Write Uncorrectable, DSM, Write Zeroes, Save/Select, Reservations, Timestamp, Verify, Copy
      /^Optional NVM Commands \(ONCS\):\s+0x1ff$/m,
      /^ {2}Write Zeroes:\s+Supported$/m,
      /^ {2}Copy:\s+Supported$/m,
      /^SGL Support \(SGLS\):\s+0x50001$/m,
      /^Number of Namespaces:\s+32$/m,
      /^Submission Queue Entry Size:\s+Max: 64 {2}Min: 64$/m,
      /^Completion Queue Entry Size:\s+Max: 16 {2}Min: 16$/m,
      /^Volatile Write Cache:\s+Present$/m,
      /^Subsystem NQN:\s+nqn\.2019-07\.io\.spdk:cnode-conformance$/m,
      /^Namespace ID: 1$/m,
      /^Size:\s+32768 blocks \(16\.00 MiB\)$/m,
      /^NGUID:\s+6e766d65636f6e66000000000000a001$/m,
      /^EUI64:\s+6e766d6500a00001$/m,
      /^Namespace ID: 2$/m,
      /^UUID:\s+[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/m,
      /LBA Format #00: Data Size: 512 {2}Metadata Size: 0 .*\(in use\)/,
      /^Namespace ID: 6$/m,
      /LBA Format #00: Data Size: 4096 {2}Metadata Size: 64 .*\(in use\)/,
    ])
      assert.match(out, re);
  });

  test('identify --json carries the same data', async () => {
    const r = await vnvme(['identify', '-r', trid, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as IdentifyReport;
    assert.equal(j.controller.sn, 'VNVMECONF0001');
    assert.equal(j.controller.vid, '0x4e58');
    assert.equal(j.controller.mdtsBytes, 1 << 20);
    assert.equal(j.controller.nn, 32);
    assert.equal(j.controller.oncs.datasetManagement, true);
    assert.equal(j.controller.sgls.supported, true);
    assert.equal(j.registers.mqes, 1024);
    assert.deepEqual(j.namespaces.map((n) => [n.nsid, n.nsze, n.blockSize]), [
      [1, '32768', 512],
      [2, '2048', 512],
      [3, '4096', 512],
      // Metadata and protection information formats (harness/initiator/conformance/index.ts).
      [4, '1024', 512],
      [5, '1024', 512],
      [6, '256', 4096],
      [7, '1024', 512],
      // The zoned namespace (bdev_zone_block over 1024 blocks: 16 zones of 64).
      [8, '1024', 512],
    ]);
    assert.equal(j.namespaces[0]!.sizeBytes, String(32768 * 512));
    assert.ok(j.namespaces[0]!.uuid);
    assert.equal(j.namespaces[0]!.nguid, '6e766d65636f6e66000000000000a001');
    assert.equal(j.namespaces[0]!.eui64, '6e766d6500a00001');
    assert.equal(j.namespaces[1]!.nguid, null);
  });

  test('identify refuses a wrong transport or a missing socket', async () => {
    const bad = await vnvme(['identify', '-r', 'trtype:PCIe traddr:0000:00:04.0']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /only VFIOUSER/);
    const gone = await vnvme(['identify', '-r', `trtype:VFIOUSER traddr:${scratch}`]);
    assert.notEqual(gone.code, 0);
  });

  test('conformance -r runs the suite on a running target: table, summary, --json', async () => {
    const file = join(scratch, 'conf.json');
    const r = await vnvme(['conformance', '-r', trid, '--filter', 'admin.identify.', '--json', file]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.doesNotMatch(r.stdout, /^PASS /m, 'passing cases are listed only with --verbose');
    assert.match(r.stdout, /^  admin\.identify\s+\d+\/\d+/m);
    assert.match(r.stdout, /\d+ cases: \d+ passed, 0 failed/);
    const v = await vnvme(['conformance', '-r', trid, '--filter', 'admin.identify.controller', '--verbose']);
    assert.match(v.stdout, /^PASS\s+admin\.identify\.controller\s+NVMe Base 2\.0 5\.17\.2\.1/m);
    const j = JSON.parse(readFileSync(file, 'utf8'));
    assert.ok(j.results.length >= 20);
    assert.ok(j.results.every((x: { id: string }) => x.id.startsWith('admin.identify.')));
    assert.equal(j.summary.fail, 0);
  });

  test('conformance exits non-zero when it cannot run', async () => {
    const r = await vnvme(['conformance', '-r', `trtype:VFIOUSER traddr:${scratch}`, '--filter', 'reg.vs']);
    assert.notEqual(r.code, 0);
  });
});

// `npm run bench -- --vs-spdk DIR` without SPDK: its options, the spdk_nvme_perf report parser
// (on a report recorded from SPDK v26.09-pre's perf against its nvmf/vfio-user target), the
// perf command line, the hugepage count, and the one-line error for a DIR without SPDK's
// binaries. Nothing here measures, and nothing needs SPDK installed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs, rowWanted } from '../../bench/args.js';
import { findSpdk, hugepagesAvailable, parseSpdkPerf, perfArgs, rowKey, VS_SPDK_ROWS, vsSpdkTable } from '../../bench/vs-spdk.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const sample = readFileSync(join(root, 'test', 'fixtures', 'spdk-nvme-perf', 'vfiouser-randread-qd32.txt'), 'utf8');

/** A directory laid out like an SPDK build, with stand-ins for the three files --vs-spdk uses. */
function fakeSpdk(): string {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-fake-spdk-'));
  mkdirSync(join(dir, 'build', 'bin'), { recursive: true });
  mkdirSync(join(dir, 'scripts'));
  for (const f of ['build/bin/nvmf_tgt', 'build/bin/spdk_nvme_perf', 'scripts/rpc.py']) {
    writeFileSync(join(dir, f), '#!/bin/sh\nexit 1\n');
    chmodSync(join(dir, f), 0o755);
  }
  return dir;
}

test("parseSpdkPerf reads the Total line and -L's percentiles from a recorded report", () => {
  const r = parseSpdkPerf(sample);
  // The values printed in the fixture, read back: the parser's job, not a performance claim.
  assert.equal(r.iops, 834716.4);
  assert.equal(r.mibps, 3260.61);
  assert.equal(r.avgUs, 38.31);
  assert.equal(r.minUs, 1.86);
  assert.equal(r.maxUs, 28182.79);
  assert.equal(r.percentilesUs['99'], 41.219);
  assert.equal(r.percentilesUs['50'], 19.229);
  assert.equal(r.percentilesUs['99.999'], 28273.302);
  assert.equal(Object.keys(r.percentilesUs).length, 15);
});

test('parseSpdkPerf without -L has no percentiles; a failed run is an error that quotes its last lines', () => {
  const noSummary = sample.slice(0, sample.indexOf('Summary latency data'));
  assert.deepEqual(parseSpdkPerf(noSummary).percentilesUs, {});
  // What perf printed here when DPDK found no hugetlbfs mount (recorded).
  const failed = [
    'EAL: 1024 hugepages of size 2097152 reserved, but no mounted hugetlbfs found for that size',
    'EAL: Cannot get hugepage information.',
    'Unable to initialize SPDK env',
  ].join('\n');
  assert.throws(() => parseSpdkPerf(failed), /no Total line.*Unable to initialize SPDK env/);
  assert.throws(() => parseSpdkPerf(''), /no output/);
});

test('findSpdk: a directory without the binaries is a one-line error naming what is missing and what to pass', () => {
  const empty = mkdtempSync(join(tmpdir(), 'vnvme-no-spdk-'));
  try {
    assert.throws(
      () => findSpdk(empty),
      (e: Error) => {
        assert.equal(e.message.includes('\n'), false);
        assert.match(e.message, /--vs-spdk .*: no build\/bin\/nvmf_tgt, build\/bin\/spdk_nvme_perf, scripts\/rpc\.py there/);
        assert.match(e.message, /--with-vfio-user/);
        return true;
      },
    );
    // Through the option parser too, so `npm run bench -- --vs-spdk DIR` fails before anything starts.
    assert.throws(() => parseBenchArgs(['--vs-spdk', empty]), /no build\/bin\/nvmf_tgt/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
  const fake = fakeSpdk();
  try {
    mkdirSync(join(fake, 'partial', 'build', 'bin'), { recursive: true });
    writeFileSync(join(fake, 'partial', 'build', 'bin', 'nvmf_tgt'), '');
    assert.throws(() => findSpdk(join(fake, 'partial')), /: no build\/bin\/spdk_nvme_perf, scripts\/rpc\.py there/);
    const t = findSpdk(fake);
    assert.equal(t.nvmfTgt, join(fake, 'build', 'bin', 'nvmf_tgt'));
    assert.equal(t.perf, join(fake, 'build', 'bin', 'spdk_nvme_perf'));
    assert.equal(t.rpcPy, join(fake, 'scripts', 'rpc.py'));
  } finally {
    rmSync(fake, { recursive: true, force: true });
  }
});

test('parseBenchArgs: --vs-spdk defaults to 3 rounds; conflicts and bad values are errors', () => {
  const fake = fakeSpdk();
  try {
    const o = parseBenchArgs(['--vs-spdk', fake, '--only', 'mapped:randread']);
    assert.equal(o.spdk?.dir, fake);
    assert.equal(o.rounds, 3);
    assert.deepEqual(o.only, ['mapped:randread']);
    assert.equal(parseBenchArgs(['--vs-spdk', fake, '--rounds', '5']).rounds, 5);
    assert.equal(parseBenchArgs([]).rounds, 1);
    assert.equal(parseBenchArgs([]).spdk, undefined);
    assert.equal(parseBenchArgs(['--help']).help, true);
    assert.throws(() => parseBenchArgs(['--vs-spdk', fake, '--baseline', fake]), /pass one of them/);
    assert.throws(() => parseBenchArgs(['--vs-spdk', fake, '--only', 'message']), /mapped rows only/);
    assert.throws(() => parseBenchArgs(['--vs-spdk', fake, '--only', 'mapped,shadow+intr']), /mapped rows only/);
    assert.equal(parseBenchArgs(['--vs-spdk', fake, '--only', 'map']).only[0], 'map');
    assert.throws(() => parseBenchArgs(['--vs-spdk']), /--vs-spdk needs a value/);
    assert.throws(() => parseBenchArgs(['--rounds', '0']), /--rounds 0/);
    assert.throws(() => parseBenchArgs(['--rounds', 'x']), /--rounds x/);
    assert.throws(() => parseBenchArgs(['--frobnicate']), /unknown option --frobnicate/);
  } finally {
    rmSync(fake, { recursive: true, force: true });
  }
});

test('rows: --only selects by doorbells:workload:QD prefix, as the initiator bench does', () => {
  const keys = VS_SPDK_ROWS.map(rowKey);
  assert.deepEqual(keys, ['mapped:randread:1', 'mapped:randread:32', 'mapped:randwrite:1', 'mapped:randwrite:32', 'mapped:seqread:8']);
  const pick = (only: string[]) => VS_SPDK_ROWS.filter((r) => rowWanted(only, r.mode, r.workload, r.qd)).map(rowKey);
  assert.deepEqual(pick([]), keys);
  assert.deepEqual(pick(['mapped']), keys);
  assert.deepEqual(pick(['mapped:randread:1']), ['mapped:randread:1']);
  assert.deepEqual(pick(['mapped:randwrite', 'mapped:seqread']), ['mapped:randwrite:1', 'mapped:randwrite:32', 'mapped:seqread:8']);
  assert.deepEqual(pick(['message']), []);
});

test('perfArgs: the transport ID, queue depth, size, pattern and core mask spdk_nvme_perf is given', () => {
  const seq = VS_SPDK_ROWS.find((r) => r.workload === 'seqread')!;
  assert.deepEqual(perfArgs(seq, '/tmp/x/vu', 'nqn.2019-07.io.spdk:cnode0', 4, '0x2'), [
    '-c', '0x2', '-r', 'trtype:VFIOUSER traddr:/tmp/x/vu subnqn:nqn.2019-07.io.spdk:cnode0', '-q', '8', '-o', '131072', '-w', 'read', '-t', '4', '-L',
  ]);
  const rw = VS_SPDK_ROWS.find((r) => r.workload === 'randwrite' && r.qd === 32)!;
  const a = perfArgs(rw, '/d', 'nqn.x', 2, '0x1');
  assert.equal(a[a.indexOf('-w') + 1], 'randwrite');
  assert.equal(a[a.indexOf('-o') + 1], '4096');
});

test('hugepagesAvailable: free 2 MiB pages not promised to a mapping, from /proc/meminfo', () => {
  const meminfo = 'MemTotal: 24000000 kB\nHugePages_Total:    1024\nHugePages_Free:      900\nHugePages_Rsvd:      100\nHugePages_Surp:        0\nHugepagesize:       2048 kB\n';
  assert.deepEqual(hugepagesAvailable(meminfo), { total: 1024, available: 800 });
  assert.deepEqual(hugepagesAvailable(meminfo.replace('2048 kB', '1048576 kB')), { total: 0, available: 0 });
});

test('vsSpdkTable: medians over the undisturbed rounds, the ratio of the medians, per-round ratios of every round', () => {
  const row = VS_SPDK_ROWS[0]!;
  const s = (target: 'spdk' | 'ours', round: number, iops: number, othersPct = 0) => ({ target, round, iops, avgUs: 1, p99Us: 2, targetCpuPct: 99, othersPct });
  const samples = new Map([[rowKey(row), [s('spdk', 0, 100), s('ours', 0, 50), s('ours', 1, 60), s('spdk', 1, 10, 40), s('spdk', 2, 120), s('ours', 2, 70)]]]);
  const [r] = vsSpdkTable([row], samples);
  assert.equal(r!.spdk.iops, 110); // rounds 0 and 2; round 1 had others at 40%
  assert.equal(r!.ours.iops, 60);
  assert.equal(r!.ratio, 60 / 110);
  assert.deepEqual(r!.perRoundRatios, [0.5, 6, 0.583]);
  // Every round disturbed: the median of all of them.
  const all = new Map([[rowKey(row), [s('spdk', 0, 100, 50), s('ours', 0, 80, 50)]]]);
  assert.equal(vsSpdkTable([row], all)[0]!.spdk.iops, 100);
});

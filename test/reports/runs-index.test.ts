// runs/index.json (one entry per run, newest first, every field the Runs page filters on),
// stable check uids in report.json, and summary.md for CI job pages.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkCounts, checkUids, overallVerdict, REPORT_SCHEMA_ID, scenarioChecks, summarize, type Report, type ScenarioResult } from '../../reports/report-schema.js';
import { junitXml } from '../../reports/junit.js';
import { runIndependent } from '../../reports/run-paths.js';
import { writeReport } from '../../reports/write.js';
import { RunsIndex, writeRunsJson } from '../../reports/runs-index.js';
import { summaryMarkdown, mdCell } from '../../reports/summary-md.js';
import { perfRatios } from '../../reports/perf.js';

function scenario(over: Partial<ScenarioResult>): ScenarioResult {
  return { name: 's', description: 'd', tags: ['default'], iteration: 1, verdict: 'pass', startedAt: '2026-11-28T10:00:00.000Z', durationMs: 1234, timeoutMs: 60_000, checks: [], steps: [], metrics: [], fio: [], artifacts: [], facts: {}, ...over };
}

function report(id: string, startedAt: string, commit: string, compare: 'pass' | 'fail'): Report {
  const scenarios = [
    scenario({
      name: 'guest-nvme-cli',
      verdict: compare,
      checks: [
        { id: 'id-ctrl', title: 'Identify', area: 'Identify', section: 'NVMe Base 2.1 5.1.13.2.1', level: 'mandatory', verdict: 'pass', durationMs: 4, evidence: [] },
        { id: 'compare', title: 'Compare | pipes', area: 'NVM I/O', section: 'NVM Command Set 1.0 3.3.1', level: 'mandatory', verdict: compare, message: compare === 'fail' ? 'expected Compare Failure, got SUCCESS' : undefined, durationMs: 3, evidence: [] },
        { id: 'compare', title: 'Compare again (same id)', area: 'NVM I/O', section: '', level: 'mandatory', verdict: 'pass', durationMs: 3, evidence: [] },
      ],
    }),
    scenario({
      name: 'guest-fio-perf',
      metrics: [
        { name: '4k randread QD32', value: 9000, unit: 'IOPS', series: 'vfio-user', group: 'IOPS' },
        { name: '4k randread QD32', value: 6000, unit: 'IOPS', series: 'qemu-nvme', group: 'IOPS' },
        { name: '4k randread QD32', value: 300, unit: 'µs', series: 'vfio-user', group: 'p99' },
        { name: '4k randread QD32', value: 600, unit: 'µs', series: 'qemu-nvme', group: 'p99' },
        { name: 'guest boot to SSH', value: 12000, unit: 'ms' },
      ],
    }),
    scenario({ name: 'migration-qemu', verdict: 'skip', reason: 'no migration-capable QEMU' }),
  ];
  const summary = summarize(scenarios);
  return {
    schema: REPORT_SCHEMA_ID, runId: id, startedAt, finishedAt: startedAt, durationMs: 60_000, command: 'npm run scenario',
    environment: {
      host: { hostname: 'ci-1', kernel: '6.1.0', cpu: 'Xeon', cpus: 2, node: 'v20.20.2' },
      qemu: { version: '11.1.3', source: 'debian-tree', description: 'QEMU 11.1.3 (trixie-backports)' },
      accelerator: 'tcg (no /dev/kvm)', memoryBackend: 'memfd (share=on), as requested', guestKernel: '6.12.57+deb13-amd64',
      target: { commit, dirty: false, version: '0.1.0' },
    },
    summary, verdict: overallVerdict(summary), scenarios,
  };
}

test('index.json lists every run newest first with counts and environment; report.json carries stable uids', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-runs-index-'));
  try {
    writeReport(join(dir, 'run-a'), report('run-a', '2026-11-27T10:00:00.000Z', 'a'.repeat(40), 'pass'));
    writeReport(join(dir, 'run-b'), report('run-b', '2026-11-28T10:00:00.000Z', 'b'.repeat(40), 'fail'));
    mkdirSync(join(dir, 'unfinished'));
    writeFileSync(join(dir, 'unfinished', 'report.json'), '{"truncated');
    const p = writeRunsJson(dir);
    const idx = RunsIndex.parse(JSON.parse(readFileSync(p, 'utf8')));
    assert.deepEqual(idx.runs.map((r) => r.id), ['run-b', 'run-a']);
    const b = idx.runs[0]!;
    assert.equal(b.verdict, 'fail');
    assert.deepEqual(b.scenarios, { total: 3, pass: 1, fail: 1, error: 0, skip: 1 });
    // guest-fio-perf records metrics but no check and migration-qemu was skipped for its needs:
    // each counts as the one check junit.xml gives it (scenarioChecks).
    assert.deepEqual(b.checks, { total: 5, pass: 3, fail: 1, error: 0, skip: 1 });
    assert.equal(b.accelerator, 'tcg');
    assert.equal(b.memoryBackend, 'memfd');
    assert.deepEqual(b.qemu, { flavour: 'debian-tree', version: '11.1.3', description: 'QEMU 11.1.3 (trixie-backports)' });
    assert.equal(b.guestKernel, '6.12.57+deb13-amd64');
    assert.equal(b.commit, 'b'.repeat(40));
    assert.equal(b.durationMs, 60_000);
    const back = JSON.parse(readFileSync(join(dir, 'run-b', 'report.json'), 'utf8')) as Report;
    assert.deepEqual(back.scenarios[0]!.checks.map((c) => c.uid), ['guest-nvme-cli/id-ctrl', 'guest-nvme-cli/compare', 'guest-nvme-cli/compare~2']);
    assert.deepEqual(checkUids(back.scenarios[0]!), back.scenarios[0]!.checks.map((c) => c.uid));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('summary.md names every verdict, the failed checks and the perf ratios; cells cannot break the table', () => {
  const md = summaryMarkdown(report('run-b', '2026-11-28T10:00:00.000Z', 'b'.repeat(40), 'fail'));
  assert.match(md, /FAIL/);
  assert.match(md, /\*\*Checks:\*\* 3 passed, 1 failed, 0 errors, 1 skipped \(of 5\)/);
  assert.match(md, /\| migration-qemu \| ⏭️ skip \| 0 \| 0 \| 0 \| 1 \|/);
  assert.match(md, /\*\*Scenarios:\*\* 1 passed, 1 failed, 0 errors, 1 skipped \(of 3\)/);
  assert.match(md, /guest-nvme-cli\/compare.*NVM Command Set 1\.0 3\.3\.1.*expected Compare Failure/);
  assert.match(md, /4k randread QD32 \(IOPS, higher is better\) \| 9000 \| 6000 qemu-nvme \| 1\.50×/);
  assert.match(md, /4k randread QD32 \(µs, lower is better\) \| 300 \| 600 qemu-nvme \| 0\.50×/);
  assert.equal(mdCell('a|b\nc'), 'a\\|b c');
  const r = perfRatios([{ name: 'x', value: 1, unit: 'IOPS', series: 'vfio-user' }, { name: 'x', value: 2, unit: 'IOPS', series: 'spdk' }, { name: 'x', value: 4, unit: 'IOPS', series: 'qemu-nvme' }]);
  assert.equal(r.length, 1);
  assert.equal(r[0]!.baselineSeries, 'spdk');
  assert.equal(r[0]!.oursBetter, false);
});

test('a scenario that ended before its first check (the target did not start) counts as one error check, as junit.xml counts it', () => {
  // What a real `npm run scenario -- guest-fio-perf` recorded when the target could not start: verdict error, reason, no checks.
  const reason = "harness error: `vnvme target` ended at start (exit status 1); log guest-fio-perf/target.log:\nCannot find module 'dist/target/nvme/ns-management.js'";
  const broken = scenario({ name: 'guest-fio-perf', description: 'fio perf', verdict: 'error', reason, checks: [] });
  const r: Report = { ...report('run-e', '2026-12-04T20:11:45.460Z', 'c'.repeat(40), 'pass'), scenarios: [broken] };
  const cs = scenarioChecks(broken);
  assert.equal(cs.length, 1);
  assert.deepEqual({ id: cs[0]!.id, uid: cs[0]!.uid, verdict: cs[0]!.verdict, message: cs[0]!.message }, { id: 'scenario', uid: 'guest-fio-perf/scenario', verdict: 'error', message: reason });
  assert.deepEqual(checkCounts(r), { total: 1, pass: 0, fail: 0, error: 1, skip: 0 }, 'not "0 passed, 0 failed, 0 errors, 0 skipped"');
  assert.match(junitXml(r), /tests="1" failures="0" errors="1" skipped="0"/);
  assert.match(summaryMarkdown(r), /\*\*Checks:\*\* 0 passed, 0 failed, 1 errors, 0 skipped \(of 1\)/);
  // A scenario whose checks carry its verdict gets nothing added.
  const ok = scenario({ checks: [{ id: 'a', title: 'a', area: 'x', section: '', level: 'mandatory', verdict: 'pass', durationMs: 1, evidence: [] }] });
  assert.equal(scenarioChecks(ok), ok.checks);
});

test("run-specific scratch directories and guest names compare equal across runs", () => {
  assert.equal(runIndependent('/tmp/vnvme-sc-Z6gteP/target-mapped/cnode/cntrl'), runIndependent('/tmp/vnvme-sc-rqZ3Xp/target-mapped/cnode/cntrl'));
  assert.equal(
    runIndependent('hugetlbfs, 512 x 2 MiB pages at /root/.cache/vnvme/vms/sc-guest-smoke-guest-19303/hugepages (512 reserved by the harness)'),
    'hugetlbfs, 512 x 2 MiB pages at /root/.cache/vnvme/vms/sc-guest-smoke-guest-*/hugepages (512 reserved by the harness)',
  );
  assert.equal(runIndependent('-name sc-guest-nvme-cli-hop1-26916,debug-threads=on'), '-name sc-guest-nvme-cli-hop1-*,debug-threads=on');
  // Values that are not run-specific stay as they are.
  for (const same of ['nvme0 at 0000:01:00.0: nvme0n1', '/tmp/a', '0.1.0', 'hugetlbfs, 512 x 2 MiB pages at /dev/hugepages', 'VNVME-SMOKE-0001']) assert.equal(runIndependent(same), same);
});

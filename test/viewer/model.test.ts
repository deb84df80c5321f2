// The viewer's computations on the committed fixture runs (test/fixtures/runs) and on small
// inputs: spec citations parsed, history with failing-since / last-passed / flaky, the diff of
// two runs, coverage counts and gaps, perf ratios, terminal escapes stripped, runs merged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { combined, comparableBase, coverage, diffRuns, expandRange, histories, noiseBand, parseCitations, perfMetrics, slimReport, stripAnsi, filterRuns, type SlimRun } from '../../reports/viewer/model.js';
import { readRuns, RunsIndex } from '../../reports/runs-index.js';
import { mergeRuns } from '../../reports/viewer/merge.js';
import { labelSlots } from '../../reports/svg-chart.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIXTURE = join(root, 'test', 'fixtures', 'runs');

function runs(): SlimRun[] {
  return readRuns(FIXTURE).map(({ dir, report }) => slimReport(report, dir));
}

test('spec citations: documents, versions, lists, ranges, notes, inherited documents', () => {
  assert.deepEqual(parseCitations('NVMe Base 2.0 5.17.2.1 (SN, MN, FR)'), [{ doc: 'NVMe Base', version: '2.0', section: '5.17.2.1', note: 'SN, MN, FR' }]);
  assert.deepEqual(
    parseCitations('NVMe Base 2.1 5.1.11 / 5.1.25').map((c) => `${c.doc} ${c.version} ${c.section}`),
    ['NVMe Base 2.1 5.1.11', 'NVMe Base 2.1 5.1.25'],
  );
  assert.deepEqual(
    parseCitations('NVMe Base 2.1 5.1.10 / NVM Command Set 1.0 4.1.2').map((c) => `${c.doc} ${c.version} ${c.section}`),
    ['NVMe Base 2.1 5.1.10', 'NVM Command Set 1.0 4.1.2'],
  );
  assert.deepEqual(parseCitations('NVMe Base 2.0 3.1.8-3.1.10').map((c) => c.section), ['3.1.8', '3.1.9', '3.1.10']);
  assert.deepEqual(expandRange('5.17.2.4-5'), ['5.17.2.4', '5.17.2.5']);
  const v = parseCitations('vfio-user 1.0 VFIO_USER_DMA_MAP (READ/WRITE flags); NVMe Base 2.0 4.2.3 (Data Transfer Error)');
  assert.deepEqual(v.map((c) => `${c.doc}|${c.version}|${c.section}|${c.note}`), ['vfio-user|1.0|VFIO_USER_DMA_MAP|READ/WRITE flags', 'NVMe Base|2.0|4.2.3|Data Transfer Error']);
  assert.deepEqual(parseCitations('NVMe Base 2.0 3.1.x (admin CQ uses vector 0); PCI MSI-X').map((c) => `${c.doc}|${c.section}`), ['NVMe Base|3.1.x', 'PCI|']);
  assert.equal(parseCitations('NVMe Base 2.1 Figure 102 (80h Write Fault)')[0]!.section, 'Figure 102');
  assert.equal(parseCitations('5.27.1.1')[0]!.doc, 'NVMe Base');
});

test('history: latest, failing since, last passed, flaky on retry and on the same commit', () => {
  const rs = runs();
  assert.equal(rs.length, 3);
  const h = histories(rs);
  const cmp = h.get('guest-nvme-cli/compare')!;
  assert.equal(cmp.latest, 'fail');
  assert.deepEqual(cmp.cells.map((c) => c?.verdicts), [['fail'], ['fail', 'pass'], ['pass']]);
  assert.equal(cmp.failingSince, rs[0]!.id);
  assert.equal(cmp.lastPassed, rs[1]!.id);
  assert.match(cmp.flaky!, /passed on retry/);
  const arb = h.get('conformance/mapped/admin.features.arbitration.set-get')!;
  assert.match(arb.flaky!, /without a code change/);
  assert.equal(h.get('conformance/mapped/admin.identify.cns-unsupported')!.latest, 'pass');
  // Failed on commit B, then passed on commit B: "fixed" without a code change is a flip too.
  assert.match(h.get('conformance/mapped/admin.identify.cns-unsupported')!.flaky!, /fail → pass on commit 9b8a7c6d5e/);
  assert.equal(h.get('guest-smoke/id-ctrl.sn')!.flaky, undefined);
  assert.equal(h.get('guest-smoke/id-ctrl.sn')!.failingSince, undefined);
  assert.equal(h.get('guest-smoke/id-ns.size')!.cells[0], null);
  assert.equal(combined(['pass', 'fail', 'skip']), 'fail');
});

test('diff: new failures, fixed, removed and new checks, observed values, metrics with noise, environment', () => {
  const [head, base, oldest] = runs();
  const d = diffRuns(base!, head!, [head!, base!, oldest!]);
  assert.deepEqual(d.newFailures.map((c) => c.uid), ['conformance/mapped/admin.features.arbitration.set-get']);
  assert.deepEqual(d.fixed.map((c) => c.uid), ['conformance/mapped/admin.identify.cns-unsupported']);
  assert.deepEqual(d.removed.map((c) => c.uid), ['guest-smoke/id-ns.size']);
  assert.ok(d.observed.some((o) => o.uid === 'guest-smoke/id-ctrl.sn' && o.changes.some((c) => c.before === '0.1.0' && c.after === '0.1.1')));
  assert.ok(d.facts.some((f) => f.key === 'guest.memory'));
  const qd32 = d.metrics.find((m) => m.name === '4k randread QD32' && m.series === 'vfio-user' && m.unit === 'IOPS')!;
  assert.equal(qd32.change, 'worse');
  assert.ok(Math.abs(qd32.ratio - 7200 / 9900) < 1e-9);
  assert.ok(d.environment.some((e) => e.field === 'guest memory backend' && e.after.startsWith('hugetlbfs')));
  const d2 = diffRuns(oldest!, base!);
  assert.deepEqual(d2.added.map((c) => c.uid), ['guest-nvme-cli/format']);
  assert.ok(d2.newFailures.some((c) => c.uid === 'guest-nvme-cli/compare'));
  assert.equal(noiseBand([1, 2]).band, 0.1);
  assert.ok(noiseBand([100, 101, 99, 100]).band < 0.05);
});

test('coverage: sections with their checks and verdicts, levels, gaps', () => {
  const [head, ...others] = runs();
  const cov = coverage(head!, others);
  const base = cov.docs.find((d) => d.doc === 'NVMe Base 2.0')!;
  const s = base.sections.find((x) => x.section === '5.27.1.1')!;
  assert.equal(s.verdict, 'fail');
  assert.ok(s.checks.some((c) => c.uid === 'conformance/mapped/admin.features.arbitration.set-get'));
  assert.equal(cov.totals.checks, head!.scenarios.filter((x) => x.iteration === 1).reduce((a, x) => a + x.checks.length, 0));
  assert.ok(cov.totals.byLevel.optional > 0 && cov.totals.byLevel.informational > 0);
  assert.ok(cov.gaps.some((g) => g.doc === 'NVM Command Set 1.0' && g.section === '4.1.5.1') === false, 'still cited by the conformance suite');
  assert.ok(cov.gaps.some((g) => /between cited/.test(g.why)));
  assert.ok(cov.levelDefaulted.some((c) => c.uid === 'guest-smoke/driver-bound'));
  assert.ok(cov.uncited.some((c) => c.uid.startsWith('guest-fio-perf/')));
});

test('perf: series across runs and ours / baseline per run', () => {
  const pm = perfMetrics(runs()).find((m) => m.name === '4k randread QD32' && m.unit === 'IOPS')!;
  assert.equal(pm.series.get('vfio-user')!.length, 3);
  assert.equal(pm.ratio!.baseline, 'qemu-nvme');
  assert.deepEqual(pm.ratio!.points.map((p) => Math.round(p.value * 100) / 100), [1.47, 1.61, 1.17]);
  assert.equal(pm.better, 'higher');
  // x labels never overlap: neighbours at least the widest label apart.
  const slots = labelSlots(40, 500, 66);
  for (let i = 1; i < slots.length; i++) assert.ok(((slots[i]! - slots[i - 1]!) * 500) / 39 >= 66 + 8, `slots ${slots.join(',')}`);
  assert.equal(slots.at(-1), 39);
});

test('terminal escapes and control characters are removed from logs; CR LF becomes LF', () => {
  assert.equal(stripAnsi('\x1b[1;32m[ 0.0]\x1b[0m ok\r\n\x1b]0;title\x07login\r\x1b[2Jx\x07'), '[ 0.0] ok\nlogin\nx');
});

test('runs filters: each column and the search', () => {
  const idx = RunsIndex.parse(JSON.parse(readFileSync(join(FIXTURE, 'index.json'), 'utf8')));
  assert.equal(filterRuns(idx.runs, { memory: 'hugetlbfs' }).length, 1);
  assert.equal(filterRuns(idx.runs, { verdict: 'pass' }).length, 1);
  assert.equal(filterRuns(idx.runs, { commit: '9b8a7c' }).length, 2);
  assert.equal(filterRuns(idx.runs, { q: 'repeat' }).length, 1);
});

test('merge: runs of several directories in one, a run present twice copied once, index rewritten', () => {
  const out = mkdtempSync(join(tmpdir(), 'vnvme-merge-'));
  try {
    const r1 = mergeRuns(out, [FIXTURE]);
    assert.equal(r1.copied.length, 3);
    const r2 = mergeRuns(out, [FIXTURE]);
    assert.equal(r2.copied.length, 0);
    assert.equal(r2.skipped.length, 3);
    const idx = RunsIndex.parse(JSON.parse(readFileSync(join(out, 'index.json'), 'utf8')));
    assert.equal(idx.runs.length, 3);
    assert.ok(existsSync(join(out, 'index.html')));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Real runs (test/fixtures/real-runs, recorded by `npm run scenario` here: see make-real-runs.ts):
// what synthetic runs did not have.

const REAL = join(root, 'test', 'fixtures', 'real-runs');
/** The default suite, tree with uncommitted changes. */
const FULL_1 = '2026-12-04T20-03-08Z-46a8a5';
/** `npm run scenario -- guest-fio-perf` whose target did not start: one scenario, error, no check. */
const PERF_BROKEN = '2026-12-04T20-11-45Z-6d3dc7';
/** The default suite again, clean tree. */
const FULL_2 = '2026-12-04T20-12-42Z-40db7e';
/** guest-fio-perf that ran: real ours / QEMU NVMe ratios. */
const PERF_OK = '2026-12-04T20-14-31Z-13a376';
/** The default suite a third time, with the runner writing guests' logs by label and no per-VM path in the environment. */
const FULL_3 = '2026-12-04T20-23-18Z-b997c8';

function realRuns(): Map<string, SlimRun> {
  return new Map(readRuns(REAL).map(({ dir, report }) => [dir, slimReport(report, dir)]));
}
const realIndex = (): RunsIndex => RunsIndex.parse(JSON.parse(readFileSync(join(REAL, 'index.json'), 'utf8')));

test('real runs: a scenario that errored before its first check is one error check in the counts, history and diff', () => {
  const rs = realRuns();
  const broken = rs.get(PERF_BROKEN)!;
  assert.deepEqual(broken.scenarios[0]!.checks.map((c) => [c.uid, c.verdict]), [['guest-fio-perf/scenario', 'error']]);
  assert.match(broken.scenarios[0]!.checks[0]!.message!, /`vnvme target` ended at start/);
  assert.deepEqual(realIndex().runs.find((r) => r.id === PERF_BROKEN)!.checks, { total: 1, pass: 0, fail: 0, error: 1, skip: 0 });
  // Where the scenario ran, its stand-in has the scenario's verdict: not "failing since" the broken run.
  const h = histories([rs.get(FULL_3)!, rs.get(PERF_OK)!, broken]).get('guest-fio-perf/scenario')!;
  assert.deepEqual(h.cells.map((c) => c && combined(c.verdicts)), [null, 'pass', 'error']);
  assert.equal(h.latest, 'pass');
  assert.equal(h.failingSince, undefined);
  assert.equal(h.lastFailed, PERF_BROKEN);
  // Broken, then ran: the scenario is fixed, its evidence in the broken run; its checks are new.
  const d = diffRuns(broken, rs.get(PERF_OK)!);
  assert.deepEqual(d.fixed.map((c) => [c.uid, c.before, c.after, c.evidenceRun]), [['guest-fio-perf/scenario', 'error', 'pass', PERF_BROKEN]]);
  assert.deepEqual(d.removed, []);
  assert.ok(d.added.length >= 6 && d.added.every((c) => c.scenario === 'guest-fio-perf'));
  // And the other way round it is a new failure.
  const back = diffRuns(rs.get(PERF_OK)!, broken);
  assert.deepEqual(back.newFailures.map((c) => [c.uid, c.before, c.after]), [['guest-fio-perf/scenario', 'pass', 'error']]);
});

test('real runs: a partial run is diffed against the last run of its scenarios; its missing scenarios are no removed checks', () => {
  const idx = realIndex();
  const at = (id: string) => idx.runs.find((r) => r.id === id)!;
  assert.equal(comparableBase(idx.runs, at(FULL_2))!.id, FULL_1, 'the full suite before, not the one-scenario run between');
  assert.equal(comparableBase(idx.runs, at(PERF_OK))!.id, PERF_BROKEN);
  assert.equal(comparableBase(idx.runs, at(FULL_3))!.id, FULL_2);
  assert.equal(comparableBase(idx.runs, at(FULL_1)), undefined);
  const rs = realRuns();
  const d = diffRuns(rs.get(FULL_2)!, rs.get(PERF_OK)!);
  assert.deepEqual([d.added, d.removed, d.newFailures, d.fixed], [[], [], [], []]);
  assert.deepEqual(d.onlyInHead.map((s) => s.name), ['guest-fio-perf']);
  assert.deepEqual(d.onlyInBase.map((s) => s.name), ['conformance', 'guest-smoke', 'guest-nvme-cli', 'guest-fio-verify', 'namespace-hotplug', 'migration-initiator']);
  assert.equal(d.onlyInBase[0]!.checks, 516);
  // Coverage of the one-scenario run has no gaps for the scenarios it did not run.
  const cov = coverage(rs.get(PERF_BROKEN)!, [rs.get(FULL_2)!, rs.get(FULL_1)!]);
  assert.deepEqual(cov.gaps, []);
});

test('real runs: two runs of the suite differ in no observed value, fact or environment field that is only the run itself', () => {
  const rs = realRuns();
  const d = diffRuns(rs.get(FULL_1)!, rs.get(FULL_2)!, [...rs.values()]);
  assert.deepEqual([d.added, d.removed, d.newFailures, d.fixed, d.otherChanges, d.onlyInBase, d.onlyInHead], [[], [], [], [], [], [], []]);
  // Scratch paths (/tmp/vnvme-sc-XXXXXX), md5s of random data that matched both times: not changes.
  assert.deepEqual(d.observed.map((o) => o.uid), []);
  // Measured values that moved inside an unchanged expectation ("appears within 60 s", "> 0") are kept apart.
  const add1 = d.measured.find((o) => o.uid === 'namespace-hotplug/add.1')!;
  assert.deepEqual(add1.changes[0], { what: '/dev/nvme0n2 of 16 MiB', before: 'after 193 ms', after: 'after 780 ms', expected: 'appears within 60 s' });
  assert.ok(d.measured.some((o) => o.uid === 'migration-initiator/v2.refuse.flipped'));
  // Per-VM hugetlbfs directories and boot times (a metric already) are no fact changes.
  assert.deepEqual(d.facts, []);
  assert.deepEqual(d.environment.map((e) => e.field), ['target commit', 'uncommitted changes']);
  // With two runs the noise band is a guess, and says so.
  const boot = d.metrics.find((m) => m.scenario === 'guest-smoke' && m.name === 'guest boot to SSH')!;
  assert.equal(boot.bandAssumed, true);
  assert.equal(boot.change, 'worse');
  // A value the device reports that changes is still a change: the synthetic fixture's FR 0.1.0 -> 0.1.1.
  const [head, base] = runs();
  assert.ok(diffRuns(base!, head!).observed.some((o) => o.uid === 'guest-smoke/id-ctrl.sn' && o.changes.some((c) => c.what === 'FR (firmware revision)')));
});

test('real runs: metrics named after their series ("downtime median (v2.mapped)") are one chart with a line per series', () => {
  const pm = perfMetrics([...realRuns().values()]);
  const dt = pm.find((m) => m.scenario === 'migration-initiator' && m.name === 'downtime median')!;
  assert.deepEqual([...dt.series.keys()].sort(), ['v1.mapped', 'v1.message', 'v2.mapped', 'v2.message']);
  assert.equal(dt.series.get('v2.mapped')!.length, 3);
  assert.ok(!pm.some((m) => /\((v[12]\.(mapped|message))\)$/.test(m.name)));
  const iops = pm.find((m) => m.scenario === 'guest-fio-perf' && m.name === '4k randread QD1' && m.unit === 'IOPS')!;
  assert.equal(iops.ratio!.baseline, 'qemu-nvme');
});

// The report writer: report.json validates against the schema (and the committed JSON Schema is
// current), junit.xml is well-formed with failure/error/skipped where they belong, report.html
// shows the data and is self-contained (no network references).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Report, REPORT_SCHEMA_ID, summarize, overallVerdict, type ScenarioResult } from '../../reports/report-schema.js';
import { writeReport } from '../../reports/write.js';
import { junitXml } from '../../reports/junit.js';
import { reportHtml } from '../../reports/html.js';
import { barChart, niceMax } from '../../reports/svg-chart.js';
import { reportSchemaText } from '../../reports/schema-cli.js';
import { checkWellFormedXml } from './xml-wellformed.js';

function scenario(over: Partial<ScenarioResult>): ScenarioResult {
  return { name: 's', description: 'd', tags: ['default'], iteration: 1, verdict: 'pass', startedAt: '2026-11-28T10:00:00.000Z', durationMs: 1234, timeoutMs: 60_000, checks: [], steps: [], metrics: [], fio: [], artifacts: [], facts: {}, ...over };
}

export function sampleReport(): Report {
  const scenarios: ScenarioResult[] = [
    scenario({
      name: 'guest-nvme-cli',
      checks: [
        { id: 'id-ctrl', title: 'Identify <Controller> & "SN"', area: 'Identify', section: 'NVMe Base 2.1 5.1.13.2.1', level: 'mandatory', verdict: 'pass', durationMs: 40, evidence: [{ command: 'nvme id-ctrl /dev/nvme0 -o json', where: 'guest', exitCode: 0, output: '{"sn":"VNVME-CLI-0001"}' }] },
        { id: 'compare', title: 'Compare', area: 'NVM I/O', section: 'NVM Command Set 1.0 3.3.1', level: 'mandatory', verdict: 'fail', message: 'miscompare status: expected Compare Failure, got SUCCESS', durationMs: 30, evidence: [{ note: 'status', expected: 'COMPARE_FAILED', actual: 'SUCCESS\u0007 <oops>' }] },
        { id: 'subsystem-reset', title: 'NSSR', area: 'Reset', section: 'NVMe Base 2.1 3.7.1', level: 'optional', verdict: 'skip', message: 'CAP.NSSRS is 0', durationMs: 1, evidence: [] },
      ],
      steps: [{ name: 'boot guest', startedMs: 0, durationMs: 12000 }],
      artifacts: [{ name: 'target.log', path: 'guest-nvme-cli/target.log', bytes: 10, tail: 'target says hi' }],
      facts: { 'guest.kernel': '6.12.57+deb13-amd64' },
      verdict: 'fail',
      reason: 'compare: miscompare status',
    }),
    scenario({
      name: 'guest-fio-perf',
      tags: ['perf'],
      fio: (['vfio-user', 'qemu-nvme'] as const).map((series, i) => ({
        name: '4k randread QD32', series, command: 'fio --rw=randread', rw: 'randread', bs: '4k', iodepth: 32, numjobs: 1,
        readIops: 10000 + i * 5000, writeIops: 0, readBwKiBps: 40000, writeBwKiBps: 0, readClatUs: { '50': 100, '99': 400 + i }, writeClatUs: {}, errors: 0, json: { jobs: [] },
      })),
      metrics: [{ name: 'boot', value: 12000, unit: 'ms', series: 'vfio-user', group: 'boot time' }],
    }),
    scenario({ name: 'migration', verdict: 'skip', reason: 'no migration-capable QEMU' }),
    scenario({ name: 'target-restart', verdict: 'error', reason: 'timed out after 600 s', checks: [{ id: 'scenario.timeout', title: 'finished in time', area: 'Harness', section: '', level: 'mandatory', verdict: 'error', message: 'timed out', durationMs: 600000, evidence: [{ note: 'timed out' }] }] }),
  ];
  const summary = summarize(scenarios);
  return {
    schema: REPORT_SCHEMA_ID,
    runId: '2026-11-28T10-00-00Z-abcdef',
    startedAt: '2026-11-28T10:00:00.000Z',
    finishedAt: '2026-11-28T10:05:00.000Z',
    durationMs: 300_000,
    command: 'npm run scenario',
    environment: {
      host: { hostname: 'ci', kernel: '6.1.0', cpu: 'Xeon', cpus: 2, node: 'v20.20.2' },
      qemu: { version: '11.1.3', source: 'debian-tree', description: 'QEMU 11.1.3 from the Debian trixie-backports tree' },
      accelerator: 'tcg (no /dev/kvm)',
      memoryBackend: 'memfd',
      guestKernel: '6.12.57+deb13-amd64',
      target: { commit: '0123456789abcdef0123456789abcdef01234567', dirty: false, version: '0.1.0' },
    },
    summary,
    verdict: overallVerdict(summary),
    scenarios,
    previous: { runId: '2026-11-27T10-00-00Z-000000', verdict: 'pass', scenarios: { 'guest-nvme-cli': { verdict: 'pass', durationMs: 61000, passedChecks: 3, checks: 3 } } },
  };
}

test('report.json is validated against the schema on write, and the committed JSON Schema is current', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-report-test-'));
  try {
    const out = writeReport(dir, sampleReport());
    const back = JSON.parse(readFileSync(out.json, 'utf8')) as unknown;
    const parsed = Report.safeParse(back);
    assert.equal(parsed.success, true, parsed.success ? '' : JSON.stringify(parsed.error.issues));
    assert.equal((back as Report).schema, 'vnvme-report/1');
    assert.throws(() => writeReport(dir, { ...sampleReport(), verdict: 'great' as never }), /verdict/);
    assert.equal(Report.safeParse({ ...sampleReport(), scenarios: [{ name: 'x' }] }).success, false);
    assert.equal(readFileSync('reports/schema/report.schema.json', 'utf8'), reportSchemaText(), 'run `node dist/reports/schema-cli.js` after changing the schema');
    const schema = JSON.parse(reportSchemaText()) as { properties: Record<string, unknown>; required: string[] };
    assert.ok(schema.required.includes('scenarios') && 'environment' in schema.properties);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('verdict roll-up: error > fail > pass; all skipped is skip; nothing run is error', () => {
  assert.equal(overallVerdict(summarize([{ verdict: 'pass' }, { verdict: 'fail' }])), 'fail');
  assert.equal(overallVerdict(summarize([{ verdict: 'fail' }, { verdict: 'error' }])), 'error');
  assert.equal(overallVerdict(summarize([{ verdict: 'skip' }])), 'skip');
  assert.equal(overallVerdict(summarize([])), 'error');
});

test('junit.xml is well-formed: failure for device defects, error for harness problems, skipped with the reason', () => {
  const xml = junitXml(sampleReport());
  const names = checkWellFormedXml(xml);
  assert.equal(names[0], 'testsuites');
  assert.equal(names.filter((n) => n === 'testsuite').length, 4);
  assert.match(xml, /<testsuites name="[^"]*" tests="6" failures="1" errors="1" skipped="2"/);
  assert.match(xml, /<failure message="miscompare status: expected Compare Failure, got SUCCESS" type="device-defect">/);
  assert.match(xml, /<error message="timed out" type="harness-error">/);
  assert.match(xml, /<skipped message="no migration-capable QEMU"\/>/);
  assert.match(xml, /Identify &lt;Controller&gt; &amp; &quot;SN&quot;/);
  assert.doesNotMatch(xml, /\u0007/, 'control characters are dropped');
  assert.throws(() => checkWellFormedXml('<a><b></a></b>'), /closes/);
  assert.throws(() => checkWellFormedXml('<a x="1 & 2"/>'), /entity/);
  assert.throws(() => checkWellFormedXml('<a></a><b/>'), /root/);
});

test('report.html renders the data and is self-contained', () => {
  const r = sampleReport();
  const html = reportHtml(r);
  for (const s of ['guest-nvme-cli', 'guest-fio-perf', 'target-restart', 'no migration-capable QEMU', 'nvme id-ctrl /dev/nvme0 -o json', 'NVMe Base 2.1 5.1.13.2.1', 'COMPARE_FAILED', 'QEMU 11.1.3', '6.12.57+deb13-amd64', '0123456789abcdef', 'target says hi', 'By spec area', 'tcg (no /dev/kvm)']) {
    assert.ok(html.includes(s), `HTML shows ${s}`);
  }
  assert.match(html, /previous run \(2026-11-27T10-00-00Z-000000\)/, 'the previous run is shown next to this one');
  assert.match(html, /Identify &lt;Controller&gt; &amp; &quot;SN&quot;/, 'text is escaped');
  assert.doesNotMatch(html, /<oops>/, 'evidence cannot inject markup');
  assert.ok((html.match(/<svg /g) ?? []).length >= 3, 'charts for IOPS, latency and a metric group');
  assert.match(html, /4k randread QD32 — qemu-nvme: 15.0k IOPS/);
  assert.doesNotMatch(html, /https?:\/\//, 'no network references at all');
  assert.doesNotMatch(html, /<link |<script src|@import|<img /);
  const data = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(html)?.[1];
  assert.ok(data);
  assert.deepEqual(JSON.parse(data!), JSON.parse(JSON.stringify(r)), 'the full report is embedded');
});

test('SVG bar chart: nice axis, one bar per series and group', () => {
  assert.equal(niceMax(0), 1);
  assert.equal(niceMax(7300), 10000);
  assert.equal(niceMax(1500), 2000);
  const svg = barChart([{ label: 'QD1', values: [{ series: 'a', value: 10 }, { series: 'b', value: 20 }] }, { label: 'QD32', values: [{ series: 'a', value: 30 }] }], { title: 'IOPS', unit: 'IOPS' });
  assert.equal((svg.match(/<rect [^>]*><title>/g) ?? []).length, 3);
  checkWellFormedXml(svg);
});

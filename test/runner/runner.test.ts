// The scenario runner without guests: verdicts (pass, fail = device defect, error = harness,
// skip with the reason), time limits that kill a hung worker and what it left behind, crashes,
// --repeat, --bail, selection and listing; and the run's three report files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runScenarios, type RunnerOptions } from '../../harness/runner/runner.js';
import { silentLive, consoleLive, summaryTable } from '../../harness/runner/live.js';
import type { NeedsProbe } from '../../harness/runner/needs.js';
import type { Scenario, ScenarioEntry } from '../../harness/runner/scenario.js';
import { listText, select } from '../../harness/runner/cli.js';
import { Report } from '../../reports/report-schema.js';
import * as fx from './fixtures/scenarios.js';

const fixtureModule = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'scenarios.js');

function entry(exportName: keyof typeof fx): ScenarioEntry {
  return { module: fixtureModule, exportName, scenario: fx[exportName] as Scenario };
}

const noKvm: NeedsProbe = { why: (n) => (n === 'kvm' ? '/dev/kvm is not usable (ENOENT); this scenario needs KVM' : undefined) };

async function run(entries: ScenarioEntry[], extra: Partial<RunnerOptions> = {}) {
  const reportDir = mkdtempSync(join(tmpdir(), 'vnvme-runner-test-'));
  try {
    const out = await runScenarios({ entries, reportDir, probe: noKvm, live: silentLive, killGraceMs: 500, ...extra });
    const json = JSON.parse(readFileSync(out.written.json, 'utf8')) as unknown;
    assert.ok(existsSync(out.written.junit) && existsSync(out.written.html));
    return { ...out, json, runDir: out.written.dir };
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }
}

/** Alive and not a zombie (a killed orphan stays a zombie until init reaps it). */
function pidAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

test('verdicts: pass, fail (device defect), error (harness), skip with the unmet need, skip from the scenario', async () => {
  const { report, json } = await run([entry('passing'), entry('failing'), entry('erroring'), entry('needsKvm'), entry('skipping')]);
  assert.equal(Report.safeParse(json).success, true, 'report.json validates against the schema');
  const by = Object.fromEntries(report.scenarios.map((s) => [s.name, s]));
  assert.equal(by['fx-pass']!.verdict, 'pass');
  assert.equal(by['fx-pass']!.checks.length, 2);
  assert.equal(by['fx-pass']!.fio[0]!.readIops, 1000);
  assert.equal(by['fx-pass']!.fio[0]!.readClatUs['99'], 90);
  assert.equal(by['fx-pass']!.steps[0]!.name, 'work');
  assert.ok(by['fx-pass']!.artifacts.some((a) => a.name === 'note.log' && a.tail?.includes('line 2')));
  assert.equal(by['fx-fail']!.verdict, 'fail');
  assert.match(by['fx-fail']!.reason ?? '', /bad: SN: expected ABC, got XYZ/);
  const bad = by['fx-fail']!.checks.find((c) => c.id === 'bad')!;
  assert.deepEqual({ expected: bad.evidence[0]!.expected, actual: bad.evidence[0]!.actual, section: bad.section }, { expected: 'ABC', actual: 'XYZ', section: 'NVMe Base 2.1 5.1.13.2.1' });
  assert.equal(by['fx-error']!.verdict, 'error');
  assert.match(by['fx-error']!.reason ?? '', /guest did not boot/);
  assert.equal(by['fx-kvm']!.verdict, 'skip', 'an unmet need is a skip, never a pass');
  assert.match(by['fx-kvm']!.reason ?? '', /\/dev\/kvm/);
  assert.equal(by['fx-skip']!.verdict, 'skip');
  assert.equal(by['fx-skip']!.reason, 'feature X not advertised');
  assert.deepEqual(report.summary, { total: 5, pass: 1, fail: 1, error: 1, skip: 2 });
  assert.equal(report.verdict, 'error');
  assert.match(report.environment.target.commit, /^[0-9a-f]{40}$|unknown/);
});

test('a hung scenario is killed at its time limit, its leftover child is killed by pid, logs are collected, and the next scenario still runs', async () => {
  const t0 = Date.now();
  const { report } = await run([entry('hanging'), entry('passing')]);
  const hung = report.scenarios[0]!;
  assert.equal(hung.verdict, 'error');
  assert.match(hung.reason ?? '', /timed out after 2 s/);
  assert.ok(hung.checks.some((c) => c.id === 'before-hang' && c.verdict === 'pass'), 'checks recorded before the hang are kept');
  assert.ok(hung.checks.some((c) => c.id === 'scenario.timeout' && c.verdict === 'error'));
  assert.ok(hung.artifacts.some((a) => a.name === 'child.log' && a.tail?.includes('child started')), 'the logs it named are collected');
  const leftovers = hung.artifacts.find((a) => a.name === 'worker output')?.tail ?? '';
  const pid = Number(/killed leftovers: (\d+)/.exec(leftovers)?.[1]);
  assert.ok(pid > 0, `the leftover child was killed: ${leftovers}`);
  for (let i = 0; i < 100 && pidAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(pidAlive(pid), false, `leftover child is gone: ${existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8").slice(0, 80) : "no stat"}`);
  assert.equal(report.scenarios[1]!.verdict, 'pass', 'the next scenario is not poisoned');
  assert.ok(Date.now() - t0 < 20_000);
});

test('an interrupted run stops the running scenario, reports the rest as not run, and still writes the report', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 800);
  const slow = { ...entry('hanging'), scenario: { ...fx.hanging, timeoutMs: 60_000 } };
  const { report } = await run([slow, entry('passing')], { signal: ac.signal });
  assert.equal(report.scenarios[0]!.verdict, 'error');
  assert.match(report.scenarios[0]!.reason ?? '', /interrupted by the user/);
  assert.equal(report.scenarios[1]!.verdict, 'skip');
  assert.equal(report.scenarios[1]!.reason, 'not run: the run was interrupted');
});

test('a worker that dies is an error with the checks it recorded', async () => {
  const { report } = await run([entry('crashing')]);
  const s = report.scenarios[0]!;
  assert.equal(s.verdict, 'error');
  assert.match(s.reason ?? '', /ended without a result \(exit status 3\)/);
  assert.ok(s.checks.some((c) => c.id === 'first' && c.verdict === 'pass'));
});

test('the previous run in the same report directory is summarised next to the new one', async () => {
  const reportDir = mkdtempSync(join(tmpdir(), 'vnvme-runner-prev-'));
  try {
    const first = await runScenarios({ entries: [entry('failing')], reportDir, probe: noKvm, live: silentLive });
    assert.equal(first.report.previous, undefined);
    const second = await runScenarios({ entries: [entry('failing')], reportDir, probe: noKvm, live: silentLive });
    assert.equal(second.report.previous?.runId, first.report.runId);
    const index = readFileSync(join(reportDir, 'index.html'), 'utf8');
    assert.ok(index.includes(`${first.report.runId}/report.html`) && index.includes(`${second.report.runId}/report.html`), 'index.html links both runs');
    assert.match(index, /<th>fx-fail<\/th>/);
    assert.doesNotMatch(index, /https?:\/\//);
    assert.deepEqual(second.report.previous?.scenarios['fx-fail'], { verdict: 'fail', durationMs: first.report.scenarios[0]!.durationMs, passedChecks: 1, checks: 2 });
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }
});

test('--repeat runs each scenario N times with iterations numbered', async () => {
  const { report } = await run([entry('passing'), entry('skipping')], { repeat: 3 });
  assert.deepEqual(
    report.scenarios.map((s) => `${s.name}#${s.iteration}`),
    ['fx-pass#1', 'fx-pass#2', 'fx-pass#3', 'fx-skip#1', 'fx-skip#2', 'fx-skip#3'],
  );
  assert.equal(report.summary.pass, 3);
});

test('--bail stops after the first failure; the rest are reported as skipped, not passed', async () => {
  const { report } = await run([entry('passing'), entry('failing'), entry('passing'), entry('erroring')], { bail: true });
  assert.deepEqual(report.scenarios.map((s) => s.verdict), ['pass', 'fail', 'skip', 'skip']);
  assert.match(report.scenarios[2]!.reason ?? '', /not run: --bail after fx-fail failed/);
  const keepGoing = await run([entry('failing'), entry('passing')], { bail: false });
  assert.deepEqual(keepGoing.report.scenarios.map((s) => s.verdict), ['fail', 'pass']);
});

test('selection: names, tags, the default suite; --list marks the default suite', async () => {
  const { loadCatalog } = await import('../../scenarios/index.js');
  const catalog = await loadCatalog();
  const names = catalog.map((e) => e.scenario.name);
  for (const n of ['conformance', 'guest-smoke', 'guest-nvme-cli', 'guest-fio-verify', 'guest-fio-perf', 'fault-injection', 'target-restart', 'namespace-hotplug']) assert.ok(names.includes(n), n);
  const def = select(catalog, [], []).map((e) => e.scenario.name);
  assert.ok(def.includes('conformance') && def.includes('guest-smoke'));
  assert.ok(!def.includes('guest-fio-perf'), 'perf is not in the default suite');
  assert.deepEqual(select(catalog, ['guest-smoke'], []).map((e) => e.scenario.name), ['guest-smoke']);
  assert.throws(() => select(catalog, ['nope'], []), /unknown scenario/);
  for (const e of catalog) assert.ok(e.scenario.timeoutMs > 0 && e.scenario.description.length > 10, e.scenario.name);
  const list = listText(catalog);
  assert.match(list, /guest-smoke\s+\*/);
  assert.match(list, /default suite/);
});

test('live display: plain lines when not a terminal; summary table', () => {
  const lines: string[] = [];
  const stream = { isTTY: false, write: (s: string) => lines.push(s) } as unknown as NodeJS.WriteStream;
  const live = consoleLive(stream, false);
  const sc = live.begin('guest-smoke', 1, 2);
  sc.step('boot guest');
  sc.check({ id: 'x', title: 't', area: 'A', section: '', level: 'mandatory', verdict: 'fail', message: 'boom', durationMs: 1, evidence: [] });
  live.close();
  const text = lines.join('');
  assert.match(text, /guest-smoke \[1\/2\] started/);
  assert.match(text, /guest-smoke: boot guest/);
  assert.match(text, /FAIL x: boom/);
  assert.doesNotMatch(text, /\x1b\[/, 'no terminal escapes in CI output');
  const ttyOut: string[] = [];
  const tty = consoleLive({ isTTY: true, columns: 80, write: (s: string) => ttyOut.push(s) } as unknown as NodeJS.WriteStream, true);
  tty.begin('guest-smoke', 1, 1).step('boot guest');
  assert.ok(ttyOut.some((s) => s.startsWith('\r\x1b[K▶ [1/1] guest-smoke 0:00') && s.includes('› boot guest')), `status line redrawn in place: ${JSON.stringify(ttyOut)}`);
  // Two at once (--jobs 2): one status line with both.
  tty.begin('guest-nvme-cli', 2, 2).step('checks');
  tty.close();
  assert.ok(ttyOut.some((s) => /\[1\/1\] guest-smoke 0:\d\d › boot guest \| \[2\/2\] guest-nvme-cli 0:\d\d › checks/.test(s)), `both running scenarios on the status line: ${JSON.stringify(ttyOut.slice(-3))}`);
  const table = summaryTable([{ name: 'a', description: '', tags: [], iteration: 1, verdict: 'pass', startedAt: '', durationMs: 1500, timeoutMs: 1, checks: [], steps: [], metrics: [], fio: [], artifacts: [], facts: {} }]);
  assert.match(table, /^SCENARIO\s+VERDICT/);
  assert.match(table, /a\s+PASS\s+1 pass\s+1\.5 s/);
  // Every verdict named, never "34/43" (what the default suite's guest-nvme-cli printed): 34 passed and 9 skipped.
  const check = (verdict: 'pass' | 'skip') => ({ id: verdict, title: '', area: '', section: '', level: 'mandatory' as const, verdict, durationMs: 1, evidence: [] });
  const nine = summaryTable([{ name: 'guest-nvme-cli', description: '', tags: [], iteration: 1, verdict: 'pass', startedAt: '', durationMs: 14_900, timeoutMs: 1, checks: [...Array(34).fill(check('pass')), ...Array(9).fill(check('skip'))], steps: [], metrics: [], fio: [], artifacts: [], facts: {} }]);
  assert.match(nine, /guest-nvme-cli\s+PASS\s+34 pass, 9 skip\s+14\.9 s/);
  // A scenario whose target did not start: its error, not "0/0".
  const broken = summaryTable([{ name: 'guest-fio-perf', description: '', tags: [], iteration: 1, verdict: 'error', reason: 'harness error: `vnvme target` ended at start', startedAt: '', durationMs: 207, timeoutMs: 1, checks: [], steps: [], metrics: [], fio: [], artifacts: [], facts: {} }]);
  assert.match(broken, /guest-fio-perf\s+ERROR\s+1 error\s+0\.2 s\s+harness error/);
});

test("guests' logs are named by their label, the same in every run; the environment's memory backend has no per-VM path", async () => {
  const { report, runDir } = await run([entry('guestArtifacts')]);
  const s = report.scenarios[0]!;
  assert.equal(s.verdict, 'pass');
  const names = s.artifacts.map((a) => a.name).sort();
  assert.deepEqual(names, ['guest-2-qemu.cmdline', 'guest-2-qemu.stderr', 'guest-2-serial.log', 'guest-qemu.cmdline', 'guest-qemu.stderr', 'guest-serial.log']);
  assert.ok(!names.some((n) => /\d{3,}/.test(n)), `no pid in ${names.join(', ')}`);
  const serial = s.artifacts.find((a) => a.name === 'guest-2-serial.log')!;
  assert.equal(serial.path, 'fx-guest-artifacts/guest-2-serial.log');
  assert.match(serial.tail ?? '', /console of guest 2/);
  assert.ok(runDir);
  assert.equal(report.environment.memoryBackend, 'hugetlbfs, 512 x 2 MiB pages at /root/.cache/vnvme/vms/sc-fx-guest-artifacts-guest-*/hugepages (512 reserved by the harness)');
});

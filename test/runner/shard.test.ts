// --shard i/N and --jobs N: the shard split is a partition of the plan (property test), balanced
// and independent of the order names were given in; --jobs 2 runs two scenario workers at once,
// each with its own process and scratch directory, and gives the serial run's report (same
// scenario runs in the same order, same check ids); N shards together give the serial run's
// check ids; --memory / --doorbells reach the scenarios.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { parseJobs, parseShard, runKey, shardOf } from '../../harness/runner/shard.js';
import { runScenarios, type RunnerOptions } from '../../harness/runner/runner.js';
import { silentLive } from '../../harness/runner/live.js';
import { main } from '../../harness/runner/cli.js';
import type { Scenario, ScenarioEntry } from '../../harness/runner/scenario.js';
import type { Report } from '../../reports/report-schema.js';
import * as fx from './fixtures/scenarios.js';

const fixtureModule = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'scenarios.js');
const cliPath = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'harness', 'runner', 'cli.js');
const entry = (exportName: keyof typeof fx): ScenarioEntry => ({ module: fixtureModule, exportName, scenario: fx[exportName] as Scenario });

test('--shard and --jobs parse; bad values say what is wanted', () => {
  assert.deepEqual(parseShard('2/3'), { index: 2, count: 3 });
  assert.deepEqual(parseShard('1/1'), { index: 1, count: 1 });
  for (const bad of ['0/2', '3/2', '1/0', '1', 'a/b', '1/2/3', '-1/2']) assert.throws(() => parseShard(bad), /i\/N with 1 <= i <= N/, bad);
  assert.equal(parseJobs('3'), 3);
  assert.equal(parseJobs('auto', 2), 1);
  assert.equal(parseJobs('auto', 16), 8);
  assert.equal(parseJobs('auto', 1), 1);
  for (const bad of ['0', '-1', '1.5', 'x']) assert.throws(() => parseJobs(bad), /positive integer or "auto"/, bad);
  assert.throws(() => shardOf(['a', 'a'], (x) => x, { index: 1, count: 2 }), /not unique/);
});

test('property: the N shards partition the plan, differ in size by at most one, and do not depend on input order', () => {
  const names = fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/), { minLength: 0, maxLength: 25 });
  fc.assert(
    fc.property(names, fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 9 }), fc.integer(), (ns, repeat, count, seed) => {
      const plan = ns.flatMap((n) => Array.from({ length: repeat }, (_, i) => runKey(n, i + 1)));
      const shards = Array.from({ length: count }, (_, i) => shardOf(plan, (k) => k, { index: i + 1, count }));
      const all = shards.flat();
      assert.equal(all.length, plan.length, 'no run in two shards, none lost');
      assert.deepEqual([...all].sort(), [...plan].sort(), 'the union is the serial plan');
      const sizes = shards.map((s) => s.length);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `balanced: ${sizes.join(',')}`);
      for (const s of shards) assert.deepEqual(s, plan.filter((k) => s.includes(k)), 'each shard keeps plan order');
      // The same set in another order gives every shard the same runs.
      const shuffled = [...plan].sort((a, b) => ((a.length * 31 + seed) % 7) - ((b.length * 31 + seed) % 7) || (a < b ? 1 : -1));
      for (let i = 0; i < count; i++) assert.deepEqual([...shardOf(shuffled, (k) => k, { index: i + 1, count })].sort(), [...shards[i]!].sort());
    }),
    { numRuns: 300 },
  );
});

async function run(entries: ScenarioEntry[], extra: Partial<RunnerOptions> = {}): Promise<Report> {
  const reportDir = mkdtempSync(join(tmpdir(), 'vnvme-shard-test-'));
  try {
    const out = await runScenarios({ entries, reportDir, probe: { why: () => undefined }, live: silentLive, ...extra });
    return JSON.parse(readFileSync(out.written.json, 'utf8')) as Report;
  } finally {
    rmSync(reportDir, { recursive: true, force: true });
  }
}

const uids = (r: Report): string[] => r.scenarios.flatMap((s) => s.checks.map((c) => `${s.name}#${s.iteration}/${c.id}`)).sort();
const summaryOf = (r: Report) => r.scenarios.map((s) => ({ run: `${s.name}#${s.iteration}`, verdict: s.verdict, checks: s.checks.map((c) => `${c.id}:${c.verdict}`) }));

test('--jobs 2 runs two scenario workers at once, each its own process and scratch directory, and reports what the serial run reports', async () => {
  const entries = [entry('sleeperA'), entry('sleeperB'), entry('passing'), entry('failing'), entry('skipping')];
  const serial = await run(entries);
  const t0 = Date.now();
  const parallel = await run(entries, { jobs: 2 });
  const parallelMs = Date.now() - t0;
  assert.deepEqual(summaryOf(parallel), summaryOf(serial), 'same runs, same order, same verdicts and check ids');
  assert.deepEqual(parallel.summary, serial.summary);
  const [a, b] = parallel.scenarios;
  const span = (s: typeof a) => [Number(s!.facts.t0), Number(s!.facts.t1)] as const;
  const [a0, a1] = span(a);
  const [b0, b1] = span(b);
  assert.ok(a0 < b1 && b0 < a1, `the two sleepers overlapped: [${a0}, ${a1}] and [${b0}, ${b1}]`);
  const [s0, s1] = span(serial.scenarios[0]);
  const [t0b] = span(serial.scenarios[1]);
  assert.ok(t0b >= s1 && s1 > s0, 'serially they did not');
  assert.notEqual(a!.facts.pid, b!.facts.pid, 'separate worker processes');
  assert.notEqual(a!.facts.tmp, b!.facts.tmp, 'separate scratch directories (sockets)');
  assert.ok(parallelMs < 20_000);
});

test('shards 1/2 and 2/2 (with --repeat 2) together run the serial set of checks, each run once', async () => {
  const entries = [entry('passing'), entry('failing'), entry('skipping'), entry('sleeperA')];
  const serial = await run(entries, { repeat: 2 });
  const one = await run(entries, { repeat: 2, shard: { index: 1, count: 2 } });
  const two = await run(entries, { repeat: 2, shard: { index: 2, count: 2 }, jobs: 2 });
  assert.equal(one.scenarios.length + two.scenarios.length, serial.scenarios.length);
  assert.ok(one.scenarios.length === 4 && two.scenarios.length === 4, 'balanced');
  assert.deepEqual([...uids(one), ...uids(two)].sort(), uids(serial));
  const runsOf = (r: Report) => r.scenarios.map((s) => runKey(s.name, s.iteration));
  assert.equal(new Set([...runsOf(one), ...runsOf(two)]).size, 8, 'disjoint');
  const three = await run(entries, { shard: { index: 3, count: 5 } });
  assert.ok(three.scenarios.length <= 1, 'a shard may be small or empty and still writes a report');
});

test('settings: --memory, --doorbells and --accel reach every scenario (context settings, nvmf_create_transport -M)', async () => {
  const r = await run([entry('sleeperA')], { settings: { memory: 'memfd', doorbells: 'message', accel: 'tcg' } });
  assert.equal(r.scenarios[0]!.facts.transport, '-t VFIOUSER -M');
  assert.equal(r.scenarios[0]!.facts.memory, 'memfd');
  assert.equal(r.scenarios[0]!.facts.accel, 'tcg');
  const d = await run([entry('sleeperA')]);
  assert.equal(d.scenarios[0]!.facts.transport, '-t VFIOUSER');
});

test('the command line takes --shard, --jobs, --memory, --doorbells and refuses bad values', async () => {
  for (const [args, msg] of [
    [['--shard', '3/2', '--list'], /--shard/],
    [['--jobs', '0', '--list'], /--jobs/],
    [['--memory', 'tmpfs', '--list'], /--memory is one of auto, hugepages, memfd/],
    [['--doorbells', 'poll', '--list'], /--doorbells is one of mapped, message/],
  ] as const) {
    const err = (await main([...args]).then(() => undefined, (e: Error) => e)) as Error | undefined;
    assert.ok(err, `${args.join(" ")} is refused`);
    assert.match(err.message, msg);
  }
  // In a child: the test runner reads this process's stdout.
  const r = spawnSync(process.execPath, [cliPath, '--shard', '1/2', '--jobs', 'auto', '--memory', 'hugepages', '--doorbells', 'message', '--list'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout;
  assert.match(out, /guest-smoke/);
});

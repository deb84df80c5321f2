// Runs scenarios, each in its own worker process with its own target and guest (one after
// another, or `jobs` at once); enforces time limits from outside (SIGTERM, then SIGKILL, then
// the worker's recorded children by pid), turns unmet needs into skips with the reason, and
// writes the run's report, in plan order whatever order the runs finished in.
import { fork } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { cpus, hostname, release, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { overallVerdict, REPORT_SCHEMA_ID, summarize, type Check, type Environment, type Report, type ScenarioResult } from '../../reports/report-schema.js';
import { writeReport, type WrittenReport } from '../../reports/write.js';
import { writeRunsIndex } from '../../reports/index-html.js';
import { writeRunsJson } from '../../reports/runs-index.js';
import { runIndependent } from '../../reports/run-paths.js';
import type { GuestParts } from '../guest/parts.js';
import type { LiveState } from './context.js';
import type { LiveDisplay, ScenarioLive } from './live.js';
import type { NeedsProbe } from './needs.js';
import type { RunRequest, RunSettings, WorkerMessage } from './protocol.js';
import type { ScenarioEntry } from './scenario.js';
import { targetCommit } from './target.js';
import { runKey, shardOf, type Shard } from './shard.js';
import { pidAlive } from '../process.js';

export interface RunnerOptions {
  entries: readonly ScenarioEntry[];
  /** reports/runs: the run gets its own <timestamp>-<id>/ below it. */
  reportDir: string;
  repeat?: number;
  /** Run only this machine's part of the plan (shard.ts); the N shards together run the serial plan. */
  shard?: Shard;
  /** Scenario workers at once (default 1). Each has its own target, guest, sockets, ports and scratch directory. */
  jobs?: number;
  /** Guest memory backend and doorbell mode for every scenario (--memory, --doorbells). */
  settings?: RunSettings;
  /** Stop after the first scenario run that fails or errors (the rest are reported as skipped). */
  bail?: boolean;
  qemu?: string;
  probe: NeedsProbe;
  /** Provisions QEMU and the guest image once, before the first scenario that needs them. */
  provision?: () => Promise<GuestParts>;
  live: LiveDisplay;
  command?: string;
  /** Time between SIGTERM and SIGKILL of a worker that overran its limit. */
  killGraceMs?: number;
  /** Multiplies every scenario's time limit (slow machines). */
  timeoutScale?: number;
  /** The worker script (tests may substitute). */
  workerPath?: string;
  /** Ctrl-C: the running scenario is stopped (its logs collected), the rest are reported as not run. */
  signal?: AbortSignal;
}

export interface RunOutcome {
  report: Report;
  written: WrittenReport;
}

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = join(here, '..', '..', '..');

export function runId(now = new Date()): string {
  return `${now.toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z')}-${randomBytes(3).toString('hex')}`;
}

/** Kills what a dead worker left behind: only pids it recorded, and only if they still look like ours. */
function killLeftovers(state: LiveState | undefined): string[] {
  const killed: string[] = [];
  for (const pid of state?.pids ?? []) {
    if (!pidAlive(pid)) continue;
    let cmd = '';
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (!/vnvme|qemu/.test(cmd)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(`${pid} (${cmd.slice(0, 80)})`);
    } catch {
      /* gone */
    }
  }
  return killed;
}

function tailOf(path: string, lines = 80): string | undefined {
  try {
    const size = statSync(path).size;
    return readFileSync(path).subarray(Math.max(0, size - 200_000)).toString('utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return undefined;
  }
}

function skipped(e: ScenarioEntry, iteration: number, reason: string): ScenarioResult {
  return { name: e.scenario.name, description: e.scenario.description, tags: [...e.scenario.tags], iteration, verdict: 'skip', reason, startedAt: new Date().toISOString(), durationMs: 0, timeoutMs: e.scenario.timeoutMs, checks: [], steps: [], metrics: [], fio: [], artifacts: [], facts: {} };
}

async function runOne(e: ScenarioEntry, iteration: number, runDir: string, o: RunnerOptions, view: ScenarioLive): Promise<ScenarioResult> {
  const s = e.scenario;
  const dir = join(runDir, iteration > 1 ? `${s.name}-${iteration}` : s.name);
  mkdirSync(dir, { recursive: true });
  const tmp = mkdtempSync(join(tmpdir(), 'vnvme-sc-'));
  const limit = Math.round(s.timeoutMs * (o.timeoutScale ?? 1));
  const started = Date.now();
  const startedAt = new Date(started).toISOString();
  const checks: Check[] = [];
  let live: LiveState | undefined;
  let result: ScenarioResult | undefined;
  let timedOut = false;
  const details: string[] = [];
  // Its own process group: a Ctrl-C at the terminal reaches the runner alone, which stops the
  // worker in order (SIGTERM, its teardown ends its target and QEMU), so nothing the scenario
  // was doing fails with "Not connected" half-way through and gets reported as a device error.
  const worker = fork(o.workerPath ?? join(here, 'worker.js'), [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true, env: { ...process.env, VNVME_SCENARIO: s.name } });
  // Not in the terminal's group any more, so the runner ends it if the runner itself exits.
  const killWorker = (): void => {
    if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  };
  process.on('exit', killWorker);
  let currentStep = 'start';
  let workerOut = '';
  worker.stdout?.on('data', (d: Buffer) => (workerOut = (workerOut + d.toString()).slice(-100_000)));
  worker.stderr?.on('data', (d: Buffer) => (workerOut = (workerOut + d.toString()).slice(-100_000)));
  worker.on('message', (m: WorkerMessage) => {
    switch (m.type) {
      case 'step':
        currentStep = m.name;
        view.step(m.name);
        break;
      case 'detail':
        details.push(m.text);
        if (details.length > 200) details.shift();
        view.detail(m.text);
        break;
      case 'check':
        // Checks that end after the stop was ordered report the stop, not the device.
        if (timedOut) break;
        checks.push(m.check);
        view.check(m.check);
        break;
      case 'live':
        live = m.state;
        break;
      case 'result':
        result = m.result;
        break;
    }
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => worker.on('exit', (code, signal) => resolve({ code, signal })));
  const req: RunRequest = { type: 'run', module: e.module, exportName: e.exportName, iteration, dir, tmp, qemu: o.qemu, settings: o.settings };
  worker.send(req);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), limit);
  });
  const interrupted = new Promise<'timeout'>((resolve) => {
    if (o.signal?.aborted) resolve('timeout');
    o.signal?.addEventListener('abort', () => resolve('timeout'), { once: true });
  });
  let ended: Awaited<typeof exit> | 'timeout' | 'grace' = await Promise.race([exit, timeout, interrupted]);
  const byUser = o.signal?.aborted === true;
  let killedLeftovers: string[] = [];
  if (ended === 'timeout') {
    timedOut = true;
    o.live.line(byUser ? `${s.name}: interrupted; stopping worker pid ${worker.pid} (SIGTERM)` : `${s.name}: time limit ${Math.round(limit / 1000)} s reached; stopping worker pid ${worker.pid} (SIGTERM)`);
    worker.kill('SIGTERM');
    const grace = new Promise<'grace'>((r) => setTimeout(() => r('grace'), o.killGraceMs ?? 15_000));
    ended = await Promise.race([exit, grace]);
    if (ended === 'grace') {
      worker.kill('SIGKILL');
      ended = await exit;
    }
  }
  clearTimeout(timer);
  process.off('exit', killWorker);
  // A worker that died or was killed may leave its target or QEMU behind; `live` names them.
  if (existsSync(join(dir, 'live.json'))) {
    try {
      live = JSON.parse(readFileSync(join(dir, 'live.json'), 'utf8')) as LiveState;
    } catch {
      /* partial write */
    }
  }
  killedLeftovers = killLeftovers(live);
  rmSync(tmp, { recursive: true, force: true });
  if (result && !timedOut) return { ...result, artifacts: result.artifacts.map((a) => ({ ...a, path: relative(runDir, a.path) || '.' })) };

  // No result: the worker timed out, crashed or was killed. Collect what is known.
  const how = ended as { code: number | null; signal: NodeJS.Signals | null };
  const reason = byUser
    ? `interrupted by the user after ${Math.round((Date.now() - started) / 1000)} s, during step "${currentStep}"${details.length ? `; last output: ${details.at(-1)}` : ''}`
    : timedOut
    ? `timed out after ${Math.round(limit / 1000)} s during step "${currentStep}" (worker stopped by ${how.signal ?? `exit ${how.code}`})${details.length ? `; last output: ${details.at(-1)}` : ''}`
    : `the scenario worker ended without a result (${how.signal ? `killed by ${how.signal}` : `exit status ${how.code}`})`;
  const artifacts: ScenarioResult['artifacts'] = [];
  for (const l of live?.logs ?? []) {
    const tail = tailOf(l.path);
    if (tail !== undefined) artifacts.push({ name: l.name, path: relative(runDir, l.path), bytes: statSync(l.path).size, tail });
  }
  const workerLog = [workerOut, ...details.map((d) => `detail: ${d}`), killedLeftovers.length ? `killed leftovers: ${killedLeftovers.join(', ')}` : ''].filter(Boolean).join('\n');
  artifacts.push({ name: 'worker output', path: relative(runDir, dir), bytes: workerLog.length, tail: workerLog.split('\n').slice(-120).join('\n') });
  checks.push({ id: byUser ? 'scenario.interrupted' : timedOut ? 'scenario.timeout' : 'scenario.crash', title: byUser ? 'scenario ran to the end (the run was interrupted)' : timedOut ? 'scenario finished within its time limit' : 'scenario worker ran to the end', area: 'Harness', section: '', level: 'mandatory', verdict: 'error', message: reason, durationMs: Date.now() - started, evidence: [{ note: reason }] });
  return { name: s.name, description: s.description, tags: [...s.tags], iteration, verdict: 'error', reason, startedAt, durationMs: Date.now() - started, timeoutMs: limit, checks, steps: [], metrics: [], fio: [], artifacts, facts: {} };
}

function environmentFrom(results: readonly ScenarioResult[], parts: GuestParts | undefined): Environment {
  const fact = (suffix: string): string => {
    for (const r of results) for (const [k, v] of Object.entries(r.facts)) if (k.endsWith(suffix)) return v;
    return '';
  };
  const { commit, dirty } = targetCommit(repoRoot);
  let version = '';
  try {
    version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    /* none */
  }
  return {
    host: { hostname: hostname(), kernel: release(), cpu: cpus()[0]?.model ?? 'unknown', cpus: cpus().length, node: process.version },
    qemu: parts ? { version: parts.qemu.version, source: parts.qemu.source, description: parts.qemu.description } : null,
    accelerator: fact('.accelerator'),
    // The run's backing, not one guest's: its per-VM directory (…/vms/sc-guest-smoke-guest-19303/hugepages) with the varying part as "*".
    memoryBackend: runIndependent(fact('.memory')),
    guestKernel: fact('.kernel') || (parts?.image.manifest.kernelVersion ?? ''),
    target: { commit, dirty, version },
  };
}

/** The newest earlier run's report.json in reportDir (skipping unreadable ones), summarised. */
export function previousRun(reportDir: string, exceptRunId: string): Report['previous'] {
  let dirs: string[] = [];
  try {
    dirs = readdirSync(reportDir).filter((d) => d !== exceptRunId).sort().reverse();
  } catch {
    return undefined;
  }
  for (const d of dirs.slice(0, 20)) {
    try {
      const r = JSON.parse(readFileSync(join(reportDir, d, 'report.json'), 'utf8')) as Report;
      if (r.schema !== REPORT_SCHEMA_ID) continue;
      const scenarios: NonNullable<Report['previous']>['scenarios'] = {};
      for (const s of r.scenarios) {
        const key = s.iteration > 1 ? `${s.name}#${s.iteration}` : s.name;
        scenarios[key] = { verdict: s.verdict, durationMs: s.durationMs, passedChecks: s.checks.filter((c) => c.verdict === 'pass').length, checks: s.checks.length };
      }
      return { runId: r.runId, verdict: r.verdict, scenarios };
    } catch {
      /* not a finished run */
    }
  }
  return undefined;
}

export async function runScenarios(o: RunnerOptions): Promise<RunOutcome> {
  const started = new Date();
  const id = runId(started);
  const runDir = join(o.reportDir, id);
  mkdirSync(runDir, { recursive: true });
  const repeat = Math.max(1, o.repeat ?? 1);
  const serialPlan = o.entries.flatMap((e) => Array.from({ length: repeat }, (_, i) => ({ e, iteration: i + 1 })));
  const plan = o.shard ? shardOf(serialPlan, (p) => runKey(p.e.scenario.name, p.iteration), o.shard) : serialPlan;
  if (o.shard) o.live.line(`shard ${o.shard.index}/${o.shard.count}: ${plan.length} of ${serialPlan.length} scenario runs${plan.length ? `: ${plan.map((p) => (p.iteration > 1 ? `${p.e.scenario.name}#${p.iteration}` : p.e.scenario.name)).join(', ')}` : ''}`);
  const results: ScenarioResult[] = new Array<ScenarioResult>(plan.length);
  let parts: GuestParts | undefined;
  let provisioning: Promise<void> | undefined;
  let provisionError: string | undefined;
  let bailedOn: string | undefined;
  // QEMU and the guest image are provisioned once, by whichever worker slot first needs them;
  // the others wait for that.
  const provisionOnce = (view: ScenarioLive): Promise<void> =>
    (provisioning ??= (async () => {
      view.step('provisioning QEMU and the guest image (cached after the first run)');
      try {
        parts = await o.provision!();
      } catch (err) {
        provisionError = `provisioning QEMU / the guest image failed: ${(err as Error).message}`;
      }
    })());
  const runPlanned = async (i: number): Promise<void> => {
    const { e, iteration } = plan[i]!;
    const s = e.scenario;
    const view = o.live.begin(iteration > 1 ? `${s.name}#${iteration}` : s.name, i + 1, plan.length);
    let r: ScenarioResult;
    const unmet = s.needs.map((n) => o.probe.why(n)).find((why) => why !== undefined);
    if (o.signal?.aborted) r = skipped(e, iteration, 'not run: the run was interrupted');
    else if (bailedOn) r = skipped(e, iteration, `not run: --bail after ${bailedOn}`);
    else if (unmet) r = skipped(e, iteration, unmet);
    else {
      if (s.needs.includes('qemu') && o.provision) await provisionOnce(view);
      if (s.needs.includes('qemu') && provisionError) {
        r = { ...skipped(e, iteration, provisionError), verdict: 'error', checks: [{ id: 'provision', title: 'QEMU and the guest image are provisioned', area: 'Harness', section: '', level: 'mandatory', verdict: 'error', message: provisionError, durationMs: 0, evidence: [{ note: provisionError }] }] };
      } else {
        const again = s.needs.map((n) => o.probe.why(n)).find((why) => why !== undefined);
        r = again ? skipped(e, iteration, again) : await runOne(e, iteration, runDir, o, view);
      }
    }
    results[i] = r;
    view.end(r);
    if (o.bail && !bailedOn && (r.verdict === 'fail' || r.verdict === 'error')) bailedOn = `${s.name}${iteration > 1 ? `#${iteration}` : ''} ${r.verdict === 'fail' ? 'failed' : 'errored'}`;
  };
  // `jobs` slots, each taking the next planned run when its last one ends.
  let next = 0;
  const slot = async (): Promise<void> => {
    while (next < plan.length) await runPlanned(next++);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(o.jobs ?? 1, plan.length)) }, slot));
  o.live.close();
  const finished = new Date();
  const summary = summarize(results);
  const report: Report = {
    schema: REPORT_SCHEMA_ID,
    runId: id,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    command: o.command ?? 'npm run scenario',
    environment: environmentFrom(results, parts),
    summary,
    verdict: overallVerdict(summary),
    scenarios: results,
    previous: previousRun(o.reportDir, id),
  };
  const written = writeReport(runDir, report);
  try {
    writeRunsIndex(o.reportDir);
  } catch (err) {
    o.live.line(`could not update ${join(o.reportDir, 'index.html')}: ${(err as Error).message}`);
  }
  // runs/index.json: what the viewer's Runs page reads (vnvme report serve|build).
  try {
    writeRunsJson(o.reportDir);
  } catch (err) {
    o.live.line(`could not update ${join(o.reportDir, 'index.json')}: ${(err as Error).message}`);
  }
  return { report, written };
}

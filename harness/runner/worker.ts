// One scenario in its own process: the runner forks this file per scenario run, so a crash,
// a hang (even one that blocks the event loop) or a leak cannot reach the next scenario. The
// runner enforces the time limit from outside; here the teardown module ends this worker's
// children (targets, QEMU) on SIGTERM.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Check, ScenarioResult } from '../../reports/report-schema.js';
import { provisionGuestParts, type GuestParts } from '../guest/parts.js';
import type { Progress } from '../progress.js';
import { ScenarioContext } from './context.js';
import type { RunRequest, WorkerMessage } from './protocol.js';
import { CheckFailed, Skip, type Scenario } from './scenario.js';

function send(m: WorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send(m, undefined, {}, () => resolve());
  });
}

/** The scenario's verdict from its checks and how its body ended. */
export function scenarioVerdict(checks: readonly Check[], ended: unknown): { verdict: ScenarioResult['verdict']; reason?: string } {
  if (ended instanceof Skip) return { verdict: 'skip', reason: ended.reason };
  if (ended instanceof CheckFailed) return { verdict: 'fail', reason: ended.message };
  if (ended !== undefined) return { verdict: 'error', reason: `harness error: ${(ended as Error).message ?? String(ended)}` };
  const first = (v: Check['verdict']) => checks.find((c) => c.verdict === v);
  const err = first('error');
  if (err) return { verdict: 'error', reason: `${err.id}: ${err.message ?? 'harness error'}` };
  const fail = first('fail');
  if (fail) return { verdict: 'fail', reason: `${fail.id}: ${fail.message ?? 'failed'}` };
  if (checks.length === 0) return { verdict: 'error', reason: 'the scenario recorded no checks' };
  if (checks.every((c) => c.verdict === 'skip')) return { verdict: 'skip', reason: 'every check was skipped' };
  return { verdict: 'pass' };
}

export async function runInWorker(req: RunRequest): Promise<ScenarioResult> {
  const mod = (await import(req.module.startsWith('file:') ? req.module : pathToFileURL(req.module).href)) as Record<string, Scenario>;
  const scenario = mod[req.exportName];
  if (!scenario) throw new Error(`${req.module} has no export ${req.exportName}`);
  const progress: Progress = {
    step: (m) => void send({ type: 'detail', text: m }),
    detail: (m) => void send({ type: 'detail', text: m }),
    done: (m) => void send({ type: 'detail', text: m }),
    warn: (m) => void send({ type: 'detail', text: `WARNING: ${m}` }),
  };
  let parts: Promise<GuestParts> | undefined;
  const ctx = new ScenarioContext(scenario, {
    dir: req.dir,
    tmp: req.tmp,
    parts: () => (parts ??= provisionGuestParts({ qemu: req.qemu }, progress)),
    settings: req.settings,
    events: {
      step: (name) => void send({ type: 'step', name }),
      check: (check) => void send({ type: 'check', check }),
      live: (state) => {
        writeFileSync(join(req.dir, 'live.json'), JSON.stringify(state));
        void send({ type: 'live', state });
      },
    },
    progress,
  });
  const startedAt = new Date().toISOString();
  let ended: unknown;
  try {
    await scenario.run(ctx);
  } catch (err) {
    ended = err ?? new Error('scenario threw undefined');
  }
  ctx.step('teardown');
  await ctx.finish();
  const { verdict, reason } = scenarioVerdict(ctx.checks, ended);
  if (verdict === 'error' && ended !== undefined && !(ended instanceof Skip) && !(ended instanceof CheckFailed)) {
    ctx.saveText('harness-error.txt', (ended as Error).stack ?? String(ended));
  }
  return {
    name: scenario.name,
    description: scenario.description,
    tags: [...scenario.tags],
    iteration: req.iteration,
    verdict,
    reason,
    startedAt,
    durationMs: ctx.elapsedMs(),
    timeoutMs: scenario.timeoutMs,
    checks: ctx.checks,
    steps: ctx.steps,
    metrics: ctx.metrics,
    fio: ctx.fioRuns,
    artifacts: ctx.artifacts,
    facts: ctx.facts,
  };
}

if (process.argv[1]?.endsWith('worker.js') && process.send) {
  process.once('message', (req: RunRequest) => {
    void (async () => {
      let result: ScenarioResult;
      try {
        result = await runInWorker(req);
      } catch (err) {
        await send({ type: 'detail', text: `worker failed: ${(err as Error).stack ?? String(err)}` });
        process.exit(70);
      }
      writeFileSync(join(req.dir, 'result.json'), JSON.stringify(result, null, 2));
      await send({ type: 'result', result });
      process.disconnect?.();
      // Anything still holding the loop open (a stray socket) must not keep the worker alive.
      setTimeout(() => process.exit(0), 500).unref();
    })();
  });
}

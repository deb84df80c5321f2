// report.json, versioned: the one source of truth for what a run records. The TypeScript types
// of results are inferred from it, the writer validates against it, and `reports/schema/
// report.schema.json` (z.toJSONSchema) lets editors and other tools read the same contract.
// Bump REPORT_SCHEMA_VERSION on any incompatible change.
import { z } from 'zod';

export const REPORT_SCHEMA_VERSION = 1;
export const REPORT_SCHEMA_ID = `vnvme-report/${REPORT_SCHEMA_VERSION}`;

/** pass; fail = a device defect; error = the harness broke (boot, provisioning, timeout); skip = needs not met. */
export const Verdict = z.enum(['pass', 'fail', 'error', 'skip']);
export type Verdict = z.infer<typeof Verdict>;

export const Evidence = z.object({
  /** What was run: a shell command in the guest, a `vnvme rpc` line, an initiator command. */
  command: z.string().optional(),
  /** Where it ran: guest, host, target, initiator. */
  where: z.string().optional(),
  exitCode: z.number().nullable().optional(),
  output: z.string().optional(),
  expected: z.string().optional(),
  actual: z.string().optional(),
  note: z.string().optional(),
});
export type Evidence = z.infer<typeof Evidence>;

export const Check = z.object({
  /** Stable id within the scenario, e.g. "id-ctrl.sn". */
  id: z.string(),
  title: z.string(),
  /** Spec area for grouping: Admin, NVM I/O, Registers, Queues, Reset, Data integrity, Performance ... */
  area: z.string(),
  /** "NVMe Base 2.0 5.17.2.1" etc., or "" when the check is not a spec rule. */
  section: z.string(),
  /** UNH-IOL style requirement level; informational is their FYI. */
  level: z.enum(['mandatory', 'optional', 'informational']).default('mandatory'),
  /** True when the check's definition named no level and 'mandatory' was assumed (the coverage map lists these). */
  levelDefaulted: z.boolean().optional(),
  /**
   * Stable across runs: "<scenario>/<check id>", the same for every --repeat iteration, so a
   * check's history and a diff of two runs can follow it (a repeated id within one scenario
   * iteration gets "~2", "~3"). Filled in by the writer (reports/write.ts); older reports lack it
   * and readers derive it the same way (checkUids).
   */
  uid: z.string().optional(),
  verdict: Verdict,
  message: z.string().optional(),
  durationMs: z.number().nonnegative(),
  evidence: z.array(Evidence),
});
export type Check = z.infer<typeof Check>;

export const Step = z.object({ name: z.string(), startedMs: z.number(), durationMs: z.number().nonnegative() });
export type Step = z.infer<typeof Step>;

export const Metric = z.object({
  name: z.string(),
  value: z.number(),
  unit: z.string(),
  /** Which device or variant it was measured on ("vfio-user", "qemu-nvme"), for side-by-side charts. */
  series: z.string().optional(),
  /** The chart it belongs to ("4k randread QD32 IOPS"). */
  group: z.string().optional(),
});
export type Metric = z.infer<typeof Metric>;

/** One fio run: the summary the report charts, plus fio's own JSON (jobs trimmed to the fields charted and kept). */
export const FioRun = z.object({
  name: z.string(),
  series: z.string(),
  command: z.string(),
  rw: z.string(),
  bs: z.string(),
  iodepth: z.number(),
  numjobs: z.number(),
  readIops: z.number(),
  writeIops: z.number(),
  readBwKiBps: z.number(),
  writeBwKiBps: z.number(),
  /** Completion latency percentiles in microseconds, keyed "50", "99", "99.9". */
  readClatUs: z.record(z.string(), z.number()),
  writeClatUs: z.record(z.string(), z.number()),
  errors: z.number(),
  json: z.unknown(),
});
export type FioRun = z.infer<typeof FioRun>;

export const Artifact = z.object({
  name: z.string(),
  /** Relative to the run directory. */
  path: z.string(),
  bytes: z.number().nonnegative(),
  /** The last part of a text artifact (logs), embedded so report.html shows it without the file. */
  tail: z.string().optional(),
});
export type Artifact = z.infer<typeof Artifact>;

export const ScenarioResult = z.object({
  name: z.string(),
  description: z.string(),
  tags: z.array(z.string()),
  /** 1-based; > 1 with --repeat. */
  iteration: z.number().int().positive(),
  verdict: Verdict,
  /** Why it was skipped, failed or errored (the first failing check or the harness error). */
  reason: z.string().optional(),
  startedAt: z.string(),
  durationMs: z.number().nonnegative(),
  timeoutMs: z.number().positive(),
  checks: z.array(Check),
  steps: z.array(Step),
  metrics: z.array(Metric),
  fio: z.array(FioRun),
  artifacts: z.array(Artifact),
  /** Facts the scenario learned: guest kernel, boot time, identify fields, ... */
  facts: z.record(z.string(), z.string()),
});
export type ScenarioResult = z.infer<typeof ScenarioResult>;

export const Environment = z.object({
  host: z.object({ hostname: z.string(), kernel: z.string(), cpu: z.string(), cpus: z.number(), node: z.string() }),
  qemu: z.object({ version: z.string(), source: z.string(), description: z.string() }).nullable(),
  /** kvm / tcg (and why), or "" when no guest ran. */
  accelerator: z.string(),
  memoryBackend: z.string(),
  guestKernel: z.string(),
  target: z.object({ commit: z.string(), dirty: z.boolean(), version: z.string() }),
});
export type Environment = z.infer<typeof Environment>;

export const Summary = z.object({ total: z.number(), pass: z.number(), fail: z.number(), error: z.number(), skip: z.number() });
export type Summary = z.infer<typeof Summary>;

export const Report = z.object({
  schema: z.literal(REPORT_SCHEMA_ID),
  runId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number().nonnegative(),
  /** The command line that produced the run. */
  command: z.string(),
  environment: Environment,
  summary: Summary,
  verdict: Verdict,
  scenarios: z.array(ScenarioResult),
  /** The previous run in the same report directory, for "was / is" next to each scenario (as blktests shows). */
  previous: z
    .object({
      runId: z.string(),
      verdict: Verdict,
      scenarios: z.record(z.string(), z.object({ verdict: Verdict, durationMs: z.number(), passedChecks: z.number(), checks: z.number() })),
    })
    .optional(),
});
export type Report = z.infer<typeof Report>;

/** The JSON Schema of report.json (what reports/schema/report.schema.json holds). */
export function reportJsonSchema(): Record<string, unknown> {
  return { $id: `urn:vnvme:schema:${REPORT_SCHEMA_ID}`, ...z.toJSONSchema(Report, { target: 'draft-2020-12', io: 'input' }) } as Record<string, unknown>;
}

export function summarize(scenarios: readonly { verdict: Verdict }[]): Summary {
  const s: Summary = { total: scenarios.length, pass: 0, fail: 0, error: 0, skip: 0 };
  for (const r of scenarios) s[r.verdict]++;
  return s;
}

/** error beats fail beats pass; all skipped is skip; nothing at all is error (a run that ran nothing proves nothing). */
export function overallVerdict(s: Summary): Verdict {
  if (s.total === 0) return 'error';
  if (s.error > 0) return 'error';
  if (s.fail > 0) return 'fail';
  if (s.pass > 0) return 'pass';
  return 'skip';
}

/** "<scenario>/<check id>" for every check, a repeated id within one scenario result suffixed "~2", "~3". */
export function checkUids(s: Pick<ScenarioResult, 'name' | 'checks'>): string[] {
  const seen = new Map<string, number>();
  return s.checks.map((c) => {
    const base = `${s.name}/${c.id}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}~${n}`;
  });
}

/** The report with every check's uid filled in (existing ones kept). */
export function withCheckUids<R extends Pick<Report, 'scenarios'>>(r: R): R {
  return {
    ...r,
    scenarios: r.scenarios.map((s) => {
      const uids = checkUids(s);
      return { ...s, checks: s.checks.map((c, i) => ({ ...c, uid: c.uid ?? uids[i]! })) };
    }),
  };
}

/** The id of the check that stands for a scenario whose own verdict no check carries. */
export const SCENARIO_CHECK_ID = 'scenario';

/**
 * A scenario's checks, plus one check for the scenario itself when no check carries its verdict:
 * a harness error before the first check (the target did not start, provisioning failed), a
 * scenario skipped for unmet needs, a timeout. Without it such a run would count "0 passed, 0
 * failed, 0 errors, 0 skipped" and its error would show in no history or diff. junit.xml, the
 * check counts and the viewer all use this one definition.
 */
export function scenarioChecks(s: Pick<ScenarioResult, 'name' | 'description' | 'verdict' | 'reason' | 'durationMs' | 'checks'>): Check[] {
  const covered = s.checks.some((c) => c.verdict === s.verdict) || (s.verdict === 'pass' && s.checks.length > 0);
  if (covered) return s.checks;
  return [
    ...s.checks,
    {
      id: SCENARIO_CHECK_ID,
      title: s.description,
      area: 'Scenario',
      section: '',
      level: 'mandatory',
      uid: `${s.name}/${SCENARIO_CHECK_ID}`,
      verdict: s.verdict,
      ...(s.reason !== undefined ? { message: s.reason } : {}),
      durationMs: s.durationMs,
      evidence: s.reason ? [{ note: s.reason }] : [],
    },
  ];
}

/** Check verdict counts across every scenario of a run (the scenario counts are Summary), scenarioChecks() of each. */
export function checkCounts(r: Pick<Report, 'scenarios'>): Summary {
  const s: Summary = { total: 0, pass: 0, fail: 0, error: 0, skip: 0 };
  for (const sc of r.scenarios)
    for (const c of scenarioChecks(sc)) {
      s.total++;
      s[c.verdict]++;
    }
  return s;
}

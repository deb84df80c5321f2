// runs/index.json: one line of facts per run in a report directory (newest first), written by
// the runner after every run and by `vnvme report merge`, read by the viewer so its Runs page
// (and its filters) need no report.json until a run is opened. Every field comes from the run's
// report.json; a directory whose report.json is missing or of another schema is left out.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { checkCounts, REPORT_SCHEMA_ID, Summary, Verdict, type Report } from './report-schema.js';

export const RUNS_INDEX_SCHEMA_ID = 'vnvme-runs/1';

export const RunEntry = z.object({
  /** The run's id (report.json runId). */
  id: z.string(),
  /** Its directory below the runs directory (the id, unless a merge had to rename it). */
  dir: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number().nonnegative(),
  verdict: Verdict,
  /** Scenario runs by verdict (a --repeat iteration counts once each). */
  scenarios: Summary,
  /** Checks by verdict across every scenario. */
  checks: Summary,
  command: z.string(),
  commit: z.string(),
  /** The tree had uncommitted changes: two runs of one commit may then differ in code. */
  dirty: z.boolean(),
  version: z.string(),
  /** QEMU's flavour (how it was provided: debian-tree, git, path, option) and version; null when no guest ran. */
  qemu: z.object({ flavour: z.string(), version: z.string(), description: z.string() }).nullable(),
  /** "tcg" / "kvm" (the first word of the environment's accelerator), "" when no guest ran. */
  accelerator: z.string(),
  acceleratorDetail: z.string(),
  /** "memfd" / "hugetlbfs" (first word), with the full description beside it. */
  memoryBackend: z.string(),
  memoryDetail: z.string(),
  guestKernel: z.string(),
  host: z.string(),
  scenarioNames: z.array(z.string()),
});
export type RunEntry = z.infer<typeof RunEntry>;

export const RunsIndex = z.object({
  schema: z.literal(RUNS_INDEX_SCHEMA_ID),
  generatedAt: z.string(),
  runs: z.array(RunEntry),
});
export type RunsIndex = z.infer<typeof RunsIndex>;

const firstWord = (s: string): string => /^[\w.-]+/.exec(s.trim())?.[0] ?? '';

export function runEntry(r: Report, dir: string = r.runId): RunEntry {
  const e = r.environment;
  return {
    id: r.runId,
    dir,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    durationMs: r.durationMs,
    verdict: r.verdict,
    scenarios: r.summary,
    checks: checkCounts(r),
    command: r.command,
    commit: e.target.commit,
    dirty: e.target.dirty,
    version: e.target.version,
    qemu: e.qemu ? { flavour: e.qemu.source, version: e.qemu.version, description: e.qemu.description } : null,
    accelerator: firstWord(e.accelerator),
    acceleratorDetail: e.accelerator,
    memoryBackend: firstWord(e.memoryBackend.replace(/^hugepages?/i, 'hugetlbfs')),
    memoryDetail: e.memoryBackend,
    guestKernel: e.guestKernel,
    host: e.host.hostname,
    scenarioNames: [...new Set(r.scenarios.map((s) => s.name))],
  };
}

/** Reads DIR/<run>/report.json of every run (unreadable or foreign ones skipped), newest first. */
export function readRuns(reportDir: string): { dir: string; report: Report }[] {
  if (!existsSync(reportDir)) return [];
  const out: { dir: string; report: Report }[] = [];
  for (const d of readdirSync(reportDir)) {
    const p = join(reportDir, d, 'report.json');
    try {
      if (!statSync(p).isFile()) continue;
      const r = JSON.parse(readFileSync(p, 'utf8')) as Report;
      if (r.schema === REPORT_SCHEMA_ID) out.push({ dir: d, report: r });
    } catch {
      /* not a finished run */
    }
  }
  return out.sort((a, b) => b.report.startedAt.localeCompare(a.report.startedAt) || b.dir.localeCompare(a.dir));
}

export function runsIndex(reportDir: string, now = new Date()): RunsIndex {
  return { schema: RUNS_INDEX_SCHEMA_ID, generatedAt: now.toISOString(), runs: readRuns(reportDir).map(({ dir, report }) => runEntry(report, dir)) };
}

/** Rewrites reportDir/index.json; returns its path. */
export function writeRunsJson(reportDir: string): string {
  const p = join(reportDir, 'index.json');
  writeFileSync(p, `${JSON.stringify(RunsIndex.parse(runsIndex(reportDir)), null, 1)}\n`);
  return p;
}

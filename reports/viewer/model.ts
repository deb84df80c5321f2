// What the viewer computes from runs, as plain functions over plain data: shared by the browser
// app (bundled by esbuild), the server and `report build` (which slim reports for it), and the
// unit tests. No DOM, no node APIs here.
import { SCENARIO_CHECK_ID, scenarioChecks, type Check, type Environment, type Evidence, type Metric, type Report, type ScenarioResult, type Verdict } from '../report-schema.js';
import type { RunEntry } from '../runs-index.js';
import { betterDirection, BASELINE_SERIES, OUR_SERIES } from '../perf.js';
import { runIndependent } from '../run-paths.js';

// ---------------------------------------------------------------------------------------------
// Slim runs: a report without evidence bodies and log tails (what history, diff, coverage and
// performance need); the full report is loaded only for the Evidence page.

export interface SlimCheck {
  uid: string;
  id: string;
  title: string;
  area: string;
  section: string;
  level: Check['level'];
  levelDefaulted?: boolean;
  verdict: Verdict;
  message?: string;
  durationMs: number;
  /** [what, actual, expected] for every evidence entry that recorded an observed value, in order. */
  observed: Observed[];
}

export interface SlimScenario {
  name: string;
  description: string;
  tags: string[];
  iteration: number;
  verdict: Verdict;
  reason?: string;
  durationMs: number;
  checks: SlimCheck[];
  metrics: Metric[];
  facts: Record<string, string>;
}

export interface SlimRun {
  id: string;
  dir: string;
  startedAt: string;
  durationMs: number;
  verdict: Verdict;
  command: string;
  environment: Environment;
  scenarios: SlimScenario[];
}

/** What an evidence entry observed: [what, actual, expected (when it stated one)]. */
export type Observed = [what: string, actual: string, expected?: string];

const clip = (s: string, n: number): string => (s.length > n ? `${s.slice(0, n)}…` : s);

/** The uid of a check as the writer assigns it (older reports have none). */
export function uidsOf(s: Pick<ScenarioResult, 'name' | 'checks'>): string[] {
  const seen = new Map<string, number>();
  return s.checks.map((c) => {
    if (c.uid) return c.uid;
    const base = `${s.name}/${c.id}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base}~${n}`;
  });
}

export function observedOf(evidence: readonly Evidence[]): Observed[] {
  const out: Observed[] = [];
  const seen = new Map<string, number>();
  for (const e of evidence) {
    if (e.actual === undefined) continue;
    const label0 = clip((e.note ?? e.command ?? 'observed').replace(/^procedure: .*/s, 'procedure'), 160);
    const n = (seen.get(label0) ?? 0) + 1;
    seen.set(label0, n);
    out.push([n === 1 ? label0 : `${label0} (#${n})`, clip(e.actual, 400), ...(e.expected !== undefined ? [clip(e.expected, 400)] : [])] as Observed);
  }
  return out;
}

export function slimReport(r: Report, dir: string = r.runId): SlimRun {
  return {
    id: r.runId,
    dir,
    startedAt: r.startedAt,
    durationMs: r.durationMs,
    verdict: r.verdict,
    command: r.command,
    environment: r.environment,
    scenarios: r.scenarios.map((s0) => {
      // A scenario that ended before any check carried its verdict (harness error at start, skipped
      // for its needs) gets its own check, so counts, history and diffs show it.
      const s = { ...s0, checks: scenarioChecks(s0) };
      const uids = uidsOf(s);
      return {
        name: s.name,
        description: s.description,
        tags: s.tags,
        iteration: s.iteration,
        verdict: s.verdict,
        reason: s.reason,
        durationMs: s.durationMs,
        metrics: s.metrics,
        facts: s.facts,
        checks: s.checks.map((c, i) => ({
          uid: uids[i]!,
          id: c.id,
          title: c.title,
          area: c.area,
          section: c.section,
          level: c.level,
          ...(c.levelDefaulted ? { levelDefaulted: true } : {}),
          verdict: c.verdict,
          ...(c.message !== undefined ? { message: clip(c.message, 600) } : {}),
          durationMs: c.durationMs,
          observed: observedOf(c.evidence),
        })),
      };
    }),
  };
}

// ---------------------------------------------------------------------------------------------
// Verdicts

const RANK: Record<Verdict, number> = { skip: 0, pass: 1, fail: 2, error: 3 };
/** One verdict for several attempts (--repeat iterations): a failure or error wins. */
export function combined(vs: readonly Verdict[]): Verdict | undefined {
  if (!vs.length) return undefined;
  return vs.reduce((a, b) => (RANK[b] > RANK[a] ? b : a));
}
export const isBad = (v: Verdict | undefined): boolean => v === 'fail' || v === 'error';

/** Every check occurrence of a run by uid (several with --repeat), with its scenario. */
export function checksByUid(run: SlimRun): Map<string, { scenario: SlimScenario; check: SlimCheck }[]> {
  const m = new Map<string, { scenario: SlimScenario; check: SlimCheck }[]>();
  for (const s of run.scenarios) for (const c of s.checks) m.set(c.uid, [...(m.get(c.uid) ?? []), { scenario: s, check: c }]);
  return m;
}

// ---------------------------------------------------------------------------------------------
// History of a check across runs

export interface HistoryCell {
  run: string;
  startedAt: string;
  commit: string;
  dirty: boolean;
  /** One per attempt, in iteration order. */
  verdicts: Verdict[];
  message?: string;
}

export interface CheckHistory {
  uid: string;
  scenario: string;
  title: string;
  section: string;
  level: Check['level'];
  /** Aligned with the runs given (newest first); null where the run had no such check. */
  cells: (HistoryCell | null)[];
  latest?: Verdict;
  /** The oldest run of the current failing streak (when the newest verdict is fail/error). */
  failingSince?: string;
  lastPassed?: string;
  lastFailed?: string;
  /** Why it looks flaky (passed on retry, or flipped on one commit), else undefined. */
  flaky?: string;
}

/** History of every check in the runs (newest first), keyed by uid. */
export function histories(runs: readonly SlimRun[]): Map<string, CheckHistory> {
  const out = new Map<string, CheckHistory>();
  runs.forEach((run, ri) => {
    for (const [uid, occ] of checksByUid(run)) {
      let h = out.get(uid);
      if (!h) {
        const c = occ[0]!.check;
        h = { uid, scenario: occ[0]!.scenario.name, title: c.title, section: c.section, level: c.level, cells: runs.map(() => null) };
        out.set(uid, h);
      }
      const ordered = [...occ].sort((a, b) => a.scenario.iteration - b.scenario.iteration);
      h.cells[ri] = {
        run: run.id,
        startedAt: run.startedAt,
        commit: run.environment.target.commit,
        dirty: run.environment.target.dirty,
        verdicts: ordered.map((o) => o.check.verdict),
        message: ordered.find((o) => o.check.message && isBad(o.check.verdict))?.check.message ?? ordered.find((o) => o.check.message)?.check.message,
      };
    }
  });
  // The check that stands for a scenario which broke before its first check (scenarioChecks) is
  // absent where the scenario ran and its own checks carried the verdict: there it has the
  // scenario's verdict, so "failing since" ends when the scenario ran again.
  for (const h of out.values()) {
    if (h.uid !== `${h.scenario}/${SCENARIO_CHECK_ID}`) continue;
    runs.forEach((run, ri) => {
      if (h.cells[ri]) return;
      const ss = run.scenarios.filter((s) => s.name === h.scenario).sort((a, b) => a.iteration - b.iteration);
      if (ss.length) h.cells[ri] = { run: run.id, startedAt: run.startedAt, commit: run.environment.target.commit, dirty: run.environment.target.dirty, verdicts: ss.map((s) => s.verdict) };
    });
  }
  for (const h of out.values()) summarizeHistory(h);
  return out;
}

function summarizeHistory(h: CheckHistory): void {
  const present = h.cells.filter((c): c is HistoryCell => c !== null);
  h.latest = present[0] ? combined(present[0].verdicts) : undefined;
  h.lastPassed = present.find((c) => c.verdicts.includes('pass'))?.run;
  h.lastFailed = present.find((c) => c.verdicts.some(isBad))?.run;
  if (isBad(h.latest)) {
    let since = present[0]!.run;
    for (const c of present) {
      if (!c.verdicts.some(isBad) || c.verdicts.includes('pass')) break;
      since = c.run;
    }
    h.failingSince = since;
  }
  // Flaky: an attempt passed and another failed in one run (passes on retry), or two runs of the
  // same clean commit disagree.
  for (const c of present) {
    if (c.verdicts.includes('pass') && c.verdicts.some(isBad)) {
      h.flaky = `${c.verdicts.indexOf('pass') > c.verdicts.findIndex(isBad) ? 'passed on retry' : 'failed on retry'} in run ${c.run} (${c.verdicts.join(', ')})`;
      return;
    }
  }
  for (let i = 0; i + 1 < present.length; i++) {
    const a = present[i]!;
    const b = present[i + 1]!;
    const va = combined(a.verdicts);
    const vb = combined(b.verdicts);
    if (a.commit && a.commit === b.commit && !a.dirty && !b.dirty && va !== vb && (isBad(va) || isBad(vb)) && va !== 'skip' && vb !== 'skip') {
      h.flaky = `${vb} → ${va} on commit ${a.commit.slice(0, 10)} without a code change (runs ${b.run}, ${a.run})`;
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Diff of two runs

export interface StatusChange {
  uid: string;
  scenario: string;
  title: string;
  section: string;
  before?: Verdict;
  after?: Verdict;
  message?: string;
  /** The run holding its evidence when that is not the head (a scenario that broke in the base run only). */
  evidenceRun?: string;
}

export interface MetricDelta {
  key: string;
  scenario: string;
  group: string;
  name: string;
  series: string;
  unit: string;
  before: number;
  after: number;
  /** after / before. */
  ratio: number;
  /** Relative noise band (0.1 = ±10%) and where it came from. */
  band: number;
  bandFrom: string;
  /** The band is a guess (fewer than 3 other runs measured it): a change outside it is a hint, not a finding. */
  bandAssumed: boolean;
  /** Outside the band, and which way. */
  change: 'better' | 'worse' | 'noise';
}

/** A scenario that ran in only one of two runs (a partial run: `npm run scenario -- NAME`, a shard). */
export interface ScenarioOnlyIn {
  name: string;
  verdict: Verdict;
  checks: number;
}

export interface ObservedChange {
  uid: string;
  scenario: string;
  title: string;
  changes: { what: string; before: string; after: string; expected?: string }[];
}

export interface RunDiff {
  base: string;
  head: string;
  newFailures: StatusChange[];
  fixed: StatusChange[];
  otherChanges: StatusChange[];
  /** New and removed checks of scenarios both runs ran (a scenario in one run only is not a new or removed check). */
  added: StatusChange[];
  removed: StatusChange[];
  onlyInBase: ScenarioOnlyIn[];
  onlyInHead: ScenarioOnlyIn[];
  /**
   * Observed values that changed: a device-reported value that differs (an identify field, a
   * status), compared without the run's own scratch paths and guest names. Values that equalled
   * their expectation in both runs and are digests (md5 of random data written and read back in
   * that run) are left out: the equality is what was checked.
   */
  observed: ObservedChange[];
  /** Measured values that moved within an unchanged, inexact expectation ("> 0", "appears within 60 s") of a check that passed in both runs. */
  measured: ObservedChange[];
  facts: { scenario: string; key: string; before: string; after: string }[];
  metrics: MetricDelta[];
  environment: { field: string; before: string; after: string }[];
}

export function environmentFields(e: Environment, command = ''): Record<string, string> {
  return {
    'target commit': e.target.commit,
    'uncommitted changes': String(e.target.dirty),
    'vnvme version': e.target.version,
    'QEMU version': e.qemu?.version ?? 'not used',
    'QEMU flavour': e.qemu?.source ?? 'not used',
    'QEMU description': e.qemu?.description ?? '',
    accelerator: e.accelerator,
    'guest memory backend': e.memoryBackend,
    'guest kernel': e.guestKernel,
    host: e.host.hostname,
    'host kernel': e.host.kernel,
    'host CPU': `${e.host.cpus} × ${e.host.cpu}`,
    node: e.host.node,
    ...(command ? { command } : {}),
  };
}

export const metricKey = (scenario: string, m: Pick<Metric, 'group' | 'name' | 'series' | 'unit'>): string => `${scenario}\u0000${m.group ?? ''}\u0000${m.name}\u0000${m.series ?? ''}\u0000${m.unit}`;

/** Mean of each metric per run (iterations averaged), keyed by metricKey. */
export function metricsOf(run: SlimRun): Map<string, { scenario: string; m: Metric; value: number }> {
  const acc = new Map<string, { scenario: string; m: Metric; sum: number; n: number }>();
  for (const s of run.scenarios)
    for (const m of s.metrics) {
      const k = metricKey(s.name, m);
      const a = acc.get(k) ?? { scenario: s.name, m, sum: 0, n: 0 };
      a.sum += m.value;
      a.n++;
      acc.set(k, a);
    }
  return new Map([...acc].map(([k, a]) => [k, { scenario: a.scenario, m: a.m, value: a.sum / a.n }]));
}

/**
 * The relative noise band of a metric from its history: twice the coefficient of variation of the
 * values in other runs (at least ±2%), or ±10% assumed with fewer than 3 values.
 */
export function noiseBand(values: readonly number[]): { band: number; from: string; assumed?: true } {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length < 3) return { band: 0.1, from: `assumed ±10% (only ${v.length} run${v.length === 1 ? '' : 's'} to measure it)`, assumed: true };
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  if (mean === 0) return { band: 0.1, from: 'assumed ±10% (mean 0)', assumed: true };
  const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (v.length - 1));
  const band = Math.max(0.02, (2 * sd) / Math.abs(mean));
  return { band, from: `±${(band * 100).toFixed(1)}% = 2σ/mean over ${v.length} runs` };
}

/** What changed from base to head; history (any runs) gives the metrics' noise bands. */
export function diffRuns(base: SlimRun, head: SlimRun, history: readonly SlimRun[] = []): RunDiff {
  const a = checksByUid(base);
  const b = checksByUid(head);
  const d: RunDiff = { base: base.id, head: head.id, newFailures: [], fixed: [], otherChanges: [], added: [], removed: [], onlyInBase: [], onlyInHead: [], observed: [], measured: [], facts: [], metrics: [], environment: [] };
  const namesA = new Set(base.scenarios.map((s) => s.name));
  const namesB = new Set(head.scenarios.map((s) => s.name));
  const onlyIn = (r: SlimRun, other: Set<string>): ScenarioOnlyIn[] => {
    const m = new Map<string, { verdicts: Verdict[]; checks: number }>();
    for (const s of r.scenarios) {
      if (other.has(s.name)) continue;
      const x = m.get(s.name) ?? { verdicts: [], checks: 0 };
      x.verdicts.push(s.verdict);
      if (s.iteration === 1) x.checks += s.checks.length;
      m.set(s.name, x);
    }
    return [...m].map(([name, x]) => ({ name, verdict: combined(x.verdicts)!, checks: x.checks }));
  };
  d.onlyInBase = onlyIn(base, namesB);
  d.onlyInHead = onlyIn(head, namesA);
  const change = (uid: string, occA?: { scenario: SlimScenario; check: SlimCheck }[], occB?: { scenario: SlimScenario; check: SlimCheck }[]): StatusChange => {
    const any = (occB ?? occA)![0]!;
    const bad = occB?.find((o) => isBad(o.check.verdict)) ?? occB?.[0];
    return { uid, scenario: any.scenario.name, title: any.check.title, section: any.check.section, before: occA ? combined(occA.map((o) => o.check.verdict)) : undefined, after: occB ? combined(occB.map((o) => o.check.verdict)) : undefined, message: bad?.check.message };
  };
  const scenarioVerdict = (r: SlimRun, name: string): Verdict | undefined => combined(r.scenarios.filter((s) => s.name === name).map((s) => s.verdict));
  /** The check scenarioChecks() adds for a scenario that ended before any check carried its verdict. */
  const standsForScenario = (c: SlimCheck, s: SlimScenario): boolean => c.id === SCENARIO_CHECK_ID && c.uid === `${s.name}/${SCENARIO_CHECK_ID}` && c.area === 'Scenario';
  const statusChange = (c: StatusChange): void => {
    if (c.before === c.after) return;
    if (isBad(c.after) && !isBad(c.before)) d.newFailures.push(c);
    else if (c.after === 'pass' && isBad(c.before)) d.fixed.push(c);
    else d.otherChanges.push(c);
  };
  for (const [uid, occB] of b) {
    const occA = a.get(uid);
    if (!occA) {
      const { scenario, check } = occB[0]!;
      if (!namesA.has(scenario.name)) continue;
      // The scenario broke before its first check in head: a change of the scenario's verdict, not a new check.
      if (standsForScenario(check, scenario)) statusChange({ ...change(uid, undefined, occB), before: scenarioVerdict(base, scenario.name) });
      else d.added.push(change(uid, undefined, occB));
      continue;
    }
    statusChange(change(uid, occA, occB));
    const obsA = new Map(occA[0]!.check.observed.map((o) => [o[0], o] as const));
    const changes: ObservedChange['changes'] = [];
    const measured: ObservedChange['changes'] = [];
    const passedBoth = occA[0]!.check.verdict === 'pass' && occB[0]!.check.verdict === 'pass';
    for (const [what, after, expAfter] of occB[0]!.check.observed) {
      const o = obsA.get(what);
      if (!o) continue;
      const [, before, expBefore] = o;
      if (runIndependent(before) === runIndependent(after)) continue;
      const exact = expBefore === before && expAfter === after;
      if (exact && DIGEST.test(before) && DIGEST.test(after)) continue;
      const within = passedBoth && !exact && expBefore !== undefined && expBefore === expAfter;
      (within ? measured : changes).push({ what, before, after, ...(expAfter !== undefined ? { expected: expAfter } : {}) });
    }
    const who = { uid, scenario: occB[0]!.scenario.name, title: occB[0]!.check.title };
    if (changes.length) d.observed.push({ ...who, changes });
    if (measured.length) d.measured.push({ ...who, changes: measured });
  }
  for (const [uid, occA] of a) {
    const { scenario, check } = occA[0]!;
    if (b.has(uid) || !namesB.has(scenario.name)) continue;
    if (standsForScenario(check, scenario)) statusChange({ ...change(uid, occA, undefined), after: scenarioVerdict(head, scenario.name), message: check.message, evidenceRun: base.id });
    else d.removed.push(change(uid, occA, undefined));
  }
  // Facts (identify fields, boot times, doorbell modes ...) of scenarios in both runs.
  const factsOf = (r: SlimRun): Map<string, Record<string, string>> => new Map(r.scenarios.filter((s) => s.iteration === 1).map((s) => [s.name, s.facts]));
  const fa = factsOf(base);
  for (const [name, fb] of factsOf(head)) {
    const f0 = fa.get(name);
    if (!f0) continue;
    for (const [k, v] of Object.entries(fb)) {
      const was = f0[k];
      if (was === undefined || runIndependent(was) === runIndependent(v)) continue;
      // Durations (guest.bootMs) are measurements: the metrics compare them against their noise.
      if (/Ms$/.test(k) && NUMBER.test(was) && NUMBER.test(v)) continue;
      d.facts.push({ scenario: name, key: k, before: was, after: v });
    }
  }
  const ma = metricsOf(base);
  const mb = metricsOf(head);
  const others = history.filter((r) => r.id !== head.id).map(metricsOf);
  for (const [k, { scenario, m, value: after }] of mb) {
    const x = ma.get(k);
    if (!x) continue;
    const before = x.value;
    const ratio = before === 0 ? Number.NaN : after / before;
    const { band, from, assumed } = noiseBand(others.map((h) => h.get(k)?.value).filter((v): v is number => v !== undefined));
    const better = betterDirection(m.unit);
    const out = Number.isFinite(ratio) && Math.abs(ratio - 1) > band;
    const up = ratio > 1;
    d.metrics.push({ key: k, scenario, group: m.group ?? '', name: m.name, series: m.series ?? '', unit: m.unit, before, after, ratio, band, bandFrom: from, bandAssumed: assumed === true, change: !out ? 'noise' : (up === (better === 'higher')) ? 'better' : 'worse' });
  }
  const ea = environmentFields(base.environment, base.command);
  const eb = environmentFields(head.environment, head.command);
  for (const k of Object.keys({ ...ea, ...eb })) if (runIndependent(ea[k] ?? '') !== runIndependent(eb[k] ?? '')) d.environment.push({ field: k, before: ea[k] ?? '', after: eb[k] ?? '' });
  return d;
}

const DIGEST = /^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})$/i;
const NUMBER = /^-?\d+(?:\.\d+)?$/;

/**
 * The run to diff a run against by default: the newest older run that ran any of its scenarios
 * (a partial run, `npm run scenario -- guest-fio-perf`, is no baseline for the default suite),
 * else the next older run. `runs` is newest first, as in runs/index.json.
 */
export function comparableBase(runs: readonly RunEntry[], head: RunEntry): RunEntry | undefined {
  const older = runs.slice(runs.indexOf(head) + 1);
  const names = new Set(head.scenarioNames);
  return older.find((r) => r.scenarioNames.some((n) => names.has(n))) ?? older[0];
}

// ---------------------------------------------------------------------------------------------
// Spec coverage

export interface Citation {
  /** NVMe Base, NVM Command Set, NVMe over PCIe, vfio-user, PCI Local Bus, PCIe Base, ... */
  doc: string;
  version: string;
  /** "5.17.2.1", "Figure 102", "VFIO_USER_DMA_MAP", or "" for the document as a whole. */
  section: string;
  /** Parenthesised detail ("CAP.MQES"). */
  note: string;
}

const DOCS: { re: RegExp; doc: string; versioned: boolean }[] = [
  { re: /^NVM Command Set(?: Specification)?/i, doc: 'NVM Command Set', versioned: true },
  { re: /^NVMe(?: Express)? Base(?: Specification)?/i, doc: 'NVMe Base', versioned: true },
  { re: /^NVMe over PCIe(?: Transport)?/i, doc: 'NVMe over PCIe', versioned: true },
  { re: /^NVMe-oF/i, doc: 'NVMe-oF', versioned: true },
  { re: /^PCI Code and ID Assignment/i, doc: 'PCI Code and ID Assignment', versioned: false },
  { re: /^PCIe Base/i, doc: 'PCIe Base', versioned: true },
  { re: /^PCI Local Bus/i, doc: 'PCI Local Bus', versioned: true },
  { re: /^vfio-user(?: protocol)?:?/i, doc: 'vfio-user', versioned: true },
  { re: /^PCI\b/, doc: 'PCI', versioned: false },
  { re: /^PROTOCOL\.md/, doc: 'PROTOCOL.md', versioned: false },
  { re: /^SPDK JSON-RPC/i, doc: 'SPDK JSON-RPC', versioned: false },
];

/** Splits on commas outside parentheses. */
function splitTop(s: string, seps: RegExp): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '(') depth++;
    if (ch === ')') depth = Math.max(0, depth - 1);
    if (depth === 0) {
      const m = seps.exec(s.slice(i));
      if (m && m.index === 0) {
        out.push(cur);
        cur = '';
        i += m[0].length - 1;
        continue;
      }
    }
    cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter(Boolean);
}

/** Expands "3.1.8-3.1.10" and "5.17.2.4-5" into each section; anything else as it is. */
export function expandRange(sec: string): string[] {
  const m = /^(\d+(?:\.\d+)*)\.(\d+)-(?:(\d+(?:\.\d+)*)\.)?(\d+)$/.exec(sec);
  if (!m) return [sec];
  const [, prefix, from, prefix2, to] = m;
  if (prefix2 !== undefined && prefix2 !== prefix) return [sec];
  const lo = Number(from);
  const hi = Number(to);
  if (!(hi > lo) || hi - lo > 40) return [sec];
  return Array.from({ length: hi - lo + 1 }, (_, i) => `${prefix}.${lo + i}`);
}

/** The spec sections a check's `section` text cites. */
export function parseCitations(text: string): Citation[] {
  const out: Citation[] = [];
  let doc = '';
  let version = '';
  for (const seg0 of splitTop(text, /^(;|\s\/\s)/)) {
    let seg = seg0;
    const known = DOCS.find((d) => d.re.test(seg));
    if (known) {
      doc = known.doc;
      version = '';
      seg = seg.replace(known.re, '').trim();
      if (known.versioned) {
        const v = /^(\d+\.\d+[a-z]?)\b/.exec(seg);
        if (v) {
          version = v[1]!;
          seg = seg.slice(v[0].length).trim();
        }
      }
    } else if (!doc) {
      doc = 'NVMe Base';
    }
    const items = splitTop(seg, /^,/);
    if (!items.length) out.push({ doc, version, section: '', note: '' });
    for (const item of items) {
      const m = /^((?:Figure|Table)\s+\d+|\d+(?:\.\d+)*(?:\.x|-\d+(?:\.\d+)*)?|[A-Z][A-Z0-9_]{3,}|[a-z]+_[a-z_]+)\s*(?:\((.*)\))?\s*(.*)$/.exec(item);
      if (!m) {
        out.push({ doc, version, section: '', note: item.replace(/^\(|\)$/g, '') });
        continue;
      }
      const note = [m[2], m[3]].filter(Boolean).join(' ').trim();
      for (const section of expandRange(m[1]!)) out.push({ doc, version, section, note });
    }
  }
  return out;
}

export const docLabel = (c: Pick<Citation, 'doc' | 'version'>): string => (c.version ? `${c.doc} ${c.version}` : c.doc);

/** Orders "3.1.2" before "3.1.10" and numbers before names. */
export function compareSections(a: string, b: string): number {
  const pa = /^\d+(\.\d+)*$/.test(a) ? a.split('.').map(Number) : null;
  const pb = /^\d+(\.\d+)*$/.test(b) ? b.split('.').map(Number) : null;
  if (pa && pb) {
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      const d = (pa[i] ?? -1) - (pb[i] ?? -1);
      if (d) return d;
    }
    return 0;
  }
  if (pa) return -1;
  if (pb) return 1;
  return a.localeCompare(b, 'en', { numeric: true });
}

export const LEVEL_LABEL: Record<Check['level'], string> = { mandatory: 'mandatory', optional: 'optional', informational: 'FYI' };
const LEVEL_RANK: Record<Check['level'], number> = { informational: 0, optional: 1, mandatory: 2 };

export interface CoveredCheck {
  uid: string;
  scenario: string;
  title: string;
  verdict: Verdict;
  level: Check['level'];
  levelDefaulted: boolean;
  note: string;
}

export interface CoverageSection {
  doc: string;
  section: string;
  notes: string[];
  /** The strongest level among its checks. */
  level: Check['level'];
  checks: CoveredCheck[];
  counts: Record<Verdict, number>;
  /** Its verdict: error/fail if any check is, pass if any passed, else skip. */
  verdict: Verdict;
}

export interface CoverageGap {
  doc: string;
  section: string;
  why: string;
}

export interface Coverage {
  docs: { doc: string; sections: CoverageSection[]; counts: Record<Verdict, number> }[];
  gaps: CoverageGap[];
  /** Checks that cite no spec section. */
  uncited: CoveredCheck[];
  /** Checks whose level was not stated (assumed mandatory). */
  levelDefaulted: CoveredCheck[];
  totals: { sections: number; checks: number; cited: number; byLevel: Record<Check['level'], number>; sectionsByVerdict: Record<Verdict, number> };
}

const zero = (): Record<Verdict, number> => ({ pass: 0, fail: 0, error: 0, skip: 0 });

/**
 * Every section the run's checks cite, with its checks and verdicts; gaps are sections cited in
 * other runs but not this one, and numbering holes between cited sibling sections (5.16.1.2 and
 * 5.16.1.4 cited, 5.16.1.3 not: nothing checks it).
 */
export function coverage(run: SlimRun, others: readonly SlimRun[] = []): Coverage {
  const sections = new Map<string, CoverageSection>();
  const uncited: CoveredCheck[] = [];
  const levelDefaulted: CoveredCheck[] = [];
  let checks = 0;
  const byLevel = { mandatory: 0, optional: 0, informational: 0 };
  for (const s of run.scenarios) {
    for (const c of s.checks) {
      if (s.iteration > 1) continue;
      checks++;
      byLevel[c.level]++;
      const cc: CoveredCheck = { uid: c.uid, scenario: s.name, title: c.title, verdict: c.verdict, level: c.level, levelDefaulted: c.levelDefaulted === true, note: '' };
      if (cc.levelDefaulted) levelDefaulted.push(cc);
      const cites = c.section.trim() ? parseCitations(c.section) : [];
      if (!cites.length) {
        uncited.push(cc);
        continue;
      }
      const seen = new Set<string>();
      for (const ci of cites) {
        const doc = docLabel(ci);
        const key = `${doc}\u0000${ci.section}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const sec = sections.get(key) ?? { doc, section: ci.section, notes: [], level: c.level, checks: [], counts: zero(), verdict: 'skip' as Verdict };
        if (ci.note && !sec.notes.includes(ci.note) && sec.notes.length < 6) sec.notes.push(ci.note);
        if (LEVEL_RANK[c.level] > LEVEL_RANK[sec.level]) sec.level = c.level;
        sec.checks.push({ ...cc, note: ci.note });
        sec.counts[c.verdict]++;
        sections.set(key, sec);
      }
    }
  }
  for (const sec of sections.values()) sec.verdict = sec.counts.error ? 'error' : sec.counts.fail ? 'fail' : sec.counts.pass ? 'pass' : 'skip';
  const gaps: CoverageGap[] = [];
  // Cited elsewhere, not here.
  // Only scenarios this run ran: a partial run (one scenario, a shard) has no gap where it did
  // not run the scenario at all.
  const ran = new Set(run.scenarios.map((s) => s.name));
  const elsewhere = new Map<string, string>();
  for (const o of others) {
    if (o.id === run.id) continue;
    for (const s of o.scenarios)
      for (const c of ran.has(s.name) ? s.checks : [])
        for (const ci of c.section.trim() ? parseCitations(c.section) : []) {
          const key = `${docLabel(ci)}\u0000${ci.section}`;
          if (!sections.has(key) && !elsewhere.has(key)) elsewhere.set(key, o.id);
        }
  }
  for (const [key, runId] of elsewhere) {
    const [doc, section] = key.split('\u0000') as [string, string];
    gaps.push({ doc, section, why: `checked in run ${runId}, not in this run` });
  }
  // Numbering holes among cited siblings.
  const numbered = new Map<string, Set<string>>();
  for (const sec of sections.values()) if (/^\d+(\.\d+)*$/.test(sec.section)) numbered.set(sec.doc, (numbered.get(sec.doc) ?? new Set()).add(sec.section));
  for (const [doc, set] of numbered) {
    const covered = (s: string): boolean => [...set].some((x) => x === s || x.startsWith(`${s}.`));
    const children = new Map<string, number[]>();
    for (const s of set) {
      const parts = s.split('.');
      if (parts.length < 2) continue;
      const parent = parts.slice(0, -1).join('.');
      children.set(parent, [...(children.get(parent) ?? []), Number(parts.at(-1))]);
    }
    for (const [parent, ns] of children) {
      const uniq = [...new Set(ns)];
      if (uniq.length < 2) continue;
      const max = Math.max(...uniq);
      for (let i = 1; i < max; i++) {
        const s = `${parent}.${i}`;
        if (!covered(s) && !elsewhere.has(`${doc}\u0000${s}`)) gaps.push({ doc, section: s, why: `no check cites it (between cited ${parent}.x sections)` });
      }
    }
  }
  const docs = new Map<string, CoverageSection[]>();
  for (const sec of sections.values()) docs.set(sec.doc, [...(docs.get(sec.doc) ?? []), sec]);
  const docOrder = (d: string): number => {
    const i = DOCS.findIndex((x) => d.startsWith(x.doc));
    return i < 0 ? 99 : [1, 0, 2, 3, 6, 5, 4, 7, 8, 9, 10][i]!;
  };
  const sectionsByVerdict = zero();
  for (const sec of sections.values()) sectionsByVerdict[sec.verdict]++;
  return {
    docs: [...docs]
      .sort(([a], [b]) => docOrder(a) - docOrder(b) || a.localeCompare(b))
      .map(([doc, secs]) => {
        const counts = zero();
        for (const s of secs) counts[s.verdict]++;
        return { doc, sections: secs.sort((x, y) => compareSections(x.section, y.section)), counts };
      }),
    gaps: gaps.sort((x, y) => x.doc.localeCompare(y.doc) || compareSections(x.section, y.section)),
    uncited,
    levelDefaulted,
    totals: { sections: sections.size, checks, cited: checks - uncited.length, byLevel, sectionsByVerdict },
  };
}

// ---------------------------------------------------------------------------------------------
// Performance across runs

export interface PerfPoint {
  run: string;
  startedAt: string;
  commit: string;
  value: number;
}

export interface PerfMetric {
  /** scenario / group / name / unit: one chart. */
  key: string;
  scenario: string;
  group: string;
  name: string;
  unit: string;
  better: 'higher' | 'lower';
  /** Series name -> points, oldest first. */
  series: Map<string, PerfPoint[]>;
  /** ours / baseline per run, when both were measured (oldest first). */
  ratio?: { baseline: string; points: PerfPoint[] };
}

/** Every metric across the runs (given newest first; points come out oldest first). */
export function perfMetrics(runs: readonly SlimRun[]): PerfMetric[] {
  const out = new Map<string, PerfMetric>();
  for (const run of [...runs].reverse()) {
    for (const [, { scenario, m, value }] of metricsOf(run)) {
      // "downtime median (v2.mapped)" of series v2.mapped is the "downtime median" chart's v2.mapped line.
      const name = m.series && m.name.endsWith(` (${m.series})`) ? m.name.slice(0, -(m.series.length + 3)) : m.name;
      const key = `${scenario}\u0000${m.group ?? ''}\u0000${name}\u0000${m.unit}`;
      const pm = out.get(key) ?? { key, scenario, group: m.group ?? '', name, unit: m.unit, better: betterDirection(m.unit), series: new Map<string, PerfPoint[]>() };
      const series = m.series ?? 'value';
      pm.series.set(series, [...(pm.series.get(series) ?? []), { run: run.id, startedAt: run.startedAt, commit: run.environment.target.commit, value }]);
      out.set(key, pm);
    }
  }
  for (const pm of out.values()) {
    const ours = pm.series.get(OUR_SERIES);
    const baseline = BASELINE_SERIES.find((b) => pm.series.has(b));
    if (!ours || !baseline) continue;
    const base = new Map(pm.series.get(baseline)!.map((p) => [p.run, p.value]));
    const points = ours.filter((p) => base.get(p.run)).map((p) => ({ ...p, value: p.value / base.get(p.run)! }));
    if (points.length) pm.ratio = { baseline, points };
  }
  return [...out.values()].sort((a, b) => a.scenario.localeCompare(b.scenario) || a.group.localeCompare(b.group) || a.name.localeCompare(b.name, 'en', { numeric: true }));
}

// ---------------------------------------------------------------------------------------------
// Runs list filters

export interface RunFilters {
  verdict?: string;
  commit?: string;
  qemu?: string;
  accelerator?: string;
  memory?: string;
  kernel?: string;
  host?: string;
  scenario?: string;
  q?: string;
}

export const qemuLabel = (r: RunEntry): string => (r.qemu ? `${r.qemu.flavour} ${r.qemu.version}` : 'none');

export function filterRuns(runs: readonly RunEntry[], f: RunFilters): RunEntry[] {
  const q = f.q?.trim().toLowerCase();
  return runs.filter(
    (r) =>
      (!f.verdict || r.verdict === f.verdict) &&
      (!f.commit || r.commit.startsWith(f.commit)) &&
      (!f.qemu || qemuLabel(r) === f.qemu) &&
      (!f.accelerator || (r.accelerator || 'none') === f.accelerator) &&
      (!f.memory || (r.memoryBackend || 'none') === f.memory) &&
      (!f.kernel || (r.guestKernel || 'none') === f.kernel) &&
      (!f.host || r.host === f.host) &&
      (!f.scenario || r.scenarioNames.includes(f.scenario)) &&
      (!q || [r.id, r.command, r.commit, r.host, qemuLabel(r), r.acceleratorDetail, r.memoryDetail, r.guestKernel, ...r.scenarioNames].join(' ').toLowerCase().includes(q)),
  );
}

// ---------------------------------------------------------------------------------------------
// Text

/** Removes terminal escape sequences (CSI, OSC, two-byte ESC) and stray control characters; CR LF and lone CR become LF. */
export function stripAnsi(s: string): string {
  return (
    s
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '')
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g, '')
      // eslint-disable-next-line no-control-regex
      .replace(/\x1b[@-Z\\-_]?/g, '')
      .replace(/\r+\n/g, '\n')
      .replace(/\r/g, '\n')
      // eslint-disable-next-line no-control-regex
      .replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '')
  );
}

export function fmtMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** "2026-11-28 10:05" in UTC (runs from several machines line up). */
export function fmtTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toISOString().slice(0, 16).replace('T', ' ');
}

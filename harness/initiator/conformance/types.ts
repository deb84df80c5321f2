// The conformance suite's vocabulary: a case (what it checks, where the spec says so, how, and
// what the host must observe) and its result (a verdict with the evidence behind it).
import type { CaseContext } from './session.js';

export type Verdict = 'pass' | 'fail' | 'skip' | 'expected-failure';
export type Level = 'mandatory' | 'optional';

export interface CommandEvidence {
  /** 0 = admin queue, else the I/O SQ id. */
  queue: number;
  command: string;
  fields: string;
  /** Decoded status name (SUCCESS, INVALID_FIELD, ...). */
  status: string;
  statusRaw: number;
  dw0: number;
}

export type Evidence = CommandEvidence | { note: string };

export interface ConformanceCase {
  /** Dotted id: area.subject.condition, e.g. admin.identify.cns-unsupported. */
  id: string;
  /** Where the rule is written: "NVMe Base 2.0 5.17.2", "vfio-user 1.0 ...". */
  section: string;
  title: string;
  procedure: string;
  expected: string;
  level: Level;
  /** Start from a newly attached controller: 'bare' (enabled only) or 'full' (queue pair 1). */
  fresh?: 'bare' | 'full';
  /** A feature the target is known to lack here: a failure becomes expected-failure naming it. */
  gap?: (env: CaseContext['env']) => string | undefined;
  /** Whether the case means anything for this target (left out of the run otherwise). */
  applies?: (env: CaseContext['env']) => boolean;
  run(t: CaseContext): Promise<void>;
}

export interface CaseResult {
  id: string;
  section: string;
  title: string;
  procedure: string;
  expected: string;
  level: Level;
  verdict: Verdict;
  /** Why it failed or was skipped; the missing feature for expected failures. */
  detail?: string;
  missing?: string;
  evidence: Evidence[];
  ms: number;
}

export interface ConformanceReport {
  target: string;
  mode: 'mapped' | 'message';
  startedAt: string;
  durationMs: number;
  summary: Record<Verdict, number> & { total: number };
  results: CaseResult[];
}

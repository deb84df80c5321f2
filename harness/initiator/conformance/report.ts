// The conformance results as a readable table and summary (what `vnvme conformance` prints).
import type { CaseResult, ConformanceReport } from './types.js';

const MARK: Record<CaseResult['verdict'], string> = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP', 'expected-failure': 'XFAIL' };

function clip(s: string, n: number): string {
  return s.length <= n ? s.padEnd(n) : `${s.slice(0, n - 1)}…`;
}

export function formatResultLine(r: CaseResult): string {
  const why = r.verdict === 'expected-failure' ? `missing: ${r.missing}` : r.detail ?? '';
  return `${MARK[r.verdict].padEnd(5)} ${clip(r.id, 48)} ${clip(r.section, 34)} ${String(r.ms).padStart(5)} ms${why ? `  ${why}` : ''}`;
}

export function formatReport(rep: ConformanceReport, opts: { verbose?: boolean } = {}): string {
  const lines: string[] = [];
  lines.push(`vnvme conformance: ${rep.target} (${rep.mode} doorbells)`);
  lines.push('');
  lines.push(`${'RESULT'.padEnd(5)} ${'CASE'.padEnd(48)} ${'SPEC SECTION'.padEnd(34)} ${'TIME'.padStart(8)}`);
  // Passing cases are listed only with --verbose: the default output is what needs attention
  // (failures with their evidence, skips, expected failures) and the per-area summary.
  const shown = opts.verbose ? rep.results : rep.results.filter((r) => r.verdict !== 'pass');
  if (!opts.verbose) lines.push(`(${rep.results.length - shown.length} passing cases not listed; --verbose lists every case with its evidence)`);
  for (const r of shown) {
    lines.push(formatResultLine(r));
    if (opts.verbose || r.verdict === 'fail') {
      lines.push(`      ${r.title}`);
      lines.push(`      procedure: ${r.procedure}`);
      lines.push(`      expected:  ${r.expected}`);
      for (const e of r.evidence) {
        if ('note' in e) lines.push(`      note: ${e.note}`);
        else lines.push(`      q${e.queue} ${e.command}${e.fields ? ` ${e.fields}` : ''} -> ${e.status} dw0=0x${(e.dw0 >>> 0).toString(16)}`);
      }
    }
  }
  // Per area (first id component; admin.* by command): passed/total and anything not passing.
  const areas = new Map<string, { n: number; pass: number; other: string[] }>();
  for (const r of rep.results) {
    const p = r.id.split('.');
    const key = p[0] === 'admin' || p[0] === 'io' ? `${p[0]}.${p[1]}` : p[0]!;
    const a = areas.get(key) ?? { n: 0, pass: 0, other: [] };
    a.n++;
    if (r.verdict === 'pass') a.pass++;
    else a.other.push(`${MARK[r.verdict].toLowerCase()} ${p.slice(key.split('.').length).join('.')}`);
    areas.set(key, a);
  }
  lines.push('');
  lines.push('By area:');
  for (const [k, a] of areas) lines.push(`  ${k.padEnd(28)} ${String(a.pass).padStart(3)}/${String(a.n).padEnd(3)}${a.other.length ? `  (${a.other.join(', ')})` : ''}`);
  const s = rep.summary;
  const mand = rep.results.filter((r) => r.level === 'mandatory' && r.verdict === 'fail').length;
  lines.push('');
  lines.push(`${s.total} cases: ${s.pass} passed, ${s.fail} failed (${mand} mandatory), ${s['expected-failure']} expected failures, ${s.skip} skipped in ${(rep.durationMs / 1000).toFixed(1)} s`);
  return lines.join('\n');
}

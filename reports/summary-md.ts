// summary.md: a run in Markdown for CI job pages (GitHub's step summary: `cat summary.md >>
// "$GITHUB_STEP_SUMMARY"`): the verdict, scenario and check counts (every verdict named), the
// environment, one row per scenario, the checks that failed or errored with their spec section
// and message, and ours-vs-baseline performance ratios.
import { checkCounts, scenarioChecks, type Report, type Summary } from './report-schema.js';
import { fmtRatio, perfRatios } from './perf.js';

const ICON: Record<string, string> = { pass: '✅', fail: '❌', error: '⚠️', skip: '⏭️' };

/** One table cell: no pipes or line breaks, bounded. */
export function mdCell(s: string, max = 160): string {
  const one = s.replace(/\s+/g, ' ').trim();
  const cut = one.length > max ? `${one.slice(0, max - 1)}…` : one;
  return cut.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/</g, '&lt;').replace(/`/g, "'");
}

const counts = (s: Summary): string => `${s.pass} passed, ${s.fail} failed, ${s.error} errors, ${s.skip} skipped (of ${s.total})`;

const fmtMs = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`);

export function summaryMarkdown(r: Report, o: { maxFailures?: number } = {}): string {
  const e = r.environment;
  const checks = checkCounts(r);
  const lines: string[] = [];
  lines.push(`## vnvme ${ICON[r.verdict] ?? ''} ${r.verdict.toUpperCase()} — run \`${r.runId}\``, '');
  lines.push(`- **Scenarios:** ${counts(r.summary)}`);
  lines.push(`- **Checks:** ${counts(checks)}`);
  lines.push(`- **Commit:** \`${e.target.commit.slice(0, 12)}\`${e.target.dirty ? ' (uncommitted changes)' : ''} · vnvme ${mdCell(e.target.version)} · ${fmtMs(r.durationMs)} · \`${mdCell(r.command)}\``);
  lines.push(`- **QEMU:** ${e.qemu ? `${mdCell(e.qemu.version)} (${mdCell(e.qemu.source)})` : 'not used'} · accelerator ${mdCell(e.accelerator || '—', 80)} · memory ${mdCell(e.memoryBackend || '—', 80)} · guest kernel ${mdCell(e.guestKernel || '—')}`);
  lines.push(`- **Host:** ${mdCell(e.host.hostname)} (Linux ${mdCell(e.host.kernel)}, ${e.host.cpus} CPUs, Node ${mdCell(e.host.node)})`, '');
  lines.push('| scenario | verdict | passed | failed | errors | skipped | time | reason |', '|---|---|--:|--:|--:|--:|--:|---|');
  for (const s of r.scenarios) {
    const n = (v: string): number => scenarioChecks(s).filter((c) => c.verdict === v).length;
    lines.push(`| ${mdCell(s.name)}${s.iteration > 1 ? ` #${s.iteration}` : ''} | ${ICON[s.verdict] ?? ''} ${s.verdict} | ${n('pass')} | ${n('fail')} | ${n('error')} | ${n('skip')} | ${fmtMs(s.durationMs)} | ${mdCell(s.reason ?? '')} |`);
  }
  const bad = r.scenarios.flatMap((s) => scenarioChecks(s).filter((c) => c.verdict === 'fail' || c.verdict === 'error').map((c) => ({ s, c })));
  if (bad.length) {
    const max = o.maxFailures ?? 50;
    lines.push('', `### Failed and errored checks (${bad.length})`, '', '| check | verdict | spec section | message |', '|---|---|---|---|');
    for (const { s, c } of bad.slice(0, max)) lines.push(`| \`${mdCell(c.uid ?? `${s.name}/${c.id}`)}\` | ${ICON[c.verdict]} ${c.verdict} | ${mdCell(c.section || '—')} | ${mdCell(c.message ?? '')} |`);
    if (bad.length > max) lines.push('', `… and ${bad.length - max} more (see report.html or the viewer).`);
  }
  const perf = r.scenarios.flatMap((s) => perfRatios(s.metrics).map((p) => ({ s, p })));
  if (perf.length) {
    lines.push('', '### Performance: ours vs baseline', '', '| scenario | metric | ours | baseline | ratio |', '|---|---|--:|--:|--:|');
    for (const { s, p } of perf)
      lines.push(`| ${mdCell(s.name)} | ${mdCell(`${p.name} (${p.unit}, ${p.better} is better)`)} | ${Math.round(p.ours * 10) / 10} | ${Math.round(p.baseline * 10) / 10} ${mdCell(p.baselineSeries)} | ${fmtRatio(p.ratio)} ${p.oursBetter ? '' : '⬇️'} |`);
  }
  lines.push('', `Evidence for every check: \`report.html\` in the run directory, or \`npx vnvme report serve\` / \`report build\` for the viewer.`, '');
  return lines.join('\n');
}

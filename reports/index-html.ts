// reports/runs/index.html: every run in a report directory, newest first, with its verdict,
// counts, duration, target commit and QEMU, each linking to its report.html; per scenario, a
// row of verdict marks across the runs (history at a glance: flaky and newly failing scenarios
// stand out). Self-contained like report.html; rewritten after every run.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { htmlEscape as h } from './html.js';
import { REPORT_SCHEMA_ID, type Report } from './report-schema.js';

export function loadRuns(reportDir: string, limit = 200): Report[] {
  if (!existsSync(reportDir)) return [];
  const runs: Report[] = [];
  for (const d of readdirSync(reportDir).sort().reverse()) {
    if (runs.length >= limit) break;
    try {
      const r = JSON.parse(readFileSync(join(reportDir, d, 'report.json'), 'utf8')) as Report;
      if (r.schema === REPORT_SCHEMA_ID) runs.push(r);
    } catch {
      /* not a finished run */
    }
  }
  return runs;
}

const mark = (v: string): string => `<span class="v v-${h(v)}" title="${h(v)}">${h(v[0]!.toUpperCase())}</span>`;

export function runsIndexHtml(runs: readonly Report[]): string {
  const rows = runs.map(
    (r) =>
      `<tr><td><a href="${h(r.runId)}/report.html">${h(r.runId)}</a></td><td>${mark(r.verdict)}</td><td class="n">${r.summary.pass}/${r.summary.total}</td><td class="n">${r.summary.fail}</td><td class="n">${r.summary.error}</td><td class="n">${r.summary.skip}</td><td class="n">${(r.durationMs / 1000).toFixed(0)} s</td><td><code>${h(r.environment.target.commit.slice(0, 12))}${r.environment.target.dirty ? '+' : ''}</code></td><td>${h(r.environment.qemu?.version ?? '—')}</td><td>${h(r.command)}</td></tr>`,
  );
  const names = [...new Set(runs.flatMap((r) => r.scenarios.map((s) => s.name)))].sort();
  const history = names.map((n) => {
    const cells = runs.map((r) => {
      const s = r.scenarios.filter((x) => x.name === n);
      return `<td>${s.length ? s.map((x) => `<a href="${h(r.runId)}/report.html#scenario-${h(n)}${x.iteration > 1 ? `-${x.iteration}` : ''}">${mark(x.verdict)}</a>`).join('') : ''}</td>`;
    });
    return `<tr><th>${h(n)}</th>${cells.join('')}</tr>`;
  });
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>vnvme scenario runs</title>
<style>body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222}table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
td.n{text-align:right}.v{display:inline-block;width:16px;text-align:center;border-radius:3px;font-size:11px;font-weight:600;color:#fff}
.v-pass{background:#2a9d5c}.v-fail{background:#d33}.v-error{background:#8a2be2}.v-skip{background:#999}a{text-decoration:none}</style></head>
<body><h1>vnvme scenario runs (${runs.length})</h1>
<table><tr><th>run</th><th>verdict</th><th>passed</th><th>failed</th><th>errors</th><th>skipped</th><th>time</th><th>target</th><th>QEMU</th><th>command</th></tr>${rows.join('')}</table>
<h2>History by scenario (newest left)</h2>
<table>${history.join('')}</table>
</body></html>
`;
}

/** Rewrites reportDir/index.html; returns its path. */
export function writeRunsIndex(reportDir: string): string {
  const p = join(reportDir, 'index.html');
  writeFileSync(p, runsIndexHtml(loadRuns(reportDir)));
  return p;
}

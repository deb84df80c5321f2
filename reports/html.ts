// report.html: one self-contained file (opens from disk, no server, no network): run header with
// the environment, summary with filter chips and search, pass/fail by spec area, every scenario
// with its checks, evidence, steps and log tails, and inline-SVG charts of the performance
// results. The page is rendered here, so it reads fine without JavaScript; a few lines of inline
// script only filter. The full report.json is embedded too (#report-data) for tools.
import type { Check, FioRun, Metric, Report, ScenarioResult } from './report-schema.js';
import { barChart, type BarGroup } from './svg-chart.js';

export function htmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}
const h = htmlEscape;

const fmtMs = (ms: number): string => (ms < 1000 ? `${Math.round(ms)} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`);
const badge = (v: string): string => `<span class="v v-${h(v)}">${h(v.toUpperCase())}</span>`;

function evidenceHtml(c: Check): string {
  if (!c.evidence.length) return '';
  return c.evidence
    .map((e) => {
      const rows: string[] = [];
      if (e.command) rows.push(`<div class="cmd"><span class="where">${h(e.where ?? '')}</span> $ ${h(e.command)}${e.exitCode !== undefined ? ` <span class="exit">→ exit ${h(String(e.exitCode))}</span>` : ''}</div>`);
      if (e.expected !== undefined || e.actual !== undefined) rows.push(`<table class="cmp"><tr><th>expected</th><td>${h(e.expected ?? '')}</td></tr><tr><th>actual</th><td>${h(e.actual ?? '')}</td></tr></table>`);
      if (e.note) rows.push(`<div class="note">${h(e.note)}</div>`);
      if (e.output) rows.push(`<pre>${h(e.output.length > 20_000 ? `…${e.output.slice(-20_000)}` : e.output)}</pre>`);
      return `<div class="ev">${rows.join('')}</div>`;
    })
    .join('');
}

function checkHtml(s: ScenarioResult, c: Check): string {
  const anchor = `case=${s.name}${s.iteration > 1 ? `#${s.iteration}` : ''}/${c.id}`;
  return `<details class="check" data-verdict="${c.verdict}" id="${h(anchor)}"${c.verdict === 'fail' || c.verdict === 'error' ? ' open' : ''}>
<summary>${badge(c.verdict)} <code>${h(c.id)}</code> ${h(c.title)} <span class="sec">${h(c.section)}</span> <span class="area">${h(c.area)}</span> <span class="dur">${fmtMs(c.durationMs)}</span>${c.level !== 'mandatory' ? ` <span class="lvl">${h(c.level)}</span>` : ''}</summary>
${c.message ? `<div class="msg">${h(c.message)}</div>` : ''}${evidenceHtml(c)}
</details>`;
}

function fioTable(runs: readonly FioRun[]): string {
  if (!runs.length) return '';
  const p = (r: Record<string, number>, k: string): string => (r[k] !== undefined ? r[k]!.toFixed(1) : '');
  const rows = runs.map(
    (r) =>
      `<tr><td>${h(r.name)}</td><td>${h(r.series)}</td><td>${h(r.rw)}</td><td>${h(r.bs)}</td><td>${r.iodepth}</td><td>${r.numjobs}</td><td class="n">${Math.round(r.readIops)}</td><td class="n">${Math.round(r.writeIops)}</td><td class="n">${Math.round((r.readBwKiBps + r.writeBwKiBps) / 1024)}</td><td class="n">${p(r.readClatUs, '50')}${r.writeIops ? ` / ${p(r.writeClatUs, '50')}` : ''}</td><td class="n">${p(r.readClatUs, '99')}${r.writeIops ? ` / ${p(r.writeClatUs, '99')}` : ''}</td><td class="n">${r.errors}</td></tr>`,
  );
  return `<table class="fio"><tr><th>job</th><th>device</th><th>rw</th><th>bs</th><th>QD</th><th>jobs</th><th>read IOPS</th><th>write IOPS</th><th>MiB/s</th><th>clat p50 µs (r / w)</th><th>clat p99 µs (r / w)</th><th>errors</th></tr>${rows.join('')}</table>`;
}

/** Charts: fio IOPS and p99 latency per job, series side by side; then metric groups. */
export function chartsFor(s: ScenarioResult): string[] {
  const charts: string[] = [];
  if (s.fio.length) {
    const jobs = [...new Set(s.fio.map((r) => r.name))];
    const iops: BarGroup[] = jobs.map((j) => ({ label: j, values: s.fio.filter((r) => r.name === j).map((r) => ({ series: r.series, value: r.readIops + r.writeIops })) }));
    charts.push(barChart(iops, { title: `${s.name}: IOPS`, unit: 'IOPS' }));
    const lat: BarGroup[] = jobs.map((j) => ({
      label: j,
      values: s.fio.filter((r) => r.name === j).map((r) => ({ series: r.series, value: Math.max(r.readClatUs['99'] ?? 0, r.writeClatUs['99'] ?? 0) })),
    }));
    charts.push(barChart(lat, { title: `${s.name}: completion latency p99`, unit: 'µs' }));
  }
  const byGroup = new Map<string, Metric[]>();
  for (const m of s.metrics) if (m.group) byGroup.set(m.group, [...(byGroup.get(m.group) ?? []), m]);
  // Metrics that repeat the fio charts above (same job names) are not charted a second time.
  const fioJobs = new Set(s.fio.map((r) => r.name));
  for (const [group, ms] of byGroup) {
    if (fioJobs.size && ms.every((m) => fioJobs.has(m.name))) continue;
    const labels = [...new Set(ms.map((m) => m.name))];
    charts.push(barChart(labels.map((l) => ({ label: l, values: ms.filter((m) => m.name === l).map((m) => ({ series: m.series ?? s.name, value: m.value })) })), { title: group, unit: ms[0]?.unit ?? '' }));
  }
  return charts;
}

function scenarioHtml(s: ScenarioResult): string {
  const id = `scenario-${s.name}${s.iteration > 1 ? `-${s.iteration}` : ''}`;
  const counts = (['pass', 'fail', 'error', 'skip'] as const).map((v) => [v, s.checks.filter((c) => c.verdict === v).length] as const).filter(([, n]) => n > 0);
  const facts = Object.entries(s.facts);
  const metrics = s.metrics.length
    ? `<table class="metrics"><tr><th>metric</th><th>series</th><th>value</th></tr>${s.metrics.map((m) => `<tr><td>${h(m.name)}</td><td>${h(m.series ?? '')}</td><td class="n">${h(String(Math.round(m.value * 1000) / 1000))} ${h(m.unit)}</td></tr>`).join('')}</table>`
    : '';
  const charts = chartsFor(s);
  return `<section class="scenario" id="${h(id)}" data-verdict="${s.verdict}" data-tags="${h(s.tags.join(' '))}">
<h2>${badge(s.verdict)} ${h(s.name)}${s.iteration > 1 ? ` <small>#${s.iteration}</small>` : ''} <span class="dur">${fmtMs(s.durationMs)}</span></h2>
<p class="desc">${h(s.description)} <span class="tags">${s.tags.map((t) => `<span class="tag">${h(t)}</span>`).join(' ')}</span></p>
${s.reason ? `<p class="reason"><b>${s.verdict === 'skip' ? 'skipped' : s.verdict === 'pass' ? 'note' : 'reason'}:</b> ${h(s.reason)}</p>` : ''}
<p class="counts">${counts.map(([v, n]) => `${n} ${v}`).join(', ') || 'no checks'}</p>
${facts.length ? `<details><summary>facts</summary><table class="facts">${facts.map(([k, v]) => `<tr><th>${h(k)}</th><td>${h(v)}</td></tr>`).join('')}</table></details>` : ''}
${charts.length ? `<div class="charts">${charts.join('')}</div>` : ''}
${fioTable(s.fio)}${metrics}
<div class="checks">${s.checks.map((c) => checkHtml(s, c)).join('\n')}</div>
${s.steps.length ? `<details><summary>steps (${s.steps.length})</summary><table class="steps">${s.steps.map((st) => `<tr><td class="n">+${fmtMs(st.startedMs)}</td><td>${h(st.name)}</td><td class="n">${fmtMs(st.durationMs)}</td></tr>`).join('')}</table></details>` : ''}
${s.artifacts.map((a) => `<details class="log"><summary>${h(a.name)} <span class="path">${h(a.path)}</span> (${a.bytes} bytes)</summary>${a.tail !== undefined ? `<pre>${h(a.tail)}</pre>` : ''}</details>`).join('\n')}
</section>`;
}

/** Checks grouped by spec area across the run. */
function areaTable(r: Report): string {
  const areas = new Map<string, Record<'pass' | 'fail' | 'error' | 'skip', number>>();
  for (const s of r.scenarios)
    for (const c of s.checks) {
      const a = areas.get(c.area) ?? { pass: 0, fail: 0, error: 0, skip: 0 };
      a[c.verdict]++;
      areas.set(c.area, a);
    }
  if (!areas.size) return '';
  const rows = [...areas.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([area, n]) => `<tr><td>${h(area)}</td><td class="n">${n.pass}</td><td class="n ${n.fail ? 'bad' : ''}">${n.fail}</td><td class="n ${n.error ? 'bad' : ''}">${n.error}</td><td class="n">${n.skip}</td></tr>`);
  return `<h2>By spec area</h2><table class="areas"><tr><th>area</th><th>pass</th><th>fail</th><th>error</th><th>skip</th></tr>${rows.join('')}</table>`;
}

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:16px;color:#222}
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:18px 0 6px}table{border-collapse:collapse;margin:6px 0}
td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}
.v{display:inline-block;min-width:44px;text-align:center;border-radius:3px;padding:0 4px;font-size:12px;font-weight:600;color:#fff}
.v-pass{background:#2a9d5c}.v-fail{background:#d33}.v-error{background:#8a2be2}.v-skip{background:#999}
.bad{background:#fee}.scenario{border-top:2px solid #eee;margin-top:14px}.check{margin:2px 0 2px 8px}
.check summary{cursor:pointer}.sec,.area,.dur,.lvl,.path{color:#666;font-size:12px;margin-left:6px}.area{font-style:italic}
.tag{background:#eef;border-radius:3px;padding:0 4px;font-size:12px}pre{background:#f6f6f6;padding:6px;overflow:auto;max-height:360px;font-size:12px;margin:4px 0}
.cmd{font-family:monospace;font-size:12px;background:#f0f4ff;padding:2px 4px}.where{color:#669}.exit{color:#666}.ev{margin:4px 0 8px 16px}
.msg,.reason{color:#a00}.note{font-size:12px}.chips button{margin-right:4px;border:1px solid #bbb;background:#fafafa;border-radius:12px;padding:2px 10px;cursor:pointer}
.chips button.on{background:#2f6fdb;color:#fff}.charts{display:flex;flex-wrap:wrap;gap:12px}.hidden{display:none}
#search{margin-left:12px;padding:2px 6px;width:260px}.env th{width:180px}`;

const SCRIPT = `(function(){var on=null,q='';function apply(){document.querySelectorAll('.check').forEach(function(c){var t=c.textContent.toLowerCase();c.classList.toggle('hidden',(on&&c.dataset.verdict!==on)||(q&&t.indexOf(q)<0));});
document.querySelectorAll('.scenario').forEach(function(s){var any=s.querySelectorAll('.check:not(.hidden)').length>0;var self=(!on||s.dataset.verdict===on)&&(!q||s.textContent.toLowerCase().indexOf(q)>=0);s.classList.toggle('hidden',!(any||self));});}
document.querySelectorAll('.chips button').forEach(function(b){b.addEventListener('click',function(){on=on===b.dataset.v?null:b.dataset.v;document.querySelectorAll('.chips button').forEach(function(x){x.classList.toggle('on',x.dataset.v===on);});apply();});});
var s=document.getElementById('search');s.addEventListener('input',function(){q=s.value.toLowerCase();apply();});
if(location.hash){var el=document.getElementById(decodeURIComponent(location.hash.slice(1)));if(el){if(el.tagName==='DETAILS')el.open=true;el.scrollIntoView();}}})();`;

export function reportHtml(r: Report): string {
  const e = r.environment;
  const envRows: [string, string][] = [
    ['verdict', r.verdict],
    ['started', `${r.startedAt} (${fmtMs(r.durationMs)})`],
    ['command', r.command],
    ['target commit', `${e.target.commit}${e.target.dirty ? ' (with uncommitted changes)' : ''} — vnvme ${e.target.version}`],
    ['QEMU', e.qemu ? `${e.qemu.version} (${e.qemu.source}): ${e.qemu.description}` : 'not used'],
    ['accelerator', e.accelerator || '—'],
    ['guest memory backend', e.memoryBackend || '—'],
    ['guest kernel', e.guestKernel || '—'],
    ['host', `${e.host.hostname}: Linux ${e.host.kernel}, ${e.host.cpus} × ${e.host.cpu}, Node ${e.host.node}`],
  ];
  const sum = r.summary;
  const prev = (s: ScenarioResult): string => {
    const p = r.previous?.scenarios[s.iteration > 1 ? `${s.name}#${s.iteration}` : s.name];
    return p ? `${badge(p.verdict)} ${p.passedChecks}/${p.checks} ${fmtMs(p.durationMs)}` : '—';
  };
  const summaryRows = r.scenarios.map((s) => `<tr><td><a href="#scenario-${h(s.name)}${s.iteration > 1 ? `-${s.iteration}` : ''}">${h(s.name)}${s.iteration > 1 ? ` #${s.iteration}` : ''}</a></td><td>${badge(s.verdict)}</td><td class="n">${s.checks.filter((c) => c.verdict === 'pass').length}/${s.checks.length}</td><td class="n">${fmtMs(s.durationMs)}</td>${r.previous ? `<td class="prev">${prev(s)}</td>` : ''}<td>${h(s.reason ?? '')}</td></tr>`);
  // The embedded JSON must not end the script element early.
  const data = JSON.stringify(r).replace(/</g, '\\u003c');
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>vnvme report ${h(r.runId)} — ${h(r.verdict.toUpperCase())}</title>
<style>${CSS}</style></head>
<body>
<h1>vnvme scenario report ${badge(r.verdict)} <small>${h(r.runId)}</small></h1>
<table class="env">${envRows.map(([k, v]) => `<tr><th>${h(k)}</th><td>${h(v)}</td></tr>`).join('')}</table>
<h2>Summary: ${sum.total} scenario runs — ${sum.pass} passed, ${sum.fail} failed, ${sum.error} errors, ${sum.skip} skipped</h2>
<div class="chips"><button data-v="pass">pass</button><button data-v="fail">fail</button><button data-v="error">error</button><button data-v="skip">skip</button><input id="search" type="search" placeholder="search checks, commands, output"></div>
<table class="summary"><tr><th>scenario</th><th>verdict</th><th>checks passed</th><th>time</th>${r.previous ? `<th>previous run (${h(r.previous.runId)})</th>` : ''}<th>reason</th></tr>${summaryRows.join('')}</table>
${areaTable(r)}
${r.scenarios.map(scenarioHtml).join('\n')}
<script type="application/json" id="report-data">${data}</script>
<script>${SCRIPT}</script>
</body></html>
`;
}

// One run: its environment, scenarios and checks (#view=run&run=ID), and the Evidence of one
// check (#run=ID&case=<scenario>/<check id>[&iter=N]): its definition, commands, outputs,
// expected vs actual, its recent history, and the scenario's logs (escape sequences removed,
// long lines wrapped) with links to the full files.
import type { Check, Evidence, Report, ScenarioResult } from '../../../report-schema.js';
import type { RunEntry } from '../../../runs-index.js';
import { scenarioChecks } from '../../../report-schema.js';
import { combined, comparableBase, environmentFields, fmtMs, fmtTime, histories, LEVEL_LABEL, stripAnsi, uidsOf } from '../../model.js';
import { badge, h, link, mark, shortCommit } from '../dom.js';
import { loadFull, loadSlims, runFile, type ViewerIndex } from '../data.js';

export function findRun(idx: ViewerIndex, id: string | null): RunEntry {
  const r = id ? idx.runs.find((x) => x.id === id || x.dir === id) : idx.runs[0];
  if (!r) throw new Error(id ? `no run "${id}" in this runs directory` : 'no runs yet');
  return r;
}

function envTable(r: Report): HTMLElement {
  const rows = Object.entries(environmentFields(r.environment, r.command));
  return h('table', { class: 'kv env' }, ...rows.map(([k, v]) => h('tr', null, h('th', null, k), h('td', null, v || '—'))));
}

function checkRow(run: RunEntry, s: ScenarioResult, c: Check, uid: string): HTMLElement {
  return h(
    'tr',
    { 'data-verdict': c.verdict, 'data-uid': uid },
    h('td', null, badge(c.verdict)),
    h('td', null, link({ run: run.id, case: uid, iter: s.iteration > 1 ? s.iteration : undefined }, h('code', null, c.id))),
    h('td', null, c.title),
    h('td', { class: 'sec' }, c.section || '—'),
    h('td', null, LEVEL_LABEL[c.level], c.levelDefaulted ? h('span', { class: 'dim', title: 'no level in the definition; mandatory assumed' }, '*') : ''),
    h('td', { class: 'n nowrap' }, fmtMs(c.durationMs)),
    h('td', { class: 'msg' }, c.message ?? ''),
  );
}

async function overview(idx: ViewerIndex, run: RunEntry, p: URLSearchParams): Promise<HTMLElement> {
  const r = await loadFull(run);
  const only = p.get('verdict') ?? '';
  const q = (p.get('q') ?? '').toLowerCase();
  const prev = comparableBase(idx.runs, run);
  const scenarios = r.scenarios.map((s0) => {
    const s = { ...s0, checks: scenarioChecks(s0) };
    const uids = uidsOf(s);
    const rows = s.checks
      .map((c, i) => ({ c, uid: uids[i]! }))
      .filter(({ c, uid }) => (!only || c.verdict === only) && (!q || `${uid} ${c.title} ${c.section} ${c.message ?? ''}`.toLowerCase().includes(q)))
      .map(({ c, uid }) => checkRow(run, s, c, uid));
    if ((only || q) && !rows.length) return null;
    const n = (v: string): number => s.checks.filter((c) => c.verdict === v).length;
    return h(
      'section',
      { class: 'scenario', id: `scenario-${s.name}${s.iteration > 1 ? `-${s.iteration}` : ''}` },
      h('h2', null, badge(s.verdict), ' ', s.name, s.iteration > 1 ? h('small', null, ` #${s.iteration}`) : '', h('span', { class: 'dim' }, ` ${fmtMs(s.durationMs)} · ${n('pass')} passed, ${n('fail')} failed, ${n('error')} errors, ${n('skip')} skipped`)),
      h('p', { class: 'desc' }, s.description),
      s.reason ? h('p', { class: s.verdict === 'skip' ? 'reason skip' : 'reason' }, `${s.verdict === 'skip' ? 'skipped' : 'reason'}: ${s.reason}`) : null,
      rows.length ? h('table', { class: 'grid checks' }, h('thead', null, h('tr', null, ...['', 'check', 'title', 'spec section', 'level', 'time', 'message'].map((t) => h('th', null, t)))), h('tbody', null, ...rows)) : h('p', { class: 'dim' }, 'no checks recorded'),
    );
  });
  const setParam = (k: string, v: string): void => {
    const next = new URLSearchParams(p);
    next.set('view', 'run');
    if (v) next.set(k, v);
    else next.delete(k);
    location.hash = next.toString();
  };
  return h(
    'section',
    { class: 'page run' },
    h('h1', null, 'Run ', h('code', null, r.runId), ' ', badge(r.verdict)),
    h(
      'p',
      { class: 'links' },
      `${fmtTime(r.startedAt)} UTC · ${fmtMs(r.durationMs)} · `,
      h('a', { href: runFile(run, 'report.html') }, 'report.html'),
      ' · ',
      h('a', { href: runFile(run, 'junit.xml') }, 'junit.xml'),
      ' · ',
      h('a', { href: runFile(run, 'summary.md') }, 'summary.md'),
      ' · ',
      link({ view: 'coverage', run: run.id }, 'spec coverage'),
      prev ? [' · ', link({ view: 'diff', a: prev.id, b: run.id }, 'diff vs previous run')] : '',
    ),
    envTable(r),
    h(
      'div',
      { class: 'filters' },
      ...['', 'pass', 'fail', 'error', 'skip'].map((v) => h('button', { class: only === v ? 'chip on' : 'chip', 'data-v': v, onclick: () => setParam('verdict', v) }, v || 'all')),
      h('input', { type: 'search', placeholder: 'search checks', value: p.get('q') ?? '', onchange: (e: Event) => setParam('q', (e.target as HTMLInputElement).value) }),
    ),
    ...scenarios,
  );
}

function evidenceItem(e: Evidence, i: number): HTMLElement {
  const mismatch = e.expected !== undefined && e.actual !== undefined && e.expected !== e.actual;
  return h(
    'div',
    { class: 'ev', id: `ev-${i}` },
    e.command
      ? h('div', { class: 'cmd' }, h('span', { class: 'where' }, e.where ?? ''), ' $ ', h('span', { class: 'command' }, e.command), e.exitCode !== undefined ? h('span', { class: 'exit' }, ` → exit ${e.exitCode}`) : '')
      : null,
    e.note && !e.note.startsWith('procedure: ') ? h('div', { class: 'note' }, e.note) : null,
    e.expected !== undefined || e.actual !== undefined
      ? h('table', { class: `cmp${mismatch ? ' mismatch' : ''}` }, h('tr', null, h('th', null, 'expected'), h('td', null, h('pre', null, e.expected ?? ''))), h('tr', null, h('th', null, 'actual'), h('td', null, h('pre', null, e.actual ?? ''))))
      : null,
    e.output ? h('pre', { class: 'output' }, stripAnsi(e.output)) : null,
  );
}

async function evidence(idx: ViewerIndex, run: RunEntry, uid: string, iter: number): Promise<HTMLElement> {
  const r = await loadFull(run);
  let found: { s: ScenarioResult; c: Check } | undefined;
  for (const s0 of r.scenarios) {
    if (s0.iteration !== iter) continue;
    const s = { ...s0, checks: scenarioChecks(s0) };
    const uids = uidsOf(s);
    const i = uids.indexOf(uid);
    if (i >= 0) found = { s, c: s.checks[i]! };
  }
  if (!found) throw new Error(`run ${run.id} has no check "${uid}"${iter > 1 ? ` in iteration ${iter}` : ''}`);
  const { s, c } = found;
  const def = c.evidence.find((e) => e.note?.startsWith('procedure: '));
  const items = c.evidence.filter((e) => e !== def || e.command || e.output);
  const strip = h('div', { class: 'history-strip' }, h('span', { class: 'dim' }, 'history: loading…'));
  void (async () => {
    const recent = idx.runs.slice(idx.runs.indexOf(run), idx.runs.indexOf(run) + 15);
    const hist = histories(await loadSlims(recent)).get(uid);
    if (!hist) return strip.replaceChildren();
    strip.replaceChildren(
      h('span', { class: 'dim' }, 'this and earlier runs: '),
      ...hist.cells.map((cell, i) => (cell ? link({ run: cell.run, case: uid }, mark(combined(cell.verdicts))) : h('span', { title: `${recent[i]?.id}: not in this run` }, mark(undefined)))),
      ' ',
      link({ view: 'history', case: uid }, 'full history'),
      hist.flaky ? h('span', { class: 'flaky', title: hist.flaky }, ' ⚡ flaky') : '',
    );
  })();
  const logs = s.artifacts.map((a) =>
    h(
      'details',
      { class: 'log', 'data-artifact': a.name },
      h('summary', null, a.name, h('span', { class: 'dim' }, ` ${a.path} · ${a.bytes} bytes · `), h('a', { href: runFile(run, a.path) }, 'full file')),
      a.tail !== undefined ? h('pre', { class: 'output' }, stripAnsi(a.tail)) : h('p', { class: 'dim' }, 'no text kept in the report'),
    ),
  );
  return h(
    'section',
    { class: 'page evidence' },
    h('p', { class: 'crumbs' }, link({ view: 'runs' }, 'runs'), ' › ', link({ view: 'run', run: run.id }, run.id), ' › ', link({ view: 'run', run: run.id, at: `scenario-${s.name}` }, s.name)),
    h('h1', null, badge(c.verdict), ' ', h('code', { id: 'case-uid' }, uid), iter > 1 ? h('small', null, ` iteration ${iter}`) : ''),
    h('p', { class: 'title' }, c.title),
    h(
      'table',
      { class: 'kv' },
      h('tr', null, h('th', null, 'spec section'), h('td', null, c.section || '— (not a spec rule)')),
      h('tr', null, h('th', null, 'level'), h('td', null, LEVEL_LABEL[c.level], c.levelDefaulted ? ' (not stated; assumed)' : '')),
      h('tr', null, h('th', null, 'area'), h('td', null, c.area)),
      h('tr', null, h('th', null, 'time'), h('td', null, fmtMs(c.durationMs))),
      h('tr', null, h('th', null, 'run'), h('td', null, `${fmtTime(r.startedAt)} UTC, commit `, h('code', null, shortCommit(r.environment.target.commit, r.environment.target.dirty)))),
    ),
    c.message ? h('p', { class: c.verdict === 'skip' ? 'reason skip' : c.verdict === 'pass' ? 'note' : 'reason' }, c.message) : null,
    strip,
    def ? h('div', { class: 'definition' }, h('h2', null, 'Definition'), h('p', null, h('b', null, 'procedure: '), def.note!.slice('procedure: '.length)), def.expected ? h('p', null, h('b', null, 'observable result: '), def.expected) : null) : null,
    h('h2', null, `Evidence (${items.length})`),
    items.length ? items.map(evidenceItem) : h('p', { class: 'dim' }, 'no evidence recorded'),
    h('h2', null, `Logs of ${s.name} (${logs.length})`),
    logs.length ? logs : h('p', { class: 'dim' }, 'no logs recorded'),
  );
}

export async function runPage(idx: ViewerIndex, p: URLSearchParams): Promise<HTMLElement> {
  const run = findRun(idx, p.get('run'));
  const uid = p.get('case');
  if (uid) return evidence(idx, run, uid, Number(p.get('iter') ?? 1) || 1);
  return overview(idx, run, p);
}


// Check history: every check's verdict across the last N runs (columns headed by run time and
// commit, newest left), with failing-since, last-passed and a flaky mark (passed on retry within
// a run, or flipped between two runs of the same clean commit). #view=history&case=UID narrows
// it to one check with each run's message.
import { combined, fmtTime, histories, isBad, type CheckHistory, type SlimRun } from '../../model.js';
import { h, link, mark, shortCommit } from '../dom.js';
import { loadSlims, type ViewerIndex } from '../data.js';

const DEFAULT_N = 20;

/** The first 8 hex digits of the run's commit, "+" when the tree had uncommitted changes. */
const commit8 = (r: SlimRun): string => `${shortCommit(r.environment.target.commit).slice(0, 8)}${r.environment.target.dirty ? '+' : ''}`;

export async function historyPage(idx: ViewerIndex, p: URLSearchParams): Promise<HTMLElement> {
  const n = Math.max(2, Math.min(200, Number(p.get('n') ?? DEFAULT_N) || DEFAULT_N));
  const entries = idx.runs.slice(0, n);
  const runs = await loadSlims(entries);
  const all = [...histories(runs).values()];
  const uid = p.get('case');
  const only = p.get('only') ?? '';
  const q = (p.get('q') ?? '').toLowerCase();
  let rows: CheckHistory[] = uid ? all.filter((x) => x.uid === uid) : all;
  if (uid && !rows.length) throw new Error(`no check "${uid}" in the last ${runs.length} runs`);
  if (!uid) {
    if (only === 'failing') rows = rows.filter((x) => isBad(x.latest));
    if (only === 'flaky') rows = rows.filter((x) => x.flaky);
    if (only === 'changed') rows = rows.filter((x) => new Set(x.cells.filter(Boolean).map((c) => combined(c!.verdicts))).size > 1);
    if (q) rows = rows.filter((x) => `${x.uid} ${x.title} ${x.section}`.toLowerCase().includes(q));
    // Failing first, then flaky, then by id.
    rows.sort((a, b) => Number(isBad(b.latest)) - Number(isBad(a.latest)) || Number(!!b.flaky) - Number(!!a.flaky) || a.uid.localeCompare(b.uid));
  }
  const runName = (id: string | undefined): string => {
    const r = runs.find((x) => x.id === id);
    return r ? `${fmtTime(r.startedAt).slice(5)} ${commit8(r)}` : '—';
  };
  const LIMIT = 400;
  const head = h(
    'tr',
    null,
    h('th', null, 'check'),
    h('th', null, 'failing since'),
    h('th', null, 'last passed'),
    ...runs.map((r) => h('th', { class: 'runcol', title: `${r.id}\n${r.environment.target.commit}` }, link({ view: 'run', run: r.id }, h('span', { class: 'rt' }, fmtTime(r.startedAt).slice(5)), h('br'), h('code', { title: r.environment.target.dirty ? 'uncommitted changes' : null }, commit8(r))))),
  );
  const body = rows.slice(0, LIMIT).map((x) =>
    h(
      'tr',
      { 'data-uid': x.uid },
      h('th', { class: 'check' }, link({ view: 'history', case: x.uid, n: p.get('n') ?? undefined }, h('code', null, x.uid)), x.flaky ? h('span', { class: 'flaky', title: x.flaky }, ' ⚡ flaky') : '', h('div', { class: 'dim' }, x.title)),
      h('td', { class: 'nowrap' }, x.failingSince ? runName(x.failingSince) : '—'),
      h('td', { class: 'nowrap' }, x.lastPassed ? runName(x.lastPassed) : 'never'),
      ...x.cells.map((c, i) => h('td', { class: 'cell' }, c ? link({ run: runs[i]!.id, case: x.uid }, ...c.verdicts.map((v) => mark(v))) : mark(undefined))),
    ),
  );
  const set = (k: string, v: string): void => {
    const next = new URLSearchParams(p);
    next.set('view', 'history');
    next.delete('case');
    if (v) next.set(k, v);
    else next.delete(k);
    location.hash = next.toString();
  };
  const one = uid ? rows[0] : undefined;
  return h(
    'section',
    { class: 'page history' },
    h('h1', null, uid ? ['History of ', h('code', null, uid)] : 'Check history', h('small', null, ` last ${runs.length} runs, newest left`)),
    one
      ? h(
          'div',
          { class: 'summary-line', id: 'history-summary' },
          h('p', null, one.title, one.section ? h('span', { class: 'dim' }, ` · ${one.section}`) : ''),
          h('p', null, h('b', null, 'latest: '), one.latest ?? 'not run', ' · ', h('b', null, 'failing since: '), one.failingSince ? runName(one.failingSince) : '—', ' · ', h('b', null, 'last failed: '), one.lastFailed ? runName(one.lastFailed) : 'never', ' · ', h('b', null, 'last passed: '), one.lastPassed ? runName(one.lastPassed) : 'never'),
          one.flaky ? h('p', { class: 'flaky' }, `⚡ flaky: ${one.flaky}`) : h('p', { class: 'dim' }, 'not flaky in these runs'),
          link({ view: 'history' }, '← all checks'),
        )
      : h(
          'div',
          { class: 'filters' },
          ...['', 'failing', 'changed', 'flaky'].map((v) => h('button', { class: only === v ? 'chip on' : 'chip', 'data-only': v, onclick: () => set('only', v) }, v || 'all')),
          h('input', { type: 'search', placeholder: 'filter checks', value: p.get('q') ?? '', onchange: (e: Event) => set('q', (e.target as HTMLInputElement).value) }),
          h('label', null, ' runs: ', h('select', { onchange: (e: Event) => set('n', (e.target as HTMLSelectElement).value) }, ...[10, 20, 50, 100].map((k) => h('option', { value: k, selected: k === n }, String(k))))),
          h('span', { class: 'dim', id: 'history-count' }, ` ${rows.length} checks${rows.length > LIMIT ? ` (first ${LIMIT} shown)` : ''}`),
        ),
    h('div', { class: 'scroll' }, h('table', { class: 'grid matrix', id: 'history-table' }, h('thead', null, head), h('tbody', null, ...body))),
    one
      ? h(
          'table',
          { class: 'grid', id: 'history-runs' },
          h('thead', null, h('tr', null, ...['run', 'commit', 'verdicts', 'message'].map((t) => h('th', null, t)))),
          h('tbody', null, ...one.cells.map((c, i) => h('tr', null, h('td', null, link({ run: runs[i]!.id, case: one.uid }, fmtTime(runs[i]!.startedAt))), h('td', null, h('code', null, shortCommit(runs[i]!.environment.target.commit, runs[i]!.environment.target.dirty))), h('td', null, c ? c.verdicts.join(', ') : 'not in this run'), h('td', { class: 'msg' }, c?.message ?? '')))),
        )
      : null,
  );
}

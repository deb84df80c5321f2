// Diff of two runs (#view=diff&a=BASE&b=HEAD, default: the newest run against the one before):
// status changes (new failures, fixed, other), checks new and removed, observed values that
// changed, facts, metric ratios against their noise band, environment differences.
import { comparableBase, diffRuns, fmtTime, type ObservedChange, type ScenarioOnlyIn, type StatusChange } from '../../model.js';
import { fmtRatio } from '../../../perf.js';
import { shortNumber } from '../../../svg-chart.js';
import { badge, h, link, type Child } from '../dom.js';
import { loadSlims, type ViewerIndex } from '../data.js';
import { findRun } from './run.js';

function changeTable(id: string, title: string, rows: StatusChange[], head: string): HTMLElement {
  return h(
    'section',
    { class: 'diff-part', id },
    h('h2', null, `${title} (${rows.length})`),
    rows.length
      ? h(
          'table',
          { class: 'grid' },
          h('thead', null, h('tr', null, ...['check', 'before', 'after', 'spec section', 'message'].map((t) => h('th', null, t)))),
          h(
            'tbody',
            null,
            ...rows.map((c) =>
              h('tr', { 'data-uid': c.uid }, h('td', null, link({ run: c.evidenceRun ?? head, case: c.uid }, h('code', null, c.uid)), h('div', { class: 'dim' }, c.title)), h('td', null, badge(c.before)), h('td', null, badge(c.after)), h('td', { class: 'sec' }, c.section || '—'), h('td', { class: 'msg' }, c.message ?? '')),
            ),
          ),
        )
      : h('p', { class: 'dim' }, 'none'),
  );
}

function onlyInTable(id: string, title: string, rows: ScenarioOnlyIn[], run: string): HTMLElement | null {
  if (!rows.length) return null;
  return h(
    'section',
    { class: 'diff-part', id },
    h('h2', null, `${title} (${rows.length})`),
    h('p', { class: 'dim' }, 'Not counted as new or removed checks: the other run did not run these scenarios at all.'),
    h('table', { class: 'grid' }, h('thead', null, h('tr', null, ...['scenario', 'verdict', 'checks'].map((t) => h('th', null, t)))), h('tbody', null, ...rows.map((x) => h('tr', { 'data-scenario': x.name }, h('td', null, link({ view: 'run', run, at: `scenario-${x.name}` }, x.name)), h('td', null, badge(x.verdict)), h('td', { class: 'n' }, x.checks))))),
  );
}

function observedTable(head: string, rows: ObservedChange[], withExpected: boolean): HTMLElement {
  return h(
    'table',
    { class: 'grid' },
    h('thead', null, h('tr', null, ...['check', 'what', ...(withExpected ? ['expected'] : []), 'before', 'after'].map((t) => h('th', null, t)))),
    h('tbody', null, ...rows.flatMap((o) => o.changes.map((c, i) => h('tr', { 'data-uid': o.uid }, h('td', null, i === 0 ? link({ run: head, case: o.uid }, h('code', null, o.uid)) : ''), h('td', null, c.what), withExpected ? h('td', { class: 'dim' }, c.expected ?? '') : null, h('td', null, h('pre', null, c.before)), h('td', null, h('pre', null, c.after)))))),
  );
}

function part(id: string, title: string, n: number, body: Child): HTMLElement {
  return h('section', { class: 'diff-part', id }, h('h2', null, `${title} (${n})`), n ? body : h('p', { class: 'dim' }, 'none'));
}

export async function diffPage(idx: ViewerIndex, p: URLSearchParams): Promise<HTMLElement> {
  if (idx.runs.length < 2) return h('section', { class: 'page' }, h('h1', null, 'Diff'), h('p', { class: 'empty' }, 'A diff needs two runs; this directory has ' + idx.runs.length + '.'));
  const headE = findRun(idx, p.get('b') ?? idx.runs[0]!.id);
  const baseE = findRun(idx, p.get('a') ?? comparableBase(idx.runs, headE)?.id ?? idx.runs[1]!.id);
  const historyE = idx.runs.slice(0, 20);
  const [base, head] = await loadSlims([baseE, headE]);
  if (!base || !head) throw new Error('could not load both runs');
  const history = await loadSlims(historyE);
  const d = diffRuns(base, head, history);
  const pick = (k: 'a' | 'b', cur: string): HTMLElement =>
    h(
      'select',
      {
        id: `diff-${k}`,
        onchange: (e: Event) => {
          const next = new URLSearchParams(p);
          next.set('view', 'diff');
          next.set('a', k === 'a' ? (e.target as HTMLSelectElement).value : baseE.id);
          next.set('b', k === 'b' ? (e.target as HTMLSelectElement).value : headE.id);
          location.hash = next.toString();
        },
      },
      ...idx.runs.map((r) => h('option', { value: r.id, selected: r.id === cur }, `${fmtTime(r.startedAt)} ${r.id} (${r.verdict})`)),
    );
  const outside = d.metrics.filter((m) => m.change !== 'noise');
  const metricRows = d.metrics.sort((x, y) => Number(y.change !== 'noise') - Number(x.change !== 'noise') || Math.abs(Math.log(y.ratio || 1)) - Math.abs(Math.log(x.ratio || 1)));
  return h(
    'section',
    { class: 'page diff' },
    h('h1', null, 'Diff of two runs'),
    h('div', { class: 'filters' }, h('label', null, 'base ', pick('a', baseE.id)), h('label', null, ' → head ', pick('b', headE.id))),
    h(
      'p',
      { class: 'summary-line', id: 'diff-summary' },
      `${d.newFailures.length} new failures · ${d.fixed.length} fixed · ${d.otherChanges.length} other status changes · ${d.added.length} new checks · ${d.removed.length} removed · ${d.observed.length} checks with changed values · ${outside.length} metrics outside noise${outside.some((m) => m.bandAssumed) ? ` (${outside.filter((m) => m.bandAssumed).length} against an assumed band)` : ''} · ${d.environment.length} environment differences${d.onlyInBase.length || d.onlyInHead.length ? ` · scenarios in one run only: ${d.onlyInBase.length} base, ${d.onlyInHead.length} head` : ''}`,
    ),
    changeTable('new-failures', 'New failures', d.newFailures, head.id),
    changeTable('fixed', 'Fixed', d.fixed, head.id),
    changeTable('other-changes', 'Other status changes', d.otherChanges, head.id),
    changeTable('added', 'New checks', d.added, head.id),
    changeTable('removed', 'Removed checks', d.removed, base.id),
    onlyInTable('only-in-head', 'Scenarios only in the head run', d.onlyInHead, head.id),
    onlyInTable('only-in-base', 'Scenarios only in the base run', d.onlyInBase, base.id),
    part('observed', 'Observed values that changed', d.observed.length, observedTable(head.id, d.observed, false)),
    d.measured.length
      ? h(
          'section',
          { class: 'diff-part', id: 'measured' },
          h('details', null, h('summary', null, `Measured values that moved within their expectation (${d.measured.reduce((n, o) => n + o.changes.length, 0)} in ${d.measured.length} checks, passed in both runs)`), observedTable(head.id, d.measured, true)),
        )
      : null,
    part('facts', 'Facts that changed', d.facts.length, h('table', { class: 'grid' }, h('thead', null, h('tr', null, ...['scenario', 'fact', 'before', 'after'].map((t) => h('th', null, t)))), h('tbody', null, ...d.facts.map((f) => h('tr', null, h('td', null, f.scenario), h('td', null, h('code', null, f.key)), h('td', null, f.before), h('td', null, f.after)))))),
    part(
      'metrics',
      'Metrics (head / base)',
      d.metrics.length,
      h(
        'table',
        { class: 'grid' },
        h('thead', null, h('tr', null, ...['scenario', 'metric', 'series', 'base', 'head', 'ratio', 'noise band', ''].map((t) => h('th', null, t)))),
        h('tbody', null, ...metricRows.map((m) => h('tr', { class: `m-${m.change}` }, h('td', null, m.scenario), h('td', null, m.name, m.group ? h('div', { class: 'dim' }, m.group) : ''), h('td', null, m.series || '—'), h('td', { class: 'n' }, `${shortNumber(m.before)} ${m.unit}`), h('td', { class: 'n' }, `${shortNumber(m.after)} ${m.unit}`), h('td', { class: 'n ratio' }, fmtRatio(m.ratio)), h('td', { class: 'dim' }, m.bandFrom), h('td', { class: 'nowrap', title: m.bandAssumed ? 'the noise band is assumed, not measured: run the suite a few more times to know' : null }, m.change === 'noise' ? 'within noise' : m.change, m.change !== 'noise' && m.bandAssumed ? h('div', { class: 'dim' }, 'band assumed') : '')))),
      ),
    ),
    part('environment', 'Environment differences', d.environment.length, h('table', { class: 'grid' }, h('thead', null, h('tr', null, ...['', 'base', 'head'].map((t) => h('th', null, t)))), h('tbody', null, ...d.environment.map((e) => h('tr', null, h('th', null, e.field), h('td', null, e.before || '—'), h('td', null, e.after || '—')))))),
  );
}

// Runs: newest first, every verdict count named, the environment of each run; filters on any of
// its columns (kept in the URL, so a filtered list is a link).
import type { RunEntry } from '../../../runs-index.js';
import { comparableBase, filterRuns, fmtMs, fmtTime, qemuLabel, type RunFilters } from '../../model.js';
import { badge, h, hashOf, link, shortCommit } from '../dom.js';
import type { ViewerIndex } from '../data.js';

const FILTERS: { key: keyof RunFilters; label: string; values: (r: RunEntry) => string[] }[] = [
  { key: 'verdict', label: 'verdict', values: (r) => [r.verdict] },
  { key: 'commit', label: 'commit', values: (r) => [r.commit.slice(0, 10)] },
  { key: 'qemu', label: 'QEMU', values: (r) => [qemuLabel(r)] },
  { key: 'accelerator', label: 'accelerator', values: (r) => [r.accelerator || 'none'] },
  { key: 'memory', label: 'memory', values: (r) => [r.memoryBackend || 'none'] },
  { key: 'kernel', label: 'guest kernel', values: (r) => [r.guestKernel || 'none'] },
  { key: 'host', label: 'host', values: (r) => [r.host] },
  { key: 'scenario', label: 'scenario', values: (r) => r.scenarioNames },
];

function counts(c: RunEntry['checks']): HTMLElement {
  return h(
    'span',
    { class: 'counts', title: `${c.total} checks: ${c.pass} passed, ${c.fail} failed, ${c.error} errors, ${c.skip} skipped` },
    h('span', { class: 'c-pass' }, `${c.pass} passed`),
    ' · ',
    h('span', { class: c.fail ? 'c-fail' : 'c-zero' }, `${c.fail} failed`),
    ' · ',
    h('span', { class: c.error ? 'c-error' : 'c-zero' }, `${c.error} errors`),
    ' · ',
    h('span', { class: 'c-skip' }, `${c.skip} skipped`),
  );
}

export async function runsPage(idx: ViewerIndex, p: URLSearchParams): Promise<HTMLElement> {
  const f: RunFilters = {};
  for (const { key } of FILTERS) if (p.get(key)) f[key] = p.get(key)!;
  if (p.get('q')) f.q = p.get('q')!;
  const shown = filterRuns(idx.runs, f);
  const setFilter = (key: string, value: string): void => {
    const next = new URLSearchParams(p);
    next.set('view', 'runs');
    if (value) next.set(key, value);
    else next.delete(key);
    location.hash = next.toString();
  };
  const selects = FILTERS.map(({ key, label, values }) => {
    const n = new Map<string, number>();
    for (const r of idx.runs) for (const v of new Set(values(r))) n.set(v, (n.get(v) ?? 0) + 1);
    const sel = h(
      'select',
      { 'data-filter': key, 'aria-label': label, onchange: (e: Event) => setFilter(key, (e.target as HTMLSelectElement).value) },
      h('option', { value: '' }, `${label}: any`),
      ...[...n].sort(([a], [b]) => a.localeCompare(b)).map(([v, c]) => h('option', { value: v, selected: f[key] === v }, `${v} (${c})`)),
    );
    return h('label', null, sel);
  });
  const search = h('input', {
    type: 'search',
    id: 'run-search',
    placeholder: 'search id, command, commit, kernel…',
    value: f.q ?? '',
    onchange: (e: Event) => setFilter('q', (e.target as HTMLInputElement).value),
  });
  const rows = shown.map((r) => {
    const prev = comparableBase(idx.runs, r);
    return h(
      'tr',
      { 'data-run': r.id, 'data-verdict': r.verdict },
      h('td', { class: 'runid' }, link({ view: 'run', run: r.id }, fmtTime(r.startedAt)), h('div', { class: 'dim' }, r.id), h('div', { class: 'dim cmdline', title: r.scenarioNames.join(', ') }, r.command)),
      h('td', null, badge(r.verdict)),
      h('td', { class: 'nowrap', title: `scenario runs: ${r.scenarios.pass} passed, ${r.scenarios.fail} failed, ${r.scenarios.error} errors, ${r.scenarios.skip} skipped` }, `${r.scenarios.pass}/${r.scenarios.fail}/${r.scenarios.error}/${r.scenarios.skip}`),
      h('td', null, counts(r.checks)),
      h('td', null, h('code', { title: r.commit }, shortCommit(r.commit, r.dirty))),
      h('td', { class: 'nowrap', title: r.qemu?.description ?? '' }, qemuLabel(r)),
      h('td', { title: r.acceleratorDetail }, r.accelerator || '—'),
      h('td', { title: r.memoryDetail }, r.memoryBackend || '—'),
      h('td', null, r.guestKernel || '—'),
      h('td', { class: 'n nowrap' }, fmtMs(r.durationMs)),
      h('td', { class: 'nowrap' }, r.host),
      h('td', { class: 'nowrap' }, prev ? link({ view: 'diff', a: prev.id, b: r.id }, 'diff') : '', ' ', link({ view: 'coverage', run: r.id }, 'coverage')),
    );
  });
  return h(
    'section',
    { class: 'page runs' },
    h('h1', null, 'Runs ', h('small', { id: 'runs-shown' }, `${shown.length} of ${idx.runs.length}`)),
    h('div', { class: 'filters' }, ...selects, search, Object.keys(f).length ? h('a', { href: hashOf({ view: 'runs' }), class: 'clear' }, 'clear filters') : null),
    shown.length
      ? h(
          'div',
          { class: 'scroll' },
          h(
          'table',
          { class: 'grid', id: 'runs-table' },
          h('thead', null, h('tr', null, ...['run (UTC start)', 'verdict', 'scenarios p/f/e/s', 'checks', 'commit', 'QEMU', 'accel', 'memory', 'guest kernel', 'duration', 'host', ''].map((t) => h('th', null, t)))),
          h('tbody', null, ...rows),
          ),
        )
      : h('p', { class: 'empty' }, idx.runs.length ? 'No run matches these filters.' : 'No runs yet: `npm run scenario` writes one.'),
  );
}

// The viewer's entry: loads the runs index, routes on the URL hash (#view=...&run=...&case=...,
// so any page is a link that survives a reload), and renders one page at a time into #app.
import { h, hashOf } from './dom.js';
import { loadIndex, type ViewerIndex } from './data.js';
import { runsPage } from './pages/runs.js';
import { runPage } from './pages/run.js';
import { historyPage } from './pages/history.js';
import { diffPage } from './pages/diff.js';
import { coveragePage } from './pages/coverage.js';
import { perfPage } from './pages/perf.js';

export type Params = URLSearchParams;
export type Page = (idx: ViewerIndex, p: Params) => Promise<HTMLElement>;

const PAGES: Record<string, { title: string; page: Page }> = {
  runs: { title: 'Runs', page: runsPage },
  run: { title: 'Run', page: runPage },
  history: { title: 'Check history', page: historyPage },
  diff: { title: 'Diff', page: diffPage },
  coverage: { title: 'Spec coverage', page: coveragePage },
  perf: { title: 'Performance', page: perfPage },
};

/** #run=X&case=Y (the evidence link format) opens the run page; no view is the Runs page. */
export function viewOf(p: Params): string {
  const v = p.get('view');
  if (v && PAGES[v]) return v;
  return p.has('run') ? 'run' : 'runs';
}

let renderSeq = 0;

async function render(idx: ViewerIndex): Promise<void> {
  const seq = ++renderSeq;
  const params = new URLSearchParams(location.hash.slice(1));
  const view = viewOf(params);
  const root = document.getElementById('app')!;
  const nav = h(
    'nav',
    null,
    h('span', { class: 'brand' }, 'vnvme'),
    ...(['runs', 'history', 'diff', 'coverage', 'perf'] as const).map((v) => h('a', { href: hashOf({ view: v }), class: v === view || (view === 'run' && v === 'runs') ? 'on' : null }, PAGES[v]!.title)),
    h('span', { class: 'src', title: `generated ${idx.generatedAt}` }, `${idx.runs.length} run${idx.runs.length === 1 ? '' : 's'} · ${idx.source}`),
  );
  const main = h('main', { 'aria-busy': 'true' }, h('p', { class: 'loading' }, 'loading…'));
  root.replaceChildren(nav, main);
  try {
    const el = await PAGES[view]!.page(idx, params);
    if (seq !== renderSeq) return;
    main.replaceChildren(el);
    main.removeAttribute('aria-busy');
    document.title = `${PAGES[view]!.title} — vnvme`;
    // A deep link to an element (an evidence entry) scrolls to it once the page is there.
    const target = params.get('at');
    if (target) document.getElementById(target)?.scrollIntoView();
  } catch (err) {
    if (seq !== renderSeq) return;
    main.replaceChildren(h('p', { class: 'error' }, `Could not show this page: ${(err as Error).message}`));
    main.removeAttribute('aria-busy');
  }
}

async function start(): Promise<void> {
  const root = document.getElementById('app')!;
  let idx: ViewerIndex;
  try {
    idx = await loadIndex();
  } catch (err) {
    root.replaceChildren(h('p', { class: 'error' }, `No runs index: ${(err as Error).message}. Build the viewer with \`npx vnvme report build DIR OUT\` or serve it with \`npx vnvme report serve DIR\`.`));
    return;
  }
  window.addEventListener('hashchange', () => void render(idx));
  await render(idx);
}

void start();

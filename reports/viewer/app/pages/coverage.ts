// Spec coverage map (#view=coverage&run=ID): every NVMe Base / NVM Command Set / NVMe over PCIe /
// vfio-user / PCI section the run's checks cite, with its requirement level (mandatory,
// optional, FYI), its checks and their verdicts; gaps: sections cited in other runs but not this
// one, numbering holes between cited sections, checks citing nothing, checks with no stated level.
import { coverage, LEVEL_LABEL, type CoveredCheck } from '../../model.js';
import { badge, h, link, mark } from '../dom.js';
import { loadSlims, type ViewerIndex } from '../data.js';
import { findRun } from './run.js';

function checkList(run: string, cs: CoveredCheck[]): HTMLElement {
  return h('ul', { class: 'cov-checks' }, ...cs.map((c) => h('li', null, mark(c.verdict), ' ', link({ run, case: c.uid }, h('code', null, c.uid)), ' ', h('span', { class: 'dim' }, c.title), c.note ? h('span', { class: 'dim' }, ` (${c.note})`) : '')));
}

export async function coveragePage(idx: ViewerIndex, p: URLSearchParams): Promise<HTMLElement> {
  const entry = findRun(idx, p.get('run'));
  const i = idx.runs.indexOf(entry);
  const [run, ...others] = await loadSlims([entry, ...idx.runs.slice(i + 1, i + 11)]);
  if (!run) throw new Error(`could not load run ${entry.id}`);
  const cov = coverage(run, others);
  const level = p.get('level') ?? '';
  const t = cov.totals;
  const set = (k: string, v: string): void => {
    const next = new URLSearchParams(p);
    next.set('view', 'coverage');
    next.set('run', run.id);
    if (v) next.set(k, v);
    else next.delete(k);
    location.hash = next.toString();
  };
  const docs = cov.docs.map((d) => {
    const secs = d.sections.filter((s) => !level || s.level === level);
    if (!secs.length) return null;
    return h(
      'section',
      { class: 'cov-doc', 'data-doc': d.doc },
      h('h2', null, d.doc, h('small', { class: 'dim' }, ` ${d.sections.length} sections: ${d.counts.pass} pass, ${d.counts.fail} fail, ${d.counts.error} error, ${d.counts.skip} only skipped`)),
      h(
        'table',
        { class: 'grid cov' },
        h('thead', null, h('tr', null, ...['section', 'level', 'verdict', 'checks p/f/e/s', ''].map((x) => h('th', null, x)))),
        h(
          'tbody',
          null,
          ...secs.map((s) =>
            h(
              'tr',
              { 'data-section': `${d.doc} ${s.section}`, 'data-verdict': s.verdict },
              h('th', { class: 'nowrap' }, s.section || '(whole document)', s.notes.length ? h('div', { class: 'dim notes' }, s.notes.join('; ')) : ''),
              h('td', null, h('span', { class: `lvl lvl-${s.level}` }, LEVEL_LABEL[s.level])),
              h('td', null, badge(s.verdict)),
              h('td', { class: 'n nowrap' }, `${s.checks.length} (${s.counts.pass}/${s.counts.fail}/${s.counts.error}/${s.counts.skip})`),
              h('td', null, h('details', null, h('summary', null, s.checks.length === 1 ? s.checks[0]!.uid : `${s.checks.length} checks`), checkList(run.id, s.checks))),
            ),
          ),
        ),
      ),
    );
  });
  return h(
    'section',
    { class: 'page coverage' },
    h('h1', null, 'Spec coverage ', h('small', null, `run ${run.id}`)),
    h(
      'p',
      { class: 'summary-line', id: 'coverage-summary' },
      `${t.sections} sections cited by ${t.cited} of ${t.checks} checks · sections: ${t.sectionsByVerdict.pass} pass, ${t.sectionsByVerdict.fail} fail, ${t.sectionsByVerdict.error} error, ${t.sectionsByVerdict.skip} only skipped · checks by level: ${t.byLevel.mandatory} mandatory, ${t.byLevel.optional} optional, ${t.byLevel.informational} FYI · ${cov.gaps.length} gaps`,
    ),
    h(
      'div',
      { class: 'filters' },
      ...['', 'mandatory', 'optional', 'informational'].map((v) => h('button', { class: level === v ? 'chip on' : 'chip', onclick: () => set('level', v) }, v ? LEVEL_LABEL[v as 'mandatory'] : 'all levels')),
      h('label', null, ' run: ', h('select', { onchange: (e: Event) => set('run', (e.target as HTMLSelectElement).value) }, ...idx.runs.slice(0, 50).map((r) => h('option', { value: r.id, selected: r.id === run.id }, `${r.id} (${r.verdict})`)))),
    ),
    h(
      'table',
      { class: 'grid', id: 'coverage-docs' },
      h('thead', null, h('tr', null, ...['document', 'sections', 'pass', 'fail', 'error', 'only skipped', 'gaps'].map((x) => h('th', null, x)))),
      h(
        'tbody',
        null,
        ...cov.docs.map((d) =>
          h('tr', null, h('th', null, h('a', { href: `#${new URLSearchParams({ view: 'coverage', run: run.id }).toString()}`, onclick: (e: Event) => { e.preventDefault(); document.querySelector(`[data-doc="${CSS.escape(d.doc)}"]`)?.scrollIntoView(); } }, d.doc)), h('td', { class: 'n' }, d.sections.length), h('td', { class: 'n' }, d.counts.pass), h('td', { class: `n${d.counts.fail ? ' bad' : ''}` }, d.counts.fail), h('td', { class: `n${d.counts.error ? ' bad' : ''}` }, d.counts.error), h('td', { class: 'n' }, d.counts.skip), h('td', { class: 'n' }, cov.gaps.filter((g) => g.doc === d.doc).length)),
        ),
      ),
    ),
    ...docs,
    h(
      'section',
      { class: 'cov-gaps', id: 'gaps' },
      h('h2', null, `Gaps (${cov.gaps.length})`),
      cov.gaps.length
        ? h('table', { class: 'grid' }, h('thead', null, h('tr', null, h('th', null, 'document'), h('th', null, 'section'), h('th', null, 'why'))), h('tbody', null, ...cov.gaps.map((g) => h('tr', { class: 'gap' }, h('td', null, g.doc), h('th', null, g.section), h('td', null, g.why)))))
        : h('p', { class: 'dim' }, 'none found'),
      h('h3', null, `Checks citing no spec section (${cov.uncited.length})`),
      h('details', null, h('summary', null, 'show'), checkList(run.id, cov.uncited)),
      h('h3', null, `Checks whose definition states no level (${cov.levelDefaulted.length}; counted as mandatory)`),
      cov.levelDefaulted.length ? h('details', null, h('summary', null, 'show'), checkList(run.id, cov.levelDefaulted)) : h('p', { class: 'dim' }, 'none (or the run predates levelDefaulted)'),
    ),
  );
}

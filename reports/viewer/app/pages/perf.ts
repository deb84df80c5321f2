// Performance: every metric across runs as a line chart (oldest left; x labels are run time and
// commit, thinned so none overlap), and ours vs the baseline (QEMU's emulated NVMe, or SPDK's
// target) as a ratio chart around 1 with its noise band.
import { fmtRatio } from '../../../perf.js';
import { lineChart, shortNumber } from '../../../svg-chart.js';
import { fmtTime, noiseBand, perfMetrics, type PerfMetric } from '../../model.js';
import { h, svg } from '../dom.js';
import { loadSlims, type ViewerIndex } from '../data.js';

function charts(pm: PerfMetric, runs: { id: string; startedAt: string; commit: string }[]): HTMLElement {
  const labels = runs.map((r) => [fmtTime(r.startedAt).slice(5), r.commit.slice(0, 8)] as [string, string]);
  const titles = runs.map((r) => `${r.id} (${r.commit.slice(0, 10)})`);
  const pos = new Map(runs.map((r, i) => [r.id, i]));
  const series = [...pm.series].map(([name, pts]) => {
    const values: (number | null)[] = runs.map(() => null);
    for (const pt of pts) values[pos.get(pt.run)!] = pt.value;
    return { name, values };
  });
  const parts: HTMLElement[] = [h('h3', null, `${pm.scenario}: ${pm.name}`, h('span', { class: 'dim' }, pm.group ? ` — ${pm.group}` : '')), svg(lineChart(series, { title: `${pm.name} (${pm.unit}, ${pm.better} is better)`, unit: pm.unit, xLabels: labels, xTitles: titles, width: 560 }))];
  if (pm.ratio) {
    const values: (number | null)[] = runs.map(() => null);
    for (const pt of pm.ratio.points) values[pos.get(pt.run)!] = pt.value;
    const rs = pm.ratio.points.map((x) => x.value);
    const mean = rs.reduce((a, b) => a + b, 0) / rs.length;
    const { band, from } = noiseBand(rs);
    parts.push(svg(lineChart([{ name: `vfio-user / ${pm.ratio.baseline}`, values }], { title: `ours / ${pm.ratio.baseline} (${pm.better} is better)`, unit: 'ratio', xLabels: labels, xTitles: titles, width: 560, reference: 1, band: [mean * (1 - band), mean * (1 + band)] })));
    const last = pm.ratio.points.at(-1)!;
    parts.push(h('p', { class: 'ratio-line' }, h('b', null, `latest: ${fmtRatio(last.value)}`), ` ours / ${pm.ratio.baseline} (${pm.better} is better) · band: ${from}`));
  }
  return h('div', { class: pm.ratio ? 'perf-metric with-ratio' : 'perf-metric', 'data-metric': pm.key.replace(/\u0000/g, '/') }, ...parts);
}

export async function perfPage(idx: ViewerIndex, p: URLSearchParams): Promise<HTMLElement> {
  const n = Math.max(2, Math.min(200, Number(p.get('n') ?? 30) || 30));
  const slims = await loadSlims(idx.runs.slice(0, n));
  const metrics = perfMetrics(slims);
  const scenario = p.get('scenario') ?? '';
  const shown = metrics.filter((m) => !scenario || m.scenario === scenario);
  // Runs that measured anything, oldest first: the x axis.
  const measured = new Set(shown.flatMap((m) => [...m.series.values()].flat().map((x) => x.run)));
  const runs = [...slims].reverse().filter((r) => measured.has(r.id)).map((r) => ({ id: r.id, startedAt: r.startedAt, commit: r.environment.target.commit }));
  const scenarios = [...new Set(metrics.map((m) => m.scenario))].sort();
  const ratios = shown.filter((m) => m.ratio);
  return h(
    'section',
    { class: 'page perf' },
    h('h1', null, 'Performance ', h('small', null, `${shown.length} metrics over ${runs.length} runs`)),
    h(
      'div',
      { class: 'filters' },
      h(
        'select',
        {
          id: 'perf-scenario',
          onchange: (e: Event) => {
            const next = new URLSearchParams(p);
            next.set('view', 'perf');
            const v = (e.target as HTMLSelectElement).value;
            if (v) next.set('scenario', v);
            else next.delete('scenario');
            location.hash = next.toString();
          },
        },
        h('option', { value: '' }, 'scenario: any'),
        ...scenarios.map((s) => h('option', { value: s, selected: s === scenario }, s)),
      ),
    ),
    ratios.length
      ? h(
          'table',
          { class: 'grid', id: 'perf-ratios' },
          h('thead', null, h('tr', null, ...['scenario', 'metric', 'ours (latest)', 'baseline (latest)', 'ours / baseline', ''].map((t) => h('th', null, t)))),
          h(
            'tbody',
            null,
            ...ratios.map((m) => {
              const last = m.ratio!.points.at(-1)!;
              const ours = m.series.get('vfio-user')!.find((x) => x.run === last.run)!;
              const base = m.series.get(m.ratio!.baseline)!.find((x) => x.run === last.run)!;
              const good = m.better === 'higher' ? last.value >= 1 : last.value <= 1;
              return h('tr', null, h('td', null, m.scenario), h('td', null, `${m.name} (${m.unit})`), h('td', { class: 'n' }, shortNumber(ours.value)), h('td', { class: 'n' }, `${shortNumber(base.value)} ${m.ratio!.baseline}`), h('td', { class: `n ratio ${good ? 'good' : 'bad'}` }, fmtRatio(last.value)), h('td', { class: 'dim' }, `${m.better} is better`));
            }),
          ),
        )
      : h('p', { class: 'dim' }, 'No metric was measured on both our device and a baseline in these runs (guest-fio-perf does: npm run scenario -- --tag perf).'),
    h('div', { class: 'charts' }, ...shown.map((m) => charts(m, runs))),
    shown.length ? null : h('p', { class: 'empty' }, 'No metrics in these runs.'),
  );
}

// Charts for report.html as inline SVG strings: no library, no network, readable when printed.
// A grouped bar chart: one group per x label, one bar per series (vfio-user vs qemu-nvme side by side).

export interface BarGroup {
  label: string;
  values: { series: string; value: number }[];
}

export interface BarChartOptions {
  title: string;
  unit: string;
  width?: number;
  height?: number;
}

const PALETTE = ['#2f6fdb', '#e07b26', '#2a9d5c', '#b7409f', '#7a6c2e', '#49a3c9'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** 1234567 -> "1.23M"; keeps small numbers readable. */
export function shortNumber(v: number): string {
  const a = Math.abs(v);
  if (v === 0) return '0';
  if (a >= 1e9) return `${(v / 1e9).toFixed(2)}G`;
  if (a >= 1e6) return `${(v / 1e6).toFixed(2)}M`;
  if (a >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(1);
  return v.toPrecision(2);
}

/** A "nice" axis maximum: 1, 2 or 5 times a power of ten at or above max. */
export function niceMax(max: number): number {
  if (!(max > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 5, 10]) if (m * p >= max) return m * p;
  return 10 * p;
}

/** Splits a label into at most 3 lines of words that fit maxW px (the last one cut with an ellipsis). */
export function wrapLabel(label: string, maxW: number, fs: number): string[] {
  const per = Math.max(4, Math.floor(maxW / (fs * 0.6)));
  const lines: string[] = [];
  let cur = '';
  for (const w of label.split(/\s+/)) {
    if (!cur) cur = w;
    else if ((cur + ' ' + w).length <= per) cur += ` ${w}`;
    else {
      lines.push(cur);
      cur = w;
    }
  }
  if (cur) lines.push(cur);
  const out = lines.slice(0, 3).map((l) => (l.length > per ? `${l.slice(0, per - 1)}…` : l));
  if (lines.length > 3) out[2] = `${out[2]!.slice(0, per - 1)}…`;
  return out;
}

export function barChart(groups: readonly BarGroup[], o: BarChartOptions): string {
  const series = [...new Set(groups.flatMap((g) => g.values.map((v) => v.series)))];
  const width = o.width ?? Math.max(360, 90 + groups.length * Math.max(series.length * 26 + 28, 78));
  const height = o.height ?? 260;
  const left = 64;
  const right = 12;
  const top = 34;
  const bottom = 72;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const max = niceMax(Math.max(0, ...groups.flatMap((g) => g.values.map((v) => v.value))));
  const y = (v: number): number => top + plotH - (v / max) * plotH;
  const parts: string[] = [];
  parts.push(`<svg class="chart" role="img" aria-label="${esc(o.title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}">`);
  parts.push(`<title>${esc(o.title)}</title>`);
  parts.push(`<text x="${left}" y="18" font-size="13" font-weight="600">${esc(o.title)}</text>`);
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const yy = y(v).toFixed(1);
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${yy}" y2="${yy}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${yy}" font-size="10" text-anchor="end" dominant-baseline="middle">${shortNumber(v)}</text>`);
  }
  parts.push(`<text x="12" y="${top + plotH / 2}" font-size="10" transform="rotate(-90 12 ${top + plotH / 2})" text-anchor="middle">${esc(o.unit)}</text>`);
  const groupW = groups.length ? plotW / groups.length : plotW;
  const barW = Math.max(6, Math.min(24, (groupW - 16) / Math.max(1, series.length)));
  groups.forEach((g, gi) => {
    const gx = left + gi * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, si) => {
      const v = g.values.find((x) => x.series === s);
      if (!v) return;
      const x = gx + si * barW;
      const yy = y(v.value);
      const color = PALETTE[si % PALETTE.length];
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${yy.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(top + plotH - yy).toFixed(1)}" fill="${color}"><title>${esc(`${g.label} — ${s}: ${shortNumber(v.value)} ${o.unit}`)}</title></rect>`,
      );
      parts.push(`<text x="${(x + barW / 2 - 1).toFixed(1)}" y="${(yy - 3).toFixed(1)}" font-size="9" text-anchor="middle">${shortNumber(v.value)}</text>`);
    });
    wrapLabel(g.label, groupW - 4, 10).forEach((line, li) => {
      parts.push(`<text class="xtick" x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 14 + li * 12}" font-size="10" text-anchor="middle">${esc(line)}</text>`);
    });
  });
  parts.push(`<line x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#444"/>`);
  let lx = left;
  series.forEach((s, si) => {
    parts.push(`<rect x="${lx}" y="${height - 18}" width="10" height="10" fill="${PALETTE[si % PALETTE.length]}"/>`);
    parts.push(`<text x="${lx + 14}" y="${height - 9}" font-size="11">${esc(s)}</text>`);
    lx += 24 + s.length * 11 * 0.6;
  });
  parts.push('</svg>');
  return parts.join('');
}

export interface LineSeries {
  name: string;
  /** One value per x position (null: not measured in that run). */
  values: (number | null)[];
}

export interface LineChartOptions {
  title: string;
  unit: string;
  /** One label per x position: two short lines (run time, commit). */
  xLabels: [string, string][];
  width?: number;
  height?: number;
  /** A horizontal reference line (1 for a ratio chart) ... */
  reference?: number;
  /** ... and a shaded band around it (the noise band). */
  band?: [number, number];
  /** Tooltip text per x position. */
  xTitles?: string[];
}

/** Approximate width of a label in px at font size fs (no layout engine here). */
const textWidth = (s: string, fs: number): number => s.length * fs * 0.6;

/**
 * Which x labels to draw so that none overlap: every k-th, k the smallest step at which
 * neighbouring labels are at least 8 px apart; the last one is always drawn (it is the newest run)
 * and the one before it dropped if too close.
 */
export function labelSlots(n: number, plotW: number, widest: number): number[] {
  if (n <= 0) return [];
  const gap = n > 1 ? plotW / (n - 1) : plotW;
  const step = Math.max(1, Math.ceil((widest + 8) / gap));
  const slots: number[] = [];
  for (let i = 0; i < n; i += step) slots.push(i);
  const last = n - 1;
  if (slots.at(-1) !== last) {
    if (slots.length && (last - slots.at(-1)!) * gap < widest + 8) slots.pop();
    slots.push(last);
  }
  return slots;
}

/** A line chart across runs (oldest left): one line per series, point markers, labelled axes. */
export function lineChart(series: readonly LineSeries[], o: LineChartOptions): string {
  const n = o.xLabels.length;
  const width = o.width ?? 640;
  const height = o.height ?? 240;
  const fs = 10;
  const all = series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  if (o.reference !== undefined) all.push(o.reference);
  if (o.band) all.push(o.band[1]);
  const max = niceMax(Math.max(0, ...all));
  const yLabelW = Math.max(...[0, 1, 2, 3, 4].map((i) => textWidth(shortNumber((max * i) / 4), fs)));
  const left = Math.ceil(28 + yLabelW);
  const right = 16;
  const top = 30;
  const legendH = 18;
  const bottom = 34 + legendH;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const x = (i: number): number => (n > 1 ? left + (i / (n - 1)) * plotW : left + plotW / 2);
  const y = (v: number): number => top + plotH - (v / max) * plotH;
  const p: string[] = [];
  p.push(`<svg class="chart line-chart" role="img" aria-label="${esc(o.title)}" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" font-family="system-ui,sans-serif">`);
  p.push(`<title>${esc(o.title)}</title>`);
  p.push(`<text x="${left}" y="16" font-size="13" font-weight="600">${esc(o.title)}</text>`);
  if (o.band) p.push(`<rect class="band" x="${left}" y="${y(o.band[1]).toFixed(1)}" width="${plotW}" height="${Math.max(0, y(o.band[0]) - y(o.band[1])).toFixed(1)}" fill="#2a9d5c" fill-opacity="0.12"><title>noise band ${shortNumber(o.band[0])}–${shortNumber(o.band[1])}</title></rect>`);
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    const yy = y(v).toFixed(1);
    p.push(`<line x1="${left}" x2="${width - right}" y1="${yy}" y2="${yy}" stroke="#e4e4e4"/>`);
    p.push(`<text class="ytick" x="${left - 6}" y="${yy}" font-size="${fs}" text-anchor="end" dominant-baseline="middle">${shortNumber(v)}</text>`);
  }
  if (o.reference !== undefined) p.push(`<line x1="${left}" x2="${width - right}" y1="${y(o.reference).toFixed(1)}" y2="${y(o.reference).toFixed(1)}" stroke="#555" stroke-dasharray="4 3"/>`);
  p.push(`<text x="11" y="${top + plotH / 2}" font-size="${fs}" transform="rotate(-90 11 ${top + plotH / 2})" text-anchor="middle">${esc(o.unit)}</text>`);
  p.push(`<line x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#444"/>`);
  const widest = Math.max(0, ...o.xLabels.map(([a, b]) => Math.max(textWidth(a, fs), textWidth(b, fs))));
  for (const i of labelSlots(n, plotW, widest)) {
    const [a, b] = o.xLabels[i]!;
    const xx = x(i);
    // Keep the first and last labels inside the chart.
    const half = widest / 2;
    const cx = Math.min(width - 2 - half, Math.max(2 + half, xx));
    p.push(`<line x1="${xx.toFixed(1)}" x2="${xx.toFixed(1)}" y1="${top + plotH}" y2="${top + plotH + 4}" stroke="#444"/>`);
    p.push(`<text class="xtick" x="${cx.toFixed(1)}" y="${top + plotH + 15}" font-size="${fs}" text-anchor="middle">${esc(a)}</text>`);
    p.push(`<text class="xtick2" x="${cx.toFixed(1)}" y="${top + plotH + 27}" font-size="${fs}" fill="#666" text-anchor="middle">${esc(b)}</text>`);
  }
  series.forEach((s, si) => {
    const color = PALETTE[si % PALETTE.length];
    let d = '';
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      d += `${d ? 'L' : 'M'}${x(i).toFixed(1)} ${y(v).toFixed(1)} `;
    });
    if (d) p.push(`<path d="${d.trim()}" fill="none" stroke="${color}" stroke-width="2"/>`);
    s.values.forEach((v, i) => {
      if (v === null || !Number.isFinite(v)) return;
      p.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(v).toFixed(1)}" r="3" fill="${color}"><title>${esc(`${s.name}: ${shortNumber(v)} ${o.unit}${o.xTitles?.[i] ? ` — ${o.xTitles[i]}` : ''}`)}</title></circle>`);
    });
  });
  let lx = left;
  series.forEach((s, si) => {
    p.push(`<rect x="${lx}" y="${height - 13}" width="10" height="10" fill="${PALETTE[si % PALETTE.length]}"/>`);
    p.push(`<text x="${lx + 14}" y="${height - 4}" font-size="11">${esc(s.name)}</text>`);
    lx += 24 + textWidth(s.name, 11);
  });
  p.push('</svg>');
  return p.join('');
}

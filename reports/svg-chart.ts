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

export function barChart(groups: readonly BarGroup[], o: BarChartOptions): string {
  const series = [...new Set(groups.flatMap((g) => g.values.map((v) => v.series)))];
  const width = o.width ?? Math.max(360, 90 + groups.length * (series.length * 26 + 28));
  const height = o.height ?? 260;
  const left = 64;
  const right = 12;
  const top = 34;
  const bottom = 58;
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
    parts.push(`<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 14}" font-size="10" text-anchor="middle">${esc(g.label)}</text>`);
  });
  parts.push(`<line x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#444"/>`);
  series.forEach((s, si) => {
    const lx = left + si * 150;
    parts.push(`<rect x="${lx}" y="${height - 18}" width="10" height="10" fill="${PALETTE[si % PALETTE.length]}"/>`);
    parts.push(`<text x="${lx + 14}" y="${height - 9}" font-size="11">${esc(s)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

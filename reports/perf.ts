// Ours vs the baseline: for every metric measured on our device (series "vfio-user") and on a
// baseline in the same scenario (QEMU's emulated NVMe "qemu-nvme", or SPDK's target "spdk"),
// the ratio ours / baseline, and which way is better for its unit. summary.md, the viewer's
// Performance page and the terminal summary all print these, so the numbers agree everywhere.
import type { Metric } from './report-schema.js';

export const OUR_SERIES = 'vfio-user';
/** Baselines in order of preference when a scenario measured several. */
export const BASELINE_SERIES = ['spdk', 'qemu-nvme'] as const;

export interface PerfRatio {
  group: string;
  name: string;
  unit: string;
  ours: number;
  baseline: number;
  baselineSeries: string;
  /** ours / baseline (NaN when the baseline is 0). */
  ratio: number;
  better: 'higher' | 'lower';
  /** True when ours is at least as good as the baseline. */
  oursBetter: boolean;
}

/** Latency and time units: lower is better; throughput units: higher. */
export function betterDirection(unit: string): 'higher' | 'lower' {
  return /^(µs|us|ms|s|ns|usec|msec)$/i.test(unit.trim()) ? 'lower' : 'higher';
}

export function perfRatios(metrics: readonly Pick<Metric, 'name' | 'value' | 'unit' | 'series' | 'group'>[]): PerfRatio[] {
  const key = (m: { group?: string; name: string; unit: string }): string => `${m.group ?? ''}\u0000${m.name}\u0000${m.unit}`;
  const bySeries = new Map<string, Map<string, Pick<Metric, 'name' | 'value' | 'unit' | 'series' | 'group'>>>();
  for (const m of metrics) {
    if (!m.series) continue;
    const k = key(m);
    const row = bySeries.get(k) ?? new Map();
    row.set(m.series, m);
    bySeries.set(k, row);
  }
  const out: PerfRatio[] = [];
  for (const row of bySeries.values()) {
    const ours = row.get(OUR_SERIES);
    const baseSeries = BASELINE_SERIES.find((s) => row.has(s));
    if (!ours || !baseSeries) continue;
    const base = row.get(baseSeries)!;
    const better = betterDirection(ours.unit);
    const ratio = base.value === 0 ? Number.NaN : ours.value / base.value;
    out.push({
      group: ours.group ?? '',
      name: ours.name,
      unit: ours.unit,
      ours: ours.value,
      baseline: base.value,
      baselineSeries: baseSeries,
      ratio,
      better,
      oursBetter: better === 'higher' ? ours.value >= base.value : ours.value <= base.value,
    });
  }
  return out;
}

/** "1.23×" (or "—" when undefined). */
export function fmtRatio(r: number): string {
  return Number.isFinite(r) ? `${r >= 10 ? r.toFixed(1) : r.toFixed(2)}×` : '—';
}

// A few lines of DOM building: h('a', { href, class }, children...). Text is always set as text
// (never parsed as HTML); the only markup set as HTML is SVG that reports/svg-chart.ts built with
// every value escaped.
import type { Verdict } from '../../report-schema.js';

export type Child = Node | string | number | null | undefined | false | Child[];
type Attrs = Record<string, string | number | boolean | null | undefined | ((e: Event) => void)>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (k === 'value' && 'value' in el) (el as HTMLInputElement).value = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** An element holding trusted SVG markup from svg-chart.ts. */
export function svg(markup: string): HTMLDivElement {
  const d = document.createElement('div');
  d.className = 'chart-box';
  d.innerHTML = markup;
  return d;
}

export function badge(v: Verdict | undefined, text?: string): HTMLSpanElement {
  return h('span', { class: `v v-${v ?? 'none'}`, title: v ?? 'not run' }, text ?? (v ? v.toUpperCase() : '—'));
}

/** One-letter mark for dense tables (history). */
export function mark(v: Verdict | undefined): HTMLSpanElement {
  return h('span', { class: `m v-${v ?? 'none'}`, title: v ?? 'not run' }, v ? v[0]!.toUpperCase() : '·');
}

export function link(hash: Record<string, string | number | undefined>, ...children: Child[]): HTMLAnchorElement {
  return h('a', { href: hashOf(hash) }, ...children);
}

export function hashOf(params: Record<string, string | number | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') p.set(k, String(v));
  return `#${p.toString()}`;
}

export const shortCommit = (c: string, dirty = false): string => `${c ? c.slice(0, 10) : '—'}${dirty ? '+' : ''}`;

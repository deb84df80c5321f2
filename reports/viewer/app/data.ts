// Loading runs: every piece of data is a script (data/index.js, data/slim/<run>.js,
// data/full/<run>.js) that hands its JSON to window.vnvmeData. Scripts load from file:// as well
// as from `vnvme report serve`, where fetch() of local files would be refused.
import type { Report } from '../../report-schema.js';
import type { RunEntry, RunsIndex } from '../../runs-index.js';
import type { SlimRun } from '../model.js';

export interface ViewerIndex extends RunsIndex {
  /** Where the runs come from ("reports/runs", an artifact's name). */
  source: string;
  mode: 'serve' | 'build';
}

type Kind = 'index' | 'slim' | 'full';
declare global {
  interface Window {
    vnvmeData?: (kind: Kind, id: string, payload: unknown) => void;
  }
}

/** The data file of a run directory (the same mapping as reports/viewer/site.ts). */
export const dataName = (dir: string): string => dir.replace(/[^\w.-]/g, '_');

const pending = new Map<string, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
const cache = new Map<string, Promise<unknown>>();

window.vnvmeData = (kind, id, payload) => {
  const k = `${kind}:${id}`;
  pending.get(k)?.resolve(payload);
  pending.delete(k);
};

function loadScript(kind: Kind, id: string, src: string): Promise<unknown> {
  const k = `${kind}:${id}`;
  const hit = cache.get(k);
  if (hit) return hit;
  const p = new Promise<unknown>((resolve, reject) => {
    pending.set(k, { resolve, reject });
    const s = document.createElement('script');
    s.src = src;
    s.async = true;
    s.onerror = () => {
      pending.delete(k);
      cache.delete(k);
      reject(new Error(`could not load ${src}`));
    };
    s.onload = () => {
      // A script that loaded but did not call vnvmeData (a foreign file) must not hang the page.
      if (pending.has(k)) {
        pending.delete(k);
        cache.delete(k);
        reject(new Error(`${src} held no viewer data`));
      }
      s.remove();
    };
    document.head.appendChild(s);
  });
  cache.set(k, p);
  return p;
}

export const loadIndex = (): Promise<ViewerIndex> => loadScript('index', '', 'data/index.js') as Promise<ViewerIndex>;
export const loadSlim = (r: RunEntry): Promise<SlimRun> => loadScript('slim', r.dir, `data/slim/${encodeURIComponent(dataName(r.dir))}.js`) as Promise<SlimRun>;
export const loadFull = (r: RunEntry): Promise<Report> => loadScript('full', r.dir, `data/full/${encodeURIComponent(dataName(r.dir))}.js`) as Promise<Report>;

/** Slim runs of the given entries, in the same order; runs that fail to load are left out. */
export async function loadSlims(entries: readonly RunEntry[]): Promise<SlimRun[]> {
  const got = await Promise.all(entries.map((e) => loadSlim(e).catch(() => null)));
  return got.filter((x): x is SlimRun => x !== null);
}

/** The raw file of a run (report.html, a log), relative to the viewer. */
export const runFile = (r: RunEntry, path: string): string => `runs/${encodeURIComponent(r.dir)}/${path.split('/').map(encodeURIComponent).join('/')}`;

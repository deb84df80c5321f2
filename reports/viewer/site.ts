// The viewer as files: its page, its script (bundled from reports/viewer/app/ with esbuild when
// served or built) and its data, one script per piece (data/index.js, data/slim/<run>.js,
// data/full/<run>.js) that hands JSON to window.vnvmeData, so the same page works from
// `vnvme report serve` and from disk (file://, where fetch() of local files is refused).
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPORT_SCHEMA_ID, withCheckUids, type Report } from '../report-schema.js';
import { RunsIndex, runEntry, type RunEntry } from '../runs-index.js';
import { slimReport } from './model.js';

const here = dirname(fileURLToPath(import.meta.url));
/** The repository root, from dist/reports/viewer (compiled) or reports/viewer (sources). */
const repoRoot = existsSync(join(here, '..', '..', '..', 'package.json')) && here.includes(`${sep}dist${sep}`) ? join(here, '..', '..', '..') : join(here, '..', '..');
export const APP_DIR = join(repoRoot, 'reports', 'viewer', 'app');

/** The data file name of a run directory (app/data.ts maps it the same way). */
export const dataName = (dir: string): string => dir.replace(/[^\w.-]/g, '_');

export interface ViewerAssets {
  html: string;
  js: string;
  css: string;
}

let assets: Promise<ViewerAssets> | undefined;

/** Bundles the app (TypeScript, one IIFE script: classic scripts load from file://, modules do not). */
export function viewerAssets(): Promise<ViewerAssets> {
  assets ??= (async () => {
    let esbuild: typeof import('esbuild');
    try {
      esbuild = await import('esbuild');
    } catch (err) {
      throw new Error(`the viewer is bundled with esbuild, which is not installed (npm install in the checkout installs it): ${(err as Error).message}`);
    }
    const out = await esbuild.build({
      entryPoints: [join(APP_DIR, 'main.ts')],
      bundle: true,
      format: 'iife',
      platform: 'browser',
      target: 'es2020',
      minify: true,
      write: false,
      legalComments: 'none',
      logLevel: 'silent',
    });
    const js = out.outputFiles[0]!.text;
    return { js, css: readFileSync(join(APP_DIR, 'style.css'), 'utf8'), html: readFileSync(join(APP_DIR, 'index.html'), 'utf8') };
  })();
  assets.catch(() => (assets = undefined));
  return assets;
}

/** A data script: window.vnvmeData(kind, id, payload). */
export function dataScript(kind: 'index' | 'slim' | 'full', id: string, payload: unknown): string {
  return `window.vnvmeData(${JSON.stringify(kind)},${JSON.stringify(id)},${JSON.stringify(payload)});\n`;
}

interface Cached {
  mtimeMs: number;
  report: Report;
}

/**
 * A runs directory as the viewer sees it: runs/index.json when present, completed by any run
 * directory it does not list (copied in by hand) and without those that are gone; reports are
 * read once per change.
 */
export class RunsSource {
  private readonly cache = new Map<string, Cached>();

  constructor(readonly dir: string) {}

  report(dir: string): Report | undefined {
    const p = join(this.dir, dir, 'report.json');
    let st;
    try {
      st = statSync(p);
    } catch {
      return undefined;
    }
    const hit = this.cache.get(dir);
    if (hit && hit.mtimeMs === st.mtimeMs) return hit.report;
    try {
      const r = JSON.parse(readFileSync(p, 'utf8')) as Report;
      if (r.schema !== REPORT_SCHEMA_ID) return undefined;
      const withUids = withCheckUids(r);
      this.cache.set(dir, { mtimeMs: st.mtimeMs, report: withUids });
      return withUids;
    } catch {
      return undefined;
    }
  }

  index(): RunsIndex {
    let listed: RunEntry[] = [];
    const p = join(this.dir, 'index.json');
    if (existsSync(p)) {
      const parsed = RunsIndex.safeParse(JSON.parse(readFileSync(p, 'utf8')));
      if (parsed.success) listed = parsed.data.runs;
    }
    const dirs = existsSync(this.dir) ? readdirSync(this.dir).filter((d) => existsSync(join(this.dir, d, 'report.json'))) : [];
    const present = new Set(dirs);
    const runs = listed.filter((r) => present.has(r.dir));
    const known = new Set(runs.map((r) => r.dir));
    for (const d of dirs) {
      if (known.has(d)) continue;
      const r = this.report(d);
      if (r) runs.push(runEntry(r, d));
    }
    runs.sort((a, b) => b.startedAt.localeCompare(a.startedAt) || b.dir.localeCompare(a.dir));
    return { schema: 'vnvme-runs/1', generatedAt: new Date().toISOString(), runs };
  }
}

const TEXT = new Set(['.log', '.txt', '.json', '.out', '.err', '.stderr', '.cmdline', '.md', '.xml']);

/** Files of a run the viewer links to: report.html, junit.xml, summary.md, and its artifacts. */
export function runFiles(runsDir: string, dir: string, r: Report): string[] {
  const root = resolve(runsDir, dir);
  const out = new Set<string>();
  for (const f of ['report.json', 'report.html', 'junit.xml', 'summary.md']) if (existsSync(join(root, f))) out.add(f);
  for (const s of r.scenarios)
    for (const a of s.artifacts) {
      const p = resolve(root, a.path);
      if (!p.startsWith(root + sep)) continue;
      try {
        if (statSync(p).isFile()) out.add(relative(root, p));
      } catch {
        /* gone */
      }
    }
  return [...out];
}

export interface BuildResult {
  out: string;
  runs: number;
  files: number;
  skipped: string[];
}

/**
 * Writes a self-contained viewer of runsDir into out: index.html, viewer.js, viewer.css, the data
 * scripts and a copy of each run's report files and artifacts (files over maxFileBytes are left
 * out and listed). Opens from disk: no server, no network.
 */
export async function buildSite(runsDir: string, out: string, o: { maxFileBytes?: number; source?: string } = {}): Promise<BuildResult> {
  const a = await viewerAssets();
  const src = new RunsSource(runsDir);
  const idx = src.index();
  const max = o.maxFileBytes ?? 16 * 1024 * 1024;
  mkdirSync(join(out, 'data', 'slim'), { recursive: true });
  mkdirSync(join(out, 'data', 'full'), { recursive: true });
  writeFileSync(join(out, 'index.html'), a.html);
  writeFileSync(join(out, 'viewer.js'), a.js);
  writeFileSync(join(out, 'viewer.css'), a.css);
  writeFileSync(join(out, 'data', 'index.js'), dataScript('index', '', { ...idx, source: o.source ?? runsDir, mode: 'build' }));
  let files = 0;
  const skipped: string[] = [];
  for (const e of idx.runs) {
    const r = src.report(e.dir);
    if (!r) continue;
    writeFileSync(join(out, 'data', 'slim', `${dataName(e.dir)}.js`), dataScript('slim', e.dir, slimReport(r, e.dir)));
    writeFileSync(join(out, 'data', 'full', `${dataName(e.dir)}.js`), dataScript('full', e.dir, r));
    for (const f of runFiles(runsDir, e.dir, r)) {
      const from = join(runsDir, e.dir, f);
      if (statSync(from).size > max) {
        skipped.push(`${e.dir}/${f}`);
        continue;
      }
      const to = join(out, 'runs', e.dir, f);
      mkdirSync(dirname(to), { recursive: true });
      copyFileSync(from, to);
      files++;
    }
  }
  writeFileSync(join(out, 'index.json'), `${JSON.stringify(idx, null, 1)}\n`);
  return { out, runs: idx.runs.length, files, skipped };
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml', '.png': 'image/png' };

export interface ServedViewer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Serves the viewer of runsDir on 127.0.0.1 (port 0: any free port); new runs show on reload. */
export async function serveViewer(runsDir: string, o: { port?: number; source?: string } = {}): Promise<ServedViewer> {
  await viewerAssets();
  const src = new RunsSource(runsDir);
  const root = resolve(runsDir);
  const server = createServer((req, res) => {
    void (async () => {
      const send = (code: number, type: string, body: string | Buffer): void => {
        res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
        res.end(body);
      };
      try {
        const url = new URL(req.url ?? '/', 'http://127.0.0.1');
        const path = decodeURIComponent(url.pathname);
        const a = await viewerAssets();
        if (path === '/' || path === '/index.html') return send(200, TYPES['.html']!, a.html);
        if (path === '/viewer.js') return send(200, TYPES['.js']!, a.js);
        if (path === '/viewer.css') return send(200, TYPES['.css']!, a.css);
        if (path === '/data/index.js') return send(200, TYPES['.js']!, dataScript('index', '', { ...src.index(), source: o.source ?? runsDir, mode: 'serve' }));
        const m = /^\/data\/(slim|full)\/(.+)\.js$/.exec(path);
        if (m) {
          const e = src.index().runs.find((x) => dataName(x.dir) === m[2]);
          const r = e && src.report(e.dir);
          if (!e || !r) return send(404, 'text/plain; charset=utf-8', 'no such run');
          return send(200, TYPES['.js']!, dataScript(m[1] as 'slim' | 'full', e.dir, m[1] === 'slim' ? slimReport(r, e.dir) : r));
        }
        if (path.startsWith('/runs/')) {
          const file = resolve(root, `.${path.slice('/runs'.length)}`);
          if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) return send(404, 'text/plain; charset=utf-8', 'not found');
          const ext = extname(file);
          return send(200, TYPES[ext] ?? (TEXT.has(ext) ? 'text/plain; charset=utf-8' : 'application/octet-stream'), readFileSync(file));
        }
        return send(404, 'text/plain; charset=utf-8', 'not found');
      } catch (err) {
        send(500, 'text/plain; charset=utf-8', (err as Error).message);
      }
    })();
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(o.port ?? 0, '127.0.0.1', () => res());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : o.port;
  return { url: `http://127.0.0.1:${port}/`, server, close: () => new Promise((r) => server.close(() => r())) };
}

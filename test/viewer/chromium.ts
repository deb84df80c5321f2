// What the viewer's browser tests share: Debian's chromium (never a downloaded one), the
// screenshots the README shows, and a viewer site built from a runs directory and opened from
// file:// with pages that record console errors, page errors and failed loads.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from '@playwright/test';
import { buildSite } from '../../reports/viewer/site.js';

export const CHROMIUM = [process.env.VNVME_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && existsSync(p));
export const chromiumSkip: string | false = CHROMIUM
  ? false
  : 'Debian chromium is not installed (apt-get install chromium; .ci/run installs it): the browser tests drive the system chromium and never download one';

/** The README's screenshots, made from real runs by real-runs.test.ts. */
export const README_SCREENSHOTS = new Set(['runs', 'coverage', 'evidence']);

/** The viewer has rendered (main loses aria-busy). */
export const settle = (p: Page): Promise<unknown> => p.waitForSelector('main:not([aria-busy])');

export interface ViewerPage {
  p: Page;
  errors: string[];
  open: (hash: string) => Promise<void>;
}

export interface ViewerSite {
  browser: Browser;
  base: string;
  page(width?: number, height?: number): Promise<ViewerPage>;
  close(): Promise<void>;
}

/** Builds the viewer over `runs` into a temporary directory and launches chromium on it. */
export async function openViewer(runs: string, source: string, prefix: string): Promise<ViewerSite> {
  const out = mkdtempSync(join(tmpdir(), prefix));
  let browser: Browser | undefined;
  try {
    await buildSite(runs, out, { source });
    const { chromium } = await import('@playwright/test');
    // As root (CI), chromium's sandbox cannot start: --no-sandbox, and nothing but local files is loaded.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  } catch (err) {
    rmSync(out, { recursive: true, force: true });
    throw err;
  }
  const b = browser;
  const base = pathToFileURL(join(out, 'index.html')).href;
  return {
    browser: b,
    base,
    async page(width = 1360, height = 860) {
      const p = await b.newPage({ viewport: { width, height } });
      const errors: string[] = [];
      p.on('console', (m) => {
        if (m.type() === 'error') errors.push(`console: ${m.text()}`);
      });
      p.on('pageerror', (e) => errors.push(`page: ${e.message}`));
      p.on('requestfailed', (r) => errors.push(`request: ${r.url()} ${r.failure()?.errorText}`));
      const open = async (hash: string): Promise<void> => {
        await p.goto(`${base}${hash}`);
        await settle(p);
      };
      return { p, errors, open };
    },
    async close() {
      await b.close();
      rmSync(out, { recursive: true, force: true });
    },
  };
}

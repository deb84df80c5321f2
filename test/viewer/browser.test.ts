// The viewer in a real browser: Debian's chromium driven by @playwright/test's library API (no
// browser download: executablePath is the system's chromium; skipped, with the reason, where it is
// absent). The fixture runs (test/fixtures/runs) are built with `report build` and opened from
// disk (file://), as a CI artifact would be, and served once with `report serve`. Checks: the runs
// list and a filter, a check's history, the diff naming the changed checks, the coverage counts,
// a deep link to evidence surviving a reload, readable chart labels, and no console errors.
// Screenshots go to $VNVME_SCREENSHOTS (default: a temporary directory, printed); with
// VNVME_UPDATE_SCREENSHOTS=1 history, diff and performance replace reports/viewer/screenshots/,
// which the README shows (runs, coverage and evidence come from real runs: real-runs.test.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from '@playwright/test';
import { serveViewer } from '../../reports/viewer/site.js';
import { chromiumSkip, openViewer, README_SCREENSHOTS, settle, type ViewerPage, type ViewerSite } from './chromium.js';
import { coverage, slimReport } from '../../reports/viewer/model.js';
import { readRuns, RunsIndex } from '../../reports/runs-index.js';
import { readFileSync } from 'node:fs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIXTURE = join(root, 'test', 'fixtures', 'runs');
const NEWEST = '2026-11-28T09-00-00Z-0a9b8c';
const PREVIOUS = '2026-11-27T09-00-00Z-d4e5f6';
/** The fixture's own counts (regenerating it follows the conformance suite's cases). */
const INDEX = RunsIndex.parse(JSON.parse(readFileSync(join(FIXTURE, 'index.json'), 'utf8')));
const newest = INDEX.runs.find((r) => r.id === NEWEST)!;

const update = process.env.VNVME_UPDATE_SCREENSHOTS === '1';
const tmpShots = process.env.VNVME_SCREENSHOTS ?? join(tmpdir(), 'vnvme-viewer-screenshots');
const shotDir = update ? join(root, 'reports', 'viewer', 'screenshots') : tmpShots;

describe('the viewer in chromium', { skip: chromiumSkip }, () => {
  let site: ViewerSite;
  let browser: Browser;

  before(async () => {
    mkdirSync(shotDir, { recursive: true });
    mkdirSync(tmpShots, { recursive: true });
    site = await openViewer(FIXTURE, 'test/fixtures/runs', 'vnvme-viewer-');
    browser = site.browser;
  });

  after(async () => {
    await site?.close();
  });

  const page = (width?: number, height?: number): Promise<ViewerPage> => site.page(width, height);

  async function shot(p: Page, name: string, fullPage = false): Promise<void> {
    await p.screenshot({ path: join(update && README_SCREENSHOTS.has(name) ? tmpShots : shotDir, `${name}.png`), fullPage });
  }

  test('runs: newest first with every verdict count; a filter narrows the list and lives in the URL', async (t) => {
    const { p, errors, open } = await page();
    await open('');
    const ids = await p.locator('#runs-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run')));
    assert.deepEqual(ids, [NEWEST, PREVIOUS, '2026-11-26T09-00-00Z-a1b2c3']);
    const first = await p.locator(`#runs-table tr[data-run="${NEWEST}"]`).innerText();
    const c = newest.checks;
    assert.ok(first.includes(`${c.pass} passed · ${c.fail} failed · ${c.error} errors · ${c.skip} skipped`), first);
    assert.equal(c.fail, 2);
    assert.match(first, /debian-tree 11\.1\.3/);
    assert.match(first, /hugetlbfs/);
    assert.match(first, /6\.12\.57\+deb13-amd64/);
    await shot(p, 'runs');
    await p.selectOption('select[data-filter="memory"]', 'memfd');
    await settle(p);
    assert.equal(await p.locator('#runs-table tbody tr').count(), 2);
    assert.match(p.url(), /memory=memfd/);
    await p.selectOption('select[data-filter="verdict"]', 'pass');
    await settle(p);
    assert.deepEqual(await p.locator('#runs-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run'))), ['2026-11-26T09-00-00Z-a1b2c3']);
    assert.equal(await p.locator('#runs-shown').innerText(), '1 of 3');
    assert.deepEqual(errors, []);
    t.diagnostic(`screenshots: ${shotDir}`);
  });

  test("a check's history: run time and commit per column, failing since, last passed, flaky", async () => {
    const { p, errors, open } = await page();
    await open('#view=history&case=guest-nvme-cli%2Fcompare');
    const summary = await p.locator('#history-summary').innerText();
    assert.match(summary, /latest: fail/);
    assert.match(summary, /failing since: 11-28 09:00 9b8a7c6d/);
    assert.match(summary, /last passed: 11-27 09:00 9b8a7c6d/);
    assert.match(summary, /flaky: passed on retry/);
    const heads = await p.locator('#history-table th.runcol').allInnerTexts();
    assert.deepEqual(heads.map((x) => x.replace(/\s+/g, ' ').trim()), ['11-28 09:00 9b8a7c6d', '11-27 09:00 9b8a7c6d', '11-26 09:00 3f1c2d4e']);
    assert.equal((await p.locator('#history-table td.cell').nth(1).innerText()).replace(/\s/g, ''), 'FP');
    // All checks, only those whose verdict changed: the screenshot of the page.
    await open('#view=history&only=changed');
    const rows = await p.locator('#history-table tbody tr').evaluateAll((r) => r.map((x) => x.getAttribute('data-uid')));
    assert.deepEqual(new Set(rows), new Set(['guest-nvme-cli/compare', 'conformance/mapped/admin.features.arbitration.set-get', 'conformance/mapped/admin.identify.cns-unsupported']));
    await shot(p, 'history');
    assert.deepEqual(errors, []);
  });

  test('the diff of the two newest runs names the new failure, the fix, the removed check, changed values and environment', async () => {
    const { p, errors, open } = await page();
    await open('#view=diff');
    assert.equal(await p.locator('#diff-a').inputValue(), PREVIOUS);
    assert.equal(await p.locator('#diff-b').inputValue(), NEWEST);
    assert.match(await p.locator('#new-failures').innerText(), /conformance\/mapped\/admin\.features\.arbitration\.set-get/);
    assert.match(await p.locator('#fixed').innerText(), /conformance\/mapped\/admin\.identify\.cns-unsupported/);
    assert.match(await p.locator('#removed').innerText(), /guest-smoke\/id-ns\.size/);
    assert.match(await p.locator('#observed').innerText(), /FR \(firmware revision\)\s+0\.1\.0\s+0\.1\.1/);
    assert.match(await p.locator('#metrics').innerText(), /4k randread QD32[\s\S]*0\.73×[\s\S]*worse/);
    assert.match(await p.locator('#environment').innerText(), /guest memory backend\s+memfd[^\n]*\s+hugetlbfs/);
    await shot(p, 'diff');
    await p.selectOption('#diff-a', '2026-11-26T09-00-00Z-a1b2c3');
    await settle(p);
    assert.match(await p.locator('#added').innerText(), /guest-nvme-cli\/format/);
    assert.deepEqual(errors, []);
  });

  test('coverage: the counts the model computes, sections with their checks, levels and gaps', async () => {
    const slim = readRuns(FIXTURE).map(({ dir, report }) => slimReport(report, dir));
    const cov = coverage(slim[0]!, slim.slice(1));
    const { p, errors, open } = await page();
    await open(`#view=coverage&run=${NEWEST}`);
    const summary = await p.locator('#coverage-summary').innerText();
    const t = cov.totals;
    assert.ok(summary.includes(`${t.sections} sections cited by ${t.cited} of ${t.checks} checks`), summary);
    assert.ok(summary.includes(`${t.byLevel.mandatory} mandatory, ${t.byLevel.optional} optional, ${t.byLevel.informational} FYI`), summary);
    assert.ok(summary.includes(`${cov.gaps.length} gaps`), summary);
    const row = p.locator('tr[data-section="NVMe Base 2.0 5.27.1.1"]');
    assert.equal(await row.getAttribute('data-verdict'), 'fail');
    assert.match(await row.innerText(), /mandatory/);
    assert.equal(await p.locator('#gaps tr.gap').count(), cov.gaps.length);
    await p.click('button:text("optional")');
    await settle(p);
    assert.ok(!(await p.locator('.lvl-mandatory').count()), 'only optional sections shown');
    await open(`#view=coverage&run=${NEWEST}`);
    await shot(p, 'coverage');
    assert.deepEqual(errors, []);
  });

  test('a deep link opens the evidence after a reload; logs have no escape sequences and long lines wrap', async () => {
    const { p, errors, open } = await page(1100, 900);
    await open(`#run=${PREVIOUS}&case=guest-nvme-cli%2Fcompare`);
    const check = async (): Promise<void> => {
      assert.equal(await p.locator('#case-uid').innerText(), 'guest-nvme-cli/compare');
      const ev = await p.locator('.evidence').innerText();
      assert.match(ev, /nvme compare \/dev\/nvme0n1/);
      assert.match(ev, /expected\s+COMPARE_FAILED\s+actual\s+SUCCESS/);
    };
    await check();
    await p.reload();
    await settle(p);
    await check();
    await p.locator('details[data-artifact="guest-qemu.cmdline"] summary').click();
    await shot(p, 'evidence', true);
    // The second attempt of a --repeat run is its own link.
    await open(`#run=${PREVIOUS}&case=guest-nvme-cli%2Fcompare&iter=2`);
    assert.match(await p.locator('h1').innerText(), /PASS[\s\S]*iteration 2/);
    await open(`#run=${NEWEST}&case=guest-smoke%2Fid-ctrl.sn`);
    await p.locator('details[data-artifact="guest-serial.log"] summary').click();
    const log = p.locator('details[data-artifact="guest-serial.log"] pre');
    const text = await log.innerText();
    assert.ok(!/\x1b|\r/.test(text), 'no ESC or CR left in the serial console');
    assert.match(text, /Linux version 6\.12\.57/);
    const fits = await log.evaluate((el) => el.scrollWidth <= el.clientWidth + 1);
    assert.ok(fits, 'long console lines wrap inside the box');
    assert.deepEqual(errors, []);
  });

  test('performance: charts across runs with x labels that do not overlap, and ours / baseline ratios', async () => {
    const { p, errors, open } = await page();
    await open('#view=perf&scenario=guest-fio-perf');
    assert.match(await p.locator('#perf-ratios').innerText(), /4k randread QD32 \(IOPS\)\s+7200\s+6180 qemu-nvme\s+1\.17×/);
    const charts = p.locator('svg.line-chart');
    assert.ok((await charts.count()) >= 6);
    for (let i = 0; i < (await charts.count()); i++) {
      const boxes = await charts.nth(i).locator('text.xtick').evaluateAll((els) => els.map((e) => (e as SVGGraphicsElement).getBoundingClientRect()).map((r) => [r.left, r.right]));
      assert.equal(boxes.length, 3);
      for (let j = 1; j < boxes.length; j++) assert.ok(boxes[j]![0]! >= boxes[j - 1]![1]!, `chart ${i}: x labels ${j - 1} and ${j} overlap`);
    }
    await shot(p, 'performance');
    assert.deepEqual(errors, []);
  });

  test('report serve: the same viewer over HTTP on 127.0.0.1, run files served, nothing outside the runs directory', async () => {
    const s = await serveViewer(FIXTURE, { port: 0, source: 'test/fixtures/runs' });
    try {
      assert.match(s.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const p = await browser.newPage();
      const errors: string[] = [];
      p.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await p.goto(`${s.url}#view=run&run=${NEWEST}`);
      await settle(p);
      assert.match(await p.locator('h1').innerText(), new RegExp(NEWEST));
      assert.equal(await p.locator('tr[data-uid]').count(), newest.checks.total);
      const res = await p.request.get(`${s.url}runs/${NEWEST}/summary.md`);
      assert.equal(res.status(), 200);
      assert.match(await res.text(), /vnvme .*FAIL/);
      const log = await p.request.get(`${s.url}runs/${NEWEST}/guest-smoke/guest-serial.log`);
      assert.equal(log.status(), 200);
      assert.match(log.headers()['content-type'] ?? '', /^text\/plain/);
      assert.equal((await p.request.get(`${s.url}runs/..%2F..%2Fpackage.json`)).status(), 404);
      assert.deepEqual(errors, []);
      await p.close();
    } finally {
      await s.close();
    }
  });
});

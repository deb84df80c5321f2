// The viewer in chromium over runs recorded by `npm run scenario` on a real machine
// (test/fixtures/real-runs: the default suite three times under TCG, a `-- guest-fio-perf` run
// whose target did not start and one that ran), built with `report build` and opened from disk.
// What the synthetic fixture did not show: a scenario that errored before its first check, partial
// runs between full ones, run-specific paths and random data in observed values, a dirty tree,
// metrics named after their series, guests' logs. Screenshots go to $VNVME_SCREENSHOTS (default: a
// temporary directory); with VNVME_UPDATE_SCREENSHOTS=1 the pages this file owns (runs, coverage,
// evidence: real data shows them best) replace reports/viewer/screenshots/, which the README shows;
// history, diff and performance come from browser.test.ts, whose synthetic runs fail and flake.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from '@playwright/test';
import { chromiumSkip, openViewer, README_SCREENSHOTS, settle, type ViewerPage, type ViewerSite } from './chromium.js';
import { RunsIndex } from '../../reports/runs-index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const REAL = join(root, 'test', 'fixtures', 'real-runs');
const FULL_1 = '2026-12-04T20-03-08Z-46a8a5';
const PERF_BROKEN = '2026-12-04T20-11-45Z-6d3dc7';
const FULL_2 = '2026-12-04T20-12-42Z-40db7e';
const PERF_OK = '2026-12-04T20-14-31Z-13a376';
const FULL_3 = '2026-12-04T20-23-18Z-b997c8';
const INDEX = RunsIndex.parse(JSON.parse(readFileSync(join(REAL, 'index.json'), 'utf8')));

const update = process.env.VNVME_UPDATE_SCREENSHOTS === '1';
const readmeDir = join(root, 'reports', 'viewer', 'screenshots');
const shotDir = process.env.VNVME_SCREENSHOTS ?? join(tmpdir(), 'vnvme-viewer-screenshots');

describe('the viewer in chromium over real runs', { skip: chromiumSkip }, () => {
  let site: ViewerSite;

  before(async () => {
    mkdirSync(shotDir, { recursive: true });
    site = await openViewer(REAL, 'test/fixtures/real-runs', 'vnvme-viewer-real-');
  });

  after(async () => {
    await site?.close();
  });

  const page = (width?: number, height?: number): Promise<ViewerPage> => site.page(width, height);
  const shot = async (p: Page, name: string, fullPage = false): Promise<Buffer> => {
    // A full-page capture would paint the sticky navigation bar where the viewport ended.
    if (fullPage) await p.addStyleTag({ content: 'nav{position:static}' });
    return p.screenshot({ path: update && README_SCREENSHOTS.has(name) ? join(readmeDir, `${name}.png`) : join(shotDir, `real-${name}.png`), fullPage });
  };
  const text = (p: Page, sel: string): Promise<string> => p.locator(sel).innerText();

  test('runs: every run with its counts and environment; the run whose target did not start counts its error; each says what it ran', async () => {
    const { p, errors, open } = await page();
    await open('');
    const ids = await p.locator('#runs-table tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-run')));
    assert.deepEqual(ids, [FULL_3, PERF_OK, FULL_2, PERF_BROKEN, FULL_1]);
    const broken = await text(p, `#runs-table tr[data-run="${PERF_BROKEN}"]`);
    assert.match(broken, /0 passed · 0 failed · 1 errors · 0 skipped/, 'not all zeros');
    assert.match(broken, /npm run scenario -- guest-fio-perf/);
    const full = await text(p, `#runs-table tr[data-run="${FULL_2}"]`);
    const c = INDEX.runs.find((r) => r.id === FULL_2)!.checks;
    assert.ok(full.includes(`${c.pass} passed · ${c.fail} failed · ${c.error} errors · ${c.skip} skipped`), full);
    for (const fact of [/335a1d1032/, /debian-tree 11\.1\.3/, /\btcg\b/, /hugetlbfs/, /6\.12\.117\+deb13-amd64/, /1\d\d\.\d s|\d\d\.\d s/]) assert.match(full, fact);
    assert.match(await text(p, `#runs-table tr[data-run="${FULL_1}"]`), /75680184b0\+/, 'uncommitted changes marked');
    // The newest full run's diff link goes to the full run before it, not to the one-scenario run between.
    assert.equal(await p.locator(`#runs-table tr[data-run="${FULL_3}"] a:text("diff")`).getAttribute('href'), `#view=diff&a=${FULL_2}&b=${FULL_3}`);
    await shot(p, 'runs');
    assert.deepEqual(errors, []);
  });

  test('history: dirty commits marked in the column heads; the broken scenario has its own row', async () => {
    const { p, errors, open } = await page();
    await open('#view=history&case=guest-fio-perf%2Fscenario');
    const heads = (await p.locator('#history-table th.runcol').allInnerTexts()).map((x) => x.replace(/\s+/g, ' ').trim());
    assert.deepEqual(heads, ['12-04 20:23 335a1d10+', '12-04 20:14 335a1d10+', '12-04 20:12 335a1d10', '12-04 20:11 335a1d10+', '12-04 20:03 75680184+']);
    assert.equal((await p.locator('#history-table td.cell').allInnerTexts()).map((x) => x.trim()).join(''), '·P·E·');
    assert.match(await text(p, '#history-summary'), /latest: pass · failing since: — · last failed: 12-04 20:11 335a1d10\+/);
    // Nothing is failing now: the scenario ran again after its target failed to start.
    await open('#view=history&only=failing');
    assert.equal(await p.locator('#history-table tbody tr').count(), 0);
    await open('#view=history&case=guest-nvme-cli%2Fcompare');
    assert.equal((await p.locator('#history-table td.cell').allInnerTexts()).map((x) => x.trim()).join(''), 'P·P·P');
    assert.deepEqual(errors, []);
  });

  test('diff: the default pair is the newest full run and the one before; nothing but the commit and the measurements differ', async () => {
    const { p, errors, open } = await page();
    await open('#view=diff');
    assert.equal(await p.locator('#diff-a').inputValue(), FULL_2);
    assert.equal(await p.locator('#diff-b').inputValue(), FULL_3);
    const summary = await text(p, '#diff-summary');
    assert.match(summary, /^0 new failures · 0 fixed · 0 other status changes · 0 new checks · 0 removed · 0 checks with changed values/);
    assert.match(await text(p, '#observed'), /\(0\)\s+none/);
    assert.match(await text(p, '#facts'), /\(0\)\s+none/);
    // Moved measurements are there, folded: the hot-plugged namespace's time to appear.
    await p.locator('#measured summary').click();
    assert.match(await text(p, '#measured'), /namespace-hotplug\/add\.1[\s\S]*appears within 60 s[\s\S]*after \d+ ms/);
    const env = await text(p, '#environment');
    assert.match(env, /uncommitted changes\s+false\s+true/);
    assert.doesNotMatch(env, /guest memory backend/);
    assert.match(await text(p, '#metrics'), /assumed ±10%/);
    await shot(p, 'diff-real', true);
    assert.deepEqual(errors, []);
  });

  test('diff: a partial run against a full one lists scenarios in one run only, not hundreds of removed checks; broken then fixed', async () => {
    const { p, errors, open } = await page();
    await open(`#view=diff&a=${FULL_2}&b=${PERF_OK}`);
    assert.match(await text(p, '#removed'), /\(0\)/);
    assert.match(await text(p, '#added'), /\(0\)/);
    assert.match(await text(p, '#only-in-head'), /guest-fio-perf/);
    assert.match(await text(p, '#only-in-base'), /conformance\s+PASS\s+516/);
    // The scenario whose target did not start, then ran: fixed, linked to the run with the error.
    await open(`#view=diff&a=${PERF_BROKEN}&b=${PERF_OK}`);
    const fixed = p.locator('#fixed tr[data-uid="guest-fio-perf/scenario"]');
    assert.match(await fixed.innerText(), /ERROR\s+PASS[\s\S]*ended at start/);
    await fixed.locator('a').first().click();
    await settle(p);
    assert.equal(await text(p, '#case-uid'), 'guest-fio-perf/scenario');
    assert.match(await text(p, '.evidence'), /Cannot find module/);
    assert.deepEqual(errors, []);
  });

  test('coverage of the partial run has no gaps for scenarios it did not run; the full run cites sections of every document', async () => {
    const { p, errors, open } = await page();
    await open(`#view=coverage&run=${PERF_BROKEN}`);
    assert.match(await text(p, '#coverage-summary'), /· 0 gaps$/);
    await open(`#view=coverage&run=${FULL_3}`);
    const docs = await p.locator('#coverage-docs tbody th').allInnerTexts();
    for (const d of ['NVMe Base 2.0', 'NVMe Base 2.1', 'NVM Command Set 1.0', 'vfio-user 1.0']) assert.ok(docs.includes(d), docs.join(', '));
    await shot(p, 'coverage');
    assert.deepEqual(errors, []);
  });

  test("evidence: a guest check's commands, expected vs actual, the serial console without escapes and the QEMU command line; the link survives a reload", async () => {
    const { p, errors, open } = await page(1100, 900);
    await open(`#run=${FULL_3}&case=guest-smoke%2Fio.readwrite`);
    const check = async (): Promise<void> => {
      assert.equal(await text(p, '#case-uid'), 'guest-smoke/io.readwrite');
      assert.match(await text(p, '.evidence'), /guest \$ head -c 1048576 \/dev\/urandom[\s\S]*md5sum \/tmp\/a \/tmp\/b[\s\S]*md5 of read-back data\s+expected\s+([0-9a-f]{32})\s+actual\s+\1/);
    };
    await check();
    await p.reload();
    await settle(p);
    await check();
    const names = await p.locator('details.log').evaluateAll((els) => els.map((e) => e.getAttribute('data-artifact')));
    assert.deepEqual(names, ['guest-serial.log', 'guest-qemu.cmdline', 'guest-qemu.stderr', 'target.log', 'target-rpc.log']);
    for (const n of ['guest-serial.log', 'guest-qemu.cmdline']) await p.locator(`details[data-artifact="${n}"] summary`).click();
    const serial = await text(p, 'details[data-artifact="guest-serial.log"] pre');
    assert.match(serial, /vnvme-guest: up after [\d.]+ s, kernel 6\.12\.117\+deb13-amd64/);
    assert.ok(!/\x1b|\r|\[\?2004h/.test(serial), 'no ESC, CR or bracketed-paste residue in the serial console');
    const cmdline = p.locator('details[data-artifact="guest-qemu.cmdline"] pre');
    assert.match(await cmdline.innerText(), /qemu-system-x86_64[\s\S]*-accel tcg[\s\S]*vfio-user-pci/);
    assert.ok(await cmdline.evaluate((el) => el.scrollWidth <= el.clientWidth + 1), 'the command line wraps');
    await shot(p, 'evidence', true);
    assert.deepEqual(errors, []);
  });

  test('performance: ours / QEMU NVMe ratios from the perf run; a series-named metric is one chart with four lines; charts without a ratio two to a row', async () => {
    const { p, errors, open } = await page();
    await open('#view=perf');
    assert.match(await text(p, '#perf-ratios'), /guest-fio-perf\s+4k randread QD1 \(IOPS\)[\s\S]*qemu-nvme\s+[\d.]+×/);
    const dt = p.locator('.perf-metric[data-metric="migration-initiator/migration downtime/downtime median/ms"]');
    assert.equal(await dt.count(), 1);
    assert.match(await dt.innerText(), /v2\.mapped[\s\S]*v1\.mapped[\s\S]*v2\.message[\s\S]*v1\.message/);
    const boxes = await p.locator('.charts > .perf-metric:not(.with-ratio)').evaluateAll((els) => els.slice(0, 2).map((e) => e.getBoundingClientRect().top));
    assert.equal(boxes[0], boxes[1], 'two charts side by side');
    await open('#view=perf&scenario=guest-fio-perf');
    await shot(p, 'performance');
    assert.deepEqual(errors, []);
  });
});

// Writes a run's files into its directory: report.json (validated against the schema first: a
// report that does not match is a bug in the runner and is refused; every check gets its stable
// uid), junit.xml, report.html and summary.md (Markdown for CI job pages).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reportHtml } from './html.js';
import { junitXml } from './junit.js';
import { Report, withCheckUids } from './report-schema.js';
import { summaryMarkdown } from './summary-md.js';

export interface WrittenReport {
  dir: string;
  json: string;
  junit: string;
  html: string;
  summary: string;
}

export function writeReport(dir: string, report: Report): WrittenReport {
  const checked = withCheckUids(Report.parse(report));
  mkdirSync(dir, { recursive: true });
  const out = { dir, json: join(dir, 'report.json'), junit: join(dir, 'junit.xml'), html: join(dir, 'report.html'), summary: join(dir, 'summary.md') };
  writeFileSync(out.json, `${JSON.stringify(checked, null, 2)}\n`);
  writeFileSync(out.junit, junitXml(checked));
  writeFileSync(out.html, reportHtml(checked));
  writeFileSync(out.summary, summaryMarkdown(checked));
  return out;
}

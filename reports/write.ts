// Writes a run's three files into its directory: report.json (validated against the schema
// first: a report that does not match is a bug in the runner and is refused), junit.xml and
// report.html.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { reportHtml } from './html.js';
import { junitXml } from './junit.js';
import { Report } from './report-schema.js';

export interface WrittenReport {
  dir: string;
  json: string;
  junit: string;
  html: string;
}

export function writeReport(dir: string, report: Report): WrittenReport {
  const checked = Report.parse(report);
  mkdirSync(dir, { recursive: true });
  const out = { dir, json: join(dir, 'report.json'), junit: join(dir, 'junit.xml'), html: join(dir, 'report.html') };
  writeFileSync(out.json, `${JSON.stringify(checked, null, 2)}\n`);
  writeFileSync(out.junit, junitXml(checked));
  writeFileSync(out.html, reportHtml(checked));
  return out;
}

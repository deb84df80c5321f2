// junit.xml for CI: one <testsuite> per scenario (per iteration with --repeat), one <testcase>
// per check. A device defect is <failure>, a harness problem is <error>, unmet needs are
// <skipped>. A scenario that errored before recording any check gets one testcase for itself.
import { scenarioChecks, type Check, type Report, type ScenarioResult } from './report-schema.js';

export function xmlEscape(s: string): string {
  // XML 1.0 forbids most C0 controls even escaped; drop them.
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

const secs = (ms: number): string => (ms / 1000).toFixed(3);

function evidenceText(c: Check): string {
  return c.evidence
    .map((e) =>
      [
        e.command ? `$ ${e.command}${e.where ? `   (${e.where})` : ''}` : '',
        e.exitCode !== undefined ? `exit: ${e.exitCode}` : '',
        e.expected !== undefined ? `expected: ${e.expected}` : '',
        e.actual !== undefined ? `actual:   ${e.actual}` : '',
        e.note ?? '',
        e.output ? e.output.slice(-4000) : '',
      ]
        .filter(Boolean)
        .join('\n'),
    )
    .join('\n\n');
}

function testcase(suite: string, c: Check): string {
  const attrs = `classname="${xmlEscape(suite)}" name="${xmlEscape(`${c.id}: ${c.title}`)}" time="${secs(c.durationMs)}"`;
  const body = evidenceText(c);
  const msg = xmlEscape(c.message ?? c.verdict);
  const section = c.section ? `spec: ${c.section}\n` : '';
  switch (c.verdict) {
    case 'pass':
      return `    <testcase ${attrs}>${body ? `\n      <system-out>${xmlEscape(section + body)}</system-out>\n    ` : ''}</testcase>`;
    case 'fail':
      return `    <testcase ${attrs}>\n      <failure message="${msg}" type="device-defect">${xmlEscape(section + body)}</failure>\n    </testcase>`;
    case 'error':
      return `    <testcase ${attrs}>\n      <error message="${msg}" type="harness-error">${xmlEscape(section + body)}</error>\n    </testcase>`;
    case 'skip':
      return `    <testcase ${attrs}>\n      <skipped message="${msg}"/>\n    </testcase>`;
  }
}

function suiteName(s: ScenarioResult): string {
  return s.iteration > 1 ? `${s.name}#${s.iteration}` : s.name;
}

function scenarioSuite(s: ScenarioResult, hostname: string): string {
  const name = suiteName(s);
  // The scenario's own verdict must show even when no check carries it (skipped, or a harness
  // error before the first check, or a timeout).
  const checks: Check[] = scenarioChecks(s);
  const count = (v: Check['verdict']) => checks.filter((c) => c.verdict === v).length;
  const props = [`      <property name="tags" value="${xmlEscape(s.tags.join(','))}"/>`, ...Object.entries(s.facts).map(([k, v]) => `      <property name="${xmlEscape(k)}" value="${xmlEscape(v)}"/>`)];
  return [
    `  <testsuite name="${xmlEscape(name)}" tests="${checks.length}" failures="${count('fail')}" errors="${count('error')}" skipped="${count('skip')}" time="${secs(s.durationMs)}" timestamp="${xmlEscape(s.startedAt.replace(/Z$/, ''))}" hostname="${xmlEscape(hostname)}">`,
    `    <properties>\n${props.join('\n')}\n    </properties>`,
    ...checks.map((c) => testcase(`vnvme.${name}`, c)),
    '  </testsuite>',
  ].join('\n');
}

export function junitXml(r: Report): string {
  const suites = r.scenarios.map((s) => scenarioSuite(s, r.environment.host.hostname));
  const totals = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  for (const x of suites) {
    const m = /tests="(\d+)" failures="(\d+)" errors="(\d+)" skipped="(\d+)"/.exec(x);
    if (!m) continue;
    totals.tests += Number(m[1]);
    totals.failures += Number(m[2]);
    totals.errors += Number(m[3]);
    totals.skipped += Number(m[4]);
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="vnvme scenarios ${xmlEscape(r.runId)}" tests="${totals.tests}" failures="${totals.failures}" errors="${totals.errors}" skipped="${totals.skipped}" time="${secs(r.durationMs)}">`,
    ...suites,
    '</testsuites>',
    '',
  ].join('\n');
}

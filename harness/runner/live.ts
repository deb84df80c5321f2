// What the runner shows while it works. On a terminal: one status line redrawn in place every
// second (which scenario, which step, elapsed time), finished scenarios and failed checks
// scrolling above it. Elsewhere (CI logs): plain lines, one per step and per result.
import { scenarioChecks, type Check, type ScenarioResult } from '../../reports/report-schema.js';

/** One running scenario's part of the display (several at once under --jobs N). */
export interface ScenarioLive {
  step(name: string): void;
  detail(text: string): void;
  check(c: Check): void;
  end(r: ScenarioResult): void;
}

export interface LiveDisplay {
  begin(name: string, index: number, total: number): ScenarioLive;
  line(text: string): void;
  close(): void;
}

const fmt = (ms: number): string => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

const MARK: Record<string, string> = { pass: 'PASS', fail: 'FAIL', error: 'ERROR', skip: 'SKIP' };

interface Running {
  name: string;
  index: number;
  total: number;
  t0: number;
  step: string;
  detail: string;
  checks: number;
  lastDetail: number;
}

export function consoleLive(stream: NodeJS.WriteStream = process.stderr, tty: boolean = stream.isTTY === true): LiveDisplay {
  const runStart = Date.now();
  // Every scenario running now, in the order they started (one, unless --jobs N).
  const running = new Set<Running>();
  let timer: NodeJS.Timeout | undefined;
  let statusShown = false;
  const clear = (): void => {
    if (tty && statusShown) stream.write('\r\x1b[K');
    statusShown = false;
  };
  const status = (): void => {
    if (!tty || running.size === 0) return;
    // A terminal that reports 0 columns (or none) gets the whole line rather than a cut one.
    const width = stream.columns && stream.columns > 1 ? stream.columns - 1 : Number.POSITIVE_INFINITY;
    const one = (cur: Running, full: boolean): string =>
      `[${cur.index}/${cur.total}] ${cur.name} ${fmt(Date.now() - cur.t0)}${full ? ` (run ${fmt(Date.now() - runStart)})` : ''} › ${cur.step}${full && cur.detail ? ` — ${cur.detail}` : ''}`;
    const all = [...running];
    const text = `▶ ${all.length === 1 ? one(all[0]!, true) : all.map((r) => one(r, false)).join(' | ')}`;
    stream.write(`\r\x1b[K${text.replace(/\s+/g, ' ').slice(0, width)}`);
    statusShown = true;
  };
  const plain = (text: string): void => {
    clear();
    stream.write(`[scenario ${((Date.now() - runStart) / 1000).toFixed(1).padStart(6)}s] ${text}\n`);
    status();
  };
  return {
    begin(name, index, total) {
      const cur: Running = { name, index, total, t0: Date.now(), step: 'starting', detail: '', checks: 0, lastDetail: 0 };
      running.add(cur);
      plain(`${name} [${index}/${total}] started`);
      if (tty && !timer) timer = setInterval(status, 1000);
      return {
        step(stepName) {
          cur.step = stepName;
          cur.detail = '';
          if (tty) status();
          else plain(`${cur.name}: ${stepName}`);
        },
        detail(text) {
          cur.detail = text.trim();
          if (tty) status();
          else if (Date.now() - cur.lastDetail > 10_000) {
            cur.lastDetail = Date.now();
            plain(`${cur.name}:   ... ${text.trim().slice(0, 160)}`);
          }
        },
        check(c) {
          cur.checks++;
          if (c.verdict === 'fail' || c.verdict === 'error') plain(`${cur.name}: ${MARK[c.verdict]} ${c.id}: ${c.message ?? ''}`.slice(0, 400));
          else if (!tty) plain(`${cur.name}: ${MARK[c.verdict]} ${c.id}${c.verdict === 'skip' && c.message ? ` (${c.message})` : ''}`);
        },
        end(r) {
          running.delete(cur);
          const shown = r.iteration > 1 ? `${r.name}#${r.iteration}` : r.name;
          plain(`${shown}: ${MARK[r.verdict]} in ${(r.durationMs / 1000).toFixed(1)} s${r.reason ? ` — ${r.reason.split('\n')[0]?.slice(0, 300)}` : ''}`);
          if (running.size === 0) clear();
        },
      };
    },
    line: plain,
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      clear();
    },
  };
}

const silentScenario: ScenarioLive = { step() {}, detail() {}, check() {}, end() {} };
export const silentLive: LiveDisplay = { begin: () => silentScenario, line() {}, close() {} };

/** The table printed at the end of a run. */
export function summaryTable(results: readonly ScenarioResult[]): string {
  // Every verdict named ("34 pass, 9 skip", not "34/43"); a scenario that broke before its first check is "1 error".
  const checks = (r: ScenarioResult): string => {
    const cs = scenarioChecks(r);
    return (['pass', 'fail', 'error', 'skip'] as const).map((v) => [v, cs.filter((c) => c.verdict === v).length] as const).filter(([, n]) => n > 0).map(([v, n]) => `${n} ${v}`).join(', ') || 'none';
  };
  const rows = results.map((r) => [r.iteration > 1 ? `${r.name}#${r.iteration}` : r.name, MARK[r.verdict] ?? r.verdict, checks(r), `${(r.durationMs / 1000).toFixed(1)} s`, (r.reason ?? '').split('\n')[0]!.slice(0, 90)]);
  const head = ['SCENARIO', 'VERDICT', 'CHECKS', 'TIME', 'REASON'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(w[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

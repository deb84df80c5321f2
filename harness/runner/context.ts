// What a scenario body works with: its own target (driven through `vnvme rpc`), guests, checks
// that record evidence (command, output, expected vs actual, spec section), metrics, fio runs,
// facts and artifacts. Everything it starts is stopped by finish(), and logs are collected.
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import type { Artifact, Check, Evidence, FioRun, Metric, Step } from '../../reports/report-schema.js';
import { Guest, type GuestOptions } from '../guest/guest.js';
import type { GuestParts } from '../guest/parts.js';
import type { ExecResult } from '../guest/ssh.js';
import { silentProgress, type Progress } from '../progress.js';
import { fioRunFrom, parseFioJson } from './fio.js';
import { CheckFailed, Skip, type Scenario } from './scenario.js';
import { ScenarioTarget } from './target.js';
import type { RunSettings } from './protocol.js';

export interface CheckMeta {
  title: string;
  /** Spec area: Admin, NVM I/O, Identify, Features, Log pages, Reset, Namespaces, Data integrity, Errors, Performance, Conformance, Harness. */
  area: string;
  /** "NVMe Base 2.1 5.1.13" — or "" when it is not a spec rule. */
  section?: string;
  level?: Check['level'];
}

/** Anything that runs a shell command: a Guest, a GuestSsh. */
export interface Shell {
  exec(command: string, opts?: { timeoutMs?: number }): Promise<ExecResult>;
}

export interface ShOptions {
  /** Exit status the command must have (default 0); null accepts any. */
  expectExit?: number | null;
  timeoutMs?: number;
  where?: string;
  /** Keep at most this many characters of output in the evidence (default 8000, the tail). */
  keep?: number;
}

/** Records one check's evidence; assertion helpers throw CheckFailed (a device defect). */
export class CheckRecorder {
  readonly evidence: Evidence[] = [];

  add(e: Evidence): void {
    this.evidence.push(e);
  }

  note(text: string): void {
    this.evidence.push({ note: text });
  }

  async sh(shell: Shell, command: string, o: ShOptions = {}): Promise<ExecResult> {
    const r = await shell.exec(command, { timeoutMs: o.timeoutMs ?? 120_000 });
    const out = `${r.stdout}${r.stderr ? `${r.stdout ? '\n' : ''}[stderr]\n${r.stderr}` : ''}`;
    const keep = o.keep ?? 8000;
    this.evidence.push({ command, where: o.where ?? 'guest', exitCode: r.code, output: out.length > keep ? `…${out.slice(-keep)}` : out });
    const want = o.expectExit === undefined ? 0 : o.expectExit;
    if (want !== null && r.code !== want) throw new CheckFailed(`\`${command}\` exited ${r.code ?? r.signal}, expected ${want}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
    return r;
  }

  async rpc(t: ScenarioTarget, method: string, ...args: string[]): Promise<string> {
    const r = await t.rpcRaw(method, ...args);
    this.evidence.push({ command: r.command, where: 'host', exitCode: r.exitCode, output: r.output });
    if (r.exitCode !== 0) throw new CheckFailed(`rpc ${method} failed: ${r.output.trim().slice(-300)}`);
    return r.output;
  }

  equal(what: string, expected: unknown, actual: unknown): void {
    const e = typeof expected === 'string' ? expected : JSON.stringify(expected);
    const a = typeof actual === 'string' ? actual : JSON.stringify(actual);
    this.evidence.push({ note: what, expected: e, actual: a });
    if (e !== a) throw new CheckFailed(`${what}: expected ${e}, got ${a}`);
  }

  ok(cond: boolean, what: string, expected: string, actual: string): void {
    this.evidence.push({ note: what, expected, actual });
    if (!cond) throw new CheckFailed(`${what}: expected ${expected}, got ${actual}`);
  }

  fail(message: string): never {
    throw new CheckFailed(message);
  }
}

export interface ContextEvents {
  step(name: string): void;
  check(c: Check): void;
  /** A child process to kill if this worker dies (pid) and logs to collect. */
  live(state: LiveState): void;
}

export interface LiveState {
  pids: number[];
  logs: { name: string; path: string }[];
}

export interface ContextOptions {
  /** The scenario's report directory (artifacts, logs). */
  dir: string;
  /** Short scratch directory (sockets). */
  tmp: string;
  /** Provisioned QEMU and guest image (lazily). */
  parts: () => Promise<GuestParts>;
  events: ContextEvents;
  progress?: Progress;
  /** --memory / --doorbells of the run. */
  settings?: RunSettings;
}

export class ScenarioContext {
  readonly checks: Check[] = [];
  readonly steps: Step[] = [];
  readonly metrics: Metric[] = [];
  readonly fioRuns: FioRun[] = [];
  readonly artifacts: Artifact[] = [];
  readonly facts: Record<string, string> = {};
  private readonly started = Date.now();
  private currentStep: { name: string; t0: number } | undefined;
  private readonly targets: ScenarioTarget[] = [];
  private readonly guests: Guest[] = [];
  /** Each guest's label ("guest", "src", "hop1"), unique in this scenario: its artifacts are named by it. */
  private readonly guestLabels = new Map<Guest, string>();
  private readonly cleanups: (() => Promise<void> | void)[] = [];
  private readonly live: LiveState = { pids: [], logs: [] };
  readonly dir: string;
  readonly tmp: string;
  readonly settings: RunSettings;

  constructor(
    readonly scenario: Scenario,
    private readonly o: ContextOptions,
  ) {
    this.dir = o.dir;
    this.tmp = o.tmp;
    this.settings = o.settings ?? {};
    mkdirSync(o.dir, { recursive: true });
    mkdirSync(o.tmp, { recursive: true });
  }

  get progress(): Progress {
    return this.o.progress ?? silentProgress;
  }

  /** Starts a named step (ends the previous one): shown live and timed in the report. */
  step(name: string): void {
    this.endStep();
    this.currentStep = { name, t0: Date.now() };
    this.o.events.step(name);
  }

  private endStep(): void {
    if (!this.currentStep) return;
    this.steps.push({ name: this.currentStep.name, startedMs: this.currentStep.t0 - this.started, durationMs: Date.now() - this.currentStep.t0 });
    this.currentStep = undefined;
  }

  fact(key: string, value: string | number): void {
    this.facts[key] = String(value);
  }

  metric(m: Metric): void {
    this.metrics.push(m);
  }

  /** Parses fio's JSON output and records it (and returns the summary). */
  fio(name: string, series: string, command: string, stdout: string): FioRun {
    const run = fioRunFrom(name, series, command, parseFioJson(stdout));
    this.fioRuns.push(run);
    return run;
  }

  /** Skips the whole scenario (outside a check) with the reason. */
  skip(reason: string): never {
    throw new Skip(reason);
  }

  /**
   * Runs one check. Its verdict: pass; fail when the body throws CheckFailed (a device defect);
   * skip on Skip; error on anything else (a harness problem). Returns whether it passed.
   */
  async check(id: string, meta: CheckMeta, body: (c: CheckRecorder) => Promise<void> | void): Promise<boolean> {
    const rec = new CheckRecorder();
    const t0 = Date.now();
    let verdict: Check['verdict'] = 'pass';
    let message: string | undefined;
    try {
      await body(rec);
    } catch (err) {
      if (err instanceof CheckFailed) verdict = 'fail';
      else if (err instanceof Skip) verdict = 'skip';
      else verdict = 'error';
      message = err instanceof Skip ? err.reason : (err as Error).message ?? String(err);
      if (verdict === 'error') rec.note(`harness error: ${(err as Error).stack ?? message}`);
    }
    const c: Check = { id, title: meta.title, area: meta.area, section: meta.section ?? '', level: meta.level ?? 'mandatory', ...(meta.level === undefined ? { levelDefaulted: true } : {}), verdict, message, durationMs: Date.now() - t0, evidence: rec.evidence };
    this.checks.push(c);
    this.o.events.check(c);
    return verdict === 'pass';
  }

  /** Records a check that was decided elsewhere (the conformance suite's cases). */
  record(c: Check): void {
    this.checks.push(c);
    this.o.events.check(c);
  }

  private publishLive(): void {
    this.o.events.live(this.live);
  }

  /** A process this scenario started itself: the runner kills it (by pid) if the scenario dies or overruns. */
  trackProcess(pid: number, log?: { name: string; path: string }): void {
    this.live.pids.push(pid);
    if (log) this.live.logs.push(log);
    this.publishLive();
  }

  /** The run's doorbell mode (--doorbells; default mapped). */
  get doorbells(): 'mapped' | 'message' | 'interrupt' {
    return this.settings.doorbells ?? 'mapped';
  }

  /** `nvmf_create_transport` arguments for the run's doorbell mode: `-t VFIOUSER [-M]`. */
  transportArgs(): string[] {
    return ['-t', 'VFIOUSER', ...(this.doorbells !== 'mapped' ? ['-M'] : [])];
  }

  /** A new target daemon of this scenario's own, started and answering RPC. */
  async target(label = 'target', opts: { env?: Record<string, string>; args?: readonly string[] } = {}): Promise<ScenarioTarget> {
    const t = new ScenarioTarget(join(this.tmp, label), this.dir, (pid) => {
      this.live.pids.push(pid);
      this.publishLive();
    }, label, opts.env, [...(this.doorbells === 'interrupt' ? ['--interrupt-mode'] : []), ...(opts.args ?? [])]);
    t.transportArgs = this.transportArgs();
    this.targets.push(t);
    this.live.logs.push({ name: `${label}.log`, path: t.logFile });
    await t.start();
    return t;
  }

  parts(): Promise<GuestParts> {
    return this.o.parts();
  }

  /** Boots a guest (provisioning QEMU and the image on first use); stopped by finish(). */
  async guest(opts: Omit<GuestOptions, 'qemu' | 'image'> & { label?: string } = {}): Promise<Guest> {
    const parts = await this.parts();
    const label = opts.label ?? 'guest';
    const name = opts.name ?? `sc-${this.scenario.name}-${label}-${process.pid}`;
    const g = await Guest.start({ ...parts, memMiB: 1024, smp: 2, progress: this.progress, ...(this.settings.memory ? { memory: this.settings.memory } : {}), ...(this.settings.accel ? { accel: this.settings.accel } : {}), ...opts, name });
    this.adoptGuest(g, label);
    this.fact(`${label}.accelerator`, `${g.info.accel} (${g.info.accelReason})`);
    this.fact(`${label}.memory`, g.info.memory);
    this.fact(`${label}.kernel`, g.info.kernel);
    this.fact(`${label}.qemu`, g.info.qemu);
    this.fact(`${label}.bootMs`, g.info.bootMs);
    this.metric({ name: `${label} boot to SSH`, value: g.info.bootMs, unit: 'ms' });
    return g;
  }

  /**
   * Makes a started guest this scenario's: finish() stops it and keeps its serial console, QEMU
   * command line and stderr as "<label>-serial.log", "<label>-qemu.cmdline", "<label>-qemu.stderr"
   * (a label taken already gets "-2", "-3"). Returns the label used.
   */
  adoptGuest(g: Guest, label = 'guest'): string {
    const taken = new Set(this.guestLabels.values());
    let unique = label;
    for (let n = 2; taken.has(unique); n++) unique = `${label}-${n}`;
    this.guests.push(g);
    this.guestLabels.set(g, unique);
    this.live.pids.push(g.info.pid);
    this.live.logs.push({ name: `${unique}-serial.log`, path: g.info.serialLog });
    this.publishLive();
    return unique;
  }

  /** Runs at finish, before guests and targets are stopped (newest first). */
  onFinish(fn: () => Promise<void> | void): void {
    this.cleanups.push(fn);
  }

  /** Copies a file into the report directory (if it is not there) and records it. */
  artifact(name: string, path: string, tailLines = 80): void {
    if (!existsSync(path)) return;
    let dest = path;
    if (relative(this.dir, path).startsWith('..')) {
      dest = join(this.dir, basename(name).replace(/[^\w.-]/g, '_'));
      try {
        copyFileSync(path, dest);
      } catch {
        return;
      }
    }
    const bytes = statSync(dest).size;
    let tail: string | undefined;
    // Only text (logs, outputs) gets a tail embedded in the report; disk images and the like do not.
    if (tailLines > 0 && /\.(log|txt|json|out|err|stderr|cmdline)$/.test(dest)) {
      const text = readFileSync(dest).subarray(Math.max(0, bytes - 200_000)).toString('utf8');
      tail = text.split('\n').slice(-tailLines).join('\n');
    }
    if (this.artifacts.some((a) => a.name === name)) return;
    this.artifacts.push({ name, path: dest, bytes, tail });
  }

  /** Saves text as an artifact file. */
  saveText(name: string, text: string): void {
    const p = join(this.dir, name.replace(/[^\w.-]/g, '_'));
    writeFileSync(p, text);
    this.artifact(name, p);
  }

  /** Stops everything this scenario started and collects logs; never throws. */
  async finish(): Promise<void> {
    this.endStep();
    for (const fn of this.cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        this.progress.warn(`cleanup failed: ${(err as Error).message}`);
      }
    }
    // Named by the guest's label, not its VM name (sc-<scenario>-<label>-<pid>): the same log
    // has the same name in every run, so the viewer's evidence of two runs line up.
    for (const g of this.guests) {
      const label = this.guestLabels.get(g) ?? g.info.name;
      try {
        this.saveText(`${label}-serial.log`, g.serialLog());
      } catch {
        /* best effort */
      }
      await g.stop().catch((err: Error) => this.progress.warn(`guest stop: ${err.message}`));
      this.artifact(`${label}-qemu.cmdline`, join(g.info.runDir, 'qemu.cmdline'), 5);
      this.artifact(`${label}-qemu.stderr`, join(g.info.runDir, 'qemu.stderr'), 40);
    }
    for (const t of this.targets) {
      await t.stop().catch(() => undefined);
      this.artifact(`${t.label}.log`, t.logFile);
      this.artifact(`${t.label}-rpc.log`, t.rpcLog);
    }
  }

  elapsedMs(): number {
    return Date.now() - this.started;
  }
}

// `npm run scenario [-- NAME... | --tag T | --list | --qemu PATH | --report-dir DIR | --repeat N |
// --keep-going | --bail | --shard i/N | --jobs N|auto | --memory M | --doorbells D | --accel A]`: runs scenarios (default: the `default`-tagged suite) and writes
// reports/runs/<timestamp>-<id>/{report.json,junit.xml,report.html}. Exit status 0 only when
// nothing failed or errored.
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { provisionGuestParts, type GuestParts } from '../guest/parts.js';
import { consoleProgress } from '../progress.js';
import { consoleLive, summaryTable } from './live.js';
import { machineProbe } from './needs.js';
import { runScenarios } from './runner.js';
import { parseJobs, parseShard, type Shard } from './shard.js';
import { fmtRatio, perfRatios } from '../../reports/perf.js';
import type { ScenarioEntry } from './scenario.js';
import { loadCatalog } from '../../scenarios/index.js';

export interface CliOptions {
  tag: string[];
  list?: boolean;
  qemu?: string;
  qemuGit?: string;
  qemuRef?: string;
  submodule: string[];
  reportDir: string;
  repeat: number;
  keepGoing?: boolean;
  bail?: boolean;
  all?: boolean;
  timeoutScale: number;
  shard?: Shard;
  jobs: number;
  memory?: 'auto' | 'hugepages' | 'memfd';
  doorbells?: 'mapped' | 'message' | 'interrupt';
  accel?: 'auto' | 'kvm' | 'tcg';
}

function oneOf<T extends string>(name: string, values: readonly T[]): (v: string) => T {
  return (v) => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`${name} is one of ${values.join(', ')} (got "${v}")`);
    return v as T;
  };
}

function commanderArg<T>(parse: (v: string) => T): (v: string) => T {
  return (v) => {
    try {
      return parse(v);
    } catch (err) {
      throw new InvalidArgumentError((err as Error).message);
    }
  };
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`must be a positive integer (got "${v}")`);
  return n;
}

/** Which scenarios a command line selects: names, else tags, else the default suite. */
export function select(catalog: readonly ScenarioEntry[], names: readonly string[], tags: readonly string[], all = false): ScenarioEntry[] {
  if (names.length) {
    const unknown = names.filter((n) => !catalog.some((e) => e.scenario.name === n));
    if (unknown.length) throw new Error(`unknown scenario(s): ${unknown.join(', ')}; known: ${catalog.map((e) => e.scenario.name).join(', ')}`);
    return names.map((n) => catalog.find((e) => e.scenario.name === n)!);
  }
  if (all) return [...catalog];
  const want = tags.length ? tags : ['default'];
  return catalog.filter((e) => e.scenario.tags.some((t) => want.includes(t)));
}

export function listText(catalog: readonly ScenarioEntry[]): string {
  const w = Math.max(...catalog.map((e) => e.scenario.name.length));
  const lines = catalog.map((e) => {
    const s = e.scenario;
    return `${s.name.padEnd(w)}  ${s.tags.includes('default') ? '*' : ' '} tags: ${s.tags.join(',').padEnd(26)} needs: ${(s.needs.join(',') || '-').padEnd(16)} limit ${Math.round(s.timeoutMs / 60_000)} min\n${' '.repeat(w + 4)}${s.description}`;
  });
  return `${lines.join('\n')}\n\n* = in the default suite (npm run scenario with no arguments). Heavier scenarios run by name or tag, e.g. --tag perf, --tag fault, or --all.\n`;
}

/** The command line `npm run scenario --` takes (also what test/ci checks the workflows' calls against). */
export function scenarioProgram(): Command {
  return new Command('npm run scenario --')
    .description('run vnvme scenarios against our target, our initiator and a QEMU guest; write report.json, junit.xml and report.html')
    .argument('[names...]', 'scenarios to run (default: the default suite)')
    .option('--tag <tag>', 'run the scenarios with this tag (repeatable)', (v: string, p: string[]) => [...p, v], [] as string[])
    .option('--all', 'run every scenario')
    .option('--list', 'list scenarios, their tags, needs and time limits, and exit')
    .option('--qemu <path>', 'QEMU binary to use (must have vfio-user-pci); default: provision one')
    .option('--qemu-git <url|dir>', "build QEMU from this git repository (URL or local clone/mirror; Oracle's fork: https://github.com/oracle/qemu), cached")
    .option('--qemu-ref <ref>', 'branch, tag or commit for --qemu-git (vfio-user-dbfix for migration, d377d483f9 for the basic flow)')
    .option('--submodule <key=source>', 'where a QEMU submodule comes from for --qemu-git (e.g. keycodemapdb=/srv/mirrors/keycodemapdb); repeatable', (v: string, p: string[]) => [...p, v], [] as string[])
    .option('--report-dir <dir>', 'where run directories go', 'reports/runs')
    .option('--repeat <n>', 'run each selected scenario N times', positiveInt, 1)
    .option('--keep-going', 'run every selected scenario whatever fails (the default; overrides --bail)')
    .option('--bail', 'stop after the first scenario that fails or errors; the rest are reported as skipped')
    .option('--timeout-scale <x>', 'multiply every time limit (slow machines)', (v: string) => Number(v), 1)
    .option('--shard <i/N>', 'run only part i of N of the selected scenario runs (stable hash split; N machines with 1/N..N/N run the serial set)', commanderArg(parseShard))
    .option('--jobs <n|auto>', 'scenario workers at once, each with its own target and guest (auto: half the cores)', commanderArg((v) => parseJobs(v)), 1)
    .option('--memory <backend>', 'guest RAM for every guest that does not ask for one: auto (hugepages, else memfd), hugepages, memfd', oneOf('--memory', ['auto', 'hugepages', 'memfd'] as const))
    .option('--accel <kind>', 'accelerator for every guest: auto (KVM when the probe boots the guest kernel under it, else TCG; VNVME_ACCEL overrides), kvm, tcg', oneOf('--accel', ['auto', 'kvm', 'tcg'] as const))
    .option('--doorbells <mode>', 'doorbells of every target: mapped (the shared page), message (nvmf_create_transport -M) or interrupt (message, on targets started with --interrupt-mode)', oneOf('--doorbells', ['mapped', 'message', 'interrupt'] as const))
    .exitOverride();
}

/** Parses a command line without running anything: the options and the scenario names. */
export function parseScenarioArgs(argv: readonly string[]): { options: CliOptions; names: string[] } {
  const program = scenarioProgram().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  program.parse([...argv], { from: 'user' });
  return { options: program.opts<CliOptions>(), names: program.args };
}

export async function main(argv: string[]): Promise<number> {
  const program = scenarioProgram();
  program.parse(argv, { from: 'user' });
  const o = program.opts<CliOptions>();
  // Workers and the provisioning below read the git choice from the environment (harness/qemu/locate.ts).
  if (o.qemuGit) {
    if (!o.qemuRef) throw new Error('--qemu-git needs --qemu-ref (a branch, tag or commit), e.g. --qemu-ref vfio-user-dbfix');
    process.env.VNVME_QEMU_GIT = o.qemuGit;
    process.env.VNVME_QEMU_REF = o.qemuRef;
  }
  if (o.submodule.length) process.env.VNVME_QEMU_SUBMODULES = o.submodule.join(',');
  const catalog = await loadCatalog();
  if (o.list) {
    process.stdout.write(listText(catalog));
    return 0;
  }
  const entries = select(catalog, program.args, o.tag, o.all);
  if (!entries.length) throw new Error(`no scenario has tag(s) ${o.tag.join(', ')}`);
  let parts: GuestParts | undefined;
  let provisionError: string | undefined;
  const live = consoleLive();
  // First Ctrl-C: stop the running scenario (collecting its logs), skip the rest, still write the
  // report. A second one exits at once (the teardown module still ends our children).
  const abort = new AbortController();
  const onInt = (): void => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write('\n[scenario] interrupted: stopping the running scenario and writing the report (Ctrl-C again to quit now)\n');
    abort.abort();
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onInt);
  const { report, written } = await runScenarios({
    entries,
    reportDir: o.reportDir,
    repeat: o.repeat,
    shard: o.shard,
    jobs: o.jobs,
    settings: { memory: o.memory, doorbells: o.doorbells, accel: o.accel },
    bail: o.bail === true && o.keepGoing !== true,
    qemu: o.qemu,
    timeoutScale: o.timeoutScale,
    live,
    signal: abort.signal,
    command: ['npm run scenario', ...(argv.length ? ['--', ...argv] : [])].join(' '),
    probe: machineProbe({ qemu: o.qemu, parts: () => parts, provisionError: () => provisionError }),
    provision: async () => {
      try {
        parts = await provisionGuestParts({ qemu: o.qemu }, consoleProgress('provision'));
        return parts;
      } catch (err) {
        provisionError = (err as Error).message;
        throw err;
      }
    },
  });
  const s = report.summary;
  process.stdout.write(`\n${summaryTable(report.scenarios)}\n\n`);
  process.stdout.write(`${s.total} scenario runs: ${s.pass} passed, ${s.fail} failed, ${s.error} errors, ${s.skip} skipped — ${report.verdict.toUpperCase()} in ${(report.durationMs / 1000).toFixed(1)} s\n`);
  const ratios = report.scenarios.flatMap((sc) => perfRatios(sc.metrics).map((p) => `  ${sc.name}: ${p.name} (${p.unit}, ${p.better} is better): ours ${Math.round(p.ours * 10) / 10}, ${p.baselineSeries} ${Math.round(p.baseline * 10) / 10} -> ${fmtRatio(p.ratio)}`));
  if (ratios.length) process.stdout.write(`ours vs baseline:\n${ratios.join('\n')}\n\n`);
  process.stdout.write(`report: ${written.html}\n        ${written.json}\n        ${written.junit}\n        ${written.summary}\nall runs: ${join(o.reportDir, 'index.html')} (viewer: npx vnvme report serve ${o.reportDir})\n`);
  if (abort.signal.aborted) return 130;
  return s.fail > 0 || s.error > 0 ? 1 : 0;
}

if (process.argv[1]?.endsWith('cli.js') && process.argv[1].includes('runner')) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error & { code?: string; exitCode?: number }) => {
      if (err.code?.startsWith('commander.')) process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2);
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    },
  );
}

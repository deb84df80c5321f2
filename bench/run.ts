// `npm run bench`: 4 KiB random read and write at QD1 and QD32 and 128 KiB sequential read
// through our initiator against a `vnvme target` process, for each doorbell mode (mapped page,
// REGION_WRITE messages, shadow doorbells over messages) in polling and interrupt mode, with the
// target's CPU use; plus the idle CPU of a target with a client attached. Printed as a table
// next to the previous run (bench/results/latest.json) as ratios, never as pass/fail.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runPerf, type PerfReport } from '../harness/initiator/perf.js';
import { NvmeDriver } from '../harness/initiator/nvme-driver.js';
import { parseBenchArgs, rowWanted, usage } from './args.js';
import { hugepagesAvailable, runVsSpdk } from './vs-spdk.js';

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
const bin = join(root, 'bin', 'vnvme.js');
const seconds = Number(process.env.VNVME_BENCH_SECONDS ?? 4);

/** Doorbells, and +intr for a target started with --interrupt-mode (which needs trapped doorbells). */
const MODES = ['mapped', 'message', 'shadow', 'message+intr', 'shadow+intr'] as const;
type Mode = (typeof MODES)[number];
/** What an older checkout (--baseline) can run: it may predate shadow doorbells in perf and interrupt mode. */
const BASELINE_MODES: readonly Mode[] = ['mapped', 'message'];
const WORKLOADS = [
  { workload: 'randread', qd: 1, ioSize: 4096 },
  { workload: 'randread', qd: 32, ioSize: 4096 },
  { workload: 'randwrite', qd: 1, ioSize: 4096 },
  { workload: 'randwrite', qd: 32, ioSize: 4096 },
  { workload: 'read', qd: 32, ioSize: 131072 },
] as const;

interface Row {
  mode: Mode;
  workload: string;
  qd: number;
  ioSize?: number;
  /** Doorbell writes (stores to the page, or REGION_WRITE messages) per I/O. */
  doorbellsPerIo?: number;
  iops: number;
  avgUs: number;
  p99Us: number;
  targetCpuPct: number;
}

function cpuTicks(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]); // utime + stime
}
const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

interface Tree {
  label: string;
  bin: string;
  args: string[];
}

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function startTarget(bin: string, dir: string, mode: Mode, extraArgs: string[]): Promise<{ proc: ChildProcess; traddr: string }> {
  const messageMode = mode !== 'mapped';
  const sock = join(dir, 'spdk.sock');
  // Each side alone on its core (target on CPU 0, the initiator on CPU 1) when taskset exists:
  // the polling engine and the polling perf loop otherwise fight over both cores and the
  // run-to-run spread swamps any difference being measured.
  const target = [process.execPath, bin, 'target', '-r', sock, ...(mode.endsWith('+intr') ? ['--interrupt-mode'] : []), ...extraArgs];
  const argv = PIN ? ['taskset', '-c', '0', ...target] : target;
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  const rpc = (...a: string[]) => {
    const r = spawnSync(process.execPath, [bin, 'rpc', '-s', sock, ...a], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`rpc ${a[0]} failed: ${r.stderr}`);
  };
  const traddr = join(dir, 'vu');
  mkdirSync(traddr, { mode: 0o700 });
  rpc('nvmf_create_transport', '-t', 'VFIOUSER', ...(messageMode ? ['-M'] : []));
  rpc('bdev_malloc_create', '512', '512', '-b', 'Malloc0');
  rpc('nvmf_create_subsystem', 'nqn.2019-07.io.spdk:cnode0', '-a', '-s', 'BENCH0');
  rpc('nvmf_subsystem_add_ns', 'nqn.2019-07.io.spdk:cnode0', 'Malloc0');
  rpc('nvmf_subsystem_add_listener', 'nqn.2019-07.io.spdk:cnode0', '-t', 'VFIOUSER', '-a', traddr, '-s', '0');
  return { proc, traddr };
}

let onlyRows: string[] = [];
const wanted = (mode: string, workload: string, qd: number) => rowWanted(onlyRows, mode, workload, qd);

async function measure(tree: Tree, mode: Mode, idle: Record<string, number> | null): Promise<Row[]> {
  const rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-bench-'));
  const { proc, traddr } = await startTarget(tree.bin, dir, mode, tree.args);
  const shadowDoorbells = mode.startsWith('shadow');
  try {
    const sock = join(traddr, 'cntrl');
    if (idle) {
      // Idle: a client attached with queues, no I/O, for 2 s.
      const drv = await NvmeDriver.attach(sock);
      if (shadowDoorbells) await drv.enableShadowDoorbells();
      await drv.setNumberOfQueues(1);
      await drv.createIoQueuePair(1, 64);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = cpuTicks(proc.pid!);
      await new Promise((r) => setTimeout(r, 2000));
      idle[mode] = ((cpuTicks(proc.pid!) - t0) / HZ / 2) * 100;
      drv.close();
    }
    for (const { workload, qd, ioSize } of WORKLOADS) {
      if (!wanted(mode, workload, qd)) continue;
      process.stderr.write(`bench: ${tree.label} ${mode} ${workload} ${ioSize / 1024} KiB QD${qd} (${seconds} s)...\n`);
      const c0 = cpuTicks(proc.pid!);
      const w0 = Date.now();
      const r: PerfReport = await runPerf(sock, { queueDepth: qd, ioSize, workload, seconds, shadowDoorbells });
      const cpu = ((cpuTicks(proc.pid!) - c0) / HZ / ((Date.now() - w0) / 1000)) * 100;
      rows.push({ mode, workload, qd, ioSize, doorbellsPerIo: r.doorbellWritesPerIo, iops: Math.round(r.iops), avgUs: +r.latencyUs.avg.toFixed(2), p99Us: +r.latencyUs.p99.toFixed(2), targetCpuPct: Math.round(cpu) });
    }
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

const PIN = Number(spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()) >= 2 && spawnSync('taskset', ['-V']).status === 0;

async function main(): Promise<void> {
  const opts = parseBenchArgs(process.argv.slice(2));
  if (opts.help) {
    console.log(usage(MODES));
    return;
  }
  if (PIN) spawnSync('taskset', ['-a', '-cp', '1', String(process.pid)], { stdio: 'ignore' });
  onlyRows = opts.only;
  if (opts.spdk) {
    const only = opts.only;
    return runVsSpdk({ spdk: opts.spdk, rounds: opts.rounds, only: (r) => rowWanted(only, r.mode, r.workload, r.qd), seconds, pin: PIN, ourBin: bin, resultsDir: join(root, 'bench', 'results') });
  }
  // Malloc bdevs on huge pages when enough are free (the target's log says so otherwise), as
  // SPDK's; beside a baseline tree (which may predate the option) both use ordinary pages.
  const trees: Tree[] = [{ label: 'ours', bin, args: opts.baseline ? [] : ['--malloc-hugepages'] }];
  if (opts.baseline) trees.push({ label: 'baseline', bin: join(resolve(opts.baseline), 'bin', 'vnvme.js'), args: [] });
  const huge = hugepagesAvailable(readFileSync('/proc/meminfo', 'utf8'));
  const mallocHugepages = !opts.baseline && huge.available >= 256;
  if (!opts.baseline && !mallocHugepages)
    process.stderr.write(`bench: fewer than 256 free 2 MiB huge pages: the 512 MiB malloc bdev is on ordinary pages (slower random I/O; as root: echo ${huge.total + 256} > /proc/sys/vm/nr_hugepages)\n`);
  const idle: Record<string, number> = {};
  // samples[tree][row key] = one result per round; targets alternate A B, B A, A B ...
  const samples = new Map<string, Map<string, Row[]>>(trees.map((t) => [t.label, new Map()]));
  const key = (r: Row) => `${r.mode} ${r.workload} ${r.qd}`;
  for (const mode of MODES) {
    if (onlyRows.length && !onlyRows.some((o) => o.split(':')[0] === mode)) continue;
    for (let round = 0; round < opts.rounds; round++) {
      const order = (round % 2 ? [...trees].reverse() : trees).filter((t) => t.label === 'ours' || BASELINE_MODES.includes(mode));
      for (const t of order) {
        for (const r of await measure(t, mode, t.label === 'ours' && round === 0 ? idle : null)) {
          const m = samples.get(t.label)!;
          m.set(key(r), [...(m.get(key(r)) ?? []), r]);
        }
      }
    }
  }
  // Each row: the median round of ours (and of the baseline); spread = (max - min) / median.
  const ours = samples.get('ours')!;
  const rows: Row[] = [...ours.values()].map((rs) => {
    const m = median(rs.map((r) => r.iops));
    return { ...rs.reduce((best, r) => (Math.abs(r.iops - m) < Math.abs(best.iops - m) ? r : best)), iops: Math.round(m) };
  });
  const spread = (rs: Row[]) => (rs.length > 1 ? (Math.max(...rs.map((r) => r.iops)) - Math.min(...rs.map((r) => r.iops))) / median(rs.map((r) => r.iops)) : NaN);
  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const latest = join(resultsDir, 'latest.json');
  const prev: { rows: Row[] } | null = existsSync(latest) ? JSON.parse(readFileSync(latest, 'utf8')) : null;
  const base = samples.get('baseline');
  const baseline = base
    ? { tree: resolve(opts.baseline!), rows: [...base.entries()].map(([k, rs]) => ({ key: k, iops: Math.round(median(rs.map((r) => r.iops))), spread: spread(rs) })) }
    : undefined;
  const run = { date: new Date().toISOString(), mallocHugepages, seconds, rounds: opts.rounds, cpus: spawnSync('nproc', { encoding: 'utf8' }).stdout.trim(), rows, spreads: Object.fromEntries([...ours.entries()].map(([k, rs]) => [k, spread(rs)])), idleTargetCpuPct: idle, baseline };
  const fmt = (n: number) => n.toLocaleString('en-US');
  console.log(`\n4 KiB random and 128 KiB sequential I/O through the vnvme initiator (${seconds} s each, median of ${opts.rounds} round(s); target in its own process${PIN ? ', pinned to CPU 0, initiator on CPU 1' : ''}; malloc bdev on ${mallocHugepages ? '2 MiB huge' : 'ordinary'} pages)\n`);
  const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(0)}%` : 'n/a');
  console.log(`| doorbells    | workload  | size  | QD | IOPS      | avg us | p99 us | target CPU | doorbells/IO | spread | vs previous |${baseline ? ' baseline IOPS | spread | ours/baseline |' : ''}`);
  console.log(`|--------------|-----------|-------|----|-----------|--------|--------|------------|--------------|--------|-------------|${baseline ? '---------------|--------|---------------|' : ''}`);
  for (const r of rows) {
    const p = prev?.rows.find((x) => x.mode === r.mode && x.workload === r.workload && x.qd === r.qd);
    const ratio = p ? `${(r.iops / p.iops).toFixed(2)}x` : 'n/a';
    const b = baseline?.rows.find((x) => x.key === key(r));
    const tail = b ? ` ${fmt(b.iops).padStart(13)} | ${pct(b.spread).padStart(6)} | ${`${(r.iops / b.iops).toFixed(2)}x`.padStart(13)} |` : '';
    const size = `${(r.ioSize ?? 4096) / 1024}k`;
    const dbs = r.doorbellsPerIo === undefined ? 'n/a' : r.doorbellsPerIo.toFixed(2);
    console.log(`| ${r.mode.padEnd(12)} | ${r.workload.padEnd(9)} | ${size.padStart(5)} | ${String(r.qd).padStart(2)} | ${fmt(r.iops).padStart(9)} | ${r.avgUs.toFixed(1).padStart(6)} | ${r.p99Us.toFixed(1).padStart(6)} | ${(r.targetCpuPct + '%').padStart(10)} | ${dbs.padStart(12)} | ${pct(spread(ours.get(key(r))!)).padStart(6)} | ${ratio.padStart(11)} |${tail}`);
  }
  if (Object.keys(idle).length)
    console.log(`\nIdle target with a client attached (2 s): ${Object.entries(idle).map(([m, v]) => `${m} ${v.toFixed(1)}% CPU`).join(', ')}`);
  console.log("Against SPDK's own target: npm run bench -- --vs-spdk DIR (an SPDK build).");
  writeFileSync(join(resultsDir, `${run.date.replace(/[:.]/g, '-')}.json`), JSON.stringify(run, null, 2));
  writeFileSync(latest, JSON.stringify(run, null, 2));
  console.log(`\nresults: ${latest}`);
}

main().catch((e) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exit(1);
});

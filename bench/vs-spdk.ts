// `npm run bench -- --vs-spdk DIR`: SPDK's own userspace NVMe driver (spdk_nvme_perf from the
// user's SPDK build) against SPDK's nvmf/vfio-user target and against ours, row by row, the two
// targets alternated A B / B A over the rounds. Both targets are configured by SPDK's
// scripts/rpc.py with the same commands: that SPDK's tools work unchanged against ours is part
// of what this shows. Each target runs alone on CPU 0, perf on CPU 1.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findHugetlbfsMount, releaseGuestMemory, releaseGuestMemorySync, type MemoryReservation } from '../harness/guest/memory.js';
import { acquireHostLock } from '../harness/host-lock.js';
import { run, which } from '../harness/process.js';
import { registerChild, registerCleanup } from '../harness/teardown.js';

export interface SpdkTools {
  dir: string;
  nvmfTgt: string;
  perf: string;
  rpcPy: string;
}

/** The SPDK build in `dir`, or an Error saying in one line what to pass instead. */
export function findSpdk(dir: string): SpdkTools {
  const d = resolve(dir);
  const t: SpdkTools = { dir: d, nvmfTgt: join(d, 'build', 'bin', 'nvmf_tgt'), perf: join(d, 'build', 'bin', 'spdk_nvme_perf'), rpcPy: join(d, 'scripts', 'rpc.py') };
  const missing = [t.nvmfTgt, t.perf, t.rpcPy].filter((p) => !existsSync(p)).map((p) => p.slice(d.length + 1));
  if (missing.length)
    throw new Error(`--vs-spdk ${dir}: no ${missing.join(', ')} there; pass an SPDK tree built with ./configure --with-vfio-user && make (it needs build/bin/nvmf_tgt, build/bin/spdk_nvme_perf, scripts/rpc.py)`);
  return t;
}

/** What one spdk_nvme_perf run printed: the Total line, and with -L the latency percentiles. */
export interface SpdkPerfResult {
  iops: number;
  mibps: number;
  avgUs: number;
  minUs: number;
  maxUs: number;
  /** percentile (e.g. 99) -> microseconds, from "Summary latency data" (perf -L). */
  percentilesUs: Record<string, number>;
}

/** Parses spdk_nvme_perf's report (app/spdk_nvme_perf/perf.c print_performance). */
export function parseSpdkPerf(text: string): SpdkPerfResult {
  const total = /^Total\s*:\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$/m.exec(text);
  if (!total) {
    const last = text.trim().split('\n').slice(-3).join(' | ');
    throw new Error(`spdk_nvme_perf printed no Total line (did any I/O complete?): ${last || 'no output'}`);
  }
  const [iops, mibps, avgUs, minUs, maxUs] = total.slice(1).map(Number) as [number, number, number, number, number];
  const percentilesUs: Record<string, number> = {};
  const summary = text.indexOf('Summary latency data');
  if (summary >= 0) {
    // Only the first summary block (one namespace, one core here): "  99.00000% :    41.219us".
    const block = text.slice(summary).split(/\n\s*\n/)[0]!;
    for (const m of block.matchAll(/^\s*([\d.]+)%\s*:\s*([\d.]+)us\s*$/gm)) percentilesUs[String(Number(m[1]))] = Number(m[2]);
  }
  return { iops, mibps, avgUs, minUs, maxUs, percentilesUs };
}

export interface VsSpdkRow {
  mode: 'mapped';
  workload: 'randread' | 'randwrite' | 'seqread';
  ioSize: number;
  qd: number;
}

/** spdk_nvme_perf cannot run with message-mode doorbells (it maps BAR0's doorbell page), so mapped only. */
export const VS_SPDK_ROWS: readonly VsSpdkRow[] = [
  { mode: 'mapped', workload: 'randread', ioSize: 4096, qd: 1 },
  { mode: 'mapped', workload: 'randread', ioSize: 4096, qd: 32 },
  { mode: 'mapped', workload: 'randwrite', ioSize: 4096, qd: 1 },
  { mode: 'mapped', workload: 'randwrite', ioSize: 4096, qd: 32 },
  { mode: 'mapped', workload: 'seqread', ioSize: 131072, qd: 8 },
];

export const rowKey = (r: VsSpdkRow) => `${r.mode}:${r.workload}:${r.qd}`;

/** spdk_nvme_perf's argv for a row (without the binary). */
export function perfArgs(row: VsSpdkRow, traddr: string, subnqn: string, seconds: number, coreMask: string): string[] {
  const pattern = row.workload === 'seqread' ? 'read' : row.workload;
  return ['-c', coreMask, '-r', `trtype:VFIOUSER traddr:${traddr} subnqn:${subnqn}`, '-q', String(row.qd), '-o', String(row.ioSize), '-w', pattern, '-t', String(seconds), '-L'];
}

export type TargetKind = 'spdk' | 'ours';

export interface Sample {
  target: TargetKind;
  round: number;
  iops: number;
  avgUs: number;
  p99Us: number;
  targetCpuPct: number;
  /** CPU that processes other than the target, perf and the bench took meanwhile, in % of all CPUs. */
  othersPct: number;
}

const NQN = 'nqn.2019-07.io.spdk:cnode0';
const HUGEPAGES_MIB = 2048; // nvmf_tgt's 512 MiB malloc bdev and DPDK heaps, plus perf's buffers

const median = (v: number[]) => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const spreadOf = (v: number[]) => (v.length > 1 ? (Math.max(...v) - Math.min(...v)) / median(v) : NaN);

function cpuTicks(pid: number | 'self', withReapedChildren = false): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // utime + stime, and cutime + cstime: children this process has waited for (perf, once it exited)
  return Number(rest[11]) + Number(rest[12]) + (withReapedChildren ? Number(rest[13]) + Number(rest[14]) : 0);
}
const HZ = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim() || 100);

interface RunningTarget {
  proc: ChildProcess;
  traddr: string;
  stop(): Promise<void>;
}

/** Spawns a long-running target, tracked so Ctrl-C and errors end it; stop() sends SIGTERM, then SIGKILL after 5 s. */
function spawnTarget(argv: string[], logFile: string): { proc: ChildProcess; stop(): Promise<void> } {
  writeFileSync(logFile, `$ ${argv.join(' ')}\n`);
  const fd = openSync(logFile, 'a');
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const untrack = proc.pid !== undefined ? registerChild(proc.pid, argv.join(' ')) : () => {};
  const exited = new Promise<void>((r) => {
    proc.once('exit', () => r());
    proc.once('error', (e) => {
      appendFileSync(logFile, `could not start ${argv[0]}: ${e.message}\n`);
      r();
    });
  });
  return {
    proc,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(t);
      }
      untrack();
    },
  };
}

async function startTarget(kind: TargetKind, spdk: SpdkTools, dir: string, pin: boolean, ourBin: string, wrap: (argv: string[]) => string[]): Promise<RunningTarget> {
  const sock = join(dir, 'rpc.sock');
  const argv =
    kind === 'spdk'
      ? wrap([spdk.nvmfTgt, '-m', '0x1', '-r', sock])
      : // Our malloc bdev on huge pages too, as SPDK's (the SPDK processes are gone by then, so
        // the pages reserved for them are free).
        [...(pin ? ['taskset', '-c', '0'] : []), process.execPath, ourBin, 'target', '-r', sock, '--malloc-hugepages'];
  const t = spawnTarget(argv, join(dir, `${kind}-target.log`));
  try {
    for (let i = 0; i < 200 && !existsSync(sock); i++) {
      if (t.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!existsSync(sock)) throw new Error(`${kind === 'spdk' ? 'nvmf_tgt' : 'vnvme target'} did not open ${sock} in 10 s; its log: ${tailOf(join(dir, `${kind}-target.log`))}`);
    const rpc = (...a: string[]) => run('python3', [spdk.rpcPy, '-s', sock, ...a], { capture: true, hint: `SPDK's rpc.py against ${kind === 'spdk' ? 'nvmf_tgt' : 'vnvme target'} (log ${dir})` });
    const traddr = join(dir, 'vu');
    mkdirSync(traddr, { mode: 0o700 });
    await rpc('nvmf_create_transport', '-t', 'VFIOUSER');
    await rpc('bdev_malloc_create', '512', '512', '-b', 'Malloc0');
    await rpc('nvmf_create_subsystem', NQN, '-a', '-s', 'BENCH0');
    await rpc('nvmf_subsystem_add_ns', NQN, 'Malloc0');
    await rpc('nvmf_subsystem_add_listener', NQN, '-t', 'VFIOUSER', '-a', traddr, '-s', '0');
    return { proc: t.proc, traddr, stop: t.stop };
  } catch (err) {
    await t.stop();
    throw err;
  }
}

function tailOf(file: string, lines = 5): string {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ');
  } catch {
    return '(none)';
  }
}

/** The SPDK build's version and commit as nvmf_tgt reports them, plus the full hash when DIR is a git tree. */
function spdkVersion(spdk: SpdkTools, targetLog: string): { version?: string; commit?: string } {
  const m = /Starting SPDK (\S+) git sha1 (\w+)/.exec(existsSync(targetLog) ? readFileSync(targetLog, 'utf8') : '');
  const git = spawnSync('git', ['-C', spdk.dir, 'rev-parse', 'HEAD'], { encoding: 'utf8' });
  return { version: m?.[1], commit: git.status === 0 ? git.stdout.trim() : m?.[2] };
}

/** The 2 MiB hugepage pool from /proc/meminfo: pages free and not yet promised to a mapping. */
export function hugepagesAvailable(meminfo: string): { total: number; available: number } {
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(meminfo)?.[1] ?? 0);
  if (field('Hugepagesize') !== 2048) return { total: 0, available: 0 };
  return { total: field('HugePages_Total'), available: field('HugePages_Free') - field('HugePages_Rsvd') };
}

/**
 * 2 MiB hugepages for SPDK (nvmf_tgt and perf): the pool grown by what is missing when root, and
 * `wrap`, which runs an SPDK command with a hugetlbfs to allocate from (its own when root, an
 * existing mount otherwise). `giveBack` returns the pages added.
 */
async function hugepagesForSpdk(runDir: string): Promise<{ wrap(argv: string[]): string[]; giveBack(): Promise<void> }> {
  const need = HUGEPAGES_MIB / 2;
  const root = process.getuid?.() === 0;
  const res: MemoryReservation = { pagesAdded: 0 };
  const unregister = registerCleanup('hugepages for SPDK', () => releaseGuestMemory(res), () => releaseGuestMemorySync(res));
  const giveBack = async () => {
    unregister();
    await releaseGuestMemory(res);
  };
  // Guests booting meanwhile count free pages too: the pool is read and grown under their lock.
  const lock = await acquireHostLock('hugepages');
  const done: string[] = [];
  try {
    const before = hugepagesAvailable(readFileSync('/proc/meminfo', 'utf8'));
    if (before.available < need) {
      const nr = '/proc/sys/vm/nr_hugepages';
      if (!root) throw new Error(`--vs-spdk: SPDK needs ${need} free 2 MiB hugepages, ${before.available} are; as root: echo ${before.total + need - before.available} > ${nr}`);
      const was = Number(readFileSync(nr, 'utf8').trim());
      writeFileSync(nr, String(was + need - before.available));
      res.pagesAdded = Number(readFileSync(nr, 'utf8').trim()) - was;
      done.push(`vm.nr_hugepages ${was} -> ${was + res.pagesAdded}`);
      const after = hugepagesAvailable(readFileSync('/proc/meminfo', 'utf8'));
      if (after.available < need) throw new Error(`--vs-spdk: asked the kernel for ${need - before.available} more 2 MiB hugepages, ${after.available} of ${need} are free (memory too fragmented?)`);
    }
    // A hugetlbfs of our own, mounted in a private mount namespace per SPDK process: one in
    // /proc/mounts would be picked up by guests the harness boots meanwhile (it takes the first
    // 2 MiB hugetlbfs it finds) and would have to be unmounted under them.
    let wrap = (argv: string[]) => argv;
    if (root && which('unshare')) {
      const hugeDir = join(runDir, 'hugepages');
      mkdirSync(hugeDir);
      wrap = (argv) => ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', 'mount -t hugetlbfs -o pagesize=2M nodev "$0" && exec "$@"', hugeDir, ...argv];
      done.push(`a hugetlbfs at ${hugeDir} in each SPDK process's own mount namespace`);
    } else if (!findHugetlbfsMount(readFileSync('/proc/mounts', 'utf8'))) {
      throw new Error('--vs-spdk: SPDK needs a hugetlbfs mount (2 MiB pages) and only root can mount one: mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages');
    }
    process.stderr.write(`bench: hugepages for SPDK: ${done.length ? done.join(', ') : `${before.available} free 2 MiB pages, nothing changed`}${res.pagesAdded ? ' (pages given back at the end)' : ''}\n`);
    return { wrap, giveBack };
  } catch (err) {
    lock.release();
    await giveBack();
    throw err;
  } finally {
    lock.release();
  }
}

export interface VsSpdkOptions {
  spdk: SpdkTools;
  rounds: number;
  only: (row: VsSpdkRow) => boolean;
  seconds: number;
  pin: boolean;
  ourBin: string;
  resultsDir: string;
}

/** Busy jiffies of all CPUs together (user, nice, system, irq, softirq, steal) from /proc/stat. */
function busyTicks(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  return f[0]! + f[1]! + f[2]! + f[5]! + f[6]! + f[7]!;
}
const NCPU = Number(spawnSync('nproc', { encoding: 'utf8' }).stdout.trim()) || 1;
/** A sample is taken again when processes other than the target, perf and this bench used more than this share of all CPUs. */
const DISTURBED = 0.05;
const ATTEMPTS = 3;

/** Waits (up to 30 s) until the machine is quiet: other processes below DISTURBED of all CPUs for 1 s. */
async function waitForQuiet(): Promise<number> {
  let share = 1;
  for (let i = 0; i < 30; i++) {
    const b0 = busyTicks();
    const s0 = cpuTicks('self', true);
    await new Promise((r) => setTimeout(r, 1000));
    share = (busyTicks() - b0 - (cpuTicks('self', true) - s0)) / HZ / NCPU;
    if (share < DISTURBED) break;
    if (i === 0) process.stderr.write(`bench: other processes use ${(share * 100).toFixed(0)}% of the CPUs; waiting up to 30 s for quiet...\n`);
  }
  return share;
}

/** Runs spdk_nvme_perf to its end (a child of this process, so its CPU time shows in our cutime once reaped), its output in logFile. */
async function runPerfProcess(argv: string[], logFile: string): Promise<string> {
  writeFileSync(logFile, '');
  const fd = openSync(logFile, 'a');
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const untrack = proc.pid !== undefined ? registerChild(proc.pid, argv.join(' ')) : () => {};
  const killer = setTimeout(() => proc.kill('SIGKILL'), 120_000);
  const status = await new Promise<number | string>((r) => {
    proc.once('exit', (code, sig) => r(code ?? sig ?? 'unknown'));
    proc.once('error', (e) => r(e.message));
  });
  clearTimeout(killer);
  untrack();
  const out = readFileSync(logFile, 'utf8');
  if (status !== 0) throw new Error(`\`${argv.join(' ')}\` ended with ${status}; last output: ${out.trim().split('\n').slice(-4).join(' | ')}`);
  return out;
}

export async function runVsSpdk(o: VsSpdkOptions): Promise<void> {
  const rows = VS_SPDK_ROWS.filter(o.only);
  if (!rows.length) throw new Error(`--only selects none of the --vs-spdk rows (${VS_SPDK_ROWS.map(rowKey).join(', ')})`);
  const runDir = mkdtempSync(join(tmpdir(), 'vnvme-vs-spdk-'));
  const unregisterDir = registerCleanup('vs-spdk scratch', () => rmSync(runDir, { recursive: true, force: true }), () => rmSync(runDir, { recursive: true, force: true }));
  const huge = await hugepagesForSpdk(runDir);
  const builtBefore = ourBuild(o.ourBin).addonBuilt;
  const samples = new Map<string, Sample[]>(rows.map((r) => [rowKey(r), []]));
  let spdkInfo: { version?: string; commit?: string } = {};

  /** One perf run against a fresh target; othersPct: what other processes took of all CPUs meanwhile. */
  const measureOnce = async (kind: TargetKind, row: VsSpdkRow, round: number): Promise<Sample> => {
    await waitForQuiet();
    const dir = mkdtempSync(join(runDir, `${kind}-`));
    const t = await startTarget(kind, o.spdk, dir, o.pin, o.ourBin, huge.wrap);
    try {
      if (kind === 'spdk' && !spdkInfo.version) spdkInfo = spdkVersion(o.spdk, join(dir, 'spdk-target.log'));
      const c0 = cpuTicks(t.proc.pid!);
      const b0 = busyTicks();
      const s0 = cpuTicks('self', true);
      const w0 = Date.now();
      const out = await runPerfProcess(huge.wrap([o.spdk.perf, ...perfArgs(row, t.traddr, NQN, o.seconds, o.pin ? '0x2' : '0x1')]), join(dir, 'perf.log'));
      const wall = (Date.now() - w0) / 1000;
      const target = cpuTicks(t.proc.pid!) - c0;
      const others = busyTicks() - b0 - target - (cpuTicks('self', true) - s0);
      const r = parseSpdkPerf(out);
      rmSync(dir, { recursive: true, force: true });
      return { target: kind, round, iops: Math.round(r.iops), avgUs: r.avgUs, p99Us: r.percentilesUs['99'] ?? NaN, targetCpuPct: Math.round((target / HZ / wall) * 100), othersPct: Math.max(0, Math.round((others / HZ / wall / NCPU) * 100)) };
    } finally {
      await t.stop();
    }
  };

  try {
    for (let round = 0; round < o.rounds; round++) {
      for (const row of rows) {
        const order: TargetKind[] = round % 2 ? ['ours', 'spdk'] : ['spdk', 'ours'];
        for (const kind of order) {
          let best: Sample | undefined;
          for (let attempt = 1; attempt <= ATTEMPTS && (!best || best.othersPct > DISTURBED * 100); attempt++) {
            process.stderr.write(`bench: round ${round + 1}/${o.rounds} ${kind === 'spdk' ? "SPDK's target" : 'vnvme target'} ${row.workload} ${row.ioSize / 1024} KiB QD${row.qd} (${o.seconds} s)${attempt > 1 ? `, again (other processes took ${best!.othersPct}% of the CPUs)` : ''}...\n`);
            const s = await measureOnce(kind, row, round);
            if (!best || s.othersPct < best.othersPct) best = s;
          }
          samples.get(rowKey(row))!.push(best!);
        }
      }
    }
  } finally {
    await huge.giveBack();
    unregisterDir();
    rmSync(runDir, { recursive: true, force: true });
  }
  report(rows, samples, o, spdkInfo, builtBefore);
}

/** Which vnvme was measured: the commit, whether native/ had uncommitted changes, when the addon was built. */
function ourBuild(ourBin: string): { commit?: string; nativeChanged?: boolean; addonBuilt?: string } {
  const tree = resolve(ourBin, '..', '..');
  const git = (...a: string[]) => spawnSync('git', ['-C', tree, ...a], { encoding: 'utf8' });
  const head = git('rev-parse', 'HEAD');
  const addon = join(tree, 'build', 'Release', 'vnvme.node');
  return {
    commit: head.status === 0 ? head.stdout.trim() : undefined,
    nativeChanged: head.status === 0 ? git('status', '--porcelain', '--', 'native').stdout.trim() !== '' : undefined,
    addonBuilt: existsSync(addon) ? statSync(addon).mtime.toISOString() : undefined,
  };
}

interface SideSummary {
  iops: number;
  spread: number;
  avgUs: number;
  p99Us: number;
  targetCpuPct: number;
}

/**
 * The median round's figures (IOPS the median over rounds; latency and CPU of the round nearest
 * it), over the rounds no other process disturbed (all of them when every one was); the spread
 * is over the same rounds.
 */
function summarize(all: Sample[]): SideSummary {
  const clean = all.filter((x) => x.othersPct <= DISTURBED * 100);
  const s = clean.length ? clean : all;
  const m = median(s.map((x) => x.iops));
  const near = s.reduce((best, x) => (Math.abs(x.iops - m) < Math.abs(best.iops - m) ? x : best));
  return { iops: Math.round(m), spread: spreadOf(s.map((x) => x.iops)), avgUs: near.avgUs, p99Us: near.p99Us, targetCpuPct: near.targetCpuPct };
}

/** Each row's two sides, the ratio of their medians and the per-round ratios, from the samples. */
export function vsSpdkTable(rows: readonly VsSpdkRow[], samples: Map<string, Sample[]>) {
  return rows.map((row) => {
    const s = samples.get(rowKey(row))!;
    const spdk = summarize(s.filter((x) => x.target === 'spdk'));
    const ours = summarize(s.filter((x) => x.target === 'ours'));
    // Per-round ratios: each round's pair ran back to back, so their range shows the noise.
    const perRound = [...new Set(s.map((x) => x.round))].map((r) => s.find((x) => x.round === r && x.target === 'ours')!.iops / s.find((x) => x.round === r && x.target === 'spdk')!.iops);
    return { key: rowKey(row), workload: row.workload, ioSize: row.ioSize, qd: row.qd, spdk, ours, ratio: ours.iops / spdk.iops, perRoundRatios: perRound.map((x) => +x.toFixed(3)), samples: s };
  });
}

function report(rows: VsSpdkRow[], samples: Map<string, Sample[]>, o: VsSpdkOptions, spdkInfo: { version?: string; commit?: string }, builtBefore: string | undefined): void {
  const fmt = (n: number) => n.toLocaleString('en-US');
  const pct = (v: number) => (Number.isFinite(v) ? `${(v * 100).toFixed(0)}%` : 'n/a');
  const us = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : 'n/a');
  const table = vsSpdkTable(rows, samples);
  const when = new Date().toISOString();
  console.log(`\nspdk_nvme_perf (${o.spdk.perf}) against SPDK's nvmf_tgt and against vnvme target, both set up by SPDK's rpc.py with a 512 MiB malloc bdev;`);
  console.log(`SPDK ${spdkInfo.version ?? '?'} (${spdkInfo.commit ?? 'commit unknown'}); ${o.seconds} s per run, median of ${o.rounds} round(s) alternated A B / B A${o.pin ? ', each target alone on CPU 0, perf on CPU 1' : ''}\n`);
  console.log('| workload  | size    | QD | SPDK IOPS | avg us | p99 us | spread | ours IOPS | avg us | p99 us | our CPU | spread | ours/SPDK | per round  |');
  console.log('|-----------|---------|----|-----------|--------|--------|--------|-----------|--------|--------|---------|--------|-----------|------------|');
  for (const r of table) {
    const range = r.perRoundRatios.length > 1 ? `${Math.min(...r.perRoundRatios).toFixed(2)}..${Math.max(...r.perRoundRatios).toFixed(2)}` : 'n/a';
    console.log(
      `| ${r.workload.padEnd(9)} | ${`${r.ioSize / 1024} KiB`.padEnd(7)} | ${String(r.qd).padStart(2)} | ${fmt(r.spdk.iops).padStart(9)} | ${us(r.spdk.avgUs).padStart(6)} | ${us(r.spdk.p99Us).padStart(6)} | ${pct(r.spdk.spread).padStart(6)} | ${fmt(r.ours.iops).padStart(9)} | ${us(r.ours.avgUs).padStart(6)} | ${us(r.ours.p99Us).padStart(6)} | ${`${r.ours.targetCpuPct}%`.padStart(7)} | ${pct(r.ours.spread).padStart(6)} | ${`${r.ratio.toFixed(2)}x`.padStart(9)} | ${range.padEnd(10)} |`,
    );
  }
  const disturbed = table.flatMap((r) => r.samples.filter((x) => x.othersPct > DISTURBED * 100).map((x) => `${r.key} ${x.target} round ${x.round + 1} (${x.othersPct}%)`));
  console.log(
    disturbed.length
      ? `\n${disturbed.length} of ${table.length * 2 * o.rounds} runs had other processes taking more than ${DISTURBED * 100}% of the CPUs even after ${ATTEMPTS} attempts: ${disturbed.join(', ')}`
      : `\nNo run had other processes taking more than ${DISTURBED * 100}% of the CPUs (runs above that were taken again, up to ${ATTEMPTS} times).`,
  );
  if (disturbed.length) console.log('Medians and spreads are over the undisturbed rounds where a row has any; the per-round ratios include every round.');
  // Each run starts a fresh target, which loads the addon then: one rebuilt meanwhile mixes two builds.
  const ours = { ...ourBuild(o.ourBin), addonRebuiltDuringRun: ourBuild(o.ourBin).addonBuilt !== builtBefore };
  if (ours.addonRebuiltDuringRun) console.log(`WARNING: build/Release/vnvme.node was rebuilt during this run (${builtBefore} -> ${ours.addonBuilt}): later rounds measured another build`);
  const run = { kind: 'vs-spdk', date: when, seconds: o.seconds, rounds: o.rounds, pinned: o.pin, cpus: NCPU, spdk: { dir: o.spdk.dir, ...spdkInfo }, ours, rows: table };
  mkdirSync(o.resultsDir, { recursive: true });
  const file = join(o.resultsDir, `${when.replace(/[:.]/g, '-')}-vs-spdk.json`);
  writeFileSync(file, JSON.stringify(run, null, 2));
  writeFileSync(join(o.resultsDir, 'latest-vs-spdk.json'), JSON.stringify(run, null, 2));
  console.log(`\nresults: ${file}`);
}

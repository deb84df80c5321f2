// `npm run bench`: 4 KiB random read and write at QD1 and QD32 through our initiator against
// a `vnvme target` process, in both doorbell modes, with the target's CPU use; plus the idle
// CPU of a target with a client attached. Printed as a table next to the previous run
// (bench/results/latest.json) as ratios, never as pass/fail.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runPerf, type PerfReport } from '../harness/initiator/perf.js';
import { NvmeDriver } from '../harness/initiator/nvme-driver.js';

const root = resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');
const bin = join(root, 'bin', 'vnvme.js');
const seconds = Number(process.env.VNVME_BENCH_SECONDS ?? 4);

interface Row {
  mode: 'mapped' | 'message';
  workload: string;
  qd: number;
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

async function startTarget(dir: string, messageMode: boolean): Promise<{ proc: ChildProcess; traddr: string }> {
  const sock = join(dir, 'spdk.sock');
  const proc = spawn(process.execPath, [bin, 'target', '-r', sock], { stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
  const rpc = (...a: string[]) => {
    const r = spawnSync(process.execPath, [bin, 'rpc', '-s', sock, ...a], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`rpc ${a[0]} failed: ${r.stderr}`);
  };
  const traddr = join(dir, 'vu');
  mkdirSync(traddr);
  rpc('nvmf_create_transport', '-t', 'VFIOUSER', ...(messageMode ? ['-M'] : []));
  rpc('bdev_malloc_create', '512', '512', '-b', 'Malloc0');
  rpc('nvmf_create_subsystem', 'nqn.2019-07.io.spdk:cnode0', '-a', '-s', 'BENCH0');
  rpc('nvmf_subsystem_add_ns', 'nqn.2019-07.io.spdk:cnode0', 'Malloc0');
  rpc('nvmf_subsystem_add_listener', 'nqn.2019-07.io.spdk:cnode0', '-t', 'VFIOUSER', '-a', traddr, '-s', '0');
  return { proc, traddr };
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const idle: Record<string, number> = {};
  for (const mode of ['mapped', 'message'] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'vnvme-bench-'));
    const { proc, traddr } = await startTarget(dir, mode === 'message');
    try {
      const sock = join(traddr, 'cntrl');
      // Idle: a client attached with queues, no I/O, for 2 s.
      const drv = await NvmeDriver.attach(sock);
      await drv.setNumberOfQueues(1);
      await drv.createIoQueuePair(1, 64);
      await new Promise((r) => setTimeout(r, 300));
      const t0 = cpuTicks(proc.pid!);
      await new Promise((r) => setTimeout(r, 2000));
      idle[mode] = ((cpuTicks(proc.pid!) - t0) / HZ / 2) * 100;
      drv.close();
      for (const workload of ['randread', 'randwrite'] as const) {
        for (const qd of [1, 32]) {
          process.stderr.write(`bench: ${mode} ${workload} QD${qd} (${seconds} s)...\n`);
          const c0 = cpuTicks(proc.pid!);
          const w0 = Date.now();
          const r: PerfReport = await runPerf(sock, { queueDepth: qd, ioSize: 4096, workload, seconds });
          const cpu = ((cpuTicks(proc.pid!) - c0) / HZ / ((Date.now() - w0) / 1000)) * 100;
          rows.push({ mode, workload, qd, iops: Math.round(r.iops), avgUs: +r.latencyUs.avg.toFixed(2), p99Us: +r.latencyUs.p99.toFixed(2), targetCpuPct: Math.round(cpu) });
        }
      }
    } finally {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const resultsDir = join(root, 'bench', 'results');
  mkdirSync(resultsDir, { recursive: true });
  const latest = join(resultsDir, 'latest.json');
  const prev: { rows: Row[] } | null = existsSync(latest) ? JSON.parse(readFileSync(latest, 'utf8')) : null;
  const run = { date: new Date().toISOString(), seconds, cpus: spawnSync('nproc', { encoding: 'utf8' }).stdout.trim(), rows, idleTargetCpuPct: idle };
  const fmt = (n: number) => n.toLocaleString('en-US');
  console.log(`\n4 KiB random I/O through the vnvme initiator (${seconds} s each; target in its own process)\n`);
  console.log('| doorbells | workload  | QD | IOPS      | avg us | p99 us | target CPU | vs previous |');
  console.log('|-----------|-----------|----|-----------|--------|--------|------------|-------------|');
  for (const r of rows) {
    const p = prev?.rows.find((x) => x.mode === r.mode && x.workload === r.workload && x.qd === r.qd);
    const ratio = p ? `${(r.iops / p.iops).toFixed(2)}x` : 'n/a';
    console.log(`| ${r.mode.padEnd(9)} | ${r.workload.padEnd(9)} | ${String(r.qd).padStart(2)} | ${fmt(r.iops).padStart(9)} | ${r.avgUs.toFixed(1).padStart(6)} | ${r.p99Us.toFixed(1).padStart(6)} | ${(r.targetCpuPct + '%').padStart(10)} | ${ratio.padStart(11)} |`);
  }
  console.log(`\nIdle target with a client attached: mapped ${idle.mapped!.toFixed(1)}% CPU, message ${idle.message!.toFixed(1)}% CPU`);
  console.log('Reference bar (issue 3): SPDK vfio-user target ~0.8-1.1 M IOPS at QD32, ~0.5 M at QD1 on these 2-core machines.');
  writeFileSync(join(resultsDir, `${run.date.replace(/[:.]/g, '-')}.json`), JSON.stringify(run, null, 2));
  writeFileSync(latest, JSON.stringify(run, null, 2));
  console.log(`\nresults: ${latest}`);
}

main().catch((e) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exit(1);
});

// `vnvme perf`: spdk_nvme_perf for our initiator. One I/O queue pair per worker (-c), each
// driven by the native loop (native/perf.cc) for -t seconds; results merged into IOPS,
// MiB/s and latency percentiles from the workers' histograms.
import { native, type PerfResult } from '../../native/index.js';
import { NvmeDriver } from './nvme-driver.js';
import { Command } from 'commander';
import { checkTraddr } from './endpoint.js';
import { parseTrid } from './trid.js';

export type Workload = 'read' | 'write' | 'randread' | 'randwrite' | 'rw' | 'randrw';

export interface PerfOptions {
  queueDepth: number;
  ioSize: number;
  workload: Workload;
  readPct?: number;
  seconds: number;
  workers?: number;
  nsid?: number;
  /** Doorbell Buffer Config before creating the queues (message doorbells, OACS bit 8). */
  shadowDoorbells?: boolean;
}

export type DoorbellMode = 'mapped' | 'message' | 'shadow';

export interface PerfReport {
  workload: Workload;
  queueDepth: number;
  ioSize: number;
  workers: number;
  seconds: number;
  ios: number;
  iops: number;
  mibps: number;
  errors: number;
  latencyUs: { avg: number; min: number; max: number; p50: number; p90: number; p99: number; p999: number; p9999: number };
  histogram: [number, number][];
  doorbells: DoorbellMode;
  /** Real doorbell writes (mapped stores or REGION_WRITE messages) per I/O, and shadow updates that needed none. */
  doorbellWritesPerIo: number;
  doorbellsSkipped: number;
}

export async function runPerf(socketPath: string, o: PerfOptions): Promise<PerfReport> {
  const workers = o.workers ?? 1;
  const perWorker = o.queueDepth * (o.ioSize + 4096) + 2 * 4096 * 4 + 64 * 4096;
  const drv = await NvmeDriver.attach(socketPath, { memoryBytes: Math.max(32 << 20, workers * perWorker + (8 << 20)) });
  try {
    const nsid = o.nsid ?? 1;
    const idns = await drv.identify(0, nsid);
    const nsBlocks = Number(idns.readBigUInt64LE(0));
    if (nsBlocks === 0) throw new Error(`namespace ${nsid} is not active`);
    const blockSize = 2 ** ((idns.readUInt32LE(128 + 4 * (idns[26]! & 0xf)) >> 16) & 0xff);
    if (o.shadowDoorbells) {
      if (drv.doorbellPage) throw new Error('shadow doorbells need a target whose doorbells trap (nvmf_create_transport -t VFIOUSER -M); this one maps BAR0');
      const oacs = (await drv.identify(1)).readUInt16LE(256);
      if (!(oacs & (1 << 8))) throw new Error('the controller does not offer shadow doorbells (OACS bit 8; disable_shadow_doorbells?)');
      await drv.enableShadowDoorbells();
    }
    const granted = await drv.setNumberOfQueues(workers);
    if (granted.nsq < workers) throw new Error(`controller granted ${granted.nsq} queues, ${workers} asked`);
    const qsize = Math.min(o.queueDepth + 1 > 2 ? Math.max(o.queueDepth * 2, 32) : 32, Number(drv.cap & 0xffffn) + 1);
    if (o.queueDepth >= qsize) throw new Error(`queue depth ${o.queueDepth} needs a queue larger than MQES allows (${qsize})`);
    const readPct = o.workload.endsWith('read') ? 100 : o.workload.endsWith('write') ? 0 : (o.readPct ?? 50);
    const random = o.workload.startsWith('rand');
    const jobs: Promise<PerfResult>[] = [];
    for (let w = 0; w < workers; w++) {
      const q = await drv.createIoQueuePair(w + 1, qsize);
      drv.nativeOwned.add(q.qid);
      const buf = drv.alloc(o.queueDepth * (o.ioSize + 4096));
      jobs.push(
        native.runPerf({
          memory: drv.mem.mem,
          memIova: NvmeDriver.MEM_IOVA,
          sqIova: q.sqIova,
          cqIova: q.cqIova,
          bufIova: buf,
          qsize,
          qid: q.qid,
          nsid,
          blockSize,
          ioSize: o.ioSize,
          qd: o.queueDepth,
          readPct,
          random,
          seconds: o.seconds,
          nsBlocks,
          doorbells: drv.doorbellPage ?? undefined,
          sockFd: drv.client.socketFd,
          shadowDbsIova: drv.shadow?.dbs,
          shadowEiIova: drv.shadow?.ei,
          sqTail: q.sqTail,
          cqHead: q.cqHead,
          phase: q.phase,
          cidBase: 0,
        }),
      );
    }
    const results = await Promise.all(jobs);
    const failed = results.find((r) => r.error);
    if (failed) throw new Error(`perf: ${failed.error}`);
    return merge(o, workers, results, drv.doorbellPage ? 'mapped' : drv.shadow ? 'shadow' : 'message');
  } finally {
    drv.close();
  }
}

function merge(o: PerfOptions, workers: number, rs: PerfResult[], doorbells: DoorbellMode): PerfReport {
  const ios = rs.reduce((n, r) => n + r.ios, 0);
  const elapsed = Math.max(...rs.map((r) => r.elapsed));
  const hist = new Map<number, number>();
  for (const r of rs) for (const [v, c] of r.histogram) hist.set(v, (hist.get(v) ?? 0) + c);
  const sorted = [...hist.entries()].sort((a, b) => a[0] - b[0]);
  const pct = (p: number) => {
    const want = Math.ceil((p / 100) * ios);
    let acc = 0;
    for (const [v, c] of sorted) if ((acc += c) >= want) return v / 1000;
    return 0;
  };
  return {
    workload: o.workload,
    queueDepth: o.queueDepth,
    ioSize: o.ioSize,
    workers,
    seconds: elapsed,
    ios,
    iops: ios / elapsed,
    mibps: (rs.reduce((n, r) => n + r.bytes, 0) / elapsed) / (1 << 20),
    errors: rs.reduce((n, r) => n + r.errors, 0),
    latencyUs: {
      avg: rs.reduce((n, r) => n + r.avgNs * r.ios, 0) / Math.max(1, ios) / 1000,
      min: Math.min(...rs.map((r) => r.minNs)) / 1000,
      max: Math.max(...rs.map((r) => r.maxNs)) / 1000,
      p50: pct(50),
      p90: pct(90),
      p99: pct(99),
      p999: pct(99.9),
      p9999: pct(99.99),
    },
    histogram: sorted,
    doorbells,
    doorbellWritesPerIo: rs.reduce((n, r) => n + r.doorbellWrites, 0) / Math.max(1, ios),
    doorbellsSkipped: rs.reduce((n, r) => n + r.doorbellsSkipped, 0),
  };
}

export function formatPerf(r: PerfReport, histogram = false): string {
  const f = (n: number, d = 2) => n.toFixed(d);
  const lines = [
    `Doorbells: ${r.doorbells} (${f(r.doorbellWritesPerIo)} writes per I/O); ${r.workload} ${r.ioSize} B, QD ${r.queueDepth} x ${r.workers} worker(s), ${f(r.seconds, 1)} s`,
    '========================================================',
    `${'Device Information'.padEnd(40)}:       IOPS      MiB/s    Average        min        max`,
    `${'vfio-user NVMe (nsid 1)'.padEnd(40)}: ${f(r.iops).padStart(10)} ${f(r.mibps).padStart(10)} ${f(r.latencyUs.avg).padStart(10)} ${f(r.latencyUs.min).padStart(10)} ${f(r.latencyUs.max).padStart(10)}`,
    '',
    'Summary latency data (us):',
    ...(['p50', 'p90', 'p99', 'p999', 'p9999'] as const).map((k) => `  ${k.padEnd(6)}: ${f(r.latencyUs[k])}us`),
  ];
  if (r.errors) lines.push(`ERRORS: ${r.errors} commands failed`);
  if (histogram) {
    lines.push('', 'Latency histogram (us: count):');
    for (const [v, c] of r.histogram) lines.push(`  ${(v / 1000).toFixed(3).padStart(12)} : ${c}`);
  }
  return lines.join('\n');
}

export function register(program: Command): void {
  program
    .command('perf')
    .description('measure I/O performance through the initiator (flags as spdk_nvme_perf)')
    .requiredOption('-r, --transport-id <trid>', "transport ID, e.g. 'trtype:VFIOUSER traddr:/var/run/vnvme'")
    .requiredOption('-q, --io-depth <n>', 'queue depth per worker', (v) => parseInt(v, 10))
    .requiredOption('-o, --io-size <bytes>', 'I/O size in bytes (multiple of 4096)', (v) => parseInt(v, 10))
    .requiredOption('-w, --io-pattern <pattern>', 'read|write|randread|randwrite|rw|randrw')
    .option('-M, --rwmixread <pct>', 'percentage of reads for rw/randrw', (v) => parseInt(v, 10))
    .requiredOption('-t, --time <sec>', 'run time in seconds', (v) => parseFloat(v))
    .option('-c, --core-mask <n>', 'number of workers (each its own queue pair)', (v) => parseInt(v.startsWith('0x') ? popcount(parseInt(v, 16)).toString() : v, 10))
    .option('-L, --enable-sw-latency-tracking', 'print the latency histogram')
    .option('-n, --nsid <nsid>', 'namespace', (v) => parseInt(v, 10), 1)
    .option('--shadow-doorbells', 'use shadow doorbells (Doorbell Buffer Config), as the Linux driver does, on a target whose doorbells trap')
    .option('--json', 'print the result as JSON')
    .action(async (opts) => {
      const trid = parseTrid(opts.transportId);
      await checkTraddr(trid.traddr);
      const workloads = ['read', 'write', 'randread', 'randwrite', 'rw', 'randrw'];
      if (!workloads.includes(opts.ioPattern)) throw new Error(`-w must be one of ${workloads.join(', ')}`);
      if (opts.ioSize % 4096 || opts.ioSize <= 0) throw new Error('-o must be a positive multiple of 4096');
      const r = await runPerf(trid.socketPath, {
        queueDepth: opts.ioDepth,
        ioSize: opts.ioSize,
        workload: opts.ioPattern,
        readPct: opts.rwmixread,
        seconds: opts.time,
        workers: opts.coreMask ?? 1,
        nsid: opts.nsid,
        shadowDoorbells: opts.shadowDoorbells === true,
      });
      console.log(opts.json ? JSON.stringify(r, null, 2) : formatPerf(r, !!opts.enableSwLatencyTracking));
      if (r.errors) process.exitCode = 1;
    });
}

function popcount(x: number): number {
  let n = 0;
  for (; x; x &= x - 1) n++;
  return n;
}

// fio --output-format=json as the report records it: one FioRun per fio invocation (jobs
// summed; group_reporting gives one job anyway), clat percentiles in microseconds.
import type { FioRun } from '../../reports/report-schema.js';

interface FioDir {
  iops?: number;
  bw?: number;
  io_bytes?: number;
  clat_ns?: { percentile?: Record<string, number>; mean?: number };
}
interface FioJob {
  jobname?: string;
  error?: number;
  'job options'?: Record<string, string>;
  read?: FioDir;
  write?: FioDir;
}
export interface FioJson {
  'fio version'?: string;
  'global options'?: Record<string, string>;
  jobs: FioJob[];
  disk_util?: unknown;
}

/** fio may print warnings before the JSON; take the first top-level object. */
export function parseFioJson(stdout: string): FioJson {
  const start = stdout.indexOf('{');
  if (start < 0) throw new Error(`fio printed no JSON: ${stdout.slice(0, 400)}`);
  const j = JSON.parse(stdout.slice(start)) as FioJson;
  if (!Array.isArray(j.jobs)) throw new Error('fio JSON has no jobs array');
  return j;
}

const PCTS: Record<string, string> = { '50': '50.000000', '90': '90.000000', '99': '99.000000', '99.9': '99.900000' };

function percentiles(jobs: FioJob[], dir: 'read' | 'write'): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, key] of Object.entries(PCTS)) {
    const vals = jobs.map((j) => j[dir]?.clat_ns?.percentile?.[key]).filter((v): v is number => typeof v === 'number' && v > 0);
    if (vals.length) out[k] = Math.max(...vals) / 1000;
  }
  return out;
}

export function fioRunFrom(name: string, series: string, command: string, j: FioJson): FioRun {
  const opt = (k: string): string => j.jobs[0]?.['job options']?.[k] ?? j['global options']?.[k] ?? '';
  const sum = (dir: 'read' | 'write', k: 'iops' | 'bw'): number => j.jobs.reduce((a, job) => a + (job[dir]?.[k] ?? 0), 0);
  // Keep fio's JSON but without the bulky per-job latency bucket tables.
  const trimmed = {
    'fio version': j['fio version'],
    'global options': j['global options'],
    jobs: j.jobs.map((job) => ({ jobname: job.jobname, error: job.error, 'job options': job['job options'], read: job.read, write: job.write })),
    disk_util: j.disk_util,
  };
  return {
    name,
    series,
    command,
    rw: opt('rw'),
    bs: opt('bs') || opt('bsrange'),
    iodepth: Number(opt('iodepth') || 1),
    numjobs: Number(opt('numjobs') || 1),
    readIops: sum('read', 'iops'),
    writeIops: sum('write', 'iops'),
    readBwKiBps: sum('read', 'bw'),
    writeBwKiBps: sum('write', 'bw'),
    readClatUs: percentiles(j.jobs, 'read'),
    writeClatUs: percentiles(j.jobs, 'write'),
    errors: j.jobs.reduce((a, job) => a + (job.error ?? 0), 0),
    json: trimmed,
  };
}

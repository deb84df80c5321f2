// `npm run bench` options, parsed without side effects so tests can check them.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { findSpdk, type SpdkTools } from './vs-spdk.js';

/** `--help`; `modes` are the initiator bench's doorbell modes (bench/run.ts). */
export const usage = (modes: readonly string[]) => `usage: npm run bench -- [--baseline DIR | --vs-spdk DIR] [--rounds N] [--only ROWS]

  --baseline DIR  a built vnvme checkout (npm install done there) whose target runs beside
                  ours in the same run, alternated A B A B, each row reported as a ratio
                  ours/baseline with the run-to-run spread (e.g. git worktree add DIR <commit>)
  --vs-spdk DIR   an SPDK build (DIR/build/bin/nvmf_tgt and spdk_nvme_perf, configured
                  --with-vfio-user): SPDK's perf against SPDK's nvmf_tgt and against ours, both
                  targets set up by DIR/scripts/rpc.py, alternated, reported as ours/SPDK
                  (needs 1024 free 2 MiB hugepages for SPDK: reserved and given back when root)
  --rounds N      alternations per target (default 1 alone, 3 with --baseline or --vs-spdk)
  --only ROWS     rows to run, comma-separated, e.g. mapped or shadow+intr:randread:1
                  (doorbells[:workload[:QD]]; doorbells: ${modes.join(', ')};
                  +intr = target started with --interrupt-mode); --vs-spdk rows are
                  mapped:{randread,randwrite}:{1,32} and mapped:seqread:8 (128 KiB)
  VNVME_BENCH_SECONDS  seconds per row (default 4)`;

export interface BenchOptions {
  help?: boolean;
  baseline?: string;
  spdk?: SpdkTools;
  rounds: number;
  only: string[];
}

/** The options, or an Error whose message is one line saying what to pass instead. */
export function parseBenchArgs(argv: string[]): BenchOptions {
  let baseline: string | undefined;
  let vsSpdk: string | undefined;
  let rounds = 0;
  let only: string[] = [];
  const value = (i: number, opt: string) => {
    const v = argv[i];
    if (v === undefined || v.startsWith('--')) throw new Error(`${opt} needs a value (see --help)`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--baseline') baseline = value(++i, a);
    else if (a === '--vs-spdk') vsSpdk = value(++i, a);
    else if (a === '--rounds') {
      rounds = Number(value(++i, a));
      if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds ${argv[i]}: a whole number of rounds, 1 or more`);
    } else if (a === '--only') only = value(++i, a).split(',').filter(Boolean);
    else if (a === '--help' || a === '-h') return { help: true, rounds: 1, only: [] };
    else throw new Error(`unknown option ${a} (see --help)`);
  }
  if (baseline && vsSpdk) throw new Error('--baseline and --vs-spdk are separate runs; pass one of them');
  if (baseline && !existsSync(join(baseline, 'bin', 'vnvme.js'))) throw new Error(`--baseline ${baseline}: no bin/vnvme.js there; point it at a vnvme checkout`);
  if (baseline && !existsSync(join(baseline, 'build', 'Release', 'vnvme.node'))) throw new Error(`--baseline ${baseline}: not built; run npm install there first`);
  const spdk = vsSpdk === undefined ? undefined : findSpdk(vsSpdk);
  if (spdk && only.some((o) => !'mapped'.startsWith(o.split(':')[0]!)))
    throw new Error("--vs-spdk has mapped rows only: SPDK's spdk_nvme_perf maps BAR0's doorbells itself (nvme_vfio_setup_bar0); use --only mapped:...");
  return { baseline, spdk, rounds: rounds || (baseline || spdk ? 3 : 1), only };
}

/** Whether the row doorbells:workload:QD is selected by --only (every row when none is given). */
export function rowWanted(only: readonly string[], mode: string, workload: string, qd: number): boolean {
  return !only.length || only.some((o) => `${mode}:${workload}:${qd}`.startsWith(o));
}

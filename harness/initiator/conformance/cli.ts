// `vnvme conformance -r 'trtype:VFIOUSER traddr:DIR [subnqn:NQN]'`: runs the host-side
// conformance suite against a running target (or, with --in-process, a target of its own)
// and prints a table and a summary; exits non-zero when any case fails.
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { checkTraddr } from '../endpoint.js';
import { parseTrid } from '../trid.js';
import { runConformance } from './index.js';
import { formatReport, formatResultLine } from './report.js';

export function register(program: Command): void {
  program
    .command('conformance')
    .description('run the NVMe/vfio-user conformance suite against a controller (destructive: writes and formats namespace data)')
    .option('-r, --trid <trid>', "transport ID, e.g. 'trtype:VFIOUSER traddr:/var/run/vfio-user'")
    .option('--in-process', 'start a target of our own (malloc namespaces in a temporary directory)')
    .option('--mode <mode>', 'doorbells: mapped (use the mmapped page when offered) or message', 'mapped')
    .option('--interrupt-mode', 'with --in-process: the target sleeps whenever idle (implies --mode message)')
    .option('--json <file>', 'also write the structured results to FILE')
    .option('--filter <substr>', 'only cases whose id contains SUBSTR')
    .option('-v, --verbose', 'print procedure, expectation and evidence for every case')
    .option('--progress', 'print each result as it completes')
    .action(async (o: { trid?: string; inProcess?: boolean; interruptMode?: boolean; mode: string; json?: string; filter?: string; verbose?: boolean; progress?: boolean }) => {
      if (o.interruptMode) o.mode = 'message';
      if (o.mode !== 'mapped' && o.mode !== 'message') throw new Error(`--mode ${o.mode}: mapped or message`);
      if (!o.trid && !o.inProcess) throw new Error('give -r TRID (a running target) or --in-process');
      if (o.interruptMode && !o.inProcess) throw new Error('--interrupt-mode is for --in-process (start a target of your own with vnvme target --interrupt-mode)');
      const trid = o.trid ? parseTrid(o.trid) : null;
      if (trid) await checkTraddr(trid.traddr);
      const rep = await runConformance({
        socketPath: trid?.socketPath,
        subnqn: trid?.subnqn,
        mode: o.mode,
        interruptMode: o.interruptMode,
        filter: o.filter,
        onResult: o.progress ? (r) => console.error(formatResultLine(r)) : undefined,
      });
      console.log(formatReport(rep, { verbose: o.verbose }));
      if (o.json) writeFileSync(o.json, JSON.stringify(rep, null, 2));
      if (rep.summary.fail > 0 || rep.summary.total === 0) process.exitCode = 1;
    });
}

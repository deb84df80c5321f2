// `vnvme report serve [DIR] | build DIR OUT | merge OUT DIR...`: the conformance report viewer
// over a runs directory (default reports/runs). Registered from harness/cli.ts.
import type { Command } from 'commander';

function port(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`--port must be 0..65535 (got "${v}")`);
  return n;
}

export function register(program: Command): void {
  const report = program.command('report').description('the run viewer: browse runs, check history, diffs, spec coverage, evidence, performance');
  report
    .command('serve')
    .description('serve the viewer of a runs directory on 127.0.0.1 (new runs show on reload)')
    .argument('[dir]', 'runs directory', 'reports/runs')
    .option('-p, --port <port>', 'TCP port on 127.0.0.1 (0: any free port)', port, 9323)
    .action(async (dir: string, o: { port: number }) => {
      const { serveViewer } = await import('./viewer/site.js');
      const s = await serveViewer(dir, { port: o.port, source: dir });
      process.stdout.write(`vnvme viewer of ${dir}: ${s.url}\n(Ctrl-C to stop)\n`);
      await new Promise<void>((done) => {
        const stop = (): void => {
          void s.close().then(done);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
  report
    .command('build')
    .description('write a self-contained copy of the viewer with the runs of DIR into OUT (open OUT/index.html from disk or a CI artifact)')
    .argument('<dir>', 'runs directory')
    .argument('<out>', 'output directory')
    .option('--max-file-mib <n>', 'leave out run files (logs) larger than this', (v: string) => Number(v), 16)
    .action(async (dir: string, out: string, o: { maxFileMib: number }) => {
      const { buildSite } = await import('./viewer/site.js');
      const r = await buildSite(dir, out, { maxFileBytes: o.maxFileMib * 1024 * 1024, source: dir });
      process.stdout.write(`wrote ${out}/index.html: ${r.runs} runs, ${r.files} run files copied${r.skipped.length ? `; left out (over ${o.maxFileMib} MiB): ${r.skipped.join(', ')}` : ''}\n`);
    });
  report
    .command('merge')
    .description('join runs directories (machines, CI shards) into OUT, which the viewer then shows as one')
    .argument('<out>', 'the merged runs directory (created if needed)')
    .argument('<dirs...>', 'runs directories to merge')
    .action(async (out: string, dirs: string[]) => {
      const { mergeRuns } = await import('./viewer/merge.js');
      const r = mergeRuns(out, dirs);
      for (const c of r.copied) process.stdout.write(`copied ${c.from} -> ${c.to}\n`);
      for (const s of r.skipped) process.stdout.write(`skipped ${s}\n`);
      process.stdout.write(`${out}: ${r.copied.length} runs added; index ${r.index}\n`);
    });
}

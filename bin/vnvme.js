#!/usr/bin/env node
// Entry point for `npx vnvme ...`; the CLI itself is compiled TypeScript.
import('../dist/harness/cli.js').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  // Usage mistakes (EndpointError and the like) carry exit status 2, as argparse's do.
  process.exit(typeof err?.exitCode === 'number' ? err.exitCode : 1);
});

#!/usr/bin/env node
// Entry point for `npx vnvme ...`; the CLI itself is compiled TypeScript.
import('../dist/harness/cli.js').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

#!/usr/bin/env node
// `npm install`'s prepare step: compiles the TypeScript. Under `npx vnvme` (npm exec), npm
// re-runs the project's own install and prepare scripts before running its bin; there the
// checkout's build is used as it is, so a first `npx` in a clone starts at once and never
// rewrites dist/ under a running vnvme process.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.env.npm_command === 'exec' && existsSync(join(root, 'dist', 'harness', 'cli.js'))) process.exit(0);
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
const r = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { cwd: root, stdio: 'inherit' });
process.exit(r.status ?? 1);

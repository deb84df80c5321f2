#!/usr/bin/env node
// `npm install`'s install step: builds the native addon incrementally (node-gyp configure when
// there is no build tree yet, then node-gyp build: only stale objects rebuild, and a working
// build/Release/vnvme.node is never deleted first, as `node-gyp rebuild` would), and links
// node_modules/.bin/vnvme to bin/vnvme.js so `npx vnvme` inside the checkout finds the
// checkout's own command at once instead of installing the package into itself (which re-ran
// these scripts on every first `npx` in a clone).
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readlinkSync, rmSync, symlinkSync, chmodSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// npm names its bundled node-gyp in npm_config_node_gyp for install scripts; run by hand, use
// the copy that ships with this node's npm.
const gypJs = process.env.npm_config_node_gyp ?? join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
const gyp = (args) => spawnSync(process.execPath, [gypJs, ...args], { cwd: root, stdio: 'inherit' }).status ?? 1;
// Under `npx vnvme` (npm exec re-runs this script) the checkout's addon is used as it is.
const underNpx = process.env.npm_command === 'exec' && existsSync(join(root, 'build', 'Release', 'vnvme.node'));
if (!underNpx) {
  if (!existsSync(join(root, 'build', 'Makefile')) && gyp(['configure']) !== 0) process.exit(1);
  if (gyp(['build']) !== 0) process.exit(1);
}

const binDir = join(root, 'node_modules', '.bin');
const link = join(binDir, 'vnvme');
const target = relative(binDir, join(root, 'bin', 'vnvme.js'));
mkdirSync(binDir, { recursive: true });
let current;
try {
  current = lstatSync(link).isSymbolicLink() ? readlinkSync(link) : undefined;
} catch {
  current = null;
}
if (current !== target) {
  if (current !== null) rmSync(link, { force: true });
  symlinkSync(target, link);
}
chmodSync(join(root, 'bin', 'vnvme.js'), 0o755);

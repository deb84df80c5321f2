// `npx vnvme` inside the checkout: npm exec re-runs the project's install and prepare scripts
// before running its bin. They must leave the checkout's build as it is (no node-gyp, no tsc:
// the addon is never deleted or rewritten under a running vnvme), and `npx vnvme --help`
// answers at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const addon = join(root, 'build', 'Release', 'vnvme.node');
const dist = join(root, 'dist', 'harness', 'cli.js');

test('under npm exec the install and prepare scripts leave the build alone', () => {
  const before = [statSync(addon).mtimeMs, statSync(addon).ino, statSync(dist).mtimeMs];
  for (const script of ['install.mjs', 'prepare.mjs']) {
    execFileSync(process.execPath, [join(root, 'scripts', script)], { cwd: root, env: { ...process.env, npm_command: 'exec' }, stdio: 'pipe', timeout: 10_000 });
  }
  assert.deepEqual([statSync(addon).mtimeMs, statSync(addon).ino, statSync(dist).mtimeMs], before);
});

test('npx vnvme --help in the checkout prints the help and does not touch the addon', () => {
  const before = [statSync(addon).mtimeMs, statSync(addon).ino];
  const out = execFileSync('npx', ['vnvme', '--help'], { cwd: root, encoding: 'utf8', timeout: 30_000 });
  assert.match(out, /Usage: vnvme/);
  assert.deepEqual([statSync(addon).mtimeMs, statSync(addon).ino], before);
});

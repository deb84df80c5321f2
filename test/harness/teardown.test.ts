// Ctrl-C teardown: a process using the harness gets SIGINT while a child runs; the child is
// ended by pid, the async cleanup runs, and the process exits 130. A plain exit (uncaught
// error) still kills the child and runs the synchronous undo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const teardownModule = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'harness', 'teardown.js');

/** Running (a zombie waiting for its new parent to reap it counts as ended). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

async function runFixture(body: string, signal?: NodeJS.Signals): Promise<{ code: number | null; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-teardown-'));
  const script = join(dir, 'fixture.mjs');
  writeFileSync(
    script,
    `import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { registerChild, registerCleanup } from ${JSON.stringify(teardownModule)};
const dir = ${JSON.stringify(dir)};
const child = spawn('sleep', ['300'], { stdio: 'ignore' });
registerChild(child.pid, 'sleep');
writeFileSync(dir + '/child.pid', String(child.pid));
registerCleanup('async undo', async () => { await new Promise((r) => setTimeout(r, 50)); writeFileSync(dir + '/async-undo', 'done'); },
  () => writeFileSync(dir + '/sync-undo', 'done'));
writeFileSync(dir + '/ready', '');
${body}
`,
  );
  const p = spawn(process.execPath, [script], { stdio: 'ignore' });
  // Listen before waiting: a fixture that throws soon after 'ready' can exit while we poll, and
  // a listener attached after its 'exit' event would wait forever.
  const exited = new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
  const deadline = Date.now() + 10_000;
  while (!existsSync(join(dir, 'ready')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  if (signal) p.kill(signal);
  const code = await exited;
  return { code, dir };
}

test('SIGINT ends the children by pid and runs the cleanups, exit status 130', async () => {
  const { code, dir } = await runFixture('setInterval(() => {}, 1000);', 'SIGINT');
  try {
    assert.equal(code, 130);
    const pid = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!alive(pid), 'the child was ended');
    assert.ok(existsSync(join(dir, 'async-undo')), 'the async cleanup ran');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an uncaught error still kills the children and runs the synchronous undo', async () => {
  const { code, dir } = await runFixture("setTimeout(() => { throw new Error('boom'); }, 10);");
  try {
    assert.equal(code, 1);
    const pid = Number(readFileSync(join(dir, 'child.pid'), 'utf8'));
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(!alive(pid), 'the child was ended');
    assert.ok(existsSync(join(dir, 'sync-undo')), 'the synchronous undo ran');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

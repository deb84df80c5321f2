// Replays the exact bytes SPDK's scripts/rpc.py sent for a session covering every method
// (fixtures/rpcpy-session.json, recorded by fixtures/record-rpcpy.mjs), checks the target's
// replies against the recorded ones, and checks that `vnvme rpc` builds the same requests
// and prints the same output as rpc.py did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JsonValueScanner } from '../../target/rpc/jsonrpc.js';
import { runRpcCli, runScript, shellSplit } from '../../harness/rpc/cli.js';
import { JsonRpcClient } from '../../harness/rpc/client.js';
import { RawConnection, startTarget, TestTarget } from './helpers.js';

const here = dirname(fileURLToPath(import.meta.url));
// Fixtures live in the source tree (dist/test/rpc -> test/rpc/fixtures).
const fixture = JSON.parse(readFileSync(join(here, '..', '..', '..', 'test', 'rpc', 'fixtures', 'rpcpy-session.json'), 'utf8')) as {
  steps: Array<{ argv: string[]; status: number; stdout: string; connections: Array<{ writes: string[]; replies: string[] }> }>;
};

function prepare(tgt: TestTarget): void {
  mkdirSync(join(tgt.dir, 'ep'));
  writeFileSync(join(tgt.dir, 'aio.img'), Buffer.alloc(4 << 20));
  writeFileSync(join(tgt.dir, 'uring.img'), Buffer.alloc(4 << 20));
  writeFileSync(
    join(tgt.dir, 'config.json'),
    JSON.stringify({ subsystems: [{ subsystem: 'bdev', config: [{ method: 'bdev_null_create', params: { name: 'Cfg0', num_blocks: 8, block_size: 512 } }] }] }),
  );
}

function values(text: string): unknown[] {
  const s = new JsonValueScanner();
  s.push(Buffer.from(text));
  const out: unknown[] = [];
  for (let r = s.next(); r; r = s.next()) if ('text' in r) out.push(JSON.parse(r.text));
  return out;
}

const VOLATILE = /uuid|ticks|io_time/;

/** Deep comparison that ignores values that differ run to run; method lists may only grow. */
function like(actual: unknown, recorded: unknown, path: string): void {
  if (Array.isArray(recorded) && recorded.every((x) => typeof x === 'string') && recorded.length && Array.isArray(actual)) {
    for (const x of recorded) assert.ok(actual.includes(x), `${path}: missing ${x}`);
    return;
  }
  if (recorded && typeof recorded === 'object') {
    assert.equal(typeof actual, 'object', path);
    assert.equal(Array.isArray(actual), Array.isArray(recorded), path);
    const a = actual as Record<string, unknown>;
    const r = recorded as Record<string, unknown>;
    assert.deepEqual(Object.keys(a), Object.keys(r), `${path}: keys`);
    for (const k of Object.keys(r)) if (!VOLATILE.test(k)) like(a[k], r[k], `${path}.${k}`);
    return;
  }
  if (typeof recorded === 'string' && /^SPDK v/.test(recorded)) return;
  assert.deepEqual(actual, recorded, path);
}

test('rpc.py request bytes, replayed, get the recorded replies', async (t) => {
  const tgt = await startTarget();
  t.after(() => tgt.stop());
  prepare(tgt);
  for (const step of fixture.steps) {
    for (const conn of step.connections) {
      const c = await RawConnection.open(tgt.sock);
      const recorded = values(conn.replies.join('').replaceAll('@DIR@', tgt.dir));
      for (let i = 0; i < conn.writes.length; i++) {
        c.send(conn.writes[i].replaceAll('@DIR@', tgt.dir));
        await c.waitFor(i + 1);
      }
      assert.equal(c.values.length, recorded.length, step.argv.join(' '));
      c.values.forEach((v, i) => like(v, recorded[i], step.argv.join(' ')));
      c.close();
    }
  }
});

const mask = (s: string) =>
  s
    // vnvme's own methods (the namespace pool) came after the session was recorded.
    .replace(/,\n\s*"vnvme_[a-z_]+"/g, '')
    .replace(/"uuid": "[0-9a-f-]+"/g, '"uuid": "U"')
    .replace(/("[a-z_]*(ticks|io_time)": )\d+/g, '$1N')
    .replace(/SPDK v[^"\n]*/g, 'SPDK vX');

test('vnvme rpc sends and prints what rpc.py does', async (t) => {
  const tgt = await startTarget();
  t.after(() => tgt.stop());
  prepare(tgt);
  for (const step of fixture.steps) {
    const { status, output: out } = await runRpcCli(['-s', tgt.sock, ...step.argv.map((a) => a.replaceAll('@DIR@', tgt.dir))]);
    assert.equal(status, step.status, `${step.argv.join(' ')}: ${out}`);
    assert.equal(mask(out.replaceAll(tgt.dir, '@DIR@')), mask(step.stdout), step.argv.join(' '));
  }
});

test('vnvme rpc script mode (commands on stdin) prints what rpc.py printed for the same script', async (t) => {
  const tgt = await startTarget();
  t.after(() => tgt.stop());
  const fixtures = join(here, '..', '..', '..', 'test', 'rpc', 'fixtures');
  const script = readFileSync(join(fixtures, 'script.txt'), 'utf8');
  const expected = readFileSync(join(fixtures, 'script.rpcpy-out.txt'), 'utf8');
  const client = await JsonRpcClient.connect(tgt.sock);
  let output = '';
  const status = await runScript(script, client, (s) => (output += s));
  client.close();
  assert.equal(status, 1);
  assert.equal(mask(output), mask(expected));
  assert.deepEqual(shellSplit(`a "b c" 'd e' f\\ g "h\\"i" #j`), ['a', 'b c', 'd e', 'f g', 'h"i', '#j']);
});

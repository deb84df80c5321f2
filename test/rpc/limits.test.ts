// What RPC clients can make the target hold is bounded: unfinished requests in total (20
// connections x 20 MiB partial requests used to take 600 MB), connections, the time a request
// may take to arrive, and requests read ahead of their replies. A fresh client's small request
// still gets through while the others misbehave.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dispatch, JsonRpcServer } from '../../target/rpc/jsonrpc.js';
import type { RpcLimits } from '../../target/rpc/limits.js';
import { Logger } from '../../target/log.js';
import { RawConnection, sleep, startTarget } from './helpers.js';

const quiet = () => Logger.create({ level: 'error', sink: { write: () => {} } });

async function server(t: { after(fn: () => unknown): void }, limits: Partial<RpcLimits>, dispatch: Dispatch = async () => ['rpc_get_methods']): Promise<JsonRpcServer> {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-lim-'));
  const s = new JsonRpcServer({ path: join(dir, 'rpc.sock'), dispatch, log: quiet(), limits });
  await s.listen();
  t.after(async () => {
    await s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return s;
}

/** Writes `bytes` of an unfinished request (`{"method":"x","params":"AAAA...`), honouring backpressure. */
async function sendPartial(sock: Socket, bytes: number): Promise<void> {
  const piece = Buffer.alloc(64 << 10, 0x41);
  if (!sock.write('{"method":"x","params":"')) await new Promise((r) => sock.once('drain', r));
  for (let sent = 0; sent < bytes && !sock.destroyed; sent += piece.length) {
    if (!sock.write(piece)) await Promise.race([new Promise((r) => sock.once('drain', r)), new Promise((r) => sock.once('close', r))]);
  }
}

async function call(path: string, method: string): Promise<unknown> {
  const c = await RawConnection.open(path);
  try {
    c.send(JSON.stringify({ jsonrpc: '2.0', method, id: 1 }));
    return (await c.waitFor(1, 5000))[0];
  } finally {
    c.close();
  }
}

test('unfinished requests of all connections stay under the total; a fresh small request answers', async (t) => {
  const limits = { maxBufferedBytes: 4 << 20, smallRequestBytes: 64 << 10, maxConnections: 16 };
  const s = await server(t, limits);
  let peak = 0;
  const watch = setInterval(() => (peak = Math.max(peak, s.bufferedBytes)), 1);
  t.after(() => clearInterval(watch));
  const attackers = await Promise.all(Array.from({ length: 8 }, () => RawConnection.open(s.path)));
  t.after(() => attackers.forEach((a) => a.close()));
  // 8 x 2 MiB = 16 MiB asked for; the pool beyond the small allowances is 4 MiB - 16 x 64 KiB = 3 MiB.
  await Promise.all(attackers.map((a) => sendPartial(a.sock, 2 << 20)));
  await sleep(200);
  peak = Math.max(peak, s.bufferedBytes);
  assert.ok(peak <= limits.maxBufferedBytes, `peak ${peak} within ${limits.maxBufferedBytes}`);
  const refused = attackers.filter((a) => a.values.length > 0);
  assert.ok(refused.length >= 6, `most attackers were told and closed (${refused.length})`);
  for (const a of refused) {
    const e = a.values[0] as { id: null; error: { code: number; message: string } };
    assert.equal(e.error.code, -32600);
    assert.match(e.error.message, /unfinished requests of all RPC connections exceed 4194304 bytes/);
    await a.closed;
  }
  assert.deepEqual(await call(s.path, 'rpc_get_methods'), { jsonrpc: '2.0', id: 1, result: ['rpc_get_methods'] });
  // Closing the survivors gives their bytes back.
  attackers.forEach((a) => a.close());
  for (let i = 0; i < 100 && s.bufferedBytes > 0; i++) await sleep(10);
  assert.equal(s.bufferedBytes, 0);
});

test('the default limits hold against 4 x 24 MiB unfinished requests on a real target', async (t) => {
  const tgt = await startTarget();
  t.after(() => tgt.stop());
  const attackers = await Promise.all(Array.from({ length: 4 }, () => RawConnection.open(tgt.sock)));
  t.after(() => attackers.forEach((a) => a.close()));
  await Promise.all(attackers.map((a) => sendPartial(a.sock, 24 << 20)));
  await sleep(200);
  const told = attackers.filter((a) => (a.values[0] as { error?: { code: number } } | undefined)?.error?.code === -32600);
  assert.ok(told.length >= 2, `at most 60 MiB of 96 MiB buffered: ${told.length} connections refused`);
  const v = (await call(tgt.sock, 'spdk_get_version')) as { result: { version: string } };
  assert.match(v.result.version, /SPDK/);
});

test('connections beyond maxConnections are told and closed; freed slots serve again', async (t) => {
  const s = await server(t, { maxConnections: 4 });
  const held = await Promise.all(Array.from({ length: 4 }, () => RawConnection.open(s.path)));
  t.after(() => held.forEach((h) => h.close()));
  for (let i = 0; i < 100 && s.connections < 4; i++) await sleep(10);
  const extra = await RawConnection.open(s.path);
  const [e] = (await extra.waitFor(1)) as Array<{ error: { code: number; message: string } }>;
  assert.equal(e.error.code, -32600);
  assert.match(e.error.message, /too many RPC connections \(4 open\); close idle clients/);
  await extra.closed;
  held[0].close();
  for (let i = 0; i < 100 && s.connections > 3; i++) await sleep(10);
  assert.deepEqual(await call(s.path, 'rpc_get_methods'), { jsonrpc: '2.0', id: 1, result: ['rpc_get_methods'] });
});

test('a request that does not arrive whole in time closes its connection and frees its bytes', async (t) => {
  const s = await server(t, { partialRequestTimeoutMs: 300 });
  const slow = await RawConnection.open(s.path);
  t.after(() => slow.close());
  slow.send('{"method":"rpc_get_methods","id":1,');
  // dribbling bytes does not keep it alive: the clock runs from the request's first byte
  for (let i = 0; i < 4 && !slow.sock.destroyed; i++) {
    await sleep(100);
    slow.send(' ');
  }
  const [e] = (await slow.waitFor(1)) as Array<{ error: { code: number; message: string } }>;
  assert.equal(e.error.code, -32600);
  assert.match(e.error.message, /request incomplete after 300 ms/);
  await slow.closed;
  assert.equal(s.bufferedBytes, 0);
  // a client idle between whole requests is not timed out
  const idle = await RawConnection.open(s.path);
  t.after(() => idle.close());
  await sleep(500);
  idle.send('{"method":"rpc_get_methods","id":2}');
  assert.equal(((await idle.waitFor(1)) as Array<{ id: number }>)[0].id, 2);
});

test('50 pipelined requests held up by a slow method (reading pauses after 4) are all answered, in order', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let handled = 0;
  const s = await server(t, { maxQueuedRequests: 4 }, async () => {
    await gate;
    return ++handled;
  });
  const c = await RawConnection.open(s.path);
  t.after(() => c.close());
  c.send(Array.from({ length: 50 }, (_, i) => JSON.stringify({ method: 'm', id: i })).join('\n') + '\n');
  await sleep(100);
  release();
  const replies = (await c.waitFor(50)) as Array<{ id: number; result: number }>;
  assert.deepEqual(replies.map((r) => r.id), Array.from({ length: 50 }, (_, i) => i));
});

// JSON-RPC framing as SPDK's server does it: streamed values, pretty-printed requests split
// anywhere, batches, notifications, -32700 closing only the offending connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { JsonValueScanner } from '../../target/rpc/jsonrpc.js';
import { RawConnection, sleep, startTarget } from './helpers.js';

function scanAll(chunks: Buffer[]): Array<{ text: string } | { error: string }> {
  const s = new JsonValueScanner();
  const out = [];
  for (const c of chunks) {
    s.push(c);
    for (let r = s.next(); r; r = s.next()) out.push(r);
  }
  const e = s.end();
  if (e) out.push(e);
  return out;
}

test('scanner: cuts values whatever the chunking, strings with brackets and escapes included', () => {
  const values = [
    { jsonrpc: '2.0', method: 'x', id: 1, params: { s: 'a}b]c{"\\', t: '\u00e9\u2603', n: [1, [2, { x: '}' }]] } },
    [{ method: 'a', id: 2 }, { method: 'b' }],
    { s: '\\"}' },
  ];
  const text = values.map((v, i) => (i % 2 ? JSON.stringify(v) : JSON.stringify(v, null, 2))).join('\n  \t');
  const bytes = Buffer.from(text);
  for (const size of [1, 2, 3, 7, 64, bytes.length]) {
    const chunks = [];
    for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
    const got = scanAll(chunks);
    assert.deepEqual(
      got.map((r) => ('text' in r ? JSON.parse(r.text) : r)),
      values,
      `chunk size ${size}`,
    );
  }
});

test('scanner (property): any objects/arrays, pretty or compact, any chunking, come out whole and in order', () => {
  const top = fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.array(fc.jsonValue()));
  fc.assert(
    fc.property(fc.array(top, { minLength: 1, maxLength: 5 }), fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 10 }), fc.boolean(), (values, cuts, pretty) => {
      const bytes = Buffer.from(values.map((v) => JSON.stringify(v, null, pretty ? 2 : 0)).join(pretty ? '\n' : ''));
      const chunks: Buffer[] = [];
      for (let i = 0, k = 0; i < bytes.length; k++) {
        const n = cuts[k % cuts.length];
        chunks.push(bytes.subarray(i, i + n));
        i += n;
      }
      const got = scanAll(chunks).map((r) => ('text' in r ? JSON.parse(r.text) : r));
      assert.deepEqual(got, JSON.parse(JSON.stringify(values)));
    }),
    { numRuns: 100 },
  );
});

test('scanner: scalars end at whitespace or end of stream; truncation is reported', () => {
  assert.deepEqual(scanAll([Buffer.from('12 "a b" true')]), [{ text: '12' }, { text: '"a b"' }, { text: 'true' }]);
  const r = scanAll([Buffer.from('{"a": [1, 2')]);
  assert.equal(r.length, 1);
  assert.ok('error' in r[0]);
});

test('server: pretty-printed requests split across writes, several per write, in order', async (t) => {
  const tgt = await startTarget();
  t.after(() => tgt.stop());
  const c = await RawConnection.open(tgt.sock);
  const reqs = [1, 2, 3].map((id) => JSON.stringify({ jsonrpc: '2.0', method: 'spdk_get_version', id }, null, 2));
  const all = Buffer.from(reqs.join('\n'));
  for (let i = 0; i < all.length; i += 5) {
    c.send(all.subarray(i, i + 5));
    if (i % 50 === 0) await sleep(1);
  }
  const replies = (await c.waitFor(3)) as Array<{ id: number; result: { version: string } }>;
  assert.deepEqual(
    replies.map((r) => r.id),
    [1, 2, 3],
  );
  assert.match(replies[0].result.version, /^SPDK v26\.09/);
  // Replies are compact JSON, each followed by a newline.
  for (const line of c.text().trimEnd().split('\n')) assert.doesNotThrow(() => JSON.parse(line));
  assert.ok(c.text().endsWith('}\n'));
  assert.ok(!c.text().includes('\n  '));
  c.close();
});

test('server: batch arrays get one array reply; notifications get none', async (t) => {
  const tgt = await startTarget();
  t.after(() => tgt.stop());
  const c = await RawConnection.open(tgt.sock);
  c.send(
    JSON.stringify(
      [
        { jsonrpc: '2.0', method: 'framework_wait_init', id: 'a' },
        { jsonrpc: '2.0', method: 'bdev_malloc_create', params: { name: 'M0', num_blocks: 64, block_size: 512 } },
        { jsonrpc: '2.0', method: 'nope', id: 7 },
        { jsonrpc: '2.0', method: 'bdev_get_bdevs', params: { name: 'M0' }, id: null },
      ],
      null,
      2,
    ),
  );
  c.send('{"jsonrpc":"2.0","method":"bdev_get_bdevs","id":9}');
  const [batch, single] = (await c.waitFor(2)) as [Array<Record<string, unknown>>, Record<string, unknown>];
  assert.equal(batch.length, 2);
  assert.deepEqual(batch[0], { jsonrpc: '2.0', id: 'a', result: true });
  assert.equal((batch[1].error as { code: number }).code, -32601);
  assert.equal(batch[1].id, 7);
  // the notification in the batch still created the bdev
  assert.equal((single.result as unknown[]).length, 1);
  // a lone notification gets no reply
  c.send('{"jsonrpc":"2.0","method":"spdk_get_version"}{"jsonrpc":"2.0","method":"spdk_get_version","id":10}');
  const vals = await c.waitFor(3);
  assert.equal((vals[2] as { id: number }).id, 10);
  assert.equal(vals.length, 3);
  c.close();
});

test('server: invalid requests get -32600 and the connection stays open', async (t) => {
  const tgt = await startTarget();
  t.after(() => tgt.stop());
  const c = await RawConnection.open(tgt.sock);
  c.send('{"jsonrpc":"1.0","method":"spdk_get_version","id":1}');
  c.send('{"jsonrpc":"2.0","method":5,"id":2}');
  c.send('[]');
  c.send('{"jsonrpc":"2.0","method":"spdk_get_version","id":{"x":1}}');
  c.send('42 ');
  c.send('{"jsonrpc":"2.0","method":"spdk_get_version","id":3}');
  const vals = (await c.waitFor(6)) as Array<{ id: unknown; error?: { code: number }; result?: unknown }>;
  assert.deepEqual(
    vals.slice(0, 5).map((v) => v.error?.code),
    [-32600, -32600, -32600, -32600, -32600],
  );
  assert.equal(vals[0].id, 1);
  assert.equal(vals[5].id, 3);
  assert.ok(vals[5].result);
  c.close();
});

test('server: malformed JSON gets -32700 and closes that connection only', async (t) => {
  const tgt = await startTarget();
  t.after(() => tgt.stop());
  const good = await RawConnection.open(tgt.sock);
  const bad = await RawConnection.open(tgt.sock);
  bad.send('{"jsonrpc":"2.0","method":"spdk_get_version","id":1}\n{"jsonrpc": "2.0", "method": oops}{"id":3}');
  await bad.closed;
  const vals = bad.values as Array<{ id: unknown; error?: { code: number } }>;
  assert.equal(vals.length, 2, bad.text());
  assert.equal(vals[0].id, 1);
  assert.equal(vals[1].error?.code, -32700);
  assert.equal(vals[1].id, null);
  good.send('{"jsonrpc":"2.0","method":"spdk_get_version","id":2}');
  const [r] = (await good.waitFor(1)) as Array<{ id: number }>;
  assert.equal(r.id, 2);
  good.close();
});

test('server: method errors carry SPDK codes; params may be absent, null, {} or an array', async (t) => {
  const tgt = await startTarget();
  t.after(() => tgt.stop());
  const c = await RawConnection.open(tgt.sock);
  c.send('{"jsonrpc":"2.0","method":"rpc_get_methods","id":1,"params":null}');
  c.send('{"jsonrpc":"2.0","method":"rpc_get_methods","id":2,"params":{}}');
  c.send('{"jsonrpc":"2.0","method":"bdev_malloc_create","id":3,"params":[512]}');
  c.send('{"jsonrpc":"2.0","method":"bdev_malloc_delete","id":4,"params":{"name":"nope"}}');
  c.send('{"method":"bdev_malloc_create","id":5,"params":{"block_size":"512","num_blocks":8}}');
  const vals = (await c.waitFor(5)) as Array<{ id: number; result?: string[]; error?: { code: number; message: string } }>;
  assert.ok(vals[0].result!.includes('nvmf_create_transport'));
  assert.deepEqual(vals[1].result, vals[0].result);
  assert.equal(vals[2].error?.code, -32602);
  assert.equal(vals[3].error?.code, -19);
  assert.match(vals[3].error!.message, /No such device.*nope/);
  assert.equal(vals[4].error?.code, -32602);
  assert.match(vals[4].error!.message, /'block_size'/);
  c.close();
});

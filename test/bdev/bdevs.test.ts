// Unit tests of each bdev type: data integrity, range checks, stats, and the behaviours
// of the stacked ones (error injection, delay).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { BdevIoError } from '../../target/bdev/bdev.js';
import { MallocBdev } from '../../target/bdev/malloc.js';
import { NullBdev } from '../../target/bdev/null.js';
import { FileBdev } from '../../target/bdev/file.js';
import { ErrorBdev } from '../../target/bdev/error.js';
import { DelayBdev } from '../../target/bdev/delay.js';
import { native } from '../../native/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'vnvme-bdev-'));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

function pattern(blocks: number, bs: number, seed: number): Buffer {
  const b = Buffer.alloc(blocks * bs);
  for (let i = 0; i < b.length; i += 4) b.writeUInt32LE((i * 2654435761 + seed) >>> 0, i);
  return b;
}

async function rejectsStatus(p: Promise<unknown>, sct: number, sc: number): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof BdevIoError, `expected BdevIoError, got ${err}`);
    assert.deepEqual(err.status, { sct, sc });
    return true;
  });
}

test('malloc: writes read back, unmap and write zeroes read as zeroes, memfd backing', async () => {
  const b = new MallocBdev({ name: 'M0', blockSize: 512, numBlocks: 2048 });
  try {
    assert.equal(b.productName, 'Malloc disk');
    const data = pattern(16, 512, 1);
    await b.write(100n, data);
    assert.deepEqual(await b.read(100n, 16), data);
    assert.deepEqual(await b.read(0n, 1), Buffer.alloc(512));
    await b.unmap(104n, 4);
    const after = await b.read(100n, 16);
    assert.deepEqual(after.subarray(0, 4 * 512), data.subarray(0, 4 * 512));
    assert.deepEqual(after.subarray(4 * 512, 8 * 512), Buffer.alloc(4 * 512));
    await b.writeZeroes(108n, 8);
    assert.deepEqual((await b.read(108n, 8)).equals(Buffer.alloc(8 * 512)), true);
    await b.flush();
    // The backing fd holds the same bytes: the native engine can map it.
    const nb = b.nativeBacking();
    assert.equal(nb.kind, 'memory');
    assert.equal(nb.size, 2048 * 512);
    const view = new native.SharedMemory(nb.fd, nb.size);
    assert.deepEqual(view.read(100 * 512, 4 * 512), data.subarray(0, 4 * 512));
    view.write(0, Buffer.from('abcd'));
    assert.equal((await b.read(0n, 1)).subarray(0, 4).toString(), 'abcd');
    view.unmap();
    assert.equal(b.stats.num_write_ops, 1);
    assert.equal(b.stats.bytes_written, 16 * 512);
    assert.equal(b.stats.num_read_ops, 5);
    assert.equal(b.stats.num_unmap_ops, 1);
    assert.equal(b.stats.num_write_zeroes_ops, 1);
    assert.equal(b.stats.num_flush_ops, 1);
  } finally {
    await b.close();
  }
});

test('range checks: LBA out of range and partial blocks are NVMe errors', async () => {
  const b = new MallocBdev({ name: 'M1', blockSize: 4096, numBlocks: 8 });
  try {
    await rejectsStatus(b.read(7n, 2), 0, 0x80);
    await rejectsStatus(b.write(8n, Buffer.alloc(4096)), 0, 0x80);
    await rejectsStatus(b.write(0n, Buffer.alloc(100)), 0, 0x02);
    await rejectsStatus(b.unmap(-1n, 1), 0, 0x80);
    await b.write(7n, Buffer.alloc(4096, 7));
    assert.equal((await b.read(7n, 1))[4095], 7);
  } finally {
    await b.close();
  }
  assert.throws(() => new MallocBdev({ name: 'bad', blockSize: 1000, numBlocks: 1 }), RangeError);
});

test('null: reads zeroes, drops writes', async () => {
  const b = new NullBdev({ name: 'N0', blockSize: 512, numBlocks: 1 << 20 });
  await b.write(5n, Buffer.alloc(512, 0xff));
  assert.deepEqual(await b.read(5n, 1), Buffer.alloc(512));
  assert.deepEqual(b.nativeBacking(), { kind: 'null' });
  assert.equal(b.stats.num_write_ops, 1);
  await b.close();
});

test('file: data integrity across reopen, read-only, geometry, flush', async () => {
  const path = join(tmp, 'disk.img');
  writeFileSync(path, Buffer.alloc(1 << 20));
  const b = await FileBdev.open({ name: 'F0', filename: path });
  const data = randomBytes(64 * 512);
  try {
    assert.equal(b.blockSize, 512);
    assert.equal(b.numBlocks, 2048);
    assert.equal(b.writeCache, true);
    await b.write(10n, data);
    assert.deepEqual(await b.read(10n, 64), data);
    await b.flush();
    const nb = b.nativeBacking();
    assert.equal(nb.kind, 'file');
    assert.equal(typeof nb.fd, 'number');
    await b.unmap(10n, 1);
    assert.deepEqual(await b.read(10n, 1), Buffer.alloc(512));
  } finally {
    await b.close();
  }
  // Durable on disk after close.
  const onDisk = readFileSync(path);
  assert.deepEqual(onDisk.subarray(11 * 512, 74 * 512), data.subarray(512));

  const ro = await FileBdev.open({ name: 'F1', filename: path, readonly: true, blockSize: 4096 });
  try {
    assert.equal(ro.numBlocks, 256);
    await rejectsStatus(ro.write(0n, Buffer.alloc(4096)), 0, 0x20);
    assert.equal(ro.driverSpecific().aio !== undefined, true);
  } finally {
    await ro.close();
  }
  // Write-through: with the write cache off every write is fdatasync'ed before it completes.
  const wt = await FileBdev.open({ name: 'F2', filename: path, writeCache: false });
  await wt.write(0n, Buffer.alloc(512, 0x5a));
  assert.equal(readFileSync(path)[0], 0x5a);
  await wt.close();

  await assert.rejects(FileBdev.open({ name: 'X', filename: join(tmp, 'missing') }), { code: 'ENOENT' });
  await assert.rejects(FileBdev.open({ name: 'X', filename: tmp }), RangeError);
  writeFileSync(join(tmp, 'tiny'), Buffer.alloc(100));
  await assert.rejects(FileBdev.open({ name: 'X', filename: join(tmp, 'tiny') }), RangeError);
});

test('error: fails the next N I/Os of a type with the chosen status, then passes', async () => {
  const base = new MallocBdev({ name: 'B0', blockSize: 512, numBlocks: 64 });
  const e = new ErrorBdev(base);
  assert.equal(e.name, 'EE_B0');
  assert.equal(e.nativeBacking(), null);
  e.inject('read', { errorType: 'nvme_failure', status: { sct: 2, sc: 0x81 }, remaining: 2 });
  await e.write(0n, Buffer.alloc(512, 1));
  await rejectsStatus(e.read(0n, 1), 2, 0x81);
  await rejectsStatus(e.read(0n, 1), 2, 0x81);
  assert.equal((await e.read(0n, 1))[0], 1);
  e.inject('all', { errorType: 'failure', remaining: 1 });
  await rejectsStatus(e.flush(), 0, 0x06);
  await rejectsStatus(e.write(0n, Buffer.alloc(512)), 0, 0x06);
  await rejectsStatus(e.unmap(0n, 1), 0, 0x06);
  e.inject('clear');
  await e.flush();
  await e.close();
  await base.close();
});

test('error: every Nth I/O, LBA range, corrupt_data, pending', async () => {
  const base = new MallocBdev({ name: 'B1', blockSize: 512, numBlocks: 64 });
  const e = new ErrorBdev(base);
  e.inject('write', { errorType: 'failure', every: 3, remaining: 0xffffffff });
  const results: boolean[] = [];
  for (let i = 0; i < 9; i++)
    results.push(
      await e.write(BigInt(i), Buffer.alloc(512, i)).then(
        () => true,
        () => false,
      ),
    );
  assert.deepEqual(results, [true, true, false, true, true, false, true, true, false]);

  e.inject('read', { errorType: 'nvme_failure', status: { sct: 2, sc: 0x81 }, remaining: 100, lbaStart: 10, lbaCount: 5 });
  await e.read(0n, 10); // ends before the range
  await e.read(15n, 4); // starts after it
  await rejectsStatus(e.read(8n, 3), 2, 0x81); // overlaps
  await rejectsStatus(e.read(14n, 1), 2, 0x81);

  e.inject('write', { errorType: 'corrupt_data', corruptOffset: 3, corruptValue: 0xff, remaining: 1 });
  await e.write(20n, Buffer.alloc(512, 0));
  const got = await base.read(20n, 1);
  assert.equal(got[3], 0xff);
  assert.equal(got[2], 0);

  e.inject('flush', { errorType: 'pending', remaining: 1 });
  let done = false;
  const p = e.flush().then(() => (done = true));
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(done, false);
  assert.equal(e.resumePending(), 1);
  await p;
  assert.equal(done, true);
  await e.close();
  await base.close();
});

test('delay: reads and writes take at least the average latency; data passes through', async () => {
  const base = new MallocBdev({ name: 'B2', blockSize: 512, numBlocks: 64 });
  const d = new DelayBdev('D0', base, { avgReadUs: 20_000, p99ReadUs: 40_000, avgWriteUs: 30_000, p99WriteUs: 50_000 });
  let t = Date.now();
  await d.write(1n, Buffer.alloc(512, 9));
  assert.ok(Date.now() - t >= 28, `write took ${Date.now() - t} ms`);
  t = Date.now();
  assert.equal((await d.read(1n, 1))[0], 9);
  assert.ok(Date.now() - t >= 18, `read took ${Date.now() - t} ms`);
  d.update('avg_read', 0);
  t = Date.now();
  await d.read(1n, 1);
  assert.ok(Date.now() - t < 15);
  assert.equal((d.driverSpecific().delay as Record<string, unknown>).avg_write_latency, 30_000);
  assert.ok(d.stats.read_latency_ticks > 18_000_000);
  await d.close();
  await base.close();
});

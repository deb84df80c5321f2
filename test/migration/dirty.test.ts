// Dirty-page logging covers every byte the target writes into guest memory, and nothing
// else: read data and CQEs from the native engine, Identify and log pages from TypeScript,
// shadow doorbell event indexes; reported through v2 DMA_LOGGING_REPORT, v1 DIRTY_PAGES and
// v1 DMA_UNMAP's dirty bitmap. The host's own writes (SQEs, write data) are not the device's.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as W from '../../target/vfio-user/wire.js';
import { NvmeDriver, cmd, type QueuePair } from '../../harness/initiator/nvme-driver.js';
import { MigrationChannel } from '../../harness/initiator/migration.js';
import { VfioUserError } from '../../harness/initiator/vfio-user-client.js';
import { makePair, driverWithQueue, type Pair } from './pair.js';

const PAGE = 4096n;

function pagesOf(bitmap: Buffer): number[] {
  const out: number[] = [];
  for (let i = 0; i < bitmap.length * 8; i++) if (bitmap[i >> 3]! & (1 << (i & 7))) out.push(i);
  return out;
}

const page = (iova: bigint) => Number((iova - NvmeDriver.MEM_IOVA) / PAGE);


for (const protocol of ['v2', 'v1'] as const) {
  describe(`dirty page logging (${protocol})`, () => {
    let p: Pair;
    before(async () => {
      p = await makePair({ v1: protocol === 'v1' });
    });
    after(async () => {
      await p?.close();
    });

    test('exactly the pages the device wrote: read data, CQEs, identify and log pages', async () => {
      const { drv, q } = await driverWithQueue(p.a);
      try {
        const ch = new MigrationChannel(drv.client, protocol);
        const mem = { iova: drv.mem.iova, length: BigInt(drv.mem.size) };
        await ch.startDirtyLogging([mem]);
        assert.deepEqual(pagesOf(await ch.dirtyBitmap(mem.iova, mem.length)), [], 'nothing dirty right after START');
        const before = drv.alloc(0);
        const readBuf = drv.alloc(4096);
        const writeBuf = drv.alloc(4096);
        const logBuf = drv.alloc(4096);
        drv.write(writeBuf, Buffer.alloc(4096, 3));
        assert.equal((await drv.io(q, 0x01, 1, 0n, 8, writeBuf, 4096)).status, 0);
        assert.equal((await drv.io(q, 0x02, 1, 0n, 8, readBuf, 4096)).status, 0);
        await drv.identify(1); // allocates the next page for the data
        const idPage = logBuf + PAGE;
        await drv.adminOk(cmd(0x02, 0xffffffff, { prp1: logBuf, cdw10: (127 << 16) | 0x02 }), 'SMART log');
        void before;
        const want = [page(readBuf), page(idPage), page(logBuf), page(q.cqIova), page(drv.admin.cqIova)].sort((a, b) => a - b);
        const got = pagesOf(await ch.dirtyBitmap(mem.iova, mem.length));
        assert.deepEqual(got, [...new Set(want)]);
        assert.deepEqual(pagesOf(await ch.dirtyBitmap(mem.iova, mem.length)), [], 'reading the bitmap cleared it');
        // A write command dirties only its completion's page.
        assert.equal((await drv.io(q, 0x01, 1, 8n, 8, writeBuf, 4096)).status, 0);
        assert.deepEqual(pagesOf(await ch.dirtyBitmap(mem.iova, mem.length)), [page(q.cqIova)]);
        // A sub-range report: offsets are relative to its start.
        assert.equal((await drv.io(q, 0x02, 1, 0n, 8, readBuf, 4096)).status, 0);
        const sub = await ch.dirtyBitmap(readBuf, 2n * PAGE);
        assert.deepEqual(pagesOf(sub), [0]);
        await ch.stopDirtyLogging();
        await assert.rejects(ch.dirtyBitmap(mem.iova, mem.length), (e: unknown) => e instanceof VfioUserError && e.errno === W.Errno.EINVAL);
      } finally {
        drv.close();
      }
    });

    if (protocol === 'v1') {
      test('DMA_UNMAP with GET_DIRTY_BITMAP returns the bitmap of the departing region', async () => {
        const { drv, q } = await driverWithQueue(p.a);
        try {
          const ch = new MigrationChannel(drv.client, 'v1');
          await ch.startDirtyLogging([]);
          const extra = await drv.client.addMemory(0x40000000n, 16 * 4096);
          // Read 8 blocks into the third page of the extra region.
          const r = await drv.io(q, 0x02, 1, 0n, 8, 0x40000000n + 2n * PAGE, 4096);
          assert.equal(r.status, 0);
          const req = W.encodeDmaUnmap({ flags: W.DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, address: extra.iova, size: BigInt(extra.size), bitmap: { pgsize: 4096n, size: 8n } });
          const reply = await drv.client.call(W.Command.DMA_UNMAP, req);
          assert.equal(reply.payload.length, 24 + 16 + 8);
          assert.equal(reply.payload.readUInt32LE(0), 48);
          assert.deepEqual(pagesOf(reply.payload.subarray(40)), [2]);
          assert.equal(drv.client.readMemory(0x40000000n + 2n * PAGE, 4).length, 4, 'the client still has its memory');
          await ch.stopDirtyLogging();
        } finally {
          drv.close();
        }
      });
    }
  });
}

describe('dirty page logging with shadow doorbells (message mode)', () => {
  let p: Pair;
  before(async () => {
    p = await makePair({ doorbells: 'message' });
  });
  after(async () => {
    await p?.close();
  });

  test('event index writes of the engine are logged', async () => {
    const { drv, q } = await driverWithQueue(p.a);
    try {
      // Typed calls: a renamed or removed driver method is a compile error, never a skip.
      await drv.enableShadowDoorbells();
      const ch = new MigrationChannel(drv.client, 'v2');
      const mem = { iova: drv.mem.iova, length: BigInt(drv.mem.size) };
      await ch.startDirtyLogging([mem]);
      const buf = drv.alloc(4096);
      drv.write(buf, Buffer.alloc(4096, 9));
      assert.equal((await drv.io(q, 0x01, 1, 0n, 8, buf, 4096)).status, 0);
      const got = pagesOf(await ch.dirtyBitmap(mem.iova, mem.length));
      assert.ok(got.includes(page(drv.shadow!.ei)), `event index page ${page(drv.shadow!.ei)} in ${got}`);
      assert.ok(got.includes(page(q.cqIova)));
    } finally {
      drv.close();
    }
  });
});

describe('DMA_LOGGING_REPORT sizes its reply from the request before building it', () => {
  let p: Pair;
  before(async () => {
    p = await makePair();
  });
  after(async () => {
    await p?.close();
  });

  test('a report for 2^31 pages with a small argsz is EINVAL, a larger one E2BIG, without allocating the bitmap', async () => {
    const drv = await NvmeDriver.attach(p.a.socketPath);
    try {
      const ch = new MigrationChannel(drv.client, 'v2');
      const mem = { iova: drv.mem.iova, length: BigInt(drv.mem.size) };
      await ch.startDirtyLogging([mem]);
      const ask = (length: bigint, argsz: number) => {
        const d = Buffer.alloc(24);
        d.writeBigUInt64LE(0n, 0);
        d.writeBigUInt64LE(length, 8);
        d.writeBigUInt64LE(PAGE, 16);
        return ch.feature(W.FEATURE_GET | W.Feature.DMA_LOGGING_REPORT, d, argsz);
      };
      const rss = process.memoryUsage().rss;
      for (let i = 0; i < 20; i++) {
        // 2^31 pages of 4 KiB: a 256 MiB bitmap the client's argsz (64 bytes) cannot hold.
        await assert.rejects(ask((1n << 31n) * PAGE, 64), (e: unknown) => e instanceof VfioUserError && e.errno === W.Errno.EINVAL);
        await assert.rejects(ask((1n << 40n) * PAGE, 64), (e: unknown) => e instanceof VfioUserError && e.errno === W.Errno.E2BIG);
      }
      assert.ok(process.memoryUsage().rss - rss < 64 << 20, 'no request allocated its bitmap');
      // A real report still works.
      assert.deepEqual(pagesOf(await ch.dirtyBitmap(mem.iova, mem.length)), []);
    } finally {
      drv.close();
    }
  });
});

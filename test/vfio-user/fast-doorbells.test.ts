// Message-mode doorbells served by the native channel straight into the engine (no JavaScript
// hop): I/O doorbells are counted as fast writes and I/O works, posted or not; a doorbell the
// engine declines (a queue that does not exist) still reaches the controller in order and
// raises Invalid Doorbell Register; the admin queue's doorbells always go through JavaScript;
// and a fast write never overtakes a message queued before it (here: a controller reset).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as W from '../../target/vfio-user/wire.js';
import { u32 } from '../../harness/initiator/nvme-driver.js';
import { driverWithQueue, makePair, writeRead } from '../migration/pair.js';
import { VfioUserClient } from '../../harness/initiator/vfio-user-client.js';
import { startScratchServer, waitFor } from '../helpers/scratch-device.js';

const BAR0 = W.RegionIndex.BAR0;

test('message-mode I/O doorbells take the native path; invalid and admin doorbells do not', async () => {
  const pair = await makePair({ doorbells: 'message' });
  try {
    const { drv, q } = await driverWithQueue(pair.a);
    try {
      const before = pair.a.server.fastWritesServed;
      for (let i = 0; i < 20; i++) await writeRead(drv, q, i * 8, i);
      const fast = pair.a.server.fastWritesServed - before;
      // Each command rings the SQ tail and the CQ head: 40 commands, at least 40 doorbells.
      assert.ok(fast >= 40, `${fast} doorbells served natively`);
      // A non-posted doorbell write gets the reply the server would send.
      const r = await drv.client.request(W.Command.REGION_WRITE, W.encodeRegionAccess({ offset: 0x1000n + 3n * 4n, region: BAR0, count: 4, data: u32(q.cqHead) }));
      assert.equal(r.hdr.flags & W.FLAG_ERROR, 0);
      assert.deepEqual(W.decodeRegionAccess(r.payload), { offset: 0x100cn, region: BAR0, count: 4, data: Buffer.alloc(0) });
      // Queue 9 does not exist: declined natively, reported by the controller.
      const n = pair.a.server.fastWritesServed;
      const errs = pair.a.controller.errorLog.count;
      drv.client.postRegionWrite(BAR0, 0x1000 + 9 * 8, u32(1));
      await writeRead(drv, q, 0, 0x44);
      assert.ok(pair.a.controller.errorLog.count > errs, 'Invalid Doorbell Register recorded in the error log');
      assert.ok(pair.a.server.fastWritesServed - n >= 2, 'later doorbells still fast');
    } finally {
      drv.close();
    }
  } finally {
    await pair.close();
  }
});

test('a doorbell pipelined behind a controller reset is not served before the reset', async () => {
  const pair = await makePair({ doorbells: 'message' });
  try {
    const { drv, q } = await driverWithQueue(pair.a);
    try {
      await writeRead(drv, q, 0, 1);
      // CC.EN = 0 (async in the controller), then at once an SQ doorbell: it must be processed
      // after the reset, when SQ 1 no longer exists, so it goes to the controller, not the engine.
      const cc = await drv.client.read32(BAR0, 0x14);
      const n = pair.a.server.fastWritesServed;
      drv.client.postRegionWrite(BAR0, 0x14, u32(cc & ~1));
      drv.client.postRegionWrite(BAR0, 0x1000 + 2 * 4, u32((q.sqTail + 1) % q.size));
      assert.equal((await drv.client.read32(BAR0, 0x1c)) & 1, 0, 'CSTS.RDY cleared by the reset');
      assert.equal(pair.a.server.fastWritesServed, n, 'the doorbell after the reset was not served natively');
      assert.equal(pair.a.controller.io.queueState().length, 0, 'no queue resurrected');
    } finally {
      drv.close();
    }
  } finally {
    await pair.close();
  }
});

test('a fast write queued behind a message still being processed (an async device write) waits its turn', async () => {
  // The sink is a real engine with a live I/O queue (pair A); the device is the scratch model,
  // whose write of 0x118 copies through DMA_READ/DMA_WRITE messages (fd-less memory), so the
  // server is busy with it when the next message, a write the sink would take, arrives.
  const pair = await makePair({ doorbells: 'message' });
  const s = startScratchServer();
  try {
    const { drv, q } = await driverWithQueue(pair.a);
    s.model.fast = { sink: pair.a.controller.io, region: BAR0, base: 0x1000n, size: 0x1000 };
    const c = await VfioUserClient.open(s.path);
    try {
      await c.addMemory(0x100000n, 0x2000, { shareFd: false });
      const w = (off: number, v: bigint) => {
        const b = Buffer.alloc(8);
        b.writeBigUInt64LE(v);
        return c.call(W.Command.REGION_WRITE, W.encodeRegionAccess({ offset: BigInt(off), region: BAR0, count: 8, data: b }));
      };
      await w(0x100, 0x100000n);
      await w(0x108, 0x101000n);
      await w(0x110, 0x800n);
      // Start the copy, and right behind it a write of SQ 1's CQ head doorbell (index 3).
      c.postRegionWrite(BAR0, 0x118, Buffer.alloc(8));
      c.postRegionWrite(BAR0, 0x1000 + 3 * 4, u32(q.cqHead));
      await waitFor(() => s.model.copies === 1, 3000, 'the copy');
      assert.equal(await c.read32(BAR0, 0x120), 0, 'copy done');
      assert.equal(s.server.fastWritesServed, 0, 'the write behind the busy copy went through JavaScript, in order');
      // With the server idle, the same write is served natively.
      c.postRegionWrite(BAR0, 0x1000 + 3 * 4, u32(q.cqHead));
      await c.read32(BAR0, 0x120);
      assert.equal(s.server.fastWritesServed, 1);
    } finally {
      c.dispose();
      drv.close();
    }
  } finally {
    await s.close();
    await pair.close();
  }
});

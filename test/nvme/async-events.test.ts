// Asynchronous events coalesce as the spec's AER model has it (NVMe Base 2.0 5.2): a flood of
// invalid doorbell writes keeps at most one Error event per log page waiting, the Error
// Information log stays a 64-entry ring with a running error count, the target keeps serving,
// and an AER reports exactly one Error event until the host reads log 01h with RAE=0 (issue 13).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cmd, u32, type Cqe } from '../../harness/initiator/nvme-driver.js';
import { AsyncEvent } from '../../target/nvme/constants.js';
import { controllerFixture, type ControllerFixture } from './fixture.js';

const BAR0 = 0;
const FLOOD = 100_000;
/** The SQ tail doorbell of SQ 5, which is never created. */
const BAD_DOORBELL = 0x1000 + 4 * (2 * 5);

for (const mode of ['message', 'mapped'] as const) {
  describe(`async events under an invalid doorbell flood (${mode} doorbells)`, () => {
    let f: ControllerFixture;
    before(async () => {
      f = await controllerFixture({ disableMappableBar0: mode === 'message' });
      await f.drv.setNumberOfQueues(2);
    });
    after(async () => {
      await f?.close();
    });

    /** Posts `n` doorbell writes (no replies) and waits until the target has handled them. */
    async function flood(n: number): Promise<void> {
      const c = f.drv.client;
      for (let i = 0; i < n; i++) {
        c.postRegionWrite(BAR0, BAD_DOORBELL, u32(i & 0xffff));
        if (i % 5000 === 4999) {
          await c.read32(BAR0, 0x1c); // a read after posted writes sees them handled
          assert.ok(f.ep.controller.events.waiting <= 1, `${f.ep.controller.events.waiting} events waiting after ${i + 1} writes`);
        }
      }
      await c.read32(BAR0, 0x1c);
    }

    const settled = (p: Promise<Cqe>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

    async function errorLog(rae: boolean): Promise<Buffer> {
      const b = f.drv.alloc(4096);
      await f.drv.adminOk(cmd(0x02, 0, { prp1: b, cdw10: 0x01 | (rae ? 1 << 15 : 0) | (1023 << 16) }), 'Get Log Page 01h');
      return f.drv.read(b, 4096);
    }

    test(`${FLOOD} invalid doorbell writes: one event waiting, an error log ring, the target serving`, async () => {
      const c = f.ep.controller;
      const heapBefore = process.memoryUsage().heapUsed;
      const errorsBefore = c.errorLog.count;
      await flood(FLOOD);
      assert.equal(c.events.waiting, 1, 'the flood coalesced into one event');
      assert.equal(c.errorLog.count - errorsBefore, BigInt(FLOOD), 'every write counted in the error count');
      assert.equal(c.errorLog.snapshot().length, 64, 'the log is a 64-entry ring');
      assert.ok(process.memoryUsage().heapUsed - heapBefore < 64 << 20, 'heap growth stays small');
      const q = await f.drv.createIoQueuePair(1, 16);
      const buf = f.drv.alloc(4096);
      assert.equal((await f.drv.io(q, 0x02, 1, 0n, 8, buf, 4096)).status, 0, 'I/O still served');
    });

    test('an AER reports exactly one Error event until log 01h is read with RAE=0', async () => {
      const drv = f.drv;
      const isDoorbellError = (c: Cqe) => c.status === 0 && (c.dw0 & 7) === AsyncEvent.TYPE_ERROR && ((c.dw0 >> 8) & 0xff) === AsyncEvent.ERROR_INVALID_DOORBELL_REGISTER && ((c.dw0 >> 16) & 0xff) === 0x01;
      const first = await drv.adminCommand(cmd(0x0c, 0, {}));
      assert.ok(isDoorbellError(first), `first AER: Error / invalid doorbell register / log 01h, dw0 0x${first.dw0.toString(16)}`);
      assert.equal(f.ep.controller.events.waiting, 0);

      // Error events are masked until the log is read: a second flood is held as one event.
      const second = drv.adminCommand(cmd(0x0c, 0, {}));
      await flood(20_000);
      assert.equal(await settled(second, 200), false, 'masked: no second Error event while the log is unread');
      assert.equal(f.ep.controller.events.waiting, 1, 'the second flood is one waiting event');
      await errorLog(true);
      assert.equal(await settled(second, 100), false, 'RAE=1 keeps the event type masked');

      const log = await errorLog(false);
      const count = f.ep.controller.errorLog.count;
      assert.equal(log.readBigUInt64LE(0), count, 'newest entry carries the error count');
      assert.equal(log.readUInt16LE(8), 0xffff, 'SQID FFFFh: not tied to a command');
      assert.equal(log.readBigUInt64LE(63 * 64), count - 63n, 'the 64th entry is 63 errors older');
      assert.equal(await settled(second, 2000), true, 'the RAE=0 read unmasks: the waiting event is reported');
      assert.ok(isDoorbellError(await second));
      assert.equal(f.ep.controller.events.waiting, 0, 'the whole second flood was that one event');

      // Masked again by that report: nothing is waiting, and a third AER waits for a new error.
      const third = drv.adminCommand(cmd(0x0c, 0, {}));
      assert.equal(await settled(third, 200), false, 'no event left over');
      await flood(1);
      assert.equal(await settled(third, 200), false, 'still masked until the log is read');
      await errorLog(false);
      assert.equal(await settled(third, 2000), true);
      assert.ok(isDoorbellError(await third));
      assert.equal((await drv.identify(1)).toString('ascii', 4, 9), 'SPEC0', 'admin queue still serves');
    });
  });
}

// Issue 18 item 2 over a real vfio-user socket, in both doorbell modes: fused Compare and Write,
// Copy, Verify and Write Uncorrectable on a namespace the native engine serves (malloc) and on
// one served by a TypeScript bdev (delay), what Identify and the Commands Supported and Effects
// log say about them, and the Keep Alive Timer and Timestamp features.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cmd, type NvmeDriver, type QueuePair } from '../../harness/initiator/nvme-driver.js';
import { MallocBdev } from '../../target/bdev/malloc.js';
import { DelayBdev } from '../../target/bdev/delay.js';
import { Status, statusName } from '../../target/nvme/constants.js';
import { native } from '../../native/index.js';
import { controllerFixture, sc, type ControllerFixture } from './fixture.js';

const FIRST = 1; // FUSE 01b
const SECOND = 2; // FUSE 10b
const eq = (got: number, want: number, what: string) => assert.equal(sc(got), sc(want), `${what}: ${statusName(got)}, expected ${statusName(want)}`);

async function writeBlocks(drv: NvmeDriver, q: QueuePair, nsid: number, lba: number, data: Buffer): Promise<void> {
  const buf = drv.alloc(data.length);
  drv.write(buf, data);
  eq((await drv.io(q, 0x01, nsid, BigInt(lba), data.length / 512, buf, data.length)).status, Status.SUCCESS, `write LBA ${lba}`);
}

async function readBlocks(drv: NvmeDriver, q: QueuePair, nsid: number, lba: number, blocks: number): Promise<{ status: number; data: Buffer }> {
  const buf = drv.alloc(512 * blocks);
  const c = await drv.io(q, 0x02, nsid, BigInt(lba), blocks, buf, 512 * blocks);
  return { status: c.status, data: drv.read(buf, 512 * blocks) };
}

/** A fused Compare (expects `expect`) and Write (`data`) of the blocks at `lba`, one doorbell write. */
function fused(drv: NvmeDriver, q: QueuePair, nsid: number, lba: number, expect: Buffer, data: Buffer, o: { writeLba?: number } = {}) {
  const a = drv.alloc(expect.length);
  const b = drv.alloc(data.length);
  drv.write(a, expect);
  drv.write(b, data);
  const nlb = expect.length / 512 - 1;
  const cmp = cmd(0x05, nsid, { ...drv.prps(a, expect.length), cdw10: lba, cdw12: nlb, flags: FIRST });
  const wr = cmd(0x01, nsid, { ...drv.prps(b, data.length), cdw10: o.writeLba ?? lba, cdw12: data.length / 512 - 1, flags: SECOND });
  return drv.submitTogether(q, [cmp, wr]);
}

/** Copy ranges (format 0h) to `dest`. */
function copy(drv: NvmeDriver, q: QueuePair, nsid: number, dest: number, ranges: [number, number][], o: { format?: number; nr?: number } = {}) {
  const list = Buffer.alloc(4096);
  ranges.forEach(([slba, nlb], i) => {
    list.writeBigUInt64LE(BigInt(slba), 32 * i + 8);
    list.writeUInt16LE(nlb - 1, 32 * i + 16);
  });
  const buf = drv.alloc(8192);
  drv.write(buf, Buffer.concat([list, Buffer.alloc(4096)]));
  const nr = (o.nr ?? ranges.length) - 1;
  return drv.submit(q, cmd(0x19, nsid, { ...drv.prps(buf, 32 * (nr + 1)), cdw10: dest, cdw12: nr | ((o.format ?? 0) << 8) }));
}

const pattern = (blocks: number, seed: number) => Buffer.from(Array.from({ length: 512 * blocks }, (_, i) => (i * 13 + seed) & 0xff));

for (const mode of ['mapped', 'message'] as const) {
  describe(`I/O commands of issue 18 item 2 (${mode} doorbells)`, () => {
    let f: ControllerFixture;
    let q: QueuePair;
    let delayed: DelayBdev;
    before(async () => {
      const malloc = new MallocBdev({ name: 'Malloc0', blockSize: 512, numBlocks: 2048 });
      const base = new MallocBdev({ name: 'Malloc1', blockSize: 512, numBlocks: 2048 });
      delayed = new DelayBdev('Delay1', base, { avgReadUs: 2000, p99ReadUs: 2000, avgWriteUs: 2000, p99WriteUs: 2000 });
      f = await controllerFixture({
        disableMappableBar0: mode === 'message',
        namespaces: () => [
          { nsid: 1, bdev: malloc },
          { nsid: 2, bdev: delayed },
        ],
      });
      await f.drv.setNumberOfQueues(2);
      q = await f.drv.createIoQueuePair(1, 16);
    });
    after(async () => {
      await f?.close();
    });

    test('Identify: ONCS Write Uncorrectable/Verify/Copy, FUSES, ACWU, OCFS, MSSRL/MCL/MSRC, VSL; log 05h lists 04h, 0Ch, 19h', async () => {
      const id = await f.drv.identify(1);
      const oncs = id.readUInt16LE(520);
      for (const bit of [0, 1, 2, 3, 6, 7, 8]) assert.ok(oncs & (1 << bit), `ONCS bit ${bit}`);
      assert.equal(id.readUInt16LE(522), 1, 'FUSES: Compare and Write');
      assert.equal(id.readUInt16LE(532), 0xffff, 'ACWU');
      assert.equal(id.readUInt16LE(534) & 1, 1, 'OCFS: format 0h');
      const ns = await f.drv.identify(0, 1);
      const blocks = native.constants.limits.COPY_MAX_BYTES / 512;
      assert.equal(ns.readUInt16LE(74), blocks, 'MSSRL');
      assert.equal(ns.readUInt32LE(76), blocks, 'MCL');
      assert.equal(ns[80], native.constants.limits.COPY_MAX_RANGES - 1, 'MSRC');
      const nvm = await f.drv.identify(6, 0, 0); // CNS 06h CSI 0: NVM command set controller data
      assert.equal(4096 << nvm[0]!, native.constants.limits.VERIFY_MAX_BYTES, 'VSL');
      const log = f.drv.alloc(4096);
      await f.drv.adminOk(cmd(0x02, 0, { prp1: log, cdw10: (1023 << 16) | 0x05 }), 'Commands Supported and Effects');
      const page = f.drv.read(log, 4096);
      const ioEffects = (op: number) => page.readUInt32LE(1024 + 4 * op);
      assert.equal(ioEffects(0x04), 0b11, 'Write Uncorrectable: CSUPP, LBCC');
      assert.equal(ioEffects(0x0c), 0b01, 'Verify: CSUPP');
      assert.equal(ioEffects(0x19), 0b11, 'Copy: CSUPP, LBCC');
    });

    for (const nsid of [1, 2]) {
      const where = nsid === 1 ? 'native engine' : 'TypeScript bdev';
      test(`fused Compare and Write (${where}): success writes, a mismatch aborts the Write`, async () => {
        const d = f.drv;
        await writeBlocks(d, q, nsid, 16, pattern(2, 1));
        const [c1, w1] = await fused(d, q, nsid, 16, pattern(2, 1), pattern(2, 2));
        eq(c1.status, Status.SUCCESS, 'Compare');
        eq(w1.status, Status.SUCCESS, 'Write');
        assert.deepEqual((await readBlocks(d, q, nsid, 16, 2)).data, pattern(2, 2));
        const [c2, w2] = await fused(d, q, nsid, 16, pattern(2, 1), pattern(2, 3));
        eq(c2.status, Status.COMPARE_FAILURE, 'Compare of stale data');
        eq(w2.status, Status.ABORTED_FAILED_FUSED, 'Write');
        assert.deepEqual((await readBlocks(d, q, nsid, 16, 2)).data, pattern(2, 2), 'the Write did not happen');
        const [c3, w3] = await fused(d, q, nsid, 16, pattern(2, 2), pattern(2, 3), { writeLba: 17 });
        eq(c3.status, Status.INVALID_FIELD, 'Compare with a Write of another range');
        eq(w3.status, Status.ABORTED_FAILED_FUSED, 'that Write');
      });

      test(`fused halves alone (${where}): Missing Fused Command; the command after a lone first half still runs`, async () => {
        const d = f.drv;
        const buf = d.alloc(512);
        const lone2 = await d.submit(q, cmd(0x01, nsid, { prp1: buf, cdw10: 20, flags: SECOND }));
        eq(lone2.status, Status.ABORTED_MISSING_FUSED, 'a second half without a first');
        const lone1 = await d.submit(q, cmd(0x05, nsid, { prp1: buf, cdw10: 20, flags: FIRST }));
        eq(lone1.status, Status.ABORTED_MISSING_FUSED, 'a first half the tail did not go past');
        const [a, b] = await d.submitTogether(q, [cmd(0x05, nsid, { prp1: buf, cdw10: 20, flags: FIRST }), cmd(0x02, nsid, { prp1: buf, cdw10: 20 })]);
        eq(a.status, Status.ABORTED_MISSING_FUSED, 'a first half followed by a Read');
        eq(b.status, Status.SUCCESS, 'the Read');
        eq((await d.submit(q, cmd(0x02, nsid, { prp1: buf, cdw10: 20, flags: 3 }))).status, Status.INVALID_FIELD, 'FUSE 11b');
      });

      test(`Write Uncorrectable, then Read/Verify/Compare/Copy fail until written (${where})`, async () => {
        const d = f.drv;
        const buf = d.alloc(4096);
        await writeBlocks(d, q, nsid, 100, pattern(8, 5));
        eq((await d.submit(q, cmd(0x04, nsid, { cdw10: 102, cdw12: 1 }))).status, Status.SUCCESS, 'Write Uncorrectable 102-103');
        eq((await readBlocks(d, q, nsid, 100, 2)).status, Status.SUCCESS, 'Read 100-101');
        eq((await readBlocks(d, q, nsid, 101, 2)).status, Status.UNRECOVERED_READ_ERROR, 'Read 101-102');
        eq((await d.submit(q, cmd(0x0c, nsid, { cdw10: 103 }))).status, Status.UNRECOVERED_READ_ERROR, 'Verify 103');
        eq((await d.submit(q, cmd(0x05, nsid, { prp1: buf, cdw10: 102 }))).status, Status.UNRECOVERED_READ_ERROR, 'Compare 102');
        eq((await copy(d, q, nsid, 200, [[103, 1]])).status, Status.UNRECOVERED_READ_ERROR, 'Copy from 103');
        eq((await d.submit(q, cmd(0x04, nsid, { cdw10: 2048 }))).status, Status.LBA_OUT_OF_RANGE, 'Write Uncorrectable past the end');
        await writeBlocks(d, q, nsid, 102, pattern(1, 6));
        eq((await readBlocks(d, q, nsid, 102, 1)).status, Status.SUCCESS, 'written: readable');
        eq((await readBlocks(d, q, nsid, 103, 1)).status, Status.UNRECOVERED_READ_ERROR, 'the other block still fails');
        eq((await d.submit(q, cmd(0x08, nsid, { cdw10: 103 }))).status, Status.SUCCESS, 'Write Zeroes 103');
        const r = await readBlocks(d, q, nsid, 103, 1);
        eq(r.status, Status.SUCCESS, 'zeroed: readable');
        assert.deepEqual(r.data, Buffer.alloc(512));
      });

      test(`Verify (${where}): Success, LBA Out of Range, beyond VSL Invalid Field`, async () => {
        const d = f.drv;
        eq((await d.submit(q, cmd(0x0c, nsid, { cdw10: 0, cdw12: 2047 }))).status, Status.SUCCESS, 'the whole namespace (1 MiB)');
        eq((await d.submit(q, cmd(0x0c, nsid, { cdw10: 2047, cdw12: 1 }))).status, Status.LBA_OUT_OF_RANGE, 'past the end');
        eq((await d.submit(q, cmd(0x0c, 9, { cdw10: 0 }))).status, Status.INVALID_NAMESPACE, 'no such namespace');
      });

      test(`Copy (${where}): ranges to a destination, the limits and their statuses`, async () => {
        const d = f.drv;
        await writeBlocks(d, q, nsid, 300, pattern(2, 7));
        await writeBlocks(d, q, nsid, 310, pattern(1, 8));
        eq((await copy(d, q, nsid, 400, [[310, 1], [300, 2]])).status, Status.SUCCESS, 'Copy');
        assert.deepEqual((await readBlocks(d, q, nsid, 400, 3)).data, Buffer.concat([pattern(1, 8), pattern(2, 7)]));
        const max = native.constants.limits.COPY_MAX_BYTES / 512;
        eq((await copy(d, q, nsid, 0, [[0, 1]], { nr: native.constants.limits.COPY_MAX_RANGES + 1 })).status, Status.COMMAND_SIZE_LIMIT_EXCEEDED, 'MSRC + 2 ranges');
        eq((await copy(d, q, nsid, 0, [[0, max], [0, 1]])).status, Status.COMMAND_SIZE_LIMIT_EXCEEDED, 'more than MCL');
        eq((await copy(d, q, nsid, 0, [[0, 1]], { format: 1 })).status, Status.INVALID_FIELD, 'descriptor format 1h');
        eq((await copy(d, q, nsid, 0, [[2047, 2]])).status, Status.LBA_OUT_OF_RANGE, 'a source past the end');
        eq((await copy(d, q, nsid, 2047, [[0, 2]])).status, Status.LBA_OUT_OF_RANGE, 'a destination past the end');
      });
    }

    test('marked blocks survive the namespace being pushed to the engine again (a write cache change); Format NVM clears them', async () => {
      const d = f.drv;
      eq((await d.submit(q, cmd(0x04, 1, { cdw10: 700 }))).status, Status.SUCCESS, 'Write Uncorrectable 700');
      const vwc = await d.adminOk(cmd(0x0a, 0, { cdw10: 0x06 }), 'Get VWC');
      await d.adminOk(cmd(0x09, 0, { cdw10: 0x06, cdw11: vwc ^ 1 }), 'Set VWC (the engine gets the namespace again)');
      await d.adminOk(cmd(0x09, 0, { cdw10: 0x06, cdw11: vwc }), 'Set VWC back');
      eq((await readBlocks(d, q, 1, 700, 1)).status, Status.UNRECOVERED_READ_ERROR, 'still marked');
      await d.adminOk(cmd(0x80, 1, { cdw10: 0 }), 'Format NVM');
      const r = await readBlocks(d, q, 1, 700, 1);
      eq(r.status, Status.SUCCESS, 'after Format NVM');
      assert.deepEqual(r.data, Buffer.alloc(512));
    });

    test('a fused pair on a TypeScript bdev is atomic: a Write of its range submitted meanwhile lands after it', async () => {
      const d = f.drv;
      await writeBlocks(d, q, 2, 500, pattern(1, 9));
      const q2 = await d.createIoQueuePair(2, 16);
      try {
        const pair = fused(d, q, 2, 500, pattern(1, 9), pattern(1, 10));
        const buf = d.alloc(512);
        d.write(buf, pattern(1, 11));
        await new Promise((r) => setTimeout(r, 1)); // the pair is with the delay bdev now
        const other = d.io(q2, 0x01, 2, 500n, 1, buf, 512);
        const [[c, w], o] = await Promise.all([pair, other]);
        eq(c.status, Status.SUCCESS, 'Compare (the other Write did not get in between)');
        eq(w.status, Status.SUCCESS, 'Write');
        eq(o.status, Status.SUCCESS, 'the other Write');
        assert.deepEqual((await readBlocks(d, q, 2, 500, 1)).data, pattern(1, 11), 'the other Write came last');
      } finally {
        await d.deleteIoQueuePair(2);
      }
    });
  });
}

describe('Keep Alive Timer and Timestamp', () => {
  test('KATO: Keep Alive commands keep the controller; without them it stops with CSTS.CFS and an error entry; reset clears KATO', async () => {
    const f = await controllerFixture();
    try {
      const d = f.drv;
      const c = f.ep.controller;
      await d.adminOk(cmd(0x09, 0, { cdw10: 0x0f, cdw11: 150 }), 'Set KATO 150 ms');
      assert.equal(await d.adminOk(cmd(0x0a, 0, { cdw10: 0x0f }), 'Get KATO'), 200, 'rounded up to the 100 ms granularity');
      for (let i = 0; i < 6; i++) {
        await new Promise((r) => setTimeout(r, 60));
        await d.adminOk(cmd(0x18, 0), 'Keep Alive');
      }
      assert.equal((await d.client.read32(0, 0x1c)) & 2, 0, 'no fatal status while Keep Alive commands come');
      await new Promise((r) => setTimeout(r, 400));
      assert.equal((await d.client.read32(0, 0x1c)) & 2, 2, 'CSTS.CFS after KATO without a Keep Alive');
      assert.equal(sc(c.errorLog.snapshot()[0]!.status), sc(Status.KEEP_ALIVE_TIMER_EXPIRED), 'Error Information: Keep Alive Timer Expired');
      assert.equal(c.admin, null, 'no more commands fetched');
      await d.client.write32(0, 0x14, 0); // CC.EN = 0: the host resets the controller
      assert.equal((await d.client.read32(0, 0x1c)) & 3, 0, 'reset: CFS and RDY clear');
      assert.equal(c.features.keepAliveTimeoutMs, 0, 'KATO back to its default 0');
      assert.equal(c.keepAlive.running, false);
    } finally {
      await f.close();
    }
  });

  test('Timestamp counts on from the value set (origin 001b), from 0 after a reset (origin 000b)', async () => {
    const f = await controllerFixture();
    try {
      const d = f.drv;
      const buf = d.alloc(4096);
      const v = 1_700_000_000_000;
      const b = Buffer.alloc(8);
      b.writeUIntLE(v, 0, 6);
      b[6] = 0xff; // attributes: the controller's to report, ignored in Set Features
      d.write(buf, b);
      await d.adminOk(cmd(0x09, 0, { prp1: buf, cdw10: 0x0e }), 'Set Timestamp');
      await new Promise((r) => setTimeout(r, 120));
      await d.adminOk(cmd(0x0a, 0, { prp1: buf, cdw10: 0x0e }), 'Get Timestamp');
      const got = d.read(buf, 8);
      const now = got.readUIntLE(0, 6);
      assert.ok(now >= v + 100 && now < v + 5000, `advanced by ${now - v} ms`);
      assert.equal(got[6], 1 << 1, 'Origin 001b, Synch 0');
      f.ep.controller.controllerReset();
      assert.equal(f.ep.controller.features.timestamp.origin, 0);
      assert.ok(f.ep.controller.features.timestampNow() < 1000n, 'from 0 after a reset');
    } finally {
      await f.close();
    }
  });
});

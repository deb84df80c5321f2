// vfio-user level behaviour of an NVMe controller (vfio-user 1.0): device reset values, DMA
// mapping flags and unmapping live queue memory, batched and wrongly sized doorbell writes.
import { DMA_MAP_READ, RegionIndex, Status, VfioUserCommand } from '../spec.js';
import { cmd, pattern, readBack, type CaseContext, type Cqe } from '../session.js';
import type { ConformanceCase } from '../types.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface RegionWrite {
  offset: bigint;
  region: number;
  data: Buffer;
}

/**
 * VFIO_USER_REGION_WRITE_MULTI request, from the vfio-user spec: wr_cnt u64 @0, then one entry
 * of 24 bytes a write: offset u64 @0, region u32 @8, count u32 @12, data[8] @16.
 */
export function regionWriteMulti(writes: RegionWrite[]): Buffer {
  const p = Buffer.alloc(8 + 24 * writes.length);
  p.writeBigUInt64LE(BigInt(writes.length), 0);
  writes.forEach((w, i) => {
    if (w.data.length > 8) throw new RangeError('REGION_WRITE_MULTI carries at most 8 bytes a write');
    const at = 8 + 24 * i;
    p.writeBigUInt64LE(w.offset, at);
    p.writeUInt32LE(w.region, at + 8);
    p.writeUInt32LE(w.data.length, at + 12);
    w.data.copy(p, at + 16);
  });
  return p;
}

export const vfioUserCases: ConformanceCase[] = [
  {
    id: 'vfio-user.device-reset-values',
    section: 'vfio-user 1.0 VFIO_USER_DEVICE_RESET; NVMe Base 2.0 3.1 (register reset values)',
    title: 'A device reset returns the controller registers to their reset values',
    procedure: 'VFIO_USER_DEVICE_RESET; read CC, CSTS, AQA, ASQ, ACQ; program the admin queue and enable again.',
    expected: 'CC=0, CSTS.RDY=0, AQA=ASQ=ACQ=0; the controller enables again and Identify works.',
    level: 'mandatory',
    fresh: 'bare',
    async run(t: CaseContext) {
      t.dirty();
      await t.drv.client.reset();
      t.eq(await t.reg32(0x14), 0, 'CC');
      t.eq((await t.reg32(0x1c)) & 1, 0, 'CSTS.RDY');
      t.eq(await t.reg32(0x24), 0, 'AQA');
      t.eq(await t.reg64(0x28), 0n, 'ASQ');
      t.eq(await t.reg64(0x30), 0n, 'ACQ');
      await t.drv.client.regionWrite(RegionIndex.CONFIG, 4, Buffer.from([0x06, 0x00]));
      await t.s.enableAgain();
      t.ok(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 1 })), 'Identify after device reset');
    },
  },
  {
    id: 'vfio-user.dma-read-only-region',
    section: 'vfio-user 1.0 VFIO_USER_DMA_MAP (READ/WRITE flags); NVMe Base 2.0 4.2.3 (Data Transfer Error)',
    title: 'The controller honours a read-only DMA mapping',
    procedure: 'DMA_MAP a 64 KiB region with only the READ flag; Write from it (the controller reads); Identify into it (the controller would write).',
    expected: 'The Write succeeds and the data arrives; the Identify fails with Data Transfer Error and the region is untouched.',
    level: 'mandatory',
    fresh: 'full',
    async run(t: CaseContext) {
      t.dirty();
      const iova = 0x50000000n;
      const ro = await t.drv.client.addMemory(iova, 65536, { flags: DMA_MAP_READ });
      const data = pattern(4096, 91);
      ro.mem.write(0, data);
      ro.mem.write(8192, Buffer.alloc(4096, 0xee));
      t.ok(await t.io(t.rw(0x01, 1000n, 4096 / t.ns.blockSize, iova)), 'Write from read-only memory');
      t.check((await readBack(t, 1000n, 4096)).equals(data), 'data written from the read-only region');
      t.expect(await t.admin(cmd(0x06, 0, { prp1: iova + 8192n, cdw10: 1 })), Status.DATA_TRANSFER_ERROR, 'Identify into read-only memory');
      t.check(ro.mem.read(8192, 4096).equals(Buffer.alloc(4096, 0xee)), 'the controller wrote into a read-only mapping');
      t.expect(await t.io(t.rw(0x02, 1000n, 4096 / t.ns.blockSize, iova + 8192n)), Status.DATA_TRANSFER_ERROR, 'Read into read-only memory');
      t.check(ro.mem.read(8192, 4096).equals(Buffer.alloc(4096, 0xee)), 'the controller wrote into a read-only mapping (Read)');
    },
  },
  {
    id: 'vfio-user.dma-unmap-live-queue',
    section: 'vfio-user 1.0 VFIO_USER_DMA_UNMAP; NVMe Base 2.0 3.1.6 (CSTS.CFS)',
    title: 'Unmapping the memory of a live I/O queue: no access afterwards, the controller recovers',
    procedure: 'DMA_MAP a 1 MiB region; put CQ 2 and SQ 2 there; Read once; DMA_UNMAP the region; place a Read in SQ 2 and ring; then reset and re-initialize.',
    expected: 'Nothing is written to the unmapped CQ (CSTS.CFS may be set); after CC.EN=0 the controller initializes again and I/O works.',
    level: 'mandatory',
    fresh: 'full',
    async run(t: CaseContext) {
      t.dirty();
      const iova = 0x60000000n;
      const m = await t.drv.client.addMemory(iova, 1 << 20);
      t.ok(await t.createCq(2, 8, { iova }), 'Create CQ 2 in the extra region');
      t.ok(await t.createSq(2, 2, 8, { iova: iova + 4096n }), 'Create SQ 2 in the extra region');
      // The host queues write through the driver's main memory; these live in `m`.
      const sqe = t.rw(0x02, 0n, 1, t.buf(t.ns.blockSize));
      sqe.writeUInt16LE(0x77, 2);
      m.mem.write(4096, sqe);
      await t.doorbell(4, 1);
      let cqe: Buffer = Buffer.alloc(16);
      for (let i = 0; i < 200 && !(cqe.readUInt32LE(12) & 0x10000); i++) {
        await sleep(2);
        cqe = m.mem.read(0, 16);
      }
      t.eq(cqe.readUInt16LE(12), 0x77, 'first completion in the extra region');
      await t.doorbell(5, 1);
      await t.drv.client.dmaUnmap(iova, BigInt(1 << 20));
      const before = m.mem.read(0, 4096);
      m.mem.write(4096 + 64, sqe);
      await t.doorbell(4, 2);
      await sleep(50);
      t.check(m.mem.read(0, 4096).equals(before), 'the controller wrote to the CQ after DMA_UNMAP');
      t.note(`CSTS after the access: 0x${(await t.reg32(0x1c)).toString(16)}`);
      t.q.forget('all');
      await t.drv.disable();
      await t.s.enableAgain();
      await t.drv.setNumberOfQueues(4);
      t.ok(await t.createCq(1, 16), 'Create CQ 1 after recovery');
      t.ok(await t.createSq(1, 1, 16), 'Create SQ 1 after recovery');
      t.ok(await t.io(t.rw(0x02, 0n, 1, t.buf(t.ns.blockSize))), 'Read after recovery');
    },
  },
  {
    id: 'vfio-user.write-multi-doorbells',
    section: 'vfio-user 1.0 VFIO_USER_REGION_WRITE_MULTI (write_multiple capability); NVMe Base 2.0 3.1.24',
    title: 'Doorbells batched in one REGION_WRITE_MULTI are applied in order',
    procedure: 'If the server negotiated write_multiple: place 3 Reads in SQ 1 and send their three tail values in one REGION_WRITE_MULTI (as QEMU batches posted writes).',
    expected: 'All three complete; the server answers with the entry count.',
    level: 'optional',
    async run(t: CaseContext) {
      if (!t.drv.client.serverCaps.write_multiple) t.skip('write_multiple not negotiated');
      const b = t.buf(t.ns.blockSize);
      const sq = t.q.sqs.get(1)!;
      const entries: RegionWrite[] = [];
      const waits: Promise<Cqe>[] = [];
      for (let i = 0; i < 3; i++) {
        waits.push(t.q.wait(1, t.q.place(1, t.rw(0x02, BigInt(i), 1, b))));
        const v = Buffer.alloc(4);
        v.writeUInt32LE(sq.tail);
        entries.push({ offset: 0x1008n, region: 0, data: v });
      }
      t.note(`REGION_WRITE_MULTI: SQ 1 tail <- ${entries.map((e) => e.data.readUInt32LE(0)).join(', ')}`);
      const r = await t.drv.client.call(VfioUserCommand.REGION_WRITE_MULTI, regionWriteMulti(entries));
      t.eq(r.payload.readBigUInt64LE(0), 3n, 'entries acknowledged');
      for (const c of await Promise.all(waits)) t.ok(c, 'Read');
    },
  },
  {
    id: 'vfio-user.doorbell-access-size',
    section: 'vfio-user 1.0 VFIO_USER_REGION_WRITE; NVMe Base 2.0 3.1.24 (doorbells are 32-bit)',
    title: 'A doorbell written with the wrong size is refused, not misread',
    procedure: 'REGION_WRITE of 2 bytes at the SQ 1 tail doorbell; then normal I/O.',
    expected: 'The server answers the write with an error; the queue keeps working.',
    level: 'optional',
    async run(t: CaseContext) {
      let refused = false;
      try {
        await t.drv.client.regionWrite(0, 0x1000 + 8, Buffer.from([1, 0]));
      } catch (err) {
        refused = true;
        t.note(`refused: ${(err as Error).message}`);
      }
      t.check(refused, 'a 2-byte doorbell write was accepted');
      t.ok(await t.io(t.rw(0x02, 0n, 1, t.buf(t.ns.blockSize))), 'Read afterwards');
    },
  },
];

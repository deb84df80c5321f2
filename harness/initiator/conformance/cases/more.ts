// Queue flow control, MSI-X delivery, Format NVM field checks, the Changed Namespace List and
// vfio-user level behaviour (device reset values, doorbell access sizes).
import { native } from '../../../../native/index.js';
import { MallocBdev } from '../../../../target/bdev/malloc.js';
import { Status } from '../../../../target/nvme/constants.js';
import * as W from '../../../../target/vfio-user/wire.js';
import { cmd, pattern, type CaseContext, type Cqe } from '../session.js';
import type { ConformanceCase } from '../types.js';
import { logCmd } from './logs.js';

const BASE = 'NVMe Base 2.0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function identifyNs(t: CaseContext): Promise<Buffer> {
  const b = t.buf(4096);
  t.ok(await t.admin(cmd(0x06, t.ns.nsid, { prp1: b, cdw10: 0 })), 'Identify Namespace');
  return t.read(b, 4096);
}

async function seed(t: CaseContext, slba: bigint, data: Buffer): Promise<void> {
  const b = t.buf(data.length);
  t.write(b, data);
  t.ok(await t.io(t.rw(0x01, slba, data.length / t.ns.blockSize, b)), 'seed Write');
}

async function readBack(t: CaseContext, slba: bigint, bytes: number): Promise<Buffer> {
  const b = t.buf(bytes, 0x5a);
  t.ok(await t.io(t.rw(0x02, slba, bytes / t.ns.blockSize, b)), 'read back');
  return t.read(b, bytes);
}

/** Waits until the eventfd has fired (or `ms` passed); returns the count seen. */
async function fired(fd: number, ms: number): Promise<number> {
  const until = Date.now() + ms;
  let n = 0;
  while (Date.now() < until) {
    n += native.eventfdConsume(fd);
    if (n) return n;
    await sleep(2);
  }
  return n;
}

export const moreCases: ConformanceCase[] = [
  {
    id: 'admin.features.interrupt-vector-config.admin-vector',
    section: `${BASE} 5.27.1.8 (not for the Admin CQ), 5.27.1.9`,
    title: 'The admin vector reports coalescing disabled',
    procedure: 'Get Features Interrupt Vector Configuration for vector 0.',
    expected: 'Success; IV = 0 and CD (bit 16) = 1: interrupt coalescing never applies to the Admin Completion Queue.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const c = await t.admin(cmd(0x0a, 0, { cdw10: 0x09, cdw11: 0 }));
      t.ok(c, 'Get Interrupt Vector Configuration vector 0');
      t.eq(c.dw0 & 0xffff, 0, 'IV');
      t.eq((c.dw0 >> 16) & 1, 1, 'CD of the admin vector');
    },
  },
  {
    id: 'admin.smart.temperature-threshold',
    section: `${BASE} 5.27.1.4, 5.16.1.3 (Critical Warning bit 1), 5.2 (SMART / Health: Temperature Threshold)`,
    title: 'Crossing the over-temperature threshold warns and raises a SMART / Health event',
    procedure: 'Enable SMART temperature events (AEC bit 1); post an AER; set the composite over-temperature threshold below the current temperature; read SMART; restore the threshold; read SMART again.',
    expected: 'The AER completes: type SMART/Health (1h), info 01h, log 02h; Critical Warning bit 1 is set while the threshold is crossed and clear after it is restored.',
    level: 'mandatory',
    fresh: 'bare',
    async run(t: CaseContext) {
      t.dirty();
      const smart = async () => {
        const b = t.buf(512);
        t.ok(await t.admin(logCmd(0x02, 512, b, { nsid: 0xffffffff })), 'SMART');
        return t.read(b, 512);
      };
      const s0 = await smart();
      const temp = s0.readUInt16LE(1);
      t.note(`composite temperature ${temp} K`);
      t.eq(s0[0]! & 2, 0, 'Critical Warning bit 1 before');
      const old = await t.admin(cmd(0x0a, 0, { cdw10: 0x04, cdw11: 0 }));
      t.ok(old, 'Get Temperature Threshold');
      t.ok(await t.admin(cmd(0x09, 0, { cdw10: 0x0b, cdw11: 1 << 1 })), 'Set AEC (temperature)');
      const cid = t.drv.admin.nextCid;
      const aer = t.adminPending(cmd(0x0c, 0), 2000);
      await sleep(5);
      t.ok(await t.admin(cmd(0x09, 0, { cdw10: 0x04, cdw11: temp - 10 })), 'Set over-temperature threshold below the temperature');
      const c = await aer;
      t.check(c !== null, `no event completed AER ${cid}`);
      t.eq(c.dw0 & 7, 1, 'event type (SMART / Health)');
      t.eq((c.dw0 >> 8) & 0xff, 0x01, 'event info (Temperature Threshold)');
      t.eq((c.dw0 >> 16) & 0xff, 0x02, 'log page');
      t.eq((await smart())[0]! & 2, 2, 'Critical Warning bit 1 while crossed');
      t.ok(await t.admin(cmd(0x09, 0, { cdw10: 0x04, cdw11: old.dw0 & 0xffff })), 'restore the threshold');
      t.eq((await smart())[0]! & 2, 0, 'Critical Warning bit 1 after restoring');
    },
  },
  {
    id: 'status.dnr-on-deterministic-errors',
    section: `${BASE} 4.2.3 (Do Not Retry)`,
    title: 'Errors that a retry cannot fix carry Do Not Retry',
    procedure: 'Provoke Invalid Command Opcode, Invalid Field in Command (admin and I/O), Invalid Namespace or Format and LBA Out of Range; inspect status bit 14.',
    expected: 'DNR = 1 in each (a host such as Linux would otherwise retry them).',
    level: 'optional',
    async run(t: CaseContext) {
      const b = t.buf(4096);
      const got: [string, Cqe][] = [
        ['admin Invalid Command Opcode', await t.admin(cmd(0x7f, 0))],
        ['admin Invalid Field', await t.admin(cmd(0x06, 0, { prp1: b, cdw10: 0x1f }))],
        ['I/O Invalid Command Opcode', await t.io(cmd(0x7f, t.ns.nsid))],
        ['I/O Invalid Namespace', await t.io(t.rw(0x02, 0n, 1, b, { nsid: 0 }))],
        ['I/O LBA Out of Range', await t.io(t.rw(0x02, t.ns.blocks, 1, b))],
        ['I/O Invalid Field (MDTS)', await t.io(t.rw(0x02, 0n, t.ctrl.mdts ? Math.min(65536, (4096 << t.ctrl.mdts) / t.ns.blockSize + 1) : 1, b))],
      ];
      for (const [what, c] of got) {
        if (what.includes('MDTS') && !t.ctrl.mdts) continue;
        t.check(c.status !== 0, `${what}: unexpectedly succeeded`);
        t.eq((c.status >> 14) & 1, 1, `${what}: DNR`);
      }
    },
  },
  {
    id: 'reg.nssr.unsupported',
    section: `${BASE} 3.1.7 (NSSR), 3.1.1 (CAP.NSSRS)`,
    title: 'NSSR writes have no effect when NVM Subsystem Reset is not supported',
    procedure: 'If CAP.NSSRS = 0: write 4E564D65h ("NVMe") to NSSR; read CSTS; send Identify.',
    expected: 'CSTS.RDY stays 1 and NSSRO stays 0; Identify completes.',
    level: 'mandatory',
    fresh: 'bare',
    async run(t: CaseContext) {
      if (t.drv.cap & (1n << 36n)) t.skip('CAP.NSSRS = 1: NVM Subsystem Reset supported');
      t.dirty();
      await t.setReg32(0x20, 0x4e564d65);
      await sleep(10);
      const csts = await t.reg32(0x1c);
      t.eq(csts & 1, 1, 'CSTS.RDY after an NSSR write');
      t.eq((csts >> 4) & 1, 0, 'CSTS.NSSRO');
      t.ok(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 1 })), 'Identify after the NSSR write');
    },
  },
  {
    id: 'admin.queue.admin-sq-full',
    section: `${BASE} 4.1.2 (queue full), 3.1.24`,
    title: 'An admin queue filled to size-1 entries completes them all',
    procedure: 'Submit admin-queue-size - 1 Get Features commands before reaping any.',
    expected: 'All complete successfully, each CID once.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const n = t.drv.admin.size - 1;
      const all = await Promise.all(Array.from({ length: n }, () => t.drv.submit(t.drv.admin, cmd(0x0a, 0, { cdw10: 0x01 }))));
      t.eq(new Set(all.map((c) => c.cid)).size, n, 'distinct CIDs');
      for (const c of all) t.ok(c, 'Get Features');
      t.note(`${n} admin commands in flight`);
    },
  },
  {
    id: 'admin.queues.cq-smaller-than-sq',
    section: `${BASE} 4.1.2, 3.3.1.2 (Completion Queue full)`,
    title: 'A CQ smaller than its SQ: the controller waits for CQ space',
    procedure: 'Create CQ 2 with 4 entries and SQ 2 with 16; submit 15 Reads with one doorbell; reap as completions arrive.',
    expected: 'All 15 complete exactly once (the controller never overwrites an unconsumed CQE).',
    level: 'mandatory',
    async run(t: CaseContext) {
      t.ok(await t.createCq(2, 4), 'Create CQ 2 (4 entries)');
      t.ok(await t.createSq(2, 2, 16), 'Create SQ 2 (16 entries)');
      const b = t.buf(t.ns.blockSize);
      const waits: Promise<Cqe>[] = [];
      for (let i = 0; i < 15; i++) waits.push(t.q.wait(2, t.q.place(2, t.rw(0x02, BigInt(i), 1, b))));
      t.q.ring(2);
      for (const c of await Promise.all(waits)) t.ok(c, 'Read');
      await t.q.settle(20);
      t.eq(t.q.stray.length, 0, 'duplicate or unexpected completions');
      for (const [op, q] of [[0x00, 2], [0x04, 2]] as const) {
        t.ok(await t.admin(cmd(op, 0, { cdw10: q })), `Delete ${op ? 'CQ' : 'SQ'} 2`);
        t.q.forget(op ? 'cq' : 'sq', q);
      }
    },
  },
  {
    id: 'interrupts.msix-io-cq',
    section: `${BASE} 5.4 (IEN, IV); PCI MSI-X; vfio-user 1.0 VFIO_USER_DEVICE_SET_IRQS`,
    title: 'A completion on an I/O CQ with IEN=1 raises its MSI-X vector',
    procedure: 'Give MSI-X vector 1 an eventfd (SET_IRQS); Create CQ 2 with IEN=1, IV=1 and SQ 2; Read; then CQ 3 with IEN=0, IV=1 and SQ 3; Read.',
    expected: 'The eventfd fires after the Read on SQ 2; it does not fire for the Read on SQ 3 (interrupts disabled).',
    level: 'mandatory',
    fresh: 'full',
    async run(t: CaseContext) {
      t.dirty();
      const fd = native.eventfdCreate();
      try {
        await t.drv.client.setIrqEventfds(W.IrqIndex.MSIX, 1, [fd]);
        native.eventfdConsume(fd);
        t.ok(await t.createCq(2, 8, { iv: 1, ien: true }), 'Create CQ 2 IEN=1 IV=1');
        t.ok(await t.createSq(2, 2, 8), 'Create SQ 2');
        t.ok(await t.createCq(3, 8, { iv: 1, ien: false }), 'Create CQ 3 IEN=0 IV=1');
        t.ok(await t.createSq(3, 3, 8), 'Create SQ 3');
        native.eventfdConsume(fd);
        t.ok(await t.io(t.rw(0x02, 0n, 1, t.buf(t.ns.blockSize)), 3), 'Read on SQ 3 (IEN=0)');
        t.eq(await fired(fd, 50), 0, 'interrupts with IEN=0');
        t.ok(await t.io(t.rw(0x02, 0n, 1, t.buf(t.ns.blockSize)), 2), 'Read on SQ 2 (IEN=1)');
        t.check((await fired(fd, 1000)) > 0, 'vector 1 did not fire for a completion on CQ 2');
      } finally {
        native.closeFd(fd);
      }
    },
  },
  {
    id: 'interrupts.admin-vector-0',
    section: `${BASE} 3.1.x (admin CQ uses vector 0); PCI MSI-X`,
    title: 'Admin completions raise MSI-X vector 0',
    procedure: 'Give vector 0 an eventfd; send Identify.',
    expected: 'The eventfd fires.',
    level: 'mandatory',
    fresh: 'bare',
    async run(t: CaseContext) {
      t.dirty();
      const fd = native.eventfdCreate();
      try {
        await t.drv.client.setIrqEventfds(W.IrqIndex.MSIX, 0, [fd]);
        native.eventfdConsume(fd);
        t.ok(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 1 })), 'Identify');
        t.check((await fired(fd, 1000)) > 0, 'vector 0 did not fire');
      } finally {
        native.closeFd(fd);
      }
    },
  },
  {
    id: 'admin.format.pi-without-metadata',
    section: `${BASE} 5.14 (PI)`,
    title: 'Format NVM with protection information on a format without metadata is rejected',
    procedure: 'If OACS bit 1 and the current format has no metadata: Format NVM with PI=001b.',
    expected: 'Invalid Format; data unchanged.',
    level: 'mandatory',
    async run(t: CaseContext) {
      if (!(t.ctrl.oacs & 2)) t.skip('Format NVM not supported');
      const id = await identifyNs(t);
      const lbaf = id[26]! & 0xf;
      if (id.readUInt32LE(128 + 4 * lbaf) & 0xffff) t.skip('the current format has metadata');
      const data = pattern(4096, 81);
      await seed(t, 960n, data);
      t.expect(await t.admin(cmd(0x80, t.ns.nsid, { cdw10: lbaf | (1 << 5) })), Status.INVALID_FORMAT, 'Format with PI=1');
      t.check((await readBack(t, 960n, 4096)).equals(data), 'data changed by a rejected Format NVM');
    },
  },
  {
    id: 'admin.format.crypto-erase-unsupported',
    section: `${BASE} 5.14 (SES), 5.17.2.1 (FNA bit 2)`,
    title: 'Format NVM with cryptographic erase when it is not supported is rejected',
    procedure: 'If FNA bit 2 = 0: Format NVM with SES=010b; also SES=111b (reserved).',
    expected: 'Invalid Field in Command; data unchanged.',
    level: 'mandatory',
    async run(t: CaseContext) {
      if (!(t.ctrl.oacs & 2)) t.skip('Format NVM not supported');
      const fna = t.s.idc[524]!;
      if (fna & 4) t.skip('cryptographic erase supported');
      const data = pattern(4096, 82);
      await seed(t, 968n, data);
      t.expect(await t.admin(cmd(0x80, t.ns.nsid, { cdw10: 2 << 9 })), Status.INVALID_FIELD, 'SES=010b');
      t.expect(await t.admin(cmd(0x80, t.ns.nsid, { cdw10: 7 << 9 })), Status.INVALID_FIELD, 'SES=111b');
      t.check((await readBack(t, 968n, 4096)).equals(data), 'data changed by a rejected Format NVM');
    },
  },
  {
    id: 'admin.format.broadcast',
    section: `${BASE} 5.14 (NSID FFFFFFFFh)`,
    title: 'Format NVM of all namespaces is all or nothing',
    procedure: 'Write a pattern; Format NVM with NSID FFFFFFFFh.',
    expected: 'Success and the pattern reads zero, or an error status and the pattern is intact (no namespace half-formatted).',
    level: 'mandatory',
    async run(t: CaseContext) {
      if (!(t.ctrl.oacs & 2)) t.skip('Format NVM not supported');
      const data = pattern(4096, 83);
      await seed(t, 976n, data);
      const c = await t.admin(cmd(0x80, 0xffffffff, { cdw10: 0 }), 30000);
      const after = await readBack(t, 976n, 4096);
      if (c.status === 0) t.check(after.equals(Buffer.alloc(4096)), 'Format NVM of all namespaces succeeded but data survived');
      else {
        t.note(`refused: ${c.status}`);
        t.check(after.equals(data), 'a failed Format NVM of all namespaces erased this namespace');
      }
    },
  },
  {
    id: 'admin.log.changed-ns-rae',
    section: `${BASE} 5.16.1.5, 5.16 (RAE)`,
    title: 'Changed Namespace List survives a RAE=1 read and is cleared by a RAE=0 read',
    procedure: 'Attach a namespace (in-process target); read log 04h with RAE=1, again with RAE=0, then once more.',
    expected: 'The first two reads list the NSID; the third is empty.',
    level: 'optional',
    fresh: 'bare',
    async run(t: CaseContext) {
      const ep = t.env.endpoint;
      if (!ep) t.skip('needs the in-process target to change namespaces');
      t.dirty();
      const before = ep.opts.namespaces;
      const used = new Set(before().map((n) => n.nsid));
      let nsid = 1;
      while (used.has(nsid)) nsid++;
      const extra = new MallocBdev({ name: `ConformanceRae${nsid}`, blockSize: 512, numBlocks: 64 });
      try {
        ep.opts.namespaces = () => [...before(), { nsid, bdev: extra }];
        ep.refreshNamespaces();
        const read = async (rae: boolean) => {
          const b = t.buf(4096, 0xaa);
          t.ok(await t.admin(logCmd(0x04, 4096, b, { rae })), `log 04h RAE=${rae ? 1 : 0}`);
          return t.read(b, 4).readUInt32LE(0);
        };
        t.eq(await read(true), nsid, 'after RAE=1 read');
        t.eq(await read(false), nsid, 'RAE=0 read');
        t.eq(await read(false), 0, 'after the RAE=0 read');
      } finally {
        ep.opts.namespaces = before;
        ep.refreshNamespaces();
        await extra.close();
      }
    },
  },
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
      await t.drv.client.regionWrite(W.RegionIndex.CONFIG, 4, Buffer.from([0x06, 0x00]));
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
      const ro = await t.drv.client.addMemory(iova, 65536, { flags: W.DMA_MAP_FLAG_READ });
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
    id: 'reg.cc.admin-sq-unmapped',
    section: `${BASE} 3.1.6 (CSTS.CFS), 3.5.1`,
    title: 'An admin SQ outside the memory map: controller fatal status, cleared by a reset',
    procedure: 'Reset; program ASQ at an unmapped IOVA; enable; ring the admin SQ doorbell; read CSTS; reset and re-initialize properly.',
    expected: 'CSTS.CFS=1 (or the command is simply not fetched); after CC.EN=0, CFS=0 and a proper initialization works.',
    level: 'optional',
    fresh: 'bare',
    async run(t: CaseContext) {
      t.dirty();
      const a = t.drv.admin;
      await t.drv.disable();
      await t.drv.client.write64(0, 0x28, 0x7000000000n);
      await t.drv.client.write64(0, 0x30, a.cqIova);
      await t.setReg32(0x14, (6 << 16) | (4 << 20) | 1);
      await t.waitCsts((v) => (v & 3) !== 0, 'CSTS after enable');
      await t.doorbell(0, 1);
      await sleep(30);
      const csts = await t.reg32(0x1c);
      t.note(`CSTS=0x${csts.toString(16)}`);
      await t.setReg32(0x14, 0);
      const after = await t.waitCsts((v) => (v & 1) === 0, 'CSTS.RDY after CC.EN=0');
      t.eq(after & 2, 0, 'CSTS.CFS after the reset');
      await t.s.enableAgain();
      t.ok(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 1 })), 'Identify after recovery');
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
      const entries: W.WriteMultiEntry[] = [];
      const waits: Promise<Cqe>[] = [];
      for (let i = 0; i < 3; i++) {
        waits.push(t.q.wait(1, t.q.place(1, t.rw(0x02, BigInt(i), 1, b))));
        const v = Buffer.alloc(4);
        v.writeUInt32LE(sq.tail);
        entries.push({ offset: 0x1008n, region: 0, data: v });
      }
      t.note(`REGION_WRITE_MULTI: SQ 1 tail <- ${entries.map((e) => e.data.readUInt32LE(0)).join(', ')}`);
      const r = await t.drv.client.call(W.Command.REGION_WRITE_MULTI, W.encodeWriteMulti(entries));
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

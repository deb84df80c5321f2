// Get Log Page (NVMe Base 2.0 section 5.16): the mandatory pages, offsets (alignment, beyond
// the end, a read crossing the end), error log entries for failed commands, SMART counters,
// the temperature threshold warning, the Changed Namespace List and RAE.
import { MallocBdev } from '../../../../target/bdev/malloc.js';
import { Status } from '../spec.js';
import { cmd, pattern, type CaseContext } from '../session.js';
import type { ConformanceCase } from '../types.js';

const BASE = 'NVMe Base 2.0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function logCmd(lid: number, bytes: number, prp1: bigint, f: { offset?: bigint; rae?: boolean; nsid?: number; prp2?: bigint } = {}): Buffer {
  const numd = bytes / 4 - 1;
  const off = f.offset ?? 0n;
  return cmd(0x02, f.nsid ?? 0, {
    prp1,
    prp2: f.prp2 ?? 0n,
    cdw10: lid | (f.rae ? 1 << 15 : 0) | ((numd & 0xffff) << 16),
    cdw11: numd >>> 16,
    cdw12: Number(off & 0xffffffffn),
    cdw13: Number(off >> 32n),
  });
}

async function readLog(t: CaseContext, lid: number, bytes: number, f: { offset?: bigint; rae?: boolean; nsid?: number } = {}) {
  const b = t.buf(bytes, 0xaa);
  const { prp1, prp2 } = t.drv.prps(b, bytes);
  const c = await t.admin(logCmd(lid, bytes, prp1, { ...f, prp2 }));
  return { c, data: t.read(b, bytes) };
}

function u128lo(b: Buffer, off: number): bigint {
  return b.readBigUInt64LE(off);
}

export const logCases: ConformanceCase[] = [
  {
    id: 'admin.log.error-information',
    section: 'NVMe Base 2.0 5.16.1.2',
    title: 'Error Information log (01h)',
    procedure: 'Get Log Page 01h, 64 bytes per entry for ELPE+1 entries.',
    expected: 'Success; entries are 64 bytes, newest first (Error Count descending among non-zero entries).',
    level: 'mandatory',
    async run(t: CaseContext) {
      const n = t.ctrl.elpe + 1;
      const { c, data } = await readLog(t, 0x01, 64 * n);
      t.ok(c, 'Get Log Page 01h');
      let prev = -1n;
      for (let i = 0; i < n; i++) {
        const count = data.readBigUInt64LE(64 * i);
        if (count === 0n) break;
        if (prev >= 0n) t.check(count < prev, `entry ${i} error count ${count} not below ${prev}`);
        prev = count;
      }
    },
  },
  {
    id: 'admin.log.smart',
    section: 'NVMe Base 2.0 5.16.1.3',
    title: 'SMART / Health Information log (02h)',
    procedure: 'Get Log Page 02h, 512 bytes, NSID FFFFFFFFh and NSID 0.',
    expected: 'Success for both; composite temperature non-zero (Kelvin), available spare <= 100%.',
    level: 'mandatory',
    async run(t: CaseContext) {
      for (const nsid of [0xffffffff, 0]) {
        const { c, data } = await readLog(t, 0x02, 512, { nsid });
        t.ok(c, `SMART NSID ${nsid.toString(16)}h`);
        t.check(data.readUInt16LE(1) > 0, 'composite temperature is 0');
        t.check(data[3]! <= 100, 'available spare above 100%');
      }
    },
  },
  {
    id: 'admin.log.firmware-slot',
    section: 'NVMe Base 2.0 5.16.1.4',
    title: 'Firmware Slot Information log (03h)',
    procedure: 'Get Log Page 03h, 512 bytes.',
    expected: 'Success; AFI names an active slot 1-7; that slot\'s revision equals Identify FR.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const { c, data } = await readLog(t, 0x03, 512);
      t.ok(c, 'Get Log Page 03h');
      const slot = data[0]! & 7;
      t.check(slot >= 1, 'AFI names no active slot');
      t.eq(data.toString('latin1', 8 * slot, 8 * slot + 8), t.s.idc.toString('latin1', 64, 72), 'active slot revision vs FR');
    },
  },
  {
    id: 'admin.log.changed-namespaces',
    section: 'NVMe Base 2.0 5.16.1.5',
    title: 'Changed Namespace List log (04h)',
    procedure: 'Get Log Page 04h, 4096 bytes.',
    expected: 'Success (when OAES bit 8 is set); a list of NSIDs, zero-terminated.',
    level: 'optional',
    async run(t: CaseContext) {
      const oaes = t.s.idc.readUInt32LE(92);
      const { c } = await readLog(t, 0x04, 4096);
      if (!(oaes & (1 << 8))) {
        if (c.status) t.expect(c, Status.INVALID_LOG_PAGE, 'Get Log Page 04h without namespace attribute notices');
        return;
      }
      t.ok(c, 'Get Log Page 04h');
    },
  },
  {
    id: 'admin.log.commands-supported',
    section: 'NVMe Base 2.0 5.16.1.6',
    title: 'Commands Supported and Effects log (05h)',
    procedure: 'If LPA bit 1: Get Log Page 05h, 4096 bytes.',
    expected: 'Success; Identify (admin 06h) and Read (I/O 02h) have CSUPP set.',
    level: 'optional',
    async run(t: CaseContext) {
      if (!(t.ctrl.lpa & 2)) t.skip('LPA bit 1 clear');
      const { c, data } = await readLog(t, 0x05, 4096);
      t.ok(c, 'Get Log Page 05h');
      t.eq(data.readUInt32LE(4 * 0x06) & 1, 1, 'Identify CSUPP');
      t.eq(data.readUInt32LE(1024 + 4 * 0x02) & 1, 1, 'Read CSUPP');
    },
  },
  {
    id: 'admin.log.commands-supported-consistent',
    section: 'NVMe Base 2.0 5.16.1.6, 5.17.2.1 (OACS, ONCS)',
    title: 'Commands Supported and Effects agrees with OACS/ONCS and with what the controller accepts',
    procedure: 'If LPA bit 1: read log 05h; compare CSUPP of Format NVM, Doorbell Buffer Config, Namespace Management/Attachment, Firmware Commit/Download with OACS, and of Compare, Write Uncorrectable, DSM, Write Zeroes, Verify, Copy with ONCS; send Keep Alive if listed.',
    expected: 'Each CSUPP bit equals the corresponding OACS/ONCS bit; a listed command is not rejected as Invalid Command Opcode.',
    level: 'mandatory',
    async run(t: CaseContext) {
      if (!(t.ctrl.lpa & 2)) t.skip('LPA bit 1 clear');
      const { c, data } = await readLog(t, 0x05, 4096);
      t.ok(c, 'Get Log Page 05h');
      const admin = (op: number) => data.readUInt32LE(4 * op) & 1;
      const io = (op: number) => data.readUInt32LE(1024 + 4 * op) & 1;
      const { oacs, oncs } = t.ctrl;
      const pairs: [string, number, number][] = [
        ['Format NVM / OACS bit 1', admin(0x80), (oacs >> 1) & 1],
        ['Firmware Commit / OACS bit 2', admin(0x10), (oacs >> 2) & 1],
        ['Firmware Image Download / OACS bit 2', admin(0x11), (oacs >> 2) & 1],
        ['Namespace Management / OACS bit 3', admin(0x0d), (oacs >> 3) & 1],
        ['Namespace Attachment / OACS bit 3', admin(0x15), (oacs >> 3) & 1],
        ['Doorbell Buffer Config / OACS bit 8', admin(0x7c), (oacs >> 8) & 1],
        ['Compare / ONCS bit 0', io(0x05), oncs & 1],
        ['Write Uncorrectable / ONCS bit 1', io(0x04), (oncs >> 1) & 1],
        ['Dataset Management / ONCS bit 2', io(0x09), (oncs >> 2) & 1],
        ['Write Zeroes / ONCS bit 3', io(0x08), (oncs >> 3) & 1],
        ['Verify / ONCS bit 7', io(0x0c), (oncs >> 7) & 1],
        ['Copy / ONCS bit 8', io(0x19), (oncs >> 8) & 1],
      ];
      for (const [what, csupp, bit] of pairs) t.eq(csupp, bit, what);
      for (const op of [0x00, 0x01, 0x02]) t.eq(io(op), 1, `I/O opcode ${op} CSUPP (mandatory NVM command)`);
      if (admin(0x18)) t.check(((await t.admin(cmd(0x18, 0))).status & 0x7ff) !== (Status.INVALID_OPCODE & 0x7ff), 'Keep Alive listed but rejected');
    },
  },
  {
    id: 'admin.log.unsupported',
    section: 'NVMe Base 2.0 5.16 (Figure 199)',
    title: 'An unsupported log page is rejected',
    procedure: 'Get Log Page 7Fh (reserved) and BFh (reserved).',
    expected: 'Invalid Log Page.',
    level: 'mandatory',
    async run(t: CaseContext) {
      t.expect((await readLog(t, 0x7f, 512)).c, Status.INVALID_LOG_PAGE, 'LID 7Fh');
      t.expect((await readLog(t, 0xbf, 512)).c, Status.INVALID_LOG_PAGE, 'LID BFh');
    },
  },
  {
    id: 'admin.log.offset-misaligned',
    section: 'NVMe Base 2.0 5.16 (LPOL)',
    title: 'A log page offset that is not dword aligned is rejected',
    procedure: 'Get Log Page 02h with LPOL=2.',
    expected: 'Invalid Field in Command.',
    level: 'mandatory',
    async run(t: CaseContext) {
      t.expect((await readLog(t, 0x02, 256, { offset: 2n })).c, Status.INVALID_FIELD, 'LPOL=2');
    },
  },
  {
    id: 'admin.log.offset-read',
    section: 'NVMe Base 2.0 5.16 (LPOL/LPOU)',
    title: 'A read at an offset returns that part of the page',
    procedure: 'If LPA bit 2 (extended data): read the Firmware Slot log whole, then 8 bytes at offset 8.',
    expected: 'Success; the 8 bytes equal bytes 8-15 of the whole page.',
    level: 'optional',
    async run(t: CaseContext) {
      if (!(t.ctrl.lpa & 4)) t.skip('LPA bit 2 clear: offsets not supported');
      const whole = await readLog(t, 0x03, 512);
      t.ok(whole.c, 'whole page');
      const part = await readLog(t, 0x03, 8, { offset: 8n });
      t.ok(part.c, 'offset 8');
      t.check(part.data.equals(whole.data.subarray(8, 16)), 'offset read differs from the page');
    },
  },
  {
    id: 'admin.log.offset-beyond-end',
    section: 'NVMe Base 2.0 5.16',
    title: 'An offset beyond the end of the page is rejected',
    procedure: 'Get Log Page 02h (512 bytes) with offset 512, then offset 2^32.',
    expected: 'Invalid Field in Command.',
    level: 'mandatory',
    async run(t: CaseContext) {
      if (!(t.ctrl.lpa & 4)) t.skip('LPA bit 2 clear: offsets not supported');
      t.expect((await readLog(t, 0x02, 64, { offset: 512n })).c, Status.INVALID_FIELD, 'offset 512');
      t.expect((await readLog(t, 0x02, 64, { offset: 1n << 32n })).c, Status.INVALID_FIELD, 'offset 2^32 (LPOU)');
    },
  },
  {
    id: 'admin.log.numd-crosses-end',
    section: 'NVMe Base 2.0 5.16',
    title: 'A read crossing the end of the page returns zeroes past it',
    procedure: 'Get Log Page 03h (512 bytes) with offset 256 and NUMD for 512 bytes into a buffer filled with AAh.',
    expected: 'Success; bytes 0-255 equal bytes 256-511 of the page, bytes 256-511 of the buffer are zero.',
    level: 'mandatory',
    async run(t: CaseContext) {
      if (!(t.ctrl.lpa & 4)) t.skip('LPA bit 2 clear: offsets not supported');
      const whole = await readLog(t, 0x03, 512);
      const r = await readLog(t, 0x03, 512, { offset: 256n });
      t.ok(r.c, 'offset 256, 512 bytes');
      t.check(r.data.subarray(0, 256).equals(whole.data.subarray(256)), 'first half differs from the page');
      t.check(r.data.subarray(256).equals(Buffer.alloc(256)), 'bytes past the end are not zero');
    },
  },
  {
    id: 'admin.log.numd-longer-than-page',
    section: 'NVMe Base 2.0 5.16',
    title: 'A read longer than the page fills the rest with zeroes',
    procedure: 'Get Log Page 02h with NUMD for 4096 bytes into a buffer filled with AAh.',
    expected: 'Success; bytes 512-4095 are zero.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const r = await readLog(t, 0x02, 4096, { nsid: 0xffffffff });
      t.ok(r.c, 'SMART 4096 bytes');
      t.check(r.data.subarray(512).equals(Buffer.alloc(4096 - 512)), 'bytes beyond the 512-byte page are not zero');
    },
  },
  {
    id: 'admin.log.prp-list',
    section: 'NVMe Base 2.0 5.16, 4.1.1',
    title: 'A log page read spanning pages uses PRP2',
    procedure: 'Read Commands Supported and Effects (4 KiB; Firmware Slot when LPA bit 1 is clear) into page+800h, continuing in PRP2.',
    expected: 'Success; the data equals the aligned read.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const lid = t.ctrl.lpa & 2 ? 0x05 : 0x03;
      const len = lid === 0x05 ? 4096 : 512;
      const whole = await readLog(t, lid, len);
      const a = t.buf(8192, 0);
      const { prp1, prp2 } = t.drv.prps(a + 0x800n, len);
      t.ok(await t.admin(logCmd(lid, len, prp1, { prp2 })), 'unaligned buffer');
      t.check(t.read(a + 0x800n, len).equals(whole.data), 'data differs');
    },
  },
  {
    id: 'admin.log.error-entry-admin',
    section: 'NVMe Base 2.0 5.16.1.2',
    title: 'A failed admin command is recorded in the Error Information log',
    procedure: 'Send Identify CNS 1Fh (fails); read log 01h.',
    expected: 'The newest entry has SQID 0, the failed command\'s CID and status; Error Count increased.',
    level: 'optional',
    async run(t: CaseContext) {
      const before = (await readLog(t, 0x01, 64)).data.readBigUInt64LE(0);
      const f = await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 0x1f }));
      t.expect(f, Status.INVALID_FIELD, 'Identify CNS 1Fh');
      const e = (await readLog(t, 0x01, 64)).data;
      t.check(e.readBigUInt64LE(0) > before, 'error count did not increase');
      t.eq(e.readUInt16LE(8), 0, 'SQID');
      t.eq(e.readUInt16LE(10), f.cid, 'CID');
      t.eq((e.readUInt16LE(12) >> 1) & 0x7ff, f.status & 0x7ff, 'status field');
    },
  },
  {
    id: 'admin.log.error-entry-io',
    section: 'NVMe Base 2.0 5.16.1.2',
    title: 'A failed I/O command is recorded in the Error Information log',
    procedure: 'Read one block at SLBA = NSZE (fails); read log 01h.',
    expected: 'The newest entry has SQID 1, the command\'s CID, LBA Out of Range, the NSID and the LBA.',
    level: 'optional',
    async run(t: CaseContext) {
      const c = await t.io(t.rw(0x02, t.ns.blocks, 1, t.buf(t.ns.blockSize)));
      t.expect(c, Status.LBA_OUT_OF_RANGE, 'Read at NSZE');
      await new Promise((r) => setTimeout(r, 20));
      const e = (await readLog(t, 0x01, 64)).data;
      t.eq(e.readUInt16LE(8), 1, 'SQID');
      t.eq(e.readUInt16LE(10), c.cid, 'CID');
      t.eq((e.readUInt16LE(12) >> 1) & 0x7ff, Status.LBA_OUT_OF_RANGE & 0x7ff, 'status field');
      t.eq(e.readBigUInt64LE(16), t.ns.blocks, 'LBA');
      t.eq(e.readUInt32LE(24), t.ns.nsid, 'NSID');
    },
  },
  {
    id: 'admin.log.smart-counters',
    section: 'NVMe Base 2.0 5.16.1.3',
    title: 'SMART host command and data unit counters increase with I/O',
    procedure: 'Read SMART; write and read 1000 x 512 bytes worth (64 KiB, 8 commands each way); read SMART again.',
    expected: 'Host Read/Write Commands increase by at least 8; Data Units Read/Written increase.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const a = (await readLog(t, 0x02, 512, { nsid: 0xffffffff })).data;
      const bs = t.ns.blockSize;
      const buf = t.buf(65536);
      t.write(buf, pattern(65536, 7));
      const blocks = 8192 / bs;
      for (let i = 0; i < 8; i++) t.ok(await t.io(t.rw(0x01, BigInt(i * blocks), blocks, buf + BigInt(i * 8192))), 'Write');
      for (let i = 0; i < 8; i++) t.ok(await t.io(t.rw(0x02, BigInt(i * blocks), blocks, buf + BigInt(i * 8192))), 'Read');
      const b = (await readLog(t, 0x02, 512, { nsid: 0xffffffff })).data;
      t.note(`read cmds ${u128lo(a, 64)} -> ${u128lo(b, 64)}, write cmds ${u128lo(a, 80)} -> ${u128lo(b, 80)}`);
      t.check(u128lo(b, 64) - u128lo(a, 64) >= 8n, 'Host Read Commands');
      t.check(u128lo(b, 80) - u128lo(a, 80) >= 8n, 'Host Write Commands');
      t.check(u128lo(b, 32) > u128lo(a, 32) || u128lo(a, 32) > 0n, 'Data Units Read');
      t.check(u128lo(b, 48) > u128lo(a, 48) || u128lo(a, 48) > 0n, 'Data Units Written');
    },
  },
  {
    id: 'admin.log.smart-error-entries',
    section: 'NVMe Base 2.0 5.16.1.3 (Number of Error Information Log Entries)',
    title: 'SMART counts error log entries',
    procedure: 'Read SMART; fail a command; read SMART again.',
    expected: 'Number of Error Information Log Entries increased.',
    level: 'optional',
    async run(t: CaseContext) {
      const a = (await readLog(t, 0x02, 512, { nsid: 0xffffffff })).data;
      await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 0x1f }));
      const b = (await readLog(t, 0x02, 512, { nsid: 0xffffffff })).data;
      t.check(u128lo(b, 176) > u128lo(a, 176), 'error log entry count did not increase');
    },
  },
  {
    id: 'admin.log.prp-unmapped',
    section: 'NVMe Base 2.0 5.16, 4.1.1',
    title: 'A log page to unmapped memory fails the command',
    procedure: 'Get Log Page 02h with PRP1 unmapped.',
    expected: 'Data Transfer Error.',
    level: 'mandatory',
    async run(t: CaseContext) {
      t.expect(await t.admin(logCmd(0x02, 512, 0x7000000000n)), Status.DATA_TRANSFER_ERROR, 'SMART to unmapped memory');
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
];

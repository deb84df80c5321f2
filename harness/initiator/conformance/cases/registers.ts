// Controller registers (NVMe Base 2.0 section 3.1) and the initialization, reset and shutdown
// handshakes (3.5, 3.6, 3.7) as the host sees them over vfio-user region accesses; NSSR when
// unsupported; an admin SQ outside the memory map.
import { Reg, RegionIndex, Status } from '../spec.js';
import { cmd, type CaseContext } from '../session.js';
import type { ConformanceCase } from '../types.js';

const BASE = 'NVMe Base 2.0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const { CAP, VS, CC, CSTS, AQA, ASQ, ACQ, CMBSZ } = Reg;
const CC_VALUE = (6 << 16) | (4 << 20) | 1;

export const registerCases: ConformanceCase[] = [
  {
    id: 'reg.pci.class-code',
    section: 'NVMe over PCIe 1.0 3.8 / PCI Code and ID Assignment',
    title: 'PCI class code is NVM Express',
    procedure: 'Read config space dword 2 (class code) and BAR0.',
    expected: 'Class code 010802h; BAR0 a 64-bit memory BAR.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const cfg = await t.drv.client.regionRead(RegionIndex.CONFIG, 0, 64);
      t.eq(cfg.readUInt32LE(8) >>> 8, 0x010802, 'class code');
      const bar0 = cfg.readUInt32LE(0x10);
      t.eq(bar0 & 1, 0, 'BAR0 is memory');
      t.eq((bar0 >> 1) & 3, 2, 'BAR0 type (64-bit)');
      t.note(`config dword2=0x${cfg.readUInt32LE(8).toString(16)} BAR0=0x${bar0.toString(16)}`);
    },
  },
  {
    id: 'reg.bar0.size',
    section: 'NVMe Base 2.0 3.1.1, 3.1.26',
    title: 'BAR0 holds the registers and every doorbell',
    procedure: 'VFIO_USER_DEVICE_GET_REGION_INFO for BAR0; compare with CAP.DSTRD and the queues granted.',
    expected: 'BAR0 size >= 1000h + (granted queues + 1) * 2 * (4 << DSTRD).',
    level: 'mandatory',
    async run(t: CaseContext) {
      const r = await t.drv.client.regionInfo(0);
      if (r.fd !== null) {
        const { native } = await import('../../../../native/index.js');
        native.closeFd(r.fd);
      }
      const dstrd = Number((t.drv.cap >> 32n) & 0xfn);
      const need = 0x1000 + (4 + 1) * 2 * (4 << dstrd);
      t.note(`BAR0 size 0x${r.info.size.toString(16)}, DSTRD ${dstrd}`);
      t.check(r.info.size >= BigInt(need), `BAR0 of ${r.info.size} bytes cannot hold ${need}`);
    },
  },
  {
    id: 'reg.cap.mqes',
    section: 'NVMe Base 2.0 3.1.1 (CAP.MQES)',
    title: 'CAP.MQES allows queues of at least 2 entries',
    procedure: 'Read CAP.',
    expected: 'MQES (0-based) >= 1.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const cap = await t.reg64(CAP);
      t.note(`CAP=0x${cap.toString(16)}`);
      t.check((cap & 0xffffn) >= 1n, 'MQES is 0');
    },
  },
  {
    id: 'reg.cap.to',
    section: 'NVMe Base 2.0 3.1.1 (CAP.TO)',
    title: 'CAP.TO is non-zero',
    procedure: 'Read CAP.TO.',
    expected: 'TO >= 1 (units of 500 ms).',
    level: 'mandatory',
    async run(t: CaseContext) {
      const to = Number(((await t.reg64(CAP)) >> 24n) & 0xffn);
      t.note(`TO=${to} (${to * 500} ms)`);
      t.check(to > 0, 'CAP.TO is 0');
    },
  },
  {
    id: 'reg.cap.css-nvm',
    section: 'NVMe Base 2.0 3.1.1 (CAP.CSS)',
    title: 'The NVM command set is supported',
    procedure: 'Read CAP.CSS (bits 44:37).',
    expected: 'CSS bit 0 (NVM command set) set.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const css = Number(((await t.reg64(CAP)) >> 37n) & 0xffn);
      t.note(`CSS=0x${css.toString(16)}`);
      t.check(css & 1 || css & 0x40, 'neither the NVM command set nor I/O command sets are supported');
    },
  },
  {
    id: 'reg.cap.mps',
    section: 'NVMe Base 2.0 3.1.1 (CAP.MPSMIN/MPSMAX)',
    title: 'Memory page sizes include 4 KiB',
    procedure: 'Read CAP.MPSMIN (51:48) and CAP.MPSMAX (55:52).',
    expected: 'MPSMIN = 0 (4 KiB, what x86 hosts use) and MPSMIN <= MPSMAX.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const cap = await t.reg64(CAP);
      const min = Number((cap >> 48n) & 0xfn), max = Number((cap >> 52n) & 0xfn);
      t.note(`MPSMIN=${min} MPSMAX=${max}`);
      t.eq(min, 0, 'MPSMIN');
      t.check(min <= max, 'MPSMIN > MPSMAX');
    },
  },
  {
    id: 'reg.cap.reserved',
    section: 'NVMe Base 2.0 3.1.1',
    title: 'CAP reserved bits read as zero',
    procedure: 'Read CAP; mask bits 23:19 and 63:62.',
    expected: 'Reserved bits are 0.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const cap = await t.reg64(CAP);
      t.eq(cap & ((0x1fn << 19n) | (3n << 62n)), 0n, 'reserved CAP bits');
    },
  },
  {
    id: 'reg.vs',
    section: 'NVMe Base 2.0 3.1.2',
    title: 'Version register',
    procedure: 'Read VS.',
    expected: 'MJR 1 or 2; 1.2 or later (Linux reads CMBSZ from 1.2, NS descriptors from 1.3).',
    level: 'mandatory',
    async run(t: CaseContext) {
      const vs = await t.reg32(VS);
      const mjr = vs >>> 16, mnr = (vs >> 8) & 0xff;
      t.note(`VS=${mjr}.${mnr}.${vs & 0xff}`);
      t.check(mjr === 2 || (mjr === 1 && mnr >= 2), `version ${mjr}.${mnr}`);
    },
  },
  {
    id: 'reg.cmbsz.zero',
    section: 'NVMe Base 2.0 3.1.13',
    title: 'No controller memory buffer advertised',
    procedure: 'Read CMBSZ (and CAP.CMBS).',
    expected: 'CMBSZ = 0 when CAP.CMBS = 0.',
    level: 'optional',
    async run(t: CaseContext) {
      const cap = await t.reg64(CAP);
      if (cap & (1n << 57n)) t.skip('CAP.CMBS set: the controller has a CMB');
      t.eq(await t.reg32(CMBSZ), 0, 'CMBSZ');
    },
  },
  {
    id: 'reg.optional-registers-zero',
    section: 'NVMe Base 2.0 3.1.11-3.1.22 (CMBLOC, CMBSZ, BPINFO, PMRCAP), 3.1 (reserved)',
    title: 'Registers of absent optional features and reserved space read zero',
    procedure: 'With CAP.CMBS, CAP.BPS and CAP.PMRS clear: read CMBLOC (38h), CMBSZ (3Ch), BPINFO (40h), PMRCAP (E00h) and reserved 60h-DFFh samples.',
    expected: 'All zero.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const cap = await t.reg64(CAP);
      const absent = !(cap & (1n << 57n)) && !(cap & (1n << 45n)) && !(cap & (1n << 56n));
      if (!absent) t.skip('a CMB, boot partitions or a PMR are offered');
      for (const off of [0x38, 0x3c, 0x40, 0xe00, 0x60, 0x100, 0x800, 0xdfc]) t.eq(await t.reg32(off), 0, `register 0x${off.toString(16)}`);
    },
  },
  {
    id: 'reg.read-only-ignore-writes',
    section: 'NVMe Base 2.0 3.1.1, 3.1.2, 3.1.6 (RO fields)',
    title: 'Writes to CAP, VS and CSTS do not change them',
    procedure: 'Write FFFFFFFFh to CAP (both dwords), VS and CSTS; read them back; send Identify.',
    expected: 'CAP, VS unchanged; CSTS.RDY still 1, CFS 0; Identify completes.',
    level: 'mandatory',
    fresh: 'bare',
    async run(t: CaseContext) {
      t.dirty();
      const cap = await t.reg64(CAP), vs = await t.reg32(VS);
      for (const off of [CAP, CAP + 4, VS]) await t.setReg32(off, 0xffffffff);
      await t.setReg32(CSTS, 0xffffffef); // leave NSSRO (RW1C) alone
      t.eq(await t.reg64(CAP), cap, 'CAP');
      t.eq(await t.reg32(VS), vs, 'VS');
      t.eq((await t.reg32(CSTS)) & 3, 1, 'CSTS.RDY/CFS');
      t.ok(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 1 })), 'Identify');
    },
  },
  {
    id: 'reg.64bit-as-dwords',
    section: 'NVMe Base 2.0 3.1 (64-bit registers may be accessed as two 32-bit accesses)',
    title: 'ASQ/ACQ written and CAP read as two dwords',
    procedure: 'Reset; write ASQ and ACQ low dword then high dword (as lo_hi_writeq); read CAP as two dwords; enable; Identify.',
    expected: 'ASQ/ACQ read back whole; CAP dwords equal the 64-bit read; the controller enables and works.',
    level: 'mandatory',
    fresh: 'bare',
    async run(t: CaseContext) {
      t.dirty();
      const a = t.drv.admin;
      const cap = await t.reg64(CAP);
      t.eq((BigInt(await t.reg32(CAP + 4)) << 32n) | BigInt(await t.reg32(CAP)), cap, 'CAP as two dwords');
      await t.drv.disable();
      a.sqTail = 0;
      a.cqHead = 0;
      a.phase = true;
      t.write(a.cqIova, Buffer.alloc(16 * a.size));
      await t.setReg32(AQA, ((a.size - 1) << 16) | (a.size - 1));
      for (const [off, v] of [[ASQ, a.sqIova], [ACQ, a.cqIova]] as const) {
        await t.setReg32(off, Number(v & 0xffffffffn));
        await t.setReg32(off + 4, Number(v >> 32n));
        t.eq(await t.reg64(off), v, `register 0x${off.toString(16)}`);
      }
      await t.setReg32(CC, CC_VALUE);
      await t.drv.waitReady(true);
      t.ok(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 1 })), 'Identify');
    },
  },
  {
    id: 'reg.cc.enabled-value',
    section: 'NVMe Base 2.0 3.1.5',
    title: 'CC reads back what the host wrote',
    procedure: 'After enabling with IOSQES=6, IOCQES=4, EN=1 (and CSS 110b when CAP.CSS bit 6 is set, as Linux does), read CC.',
    expected: `CC = 0x${CC_VALUE.toString(16)} (0x${(CC_VALUE | (6 << 4)).toString(16)} with CSS 110b); CSTS.RDY = 1.`,
    level: 'mandatory',
    async run(t: CaseContext) {
      const css = (await t.reg64(0x00)) & (1n << 43n) ? 6 << 4 : 0;
      t.eq(await t.reg32(CC), CC_VALUE | css, 'CC');
      t.eq((await t.reg32(CSTS)) & 1, 1, 'CSTS.RDY');
    },
  },
  {
    id: 'reg.aqa-asq-acq.readback',
    section: 'NVMe Base 2.0 3.1.8-3.1.10',
    title: 'AQA, ASQ, ACQ read back; reserved bits are not kept',
    procedure: 'Read AQA/ASQ/ACQ as the driver programmed them.',
    expected: 'AQA = (size-1)<<16 | (size-1); ASQ/ACQ = the admin queue bases.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const a = t.drv.admin;
      t.eq(await t.reg32(AQA), ((a.size - 1) << 16) | (a.size - 1), 'AQA');
      t.eq(await t.reg64(ASQ), a.sqIova, 'ASQ');
      t.eq(await t.reg64(ACQ), a.cqIova, 'ACQ');
    },
  },
  {
    id: 'reg.cc.disable-handshake',
    section: 'NVMe Base 2.0 3.5.1, 3.7.2',
    title: 'CC.EN=0 clears CSTS.RDY; admin queue registers survive the reset',
    procedure: 'Write CC.EN=0, poll CSTS until RDY=0, read CC, CSTS, AQA, ASQ, ACQ; enable again.',
    expected: 'CSTS.RDY=0 within CAP.TO, CSTS.CFS=0, SHST=00; CC.EN=0; AQA/ASQ/ACQ unchanged (not reset by a Controller Reset).',
    level: 'mandatory',
    fresh: 'bare',
    async run(t: CaseContext) {
      const a = t.drv.admin;
      t.dirty();
      await t.setReg32(CC, CC_VALUE & ~1);
      const csts = await t.waitCsts((v) => (v & 1) === 0, 'CSTS.RDY after CC.EN=0');
      t.note(`CSTS after reset 0x${csts.toString(16)}`);
      t.eq(csts & 0xf, 0, 'CSTS RDY/CFS/SHST after reset');
      t.eq((await t.reg32(CC)) & 1, 0, 'CC.EN');
      t.eq(await t.reg32(AQA), ((a.size - 1) << 16) | (a.size - 1), 'AQA after reset');
      t.eq(await t.reg64(ASQ), a.sqIova, 'ASQ after reset');
      t.eq(await t.reg64(ACQ), a.cqIova, 'ACQ after reset');
      await t.s.enableAgain();
      t.ok(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 1 })), 'Identify after re-enable');
    },
  },
  {
    id: 'reg.cc.enable-handshake',
    section: 'NVMe Base 2.0 3.5.1',
    title: 'Enable: CSTS.RDY=1 after CC.EN=1 with a programmed admin queue',
    procedure: 'Reset, program AQA/ASQ/ACQ, write CC with EN=1, poll CSTS.',
    expected: 'CSTS.RDY=1 within CAP.TO and no CSTS.CFS; admin commands complete.',
    level: 'mandatory',
    fresh: 'bare',
    async run(t: CaseContext) {
      t.dirty();
      await t.drv.disable();
      await t.s.enableAgain();
      const csts = await t.reg32(CSTS);
      t.eq(csts & 3, 1, 'CSTS.RDY=1, CFS=0');
      t.ok(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 1 })), 'Identify');
    },
  },
  {
    id: 'reg.cc.enable-bad-mps',
    section: 'NVMe Base 2.0 3.1.5 (CC.MPS)',
    title: 'Enable with an unsupported memory page size is refused',
    procedure: 'Reset; program the admin queue; write CC with MPS=CAP.MPSMAX+1 and EN=1; poll CSTS.',
    expected: 'The controller does not become ready normally: CSTS.CFS=1 or CSTS.RDY stays 0.',
    level: 'optional',
    fresh: 'bare',
    async run(t: CaseContext) {
      t.dirty();
      const max = Number((t.drv.cap >> 52n) & 0xfn);
      if (max >= 15) t.skip('MPSMAX is 15');
      await t.drv.disable();
      await t.setReg32(CC, CC_VALUE | ((max + 1) << 7));
      await new Promise((r) => setTimeout(r, 50));
      const csts = await t.reg32(CSTS);
      t.note(`CSTS=0x${csts.toString(16)}`);
      t.check((csts & 2) !== 0 || (csts & 1) === 0, 'controller became ready with an unsupported CC.MPS');
    },
  },
  {
    id: 'reg.cc.enable-bad-css',
    section: 'NVMe Base 2.0 3.1.5 (CC.CSS)',
    title: 'Enable with a reserved command set selection is refused',
    procedure: 'Reset; program the admin queue; write CC with CSS=011b (reserved) and EN=1.',
    expected: 'CSTS.CFS=1 or CSTS.RDY stays 0.',
    level: 'optional',
    fresh: 'bare',
    async run(t: CaseContext) {
      t.dirty();
      await t.drv.disable();
      await t.setReg32(CC, CC_VALUE | (3 << 4));
      await new Promise((r) => setTimeout(r, 50));
      const csts = await t.reg32(CSTS);
      t.note(`CSTS=0x${csts.toString(16)}`);
      t.check((csts & 2) !== 0 || (csts & 1) === 0, 'controller became ready with a reserved CC.CSS');
    },
  },
  {
    id: 'reg.cc.shutdown-normal',
    section: 'NVMe Base 2.0 3.6.1',
    title: 'Normal shutdown: CC.SHN=01b -> CSTS.SHST=10b',
    procedure: 'With the controller enabled and an I/O queue pair, write CC.SHN=01b; poll CSTS.SHST; then reset and re-initialize.',
    expected: 'SHST=10b (complete) within CAP.TO; after CC.EN=0 and re-enable, SHST=00b and commands work.',
    level: 'mandatory',
    fresh: 'full',
    async run(t: CaseContext) {
      t.dirty();
      await t.setReg32(CC, CC_VALUE | (1 << 14));
      const csts = await t.waitCsts((v) => ((v >> 2) & 3) === 2, 'CSTS.SHST after CC.SHN=01b');
      t.note(`CSTS=0x${csts.toString(16)}`);
      await t.s.reinit();
      t.eq(((await t.reg32(CSTS)) >> 2) & 3, 0, 'SHST after re-enable');
      t.ok(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 1 })), 'Identify after shutdown and re-enable');
    },
  },
  {
    id: 'reg.cc.shutdown-abrupt',
    section: 'NVMe Base 2.0 3.6.2',
    title: 'Abrupt shutdown: CC.SHN=10b -> CSTS.SHST=10b',
    procedure: 'Write CC.SHN=10b; poll CSTS.SHST; reset and re-initialize.',
    expected: 'SHST=10b within CAP.TO; the controller initializes again.',
    level: 'mandatory',
    fresh: 'full',
    async run(t: CaseContext) {
      t.dirty();
      await t.setReg32(CC, CC_VALUE | (2 << 14));
      await t.waitCsts((v) => ((v >> 2) & 3) === 2, 'CSTS.SHST after CC.SHN=10b');
      await t.s.reinit();
      t.ok(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 1 })), 'Identify after re-enable');
    },
  },
  {
    id: 'reg.reset.io-queues-deleted',
    section: 'NVMe Base 2.0 3.7.2',
    title: 'A controller reset deletes the I/O queues',
    procedure: 'With I/O queue pair 1, reset (CC.EN=0) and re-enable; Create I/O SQ 1 on CQ 1.',
    expected: 'Create I/O SQ fails with Completion Queue Invalid (CQ 1 no longer exists).',
    level: 'mandatory',
    fresh: 'full',
    async run(t: CaseContext) {
      t.dirty();
      await t.s.reinit();
      await t.drv.setNumberOfQueues(4);
      const c = await t.admin(cmd(0x01, 0, { prp1: t.buf(4096), cdw10: (15 << 16) | 1, cdw11: (1 << 16) | 1 }));
      t.expect(c, Status.COMPLETION_QUEUE_INVALID, 'Create I/O SQ on a CQ from before the reset');
    },
  },
  {
    id: 'reg.reset.features-default',
    section: 'NVMe Base 2.0 3.7.2, 5.27.1',
    title: 'A controller reset returns features to their defaults',
    procedure: 'Set Features Arbitration to a non-default value; reset and re-enable; Get Features Arbitration.',
    expected: 'The current value equals the default (SEL=01b) again.',
    level: 'mandatory',
    fresh: 'bare',
    async run(t: CaseContext) {
      t.dirty();
      const def = await t.admin(cmd(0x0a, 0, { cdw10: 0x01 | (1 << 8) }));
      t.ok(def, 'Get Features Arbitration default');
      t.ok(await t.admin(cmd(0x09, 0, { cdw10: 0x01, cdw11: 0x01020302 })), 'Set Features Arbitration');
      await t.s.reinit();
      const cur = await t.admin(cmd(0x0a, 0, { cdw10: 0x01 }));
      t.ok(cur, 'Get Features Arbitration');
      t.eq(cur.dw0, def.dw0, 'Arbitration after reset');
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
];

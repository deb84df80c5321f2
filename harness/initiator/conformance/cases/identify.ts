// Identify (NVMe Base 2.0 section 5.17): every CNS the Linux driver uses, NSID rules
// (0, FFFFFFFFh, inactive, beyond NN), unsupported CNS values and the data pointer rules.
import { RegionIndex, Status } from '../spec.js';
import { cmd, type CaseContext } from '../session.js';
import type { ConformanceCase } from '../types.js';

const UNMAPPED = 0x7000000000n;

async function identify(t: CaseContext, cns: number, nsid: number, cdw11 = 0) {
  const buf = t.buf(4096, 0xa5);
  const c = await t.admin(cmd(0x06, nsid, { prp1: buf, cdw10: cns, cdw11 }));
  return { c, data: t.read(buf, 4096) };
}

function ascii(b: Buffer, off: number, len: number): string {
  return b.toString('latin1', off, off + len);
}

/** An NSID at most NN that is not active (0 when every NSID up to NN is active). */
async function inactiveNsid(t: CaseContext): Promise<number> {
  const { data } = await identify(t, 2, 0);
  const active = new Set<number>();
  for (let i = 0; i < 1024; i++) {
    const id = data.readUInt32LE(4 * i);
    if (!id) break;
    active.add(id);
  }
  for (let n = 1; n <= Math.min(t.ctrl.nn, 4096); n++) if (!active.has(n)) return n;
  return 0;
}

export const identifyCases: ConformanceCase[] = [
  {
    id: 'admin.identify.controller',
    section: 'NVMe Base 2.0 5.17.2.1',
    title: 'Identify Controller (CNS 01h)',
    procedure: 'Identify CNS 01h, NSID 0; compare VID with PCI config space.',
    expected: 'Success; VID = PCI vendor ID; SQES = 66h (or a range containing 6), CQES = 44h (containing 4); MDTS, CNTLID reported.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const { c, data } = await identify(t, 1, 0);
      t.ok(c, 'Identify Controller');
      const cfg = await t.drv.client.regionRead(RegionIndex.CONFIG, 0, 4);
      t.eq(data.readUInt16LE(0), cfg.readUInt16LE(0), 'VID vs PCI vendor ID');
      t.check((data[512]! & 0xf) <= 6 && data[512]! >> 4 >= 6, `SQES 0x${data[512]!.toString(16)} does not allow 64-byte SQEs`);
      t.check((data[513]! & 0xf) <= 4 && data[513]! >> 4 >= 4, `CQES 0x${data[513]!.toString(16)} does not allow 16-byte CQEs`);
      t.note(`MDTS=${data[77]} CNTLID=${data.readUInt16LE(78)} NN=${data.readUInt32LE(516)}`);
    },
  },
  {
    id: 'admin.identify.controller-strings',
    section: 'NVMe Base 2.0 5.17.2.1 (SN, MN, FR)',
    title: 'SN, MN, FR are printable ASCII padded with spaces',
    procedure: 'Identify CNS 01h; inspect bytes 4-23, 24-63, 64-71.',
    expected: 'Printable ASCII (20h-7Eh), left-justified, space padded, no NULs.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const id = t.s.idc;
      for (const [name, off, len] of [['SN', 4, 20], ['MN', 24, 40], ['FR', 64, 8]] as const) {
        const s = ascii(id, off, len);
        t.check(/^[\x20-\x7e]*$/.test(s), `${name} "${s}" is not printable ASCII`);
        t.check(s.trim().length > 0, `${name} is empty`);
        t.note(`${name}="${s.trimEnd()}"`);
      }
    },
  },
  {
    id: 'admin.identify.controller-version',
    section: 'NVMe Base 2.0 5.17.2.1 (VER), 3.1.2',
    title: 'Identify VER equals the VS register',
    procedure: 'Compare Identify Controller VER (bytes 83:80) with VS.',
    expected: 'Equal (VER is mandatory from 1.2).',
    level: 'mandatory',
    async run(t: CaseContext) {
      t.eq(t.ctrl.ver, await t.reg32(0x08), 'VER vs VS');
    },
  },
  {
    id: 'admin.identify.controller-limits',
    section: 'NVMe Base 2.0 5.17.2.1 (NN, AERL, ACL, ELPE)',
    title: 'NN, AERL, ACL, ELPE are usable',
    procedure: 'Inspect NN, AERL, ACL, ELPE.',
    expected: 'NN >= 1; AERL <= 15 recommended (>= 0); ACL >= 0 (recommended >= 3, i.e. 4 Aborts).',
    level: 'mandatory',
    async run(t: CaseContext) {
      const c = t.ctrl;
      t.note(`NN=${c.nn} AERL=${c.aerl} ACL=${c.acl} ELPE=${c.elpe}`);
      t.check(c.nn >= 1, 'NN is 0');
      t.check(c.acl >= 3, `ACL ${c.acl}: fewer than the recommended 4 concurrent Aborts`);
    },
  },
  {
    id: 'admin.identify.controller-subnqn',
    section: 'NVMe Base 2.0 5.17.2.1 (SUBNQN), 4.5',
    title: 'SUBNQN is an NQN (and the one the transport ID names)',
    procedure: 'Read SUBNQN (bytes 1023:768).',
    expected: 'Starts with "nqn."; equals subnqn from -r when given.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const nqn = t.ctrl.subnqn;
      t.note(`SUBNQN=${nqn}`);
      t.check(nqn.startsWith('nqn.'), `SUBNQN "${nqn}" is not an NQN`);
      if (t.env.subnqn) t.eq(nqn, t.env.subnqn, 'SUBNQN');
    },
  },
  {
    id: 'admin.identify.namespace',
    section: 'NVMe Base 2.0 5.17.2.1 / NVM Command Set 1.0 4.1.5.1',
    title: 'Identify Namespace (CNS 00h) of an active namespace',
    procedure: 'Identify CNS 00h for the first active NSID.',
    expected: 'Success; NSZE >= NCAP >= NUSE > 0; the FLBAS format has LBADS >= 9.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const { c, data } = await identify(t, 0, t.ns.nsid);
      t.ok(c, 'Identify Namespace');
      const nsze = data.readBigUInt64LE(0), ncap = data.readBigUInt64LE(8), nuse = data.readBigUInt64LE(16);
      t.note(`NSZE=${nsze} NCAP=${ncap} NUSE=${nuse} FLBAS=${data[26]} NLBAF=${data[25]}`);
      t.check(nsze >= ncap && ncap >= nuse && ncap > 0n, 'NSZE >= NCAP >= NUSE > 0 does not hold');
      const fmt = data[26]! & 0xf;
      t.check(fmt <= data[25]!, 'FLBAS selects a format beyond NLBAF');
      t.check(((data.readUInt32LE(128 + 4 * fmt) >> 16) & 0xff) >= 9, 'LBADS below 9 (512 bytes)');
    },
  },
  {
    id: 'admin.identify.namespace-nsid-0',
    section: 'NVMe Base 2.0 5.17.2.1, 3.2.1.2',
    title: 'Identify Namespace with NSID 0 is rejected',
    procedure: 'Identify CNS 00h, NSID 0.',
    expected: 'Invalid Namespace or Format.',
    level: 'mandatory',
    async run(t: CaseContext) {
      t.expect((await identify(t, 0, 0)).c, Status.INVALID_NAMESPACE, 'CNS 00h NSID 0');
    },
  },
  {
    id: 'admin.identify.namespace-broadcast',
    section: 'NVMe Base 2.0 5.17.2.1, 3.2.1.2',
    title: 'Identify Namespace with NSID FFFFFFFFh',
    procedure: 'Identify CNS 00h, NSID FFFFFFFFh.',
    expected: 'Success (common namespace capabilities) when Namespace Management is supported (OACS bit 3); otherwise Invalid Namespace or Format.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const { c } = await identify(t, 0, 0xffffffff);
      if (t.ctrl.oacs & (1 << 3)) t.ok(c, 'CNS 00h NSID FFFFFFFFh with namespace management');
      else t.expect(c, Status.INVALID_NAMESPACE, 'CNS 00h NSID FFFFFFFFh without namespace management');
    },
  },
  {
    id: 'admin.identify.namespace-inactive',
    section: 'NVMe Base 2.0 5.17.2.1, 3.2.1.4',
    title: 'Identify Namespace of an inactive NSID returns zeroes',
    procedure: 'Identify CNS 00h for an NSID <= NN that is not in the active list.',
    expected: 'Success with a zero-filled data structure.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const nsid = await inactiveNsid(t);
      if (!nsid) t.skip('every NSID up to NN is active');
      const { c, data } = await identify(t, 0, nsid);
      t.ok(c, `CNS 00h inactive NSID ${nsid}`);
      t.check(data.equals(Buffer.alloc(4096)), 'data is not zero-filled');
    },
  },
  {
    id: 'admin.identify.namespace-beyond-nn',
    section: 'NVMe Base 2.0 5.17.2.1, 3.2.1.2',
    title: 'Identify Namespace beyond NN is rejected',
    procedure: 'Identify CNS 00h, NSID NN+1.',
    expected: 'Invalid Namespace or Format.',
    level: 'mandatory',
    async run(t: CaseContext) {
      if (t.ctrl.nn >= 0xfffffffe) t.skip('NN covers every NSID');
      t.expect((await identify(t, 0, t.ctrl.nn + 1)).c, Status.INVALID_NAMESPACE, `CNS 00h NSID ${t.ctrl.nn + 1}`);
    },
  },
  {
    id: 'admin.identify.active-list',
    section: 'NVMe Base 2.0 5.17.2.2',
    title: 'Active Namespace ID list (CNS 02h)',
    procedure: 'Identify CNS 02h, NSID 0.',
    expected: 'Success; ascending NSIDs, each <= NN, zero-terminated, including the namespace under test.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const { c, data } = await identify(t, 2, 0);
      t.ok(c, 'CNS 02h');
      const ids: number[] = [];
      for (let i = 0; i < 1024; i++) {
        const id = data.readUInt32LE(4 * i);
        if (!id) break;
        ids.push(id);
      }
      t.note(`active: ${ids.join(', ')}`);
      for (let i = 1; i < ids.length; i++) t.check(ids[i]! > ids[i - 1]!, 'list not in ascending order');
      t.check(ids.every((id) => id <= t.ctrl.nn), 'an NSID above NN');
      t.check(ids.includes(t.ns.nsid), 'the namespace under test is missing');
      t.check(data.subarray(4 * ids.length).equals(Buffer.alloc(4096 - 4 * ids.length)), 'not zero-filled after the list');
    },
  },
  {
    id: 'admin.identify.active-list-start',
    section: 'NVMe Base 2.0 5.17.2.2',
    title: 'Active Namespace ID list starts after the given NSID',
    procedure: 'Identify CNS 02h with NSID = the first active NSID.',
    expected: 'Success; every NSID in the list is greater than the one given.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const { c, data } = await identify(t, 2, t.ns.nsid);
      t.ok(c, 'CNS 02h');
      for (let i = 0; i < 1024; i++) {
        const id = data.readUInt32LE(4 * i);
        if (!id) break;
        t.check(id > t.ns.nsid, `NSID ${id} is not above ${t.ns.nsid}`);
      }
    },
  },
  {
    id: 'admin.identify.active-list-invalid-nsid',
    section: 'NVMe Base 2.0 5.17.2.2',
    title: 'Active Namespace ID list with NSID FFFFFFFEh or FFFFFFFFh is rejected',
    procedure: 'Identify CNS 02h with NSID FFFFFFFEh, then FFFFFFFFh.',
    expected: 'Invalid Namespace or Format for both.',
    level: 'mandatory',
    async run(t: CaseContext) {
      t.expect((await identify(t, 2, 0xfffffffe)).c, Status.INVALID_NAMESPACE, 'CNS 02h NSID FFFFFFFEh');
      t.expect((await identify(t, 2, 0xffffffff)).c, Status.INVALID_NAMESPACE, 'CNS 02h NSID FFFFFFFFh');
    },
  },
  {
    id: 'admin.identify.ns-descriptors',
    section: 'NVMe Base 2.0 5.17.2.3',
    title: 'Namespace Identification Descriptor list (CNS 03h)',
    procedure: 'Identify CNS 03h for the active namespace; walk the descriptors.',
    expected: 'Success; each descriptor NIDT 1 (EUI64, 8 bytes), 2 (NGUID, 16), 3 (UUID, 16) or 4 (CSI, 1), at least one identifier; EUI64/NGUID equal Identify Namespace.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const { c, data } = await identify(t, 3, t.ns.nsid);
      t.ok(c, 'CNS 03h');
      const ns = (await identify(t, 0, t.ns.nsid)).data;
      const lens: Record<number, number> = { 1: 8, 2: 16, 3: 16, 4: 1 };
      let at = 0;
      let ids = 0;
      while (at + 4 <= 4096 && data[at]) {
        const type = data[at]!, len = data[at + 1]!;
        t.eq(len, lens[type] ?? -1, `descriptor type ${type} length`);
        const v = data.subarray(at + 4, at + 4 + len);
        if (type === 1) t.check(v.equals(ns.subarray(120, 128)), 'EUI64 differs from Identify Namespace');
        if (type === 2) t.check(v.equals(ns.subarray(104, 120)), 'NGUID differs from Identify Namespace');
        if (type <= 3) ids++;
        t.note(`NIDT ${type}: ${v.toString('hex')}`);
        at += 4 + len;
      }
      t.check(ids > 0, 'no namespace identifier');
    },
  },
  {
    id: 'admin.identify.ns-descriptors-inactive',
    section: 'NVMe Base 2.0 5.17.2.3',
    title: 'Descriptor list of an inactive NSID is rejected',
    procedure: 'Identify CNS 03h for an inactive NSID <= NN.',
    expected: 'Invalid Namespace or Format (SPDK) or Invalid Field in Command (QEMU).',
    level: 'mandatory',
    async run(t: CaseContext) {
      const nsid = await inactiveNsid(t);
      if (!nsid) t.skip('every NSID up to NN is active');
      t.expect((await identify(t, 3, nsid)).c, [Status.INVALID_NAMESPACE, Status.INVALID_FIELD], `CNS 03h NSID ${nsid}`);
    },
  },
  {
    id: 'admin.identify.csi-namespace',
    section: 'NVMe Base 2.0 5.17.2.4',
    title: 'I/O command set specific Identify Namespace (CNS 05h, CSI 00h)',
    procedure: 'Identify CNS 05h, CSI 0 (NVM) for the active namespace.',
    expected: 'Success (NVM command set specific namespace data).',
    level: 'optional',
    async run(t: CaseContext) {
      t.ok((await identify(t, 5, t.ns.nsid)).c, 'CNS 05h CSI 0');
    },
  },
  {
    id: 'admin.identify.csi-controller',
    section: 'NVMe Base 2.0 5.17.2.5',
    title: 'I/O command set specific Identify Controller (CNS 06h, CSI 00h)',
    procedure: 'Identify CNS 06h, CSI 0, NSID 0.',
    expected: 'Success (Linux reads it for the NVM command set limits).',
    level: 'optional',
    async run(t: CaseContext) {
      t.ok((await identify(t, 6, 0)).c, 'CNS 06h CSI 0');
    },
  },
  {
    id: 'admin.identify.csi-unsupported',
    section: 'NVMe Base 2.0 5.17.2.4-5',
    title: 'CNS 05h/06h for an unsupported command set',
    procedure: 'Identify CNS 06h with CSI 02h (Zoned Namespace) when ZNS is not offered.',
    expected: 'Invalid Field in Command.',
    level: 'optional',
    async run(t: CaseContext) {
      if (((t.drv.cap >> 37n) & 0x40n) !== 0n) {
        const css = await identify(t, 0x1c, 0);
        if (css.c.status === 0 && (css.data.readBigUInt64LE(0) & 4n) !== 0n) t.skip('the controller supports ZNS');
      }
      t.expect((await identify(t, 6, 0, 2 << 24)).c, Status.INVALID_FIELD, 'CNS 06h CSI 2');
    },
  },
  {
    id: 'admin.identify.cns-unsupported',
    section: 'NVMe Base 2.0 5.17.1',
    title: 'Unsupported or reserved CNS values are rejected',
    procedure: 'Identify with CNS 04h (reserved), 1Fh and FFh.',
    expected: 'Invalid Field in Command for each.',
    level: 'mandatory',
    async run(t: CaseContext) {
      for (const cns of [0x04, 0x1f, 0xff]) t.expect((await identify(t, cns, 0)).c, Status.INVALID_FIELD, `CNS 0x${cns.toString(16)}`);
    },
  },
  {
    id: 'admin.identify.prp1-misaligned',
    section: 'NVMe Base 2.0 4.1.1 (PRP offset), 5.17',
    title: 'PRP1 not dword aligned is rejected',
    procedure: 'Identify Controller with PRP1 = page + 2.',
    expected: 'PRP Offset Invalid (or Invalid Field in Command).',
    level: 'mandatory',
    async run(t: CaseContext) {
      const c = await t.admin(cmd(0x06, 0, { prp1: t.buf(8192) + 2n, cdw10: 1 }));
      t.expect(c, [Status.INVALID_PRP_OFFSET, Status.INVALID_FIELD], 'Identify with PRP1 offset 2');
    },
  },
  {
    id: 'admin.identify.prp1-offset-two-pages',
    section: 'NVMe Base 2.0 4.1.1',
    title: 'PRP1 with an offset continues in PRP2',
    procedure: 'Identify Controller with PRP1 = page A + 800h and PRP2 = page B.',
    expected: 'Success; bytes 0-7FFh land at A+800h, the rest at B; equal to an aligned Identify.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const a = t.buf(4096, 0), b = t.buf(4096, 0);
      t.ok(await t.admin(cmd(0x06, 0, { prp1: a + 0x800n, prp2: b, cdw10: 1 })), 'Identify split over two pages');
      const got = Buffer.concat([t.read(a + 0x800n, 0x800), t.read(b, 0x800)]);
      t.check(got.equals(t.s.idc), 'split data differs from the aligned Identify');
    },
  },
  {
    id: 'admin.identify.prp-unmapped',
    section: 'NVMe Base 2.0 4.1.1, 4.2.3 (Data Transfer Error)',
    title: 'PRP1 outside the host memory map fails the command',
    procedure: 'Identify Controller with PRP1 at an IOVA the host never mapped.',
    expected: 'Data Transfer Error (the controller must not crash or write elsewhere).',
    level: 'mandatory',
    async run(t: CaseContext) {
      t.expect(await t.admin(cmd(0x06, 0, { prp1: UNMAPPED, cdw10: 1 })), Status.DATA_TRANSFER_ERROR, 'Identify to unmapped memory');
    },
  },
  {
    id: 'admin.identify.prp2-unmapped',
    section: 'NVMe Base 2.0 4.1.1',
    title: 'PRP2 outside the memory map fails the command',
    procedure: 'Identify Controller with PRP1 = page + 800h and PRP2 unmapped.',
    expected: 'Data Transfer Error.',
    level: 'mandatory',
    async run(t: CaseContext) {
      t.expect(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096) + 0x800n, prp2: UNMAPPED, cdw10: 1 })), Status.DATA_TRANSFER_ERROR, 'Identify with unmapped PRP2');
    },
  },
  {
    id: 'admin.identify.sgl-rejected',
    section: 'NVMe Base 2.0 4.1.2, 5 (admin commands use PRPs on PCIe)',
    title: 'Admin commands with PSDT != 00b are rejected',
    procedure: 'Identify Controller with PSDT=01b (SGL).',
    expected: 'Invalid Field in Command.',
    level: 'mandatory',
    async run(t: CaseContext) {
      t.expect(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), prp2: 4096n /* SGL data block, 4096 bytes */, cdw10: 1, flags: 0x40 })), Status.INVALID_FIELD, 'Identify with PSDT=01b');
    },
  },
];

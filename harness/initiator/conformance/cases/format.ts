// Format NVM (NVMe Base 2.0 section 5.14): erasing a namespace, the LBAF, PI and SES fields,
// inactive and broadcast NSIDs; every rejected format leaves the data as it was.
import { Status } from '../spec.js';
import { cmd, pattern, readBack, seed, type CaseContext } from '../session.js';
import type { ConformanceCase } from '../types.js';

const BASE = 'NVMe Base 2.0';

function formatCase(id: string, title: string, section: string, procedure: string, expected: string, run: (t: CaseContext) => Promise<void>): ConformanceCase {
  return { id, title, section, procedure, expected, level: 'mandatory', run };
}

async function identifyNs(t: CaseContext): Promise<Buffer> {
  const b = t.buf(4096);
  t.ok(await t.admin(cmd(0x06, t.ns.nsid, { prp1: b, cdw10: 0 })), 'Identify Namespace');
  return t.read(b, 4096);
}

export const formatCases: ConformanceCase[] = [
  formatCase('admin.format.namespace', 'Format NVM erases the namespace', `${BASE} 5.14`, 'If OACS bit 1: write a pattern; Format NVM with the current LBA format, SES=0; read.', 'Success; the blocks read zero (malloc namespaces are formatted to zeroes); Identify NSZE unchanged.', async (t: CaseContext) => {
    if (!(t.ctrl.oacs & 2)) t.skip('Format NVM not supported (OACS bit 1)');
    await seed(t, 900n, pattern(4096, 61));
    const c = await t.admin(cmd(0x80, t.ns.nsid, { cdw10: 0 }), 30000);
    if ((c.status & 0x7ff) === (Status.INVALID_FORMAT & 0x7ff)) t.skip('this namespace cannot be formatted (not a malloc bdev)');
    t.ok(c, 'Format NVM');
    t.check((await readBack(t, 900n, 4096)).equals(Buffer.alloc(4096)), 'data survived the format');
  }),
  formatCase('admin.format.bad-lbaf', 'Format NVM to a format that does not exist is rejected', `${BASE} 5.14`, 'Format NVM with LBAF = NLBAF+1.', 'Invalid Format.', async (t: CaseContext) => {
    if (!(t.ctrl.oacs & 2)) t.skip('Format NVM not supported');
    const b = t.buf(4096);
    await t.admin(cmd(0x06, t.ns.nsid, { prp1: b, cdw10: 0 }));
    const nlbaf = t.read(b, 4096)[25]!;
    if (nlbaf >= 15) t.skip('all 16 formats exist');
    t.expect(await t.admin(cmd(0x80, t.ns.nsid, { cdw10: nlbaf + 1 })), Status.INVALID_FORMAT, `LBAF ${nlbaf + 1}`);
  }),
  formatCase('admin.format.bad-nsid', 'Format NVM of an inactive NSID is rejected', `${BASE} 5.14`, 'Format NVM with NSID NN+1 (not an active namespace).', 'Invalid Namespace or Format (or Invalid Field).', async (t: CaseContext) => {
    if (!(t.ctrl.oacs & 2)) t.skip('Format NVM not supported');
    t.expect(await t.admin(cmd(0x80, Math.min(t.ctrl.nn + 1, 0xfffffffe), { cdw10: 0 })), [Status.INVALID_NAMESPACE, Status.INVALID_FIELD], 'Format inactive NSID');
  }),
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
];

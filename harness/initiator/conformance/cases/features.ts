// Get Features / Set Features (NVMe Base 2.0 sections 5.15, 5.27): every mandatory feature
// read, written and read back, its default/saved/capabilities selections (SEL), saving,
// invalid values, Number of Queues rules, reserved FIDs and SEL values.
import { Status } from '../spec.js';
import { cmd, type CaseContext } from '../session.js';
import type { ConformanceCase } from '../types.js';

const BASE = 'NVMe Base 2.0';

interface FeatureSpec {
  fid: number;
  key: string;
  name: string;
  section: string;
  /** CDW11 for Get Features (feature-specific selector). */
  getDw11?: number;
  /** A value to set (CDW11) and the dw0 Get Features must then report. */
  set?: { dw11: number; expect: number; getDw11?: number };
  /** Values Set Features must reject. */
  invalid?: { dw11: (t: CaseContext) => number | null; expect: number; what: string }[];
}

const FEATURES: FeatureSpec[] = [
  { fid: 0x01, key: 'arbitration', name: 'Arbitration', section: '5.27.1.1', set: { dw11: 0x01020302, expect: 0x01020302 } },
  {
    fid: 0x02,
    key: 'power-management',
    name: 'Power Management',
    section: '5.27.1.2',
    set: { dw11: 0, expect: 0 },
    invalid: [{ dw11: (t) => (t.ctrl.npss + 1 <= 31 ? t.ctrl.npss + 1 : null), expect: Status.INVALID_FIELD, what: 'power state NPSS+1' }],
  },
  {
    fid: 0x04,
    key: 'temperature-threshold',
    name: 'Temperature Threshold',
    section: '5.27.1.4',
    getDw11: 0,
    set: { dw11: 0x0150, expect: 0x0150, getDw11: 0 },
    invalid: [{ dw11: () => (2 << 20) | 0x150, expect: Status.INVALID_FIELD, what: 'THSEL 10b (reserved)' }],
  },
  {
    fid: 0x05,
    key: 'error-recovery',
    name: 'Error Recovery',
    section: '5.27.1.5',
    set: { dw11: 10, expect: 10 },
    invalid: [{ dw11: () => 1 << 16, expect: Status.INVALID_FIELD, what: 'DULBE when the namespace does not support it' }],
  },
  { fid: 0x06, key: 'volatile-write-cache', name: 'Volatile Write Cache', section: '5.27.1.6', set: { dw11: 0, expect: 0 } },
  { fid: 0x07, key: 'number-of-queues', name: 'Number of Queues', section: '5.27.1.7' },
  { fid: 0x08, key: 'interrupt-coalescing', name: 'Interrupt Coalescing', section: '5.27.1.8', set: { dw11: 0x0a05, expect: 0x0a05 } },
  {
    fid: 0x09,
    key: 'interrupt-vector-config',
    name: 'Interrupt Vector Configuration',
    section: '5.27.1.9',
    getDw11: 1,
    set: { dw11: (1 << 16) | 1, expect: (1 << 16) | 1, getDw11: 1 },
    invalid: [{ dw11: () => 2048, expect: Status.INVALID_FIELD, what: 'vector 2048 (beyond any MSI-X table)' }],
  },
  { fid: 0x0a, key: 'write-atomicity', name: 'Write Atomicity Normal', section: '5.27.1.10', set: { dw11: 1, expect: 1 } },
  { fid: 0x0b, key: 'async-event-config', name: 'Asynchronous Event Configuration', section: '5.27.1.11', set: { dw11: 1 << 8, expect: 1 << 8 } },
];

const getF = (fid: number, sel: number, dw11 = 0, nsid = 0) => cmd(0x0a, nsid, { cdw10: fid | (sel << 8), cdw11: dw11 });
const setF = (fid: number, dw11: number, save = false) => cmd(0x09, 0, { cdw10: fid | (save ? 1 << 31 : 0), cdw11: dw11 });

function featureCases(f: FeatureSpec): ConformanceCase[] {
  const sec = `NVMe Base 2.0 ${f.section}`;
  const base = `admin.features.${f.key}`;
  const cases: ConformanceCase[] = [
    {
      id: `${base}.get`,
      section: `${sec}, 5.15`,
      title: `Get Features ${f.name} (current)`,
      procedure: `Get Features FID ${hex(f.fid)}, SEL=000b.`,
      expected: 'Success; dword 0 holds the current value.',
      level: 'mandatory',
      async run(t: CaseContext) {
        const c = await t.admin(getF(f.fid, 0, f.getDw11));
        t.ok(c, `Get ${f.name}`);
        t.note(`current=${hex(c.dw0)}`);
      },
    },
    {
      id: `${base}.sel-default`,
      section: 'NVMe Base 2.0 5.15 (SEL 001b)',
      title: `Get Features ${f.name} default value`,
      procedure: `Get Features FID ${hex(f.fid)}, SEL=001b.`,
      expected: 'Success; dword 0 holds the default.',
      level: 'mandatory',
      async run(t: CaseContext) {
        t.ok(await t.admin(getF(f.fid, 1, f.getDw11)), `Get ${f.name} default`);
      },
    },
    {
      id: `${base}.sel-saved`,
      section: 'NVMe Base 2.0 5.15 (SEL 010b)',
      title: `Get Features ${f.name} saved value`,
      procedure: `Get Features FID ${hex(f.fid)}, SEL=010b.`,
      expected: 'Success (the default when the feature is not saveable).',
      level: 'mandatory',
      async run(t: CaseContext) {
        const saved = await t.admin(getF(f.fid, 2, f.getDw11));
        t.ok(saved, `Get ${f.name} saved`);
        const caps = await t.admin(getF(f.fid, 3, f.getDw11));
        if (caps.status === 0 && (caps.dw0 & 1) === 0) {
          const def = await t.admin(getF(f.fid, 1, f.getDw11));
          t.eq(saved.dw0, def.dw0, 'saved value of a non-saveable feature vs the default');
        }
      },
    },
    {
      id: `${base}.sel-capabilities`,
      section: 'NVMe Base 2.0 5.15 (SEL 011b), Figure 189',
      title: `Get Features ${f.name} supported capabilities`,
      procedure: `Get Features FID ${hex(f.fid)}, SEL=011b.`,
      expected: 'Success; dword 0 bits 2:0 = saveable / namespace specific / changeable, bits 31:3 zero.',
      level: 'mandatory',
      async run(t: CaseContext) {
        const c = await t.admin(getF(f.fid, 3, f.getDw11));
        t.ok(c, `Get ${f.name} capabilities`);
        t.eq(c.dw0 & ~7, 0, 'reserved capability bits');
        t.note(`saveable=${c.dw0 & 1} ns-specific=${(c.dw0 >> 1) & 1} changeable=${(c.dw0 >> 2) & 1}`);
      },
    },
    {
      id: `${base}.save-unsupported`,
      section: 'NVMe Base 2.0 5.27 (SV), 4.2.3',
      title: `Set Features ${f.name} with SV=1 when not saveable`,
      procedure: 'Read capabilities (SEL=011b); if not saveable, Set Features with SV=1.',
      expected: 'Feature Identifier Not Saveable.',
      level: 'mandatory',
      async run(t: CaseContext) {
        const caps = await t.admin(getF(f.fid, 3, f.getDw11));
        t.ok(caps, 'capabilities');
        if (caps.dw0 & 1) t.skip('the feature is saveable');
        const cur = await t.admin(getF(f.fid, 0, f.getDw11));
        t.expect(await t.admin(setF(f.fid, f.fid === 0x07 ? 0 : cur.dw0, true)), Status.FEATURE_NOT_SAVEABLE, 'Set with SV=1');
      },
    },
  ];
  if (f.set) {
    const s = f.set;
    cases.push({
      id: `${base}.set-get`,
      section: sec,
      title: `Set Features ${f.name} then Get returns it`,
      procedure: `Set Features FID ${hex(f.fid)} CDW11=${hex(s.dw11)}; Get Features; restore the previous value.`,
      expected: `Both succeed; Get reports ${hex(s.expect)}.`,
      level: f.fid === 0x06 ? 'optional' : 'mandatory',
      async run(t: CaseContext) {
        if (f.fid === 0x06 && !(t.ctrl.vwc & 1)) t.skip('no volatile write cache (VWC bit 0 = 0)');
        const before = await t.admin(getF(f.fid, 0, s.getDw11));
        t.ok(await t.admin(setF(f.fid, s.dw11)), `Set ${f.name}`);
        const after = await t.admin(getF(f.fid, 0, s.getDw11));
        t.ok(after, `Get ${f.name}`);
        t.eq(after.dw0, s.expect, `${f.name} after Set`);
        const restore = f.fid === 0x04 ? before.dw0 & 0xffff : f.fid === 0x09 ? (before.dw0 & 0x10000) | 1 : before.dw0;
        t.ok(await t.admin(setF(f.fid, restore)), 'restore');
      },
    });
  }
  for (const [i, inv] of (f.invalid ?? []).entries()) {
    cases.push({
      id: `${base}.invalid-${i + 1}`,
      section: sec,
      title: `Set Features ${f.name}: ${inv.what} is rejected`,
      procedure: `Set Features FID ${hex(f.fid)} with ${inv.what}.`,
      expected: 'Invalid Field in Command; the current value is unchanged.',
      level: 'mandatory',
      async run(t: CaseContext) {
        const v = inv.dw11(t);
        if (v === null) t.skip('no invalid value exists for this controller');
        if (f.fid === 0x05 && t.ns && (await nsFeat(t)) & 4) t.skip('the namespace supports DULBE (NSFEAT bit 2)');
        const before = await t.admin(getF(f.fid, 0, f.getDw11));
        t.expect(await t.admin(setF(f.fid, v)), inv.expect, `Set ${f.name} ${inv.what}`);
        t.eq((await t.admin(getF(f.fid, 0, f.getDw11))).dw0, before.dw0, `${f.name} after the rejected Set`);
      },
    });
  }
  return cases;
}

async function nsFeat(t: CaseContext): Promise<number> {
  const b = t.buf(4096);
  await t.admin(cmd(0x06, t.ns.nsid, { prp1: b, cdw10: 0 }));
  return t.read(b, 4096)[24]!;
}

function hex(v: number): string {
  return `${(v >>> 0).toString(16)}h`;
}

export const featureCaseList: ConformanceCase[] = [
  ...FEATURES.flatMap(featureCases),
  {
    id: 'admin.features.number-of-queues.set',
    section: 'NVMe Base 2.0 5.27.1.7',
    title: 'Number of Queues: requested and allocated counts',
    procedure: 'On a fresh controller, Set Features Number of Queues NSQR=NCQR=3 (4 queues); Get Features.',
    expected: 'Success; dword 0 NSQA/NCQA >= 0 (0-based), Get reports the same allocation.',
    level: 'mandatory',
    fresh: 'bare',
    async run(t: CaseContext) {
      const c = await t.admin(setF(0x07, (3 << 16) | 3));
      t.ok(c, 'Set Number of Queues');
      t.note(`NSQA=${(c.dw0 & 0xffff) + 1} NCQA=${(c.dw0 >>> 16) + 1}`);
      const g = await t.admin(getF(0x07, 0));
      t.eq(g.dw0, c.dw0, 'Get Number of Queues');
    },
  },
  {
    id: 'admin.features.number-of-queues.65535',
    section: 'NVMe Base 2.0 5.27.1.7',
    title: 'Number of Queues: 65535 requested is rejected',
    procedure: 'On a fresh controller, Set Features Number of Queues with NSQR=FFFFh.',
    expected: 'Invalid Field in Command.',
    level: 'mandatory',
    fresh: 'bare',
    async run(t: CaseContext) {
      t.expect(await t.admin(setF(0x07, 0xffff)), Status.INVALID_FIELD, 'NSQR=FFFFh');
      t.expect(await t.admin(setF(0x07, 0xffff0000)), Status.INVALID_FIELD, 'NCQR=FFFFh');
    },
  },
  {
    id: 'admin.features.number-of-queues.after-create',
    section: 'NVMe Base 2.0 5.27.1.7',
    title: 'Number of Queues after I/O queues exist is a sequence error',
    procedure: 'With I/O queue pair 1 created, Set Features Number of Queues.',
    expected: 'Command Sequence Error.',
    level: 'mandatory',
    async run(t: CaseContext) {
      t.expect(await t.admin(setF(0x07, (1 << 16) | 1)), Status.COMMAND_SEQUENCE_ERROR, 'Set Number of Queues with queues');
    },
  },
  {
    id: 'admin.features.fid-reserved',
    section: 'NVMe Base 2.0 5.15, 5.27 (Figure 385)',
    title: 'Reserved Feature Identifiers are rejected',
    procedure: 'Get Features FID 00h and 7Eh; Set Features FID 00h.',
    expected: 'Invalid Field in Command for each.',
    level: 'mandatory',
    async run(t: CaseContext) {
      t.expect(await t.admin(getF(0x00, 0)), Status.INVALID_FIELD, 'Get FID 00h');
      t.expect(await t.admin(getF(0x7e, 0)), Status.INVALID_FIELD, 'Get FID 7Eh');
      t.expect(await t.admin(setF(0x00, 0)), Status.INVALID_FIELD, 'Set FID 00h');
    },
  },
  {
    id: 'admin.features.fid-unsupported-optional',
    section: 'NVMe Base 2.0 5.27.1.3 (LBA Range Type), 5.15',
    title: 'An optional feature the controller lacks is rejected',
    procedure: 'Get Features LBA Range Type (03h) for the namespace.',
    expected: 'Success if supported, else Invalid Field in Command.',
    level: 'optional',
    async run(t: CaseContext) {
      const c = await t.admin(cmd(0x0a, t.ns.nsid, { prp1: t.buf(4096), cdw10: 0x03 }));
      if (c.status !== 0) t.expect(c, Status.INVALID_FIELD, 'Get LBA Range Type');
    },
  },
  {
    id: 'admin.features.sel-reserved',
    section: 'NVMe Base 2.0 5.15 (Figure 188)',
    title: 'Reserved SEL values are rejected',
    procedure: 'Get Features Arbitration with SEL=100b and 111b.',
    expected: 'Invalid Field in Command.',
    level: 'mandatory',
    async run(t: CaseContext) {
      t.expect(await t.admin(getF(0x01, 4)), Status.INVALID_FIELD, 'SEL=100b');
      t.expect(await t.admin(getF(0x01, 7)), Status.INVALID_FIELD, 'SEL=111b');
    },
  },
  {
    id: 'admin.features.host-identifier',
    section: 'NVMe Base 2.0 5.27.1.28',
    title: 'Host Identifier set and read back',
    procedure: 'Set Features Host Identifier (81h) with an 8-byte ID; Get Features into a buffer.',
    expected: 'Both succeed and the identifier reads back, or Invalid Field when unsupported.',
    level: 'optional',
    async run(t: CaseContext) {
      const b = t.buf(4096);
      t.write(b, Buffer.from('0102030405060708', 'hex'));
      const s = await t.admin(cmd(0x09, 0, { prp1: b, cdw10: 0x81 }));
      if (s.status !== 0) {
        t.expect(s, Status.INVALID_FIELD, 'Set Host Identifier');
        return;
      }
      const r = t.buf(4096, 0);
      t.ok(await t.admin(cmd(0x0a, 0, { prp1: r, cdw10: 0x81 })), 'Get Host Identifier');
      t.eq(t.read(r, 8).toString('hex'), '0102030405060708', 'host identifier');
    },
  },
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
];

// Namespace Management (NVMe Base 2.0 5.23) and Namespace Attachment (5.22), with the Identify
// data they need (OACS bit 3, TNVMCAP/UNVMCAP, MNAN, CNS 00h NSID FFFFFFFFh, CNS 10h-13h),
// their Commands Supported and Effects entries, and the Changed Namespace List and Namespace
// Attribute Changed event an attach or detach causes. Every case runs only when OACS bit 3 is
// set (else the commands must be Invalid Command Opcode: cases/queues.ts), creates what it
// needs from the controller's unallocated capacity and deletes it again.
import {
  Cns,
  CommandEffects,
  CONTROLLER_LIST_MAX,
  IdCtrl,
  IdNs,
  IoOpcode,
  NsAttachmentSelect,
  NsManagementSelect,
  NSID_ALL,
  OACS_NS_MANAGEMENT,
  OAES_NS_ATTRIBUTE_NOTICES,
  AdminOpcode,
  AsyncEvent,
  Feature,
  LogPage,
  Status,
} from '../spec.js';
import { cmd, pattern, type CaseContext, type Cqe } from '../session.js';
import type { ConformanceCase, Level } from '../types.js';
import { logCmd } from './logs.js';

const MGMT = 'NVMe Base 2.0 5.23';
const ATTACH = 'NVMe Base 2.0 5.22';

function nsm(id: string, title: string, section: string, level: Level, procedure: string, expected: string, run: (t: CaseContext) => Promise<void>, extra: Partial<ConformanceCase> = {}): ConformanceCase {
  return {
    id,
    title,
    section,
    level,
    procedure,
    expected,
    async run(t: CaseContext) {
      if (!(t.ctrl.oacs & OACS_NS_MANAGEMENT)) t.skip('Namespace Management not supported (OACS bit 3 clear)');
      await run(t);
    },
    ...extra,
  };
}

// ------------------------------------------------------------------ helpers (numbers from spec.ts)

async function identify(t: CaseContext, cns: number, nsid = 0, cntid = 0): Promise<{ c: Cqe; data: Buffer }> {
  const b = t.buf(4096, 0xa5);
  const c = await t.admin(cmd(AdminOpcode.IDENTIFY, nsid, { prp1: b, cdw10: cns | (cntid << 16) }));
  return { c, data: t.read(b, 4096) };
}

/** A Namespace List (CNS 02h, 10h): the NSIDs up to the first zero. */
async function nsList(t: CaseContext, cns: number): Promise<number[]> {
  const { c, data } = await identify(t, cns, 0);
  t.ok(c, `Identify CNS ${cns.toString(16)}h`);
  const ids: number[] = [];
  for (let i = 0; i < 1024 && data.readUInt32LE(4 * i); i++) ids.push(data.readUInt32LE(4 * i));
  return ids;
}

/** The lowest valid NSID no namespace is allocated at (among the first 4096), or 0 if none. */
async function unallocatedNsid(t: CaseContext): Promise<number> {
  const allocated = new Set(await nsList(t, Cns.ALLOCATED_NS_LIST));
  for (let n = 1; n <= Math.min(t.ctrl.nn, 4096); n++) if (!allocated.has(n)) return n;
  return 0;
}

/** A Controller List (CNS 12h, 13h). */
async function ctrlList(t: CaseContext, cns: number, nsid = 0): Promise<number[]> {
  const { c, data } = await identify(t, cns, nsid);
  t.ok(c, `Identify CNS ${cns.toString(16)}h`);
  const n = data.readUInt16LE(0);
  t.check(n <= CONTROLLER_LIST_MAX, `controller list of ${n} identifiers`);
  return Array.from({ length: n }, (_, i) => data.readUInt16LE(2 + 2 * i));
}

function u128(b: Buffer, off: number): bigint {
  return b.readBigUInt64LE(off) | (b.readBigUInt64LE(off + 8) << 64n);
}

async function capacity(t: CaseContext): Promise<{ total: bigint; unallocated: bigint }> {
  const { c, data } = await identify(t, Cns.CONTROLLER);
  t.ok(c, 'Identify Controller');
  return { total: u128(data, IdCtrl.TNVMCAP), unallocated: u128(data, IdCtrl.UNVMCAP) };
}

/** The LBA formats a namespace may be created with (CNS 00h, NSID FFFFFFFFh): block sizes, metadata-free only. */
interface CreateFormat {
  index: number;
  blockSize: number;
  /** NSFEAT bit 0 of the common capabilities. */
  thin: boolean;
  nlbaf: number;
}

async function createFormats(t: CaseContext): Promise<CreateFormat[]> {
  const { c, data } = await identify(t, Cns.NAMESPACE, NSID_ALL);
  t.ok(c, 'Identify Namespace NSID FFFFFFFFh (common capabilities)');
  const out: CreateFormat[] = [];
  const nlbaf = data[IdNs.NLBAF]!;
  for (let i = 0; i <= nlbaf; i++) {
    const f = data.readUInt32LE(IdNs.LBAF0 + 4 * i);
    if ((f & 0xffff) === 0) out.push({ index: i, blockSize: 2 ** ((f >> 16) & 0xff), thin: (data[IdNs.NSFEAT]! & 1) === 1, nlbaf });
  }
  if (!out.length) t.skip('no LBA format without metadata to create a namespace with');
  return out;
}

function createData(f: { nsze: bigint; ncap?: bigint; flbas?: number; dps?: number; nmic?: number }): Buffer {
  const b = Buffer.alloc(4096);
  b.writeBigUInt64LE(f.nsze, IdNs.NSZE);
  b.writeBigUInt64LE(f.ncap ?? f.nsze, IdNs.NCAP);
  b[IdNs.FLBAS] = f.flbas ?? 0;
  b[IdNs.DPS] = f.dps ?? 0;
  b[IdNs.NMIC] = f.nmic ?? 0;
  return b;
}

function withData(t: CaseContext, data: Buffer): bigint {
  const b = t.buf(4096);
  t.write(b, data);
  return b;
}

function createCmd(t: CaseContext, f: Parameters<typeof createData>[0], csi = 0): Buffer {
  return cmd(AdminOpcode.NS_MANAGEMENT, 0, { prp1: withData(t, createData(f)), cdw10: NsManagementSelect.CREATE, cdw11: csi << 24 });
}

function deleteCmd(nsid: number): Buffer {
  return cmd(AdminOpcode.NS_MANAGEMENT, nsid, { cdw10: NsManagementSelect.DELETE });
}

function controllerListData(ids: number[], count = ids.length): Buffer {
  const b = Buffer.alloc(4096);
  b.writeUInt16LE(count, 0);
  ids.forEach((id, i) => b.writeUInt16LE(id, 2 + 2 * i));
  return b;
}

function attachCmd(t: CaseContext, nsid: number, ids: number[], sel: number = NsAttachmentSelect.ATTACH, count = ids.length): Buffer {
  return cmd(AdminOpcode.NS_ATTACHMENT, nsid, { prp1: withData(t, controllerListData(ids, count)), cdw10: sel });
}

/**
 * Creates a small namespace (`blocks` of the first metadata-free format unless told) and runs
 * `body` with its NSID; deletes it afterwards whatever happened.
 */
async function withNamespace(t: CaseContext, f: { blocks?: bigint; nmic?: number; format?: number }, body: (nsid: number, blockSize: number) => Promise<void>): Promise<void> {
  const formats = await createFormats(t);
  const fmt = formats.find((x) => x.index === f.format) ?? formats[0]!;
  const blocks = f.blocks ?? 64n;
  const cap = await capacity(t);
  if (blocks * BigInt(fmt.blockSize) > cap.unallocated) t.skip(`UNVMCAP ${cap.unallocated} bytes is less than a ${blocks}-block namespace`);
  const c = await t.admin(createCmd(t, { nsze: blocks, flbas: fmt.index, nmic: f.nmic }));
  t.ok(c, 'Namespace Management create');
  const nsid = c.dw0;
  t.note(`created namespace ${nsid}: ${blocks} blocks of ${fmt.blockSize} bytes`);
  try {
    await body(nsid, fmt.blockSize);
  } finally {
    await t.admin(deleteCmd(nsid));
  }
}

/** Enables Namespace Attribute Notices and posts an AER (the session is replaced afterwards). */
function noticeAer(t: CaseContext, timeoutMs: number): Promise<Cqe | null> {
  return t.adminPending(cmd(AdminOpcode.ASYNC_EVENT_REQUEST, 0), timeoutMs);
}

async function enableNotices(t: CaseContext): Promise<void> {
  if (!(t.s.idc.readUInt32LE(IdCtrl.OAES) & OAES_NS_ATTRIBUTE_NOTICES)) t.skip('Namespace Attribute Notices not supported (OAES bit 8)');
  t.dirty();
  t.ok(await t.admin(cmd(AdminOpcode.SET_FEATURES, 0, { cdw10: Feature.ASYNC_EVENT_CONFIG, cdw11: OAES_NS_ATTRIBUTE_NOTICES })), 'Set Features AEC: Namespace Attribute Notices');
}

function expectNotice(t: CaseContext, c: Cqe | null, what: string): void {
  if (!c) t.fail(`${what}: no Asynchronous Event Request completed`);
  t.ok(c, 'Asynchronous Event Request');
  t.eq(c.dw0 & 7, AsyncEvent.TYPE_NOTICE, `${what}: event type`);
  t.eq((c.dw0 >> 8) & 0xff, AsyncEvent.NOTICE_NS_ATTRIBUTE_CHANGED, `${what}: event information`);
  t.eq((c.dw0 >> 16) & 0xff, LogPage.CHANGED_NS_LIST, `${what}: log page`);
}

async function changedList(t: CaseContext): Promise<number[]> {
  const b = t.buf(4096, 0xaa);
  t.ok(await t.admin(logCmd(LogPage.CHANGED_NS_LIST, 4096, b)), 'Get Log Page Changed Namespace List');
  const d = t.read(b, 4096);
  const ids: number[] = [];
  for (let i = 0; i < 1024 && d.readUInt32LE(4 * i); i++) ids.push(d.readUInt32LE(4 * i));
  return ids;
}

/** A controller ID that is not in the NVM subsystem (0 when every ID below FFF0h is taken). */
async function foreignCntlid(t: CaseContext): Promise<number> {
  const known = new Set(await ctrlList(t, Cns.CONTROLLER_LIST));
  for (let id = 0xffef; id > 0; id--) if (!known.has(id)) return id;
  return 0;
}

// ------------------------------------------------------------------ cases

export const namespaceManagementCases: ConformanceCase[] = [
  {
    id: 'admin.ns-mgmt.cns-without-support',
    section: 'NVMe Base 2.0 5.17.1 (Figure "Identify - CNS Values"), 5.17.2.1 (OACS)',
    title: 'Namespace Management identify data is not offered without Namespace Management',
    level: 'mandatory',
    procedure: 'If OACS bit 3 = 0: Identify CNS 10h, 11h, 12h, 13h; CNS 00h with NSID FFFFFFFFh.',
    expected: 'Invalid Field in Command for CNS 10h-13h; Invalid Namespace or Format for CNS 00h NSID FFFFFFFFh.',
    async run(t: CaseContext) {
      if (t.ctrl.oacs & OACS_NS_MANAGEMENT) t.skip('Namespace Management supported (OACS bit 3)');
      for (const cns of [Cns.ALLOCATED_NS_LIST, Cns.ALLOCATED_NAMESPACE, Cns.NS_ATTACHED_CONTROLLERS, Cns.CONTROLLER_LIST])
        t.expect((await identify(t, cns, t.ns.nsid)).c, Status.INVALID_FIELD, `CNS ${cns.toString(16)}h`);
      t.expect((await identify(t, Cns.NAMESPACE, NSID_ALL)).c, Status.INVALID_NAMESPACE, 'CNS 00h NSID FFFFFFFFh');
    },
  },
  nsm(
    'admin.ns-mgmt.identify',
    'Identify data of Namespace Management: capacities, lists and the namespace under test',
    'NVMe Base 2.0 5.17.2.1 (TNVMCAP, UNVMCAP, MNAN), 5.17.1 (CNS 00h FFFFFFFFh, 10h-13h)',
    'mandatory',
    'Identify Controller; CNS 00h NSID FFFFFFFFh; CNS 10h; CNS 02h; CNS 13h; CNS 12h and CNS 11h for the namespace under test.',
    'UNVMCAP <= TNVMCAP; MNAN 0 or >= the allocated NSIDs; CNS 00h FFFFFFFFh succeeds; every active NSID is allocated; CNS 13h holds this CNTLID; CNS 12h of the namespace under test holds this CNTLID; CNS 11h of it equals CNS 00h.',
    async (t: CaseContext) => {
      const { data: idc } = await identify(t, Cns.CONTROLLER);
      const total = u128(idc, IdCtrl.TNVMCAP);
      const free = u128(idc, IdCtrl.UNVMCAP);
      t.note(`TNVMCAP ${total} UNVMCAP ${free} MNAN ${idc.readUInt32LE(IdCtrl.MNAN)}`);
      t.check(free <= total, `UNVMCAP ${free} exceeds TNVMCAP ${total}`);
      const common = await identify(t, Cns.NAMESPACE, NSID_ALL);
      t.ok(common.c, 'CNS 00h NSID FFFFFFFFh');
      t.note(`common capabilities: NLBAF ${common.data[IdNs.NLBAF]}, NSFEAT 0x${common.data[IdNs.NSFEAT]!.toString(16)}`);
      const allocated = await nsList(t, Cns.ALLOCATED_NS_LIST);
      const active = await nsList(t, Cns.ACTIVE_NS_LIST);
      t.note(`allocated: ${allocated.join(', ')}; active: ${active.join(', ')}`);
      for (const id of active) t.check(allocated.includes(id), `active NSID ${id} is not in the allocated list`);
      for (let i = 1; i < allocated.length; i++) t.check(allocated[i]! > allocated[i - 1]!, 'allocated list not ascending');
      const mnan = idc.readUInt32LE(IdCtrl.MNAN);
      if (mnan) t.check(allocated.length <= mnan, `${allocated.length} allocated namespaces, MNAN ${mnan}`);
      t.check((await ctrlList(t, Cns.CONTROLLER_LIST)).includes(t.ctrl.cntlid), 'CNS 13h lacks this controller');
      t.check((await ctrlList(t, Cns.NS_ATTACHED_CONTROLLERS, t.ns.nsid)).includes(t.ctrl.cntlid), 'CNS 12h of an active namespace lacks this controller');
      const a = await identify(t, Cns.ALLOCATED_NAMESPACE, t.ns.nsid);
      t.ok(a.c, 'CNS 11h');
      const n = await identify(t, Cns.NAMESPACE, t.ns.nsid);
      t.check(a.data.subarray(0, 384).equals(n.data.subarray(0, 384)), 'CNS 11h and CNS 00h differ for an attached namespace');
    },
  ),
  nsm(
    'admin.ns-mgmt.effects',
    'Commands Supported and Effects lists Namespace Management and Attachment as changing the namespace inventory',
    'NVMe Base 2.0 5.16.1.6',
    'mandatory',
    'If LPA bit 1: read log 05h; inspect the entries of opcodes 0Dh and 15h.',
    'CSUPP and NIC set for both (the host must rescan its namespaces after them).',
    async (t: CaseContext) => {
      if (!(t.ctrl.lpa & 2)) t.skip('Commands Supported and Effects not supported (LPA bit 1)');
      const b = t.buf(4096);
      t.ok(await t.admin(logCmd(LogPage.COMMANDS_SUPPORTED, 4096, b)), 'Get Log Page 05h');
      const d = t.read(b, 4096);
      for (const [name, op] of [['Namespace Management', AdminOpcode.NS_MANAGEMENT], ['Namespace Attachment', AdminOpcode.NS_ATTACHMENT]] as const) {
        const e = d.readUInt32LE(4 * op);
        t.note(`${name}: effects 0x${e.toString(16)}`);
        t.check(e & CommandEffects.CSUPP, `${name}: CSUPP clear`);
        t.check(e & CommandEffects.NIC, `${name}: NIC clear`);
      }
    },
  ),
  nsm(
    'admin.ns-mgmt.create-delete',
    'Create allocates a namespace attached to no controller; delete frees it',
    `${MGMT}, 5.17.2.1 (UNVMCAP)`,
    'mandatory',
    'Create 64 blocks in the first metadata-free format (NSID 0, CSI 0); check CNS 10h, 02h, 11h, UNVMCAP; delete it; check again.',
    'Create: Success, dword 0 a new NSID <= NN, in the allocated list, not active, CNS 11h NSZE = NCAP = 64 and FLBAS as sent, UNVMCAP lower by 64 blocks. Delete: Success, NSID gone, UNVMCAP as before.',
    async (t: CaseContext) => {
      const before = await capacity(t);
      const allocatedBefore = await nsList(t, Cns.ALLOCATED_NS_LIST);
      let made = 0;
      await withNamespace(t, { blocks: 64n }, async (nsid, bs) => {
        made = nsid;
        t.check(nsid >= 1 && nsid <= t.ctrl.nn, `NSID ${nsid} in dword 0 is not 1..NN`);
        t.check(!allocatedBefore.includes(nsid), `NSID ${nsid} was already allocated`);
        t.check((await nsList(t, Cns.ALLOCATED_NS_LIST)).includes(nsid), 'not in the allocated list');
        t.check(!(await nsList(t, Cns.ACTIVE_NS_LIST)).includes(nsid), 'active although attached to no controller');
        const id = await identify(t, Cns.ALLOCATED_NAMESPACE, nsid);
        t.ok(id.c, 'CNS 11h');
        t.eq(id.data.readBigUInt64LE(IdNs.NSZE), 64n, 'NSZE');
        t.eq(id.data.readBigUInt64LE(IdNs.NCAP), 64n, 'NCAP');
        const lbaf = id.data.readUInt32LE(IdNs.LBAF0 + 4 * (id.data[IdNs.FLBAS]! & 0xf));
        t.eq(2 ** ((lbaf >> 16) & 0xff), bs, 'block size of the format in use');
        t.eq((await capacity(t)).unallocated, before.unallocated - 64n * BigInt(bs), 'UNVMCAP after create');
        t.ok((await identify(t, Cns.NAMESPACE, nsid)).c, 'CNS 00h of the inactive new namespace');
      });
      t.check(!(await nsList(t, Cns.ALLOCATED_NS_LIST)).includes(made), `NSID ${made} still allocated after delete`);
      t.eq((await capacity(t)).unallocated, before.unallocated, 'UNVMCAP after delete');
    },
  ),
  nsm(
    'admin.ns-mgmt.create-invalid',
    'Create with inconsistent sizes or a format that does not exist is rejected',
    MGMT,
    'mandatory',
    'Create with NSZE 0; with NCAP > NSZE; with FLBAS = NLBAF + 1 (if < 16); with SEL 2h (reserved).',
    'Invalid Field in Command for the sizes and SEL; Invalid Format for FLBAS; nothing allocated by any.',
    async (t: CaseContext) => {
      const formats = await createFormats(t);
      const before = await nsList(t, Cns.ALLOCATED_NS_LIST);
      t.expect(await t.admin(createCmd(t, { nsze: 0n })), Status.INVALID_FIELD, 'NSZE 0');
      t.expect(await t.admin(createCmd(t, { nsze: 8n, ncap: 16n })), Status.INVALID_FIELD, 'NCAP > NSZE');
      const nlbaf = formats[0]!.nlbaf;
      if (nlbaf < 15) t.expect(await t.admin(createCmd(t, { nsze: 8n, flbas: nlbaf + 1 })), Status.INVALID_FORMAT, `FLBAS ${nlbaf + 1}`);
      t.expect(await t.admin(cmd(AdminOpcode.NS_MANAGEMENT, 0, { prp1: withData(t, createData({ nsze: 8n })), cdw10: 2 })), Status.INVALID_FIELD, 'SEL 2h');
      t.eq((await nsList(t, Cns.ALLOCATED_NS_LIST)).join(','), before.join(','), 'allocated list after the rejected creates');
    },
  ),
  nsm(
    'admin.ns-mgmt.thin-provisioning-unsupported',
    'Create with NCAP below NSZE is rejected when thin provisioning is not supported',
    `${MGMT}, NVM Command Set 1.0 4.1.5.1 (NSFEAT bit 0)`,
    'mandatory',
    'If NSFEAT bit 0 of CNS 00h NSID FFFFFFFFh is clear: create with NSZE 16, NCAP 8.',
    'Thin Provisioning Not Supported (or Invalid Field in Command); nothing allocated.',
    async (t: CaseContext) => {
      const formats = await createFormats(t);
      if (formats[0]!.thin) t.skip('thin provisioning supported (NSFEAT bit 0)');
      const before = await nsList(t, Cns.ALLOCATED_NS_LIST);
      t.expect(await t.admin(createCmd(t, { nsze: 16n, ncap: 8n })), [Status.THIN_PROVISIONING_NOT_SUPPORTED, Status.INVALID_FIELD], 'NCAP < NSZE');
      t.eq((await nsList(t, Cns.ALLOCATED_NS_LIST)).join(','), before.join(','), 'allocated list');
    },
  ),
  nsm(
    'admin.ns-mgmt.insufficient-capacity',
    'Create larger than the unallocated capacity is rejected',
    `${MGMT}, 5.17.2.1 (UNVMCAP)`,
    'mandatory',
    'Create a namespace of UNVMCAP / block size + 1 blocks.',
    'Namespace Insufficient Capacity; UNVMCAP unchanged.',
    async (t: CaseContext) => {
      const fmt = (await createFormats(t))[0]!;
      const before = await capacity(t);
      const blocks = before.unallocated / BigInt(fmt.blockSize) + 1n;
      if (blocks >= 1n << 64n) t.skip('UNVMCAP beyond what NSZE can ask for');
      t.expect(await t.admin(createCmd(t, { nsze: blocks, flbas: fmt.index })), Status.NAMESPACE_INSUFFICIENT_CAPACITY, `${blocks} blocks of ${fmt.blockSize}`);
      t.eq((await capacity(t)).unallocated, before.unallocated, 'UNVMCAP');
    },
  ),
  nsm(
    'admin.ns-mgmt.csi-unsupported',
    'Create for an I/O command set the controller does not support is rejected',
    MGMT,
    'mandatory',
    'Create with CSI = 3Fh (reserved).',
    'I/O Command Set Not Supported (or Invalid Field in Command).',
    async (t: CaseContext) => {
      t.expect(await t.admin(createCmd(t, { nsze: 8n }, 0x3f)), [Status.IO_COMMAND_SET_NOT_SUPPORTED, Status.INVALID_FIELD], 'CSI 3Fh');
    },
  ),
  nsm(
    'admin.ns-mgmt.delete-invalid',
    'Delete of an NSID that is not allocated or not valid is rejected',
    `${MGMT}, 3.2.1.2`,
    'mandatory',
    'Delete a valid NSID that is not allocated; delete NSID 0; delete NSID NN+1.',
    'Invalid Field in Command (or Invalid Namespace or Format) for the unallocated NSID; Invalid Namespace or Format for 0 and NN+1.',
    async (t: CaseContext) => {
      const free = await unallocatedNsid(t);
      if (free) t.expect(await t.admin(deleteCmd(free)), [Status.INVALID_FIELD, Status.INVALID_NAMESPACE], `delete unallocated NSID ${free}`);
      t.expect(await t.admin(deleteCmd(0)), Status.INVALID_NAMESPACE, 'delete NSID 0');
      if (t.ctrl.nn < 0xfffffffe) t.expect(await t.admin(deleteCmd(t.ctrl.nn + 1)), Status.INVALID_NAMESPACE, `delete NSID ${t.ctrl.nn + 1}`);
    },
  ),
  nsm(
    'admin.ns-attach.attach-detach',
    'Attach makes a created namespace active here and usable; detach makes it inactive',
    `${ATTACH}, 5.17.2.2, 3.2.1.4`,
    'mandatory',
    'Create a namespace; attach it to this controller (controller list = CNTLID); CNS 02h, 12h; write and read a block on it; detach; CNS 02h, 12h; read it.',
    'Attach and detach succeed; after attach the NSID is active, CNS 12h lists this controller and the data reads back; after detach it is not active, CNS 12h is empty of this controller and a Read fails (Invalid Namespace or Format, or Invalid Field).',
    async (t: CaseContext) => {
      t.dirty();
      await withNamespace(t, { blocks: 64n }, async (nsid, bs) => {
        t.ok(await t.admin(attachCmd(t, nsid, [t.ctrl.cntlid])), 'attach to this controller');
        t.check((await nsList(t, Cns.ACTIVE_NS_LIST)).includes(nsid), 'not active after attach');
        t.check((await ctrlList(t, Cns.NS_ATTACHED_CONTROLLERS, nsid)).includes(t.ctrl.cntlid), 'CNS 12h lacks this controller');
        const data = pattern(bs, 0x4e53);
        const wb = t.buf(bs);
        t.write(wb, data);
        t.ok(await t.io(t.rw(IoOpcode.WRITE, 3n, 1, wb, { nsid, bytes: bs })), 'Write to the attached namespace');
        const rb = t.buf(bs, 0x5a);
        t.ok(await t.io(t.rw(IoOpcode.READ, 3n, 1, rb, { nsid, bytes: bs })), 'Read back');
        t.check(t.read(rb, bs).equals(data), 'data read back differs');
        t.ok(await t.admin(attachCmd(t, nsid, [t.ctrl.cntlid], NsAttachmentSelect.DETACH)), 'detach from this controller');
        t.check(!(await nsList(t, Cns.ACTIVE_NS_LIST)).includes(nsid), 'still active after detach');
        t.check(!(await ctrlList(t, Cns.NS_ATTACHED_CONTROLLERS, nsid)).includes(t.ctrl.cntlid), 'CNS 12h still lists this controller');
        t.expect(await t.io(t.rw(IoOpcode.READ, 3n, 1, rb, { nsid, bytes: bs })), [Status.INVALID_NAMESPACE, Status.INVALID_FIELD], 'Read of the detached namespace');
      });
    },
  ),
  nsm(
    'admin.ns-attach.notice',
    'Attach and detach report a Namespace Attribute Changed event and the Changed Namespace List',
    `${ATTACH}, 5.2 (Figure "Notice"), 5.16.1.5, 5.27.1.11`,
    'optional',
    'Enable Namespace Attribute Notices (AEC bit 8); create a namespace; post an AER; attach it here; read log 04h; post an AER; detach it; read log 04h.',
    'Each AER completes with type Notice, info 00h, log 04h; each Changed Namespace List holds the NSID.',
    async (t: CaseContext) => {
      await enableNotices(t);
      await withNamespace(t, { blocks: 8n }, async (nsid) => {
        await changedList(t); // start from an empty list
        let aer = noticeAer(t, 3000);
        t.ok(await t.admin(attachCmd(t, nsid, [t.ctrl.cntlid])), 'attach');
        expectNotice(t, await aer, 'attach');
        t.check((await changedList(t)).includes(nsid), 'the Changed Namespace List lacks the attached NSID');
        aer = noticeAer(t, 3000);
        t.ok(await t.admin(attachCmd(t, nsid, [t.ctrl.cntlid], NsAttachmentSelect.DETACH)), 'detach');
        expectNotice(t, await aer, 'detach');
        t.check((await changedList(t)).includes(nsid), 'the Changed Namespace List lacks the detached NSID');
      });
    },
    { fresh: 'full' },
  ),
  nsm(
    'admin.ns-attach.already-and-not-attached',
    'Attaching twice and detaching where not attached are rejected',
    ATTACH,
    'mandatory',
    'Create a namespace; detach it from this controller; attach it; attach it again; detach it.',
    'The first detach: Namespace Not Attached; the second attach: Namespace Already Attached; the others succeed.',
    async (t: CaseContext) => {
      t.dirty();
      await withNamespace(t, { blocks: 8n }, async (nsid) => {
        t.expect(await t.admin(attachCmd(t, nsid, [t.ctrl.cntlid], NsAttachmentSelect.DETACH)), Status.NAMESPACE_NOT_ATTACHED, 'detach while not attached');
        t.ok(await t.admin(attachCmd(t, nsid, [t.ctrl.cntlid])), 'attach');
        t.expect(await t.admin(attachCmd(t, nsid, [t.ctrl.cntlid])), Status.NAMESPACE_ALREADY_ATTACHED, 'attach again');
        t.ok(await t.admin(attachCmd(t, nsid, [t.ctrl.cntlid], NsAttachmentSelect.DETACH)), 'detach');
      });
    },
  ),
  nsm(
    'admin.ns-attach.controller-list-invalid',
    'A controller list that is empty or names a controller outside the subsystem is rejected',
    `${ATTACH} (Figure "Controller List Format")`,
    'mandatory',
    'Create a namespace; attach with an empty list; with a CNTLID not in CNS 13h; with Number of Identifiers 2048.',
    'Controller List Invalid for each; the namespace stays attached to no controller.',
    async (t: CaseContext) => {
      await withNamespace(t, { blocks: 8n }, async (nsid) => {
        t.expect(await t.admin(attachCmd(t, nsid, [])), Status.CONTROLLER_LIST_INVALID, 'empty list');
        const foreign = await foreignCntlid(t);
        if (foreign) t.expect(await t.admin(attachCmd(t, nsid, [foreign])), Status.CONTROLLER_LIST_INVALID, `controller ${foreign}`);
        t.expect(await t.admin(attachCmd(t, nsid, [t.ctrl.cntlid], NsAttachmentSelect.ATTACH, CONTROLLER_LIST_MAX + 1)), Status.CONTROLLER_LIST_INVALID, '2048 identifiers');
        t.eq((await ctrlList(t, Cns.NS_ATTACHED_CONTROLLERS, nsid)).length, 0, 'controllers attached after the rejected attaches');
      });
    },
  ),
  nsm(
    'admin.ns-attach.invalid',
    'Attachment of an unallocated or invalid NSID, or with a reserved SEL, is rejected',
    `${ATTACH}, 3.2.1.2`,
    'mandatory',
    'Attach (this CNTLID) an unallocated valid NSID; NSID 0; NSID FFFFFFFFh; the namespace under test with SEL 2h.',
    'Invalid Field in Command (or Invalid Namespace or Format) for the unallocated NSID and FFFFFFFFh; Invalid Namespace or Format for NSID 0; Invalid Field in Command for SEL 2h.',
    async (t: CaseContext) => {
      const free = await unallocatedNsid(t);
      if (free) t.expect(await t.admin(attachCmd(t, free, [t.ctrl.cntlid])), [Status.INVALID_FIELD, Status.INVALID_NAMESPACE], `unallocated NSID ${free}`);
      t.expect(await t.admin(attachCmd(t, 0, [t.ctrl.cntlid])), Status.INVALID_NAMESPACE, 'NSID 0');
      t.expect(await t.admin(attachCmd(t, NSID_ALL, [t.ctrl.cntlid])), [Status.INVALID_NAMESPACE, Status.INVALID_FIELD], 'NSID FFFFFFFFh');
      t.expect(await t.admin(attachCmd(t, t.ns.nsid, [t.ctrl.cntlid], 2)), Status.INVALID_FIELD, 'SEL 2h');
    },
  ),
  nsm(
    'admin.ns-attach.private',
    'A private namespace cannot be attached to a second controller',
    `${ATTACH}, NVM Command Set 1.0 4.1.5.1 (NMIC)`,
    'mandatory',
    'If CNS 13h lists another controller: create a namespace with NMIC 0; attach it to this controller; attach it to the other one.',
    'The second attach: Namespace Is Private.',
    async (t: CaseContext) => {
      const other = (await ctrlList(t, Cns.CONTROLLER_LIST)).find((id) => id !== t.ctrl.cntlid);
      if (other === undefined) t.skip('the NVM subsystem has one controller');
      t.dirty();
      await withNamespace(t, { blocks: 8n, nmic: 0 }, async (nsid) => {
        t.ok(await t.admin(attachCmd(t, nsid, [t.ctrl.cntlid])), 'attach here');
        t.expect(await t.admin(attachCmd(t, nsid, [other])), Status.NAMESPACE_IS_PRIVATE, `attach to controller ${other}`);
        t.ok(await t.admin(attachCmd(t, nsid, [t.ctrl.cntlid], NsAttachmentSelect.DETACH)), 'detach');
      });
    },
  ),
  nsm(
    'admin.ns-mgmt.delete-attached',
    'Deleting an attached namespace detaches it first',
    `${MGMT}, 5.16.1.5`,
    'mandatory',
    'Create a namespace, attach it here; delete it; CNS 02h, 10h; read log 04h.',
    'Delete succeeds; the NSID is neither active nor allocated; the Changed Namespace List holds it; UNVMCAP is back to its value before the create.',
    async (t: CaseContext) => {
      t.dirty();
      const before = await capacity(t);
      const fmt = (await createFormats(t))[0]!;
      if (8n * BigInt(fmt.blockSize) > before.unallocated) t.skip('no capacity for an 8-block namespace');
      const c = await t.admin(createCmd(t, { nsze: 8n, flbas: fmt.index }));
      t.ok(c, 'create');
      const nsid = c.dw0;
      t.ok(await t.admin(attachCmd(t, nsid, [t.ctrl.cntlid])), 'attach');
      await changedList(t);
      t.ok(await t.admin(deleteCmd(nsid)), 'delete while attached');
      t.check(!(await nsList(t, Cns.ACTIVE_NS_LIST)).includes(nsid), 'still active after delete');
      t.check(!(await nsList(t, Cns.ALLOCATED_NS_LIST)).includes(nsid), 'still allocated after delete');
      t.check((await changedList(t)).includes(nsid), 'the Changed Namespace List lacks the deleted NSID');
      t.eq((await capacity(t)).unallocated, before.unallocated, 'UNVMCAP');
    },
  ),
];

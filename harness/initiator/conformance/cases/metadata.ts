// Metadata and end-to-end data protection (issue 18 item 1): LBA formats with metadata, extended
// (FLBAS bit 4: each block's metadata follows its data in the data buffer) or separate (MPTR,
// NVMe Base 2.0 Figure 92: a contiguous buffer with PRPs, or one SGL descriptor with PSDT 10b),
// and protection information Types 1-3 with the 16-bit Guard (NVM Command Set 1.0 5.2, 5.3):
// PRACT inserting and stripping PI, PRCHK's Guard, Application Tag and Reference Tag checks and
// the status of each failure. The cases find the namespaces they need by Identify (any active
// namespace whose format has the metadata or PI the case tests) and skip when there is none;
// the PI they write is built here, with this file's own CRC16 T10-DIF.
import { AdminOpcode, IoOpcode, Status } from '../spec.js';
import { cmd, pattern, type CaseContext, type Cqe } from '../session.js';
import type { ConformanceCase, Level } from '../types.js';

const BASE = 'NVMe Base 2.0';
const NVM = 'NVM Command Set 1.0';
const UNMAPPED = 0x7000000000n;
const PRACT = 0b1000;
const CHK_GUARD = 0b0100;
const CHK_APP = 0b0010;
const CHK_REF = 0b0001;
const CHK_ALL = CHK_GUARD | CHK_APP | CHK_REF;

/** A namespace's format as Identify Namespace reports it (NVM Command Set 1.0 Figure 97). */
interface MdNs {
  nsid: number;
  blocks: bigint;
  bs: number;
  ms: number;
  extended: boolean;
  mc: number;
  dpc: number;
  piType: number;
  piFirst: boolean;
}

function c(id: string, title: string, section: string, level: Level, procedure: string, expected: string, run: (t: CaseContext) => Promise<void>): ConformanceCase {
  return { id, title, section, level, procedure, expected, run };
}

async function identifyNs(t: CaseContext, nsid: number): Promise<MdNs> {
  const b = t.buf(4096, 0);
  t.ok(await t.admin(cmd(AdminOpcode.IDENTIFY, nsid, { prp1: b, cdw10: 0 })), `Identify Namespace ${nsid}`);
  const id = t.read(b, 4096);
  const flbas = id[26]!;
  const lbaf = id.readUInt32LE(128 + 4 * (flbas & 0xf));
  const dps = id[29]!;
  return { nsid, blocks: id.readBigUInt64LE(0), bs: 2 ** ((lbaf >> 16) & 0xff), ms: lbaf & 0xffff, extended: (flbas & 0x10) !== 0, mc: id[27]!, dpc: id[28]!, piType: dps & 7, piFirst: (dps & 8) !== 0 };
}

async function activeNamespaces(t: CaseContext): Promise<MdNs[]> {
  const b = t.buf(4096, 0);
  t.ok(await t.admin(cmd(AdminOpcode.IDENTIFY, 0, { prp1: b, cdw10: 2 })), 'Identify Active Namespace ID list');
  const list = t.read(b, 4096);
  const out: MdNs[] = [];
  for (let i = 0; i < 1024; i++) {
    const nsid = list.readUInt32LE(4 * i);
    if (!nsid) break;
    out.push(await identifyNs(t, nsid));
  }
  return out;
}

/** Every active namespace `want` accepts (each case runs on each), or skip saying what was missing. */
async function findAll(t: CaseContext, what: string, want: (n: MdNs) => boolean): Promise<MdNs[]> {
  const all = (await activeNamespaces(t)).filter(want);
  if (!all.length) t.skip(`no active namespace with ${what}`);
  for (const n of all) t.note(`namespace ${n.nsid}: ${n.bs}+${n.ms} bytes, ${n.extended ? 'extended' : 'separate'}${n.piType ? `, PI Type ${n.piType} in the ${n.piFirst ? 'first' : 'last'} 8 bytes` : ''}`);
  return all;
}

// ---- protection information, computed here

export function crc16t10dif(data: Buffer, crc = 0): number {
  for (const byte of data) {
    crc ^= byte << 8;
    for (let k = 0; k < 8; k++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x8bb7) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
}

const piOffset = (n: MdNs) => (n.piFirst ? 0 : n.ms - 8);

/** `blocks` blocks of metadata (the non-PI bytes a pattern) with valid PI for data `data`. */
function buildMd(n: MdNs, data: Buffer, blocks: number, app: number, ref: number, seedNo = 7): Buffer {
  const md = pattern(Math.max(4, blocks * n.ms), seedNo).subarray(0, blocks * n.ms);
  if (!n.piType) return md;
  for (let i = 0; i < blocks; i++) {
    const m = md.subarray(i * n.ms, (i + 1) * n.ms);
    const po = piOffset(n);
    let g = crc16t10dif(data.subarray(i * n.bs, (i + 1) * n.bs));
    if (po) g = crc16t10dif(m.subarray(0, po), g);
    m.writeUInt16BE(g, po);
    m.writeUInt16BE(app, po + 2);
    m.writeUInt32BE((ref + (n.piType === 3 ? 0 : i)) >>> 0, po + 4);
  }
  return md;
}

/** Data and metadata as an extended buffer: block i's data, then its metadata. */
function interleave(n: MdNs, data: Buffer, md: Buffer, blocks: number, msT = n.ms): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < blocks; i++) {
    parts.push(data.subarray(i * n.bs, (i + 1) * n.bs));
    if (msT) parts.push(md.subarray(i * n.ms, i * n.ms + msT));
  }
  return Buffer.concat(parts);
}

interface Rw {
  prinfo?: number;
  ref?: number;
  app?: number;
  mask?: number;
  /** Separate metadata: its buffer (MPTR); with `sgl`, the address of its SGL descriptor. */
  mptr?: bigint;
  /** Data as one SGL Data Block descriptor (PSDT 01b; 10b when mptr points at a descriptor). */
  sgl?: 'data' | 'data+md';
  bytes?: number;
}

/** Read/Write/Compare/Verify of `blocks` at `slba` on namespace n with data at `iova`. */
function rw(t: CaseContext, opc: number, n: MdNs, slba: bigint, blocks: number, iova: bigint, o: Rw = {}): Buffer {
  const bytes = o.bytes ?? blocks * (n.bs + (n.extended ? n.ms : 0));
  const cdw12 = ((blocks - 1) & 0xffff) | ((o.prinfo ?? 0) << 26);
  const cdw15 = ((o.app ?? 0) & 0xffff) | (((o.mask ?? 0) & 0xffff) << 16);
  let sqe: Buffer;
  if (o.sgl) {
    sqe = cmd(opc, n.nsid, { cdw10: Number(slba & 0xffffffffn), cdw11: Number(slba >> 32n), cdw12, cdw14: o.ref ?? 0, cdw15, flags: o.sgl === 'data' ? 0x40 : 0x80 });
    sqe.writeBigUInt64LE(iova, 24);
    sqe.writeUInt32LE(bytes, 32);
    sqe[39] = 0x00; // SGL Data Block descriptor
  } else {
    const { prp1, prp2 } = t.drv.prps(iova, bytes);
    sqe = cmd(opc, n.nsid, { prp1, prp2, cdw10: Number(slba & 0xffffffffn), cdw11: Number(slba >> 32n), cdw12, cdw14: o.ref ?? 0, cdw15 });
  }
  if (o.mptr !== undefined) sqe.writeBigUInt64LE(o.mptr, 16);
  return sqe;
}

function withData(t: CaseContext, data: Buffer): bigint {
  const b = t.buf(data.length);
  t.write(b, data);
  return b;
}

/** Writes data+metadata as the format transfers them (PRACT clear); the Cqe. */
async function writeMd(t: CaseContext, n: MdNs, slba: bigint, data: Buffer, md: Buffer, o: Rw = {}): Promise<Cqe> {
  const blocks = data.length / n.bs;
  if (n.extended) return t.io(rw(t, IoOpcode.WRITE, n, slba, blocks, withData(t, interleave(n, data, md, blocks)), o));
  return t.io(rw(t, IoOpcode.WRITE, n, slba, blocks, withData(t, data), { mptr: withData(t, md), ...o }));
}

/** Reads data and metadata back (PRACT clear unless o.prinfo sets it). */
async function readMd(t: CaseContext, n: MdNs, slba: bigint, blocks: number, o: Rw = {}): Promise<{ c: Cqe; data: Buffer; md: Buffer }> {
  if (n.extended) {
    const len = blocks * (n.bs + n.ms);
    const b = t.buf(len, 0xee);
    const c = await t.io(rw(t, IoOpcode.READ, n, slba, blocks, b, o));
    const x = t.read(b, len);
    const data = Buffer.concat(Array.from({ length: blocks }, (_, i) => x.subarray(i * (n.bs + n.ms), i * (n.bs + n.ms) + n.bs)));
    const md = Buffer.concat(Array.from({ length: blocks }, (_, i) => x.subarray(i * (n.bs + n.ms) + n.bs, (i + 1) * (n.bs + n.ms))));
    return { c, data, md };
  }
  const b = t.buf(blocks * n.bs, 0xee);
  const m = t.buf(blocks * n.ms, 0xee);
  const c = await t.io(rw(t, IoOpcode.READ, n, slba, blocks, b, { mptr: m, ...o }));
  return { c, data: t.read(b, blocks * n.bs), md: t.read(m, blocks * n.ms) };
}

/** An LBA near the end of namespace n (blocks other cases of this file do not use). */
const lba = (n: MdNs, back: number) => n.blocks - BigInt(back);
/** Type 1 ties the Reference Tag to the LBA; 2 and 3 take the host's. */
const refFor = (n: MdNs, slba: bigint) => (n.piType === 1 ? Number(slba & 0xffffffffn) : 0x1000);

const hasPi = (n: MdNs) => n.piType !== 0;

export const metadataCases: ConformanceCase[] = [
  c('md.identify', 'LBA formats with metadata: FLBAS, MC, DPC and DPS agree', `${NVM} Figure 97 (NLBAF, FLBAS, MC, DPC, DPS, LBAF), 5.2, 5.3`, 'mandatory',
    'Identify every active namespace; for those whose LBA format has metadata (MS > 0), compare FLBAS bit 4 with MC and DPS with DPC and MS.',
    'The placement in use is one MC supports (bit 0 extended, bit 1 separate); PI is enabled only with at least 8 bytes of metadata, with a Type DPC lists and a location (DPS bit 3: first; else last 8 bytes) DPC lists; a namespace without metadata reports no PI.',
    async (t: CaseContext) => {
      const all = await activeNamespaces(t);
      let seen = 0;
      for (const n of all) {
        if (!n.ms) {
          t.eq(n.piType, 0, `namespace ${n.nsid} without metadata: DPS PI type`);
          continue;
        }
        seen++;
        t.check(n.mc & (n.extended ? 1 : 2), `namespace ${n.nsid}: FLBAS says ${n.extended ? 'extended' : 'separate'} metadata, MC ${n.mc} does not support it`);
        if (n.piType) {
          t.check(n.piType <= 3, `namespace ${n.nsid}: DPS PI type ${n.piType} reserved`);
          t.check(n.ms >= 8, `namespace ${n.nsid}: PI with ${n.ms} bytes of metadata`);
          t.check(n.dpc & (1 << (n.piType - 1)), `namespace ${n.nsid}: PI Type ${n.piType} enabled but DPC ${n.dpc} lacks it`);
          t.check(n.dpc & (n.piFirst ? 8 : 16), `namespace ${n.nsid}: PI in the ${n.piFirst ? 'first' : 'last'} 8 bytes, DPC ${n.dpc} lacks it`);
        }
        t.note(`namespace ${n.nsid}: MS ${n.ms}, ${n.extended ? 'extended' : 'separate'}, PI Type ${n.piType}`);
      }
      if (!seen) t.skip('no namespace with metadata');
    }),

  c('md.separate.roundtrip', 'Separate metadata through MPTR (contiguous buffer, PRPs)', `${BASE} Figure 92 (MPTR), ${NVM} 5.3`, 'optional',
    'On a namespace with separate metadata: Write 4 blocks with data by PRPs and metadata (with valid PI where the format has PI) at MPTR; Read them back with another MPTR; Read with PRCHK set.',
    'Success; the data and every metadata byte read back as written; a read whose PI checks all pass succeeds.',
    async (t: CaseContext) => {
      for (const n of await findAll(t, 'separate metadata', (m) => m.ms > 0 && !m.extended)) {
        const slba = lba(n, 8);
        const data = pattern(4 * n.bs, 901);
        const md = buildMd(n, data, 4, 0x5a5a, refFor(n, slba));
        t.ok(await writeMd(t, n, slba, data, md, { ref: refFor(n, slba), app: 0x5a5a, mask: 0xffff, prinfo: hasPi(n) ? CHK_ALL : 0 }), 'Write with MPTR');
        const r = await readMd(t, n, slba, 4);
        t.ok(r.c, 'Read with MPTR');
        t.check(r.data.equals(data), 'data read back differs');
        t.check(r.md.equals(md), 'metadata read back differs');
        if (hasPi(n)) t.ok((await readMd(t, n, slba, 4, { prinfo: CHK_ALL, ref: refFor(n, slba), app: 0x5a5a, mask: 0xffff })).c, 'Read with every PI check');
      }
    }),

  c('md.separate.sgl', 'Separate metadata by SGL: MPTR addresses an SGL descriptor (PSDT 10b)', `${BASE} Figure 92 (PSDT 10b, MPTR), 4.3 (SGL)`, 'optional',
    'On a namespace with separate metadata and a controller supporting SGLs: Write 2 blocks with an SGL Data Block for data and MPTR pointing at a Data Block descriptor of the metadata; Read them back the same way; then MPTR at an unreadable descriptor, and a descriptor shorter than the metadata.',
    'Success with the data and metadata intact; the unreadable descriptor is Data Transfer Error, the short one Metadata SGL Length Invalid (10h).',
    async (t: CaseContext) => {
      if (!(t.ctrl.sgls & 3)) t.skip('SGLs not supported (SGLS bits 1:0 = 0)');
      for (const n of await findAll(t, 'separate metadata', (m) => m.ms > 0 && !m.extended)) {
        const slba = lba(n, 12);
        const data = pattern(2 * n.bs, 902);
        const md = buildMd(n, data, 2, 0, refFor(n, slba));
        const desc = (addr: bigint, len: number) => {
          const d = Buffer.alloc(16);
          d.writeBigUInt64LE(addr, 0);
          d.writeUInt32LE(len, 8);
          return withData(t, d);
        };
        t.ok(await t.io(rw(t, IoOpcode.WRITE, n, slba, 2, withData(t, data), { sgl: 'data+md', mptr: desc(withData(t, md), md.length), ref: refFor(n, slba) })), 'Write, metadata by SGL');
        const b = t.buf(data.length, 0);
        const m = t.buf(md.length, 0);
        t.ok(await t.io(rw(t, IoOpcode.READ, n, slba, 2, b, { sgl: 'data+md', mptr: desc(m, md.length) })), 'Read, metadata by SGL');
        t.check(t.read(b, data.length).equals(data), 'data read back differs');
        t.check(t.read(m, md.length).equals(md), 'metadata read back differs');
        t.expect(await t.io(rw(t, IoOpcode.READ, n, slba, 2, b, { sgl: 'data+md', mptr: UNMAPPED })), Status.DATA_TRANSFER_ERROR, 'MPTR at an unmapped descriptor');
        t.expect(await t.io(rw(t, IoOpcode.READ, n, slba, 2, b, { sgl: 'data+md', mptr: desc(m, md.length - 1) })), Status.METADATA_SGL_LENGTH_INVALID, 'metadata descriptor too short');
      }
    }),

  c('md.mptr.bounds', 'MPTR outside guest memory or misaligned', `${BASE} Figure 92 (MPTR: Dword aligned with PRPs), 4.2.3.1`, 'mandatory',
    'On a namespace with separate metadata: Read and Write 1 block with MPTR in unmapped memory, and with MPTR 2 bytes past a Dword boundary (PRPs).',
    'Data Transfer Error for unmapped metadata; Invalid Field for the misaligned MPTR; nothing is written.',
    async (t: CaseContext) => {
      for (const n of await findAll(t, 'separate metadata', (m) => m.ms > 0 && !m.extended)) {
        const slba = lba(n, 14);
        const data = pattern(n.bs, 903);
        const md = buildMd(n, data, 1, 0, refFor(n, slba));
        t.ok(await writeMd(t, n, slba, data, md), 'seed Write');
        t.expect(await t.io(rw(t, IoOpcode.READ, n, slba, 1, t.buf(n.bs), { mptr: UNMAPPED })), Status.DATA_TRANSFER_ERROR, 'Read, MPTR unmapped');
        t.expect(await t.io(rw(t, IoOpcode.WRITE, n, slba, 1, withData(t, pattern(n.bs, 1)), { mptr: UNMAPPED })), Status.DATA_TRANSFER_ERROR, 'Write, MPTR unmapped');
        t.expect(await t.io(rw(t, IoOpcode.READ, n, slba, 1, t.buf(n.bs), { mptr: t.buf(n.ms + 8) + 2n })), Status.INVALID_FIELD, 'Read, MPTR not Dword aligned');
        const r = await readMd(t, n, slba, 1);
        t.ok(r.c, 'read back');
        t.check(r.data.equals(data) && r.md.equals(md), 'a failed Write changed the block');
      }
    }),

  c('md.extended.roundtrip', 'Extended LBAs: metadata interleaved after each block in the data buffer', `${NVM} 5.3 (FLBAS bit 4)`, 'optional',
    'On a namespace with extended metadata: Write 3 blocks from one buffer of 3 x (block + metadata) bytes (valid PI where the format has it); Read them back; Read with a buffer one metadata field short (SGL, when supported).',
    'Success, data and metadata read back as written, in place; the data transfer covers metadata, so the short SGL is Data SGL Length Invalid.',
    async (t: CaseContext) => {
      for (const n of await findAll(t, 'extended metadata', (m) => m.ms > 0 && m.extended)) {
        const slba = lba(n, 6);
        const data = pattern(3 * n.bs, 904);
        const md = buildMd(n, data, 3, 0x1234, refFor(n, slba));
        t.ok(await writeMd(t, n, slba, data, md, { prinfo: hasPi(n) ? CHK_ALL : 0, ref: refFor(n, slba), app: 0x1234, mask: 0xffff }), 'Write (extended)');
        const r = await readMd(t, n, slba, 3);
        t.ok(r.c, 'Read (extended)');
        t.check(r.data.equals(data), 'data read back differs');
        t.check(r.md.equals(md), 'metadata read back differs');
        if (t.ctrl.sgls & 3) {
          t.expect(await t.io(rw(t, IoOpcode.READ, n, slba, 3, t.buf(3 * (n.bs + n.ms)), { sgl: 'data', bytes: 3 * (n.bs + n.ms) - n.ms })), Status.DATA_SGL_LENGTH_INVALID, 'SGL one metadata field short');
        }
      }
    }),

  c('md.pi.pract', 'PRACT: the controller inserts PI on Write and strips it on Read', `${NVM} 5.2 (PRACT), 5.2.1.2`, 'optional',
    'On a PI namespace whose metadata is only the PI (MS 8): Write 2 blocks with PRACT set and LBAT 0BEEh, transferring data only; Read them with PRACT clear; Read with PRACT and every PRCHK bit set.',
    'The stored PI has Guard = CRC16 T10-DIF of each block, Application Tag 0BEEh and the Reference Tag (Type 1: the LBA; Type 2 counting up from ILBRT); the PRACT read returns the data and transfers no metadata.',
    async (t: CaseContext) => {
      for (const n of await findAll(t, 'PI and 8-byte metadata', (m) => hasPi(m) && m.ms === 8)) {
        const slba = lba(n, 20);
        const ref = refFor(n, slba);
        const data = pattern(2 * n.bs, 905);
        const untouched = 0x4d4d4d4d4d4d4d4dn;
        const sentinel = () => {
          const m = t.buf(16);
          t.write(m, Buffer.alloc(16, 0x4d));
          return m;
        };
        t.ok(await t.io(rw(t, IoOpcode.WRITE, n, slba, 2, withData(t, data), { prinfo: PRACT, app: 0x0bee, ref, bytes: 2 * n.bs, mptr: sentinel() })), 'Write with PRACT');
        const r = await readMd(t, n, slba, 2);
        t.ok(r.c, 'Read with PRACT clear');
        t.check(r.data.equals(data), 'data differs');
        t.check(r.md.equals(buildMd(n, data, 2, 0x0bee, ref)), `stored PI ${r.md.toString('hex')} is not the generated PI ${buildMd(n, data, 2, 0x0bee, ref).toString('hex')}`);
        const m = sentinel();
        const b = t.buf(2 * n.bs, 0);
        t.ok(await t.io(rw(t, IoOpcode.READ, n, slba, 2, b, { prinfo: PRACT | CHK_ALL, ref, app: 0x0bee, mask: 0xffff, bytes: 2 * n.bs, mptr: m })), 'Read with PRACT and every check');
        t.check(t.read(b, 2 * n.bs).equals(data), 'PRACT read: data differs');
        t.eq(t.read(m, 8).readBigUInt64LE(0), untouched, 'PRACT read transferred metadata');
      }
    }),

  c('md.pi.guard', 'Guard check: End-to-end Guard Check Error', `${NVM} 5.2.1.4 (PRCHK bit 2), Figure "Media and Data Integrity Errors" 82h`, 'optional',
    'On a PI namespace: Write 1 block whose PI Guard is wrong with PRCHK guard set; Write it with PRCHK clear; Read with PRCHK guard set, then clear.',
    'The checked Write is End-to-end Guard Check Error and stores nothing; the unchecked Write succeeds; the checked Read is End-to-end Guard Check Error; the unchecked Read succeeds.',
    async (t: CaseContext) => {
      for (const n of await findAll(t, 'protection information', hasPi)) {
        const slba = lba(n, 24);
        const ref = refFor(n, slba);
        const good = pattern(n.bs, 906);
        const goodMd = buildMd(n, good, 1, 0, ref);
        t.ok(await writeMd(t, n, slba, good, goodMd), 'seed Write');
        const bad = buildMd(n, good, 1, 0, ref);
        bad[piOffset(n)]! ^= 0x40;
        t.expect(await writeMd(t, n, slba, pattern(n.bs, 907), bad.subarray(0), { prinfo: CHK_GUARD, ref }), Status.END_TO_END_GUARD_CHECK_ERROR, 'Write, bad Guard, checked');
        // (the data above is another block's, so its Guard cannot match either)
        const r0 = await readMd(t, n, slba, 1);
        t.check(r0.data.equals(good) && r0.md.equals(goodMd), 'a Write failing its Guard check changed the block');
        t.ok(await writeMd(t, n, slba, good, bad), 'Write, bad Guard, unchecked');
        t.expect((await readMd(t, n, slba, 1, { prinfo: CHK_GUARD, ref })).c, Status.END_TO_END_GUARD_CHECK_ERROR, 'Read, checked');
        t.ok((await readMd(t, n, slba, 1, { prinfo: CHK_APP | CHK_REF, ref })).c, 'Read, Guard not checked');
      }
    }),

  c('md.pi.apptag', 'Application Tag check with ELBAT/ELBATM: Application Tag Check Error', `${NVM} 5.2.1.4 (PRCHK bit 1), Figure "Media and Data Integrity Errors" 83h`, 'optional',
    'On a PI namespace: Write 1 block with Application Tag 1234h; Read with ELBAT 1299h and ELBATM FFFFh, FF00h and 0000h, and with ELBAT 1234h.',
    'Application Tag Check Error for the full mask; success where the masked bits agree (FF00h, 0000h) and for the right tag.',
    async (t: CaseContext) => {
      for (const n of await findAll(t, 'protection information', hasPi)) {
        const slba = lba(n, 26);
        const ref = refFor(n, slba);
        const data = pattern(n.bs, 908);
        t.ok(await writeMd(t, n, slba, data, buildMd(n, data, 1, 0x1234, ref)), 'seed Write');
        t.expect((await readMd(t, n, slba, 1, { prinfo: CHK_APP, app: 0x1299, mask: 0xffff })).c, Status.END_TO_END_APPLICATION_TAG_CHECK_ERROR, 'ELBAT 1299h ELBATM FFFFh');
        t.ok((await readMd(t, n, slba, 1, { prinfo: CHK_APP, app: 0x1299, mask: 0xff00 })).c, 'ELBATM FF00h');
        t.ok((await readMd(t, n, slba, 1, { prinfo: CHK_APP, app: 0x1299, mask: 0 })).c, 'ELBATM 0000h');
        t.ok((await readMd(t, n, slba, 1, { prinfo: CHK_APP, app: 0x1234, mask: 0xffff })).c, 'ELBAT 1234h');
      }
    }),

  c('md.pi.reftag', 'Reference Tag check: Reference Tag Check Error, and Type 1\'s tie to the LBA', `${NVM} 5.2.1.3, 5.2.1.4 (PRCHK bit 0), Figures "Media and Data Integrity Errors" 84h and "NVM Command Set Command Specific" 81h`, 'optional',
    'On a PI namespace: Write 2 blocks whose second block\'s Reference Tag is one too high (PRCHK clear); Read both with PRCHK ref and the right EILBRT. Type 1: Read with an EILBRT that is not the LBA\'s low 32 bits. Type 3: Read with any EILBRT.',
    'Types 1 and 2: Reference Tag Check Error (the second block); Type 1 with a foreign EILBRT: Invalid Protection Information; Type 3: success (its Reference Tag is not checked).',
    async (t: CaseContext) => {
      for (const n of await findAll(t, 'protection information', hasPi)) {
        const slba = lba(n, 30);
        const ref = refFor(n, slba);
        const data = pattern(2 * n.bs, 909);
        const md = buildMd(n, data, 2, 0, ref);
        const po = n.ms + piOffset(n) + 4;
        md.writeUInt32BE((md.readUInt32BE(po) + 1) >>> 0, po);
        t.ok(await writeMd(t, n, slba, data, md), 'Write, second Reference Tag off by one');
        const r = await readMd(t, n, slba, 2, { prinfo: CHK_REF, ref });
        if (n.piType === 3) t.ok(r.c, 'Type 3 Read with a Reference Tag check');
        else t.expect(r.c, Status.END_TO_END_REFERENCE_TAG_CHECK_ERROR, 'Read with PRCHK ref');
        if (n.piType === 1) t.expect((await readMd(t, n, slba, 2, { prinfo: CHK_REF, ref: ref + 5 })).c, Status.INVALID_PROTECTION_INFORMATION, 'Type 1, EILBRT not the LBA');
      }
    }),

  c('md.pi.disabled', 'Application Tag FFFFh turns a block\'s checks off; deallocated blocks read', `${NVM} 5.2.1.4`, 'optional',
    'On a PI namespace: Write 1 block with Application Tag FFFFh (Type 3: and Reference Tag FFFFFFFFh) and a wrong Guard, PRCHK clear; Read it with every check. Deallocate 2 blocks (Dataset Management) and Read them with every check.',
    'Both Reads succeed: a block whose tags are all ones is not checked, and a deallocated block reads back as one.',
    async (t: CaseContext) => {
      for (const n of await findAll(t, 'protection information', hasPi)) {
        const slba = lba(n, 34);
        const data = pattern(n.bs, 910);
        const md = buildMd(n, data, 1, 0xffff, n.piType === 3 ? 0xffffffff : refFor(n, slba));
        md[piOffset(n)]! ^= 0x80;
        t.ok(await writeMd(t, n, slba, data, md), 'Write, tags FFFFh, bad Guard');
        t.ok((await readMd(t, n, slba, 1, { prinfo: CHK_ALL, ref: refFor(n, slba), app: 0x1111, mask: 0xffff })).c, 'Read with every check');
        const range = Buffer.alloc(16);
        range.writeUInt32LE(2, 4);
        range.writeBigUInt64LE(slba - 2n, 8);
        const { prp1 } = t.drv.prps(withData(t, range), 16);
        t.ok(await t.io(cmd(IoOpcode.DSM, n.nsid, { prp1, cdw10: 0, cdw11: 1 << 2 })), 'Deallocate');
        t.ok((await readMd(t, n, slba - 2n, 2, { prinfo: CHK_ALL, ref: refFor(n, slba - 2n), app: 0x1111, mask: 0xffff })).c, 'Read deallocated blocks with every check');
      }
    }),

  c('md.pi.compare', 'Compare of a PI namespace checks the stored PI and compares data and metadata', `${NVM} 3.3.1, 5.2`, 'optional',
    'On a PI namespace: Write 1 block with valid PI; Compare the same data and metadata; Compare with one metadata byte changed; Compare with PRCHK guard after storing a bad Guard.',
    'Success; Compare Failure; End-to-end Guard Check Error.',
    async (t: CaseContext) => {
      for (const n of await findAll(t, 'protection information', hasPi)) {
        const slba = lba(n, 38);
        const ref = refFor(n, slba);
        const data = pattern(n.bs, 911);
        const md = buildMd(n, data, 1, 7, ref);
        t.ok(await writeMd(t, n, slba, data, md), 'seed Write');
        const compare = (d: Buffer, m: Buffer, o: Rw = {}) =>
          n.extended ? t.io(rw(t, IoOpcode.COMPARE, n, slba, 1, withData(t, interleave(n, d, m, 1)), o)) : t.io(rw(t, IoOpcode.COMPARE, n, slba, 1, withData(t, d), { mptr: withData(t, m), ...o }));
        t.ok(await compare(data, md), 'Compare, same');
        const other = Buffer.from(md);
        other[piOffset(n) + 2]! ^= 1;
        t.expect(await compare(data, other), Status.COMPARE_FAILURE, 'Compare, one metadata byte differs');
        const bad = Buffer.from(md);
        bad[piOffset(n)]! ^= 1;
        t.ok(await writeMd(t, n, slba, data, bad), 'Write, bad Guard');
        t.expect(await compare(data, bad, { prinfo: CHK_GUARD, ref }), Status.END_TO_END_GUARD_CHECK_ERROR, 'Compare with PRCHK guard');
      }
    }),

  c('md.pi.verify', 'Verify checks the stored PI', `${NVM} 3.3.5, 5.2`, 'optional',
    'On a PI namespace with Verify (ONCS bit 7): store a block with a bad Guard; Verify it with PRCHK guard, then with PRCHK clear.',
    'End-to-end Guard Check Error, then success.',
    async (t: CaseContext) => {
      if (!(t.ctrl.oncs & (1 << 7))) t.skip('Verify not supported (ONCS bit 7 = 0)');
      for (const n of await findAll(t, 'protection information', hasPi)) {
        const slba = lba(n, 40);
        const data = pattern(n.bs, 912);
        const md = buildMd(n, data, 1, 0, refFor(n, slba));
        md[piOffset(n) + 1]! ^= 1;
        t.ok(await writeMd(t, n, slba, data, md), 'Write, bad Guard');
        const verify = (prinfo: number) => t.io(cmd(IoOpcode.VERIFY, n.nsid, { cdw10: Number(slba & 0xffffffffn), cdw11: Number(slba >> 32n), cdw12: prinfo << 26, cdw14: refFor(n, slba) }));
        t.expect(await verify(CHK_GUARD), Status.END_TO_END_GUARD_CHECK_ERROR, 'Verify with PRCHK guard');
        t.ok(await verify(0), 'Verify without checks');
      }
    }),

  c('md.prinfo.nopi', 'PRINFO on a namespace without protection information', `${NVM} 5.2 (PRINFO)`, 'optional',
    'On a namespace whose format has no PI: Read and Write 1 block with PRACT set, and with PRCHK guard set.',
    'Invalid Field in Command (this target refuses PRINFO it cannot act on; the spec gives the bits no meaning there).',
    async (t: CaseContext) => {
      for (const n of await findAll(t, 'no protection information', (m) => !hasPi(m) && !m.extended)) {
        const slba = lba(n, 2);
        for (const prinfo of [PRACT, CHK_GUARD]) {
          const o = { prinfo, mptr: n.ms ? t.buf(n.ms) : undefined };
          t.expect(await t.io(rw(t, IoOpcode.READ, n, slba, 1, t.buf(n.bs), o)), Status.INVALID_FIELD, `Read PRINFO ${prinfo.toString(2)}b`);
          t.expect(await t.io(rw(t, IoOpcode.WRITE, n, slba, 1, t.buf(n.bs), o)), Status.INVALID_FIELD, `Write PRINFO ${prinfo.toString(2)}b`);
        }
      }
    }),
];

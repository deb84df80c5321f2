// The NVM command set on an I/O queue (NVM Command Set 1.0 section 3; NVMe Base 2.0 4.1 for
// data pointers): PRP rules, SGL descriptor types, LBA range, MDTS, Write Zeroes, Dataset
// Management, Compare, Flush, all with data checks. Format NVM is in format.ts.
import { Status } from '../spec.js';
import { cmd, pattern, readBack, seed, type CaseContext } from '../session.js';
import type { ConformanceCase } from '../types.js';

const UNMAPPED = 0x7000000000n;
const SGL_INVALID_SEGMENT = Status.INVALID_SGL_SEGMENT_DESCRIPTOR;
const SGL_LENGTH_INVALID = Status.DATA_SGL_LENGTH_INVALID;
const SGL_TYPE_INVALID = Status.SGL_DESCRIPTOR_TYPE_INVALID;

function rwRaw(t: CaseContext, opc: number, slba: bigint, blocks: number, prp1: bigint, prp2: bigint): Buffer {
  return cmd(opc, t.ns.nsid, { prp1, prp2, cdw10: Number(slba & 0xffffffffn), cdw11: Number(slba >> 32n), cdw12: blocks - 1 });
}

/** SGL descriptor: address, length, type (0 data block, 1 bit bucket, 2 segment, 3 last segment). */
function desc(addr: bigint, len: number, type: number, subtype = 0): Buffer {
  const d = Buffer.alloc(16);
  d.writeBigUInt64LE(addr, 0);
  d.writeUInt32LE(len, 8);
  d[15] = (type << 4) | subtype;
  return d;
}

function sglCmd(t: CaseContext, opc: number, slba: bigint, blocks: number, sgl1: Buffer): Buffer {
  const c = cmd(opc, t.ns.nsid, { cdw10: Number(slba & 0xffffffffn), cdw11: Number(slba >> 32n), cdw12: blocks - 1, flags: 0x40 });
  sgl1.copy(c, 24);
  return c;
}

/** Puts descriptors in host memory as an SGL segment; returns its address and byte length. */
function segment(t: CaseContext, descs: Buffer[]): { addr: bigint; len: number } {
  const addr = t.buf(16 * descs.length);
  t.write(addr, Buffer.concat(descs));
  return { addr, len: 16 * descs.length };
}

function needSgl(t: CaseContext): void {
  if ((t.ctrl.sgls & 3) === 0) t.skip('SGLs not supported (SGLS bits 1:0 = 0)');
}

function io(id: string, title: string, section: string, procedure: string, expected: string, run: (t: CaseContext) => Promise<void>, level: 'mandatory' | 'optional' = 'mandatory'): ConformanceCase {
  return { id, title, section, procedure, expected, level, run };
}

const BASE = 'NVMe Base 2.0';
const NVM = 'NVM Command Set 1.0';

export const ioCases: ConformanceCase[] = [
  // ---------------------------------------------------------------- PRPs
  io('io.prp.single-page', 'Write and Read within one page (PRP1 only)', `${BASE} 4.1.1`, 'Write 4 KiB from one page at LBA 0; read it back into another.', 'Both succeed; the data matches.', async (t: CaseContext) => {
    const data = pattern(4096, 1);
    await seed(t, 0n, data);
    t.check((await readBack(t, 0n, 4096)).equals(data), 'data mismatch');
  }),
  io('io.prp.two-pages', 'Transfer over PRP1 + PRP2 (two pages)', `${BASE} 4.1.1`, 'Write 8 KiB with PRP1 and PRP2 (no list); read back.', 'Success; data matches.', async (t: CaseContext) => {
    const data = pattern(8192, 2);
    const a = t.buf(4096), b = t.buf(4096);
    t.write(a, data.subarray(0, 4096));
    t.write(b, data.subarray(4096));
    t.ok(await t.io(rwRaw(t, 0x01, 16n, 8192 / t.ns.blockSize, a, b)), 'Write with PRP1/PRP2 in separate pages');
    t.check((await readBack(t, 16n, 8192)).equals(data), 'data mismatch');
  }),
  io('io.prp.prp1-offset', 'PRP1 with a dword-aligned offset', `${BASE} 4.1.1`, 'Read 4 KiB into page+200h with PRP2 for the remaining 200h bytes.', 'Success; the data lands at PRP1 offset and continues at PRP2.', async (t: CaseContext) => {
    const data = pattern(4096, 3);
    await seed(t, 32n, data);
    const a = t.buf(4096, 0), b = t.buf(4096, 0);
    t.ok(await t.io(rwRaw(t, 0x02, 32n, 4096 / t.ns.blockSize, a + 0x200n, b)), 'Read with PRP1 offset 200h');
    t.check(Buffer.concat([t.read(a + 0x200n, 0xe00), t.read(b, 0x200)]).equals(data), 'data mismatch');
  }),
  io('io.prp.prp1-misaligned', 'PRP1 not dword aligned is rejected', `${BASE} 4.1.1`, 'Read with PRP1 = page + 1.', 'PRP Offset Invalid.', async (t: CaseContext) => {
    t.expect(await t.io(rwRaw(t, 0x02, 0n, 1, t.buf(8192) + 1n, 0n)), [Status.INVALID_PRP_OFFSET, Status.INVALID_FIELD], 'PRP1 offset 1');
  }),
  io('io.prp.prp2-offset', 'PRP2 with an offset (two-page transfer) is rejected', `${BASE} 4.1.1`, 'Write 8 KiB with PRP2 = page + 8.', 'PRP Offset Invalid.', async (t: CaseContext) => {
    t.expect(await t.io(rwRaw(t, 0x01, 0n, 8192 / t.ns.blockSize, t.buf(4096), t.buf(8192) + 8n)), Status.INVALID_PRP_OFFSET, 'PRP2 offset 8');
  }),
  io('io.prp.list', 'PRP list (PRP2 points at a list)', `${BASE} 4.1.1`, 'Write 64 KiB with a PRP list; read back with another.', 'Success; data matches.', async (t: CaseContext) => {
    const data = pattern(65536, 4);
    await seed(t, 64n, data);
    t.check((await readBack(t, 64n, 65536)).equals(data), 'data mismatch');
  }),
  io('io.prp.list-chained', 'PRP list chained across list pages', `${BASE} 4.1.1 (Figure 88)`, 'Read 32 KiB where the PRP list starts 16 bytes before a page end: entry 0 is data, entry 1 chains to the next list page.', 'Success; data matches.', async (t: CaseContext) => {
    const data = pattern(32768, 5);
    await seed(t, 128n, data);
    const dst = t.buf(32768, 0);
    const lists = t.buf(8192);
    const first = lists + 4096n - 16n;
    const second = lists + 4096n;
    const pages = Array.from({ length: 7 }, (_, i) => dst + BigInt(4096 * (i + 1)));
    const l1 = Buffer.alloc(16);
    l1.writeBigUInt64LE(pages[0]!, 0);
    l1.writeBigUInt64LE(second, 8);
    t.write(first, l1);
    const l2 = Buffer.alloc(8 * 6);
    pages.slice(1).forEach((p, i) => l2.writeBigUInt64LE(p, 8 * i));
    t.write(second, l2);
    t.ok(await t.io(rwRaw(t, 0x02, 128n, 32768 / t.ns.blockSize, dst, first)), 'Read with a chained PRP list');
    t.check(t.read(dst, 32768).equals(data), 'data mismatch');
  }),
  io('io.prp.list-entry-offset', 'A PRP list entry with an offset is rejected', `${BASE} 4.1.1`, 'Read 16 KiB with a PRP list whose second entry has offset 200h.', 'PRP Offset Invalid.', async (t: CaseContext) => {
    const dst = t.buf(16384);
    const list = t.buf(4096);
    const l = Buffer.alloc(24);
    l.writeBigUInt64LE(dst + 4096n, 0);
    l.writeBigUInt64LE(dst + 8192n + 0x200n, 8);
    l.writeBigUInt64LE(dst + 12288n, 16);
    t.write(list, l);
    t.expect(await t.io(rwRaw(t, 0x02, 0n, 16384 / t.ns.blockSize, dst, list)), Status.INVALID_PRP_OFFSET, 'list entry offset');
  }),
  io('io.prp.unmapped-data', 'A data page outside the memory map fails the command', `${BASE} 4.1.1, 4.2.3`, 'Read with PRP1 at an unmapped IOVA.', 'Data Transfer Error.', async (t: CaseContext) => {
    t.expect(await t.io(rwRaw(t, 0x02, 0n, 1, UNMAPPED, 0n)), Status.DATA_TRANSFER_ERROR, 'unmapped PRP1');
  }),
  io('io.prp.unmapped-list', 'A PRP list outside the memory map fails the command', `${BASE} 4.1.1`, 'Read 16 KiB with PRP2 (list pointer) unmapped.', 'Data Transfer Error.', async (t: CaseContext) => {
    t.expect(await t.io(rwRaw(t, 0x02, 0n, 16384 / t.ns.blockSize, t.buf(4096), UNMAPPED)), Status.DATA_TRANSFER_ERROR, 'unmapped PRP list');
  }),
  io('io.prp.unmapped-list-entry', 'A PRP list entry outside the memory map fails the command', `${BASE} 4.1.1`, 'Read 12 KiB with a list whose second entry is unmapped.', 'Data Transfer Error.', async (t: CaseContext) => {
    const dst = t.buf(4096), list = t.buf(4096);
    const l = Buffer.alloc(16);
    l.writeBigUInt64LE(t.buf(4096), 0);
    l.writeBigUInt64LE(UNMAPPED, 8);
    t.write(list, l);
    t.expect(await t.io(rwRaw(t, 0x02, 0n, 12288 / t.ns.blockSize, dst, list)), Status.DATA_TRANSFER_ERROR, 'unmapped list entry');
  }),
  // ---------------------------------------------------------------- SGLs
  io('io.sgl.data-block', 'SGL Data Block descriptor in SGL1', `${BASE} 4.1.2 (Figure 93)`, 'Write 4 KiB with one data block descriptor; read back with another.', 'Success; data matches.', async (t: CaseContext) => {
    needSgl(t);
    const data = pattern(4096, 11);
    const src = t.buf(4096);
    t.write(src, data);
    t.ok(await t.io(sglCmd(t, 0x01, 256n, 4096 / t.ns.blockSize, desc(src, 4096, 0))), 'Write (SGL)');
    const dst = t.buf(4096, 0);
    t.ok(await t.io(sglCmd(t, 0x02, 256n, 4096 / t.ns.blockSize, desc(dst, 4096, 0))), 'Read (SGL)');
    t.check(t.read(dst, 4096).equals(data), 'data mismatch');
  }),
  io('io.sgl.last-segment', 'SGL Last Segment descriptor with data blocks', `${BASE} 4.1.2 (Figures 95-96)`, 'Read 4 KiB through SGL1 = Last Segment -> 3 data blocks (1 KiB, 1 KiB, 2 KiB, scattered).', 'Success; each piece holds its part.', async (t: CaseContext) => {
    needSgl(t);
    const data = pattern(4096, 12);
    await seed(t, 264n, data);
    const a = t.buf(1024, 0), b = t.buf(1024, 0), c = t.buf(2048, 0);
    const s = segment(t, [desc(a, 1024, 0), desc(b, 1024, 0), desc(c, 2048, 0)]);
    t.ok(await t.io(sglCmd(t, 0x02, 264n, 4096 / t.ns.blockSize, desc(s.addr, s.len, 3))), 'Read (Last Segment)');
    t.check(Buffer.concat([t.read(a, 1024), t.read(b, 1024), t.read(c, 2048)]).equals(data), 'data mismatch');
  }),
  io('io.sgl.segment-chain', 'SGL Segment chained to a Last Segment', `${BASE} 4.1.2 (Figure 94)`, 'Write 4 KiB: SGL1 = Segment -> [data 2 KiB, Last Segment -> [data 2 KiB]]; read back with PRPs.', 'Success; data matches.', async (t: CaseContext) => {
    needSgl(t);
    const data = pattern(4096, 13);
    const a = t.buf(2048), b = t.buf(2048);
    t.write(a, data.subarray(0, 2048));
    t.write(b, data.subarray(2048));
    const last = segment(t, [desc(b, 2048, 0)]);
    const first = segment(t, [desc(a, 2048, 0), desc(last.addr, last.len, 3)]);
    t.ok(await t.io(sglCmd(t, 0x01, 272n, 4096 / t.ns.blockSize, desc(first.addr, first.len, 2))), 'Write (Segment chain)');
    t.check((await readBack(t, 272n, 4096)).equals(data), 'data mismatch');
  }),
  io('io.sgl.bit-bucket-read', 'SGL Bit Bucket discards read data', `${BASE} 4.1.2 (Figure 92)`, 'If SGLS bit 16: read 3 blocks with [data 1 block, bit bucket 1 block, data 1 block].', 'Success; the two data descriptors get blocks 0 and 2.', async (t: CaseContext) => {
    needSgl(t);
    if (!(t.ctrl.sgls & (1 << 16))) t.skip('SGL Bit Bucket not supported (SGLS bit 16)');
    const bs = t.ns.blockSize;
    const data = pattern(3 * bs, 14);
    await seed(t, 280n, data);
    const a = t.buf(bs, 0), c = t.buf(bs, 0);
    const s = segment(t, [desc(a, bs, 0), desc(0n, bs, 1), desc(c, bs, 0)]);
    t.ok(await t.io(sglCmd(t, 0x02, 280n, 3, desc(s.addr, s.len, 3))), 'Read with a bit bucket');
    t.check(t.read(a, bs).equals(data.subarray(0, bs)), 'block 0');
    t.check(t.read(c, bs).equals(data.subarray(2 * bs)), 'block 2');
  }),
  io('io.sgl.bit-bucket-write', 'SGL Bit Bucket in a write is rejected', `${BASE} 4.1.2 (Bit Bucket: only for reads)`, 'Write 2 blocks with [data 1 block, bit bucket 1 block].', 'SGL Descriptor Type Invalid.', async (t: CaseContext) => {
    needSgl(t);
    if (!(t.ctrl.sgls & (1 << 16))) t.skip('SGL Bit Bucket not supported');
    const bs = t.ns.blockSize;
    const s = segment(t, [desc(t.buf(bs), bs, 0), desc(0n, bs, 1)]);
    t.expect(await t.io(sglCmd(t, 0x01, 288n, 2, desc(s.addr, s.len, 3))), SGL_TYPE_INVALID, 'bit bucket in a write');
  }),
  io('io.sgl.shorter-than-transfer', 'An SGL shorter than the transfer is rejected', `${BASE} 4.1.2, 4.2.3 (Data SGL Length Invalid)`, 'Read 2 blocks with one data block descriptor of 1 block.', 'Data SGL Length Invalid.', async (t: CaseContext) => {
    needSgl(t);
    t.expect(await t.io(sglCmd(t, 0x02, 0n, 2, desc(t.buf(t.ns.blockSize), t.ns.blockSize, 0))), SGL_LENGTH_INVALID, 'short SGL');
  }),
  io('io.sgl.longer-than-transfer', 'An SGL longer than the transfer is accepted when SGLS bit 18', `${BASE} 5.17.2.1 (SGLS bit 18)`, 'Read 1 block with a data block descriptor of 2 blocks.', 'Success when SGLS bit 18 is set; Data SGL Length Invalid otherwise.', async (t: CaseContext) => {
    needSgl(t);
    const c = await t.io(sglCmd(t, 0x02, 0n, 1, desc(t.buf(2 * t.ns.blockSize), 2 * t.ns.blockSize, 0)));
    if (t.ctrl.sgls & (1 << 18)) t.ok(c, 'long SGL');
    else t.expect(c, SGL_LENGTH_INVALID, 'long SGL without SGLS bit 18');
  }),
  io('io.sgl.bad-subtype', 'A data block descriptor with a reserved subtype is rejected', `${BASE} 4.1.2 (Figure 91)`, 'Read with a data block descriptor of subtype Fh.', 'SGL Descriptor Type Invalid.', async (t: CaseContext) => {
    needSgl(t);
    t.expect(await t.io(sglCmd(t, 0x02, 0n, 1, desc(t.buf(t.ns.blockSize), t.ns.blockSize, 0, 0xf))), SGL_TYPE_INVALID, 'subtype Fh');
  }),
  io('io.sgl.bad-type', 'A reserved descriptor type is rejected', `${BASE} 4.1.2 (Figure 90)`, 'Read with descriptor type 6h (reserved).', 'SGL Descriptor Type Invalid.', async (t: CaseContext) => {
    needSgl(t);
    t.expect(await t.io(sglCmd(t, 0x02, 0n, 1, desc(t.buf(t.ns.blockSize), t.ns.blockSize, 6))), SGL_TYPE_INVALID, 'type 6h');
  }),
  io('io.sgl.segment-not-last', 'A Segment descriptor that is not last in its segment is rejected', `${BASE} 4.1.2 (Segment descriptor placement)`, 'Read 2 blocks: Last Segment -> [Segment, data 2 blocks].', 'Invalid SGL Segment Descriptor.', async (t: CaseContext) => {
    needSgl(t);
    const bs = t.ns.blockSize;
    const inner = segment(t, [desc(t.buf(bs), bs, 0)]);
    const s = segment(t, [desc(inner.addr, inner.len, 2), desc(t.buf(2 * bs), 2 * bs, 0)]);
    t.expect(await t.io(sglCmd(t, 0x02, 0n, 2, desc(s.addr, s.len, 3))), SGL_INVALID_SEGMENT, 'segment in the middle');
  }),
  io('io.sgl.unmapped-segment', 'An SGL segment outside the memory map fails the command', `${BASE} 4.1.2`, 'Read with SGL1 = Last Segment at an unmapped address.', 'Data Transfer Error.', async (t: CaseContext) => {
    needSgl(t);
    t.expect(await t.io(sglCmd(t, 0x02, 0n, 1, desc(UNMAPPED, 16, 3))), Status.DATA_TRANSFER_ERROR, 'unmapped segment');
  }),
  // ---------------------------------------------------------------- LBA range, MDTS
  io('io.lba.last-block', 'Read and write of the last LBA', `${NVM} 3.2.4`, 'Write then read one block at NSZE-1.', 'Success; data matches.', async (t: CaseContext) => {
    const data = pattern(t.ns.blockSize, 21);
    await seed(t, t.ns.blocks - 1n, data);
    t.check((await readBack(t, t.ns.blocks - 1n, t.ns.blockSize)).equals(data), 'data mismatch');
  }),
  io('io.lba.slba-beyond', 'SLBA at or beyond NSZE is rejected', `${NVM} 3.2.4, 3.3.2 (LBA Out of Range)`, 'Read, Write and Compare one block at SLBA = NSZE and at 2^63.', 'LBA Out of Range for each.', async (t: CaseContext) => {
    const b = t.buf(t.ns.blockSize);
    for (const op of [0x02, 0x01, 0x05]) t.expect(await t.io(t.rw(op, t.ns.blocks, 1, b)), Status.LBA_OUT_OF_RANGE, `opcode ${op} at NSZE`);
    t.expect(await t.io(t.rw(0x02, 1n << 63n, 1, b)), Status.LBA_OUT_OF_RANGE, 'Read at 2^63');
  }),
  io('io.lba.crossing-end', 'SLBA + NLB crossing the end is rejected', `${NVM} 3.2.4`, 'Read 2 blocks at NSZE-1; Write Zeroes 2 blocks at NSZE-1.', 'LBA Out of Range.', async (t: CaseContext) => {
    t.expect(await t.io(t.rw(0x02, t.ns.blocks - 1n, 2, t.buf(2 * t.ns.blockSize))), Status.LBA_OUT_OF_RANGE, 'Read crossing the end');
    if (t.ctrl.oncs & 8) t.expect(await t.io(cmd(0x08, t.ns.nsid, { cdw10: Number((t.ns.blocks - 1n) & 0xffffffffn), cdw11: Number((t.ns.blocks - 1n) >> 32n), cdw12: 1 })), Status.LBA_OUT_OF_RANGE, 'Write Zeroes crossing the end');
  }),
  io('io.mdts.at-limit', 'A transfer of exactly MDTS succeeds', `${BASE} 5.17.2.1 (MDTS)`, 'Write then read MDTS bytes (PRP list).', 'Success; data matches.', async (t: CaseContext) => {
    if (!t.ctrl.mdts) t.skip('MDTS = 0 (no limit)');
    const bytes = Math.min(4096 << t.ctrl.mdts, 2 << 20);
    const data = pattern(bytes, 22);
    await seed(t, 0n, data);
    t.check((await readBack(t, 0n, bytes)).equals(data), 'data mismatch');
  }),
  io('io.mdts.over', 'A transfer over MDTS is rejected', `${BASE} 5.17.2.1 (MDTS), ${NVM} 3.3.3`, 'Read MDTS bytes + 1 block.', 'Invalid Field in Command.', async (t: CaseContext) => {
    if (!t.ctrl.mdts) t.skip('MDTS = 0 (no limit)');
    const blocks = (4096 << t.ctrl.mdts) / t.ns.blockSize + 1;
    if (blocks > 65536) t.skip('MDTS beyond one command');
    t.expect(await t.io(t.rw(0x02, 0n, blocks, t.buf(blocks * t.ns.blockSize))), Status.INVALID_FIELD, 'MDTS + 1 block');
  }),
  // ---------------------------------------------------------------- Write Zeroes, DSM, Compare, Flush
  io('io.write-zeroes', 'Write Zeroes zeroes the range and only the range', `${NVM} 3.3.8`, 'If ONCS bit 3: write a pattern to 16 blocks; Write Zeroes blocks 4-11; read all 16.', 'Success; blocks 4-11 read zero, the others keep the pattern.', async (t: CaseContext) => {
    if (!(t.ctrl.oncs & 8)) t.skip('Write Zeroes not supported (ONCS bit 3)');
    const bs = t.ns.blockSize;
    const data = pattern(16 * bs, 31);
    await seed(t, 512n, data);
    t.ok(await t.io(cmd(0x08, t.ns.nsid, { cdw10: 516, cdw12: 7 })), 'Write Zeroes');
    const got = await readBack(t, 512n, 16 * bs);
    t.check(got.subarray(0, 4 * bs).equals(data.subarray(0, 4 * bs)), 'blocks before the range changed');
    t.check(got.subarray(4 * bs, 12 * bs).equals(Buffer.alloc(8 * bs)), 'range not zero');
    t.check(got.subarray(12 * bs).equals(data.subarray(12 * bs)), 'blocks after the range changed');
  }),
  io('io.dsm.deallocate', 'Dataset Management deallocate, then the blocks read as zeroes', `${NVM} 3.3.2, 4.1.5.1 (DLFEAT)`, 'If ONCS bit 2: write a pattern to 8 blocks; DSM AD=1 for them; read back.', 'Success; with DLFEAT bits 2:0 = 001b the blocks read zero.', async (t: CaseContext) => {
    if (!(t.ctrl.oncs & 4)) t.skip('DSM not supported (ONCS bit 2)');
    const bs = t.ns.blockSize;
    await seed(t, 600n, pattern(8 * bs, 32));
    const r = t.buf(16);
    const d = Buffer.alloc(16);
    d.writeUInt32LE(8, 4);
    d.writeBigUInt64LE(600n, 8);
    t.write(r, d);
    t.ok(await t.io(cmd(0x09, t.ns.nsid, { prp1: r, cdw10: 0, cdw11: 4 })), 'DSM deallocate');
    if ((t.ns.dlfeat & 7) !== 1) t.skip(`DLFEAT ${t.ns.dlfeat}: deallocated blocks need not read zero`);
    t.check((await readBack(t, 600n, 8 * bs)).equals(Buffer.alloc(8 * bs)), 'deallocated blocks do not read zero');
  }),
  io('io.dsm.multiple-ranges', 'Dataset Management with several ranges', `${NVM} 3.3.2`, 'Write 3 separate 2-block extents; one DSM AD=1 with 3 ranges; read.', 'Success; all three read zero (DLFEAT 001b); blocks between them unchanged.', async (t: CaseContext) => {
    if (!(t.ctrl.oncs & 4)) t.skip('DSM not supported');
    const bs = t.ns.blockSize;
    const data = pattern(12 * bs, 33);
    await seed(t, 700n, data);
    const r = t.buf(48);
    const d = Buffer.alloc(48);
    [700n, 704n, 708n].forEach((s, i) => {
      d.writeUInt32LE(2, 16 * i + 4);
      d.writeBigUInt64LE(s, 16 * i + 8);
    });
    t.write(r, d);
    t.ok(await t.io(cmd(0x09, t.ns.nsid, { prp1: r, cdw10: 2, cdw11: 4 })), 'DSM 3 ranges');
    if ((t.ns.dlfeat & 7) !== 1) t.skip('DLFEAT is not 001b');
    const got = await readBack(t, 700n, 12 * bs);
    for (const k of [0, 4, 8]) {
      t.check(got.subarray(k * bs, (k + 2) * bs).equals(Buffer.alloc(2 * bs)), `range at +${k} not zero`);
      t.check(got.subarray((k + 2) * bs, (k + 4) * bs).equals(data.subarray((k + 2) * bs, (k + 4) * bs)), `blocks at +${k + 2} changed`);
    }
  }),
  io('io.dsm.no-deallocate', 'Dataset Management without AD leaves data intact', `${NVM} 3.3.2`, 'Write 4 blocks; DSM with only IDR (integral dataset for read) attributes; read.', 'Success; data unchanged.', async (t: CaseContext) => {
    if (!(t.ctrl.oncs & 4)) t.skip('DSM not supported');
    const data = pattern(4 * t.ns.blockSize, 34);
    await seed(t, 720n, data);
    const r = t.buf(16);
    const d = Buffer.alloc(16);
    d.writeUInt32LE(4, 4);
    d.writeBigUInt64LE(720n, 8);
    t.write(r, d);
    t.ok(await t.io(cmd(0x09, t.ns.nsid, { prp1: r, cdw10: 0, cdw11: 1 })), 'DSM IDR');
    t.check((await readBack(t, 720n, data.length)).equals(data), 'data changed');
  }),
  io('io.dsm.range-beyond', 'Dataset Management with a range beyond the end is rejected', `${NVM} 3.3.2`, 'DSM AD=1 with one range at NSZE-1 of 2 blocks.', 'LBA Out of Range.', async (t: CaseContext) => {
    if (!(t.ctrl.oncs & 4)) t.skip('DSM not supported');
    const r = t.buf(16);
    const d = Buffer.alloc(16);
    d.writeUInt32LE(2, 4);
    d.writeBigUInt64LE(t.ns.blocks - 1n, 8);
    t.write(r, d);
    t.expect(await t.io(cmd(0x09, t.ns.nsid, { prp1: r, cdw10: 0, cdw11: 4 })), Status.LBA_OUT_OF_RANGE, 'range beyond the end');
  }),
  io('io.compare.equal', 'Compare with equal data succeeds', `${NVM} 3.3.1`, 'If ONCS bit 0: write a pattern; Compare with the same data.', 'Success.', async (t: CaseContext) => {
    if (!(t.ctrl.oncs & 1)) t.skip('Compare not supported (ONCS bit 0)');
    const data = pattern(4096, 41);
    await seed(t, 800n, data);
    const b = t.buf(4096);
    t.write(b, data);
    t.ok(await t.io(t.rw(0x05, 800n, 4096 / t.ns.blockSize, b)), 'Compare equal');
  }),
  io('io.compare.differ', 'Compare with different data fails', `${NVM} 3.3.1`, 'Write a pattern; Compare with one byte changed in the last block.', 'Compare Failure.', async (t: CaseContext) => {
    if (!(t.ctrl.oncs & 1)) t.skip('Compare not supported');
    const data = pattern(4096, 42);
    await seed(t, 808n, data);
    const other = Buffer.from(data);
    other[4095] ^= 1;
    const b = t.buf(4096);
    t.write(b, other);
    t.expect(await t.io(t.rw(0x05, 808n, 4096 / t.ns.blockSize, b)), Status.COMPARE_FAILURE, 'Compare differing');
  }),
  io('io.flush', 'Flush of the namespace', `${BASE} 7.1`, 'Flush NSID = the namespace.', 'Success.', async (t: CaseContext) => {
    t.ok(await t.io(cmd(0x00, t.ns.nsid)), 'Flush');
  }),
  io('io.flush.broadcast', 'Flush with NSID FFFFFFFFh', `${BASE} 7.1, 5.17.2.1 (VWC bits 2:1)`, 'Flush NSID FFFFFFFFh.', 'Success when VWC bits 2:1 = 11b; Invalid Namespace or Format when 10b.', async (t: CaseContext) => {
    const c = await t.io(cmd(0x00, 0xffffffff));
    const f = (t.ctrl.vwc >> 1) & 3;
    if (f === 3) t.ok(c, 'Flush FFFFFFFFh');
    else if (f === 2) t.expect(c, Status.INVALID_NAMESPACE, 'Flush FFFFFFFFh when unsupported');
    else t.note(`VWC bits 2:1 = ${f}: either outcome allowed (${c.status})`);
  }),
  io('io.flush.nsid-0', 'Flush with NSID 0 is rejected', `${BASE} 7.1`, 'Flush NSID 0.', 'Invalid Namespace or Format.', async (t: CaseContext) => {
    t.expect(await t.io(cmd(0x00, 0)), Status.INVALID_NAMESPACE, 'Flush NSID 0');
  }),
  io('io.write-read.many-in-flight', 'Many commands in flight complete with the right data', `${BASE} 4.1 / ${NVM} 3.2`, 'Write 32 distinct 4 KiB blocks without waiting; read them all back without waiting.', 'All succeed; each buffer holds its own data.', async (t: CaseContext) => {
    const n = 32, bs = 4096, blocks = bs / t.ns.blockSize;
    const src = t.buf(n * bs), dst = t.buf(n * bs, 0);
    const data = pattern(n * bs, 51);
    t.write(src, data);
    const w = await Promise.all(Array.from({ length: n }, (_, i) => t.q.submit(1, t.rw(0x01, BigInt(1024 + i * blocks), blocks, src + BigInt(i * bs)))));
    w.forEach((c) => t.ok(c, 'Write'));
    const r = await Promise.all(Array.from({ length: n }, (_, i) => t.q.submit(1, t.rw(0x02, BigInt(1024 + i * blocks), blocks, dst + BigInt(i * bs)))));
    r.forEach((c) => t.ok(c, 'Read'));
    t.check(t.read(dst, n * bs).equals(data), 'data mismatch');
  }),
];

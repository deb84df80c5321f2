// The optional NVM commands and features issue 18 item 2 added: the fused Compare and Write
// operation (NVMe Base 2.0 3.4.2, FUSES), Copy (NVM Command Set 1.0 3.3.2, ONCS bit 8,
// MSSRL/MCL/MSRC), Verify (3.3.5, ONCS bit 7, VSL), Write Uncorrectable (3.3.7, ONCS bit 1),
// and the Timestamp (5.27.1.10, ONCS bit 6), Keep Alive Timer (5.27.1.12, KAS) and Host
// Behavior Support (5.27.1.18) features. Each case runs only when Identify says the controller
// has what it tests, and uses blocks near the end of the namespace under test.
import { AdminOpcode, Feature, IoOpcode, Status } from '../spec.js';
import { cmd, pattern, readBack, seed, type CaseContext, type Cqe } from '../session.js';
import type { ConformanceCase, Level } from '../types.js';

const BASE = 'NVMe Base 2.0';
const NVM = 'NVM Command Set 1.0';
const FUSE_FIRST = 1;
const FUSE_SECOND = 2;
const ONCS_WRITE_UNCORRECTABLE = 1 << 1;
const ONCS_TIMESTAMP = 1 << 6;
const ONCS_VERIFY = 1 << 7;
const ONCS_COPY = 1 << 8;
/** Identify Controller offsets this file reads (Figure 275). */
const ID_KAS = 320;
const ID_ACWU = 532;
const ID_OCFS = 534;
/** Identify Namespace (NVM Command Set 1.0 Figure 97): Copy limits. */
const NS_MSSRL = 74;
const NS_MCL = 76;
const NS_MSRC = 80;

function c(id: string, title: string, section: string, level: Level, procedure: string, expected: string, run: (t: CaseContext) => Promise<void>): ConformanceCase {
  return { id, title, section, level, procedure, expected, run };
}

function needFused(t: CaseContext): void {
  if (!(t.ctrl.fuses & 1)) t.skip('Compare and Write fused operation not supported (FUSES bit 0 = 0)');
}
function needOncs(t: CaseContext, bit: number, what: string): void {
  if (!(t.ctrl.oncs & bit)) t.skip(`${what} not supported (ONCS bit ${Math.log2(bit)} = 0)`);
}

async function identify(t: CaseContext, cns: number, nsid = 0, cdw11 = 0): Promise<Buffer> {
  const b = t.buf(4096, 0xa5);
  t.ok(await t.admin(cmd(AdminOpcode.IDENTIFY, nsid, { prp1: b, cdw10: cns, cdw11 })), `Identify CNS ${cns}`);
  return t.read(b, 4096);
}

/** An LBA near the end of the namespace, `back` blocks from it. */
const lbaFromEnd = (t: CaseContext, back: number) => t.ns.blocks - BigInt(back);

/** Commands placed on SQ `sqid` and made visible with one tail doorbell write; their completions in order. */
async function together(t: CaseContext, sqes: Buffer[], sqid = 1): Promise<Cqe[]> {
  const cids = sqes.map((s) => t.q.place(sqid, s));
  const waits = cids.map((cid) => t.q.wait(sqid, cid));
  t.note(`${sqes.length} commands behind one SQ ${sqid} tail doorbell write`);
  t.q.ring(sqid);
  const cqes = await Promise.all(waits);
  sqes.forEach((s, i) => t.recordIo(sqid, s, cqes[i]!));
  return cqes;
}

/** A fused Compare (data `expect`) and Write (data `data`) of `blocks` at `slba`. */
function fusedPair(t: CaseContext, slba: bigint, expect: Buffer, data: Buffer, o: { writeSlba?: bigint; writeBlocks?: number } = {}): Buffer[] {
  const blocks = expect.length / t.ns.blockSize;
  const a = t.buf(expect.length);
  const b = t.buf(data.length);
  t.write(a, expect);
  t.write(b, data);
  const cmp = t.rw(IoOpcode.COMPARE, slba, blocks, a);
  const wr = t.rw(IoOpcode.WRITE, o.writeSlba ?? slba, o.writeBlocks ?? blocks, b);
  cmp[1] = FUSE_FIRST;
  wr[1] = FUSE_SECOND;
  return [cmp, wr];
}

/** Copy (format 0h) of `ranges` [slba, blocks] to `dest`; NR as given (default the ranges' count). */
function copyCmd(t: CaseContext, dest: bigint, ranges: [bigint, number][], o: { nr?: number; format?: number } = {}): Buffer {
  const nr = o.nr ?? ranges.length;
  const list = Buffer.alloc(Math.max(32 * nr, 32));
  ranges.forEach(([slba, nlb], i) => {
    list.writeBigUInt64LE(slba, 32 * i + 8);
    list.writeUInt16LE(nlb - 1, 32 * i + 16);
  });
  const b = t.buf(list.length);
  t.write(b, list);
  const { prp1, prp2 } = t.drv.prps(b, list.length);
  return cmd(IoOpcode.COPY, t.ns.nsid, { prp1, prp2, cdw10: Number(dest & 0xffffffffn), cdw11: Number(dest >> 32n), cdw12: ((nr - 1) & 0xff) | ((o.format ?? 0) << 8) });
}

function lbaCmd(t: CaseContext, opc: number, slba: bigint, blocks: number): Buffer {
  return cmd(opc, t.ns.nsid, { cdw10: Number(slba & 0xffffffffn), cdw11: Number(slba >> 32n), cdw12: (blocks - 1) & 0xffff });
}

/** The fused cases, on the namespace under test or (`upcall`) on one served by a TypeScript bdev. */
async function onNamespace(t: CaseContext, upcall: boolean): Promise<void> {
  if (!upcall) return;
  if (!t.env.upcallNsid) t.skip('no namespace served through the TypeScript bdev path in this environment');
  await t.useNamespace(t.env.upcallNsid);
}

function fusedCases(suffix: string, upcall: boolean): ConformanceCase[] {
  const on = upcall ? ' (TypeScript bdev)' : '';
  return [
    c(`io.fused.compare-and-write${suffix}`, `Fused Compare and Write: equal data, the Write happens${on}`, `${BASE} 3.4.2; ${NVM} 3.3.1`, 'optional', 'If FUSES bit 0: write pattern A to 2 blocks; submit Compare (A, FUSE 01b) and Write (B, FUSE 10b) adjacent, with one tail doorbell write; read back.', 'Both Successful Completion, the Compare first; the blocks read B.', async (t: CaseContext) => {
      needFused(t);
      await onNamespace(t, upcall);
      const bytes = 2 * t.ns.blockSize;
      const slba = lbaFromEnd(t, 8);
      await seed(t, slba, pattern(bytes, 1));
      const [cmp, wr] = await together(t, fusedPair(t, slba, pattern(bytes, 1), pattern(bytes, 2)));
      t.ok(cmp!, 'Compare');
      t.ok(wr!, 'Write');
      t.check((await readBack(t, slba, bytes)).equals(pattern(bytes, 2)), 'the blocks do not hold the Write data');
    }),
    c(`io.fused.compare-failure${suffix}`, `Fused Compare and Write: a miscompare aborts the Write${on}`, `${BASE} 3.4.2, 4.2.3.1; ${NVM} 3.3.1`, 'optional', 'If FUSES bit 0: write A; fused Compare (data C != A) and Write (B); read back.', 'Compare: Compare Failure; Write: Command Aborted due to Failed Fused Command; the blocks still read A.', async (t: CaseContext) => {
      needFused(t);
      await onNamespace(t, upcall);
      const bytes = t.ns.blockSize;
      const slba = lbaFromEnd(t, 10);
      await seed(t, slba, pattern(bytes, 3));
      const [cmp, wr] = await together(t, fusedPair(t, slba, pattern(bytes, 4), pattern(bytes, 5)));
      t.expect(cmp!, Status.COMPARE_FAILURE, 'Compare');
      t.expect(wr!, Status.ABORTED_FAILED_FUSED, 'Write');
      t.check((await readBack(t, slba, bytes)).equals(pattern(bytes, 3)), 'the aborted Write changed the blocks');
    }),
  ];
}

export const nvmCommandCases: ConformanceCase[] = [
  c('identify.fuses-acwu', 'FUSES and ACWU: a controller with Compare and Write reports its atomic unit', `${BASE} 5.17.2.1 (FUSES, ACWU)`, 'optional', 'If FUSES bit 0: read Identify Controller ACWU (bytes 533:532).', 'FUSES has no bits above bit 0 set; ACWU is reported (0\'s based blocks).', async (t: CaseContext) => {
    needFused(t);
    const id = await identify(t, 1);
    t.eq(t.ctrl.fuses & ~1, 0, 'FUSES reserved bits');
    t.note(`ACWU ${id.readUInt16LE(ID_ACWU)} (0's based): up to ${id.readUInt16LE(ID_ACWU) + 1} blocks written atomically by a fused Compare and Write`);
  }),
  ...fusedCases('', false),
  ...fusedCases('.upcall', true),
  c('io.fused.mismatched-range', 'Fused Compare and Write of different ranges is refused', `${BASE} 3.4.2; ${NVM} 3.3.1`, 'optional', 'If FUSES bit 0: fused Compare of LBA n and Write of LBA n+1; then Compare of 1 block and Write of 2.', 'Compare: Invalid Field in Command; Write: Command Aborted due to Failed Fused Command, each time.', async (t: CaseContext) => {
    needFused(t);
    const bytes = t.ns.blockSize;
    const slba = lbaFromEnd(t, 12);
    let [cmp, wr] = await together(t, fusedPair(t, slba, pattern(bytes, 1), pattern(bytes, 1), { writeSlba: slba + 1n }));
    t.expect(cmp!, Status.INVALID_FIELD, 'Compare (other LBA)');
    t.expect(wr!, Status.ABORTED_FAILED_FUSED, 'Write (other LBA)');
    [cmp, wr] = await together(t, fusedPair(t, slba, pattern(bytes, 1), pattern(2 * bytes, 1), { writeBlocks: 2 }));
    t.expect(cmp!, Status.INVALID_FIELD, 'Compare (other NLB)');
    t.expect(wr!, Status.ABORTED_FAILED_FUSED, 'Write (other NLB)');
  }),
  c('io.fused.missing', 'Fused halves without their other half: Missing Fused Command', `${BASE} 3.4.2, 4.2.3.1`, 'optional', 'If FUSES bit 0: a Write with FUSE 10b alone; a Compare with FUSE 01b rung alone; a Compare FUSE 01b followed by a plain Read in the same doorbell write; a Read with FUSE 11b.', 'The lone halves: Command Aborted due to Missing Fused Command; the Read after the first half: Successful Completion; FUSE 11b: Invalid Field in Command.', async (t: CaseContext) => {
    needFused(t);
    const slba = lbaFromEnd(t, 14);
    const b = t.buf(t.ns.blockSize);
    const second = t.rw(IoOpcode.WRITE, slba, 1, b);
    second[1] = FUSE_SECOND;
    t.expect(await t.io(second), Status.ABORTED_MISSING_FUSED, 'a second half alone');
    const first = t.rw(IoOpcode.COMPARE, slba, 1, b);
    first[1] = FUSE_FIRST;
    t.expect(await t.io(first), Status.ABORTED_MISSING_FUSED, 'a first half the tail doorbell did not go past');
    const first2 = t.rw(IoOpcode.COMPARE, slba, 1, b);
    first2[1] = FUSE_FIRST;
    const [a, r] = await together(t, [first2, t.rw(IoOpcode.READ, slba, 1, b)]);
    t.expect(a!, Status.ABORTED_MISSING_FUSED, 'a first half followed by a Read');
    t.ok(r!, 'the Read after it');
    const reserved = t.rw(IoOpcode.READ, slba, 1, b);
    reserved[1] = 3;
    t.expect(await t.io(reserved), Status.INVALID_FIELD, 'FUSE 11b');
  }),
  c('io.fused.queue-wrap', 'A fused pair split across the end of the SQ is one operation', `${BASE} 3.4.2`, 'optional', 'If FUSES bit 0: create a 4-entry SQ; submit 3 Flushes; place Compare (FUSE 01b) in the last slot and Write (FUSE 10b) in slot 0, one tail doorbell write (tail 1).', 'Both Successful Completion; the blocks read the Write data.', async (t: CaseContext) => {
    needFused(t);
    t.dirty();
    t.ok(await t.createCq(2, 4), 'Create I/O CQ 2');
    t.ok(await t.createSq(2, 2, 4), 'Create I/O SQ 2 (4 entries)');
    for (let i = 0; i < 3; i++) t.ok(await t.io(cmd(IoOpcode.FLUSH, t.ns.nsid), 2), 'Flush');
    const bytes = t.ns.blockSize;
    const slba = lbaFromEnd(t, 16);
    await seed(t, slba, pattern(bytes, 6));
    const [cmp, wr] = await together(t, fusedPair(t, slba, pattern(bytes, 6), pattern(bytes, 7)), 2);
    t.ok(cmp!, 'Compare in slot 3');
    t.ok(wr!, 'Write in slot 0');
    t.check((await readBack(t, slba, bytes)).equals(pattern(bytes, 7)), 'the Write did not happen');
  }),

  c('io.copy', 'Copy: source ranges land at the destination in order', `${NVM} 3.3.2`, 'optional', 'If ONCS bit 8: write A to 2 blocks and B to 1 block; Copy (format 0h) of [B, A] to a third place; read it back.', 'Successful Completion; the destination reads B then A.', async (t: CaseContext) => {
    needOncs(t, ONCS_COPY, 'Copy');
    const bs = t.ns.blockSize;
    const a = lbaFromEnd(t, 24), b = lbaFromEnd(t, 21), dest = lbaFromEnd(t, 20);
    await seed(t, a, pattern(2 * bs, 8));
    await seed(t, b, pattern(bs, 9));
    t.ok(await t.io(copyCmd(t, dest, [[b, 1], [a, 2]])), 'Copy');
    t.check((await readBack(t, dest, 3 * bs)).equals(Buffer.concat([pattern(bs, 9), pattern(2 * bs, 8)])), 'the destination does not hold B then A');
  }),
  c('io.copy.limits', 'Copy beyond MSRC, MSSRL, MCL, an unsupported format or the namespace is refused', `${NVM} 3.3.2, Figure 97 (MSSRL, MCL, MSRC); ${BASE} 5.17.2.1 (OCFS)`, 'optional', 'If ONCS bit 8: read MSSRL/MCL/MSRC; Copy with MSRC+2 ranges; one range of MSSRL+1 blocks; ranges of MCL+1 blocks in all; descriptor format 1h when OCFS bit 1 is 0; a source and a destination past the last LBA.', 'Command Size Limit Exceeded for the three limits; Invalid Field in Command for the format; LBA Out of Range for the ranges.', async (t: CaseContext) => {
    needOncs(t, ONCS_COPY, 'Copy');
    const ns = await identify(t, 0, t.ns.nsid);
    const mssrl = ns.readUInt16LE(NS_MSSRL), mcl = ns.readUInt32LE(NS_MCL), msrc = ns[NS_MSRC]!;
    t.note(`MSSRL ${mssrl}, MCL ${mcl}, MSRC ${msrc}`);
    if (msrc < 255) t.expect(await t.io(copyCmd(t, 0n, [[0n, 1]], { nr: msrc + 2 })), Status.COMMAND_SIZE_LIMIT_EXCEEDED, `${msrc + 2} ranges`);
    if (mssrl && mssrl < 0xffff) t.expect(await t.io(copyCmd(t, 0n, [[0n, mssrl + 1]])), Status.COMMAND_SIZE_LIMIT_EXCEEDED, `a range of MSSRL+1 blocks`);
    if (mcl && mssrl && msrc >= 1 && mcl < 2 * mssrl) t.expect(await t.io(copyCmd(t, 0n, [[0n, mssrl], [0n, mcl + 1 - mssrl]])), Status.COMMAND_SIZE_LIMIT_EXCEEDED, 'MCL+1 blocks in all');
    const id = await identify(t, 1);
    if (!(id.readUInt16LE(ID_OCFS) & 2)) t.expect(await t.io(copyCmd(t, 0n, [[0n, 1]], { format: 1 })), Status.INVALID_FIELD, 'descriptor format 1h');
    t.expect(await t.io(copyCmd(t, 0n, [[lbaFromEnd(t, 1), 2]])), Status.LBA_OUT_OF_RANGE, 'a source past the end');
    t.expect(await t.io(copyCmd(t, lbaFromEnd(t, 1), [[0n, 2]])), Status.LBA_OUT_OF_RANGE, 'a destination past the end');
  }),

  c('io.verify', 'Verify reads the range; its limits', `${NVM} 3.3.5; Figure 97 (VSL)`, 'optional', 'If ONCS bit 7: Verify 8 blocks; Verify past the last LBA; if VSL is non-zero, Verify of more than 2^VSL pages.', 'Successful Completion; LBA Out of Range; Invalid Field in Command.', async (t: CaseContext) => {
    needOncs(t, ONCS_VERIFY, 'Verify');
    t.ok(await t.io(lbaCmd(t, IoOpcode.VERIFY, lbaFromEnd(t, 32), 8)), 'Verify 8 blocks');
    t.expect(await t.io(lbaCmd(t, IoOpcode.VERIFY, lbaFromEnd(t, 1), 2)), Status.LBA_OUT_OF_RANGE, 'past the end');
    const vsl = (await identify(t, 6, 0, 0))[0]!;
    const limit = vsl ? 4096 * 2 ** vsl : 0;
    const over = limit / t.ns.blockSize + 1;
    if (vsl && over <= 65536 && BigInt(over) <= t.ns.blocks) t.expect(await t.io(lbaCmd(t, IoOpcode.VERIFY, 0n, over)), Status.INVALID_FIELD, `Verify of ${over} blocks (VSL ${vsl})`);
  }),

  c('io.write-uncorrectable', 'Write Uncorrectable: reads fail until the blocks are written, zeroed or deallocated', `${NVM} 3.3.7`, 'optional', 'If ONCS bit 1: write 4 blocks; Write Uncorrectable of them; Read, Verify (ONCS bit 7) and Compare of each; Write block 0, Write Zeroes block 1 (ONCS bit 3), deallocate block 2 (ONCS bit 2); read each again.', 'The reads after Write Uncorrectable: Unrecovered Read Error; after Write, Write Zeroes or deallocation: Successful Completion; block 3 still fails.', async (t: CaseContext) => {
    needOncs(t, ONCS_WRITE_UNCORRECTABLE, 'Write Uncorrectable');
    const bs = t.ns.blockSize;
    const slba = lbaFromEnd(t, 40);
    await seed(t, slba, pattern(4 * bs, 10));
    t.ok(await t.io(lbaCmd(t, IoOpcode.WRITE_UNCORRECTABLE, slba, 4)), 'Write Uncorrectable');
    const b = t.buf(bs);
    for (let i = 0n; i < 4n; i++) t.expect(await t.io(t.rw(IoOpcode.READ, slba + i, 1, b)), Status.UNRECOVERED_READ_ERROR, `Read of block ${i}`);
    if (t.ctrl.oncs & ONCS_VERIFY) t.expect(await t.io(lbaCmd(t, IoOpcode.VERIFY, slba, 4)), Status.UNRECOVERED_READ_ERROR, 'Verify');
    t.expect(await t.io(t.rw(IoOpcode.COMPARE, slba, 1, b)), Status.UNRECOVERED_READ_ERROR, 'Compare');
    await seed(t, slba, pattern(bs, 11));
    t.ok(await t.io(t.rw(IoOpcode.READ, slba, 1, b)), 'Read after Write');
    if (t.ctrl.oncs & 8) {
      t.ok(await t.io(lbaCmd(t, IoOpcode.WRITE_ZEROES, slba + 1n, 1)), 'Write Zeroes');
      t.ok(await t.io(t.rw(IoOpcode.READ, slba + 1n, 1, b)), 'Read after Write Zeroes');
    }
    if (t.ctrl.oncs & 4) {
      const r = t.buf(16);
      const range = Buffer.alloc(16);
      range.writeUInt32LE(1, 4);
      range.writeBigUInt64LE(slba + 2n, 8);
      t.write(r, range);
      t.ok(await t.io(cmd(IoOpcode.DSM, t.ns.nsid, { prp1: r, cdw10: 0, cdw11: 1 << 2 })), 'Dataset Management (AD)');
      t.ok(await t.io(t.rw(IoOpcode.READ, slba + 2n, 1, b)), 'Read after deallocation');
    }
    t.expect(await t.io(t.rw(IoOpcode.READ, slba + 3n, 1, b)), Status.UNRECOVERED_READ_ERROR, 'block 3, not written');
    await seed(t, slba + 3n, pattern(bs, 12)); // leave the namespace readable
  }),

  c('features.timestamp', 'Timestamp: counts on from the value set, Origin 001b', `${BASE} 5.27.1.10`, 'optional', 'If ONCS bit 6: Set Features Timestamp to T; wait 100 ms; Get Features Timestamp.', 'Both succeed; the Timestamp has advanced by at least 50 ms (100 ms less timer slack) and at most seconds; Timestamp Origin (byte 6 bits 3:1) is 001b.', async (t: CaseContext) => {
    needOncs(t, ONCS_TIMESTAMP, 'Timestamp');
    const T = 1_700_000_000_000;
    const b = t.buf(4096);
    const d = Buffer.alloc(8);
    d.writeUIntLE(T, 0, 6);
    t.write(b, d);
    t.ok(await t.admin(cmd(AdminOpcode.SET_FEATURES, 0, { prp1: b, cdw10: Feature.TIMESTAMP })), 'Set Timestamp');
    await new Promise((r) => setTimeout(r, 100));
    t.write(b, Buffer.alloc(8, 0xff));
    t.ok(await t.admin(cmd(AdminOpcode.GET_FEATURES, 0, { prp1: b, cdw10: Feature.TIMESTAMP })), 'Get Timestamp');
    const got = t.read(b, 8);
    const now = got.readUIntLE(0, 6);
    t.note(`Timestamp ${now} (+${now - T} ms), attributes 0x${got[6]!.toString(16)}`);
    t.check(now >= T + 50 && now < T + 10_000, `Timestamp advanced by ${now - T} ms`);
    t.eq((got[6]! >> 1) & 7, 1, 'Timestamp Origin');
  }),
  c('features.host-behavior-support', 'Host Behavior Support: what the host sets reads back', `${BASE} 5.27.1.18`, 'optional', 'Get Features 16h; if supported, Set ACRE=1 and LBAFEE=1; Get again; set all back to 0.', 'Get returns the values set; a value above 1 in ACRE is Invalid Field in Command.', async (t: CaseContext) => {
    const b = t.buf(4096);
    const g = await t.admin(cmd(AdminOpcode.GET_FEATURES, 0, { prp1: b, cdw10: Feature.HOST_BEHAVIOR_SUPPORT }));
    if ((g.status & 0x7ff) === Status.INVALID_FIELD) t.skip('Host Behavior Support not supported');
    t.ok(g, 'Get Host Behavior Support');
    t.write(b, Buffer.concat([Buffer.from([1, 0, 1]), Buffer.alloc(509)]));
    t.ok(await t.admin(cmd(AdminOpcode.SET_FEATURES, 0, { prp1: b, cdw10: Feature.HOST_BEHAVIOR_SUPPORT })), 'Set ACRE, LBAFEE');
    t.write(b, Buffer.alloc(512, 0xee));
    t.ok(await t.admin(cmd(AdminOpcode.GET_FEATURES, 0, { prp1: b, cdw10: Feature.HOST_BEHAVIOR_SUPPORT })), 'Get Host Behavior Support');
    const got = t.read(b, 3);
    t.eq(got[0], 1, 'ACRE');
    t.eq(got[2], 1, 'LBAFEE');
    t.write(b, Buffer.concat([Buffer.from([2]), Buffer.alloc(511)]));
    t.expect(await t.admin(cmd(AdminOpcode.SET_FEATURES, 0, { prp1: b, cdw10: Feature.HOST_BEHAVIOR_SUPPORT })), Status.INVALID_FIELD, 'ACRE 2');
    t.write(b, Buffer.alloc(512));
    t.ok(await t.admin(cmd(AdminOpcode.SET_FEATURES, 0, { prp1: b, cdw10: Feature.HOST_BEHAVIOR_SUPPORT })), 'Set back to 0');
  }),
  c('admin.keep-alive.expiry', 'Keep Alive: commands keep the controller; without them KATO expiry is controller fatal status', `${BASE} 3.9, 5.15, 5.27.1.12`, 'optional', 'If KAS is non-zero: Set KATO to 2 x KAS x 100 ms; send Keep Alive every KATO/3 for 3 x KATO; then nothing for 3 x KATO; read CSTS.', 'Set and every Keep Alive succeed and CSTS.CFS stays 0 while they come; CSTS.CFS is 1 after the timeout (the session is replaced: the host resets the controller).', async (t: CaseContext) => {
    const id = await identify(t, 1);
    const kas = id.readUInt16LE(ID_KAS);
    if (!kas) t.skip('Keep Alive not supported (KAS 0)');
    t.dirty();
    const kato = 2 * kas * 100;
    t.ok(await t.admin(cmd(AdminOpcode.SET_FEATURES, 0, { cdw10: Feature.KEEP_ALIVE_TIMER, cdw11: kato })), `Set KATO ${kato} ms`);
    const until = Date.now() + 3 * kato;
    while (Date.now() < until) {
      await new Promise((r) => setTimeout(r, kato / 3));
      t.ok(await t.admin(cmd(AdminOpcode.KEEP_ALIVE, 0)), 'Keep Alive');
    }
    t.eq((await t.reg32(0x1c)) & 2, 0, 'CSTS.CFS while Keep Alive commands come');
    await new Promise((r) => setTimeout(r, 3 * kato));
    t.eq((await t.reg32(0x1c)) & 2, 2, 'CSTS.CFS after KATO without a Keep Alive');
  }),
];

// I/O queue management (NVMe Base 2.0 sections 5.3-5.6) and command dispatch rules: reserved
// and unknown opcodes, admin opcodes on I/O queues and vice versa, fused operations, PSDT;
// flow control (a full admin SQ, a CQ smaller than its SQ).
import { Status } from '../spec.js';
import { GRANTED_QUEUES, cmd, type CaseContext, type Cqe } from '../session.js';
import type { ConformanceCase } from '../types.js';

const BASE = 'NVMe Base 2.0';

const createCq = (qid: number, size: number, cdw11: number, prp1: bigint) => cmd(0x05, 0, { prp1, cdw10: (((size - 1) & 0xffff) << 16) | qid, cdw11 });
const createSq = (qid: number, size: number, cqid: number, prp1: bigint, pc = 1) => cmd(0x01, 0, { prp1, cdw10: (((size - 1) & 0xffff) << 16) | qid, cdw11: (cqid << 16) | pc });
const del = (op: number, qid: number) => cmd(op, 0, { cdw10: qid });

function mqes(t: CaseContext): number {
  return Number(t.drv.cap & 0xffffn) + 1;
}

async function cleanup(t: CaseContext, qids: number[]): Promise<void> {
  for (const q of qids) {
    if (t.q.sqs.has(q)) {
      await t.admin(del(0x00, q));
      t.q.forget('sq', q);
    }
  }
  for (const q of qids) {
    if (t.q.cqs.has(q)) {
      await t.admin(del(0x04, q));
      t.q.forget('cq', q);
    }
  }
}

function q(id: string, title: string, section: string, procedure: string, expected: string, run: (t: CaseContext) => Promise<void>, level: 'mandatory' | 'optional' = 'mandatory'): ConformanceCase {
  return { id, title, section: `NVMe Base 2.0 ${section}`, procedure, expected, level, run };
}

export const queueCases: ConformanceCase[] = [
  q('admin.create-cq.qid-0', 'Create I/O CQ with QID 0 is rejected', '5.4', 'Create I/O CQ QID 0.', 'Invalid Queue Identifier.', async (t: CaseContext) => {
    t.expect(await t.admin(createCq(0, 16, 1, t.buf(4096))), Status.INVALID_QUEUE_IDENTIFIER, 'CQ 0');
  }),
  q('admin.create-cq.duplicate', 'Create I/O CQ with an existing QID is rejected', '5.4', 'Create I/O CQ 1 while CQ 1 exists.', 'Invalid Queue Identifier.', async (t: CaseContext) => {
    t.expect(await t.admin(createCq(1, 16, 1, t.buf(4096))), Status.INVALID_QUEUE_IDENTIFIER, 'CQ 1 again');
  }),
  q('admin.create-cq.beyond-granted', 'Create I/O CQ beyond the queues granted is rejected', '5.4, 5.27.1.7', `Number of Queues granted ${GRANTED_QUEUES}; Create I/O CQ ${GRANTED_QUEUES + 1}.`, 'Invalid Queue Identifier.', async (t: CaseContext) => {
    t.expect(await t.admin(createCq(GRANTED_QUEUES + 1, 16, 1, t.buf(4096))), Status.INVALID_QUEUE_IDENTIFIER, `CQ ${GRANTED_QUEUES + 1}`);
  }),
  q('admin.create-cq.size-0', 'Create I/O CQ of one entry (QSIZE 0) is rejected', '5.4', 'Create I/O CQ 2 with QSIZE=0.', 'Invalid Queue Size.', async (t: CaseContext) => {
    t.expect(await t.admin(createCq(2, 1, 1, t.buf(4096))), Status.INVALID_QUEUE_SIZE, 'QSIZE 0');
  }),
  q('admin.create-cq.over-mqes', 'Create I/O CQ larger than CAP.MQES is rejected', '5.4, 3.1.1', 'Create I/O CQ 2 with QSIZE = MQES+1.', 'Invalid Queue Size.', async (t: CaseContext) => {
    if (mqes(t) >= 65536) t.skip('MQES allows 65536 entries');
    t.expect(await t.admin(createCq(2, mqes(t) + 1, 1, t.buf(4096))), Status.INVALID_QUEUE_SIZE, 'QSIZE MQES+1');
  }),
  q('admin.create-cq.max-size', 'Create I/O CQ of exactly MQES+1 entries', '5.4, 3.1.1', 'Create I/O CQ 2 with QSIZE = MQES; delete it.', 'Success.', async (t: CaseContext) => {
    const n = Math.min(mqes(t), 4096);
    t.ok(await t.createCq(2, n), `CQ of ${n} entries`);
    await cleanup(t, [2]);
  }),
  q('admin.create-cq.pc-0', 'Create I/O CQ not physically contiguous when CAP.CQR=1', '5.4, 3.1.1 (CQR)', 'Create I/O CQ 2 with PC=0.', 'Invalid Field in Command (when CAP.CQR=1).', async (t: CaseContext) => {
    if (!(t.drv.cap & (1n << 16n))) t.skip('CAP.CQR=0: non-contiguous queues are allowed');
    t.expect(await t.admin(createCq(2, 16, 0, t.buf(4096))), Status.INVALID_FIELD, 'PC=0');
  }),
  q('admin.create-cq.invalid-vector', 'Create I/O CQ with an interrupt vector beyond MSI-X is rejected', '5.4', 'Create I/O CQ 2 with IEN=1, IV=2048.', 'Invalid Interrupt Vector.', async (t: CaseContext) => {
    t.expect(await t.admin(createCq(2, 16, (2048 << 16) | 3, t.buf(4096))), Status.INVALID_INTERRUPT_VECTOR, 'IV 2048');
  }),
  q('admin.create-cq.misaligned', 'Create I/O CQ with a base not page aligned is rejected', '5.4 (PRP1 offset 0)', 'Create I/O CQ 2 with PRP1 = page + 100h.', 'PRP Offset Invalid or Invalid Field in Command.', async (t: CaseContext) => {
    t.expect(await t.admin(createCq(2, 16, 1, t.buf(8192) + 0x100n)), [Status.INVALID_PRP_OFFSET, Status.INVALID_FIELD], 'misaligned CQ');
  }),
  q('admin.create-cq.unmapped', 'Create I/O CQ in unmapped memory is rejected', '5.4', 'Create I/O CQ 2 at an unmapped IOVA.', 'An error status (the controller must not use the queue).', async (t: CaseContext) => {
    t.rejected(await t.admin(createCq(2, 16, 1, 0x7000000000n)), 'CQ in unmapped memory');
  }),
  q('admin.create-sq.qid-0', 'Create I/O SQ with QID 0 is rejected', '5.5', 'Create I/O SQ 0 on CQ 1.', 'Invalid Queue Identifier.', async (t: CaseContext) => {
    t.expect(await t.admin(createSq(0, 16, 1, t.buf(4096))), Status.INVALID_QUEUE_IDENTIFIER, 'SQ 0');
  }),
  q('admin.create-sq.duplicate', 'Create I/O SQ with an existing QID is rejected', '5.5', 'Create I/O SQ 1 while SQ 1 exists.', 'Invalid Queue Identifier.', async (t: CaseContext) => {
    t.expect(await t.admin(createSq(1, 16, 1, t.buf(4096))), Status.INVALID_QUEUE_IDENTIFIER, 'SQ 1 again');
  }),
  q('admin.create-sq.beyond-granted', 'Create I/O SQ beyond the queues granted is rejected', '5.5, 5.27.1.7', `Create I/O SQ ${GRANTED_QUEUES + 1} on CQ 1.`, 'Invalid Queue Identifier.', async (t: CaseContext) => {
    t.expect(await t.admin(createSq(GRANTED_QUEUES + 1, 16, 1, t.buf(4096))), Status.INVALID_QUEUE_IDENTIFIER, `SQ ${GRANTED_QUEUES + 1}`);
  }),
  q('admin.create-sq.cq-missing', 'Create I/O SQ on a CQ that does not exist is rejected', '5.5', 'Create I/O SQ 2 on CQ 3 (not created).', 'Completion Queue Invalid.', async (t: CaseContext) => {
    t.expect(await t.admin(createSq(2, 16, 3, t.buf(4096))), Status.COMPLETION_QUEUE_INVALID, 'CQID 3');
  }),
  // CQID 0 never names an I/O CQ: SPDK's vfio-user target (and ours) answer Invalid Queue
  // Identifier, QEMU's hw/nvme Completion Queue Invalid; the spec's tables allow either reading.
  q('admin.create-sq.cq-admin', 'Create I/O SQ on the admin CQ is rejected', '5.5', 'Create I/O SQ 2 with CQID 0.', 'Invalid Queue Identifier or Completion Queue Invalid.', async (t: CaseContext) => {
    t.expect(await t.admin(createSq(2, 16, 0, t.buf(4096))), [Status.INVALID_QUEUE_IDENTIFIER, Status.COMPLETION_QUEUE_INVALID], 'CQID 0');
  }),
  q('admin.create-sq.size-0', 'Create I/O SQ of one entry is rejected', '5.5', 'Create I/O SQ 2 with QSIZE=0 on CQ 1.', 'Invalid Queue Size.', async (t: CaseContext) => {
    t.expect(await t.admin(createSq(2, 1, 1, t.buf(4096))), Status.INVALID_QUEUE_SIZE, 'QSIZE 0');
  }),
  q('admin.create-sq.over-mqes', 'Create I/O SQ larger than CAP.MQES is rejected', '5.5, 3.1.1', 'Create I/O SQ 2 with QSIZE = MQES+1.', 'Invalid Queue Size.', async (t: CaseContext) => {
    if (mqes(t) >= 65536) t.skip('MQES allows 65536 entries');
    t.expect(await t.admin(createSq(2, mqes(t) + 1, 1, t.buf(4096))), Status.INVALID_QUEUE_SIZE, 'QSIZE MQES+1');
  }),
  q('admin.create-sq.pc-0', 'Create I/O SQ not physically contiguous when CAP.CQR=1', '5.5', 'Create I/O SQ 2 with PC=0 on CQ 1.', 'Invalid Field in Command.', async (t: CaseContext) => {
    if (!(t.drv.cap & (1n << 16n))) t.skip('CAP.CQR=0');
    t.expect(await t.admin(createSq(2, 16, 1, t.buf(4096), 0)), Status.INVALID_FIELD, 'PC=0');
  }),
  q('admin.delete-cq.with-sq', 'Delete I/O CQ while an SQ uses it is rejected', '5.6', 'Delete I/O CQ 1 while SQ 1 is mapped to it.', 'Invalid Queue Deletion.', async (t: CaseContext) => {
    t.expect(await t.admin(del(0x04, 1)), Status.INVALID_QUEUE_DELETION, 'Delete CQ 1 with SQ 1');
  }),
  q('admin.delete-sq.qid-0', 'Delete I/O SQ 0 is rejected', '5.6', 'Delete I/O SQ with QID 0.', 'Invalid Queue Identifier.', async (t: CaseContext) => {
    t.expect(await t.admin(del(0x00, 0)), Status.INVALID_QUEUE_IDENTIFIER, 'Delete SQ 0');
  }),
  q('admin.delete-cq.qid-0', 'Delete I/O CQ 0 is rejected', '5.6', 'Delete I/O CQ with QID 0.', 'Invalid Queue Identifier.', async (t: CaseContext) => {
    t.expect(await t.admin(del(0x04, 0)), Status.INVALID_QUEUE_IDENTIFIER, 'Delete CQ 0');
  }),
  q('admin.delete-sq.nonexistent', 'Delete of an SQ that does not exist is rejected', '5.6', 'Delete I/O SQ 3 (never created).', 'Invalid Queue Identifier.', async (t: CaseContext) => {
    t.expect(await t.admin(del(0x00, 3)), Status.INVALID_QUEUE_IDENTIFIER, 'Delete SQ 3');
  }),
  q('admin.delete-cq.nonexistent', 'Delete of a CQ that does not exist is rejected', '5.6', 'Delete I/O CQ 3 (never created).', 'Invalid Queue Identifier.', async (t: CaseContext) => {
    t.expect(await t.admin(del(0x04, 3)), Status.INVALID_QUEUE_IDENTIFIER, 'Delete CQ 3');
  }),
  q('admin.queues.delete-sq-then-cq', 'Delete SQ then CQ; the QIDs are reusable', '5.6, 5.4, 5.5', 'Create CQ 2 and SQ 2; Read on SQ 2; delete SQ 2 then CQ 2; create them again; Read again.', 'Every step succeeds; the re-created queue starts at head/tail 0.', async (t: CaseContext) => {
    for (let round = 0; round < 2; round++) {
      t.ok(await t.createCq(2, 8), `Create CQ 2 (round ${round + 1})`);
      t.ok(await t.createSq(2, 2, 8), `Create SQ 2 (round ${round + 1})`);
      for (let i = 0; i < 3; i++) t.ok(await t.io(t.rw(0x02, 0n, 1, t.buf(t.ns.blockSize)), 2), 'Read on SQ 2');
      t.ok(await t.admin(del(0x00, 2)), 'Delete SQ 2');
      t.q.forget('sq', 2);
      t.ok(await t.admin(del(0x04, 2)), 'Delete CQ 2');
      t.q.forget('cq', 2);
    }
  }),
  q('admin.queues.shared-cq', 'Two SQs share one CQ', '5.5, 4.1 (queue pairs)', 'Create CQ 2, SQ 2 and SQ 3 on it; Reads on both SQs; delete SQ 2, SQ 3, CQ 2.', 'All complete on CQ 2 with the right SQ Identifier and SQ Head in each CQE.', async (t: CaseContext) => {
    t.ok(await t.createCq(2, 16), 'Create CQ 2');
    t.ok(await t.createSq(2, 2, 8), 'Create SQ 2 on CQ 2');
    t.ok(await t.createSq(3, 2, 8), 'Create SQ 3 on CQ 2');
    const b = t.buf(t.ns.blockSize);
    const p: Promise<{ sq: number; cqe: Cqe }>[] = [];
    for (let i = 0; i < 6; i++) for (const sq of [2, 3]) p.push(t.io(t.rw(0x02, BigInt(i), 1, b), sq).then((cqe) => ({ sq, cqe })));
    for (const { sq, cqe } of await Promise.all(p)) {
      t.ok(cqe, `Read on SQ ${sq}`);
      t.eq(cqe.sqId, sq, 'CQE SQ Identifier');
    }
    t.expect(await t.admin(del(0x04, 2)), Status.INVALID_QUEUE_DELETION, 'Delete CQ 2 with two SQs');
    await cleanup(t, [2, 3]);
  }),
  q('admin.queues.cqe-wrap', 'CQEs carry SQ head and the phase tag flips on wrap', '4.2.4 (Completion Queue Entry), 4.1', 'On an 8-entry SQ/CQ pair, send 20 Reads one at a time.', 'Every CQE has the phase the host expects (queue wraps twice), SQ Identifier 2 and SQ Head = entries consumed mod 8.', async (t: CaseContext) => {
    t.ok(await t.createCq(2, 8), 'Create CQ 2');
    t.ok(await t.createSq(2, 2, 8), 'Create SQ 2');
    const b = t.buf(t.ns.blockSize);
    for (let i = 0; i < 20; i++) {
      const c = await t.q.submit(2, t.rw(0x02, 0n, 1, b));
      t.ok(c, `Read ${i}`);
      t.eq(c.sqHead, (i + 1) % 8, `SQ head after command ${i}`);
    }
    await cleanup(t, [2]);
  }),
  q('admin.queues.full-sq', 'A full SQ (size-1 commands outstanding) completes them all', '4.1.2 (queue full)', 'On an 8-entry pair, submit 7 Reads with one doorbell write.', 'All 7 complete successfully.', async (t: CaseContext) => {
    t.ok(await t.createCq(2, 8), 'Create CQ 2');
    t.ok(await t.createSq(2, 2, 8), 'Create SQ 2');
    const b = t.buf(t.ns.blockSize);
    const cids = Array.from({ length: 7 }, () => t.q.place(2, t.rw(0x02, 0n, 1, b)));
    const waits = cids.map((cid) => t.q.wait(2, cid));
    t.q.ring(2);
    for (const c of await Promise.all(waits)) t.ok(c, 'Read');
    await cleanup(t, [2]);
  }),
  // ---------------------------------------------------------------- opcodes
  q('admin.opcode.reserved', 'Reserved admin opcodes are rejected', '5 (Figure 138), 4.2.3', 'Admin opcodes 03h, 07h, 7Fh.', 'Invalid Command Opcode.', async (t: CaseContext) => {
    for (const op of [0x03, 0x07, 0x7f]) t.expect(await t.admin(cmd(op, 0)), Status.INVALID_OPCODE, `admin opcode ${op.toString(16)}h`);
  }),
  q('admin.opcode.vendor-specific', 'Unknown vendor-specific admin opcodes are rejected', '5 (Figure 138)', 'Admin opcode C0h and FFh.', 'Invalid Command Opcode.', async (t: CaseContext) => {
    for (const op of [0xc0, 0xff]) t.expect(await t.admin(cmd(op, 0)), Status.INVALID_OPCODE, `admin opcode ${op.toString(16)}h`);
  }),
  q('admin.opcode.optional-unsupported', 'Optional admin commands not advertised in OACS are rejected', '5.17.2.1 (OACS)', 'Namespace Management (0Dh) if OACS bit 3 = 0; Firmware Image Download (11h) if OACS bit 2 = 0; Namespace Attachment (15h) if OACS bit 3 = 0.', 'Invalid Command Opcode.', async (t: CaseContext) => {
    let n = 0;
    if (!(t.ctrl.oacs & 8)) {
      t.expect(await t.admin(cmd(0x0d, 0)), Status.INVALID_OPCODE, 'Namespace Management');
      t.expect(await t.admin(cmd(0x15, 1)), Status.INVALID_OPCODE, 'Namespace Attachment');
      n++;
    }
    if (!(t.ctrl.oacs & 4)) {
      t.expect(await t.admin(cmd(0x11, 0, { prp1: t.buf(4096) })), Status.INVALID_OPCODE, 'Firmware Image Download');
      n++;
    }
    if (!n) t.skip('all of them are advertised');
  }),
  q('admin.opcode.io-on-admin', 'An I/O command set opcode on the admin queue is rejected', '5, 7 (I/O commands are not admin commands)', 'Opcode 0Eh (Reservation Report in the NVM command set; reserved for admin) on the admin queue.', 'Invalid Command Opcode.', async (t: CaseContext) => {
    t.expect(await t.admin(cmd(0x0e, t.ns.nsid, { prp1: t.buf(4096), cdw10: 1023 })), Status.INVALID_OPCODE, 'opcode 0Eh on the admin queue');
  }),
  q('io.opcode.reserved', 'Reserved I/O opcodes are rejected', 'NVM Command Set 1.0 3 (Figure 17)', 'I/O opcodes 03h, 07h, 7Fh on SQ 1.', 'Invalid Command Opcode.', async (t: CaseContext) => {
    for (const op of [0x03, 0x07, 0x7f]) t.expect(await t.io(cmd(op, t.ns.nsid)), Status.INVALID_OPCODE, `I/O opcode ${op.toString(16)}h`);
  }),
  q('io.opcode.vendor-specific', 'Unknown vendor-specific I/O opcodes are rejected', 'NVM Command Set 1.0 3', 'I/O opcodes 80h and FFh.', 'Invalid Command Opcode.', async (t: CaseContext) => {
    for (const op of [0x80, 0xff]) t.expect(await t.io(cmd(op, t.ns.nsid)), Status.INVALID_OPCODE, `I/O opcode ${op.toString(16)}h`);
  }),
  q('io.opcode.admin-on-io', 'An admin opcode on an I/O queue is rejected', '7, NVM Command Set 1.0 3', 'Identify (06h) and Get Features (0Ah), reserved in the NVM command set, on SQ 1 (admin opcodes that are also I/O opcodes, like 08h, are not usable for this).', 'Invalid Command Opcode.', async (t: CaseContext) => {
    for (const op of [0x06, 0x0a]) t.expect(await t.io(cmd(op, t.ns.nsid, { prp1: t.buf(4096), cdw10: 1 })), Status.INVALID_OPCODE, `opcode ${op.toString(16)}h on SQ 1`);
  }),
  q('io.opcode.optional-unsupported', 'Optional I/O commands not advertised in ONCS are rejected', '5.17.2.1 (ONCS)', 'Write Uncorrectable (04h) if ONCS bit 1 = 0; Verify (0Ch) if bit 7 = 0; Reservation Register (0Dh) if bit 5 = 0.', 'Invalid Command Opcode.', async (t: CaseContext) => {
    const o = t.ctrl.oncs;
    let n = 0;
    for (const [bit, op, name] of [[0x02, 0x04, 'Write Uncorrectable'], [0x80, 0x0c, 'Verify'], [0x20, 0x0d, 'Reservation Register']] as const) {
      if (o & bit) continue;
      t.expect(await t.io(cmd(op, t.ns.nsid, { prp1: t.buf(4096) })), Status.INVALID_OPCODE, name);
      n++;
    }
    if (!n) t.skip('all advertised');
  }),
  q('admin.fused', 'Fused admin commands are rejected', '4.2 (FUSE), 5.17.2.1 (FUSES)', 'Identify Controller with FUSE=01b, then FUSE=10b.', 'Invalid Field in Command (admin commands are never fused).', async (t: CaseContext) => {
    t.expect(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 1, flags: 1 })), Status.INVALID_FIELD, 'FUSE=01b');
    t.expect(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 1, flags: 2 })), Status.INVALID_FIELD, 'FUSE=10b');
  }),
  q('io.fused.unsupported', 'Fused I/O commands are rejected when FUSES = 0', '4.2 (FUSE), 5.17.2.1 (FUSES)', 'If FUSES bit 0 = 0: Compare with FUSE=01b, then Write with FUSE=10b.', 'Invalid Field in Command for each.', async (t: CaseContext) => {
    if (t.ctrl.fuses & 1) t.skip('Compare and Write fused operation supported');
    const b = t.buf(t.ns.blockSize);
    const first = t.rw(0x05, 0n, 1, b);
    first[1] = 1;
    t.expect(await t.io(first), Status.INVALID_FIELD, 'Compare FUSE=01b');
    const second = t.rw(0x01, 0n, 1, b);
    second[1] = 2;
    t.expect(await t.io(second), Status.INVALID_FIELD, 'Write FUSE=10b');
  }),
  q('io.psdt-reserved', 'PSDT 11b is rejected', '4.2 (PSDT)', 'Read with PSDT=11b.', 'Invalid Field in Command.', async (t: CaseContext) => {
    const c = t.rw(0x02, 0n, 1, t.buf(t.ns.blockSize));
    c[1] = 0xc0;
    t.expect(await t.io(c), Status.INVALID_FIELD, 'PSDT=11b');
  }),
  q('io.nsid.invalid', 'I/O to NSID 0, an inactive NSID or FFFFFFFFh is rejected', '3.2.1.2, NVM Command Set 1.0 3.3', 'Read with NSID 0, NSID NN+1 and NSID FFFFFFFFh.', 'Invalid Namespace or Format.', async (t: CaseContext) => {
    const b = t.buf(t.ns.blockSize);
    for (const nsid of [0, Math.min(t.ctrl.nn + 1, 0xfffffffe), 0xffffffff]) t.expect(await t.io(t.rw(0x02, 0n, 1, b, { nsid })), Status.INVALID_NAMESPACE, `Read NSID ${nsid.toString(16)}h`);
  }),
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
];

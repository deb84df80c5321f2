// Queue management statuses, row by row against NVMe Base 2.0 5.5 (Create I/O Completion
// Queue), 5.7 (Create I/O Submission Queue), 5.4 / 5.6 (Delete I/O CQ / SQ), with SPDK's
// vfio-user target as the reference for the order of checks: a queue identifier that is 0,
// beyond the queues granted or in use is Invalid Queue Identifier; for Create SQ the same goes
// for its CQID, and Completion Queue Invalid is only for an in-range CQ that does not exist.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cmd } from '../../harness/initiator/nvme-driver.js';
import { Status, statusName } from '../../target/nvme/constants.js';
import { controllerFixture, sc, type ControllerFixture } from './fixture.js';

const CREATE_SQ = 0x01;
const CREATE_CQ = 0x05;
const DELETE_SQ = 0x00;
const DELETE_CQ = 0x04;
const GRANTED = 4; // Number of Queues asks for 4 SQs and 4 CQs
const MSIX = 8; // the endpoint's MSI-X table size in this test
const MQES = 255; // CAP.MQES (0-based) for maxQueueDepth 256

interface Row {
  name: string;
  op: number;
  qid: number;
  /** QSIZE field (0-based); default 15. */
  qsize?: number;
  /** Create CQ: IV; Create SQ: CQID. */
  hi?: number;
  /** PC (default 1), IEN for CQs (default 0). */
  pc?: 0 | 1;
  unaligned?: boolean;
  want: number;
}

const rows: Row[] = [
  // Create I/O Completion Queue (5.5)
  { name: 'CQ QID 0 (the admin queue)', op: CREATE_CQ, qid: 0, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'CQ QID above the queues granted', op: CREATE_CQ, qid: GRANTED + 1, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'CQ QID 0xFFFF', op: CREATE_CQ, qid: 0xffff, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'CQ 1 created', op: CREATE_CQ, qid: 1, want: Status.SUCCESS },
  { name: 'CQ QID already in use', op: CREATE_CQ, qid: 1, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'CQ QSIZE 0 (one entry)', op: CREATE_CQ, qid: 2, qsize: 0, want: Status.INVALID_QUEUE_SIZE },
  { name: 'CQ QSIZE above CAP.MQES', op: CREATE_CQ, qid: 2, qsize: MQES + 1, want: Status.INVALID_QUEUE_SIZE },
  { name: 'CQ QSIZE 0xFFFF', op: CREATE_CQ, qid: 2, qsize: 0xffff, want: Status.INVALID_QUEUE_SIZE },
  { name: 'CQ QSIZE = CAP.MQES is fine', op: CREATE_CQ, qid: 2, qsize: MQES, want: Status.SUCCESS },
  { name: 'CQ not physically contiguous while CAP.CQR = 1', op: CREATE_CQ, qid: 3, pc: 0, want: Status.INVALID_FIELD },
  { name: 'CQ IV = MSI-X table size', op: CREATE_CQ, qid: 3, hi: MSIX, want: Status.INVALID_INTERRUPT_VECTOR },
  { name: 'CQ IV 0xFFFF', op: CREATE_CQ, qid: 3, hi: 0xffff, want: Status.INVALID_INTERRUPT_VECTOR },
  { name: 'CQ IV = last MSI-X entry is fine', op: CREATE_CQ, qid: 3, hi: MSIX - 1, want: Status.SUCCESS },
  { name: 'CQ base not page aligned', op: CREATE_CQ, qid: 4, unaligned: true, want: Status.INVALID_FIELD },
  // Create I/O Submission Queue (5.7)
  { name: 'SQ QID 0', op: CREATE_SQ, qid: 0, hi: 1, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'SQ QID above the queues granted', op: CREATE_SQ, qid: GRANTED + 1, hi: 1, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'SQ QSIZE 0', op: CREATE_SQ, qid: 1, qsize: 0, hi: 1, want: Status.INVALID_QUEUE_SIZE },
  { name: 'SQ QSIZE above CAP.MQES', op: CREATE_SQ, qid: 1, qsize: MQES + 1, hi: 1, want: Status.INVALID_QUEUE_SIZE },
  { name: 'SQ CQID 0 (the admin CQ)', op: CREATE_SQ, qid: 1, hi: 0, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'SQ CQID above the queues granted', op: CREATE_SQ, qid: 1, hi: GRANTED + 1, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'SQ CQID 0xFFFF', op: CREATE_SQ, qid: 1, hi: 0xffff, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'SQ CQID in range, CQ not created', op: CREATE_SQ, qid: 1, hi: 4, want: Status.COMPLETION_QUEUE_INVALID },
  { name: 'SQ not physically contiguous while CAP.CQR = 1', op: CREATE_SQ, qid: 1, hi: 1, pc: 0, want: Status.INVALID_FIELD },
  { name: 'SQ base not page aligned', op: CREATE_SQ, qid: 1, hi: 1, unaligned: true, want: Status.INVALID_FIELD },
  { name: 'SQ 1 on CQ 1 created', op: CREATE_SQ, qid: 1, hi: 1, want: Status.SUCCESS },
  { name: 'SQ QID already in use', op: CREATE_SQ, qid: 1, hi: 2, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'SQ 2 also on CQ 1 (CQs may be shared)', op: CREATE_SQ, qid: 2, hi: 1, want: Status.SUCCESS },
  // Delete I/O CQ (5.4) / SQ (5.6)
  { name: 'delete CQ 1 with SQs attached', op: DELETE_CQ, qid: 1, want: Status.INVALID_QUEUE_DELETION },
  { name: 'delete CQ 0', op: DELETE_CQ, qid: 0, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'delete CQ not created', op: DELETE_CQ, qid: 4, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'delete CQ 0xFFFF', op: DELETE_CQ, qid: 0xffff, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'delete SQ 0', op: DELETE_SQ, qid: 0, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'delete SQ not created', op: DELETE_SQ, qid: 3, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'delete SQ 0xFFFF', op: DELETE_SQ, qid: 0xffff, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'delete SQ 1', op: DELETE_SQ, qid: 1, want: Status.SUCCESS },
  { name: 'delete CQ 1 while SQ 2 is still on it', op: DELETE_CQ, qid: 1, want: Status.INVALID_QUEUE_DELETION },
  { name: 'delete SQ 2', op: DELETE_SQ, qid: 2, want: Status.SUCCESS },
  { name: 'delete CQ 1 once no SQ uses it', op: DELETE_CQ, qid: 1, want: Status.SUCCESS },
  { name: 'delete CQ 1 again', op: DELETE_CQ, qid: 1, want: Status.INVALID_QUEUE_IDENTIFIER },
  { name: 'QID 1 can be created again', op: CREATE_CQ, qid: 1, want: Status.SUCCESS },
];

describe('queue management statuses (NVMe Base 2.0 5.4-5.7)', () => {
  let f: ControllerFixture;
  before(async () => {
    f = await controllerFixture({ msixVectors: MSIX, maxQueueDepth: MQES + 1 });
    assert.equal(Number(f.drv.cap & 0xffffn), MQES);
    assert.deepEqual(await f.drv.setNumberOfQueues(GRANTED), { nsq: GRANTED, ncq: GRANTED });
  });
  after(async () => {
    await f?.close();
  });

  for (const r of rows) {
    test(`${r.name} -> ${statusName(r.want)}`, async () => {
      const drv = f.drv;
      const qsize = r.qsize ?? 15;
      const isCreate = r.op === CREATE_CQ || r.op === CREATE_SQ;
      const base = isCreate ? drv.alloc(Math.max(4096, (qsize + 1) * 64)) + (r.unaligned ? 0x200n : 0n) : 0n;
      const cdw11 = isCreate ? (((r.hi ?? 0) & 0xffff) << 16) | (r.pc ?? 1) : 0;
      const c = await drv.adminCommand(cmd(r.op, 0, { prp1: base, cdw10: isCreate ? (qsize << 16) | r.qid : r.qid, cdw11 }));
      assert.equal(sc(c.status), sc(r.want), `got ${statusName(c.status)} (0x${c.status.toString(16)})`);
      if (r.want !== Status.SUCCESS) assert.ok(c.status & (1 << 14), 'DNR set: retrying cannot succeed');
    });
  }

  test('the controller still serves I/O after the table', async () => {
    const q = await f.drv.createIoQueuePair(GRANTED, 16);
    const buf = f.drv.alloc(4096);
    assert.equal((await f.drv.io(q, 0x02, 1, 0n, 8, buf, 4096)).status, 0);
  });
});

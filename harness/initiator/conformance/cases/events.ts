// Asynchronous events (NVMe Base 2.0 5.2), Abort (5.1), doorbell misuse reported as error
// events (5.2 Figure 146, 3.1.24), Keep Alive (5.25), Doorbell Buffer Config (5.9), and
// controller reset / shutdown / SQ deletion with commands in flight (3.6, 3.7, 5.6).
import { MallocBdev } from '../../../../target/bdev/malloc.js';
import { Status } from '../spec.js';
import { GRANTED_QUEUES, IO_QUEUE_SIZE, cmd, pattern, type CaseContext, type Cqe } from '../session.js';
import type { ConformanceCase } from '../types.js';
import { logCmd } from './logs.js';

const BASE = 'NVMe Base 2.0';
const CC_VALUE = (6 << 16) | (4 << 20) | 1;

/** Posts an Asynchronous Event Request; resolves null if nothing completes it in time. */
function aer(t: CaseContext, timeoutMs: number): { cid: number; done: Promise<Cqe | null> } {
  const cid = t.drv.admin.nextCid;
  return { cid, done: t.adminPending(cmd(0x0c, 0), timeoutMs) };
}

function decodeEvent(dw0: number): { type: number; info: number; log: number } {
  return { type: dw0 & 7, info: (dw0 >> 8) & 0xff, log: (dw0 >> 16) & 0xff };
}

async function readErrorLog(t: CaseContext, rae: boolean): Promise<void> {
  const b = t.buf(4096);
  t.ok(await t.admin(logCmd(0x01, 64, b, { rae })), `Get Log Page 01h RAE=${rae ? 1 : 0}`);
}

async function expectErrorEvent(t: CaseContext, p: Promise<Cqe | null>, info: number, what: string): Promise<void> {
  const c = await p;
  if (!c) t.fail(`${what}: no asynchronous event completed the AER`);
  t.ok(c, 'Asynchronous Event Request');
  const e = decodeEvent(c.dw0);
  t.note(`event type ${e.type} info ${e.info.toString(16)}h log ${e.log.toString(16)}h`);
  t.eq(e.type, 0, `${what}: event type (Error status)`);
  t.eq(e.info, info, `${what}: event information`);
  t.eq(e.log, 0x01, `${what}: log page`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ev(id: string, title: string, section: string, procedure: string, expected: string, run: (t: CaseContext) => Promise<void>, extra: Partial<ConformanceCase> = {}): ConformanceCase {
  return { id, title, section, procedure, expected, level: 'mandatory', run, ...extra };
}

/** Submits commands that may still be running when the controller is reset; failures are expected. */
function inFlight(t: CaseContext, n: number, sqid = 1): Promise<unknown>[] {
  const nsid = t.env.slowNsid ?? t.ns.nsid;
  const b = t.buf(4096);
  return Array.from({ length: n }, (_, i) => t.q.submit(sqid, cmd(0x02, nsid, { prp1: b, cdw10: i, cdw12: 0 }), 3000).catch(() => null));
}

async function ioWorks(t: CaseContext): Promise<void> {
  await t.drv.setNumberOfQueues(GRANTED_QUEUES);
  t.ok(await t.createCq(1, IO_QUEUE_SIZE), 'Create I/O CQ 1');
  t.ok(await t.createSq(1, 1, IO_QUEUE_SIZE), 'Create I/O SQ 1');
  const data = pattern(4096, 99);
  const b = t.buf(4096);
  t.write(b, data);
  t.ok(await t.io(t.rw(0x01, 40n, 4096 / t.ns.blockSize, b)), 'Write after re-init');
  const r = t.buf(4096, 0);
  t.ok(await t.io(t.rw(0x02, 40n, 4096 / t.ns.blockSize, r)), 'Read after re-init');
  t.check(t.read(r, 4096).equals(data), 'data mismatch after re-init');
  await t.q.settle(t.env.slowNsid ? 250 : 30);
  t.check(t.q.stray.length === 0, `${t.q.stray.length} completion(s) nobody submitted on the new queues (stale CQEs from before the reset)`);
}

export const eventCases: ConformanceCase[] = [
  // ---------------------------------------------------------------- AER
  ev('admin.aer.limit', 'More AERs than AERL+1 are rejected', `${BASE} 5.2`, 'Post AERL+1 Asynchronous Event Requests, then one more.', 'The extra one completes with Asynchronous Event Request Limit Exceeded; the others stay outstanding.', async (t: CaseContext) => {
    const n = t.ctrl.aerl + 1;
    if (n > 16) t.skip(`AERL ${t.ctrl.aerl} is large`);
    const pending = Array.from({ length: n }, () => aer(t, 1000));
    const extra = await t.admin(cmd(0x0c, 0), 2000);
    t.expect(extra, Status.ASYNC_EVENT_LIMIT_EXCEEDED, `AER number ${n + 1}`);
    await sleep(20);
    t.dirty();
    void pending;
  }, { fresh: 'bare' }),
  ev('admin.aer.abort', 'Abort of an outstanding AER', `${BASE} 5.1, 5.2`, 'Post an AER; Abort it (SQID 0, its CID).', 'Abort succeeds with dword 0 bit 0 = 0; the AER completes with Command Abort Requested.', async (t: CaseContext) => {
    const a = aer(t, 2000);
    await sleep(10);
    const c = await t.admin(cmd(0x08, 0, { cdw10: (a.cid << 16) | 0 }));
    t.ok(c, 'Abort');
    t.eq(c.dw0 & 1, 0, 'Abort dword 0 bit 0 (0 = aborted)');
    const r = await a.done;
    t.check(r !== null, 'the aborted AER never completed');
    t.expect(r, Status.ABORT_REQUESTED, 'aborted AER');
  }, { fresh: 'bare' }),
  ev('admin.aer.namespace-attribute-changed', 'Namespace attribute change notice', `${BASE} 5.2 (Figure 151), 5.16.1.5, 5.27.1.11`, 'Enable Namespace Attribute Notices (AEC bit 8); post an AER; attach a namespace (in-process target: endpoint namespaces() + refreshNamespaces()); read log 04h; Identify it; detach it again.', 'AER completes with type Notice (2h), info 00h, log 04h; the Changed Namespace List holds the new NSID; Identify Namespace reports its size.', async (t: CaseContext) => {
    const ep = t.env.endpoint;
    if (!ep) t.skip('needs the in-process target to change namespaces');
    t.dirty();
    t.ok(await t.admin(cmd(0x09, 0, { cdw10: 0x0b, cdw11: 1 << 8 })), 'Set AEC');
    const a = aer(t, 3000);
    const before = ep.opts.namespaces;
    const used = new Set(before().map((n) => n.nsid));
    let nsid = 1;
    while (used.has(nsid)) nsid++;
    const extra = new MallocBdev({ name: `ConformanceNs${nsid}`, blockSize: 4096, numBlocks: 256 });
    try {
      ep.opts.namespaces = () => [...before(), { nsid, bdev: extra }];
      ep.refreshNamespaces();
      const c = await a.done;
      if (!c) t.fail('no AER completion after attaching a namespace');
      const e = decodeEvent(c.dw0);
      t.eq(e.type, 2, 'event type (Notice)');
      t.eq(e.info, 0, 'event info (Namespace Attribute Changed)');
      t.eq(e.log, 0x04, 'log page');
      const b = t.buf(4096);
      t.ok(await t.admin(logCmd(0x04, 4096, b)), 'Get Log Page 04h');
      t.eq(t.read(b, 4).readUInt32LE(0), nsid, 'changed NSID');
      const id = t.buf(4096);
      t.ok(await t.admin(cmd(0x06, nsid, { prp1: id, cdw10: 0 })), 'Identify the new namespace');
      t.eq(t.read(id, 8).readBigUInt64LE(0), 256n, 'NSZE of the new namespace');
    } finally {
      ep.opts.namespaces = before;
      ep.refreshNamespaces();
      await extra.close();
    }
  }, { fresh: 'bare' }),
  ev('admin.aer.notice-disabled', 'No namespace notice when AEC bit 8 is clear', `${BASE} 5.27.1.11`, 'With AEC = 0, post an AER and attach a namespace.', 'The AER is not completed (within 300 ms).', async (t: CaseContext) => {
    const ep = t.env.endpoint;
    if (!ep) t.skip('needs the in-process target to change namespaces');
    t.dirty();
    t.ok(await t.admin(cmd(0x09, 0, { cdw10: 0x0b, cdw11: 0 })), 'Set AEC = 0');
    const a = aer(t, 300);
    const before = ep.opts.namespaces;
    const extra = new MallocBdev({ name: 'ConformanceQuiet', blockSize: 512, numBlocks: 64 });
    try {
      const used = new Set(before().map((n) => n.nsid));
      let nsid = 1;
      while (used.has(nsid)) nsid++;
      ep.opts.namespaces = () => [...before(), { nsid, bdev: extra }];
      ep.refreshNamespaces();
      t.check((await a.done) === null, 'an AER completed although the notice is disabled');
    } finally {
      ep.opts.namespaces = before;
      ep.refreshNamespaces();
      await extra.close();
    }
  }, { fresh: 'bare', level: 'optional' }),
  // ---------------------------------------------------------------- doorbell misuse
  ev('admin.aer.doorbell-sq-tail-too-big', 'I/O SQ tail doorbell >= queue size raises an error event', `${BASE} 5.2 (Figure 146: Invalid Doorbell Write Value), 3.1.24`, `Post an AER; write SQ 1 tail doorbell = ${IO_QUEUE_SIZE} (the queue size); read log 01h.`, 'The AER completes: type Error (0h), info 01h (Invalid Doorbell Write Value), log 01h.', async (t: CaseContext) => {
    t.dirty();
    const a = aer(t, 2000);
    await sleep(5);
    await t.doorbell(2, IO_QUEUE_SIZE);
    await expectErrorEvent(t, a.done, 0x01, 'SQ tail = size');
    await readErrorLog(t, false);
  }, { fresh: 'full' }),
  ev('admin.aer.doorbell-cq-head-too-big', 'I/O CQ head doorbell >= queue size raises an error event', `${BASE} 5.2 (Figure 146), 3.1.25`, `Post an AER; write CQ 1 head doorbell = ${IO_QUEUE_SIZE + 3}.`, 'The AER completes: Error, info 01h, log 01h.', async (t: CaseContext) => {
    t.dirty();
    const a = aer(t, 2000);
    await sleep(5);
    await t.doorbell(3, IO_QUEUE_SIZE + 3);
    await expectErrorEvent(t, a.done, 0x01, 'CQ head > size');
    await readErrorLog(t, false);
  }, { fresh: 'full' }),
  ev('admin.aer.doorbell-admin-sq-tail-too-big', 'Admin SQ tail doorbell >= queue size raises an error event', `${BASE} 5.2 (Figure 146)`, 'Post an AER; write the admin SQ tail doorbell = admin queue size; restore it.', 'The AER completes: Error, info 01h, log 01h.', async (t: CaseContext) => {
    t.dirty();
    const a = aer(t, 2000);
    await sleep(5);
    await t.doorbell(0, t.drv.admin.size);
    await expectErrorEvent(t, a.done, 0x01, 'admin SQ tail = size');
    await t.doorbell(0, t.drv.admin.sqTail);
    await readErrorLog(t, false);
  }, { fresh: 'bare' }),
  ev('admin.aer.doorbell-nonexistent-queue', 'A doorbell of a queue that does not exist raises an error event', `${BASE} 5.2 (Figure 146: Invalid Doorbell Register)`, 'Post an AER; write the SQ tail doorbell of QID 3 (not created) = 1.', 'The AER completes: Error, info 00h (Invalid Doorbell Register), log 01h.', async (t: CaseContext) => {
    t.dirty();
    const a = aer(t, 2000);
    await sleep(5);
    await t.doorbell(2 * 3, 1);
    await expectErrorEvent(t, a.done, 0x00, 'doorbell of SQ 3');
    await readErrorLog(t, false);
  }, { fresh: 'full' }),
  ev('admin.aer.error-masked-until-log-read', 'Error events are masked until log 01h is read (RAE=0)', `${BASE} 5.2.1 (event masking), 5.16 (RAE)`, 'Trigger an error event (bad SQ tail); post a second AER; trigger another; read log 01h with RAE=1, then RAE=0.', 'The second AER stays outstanding until the RAE=0 read, then completes with the second error event.', async (t: CaseContext) => {
    t.dirty();
    const a1 = aer(t, 2000);
    await sleep(5);
    await t.doorbell(2, IO_QUEUE_SIZE);
    await expectErrorEvent(t, a1.done, 0x01, 'first event');
    const a2 = aer(t, 3000);
    let done2: Cqe | null | undefined;
    void a2.done.then((c) => (done2 = c));
    await t.doorbell(2, IO_QUEUE_SIZE + 1);
    await sleep(150);
    t.check(done2 === undefined, 'second error event delivered before the log page was read');
    await readErrorLog(t, true);
    await sleep(150);
    t.check(done2 === undefined, 'second error event delivered after a RAE=1 read');
    await readErrorLog(t, false);
    await expectErrorEvent(t, a2.done, 0x01, 'second event');
  }, { fresh: 'full' }),
  // ---------------------------------------------------------------- Abort
  ev('admin.abort.completed-command', 'Abort of a command that already completed', `${BASE} 5.1`, 'Identify; then Abort SQID 0 with its CID.', 'Abort succeeds with dword 0 bit 0 = 1 (not aborted).', async (t: CaseContext) => {
    const id = await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 1 }));
    const c = await t.admin(cmd(0x08, 0, { cdw10: (id.cid << 16) | 0 }));
    t.ok(c, 'Abort');
    t.eq(c.dw0 & 1, 1, 'dword 0 bit 0');
  }),
  ev('admin.abort.completed-io', 'Abort of an I/O command that already completed', `${BASE} 5.1`, 'Read on SQ 1; then Abort SQID 1 with its CID.', 'Abort succeeds with dword 0 bit 0 = 1.', async (t: CaseContext) => {
    const r = await t.io(t.rw(0x02, 0n, 1, t.buf(t.ns.blockSize)));
    const c = await t.admin(cmd(0x08, 0, { cdw10: (r.cid << 16) | 1 }));
    t.ok(c, 'Abort');
    t.eq(c.dw0 & 1, 1, 'dword 0 bit 0');
  }),
  ev('admin.abort.nonexistent-sq', 'Abort naming a queue that does not exist', `${BASE} 5.1`, 'Abort SQID 3 (not created), CID 0.', 'Success with dword 0 bit 0 = 1, or Invalid Queue Identifier / Invalid Field.', async (t: CaseContext) => {
    const c = await t.admin(cmd(0x08, 0, { cdw10: 3 }));
    if (c.status) t.expect(c, [Status.INVALID_QUEUE_IDENTIFIER, Status.INVALID_FIELD], 'Abort SQID 3');
    else t.eq(c.dw0 & 1, 1, 'dword 0 bit 0');
  }),
  ev('admin.abort.in-flight-io', 'Abort of an I/O command in flight', `${BASE} 5.1`, 'Read from the slow namespace; Abort it while it runs.', 'Either Abort reports bit 0 = 0 and the Read completes with Command Abort Requested, or bit 0 = 1 and the Read completes normally.', async (t: CaseContext) => {
    if (!t.env.slowNsid) t.skip('needs a slow namespace (in-process target)');
    const b = t.buf(4096);
    const sqe = cmd(0x02, t.env.slowNsid, { prp1: b, cdw12: 0 });
    const cid = t.q.place(1, sqe);
    const done = t.q.wait(1, cid, 3000);
    t.q.ring(1);
    await sleep(20);
    const a = await t.admin(cmd(0x08, 0, { cdw10: (cid << 16) | 1 }));
    t.ok(a, 'Abort');
    const r = await done;
    t.recordIo(1, sqe, r);
    if (a.dw0 & 1) t.ok(r, 'Read not aborted');
    else t.expect(r, Status.ABORT_REQUESTED, 'aborted Read');
  }),
  // ---------------------------------------------------------------- Keep Alive, Doorbell Buffer Config
  ev('admin.keep-alive', 'Keep Alive', `${BASE} 5.25`, 'Keep Alive command.', 'Success (or Invalid Command Opcode when KAS = 0 and the command is not supported).', async (t: CaseContext) => {
    const kas = t.s.idc.readUInt16LE(320);
    const c = await t.admin(cmd(0x18, 0));
    if (kas || c.status === 0) t.ok(c, 'Keep Alive');
    else t.expect(c, Status.INVALID_OPCODE, 'Keep Alive without KAS');
  }, { level: 'optional' }),
  ev('admin.dbbuf.unsupported', 'Doorbell Buffer Config is rejected when not offered', `${BASE} 5.9, 5.17.2.1 (OACS bit 8)`, 'If OACS bit 8 = 0: Doorbell Buffer Config with two aligned pages.', 'Invalid Command Opcode.', async (t: CaseContext) => {
    if (t.ctrl.oacs & (1 << 8)) t.skip('shadow doorbells offered (OACS bit 8)');
    t.expect(await t.admin(cmd(0x7c, 0, { prp1: t.buf(4096), prp2: t.buf(4096) })), Status.INVALID_OPCODE, 'Doorbell Buffer Config');
  }),
  ev('admin.dbbuf.shadow-doorbells', 'Shadow doorbells carry I/O', `${BASE} 5.9`, 'If OACS bit 8: Doorbell Buffer Config with zeroed pages; create queue pair 1; 100 Reads/Writes writing the shadow doorbell, then the MMIO doorbell.', 'Config succeeds; every command completes; data matches.', async (t: CaseContext) => {
    if (!(t.ctrl.oacs & (1 << 8))) t.skip('shadow doorbells not offered (OACS bit 8 = 0; mapped doorbell mode)');
    t.dirty();
    const dbs = t.buf(4096, 0), ei = t.buf(4096, 0);
    t.ok(await t.admin(cmd(0x7c, 0, { prp1: dbs, prp2: ei })), 'Doorbell Buffer Config');
    t.q.shadowDbs = dbs;
    await t.drv.setNumberOfQueues(GRANTED_QUEUES);
    t.ok(await t.createCq(1, 16), 'Create CQ 1');
    t.ok(await t.createSq(1, 1, 16), 'Create SQ 1');
    const data = pattern(4096, 77);
    const src = t.buf(4096);
    t.write(src, data);
    for (let i = 0; i < 50; i++) t.ok(await t.q.submit(1, t.rw(0x01, BigInt(i * 8), 4096 / t.ns.blockSize, src)), `Write ${i}`);
    const dst = t.buf(4096);
    for (let i = 0; i < 50; i++) {
      t.write(dst, Buffer.alloc(4096));
      t.ok(await t.q.submit(1, t.rw(0x02, BigInt(i * 8), 4096 / t.ns.blockSize, dst)), `Read ${i}`);
      t.check(t.read(dst, 4096).equals(data), `data mismatch at ${i}`);
    }
  }, { fresh: 'bare' }),
  ev('admin.dbbuf.misaligned', 'Doorbell Buffer Config with an unaligned buffer is rejected', `${BASE} 5.9`, 'If OACS bit 8: PRP1 = page + 8.', 'Invalid Field in Command.', async (t: CaseContext) => {
    if (!(t.ctrl.oacs & (1 << 8))) t.skip('shadow doorbells not offered');
    t.expect(await t.admin(cmd(0x7c, 0, { prp1: t.buf(8192) + 8n, prp2: t.buf(4096) })), Status.INVALID_FIELD, 'misaligned shadow buffer');
    t.expect(await t.admin(cmd(0x7c, 0, { prp1: t.buf(4096), prp2: t.buf(8192) + 0x10n })), Status.INVALID_FIELD, 'misaligned EventIdx buffer');
  }, { fresh: 'bare' }),
  ev('admin.dbbuf.unmapped', 'Doorbell Buffer Config with unmapped memory is rejected', `${BASE} 5.9`, 'If OACS bit 8: PRP1 at an unmapped IOVA.', 'Invalid Field in Command (or Data Transfer Error).', async (t: CaseContext) => {
    if (!(t.ctrl.oacs & (1 << 8))) t.skip('shadow doorbells not offered');
    t.expect(await t.admin(cmd(0x7c, 0, { prp1: 0x7000000000n, prp2: t.buf(4096) })), [Status.INVALID_FIELD, Status.DATA_TRANSFER_ERROR], 'unmapped shadow buffer');
  }, { fresh: 'bare', level: 'optional' }),
  // ---------------------------------------------------------------- reset / shutdown / deletion with I/O in flight
  ev('reset.cc-en-with-io-in-flight', 'Controller reset with I/O in flight', `${BASE} 3.7.2`, 'Submit 32 Reads (slow namespace when available); at once write CC.EN=0; wait CSTS.RDY=0; re-initialize; create queue pair 1; write and read.', 'RDY=0 within CAP.TO; re-initialization works; data correct; no completion from before the reset appears on the new queues.', async (t: CaseContext) => {
    t.dirty();
    const pending = inFlight(t, 32);
    await t.setReg32(0x14, CC_VALUE & ~1);
    await t.waitCsts((v) => (v & 1) === 0, 'CSTS.RDY after CC.EN=0 with I/O in flight');
    t.q.forget('all');
    await Promise.all(pending);
    await t.s.enableAgain();
    await ioWorks(t);
  }, { fresh: 'full' }),
  ev('reset.shutdown-with-io-in-flight', 'Shutdown with I/O in flight', `${BASE} 3.6.1`, 'Submit 32 Reads; write CC.SHN=01b; wait SHST=10b; reset; re-initialize; write and read.', 'SHST=10b within CAP.TO; re-initialization works; data correct; no stale completions.', async (t: CaseContext) => {
    t.dirty();
    const pending = inFlight(t, 32);
    await t.setReg32(0x14, CC_VALUE | (1 << 14));
    await t.waitCsts((v) => ((v >> 2) & 3) === 2, 'CSTS.SHST with I/O in flight');
    t.q.forget('all');
    await Promise.all(pending);
    await t.drv.disable();
    await t.s.enableAgain();
    await ioWorks(t);
  }, { fresh: 'full' }),
  ev('admin.delete-sq.with-io-in-flight', 'Delete I/O SQ with commands in flight', `${BASE} 5.6`, 'Create CQ 2/SQ 2; submit Reads to the slow namespace on SQ 2; Delete SQ 2 at once, then CQ 2; re-create both; Read on SQ 2.', 'Deletions succeed; after Delete I/O SQ no completion for its commands appears (not even on the re-created queue); the new queue works.', async (t: CaseContext) => {
    if (!t.env.slowNsid) t.skip('needs a slow namespace (in-process target)');
    t.ok(await t.createCq(2, 16), 'Create CQ 2');
    t.ok(await t.createSq(2, 2, 16), 'Create SQ 2');
    const pending = inFlight(t, 4, 2);
    await sleep(10);
    t.ok(await t.admin(cmd(0x00, 0, { cdw10: 2 })), 'Delete SQ 2');
    t.q.forget('sq', 2);
    t.ok(await t.admin(cmd(0x04, 0, { cdw10: 2 })), 'Delete CQ 2');
    t.q.forget('cq', 2);
    await Promise.all(pending);
    t.ok(await t.createCq(2, 16), 'Create CQ 2 again');
    t.ok(await t.createSq(2, 2, 16), 'Create SQ 2 again');
    await t.q.settle(300);
    t.check(t.q.stray.length === 0, `${t.q.stray.length} completion(s) for commands of the deleted SQ appeared`);
    t.ok(await t.io(t.rw(0x02, 0n, 1, t.buf(t.ns.blockSize)), 2), 'Read on the new SQ 2');
    t.ok(await t.admin(cmd(0x00, 0, { cdw10: 2 })), 'Delete SQ 2');
    t.q.forget('sq', 2);
    t.ok(await t.admin(cmd(0x04, 0, { cdw10: 2 })), 'Delete CQ 2');
    t.q.forget('cq', 2);
  }, { fresh: 'full' }),
];

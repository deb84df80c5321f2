// Asynchronous events (NVMe Base 2.0 5.2): the outstanding Asynchronous Event Request commands,
// the events waiting for one, and the event types masked until the host reads their log page.
// At most one event waits per (type, log page): what happened meanwhile is in the log, so the
// queue is bounded however often an event recurs.
import { AsyncEvent, LogPage, NvmeError, Status } from './constants.js';

/** The record carried across live migration. */
export interface AsyncEventState {
  aers: number[];
  pending: number[];
  masked: number[];
}

/** Which log page clears the mask of each event type. */
const LOG_OF_TYPE = new Map<number, number>([
  [AsyncEvent.TYPE_ERROR, LogPage.ERROR],
  [AsyncEvent.TYPE_SMART, LogPage.SMART],
  [AsyncEvent.TYPE_NOTICE, LogPage.CHANGED_NS_LIST],
  [AsyncEvent.TYPE_IO, LogPage.RESERVATION_NOTIFICATION],
]);

export class AsyncEventQueue {
  /** Outstanding Asynchronous Event Request command ids. */
  private aers: number[] = [];
  /** Events waiting for an AER (completion dword 0 values). */
  private pending: number[] = [];
  /** Event types reported and masked until their log page is read with RAE=0. */
  private masked = new Set<number>();

  /** `complete(cid, status, dw0)` posts an AER's completion on the admin CQ. */
  constructor(
    private readonly complete: (cid: number, status: number, dw0: number) => void,
    /** Asynchronous Event Request Limit (Identify AERL + 1). */
    readonly limit = 4,
  ) {}

  get outstanding(): number {
    return this.aers.length;
  }
  get waiting(): number {
    return this.pending.length;
  }

  /** An AER command arrived; it completes when an unmasked event is (or becomes) waiting. */
  request(cid: number): void {
    if (this.aers.length >= this.limit) throw new NvmeError(Status.ASYNC_EVENT_LIMIT_EXCEEDED);
    this.aers.push(cid);
  }

  /** Abort of an outstanding AER: completed with Command Abort Requested. */
  abort(cid: number): boolean {
    const i = this.aers.indexOf(cid);
    if (i < 0) return false;
    this.aers.splice(i, 1);
    this.complete(cid, Status.ABORT_REQUESTED, 0);
    return true;
  }

  /** Raises an event; one already waiting for the same type and log page absorbs it. */
  raise(type: number, info: number, logPage: number): void {
    const dw0 = (type | (info << 8) | (logPage << 16)) >>> 0;
    if (!this.pending.some((e) => (e & 7) === type && ((e >>> 16) & 0xff) === logPage)) this.pending.push(dw0);
    this.deliver();
  }

  /**
   * Reading a log page with RAE=0 unmasks the event type it reports; an event of that type
   * that arrived while masked (coalesced into one) then goes to the next AER.
   */
  logPageRead(logId: number): void {
    for (const t of [...this.masked]) if (LOG_OF_TYPE.get(t) === logId) this.masked.delete(t);
    this.deliver();
  }

  /** Completes AERs with waiting, unmasked events. */
  deliver(): void {
    while (this.aers.length) {
      const i = this.pending.findIndex((e) => !this.masked.has(e & 7));
      if (i < 0) return;
      const dw0 = this.pending.splice(i, 1)[0]!;
      this.masked.add(dw0 & 7);
      this.complete(this.aers.shift()!, Status.SUCCESS, dw0);
    }
  }

  /** Controller reset: outstanding AERs are dropped with the admin queue, events forgotten. */
  reset(): void {
    this.aers = [];
    this.pending = [];
    this.masked.clear();
  }

  snapshot(): AsyncEventState {
    return { aers: [...this.aers], pending: [...this.pending], masked: [...this.masked] };
  }

  restore(s: AsyncEventState): void {
    this.aers = [...s.aers];
    this.pending = [...s.pending];
    this.masked = new Set(s.masked);
  }
}

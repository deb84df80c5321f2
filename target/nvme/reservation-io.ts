// One controller's side of reservations (the shared state is reservations.ts): the Reservation
// commands its engine hands up (upcall IO_COMMAND), the Reservation Notification log page (80h)
// with its event, the Reservation Notification Mask (Feature 82h) and Reservation Persistence
// (Feature 83h), and pushing what its host may not do into its engine.
import { AsyncEvent, Feature, IoOpcode, LogPage, NvmeError, PAGE_SIZE, Status } from './constants.js';
import type { NvmeController } from './controller.js';
import { commandSegments, gather, scatter } from './transfer.js';
import { hostIdentity, ReservationDomain, type HostIdentity, type ReservationMember } from './reservations.js';

/** Entries the Reservation Notification log keeps for the host (SPDK: 255; Number of Available Log Pages is 8 bits). */
export const MAX_NOTICES = 255;

/** What the device-state record carries of a controller's reservation side. */
export interface ControllerReservationState {
  /** Log Page Count of the last entry made. */
  count: bigint;
  notices: { count: bigint; type: number; nsid: number }[];
  /** Reservation Notification Mask: the value for every namespace, and those set one by one. */
  defaultMask: number;
  masks: [number, number][];
}

const MASK_BITS = 0xe; // REGPRE (1), RESREL (2), RESPRE (3)

export class ControllerReservations implements ReservationMember {
  private count = 0n;
  private notices: { count: bigint; type: number; nsid: number }[] = [];
  private defaultMask = 0;
  private masks = new Map<number, number>();

  constructor(
    private readonly c: NvmeController,
    readonly domain: ReservationDomain,
  ) {
    domain.join(this);
  }

  get cntlid(): number {
    return this.c.opts.identity.cntlid;
  }

  host(): HostIdentity {
    return hostIdentity(this.c.features.hostId, this.c.features.hostIdExtended, this.cntlid);
  }

  reservationChanged(nsid: number): void {
    this.c.pushReservationAccess(nsid);
  }

  /** What the engine must refuse this controller's host for the namespace (0: nothing). */
  blocks(nsid: number): number {
    return this.domain.blocksFor(this.host().key, nsid);
  }

  /**
   * A notice for the host (NVMe Base 2.0 5.16.1.21): an entry unless the namespace's mask hides
   * its type, and the event (I/O Command Specific, Reservation Log Page Available, log 80h).
   * The log is bounded: past MAX_NOTICES waiting entries the newest one's Log Page Count moves
   * on instead, so the host sees how many it missed (as SPDK).
   */
  reservationNotice(nsid: number, type: number): void {
    if (this.maskOf(nsid) & (1 << type)) return;
    this.count = this.count === 0xffffffffffffffffn ? 1n : this.count + 1n; // 0 means an empty log
    if (this.notices.length >= MAX_NOTICES) {
      this.notices[this.notices.length - 1]!.count = this.count;
      return;
    }
    this.notices.push({ count: this.count, type, nsid });
    this.c.asyncEvent(AsyncEvent.TYPE_IO, AsyncEvent.IO_RESERVATION_LOG_AVAILABLE, LogPage.RESERVATION_NOTIFICATION);
  }

  /** Log page 80h (64 bytes): the oldest waiting entry, and how many more wait (0 and zeroes: none). */
  logPage(): Buffer {
    const b = Buffer.alloc(64);
    const e = this.notices[0];
    if (!e) return b;
    b.writeBigUInt64LE(e.count, 0); // Log Page Count
    b[8] = e.type; // Reservation Notification Log Page Type
    b[9] = Math.min(255, this.notices.length - 1); // Number of Available Log Pages (after this one)
    b.writeUInt32LE(e.nsid >>> 0, 12); // Namespace ID
    return b;
  }

  /** The entry logPage() returned has been read: the next one is returned next time. */
  logPageRead(): void {
    this.notices.shift();
  }

  get waitingNotices(): number {
    return this.notices.length;
  }

  private maskOf(nsid: number): number {
    return this.masks.get(nsid) ?? this.defaultMask;
  }

  /** Controller Level Reset: features to defaults (the log and the reservations stay). */
  resetFeatures(): void {
    this.defaultMask = 0;
    this.masks.clear();
  }

  close(): void {
    this.domain.leave(this);
  }

  // ------------------------------------------------------------------ features 82h, 83h

  /** The namespace a namespace-specific feature names: an active one (SPDK: Invalid Field otherwise). */
  private activeNsid(nsid: number): number {
    if (!this.c.namespaces.has(nsid)) throw new NvmeError(Status.INVALID_FIELD, `NSID ${nsid} is not an active namespace`);
    return nsid;
  }

  getFeature(fid: number, nsid: number, sel: number): number {
    if (sel === 3) return 0x6; // namespace specific, changeable, not saveable
    const current = sel === 0;
    if (fid === Feature.RESERVATION_NOTIFICATION_MASK) return current ? this.maskOf(this.activeNsid(nsid)) : (this.activeNsid(nsid), 0);
    return current ? (this.domain.of(this.activeNsid(nsid)).ptpl ? 1 : 0) : (this.activeNsid(nsid), 0);
  }

  /** Set Features 82h (CDW11 REGPRE/RESREL/RESPRE) or 83h (CDW11 bit 0 PTPL); NSID FFFFFFFFh: every namespace. */
  setFeature(fid: number, nsid: number, dw11: number): number {
    const all = nsid === 0xffffffff;
    if (fid === Feature.RESERVATION_NOTIFICATION_MASK) {
      if (all) {
        this.defaultMask = dw11 & MASK_BITS;
        this.masks.clear();
      } else this.masks.set(this.activeNsid(nsid), dw11 & MASK_BITS);
      return 0;
    }
    const on = (dw11 & 1) === 1;
    if (all) {
      // As SPDK: each namespace that can persist takes it; the others are left as they are.
      for (const id of this.c.namespaces.keys()) if (this.domain.ptplCapable(id)) this.domain.setPtpl(id, on);
    } else this.domain.setPtpl(this.activeNsid(nsid), on);
    return 0;
  }

  /** Set Features 81h may not change the Host Identifier of a host that is registered (Command Sequence Error). */
  checkHostIdChange(id: Buffer, extended: boolean): void {
    const now = this.host();
    const next = hostIdentity(id, extended, this.cntlid);
    if (next.key !== now.key && this.domain.registered(now.key))
      throw new NvmeError(Status.COMMAND_SEQUENCE_ERROR, 'the Host Identifier of a registered host cannot change');
  }

  hostChanged(): void {
    this.domain.hostChanged(this);
  }

  // ------------------------------------------------------------------ the commands

  /**
   * A Reservation command from I/O SQ `sqid`; posts its completion. Every field is checked
   * before the state changes; the data is read whole first (a short buffer fails the walk).
   */
  async execute(sqid: number, sqe: Buffer): Promise<void> {
    const c = this.c;
    const cid = sqe.readUInt16LE(2);
    const nsid = sqe.readUInt32LE(4);
    const cdw10 = sqe.readUInt32LE(40);
    const cdw11 = sqe.readUInt32LE(44);
    const key = `${sqid}:${cid}`;
    let dropped = false;
    // Reset or Delete I/O SQ meanwhile: nothing may be posted for it (as io.ts). An Abort is
    // not honoured (SPDK does not abort reservation commands either).
    const entry = { abort: (how: 'requested' | 'dropped') => void (how === 'dropped' && (dropped = true)) };
    c.inflightIo.set(key, entry);
    let st: number = Status.SUCCESS;
    try {
      if (!c.namespaces.has(nsid)) throw new NvmeError(Status.INVALID_NAMESPACE, `NSID ${nsid}`); // detached meanwhile
      const dma = c.ctx?.dma;
      if (!dma) throw new NvmeError(Status.DATA_TRANSFER_ERROR, 'no client memory');
      const fromHost = async (len: number) => gather(dma, await commandSegments(dma, sqe, len, false, true));
      switch (sqe[0]) {
        case IoOpcode.RESERVATION_REGISTER: {
          // CDW10: RREGA 2:0, IEKEY 3, CPTPL 31:30; data: CRKEY, NRKEY (NVMe Base 2.0 7.3).
          const d = await fromHost(16);
          this.domain.register(this, nsid, { rrega: cdw10 & 7, iekey: (cdw10 & 8) !== 0, cptpl: cdw10 >>> 30, crkey: d.readBigUInt64LE(0), nrkey: d.readBigUInt64LE(8) });
          break;
        }
        case IoOpcode.RESERVATION_ACQUIRE: {
          // CDW10: RACQA 2:0, IEKEY 3, RTYPE 15:8; data: CRKEY, PRKEY (7.2).
          const d = await fromHost(16);
          this.domain.acquire(this, nsid, { racqa: cdw10 & 7, iekey: (cdw10 & 8) !== 0, rtype: (cdw10 >> 8) & 0xff, crkey: d.readBigUInt64LE(0), prkey: d.readBigUInt64LE(8) });
          break;
        }
        case IoOpcode.RESERVATION_RELEASE: {
          // CDW10: RRELA 2:0, IEKEY 3, RTYPE 15:8; data: CRKEY (7.4).
          const d = await fromHost(8);
          this.domain.release(this, nsid, { rrela: cdw10 & 7, iekey: (cdw10 & 8) !== 0, rtype: (cdw10 >> 8) & 0xff, crkey: d.readBigUInt64LE(0) });
          break;
        }
        case IoOpcode.RESERVATION_REPORT: {
          // CDW10: NUMD (0's based dwords, all 32 bits); CDW11 bit 0 EDS (7.5). The structure is
          // cut to NUMD dwords or padded with zeroes; more than MDTS is Invalid Field.
          const len = ((cdw10 >>> 0) + 1) * 4;
          const max = PAGE_SIZE * 2 ** c.opts.identity.mdts;
          if (len > max) throw new NvmeError(Status.INVALID_FIELD, `NUMD ${cdw10 >>> 0}: ${len} bytes exceed MDTS (${max})`);
          const out = Buffer.alloc(len);
          this.domain.report(this, nsid, (cdw11 & 1) === 1).copy(out, 0, 0, len);
          await scatter(dma, await commandSegments(dma, sqe, len, true, true), out);
          break;
        }
        default:
          throw new NvmeError(Status.INVALID_OPCODE, `opcode 0x${sqe[0]!.toString(16)}`);
      }
    } catch (err) {
      if (err instanceof NvmeError) st = err.status;
      else {
        c.log.error('reservation command failed internally', { error: (err as Error).message });
        st = Status.INTERNAL_ERROR;
      }
    }
    if (c.inflightIo.get(key) === entry) c.inflightIo.delete(key);
    if (dropped || !c.sqs.has(sqid)) return;
    if (st !== Status.SUCCESS) c.errorLog.record({ sqid, cid, status: st, paramLocation: 0xffff, lba: 0n, nsid });
    try {
      c.io.complete(sqid, cid, st, 0);
    } catch {
      /* controller gone */
    }
  }

  // ------------------------------------------------------------------ migration

  snapshot(): ControllerReservationState {
    return { count: this.count, notices: this.notices.map((n) => ({ ...n })), defaultMask: this.defaultMask, masks: [...this.masks.entries()] };
  }

  restore(s: ControllerReservationState): void {
    this.count = s.count;
    this.notices = s.notices.slice(0, MAX_NOTICES).map((n) => ({ ...n }));
    this.defaultMask = s.defaultMask & MASK_BITS;
    this.masks = new Map(s.masks.map(([n, m]) => [n, m & MASK_BITS]));
  }
}

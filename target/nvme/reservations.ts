// Reservations (NVMe Base 2.0 8.19; the commands 7.2-7.5: Reservation Register 0Dh, Report 0Eh,
// Acquire 11h, Release 15h): the per-namespace state every controller of an NVM subsystem
// shares, as one ReservationDomain per subsystem. Behaviour follows SPDK's lib/nvmf/subsystem.c
// (nvmf_ns_reservation_*) on the wire, with the differences named where they are.
//
// Where things live, and why:
//   - The state (registrants, keys, type, holder, generation, PTPL) is here, on the JS thread:
//     every controller's Reservation commands come up from its engine (upcall IO_COMMAND) and
//     run here one at a time, each change synchronous, so there is no lock and no ordering
//     question between controllers.
//   - The I/O path never comes here. Each controller's engine holds one byte per namespace:
//     what *its* host may not do now (blocksFor(): the read and/or the write command group).
//     After every change the domain tells each controller, which stores that byte atomically
//     (engine.setReservationAccess) before the command that made the change completes, so a
//     host that saw the completion (or the notification it caused) is judged by the new state.
//   - A host is its Host Identifier (Set Features 81h; 64-bit, or 128-bit with EXHID): two
//     controllers with the same one are one host and share its registration. A controller whose
//     Host Identifier is zero (never set: the Linux PCIe driver sets none) is a host of its own,
//     known by its controller ID, so two guests that never set one are still two hosts.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { native } from '../../native/index.js';
import { NvmeError, Status } from './constants.js';

/** Reservation types (RTYPE, NVMe Base 2.0 Figure "Reservation Type Encoding"). */
export const ReservationType = {
  WRITE_EXCLUSIVE: 1,
  EXCLUSIVE_ACCESS: 2,
  WRITE_EXCLUSIVE_REGISTRANTS_ONLY: 3,
  EXCLUSIVE_ACCESS_REGISTRANTS_ONLY: 4,
  WRITE_EXCLUSIVE_ALL_REGISTRANTS: 5,
  EXCLUSIVE_ACCESS_ALL_REGISTRANTS: 6,
} as const;

/** Reservation Notification log page types (Figure "Reservation Notification Log Page"). */
export const NoticeType = { REGISTRATION_PREEMPTED: 1, RESERVATION_RELEASED: 2, RESERVATION_PREEMPTED: 3 } as const;

/** Registrants a namespace keeps (SPDK: SPDK_NVMF_MAX_NUM_REGISTRANTS, 16); one more is Internal Error, as SPDK. */
export const MAX_REGISTRANTS = 16;

/** Identify Namespace RESCAP (byte 31): every type (bits 1-6), IEKEY_X (bit 7), PTPL (bit 0) if the namespace persists. */
export function reservationCapabilities(ptpl: boolean): number {
  return 0xfe | (ptpl ? 1 : 0);
}

/** A host as reservations know it. */
export interface HostIdentity {
  /** What tells hosts apart: the Host Identifier's format and value, or `cntlid:N` when it is zero. */
  key: string;
  /** The Host Identifier as set (8 or 16 bytes; zeros when not set). */
  id: Buffer;
  extended: boolean;
}

export function hostIdentity(id: Buffer, extended: boolean, cntlid: number): HostIdentity {
  const bytes = Buffer.from(id.subarray(0, extended ? 16 : 8));
  const zero = bytes.every((b) => b === 0);
  return { key: zero ? `cntlid:${cntlid}` : `${extended ? 'hostid128' : 'hostid64'}:${bytes.toString('hex')}`, id: bytes, extended };
}

export interface Registrant {
  host: string;
  hostId: Buffer;
  extended: boolean;
  key: bigint;
  /** The controller it registered through (Report's CNTLID; FFFFh when loaded from a PTPL file, as SPDK). */
  cntlid: number;
}

export interface NamespaceReservation {
  /** Generation (Report GEN, 32 bits): counts registration changes. */
  generation: number;
  /** RTYPE, 0 when there is no reservation. */
  type: number;
  /** The holder's host key for types 1-4 (for 5 and 6 every registrant holds it). */
  holder: string | null;
  registrants: Registrant[];
  /** Persist Through Power Loss is on (Reservation Persistence, Register CPTPL). */
  ptpl: boolean;
}

/** One controller of the subsystem, as the domain sees it (target/nvme/reservation-io.ts). */
export interface ReservationMember {
  readonly cntlid: number;
  host(): HostIdentity;
  /** The namespace's reservation changed: push blocksFor() to the engine. */
  reservationChanged(nsid: number): void;
  /** A Reservation Notification log entry for the namespace (subject to the controller's mask). */
  reservationNotice(nsid: number, type: number): void;
}

const allRegistrants = (type: number) => type === ReservationType.WRITE_EXCLUSIVE_ALL_REGISTRANTS || type === ReservationType.EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
const BLOCKS_READ = native.constants.reservation.BLOCKS_READ;
const BLOCKS_WRITE = native.constants.reservation.BLOCKS_WRITE;

/** The serialisable state of a domain (migration and PTPL files). */
export interface ReservationSnapshot {
  nsid: number;
  generation: number;
  type: number;
  holder: string | null;
  ptpl: boolean;
  registrants: { host: string; hostId: string; extended: boolean; key: bigint; cntlid: number }[];
}

export class ReservationDomain {
  private readonly members = new Set<ReservationMember>();
  private readonly state = new Map<number, NamespaceReservation>();
  /** Namespaces whose reservations may persist through power loss: their file (SPDK's ptpl_file). */
  private readonly persistence = new Map<number, { file: string; bdevUuid: string }>();

  constructor(private readonly log: (msg: string, extra?: Record<string, unknown>) => void = () => {}) {}

  join(m: ReservationMember): void {
    this.members.add(m);
  }
  leave(m: ReservationMember): void {
    this.members.delete(m);
  }

  /** The namespace's state (none yet: no registrants, no reservation). */
  of(nsid: number): NamespaceReservation {
    let r = this.state.get(nsid);
    if (!r) this.state.set(nsid, (r = { generation: 0, type: 0, holder: null, registrants: [], ptpl: false }));
    return r;
  }

  /** The namespace left the subsystem: its reservation goes with it (a new one of that NSID starts clean). */
  forget(nsid: number): void {
    this.state.delete(nsid);
    this.persistence.delete(nsid);
    this.changed(nsid);
  }

  /**
   * nvmf_subsystem_add_ns's ptpl_file: the namespace may persist its reservations there (RESCAP
   * PTPL); a file of an earlier run with PTPL on is loaded (SPDK's nvmf_ns_reservation_restore:
   * refused when it names another bdev).
   */
  setPersistence(nsid: number, file: string, bdevUuid: string): void {
    this.persistence.set(nsid, { file, bdevUuid });
    try {
      const loaded = loadPtplFile(file, bdevUuid);
      if (loaded) {
        this.state.set(nsid, loaded);
        this.changed(nsid);
      }
    } catch (err) {
      this.log('reservation persistence file not loaded', { nsid, file, error: (err as Error).message });
    }
  }

  ptplCapable(nsid: number): boolean {
    return this.persistence.has(nsid);
  }

  /** Whether the host is a registrant of any namespace (its Host Identifier may then not change). */
  registered(host: string): boolean {
    for (const r of this.state.values()) if (r.registrants.some((g) => g.host === host)) return true;
    return false;
  }

  isHolder(r: NamespaceReservation, host: string): boolean {
    if (!r.type) return false;
    if (allRegistrants(r.type)) return r.registrants.some((g) => g.host === host);
    return r.holder === host;
  }

  /**
   * What `host` may not do to the namespace now: NVMe Base 2.0 Figure "Command Behavior in the
   * Presence of a Reservation". The holder may do everything; otherwise by type: Write
   * Exclusive lets everyone read; Exclusive Access lets no one else in; the Registrants Only
   * and All Registrants types treat registrants as the holder and others as WE/EA do.
   */
  blocksFor(host: string, nsid: number): number {
    const r = this.state.get(nsid);
    if (!r || !r.type || this.isHolder(r, host)) return 0;
    const registrant = r.registrants.some((g) => g.host === host);
    switch (r.type) {
      case ReservationType.WRITE_EXCLUSIVE:
        return BLOCKS_WRITE;
      case ReservationType.EXCLUSIVE_ACCESS:
        return BLOCKS_READ | BLOCKS_WRITE;
      case ReservationType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY:
      case ReservationType.WRITE_EXCLUSIVE_ALL_REGISTRANTS:
        return registrant ? 0 : BLOCKS_WRITE;
      default:
        return registrant ? 0 : BLOCKS_READ | BLOCKS_WRITE;
    }
  }

  /** Every controller's engine gets the namespace's new access; the PTPL file follows when on. */
  private changed(nsid: number, persist = false): void {
    for (const m of this.members) m.reservationChanged(nsid);
    const p = this.persistence.get(nsid);
    const r = this.state.get(nsid);
    if (p && persist) storePtplFile(p.file, p.bdevUuid, r && r.ptpl ? r : null);
  }

  /** Each controller of these hosts (but `except`'s) gets a log entry of `type` for the namespace. */
  private notify(hosts: Iterable<string>, nsid: number, type: number): void {
    const set = new Set(hosts);
    for (const m of this.members) if (set.has(m.host().key)) m.reservationNotice(nsid, type);
  }

  private others(r: NamespaceReservation, host: string): string[] {
    return r.registrants.filter((g) => g.host !== host).map((g) => g.host);
  }

  private remove(r: NamespaceReservation, g: Registrant): void {
    r.registrants.splice(r.registrants.indexOf(g), 1);
    r.generation = (r.generation + 1) >>> 0;
    // The holder gone: the reservation is released, except that an All Registrants reservation
    // lasts while any registrant is left (8.19.7: "until the last registrant unregisters").
    if (!r.type) return;
    if (allRegistrants(r.type) ? r.registrants.length === 0 : r.holder === g.host) {
      r.type = 0;
      r.holder = null;
    }
  }

  private add(r: NamespaceReservation, who: HostIdentity, cntlid: number, key: bigint): void {
    if (r.registrants.length >= MAX_REGISTRANTS) throw new NvmeError(Status.INTERNAL_ERROR, `namespace already has ${MAX_REGISTRANTS} registrants`);
    r.registrants.push({ host: who.key, hostId: Buffer.from(who.id), extended: who.extended, key, cntlid });
    r.generation = (r.generation + 1) >>> 0;
  }

  /**
   * Reservation Register (7.3): RREGA 000b register NRKEY, 001b unregister, 010b replace the key
   * with NRKEY; IEKEY skips the CRKEY check; CPTPL 10b/11b turns PTPL off/on (01b reserved).
   */
  register(m: ReservationMember, nsid: number, f: { rrega: number; iekey: boolean; cptpl: number; crkey: bigint; nrkey: bigint }): void {
    const r = this.of(nsid);
    const who = m.host();
    if (f.rrega > 2) throw new NvmeError(Status.INVALID_FIELD, `RREGA ${f.rrega}`);
    if (f.cptpl === 1) throw new NvmeError(Status.INVALID_FIELD, 'CPTPL 01b is reserved');
    if (f.cptpl === 3 && !this.ptplCapable(nsid)) throw new NvmeError(Status.INVALID_FIELD, 'CPTPL 11b: the namespace cannot persist reservations (RESCAP PTPL 0)');
    const g = r.registrants.find((x) => x.host === who.key);
    // Every check before any change: a failed command changes nothing (PTPL included).
    if (f.rrega === 0) {
      if (g && g.key !== f.nrkey) throw new NvmeError(Status.RESERVATION_CONFLICT, 'registered already with another key');
      if (!g && f.nrkey === 0n) throw new NvmeError(Status.INVALID_FIELD, 'NRKEY 0');
    } else if (f.rrega === 1) {
      if (!g || (!f.iekey && g.key !== f.crkey)) throw new NvmeError(Status.RESERVATION_CONFLICT, g ? 'CRKEY does not match' : 'not a registrant');
    } else {
      if (f.nrkey === 0n) throw new NvmeError(Status.INVALID_FIELD, 'NRKEY 0');
      if (g ? !f.iekey && g.key !== f.crkey : !f.iekey) throw new NvmeError(Status.RESERVATION_CONFLICT, g ? 'CRKEY does not match' : 'not a registrant');
    }
    if (f.cptpl === 2) r.ptpl = false;
    if (f.cptpl === 3) r.ptpl = true;
    if (f.rrega === 0) {
      if (!g) this.add(r, who, m.cntlid, f.nrkey);
    } else if (f.rrega === 1) {
      const type = r.type;
      const others = this.others(r, who.key);
      this.remove(r, g!);
      // The holder of a Registrants Only reservation unregistered: released; the other
      // registrants are told (8.19.6; SPDK likewise).
      if (!r.type && type && (type === ReservationType.WRITE_EXCLUSIVE_REGISTRANTS_ONLY || type === ReservationType.EXCLUSIVE_ACCESS_REGISTRANTS_ONLY))
        this.notify(others, nsid, NoticeType.RESERVATION_RELEASED);
    } else if (g) {
      if (g.key !== f.nrkey) {
        g.key = f.nrkey;
        r.generation = (r.generation + 1) >>> 0;
      }
    } else this.add(r, who, m.cntlid, f.nrkey);
    this.changed(nsid, true);
  }

  /**
   * Reservation Acquire (7.2): RACQA 000b acquire, 001b preempt, 010b preempt and abort (here a
   * preempt: the preempted hosts' commands in flight are not aborted; SPDK waits for them, we
   * complete them as they finish). IEKEY is Invalid Field, as SPDK.
   */
  acquire(m: ReservationMember, nsid: number, f: { racqa: number; iekey: boolean; rtype: number; crkey: bigint; prkey: bigint }): void {
    const r = this.of(nsid);
    const who = m.host();
    if (f.racqa > 2) throw new NvmeError(Status.INVALID_FIELD, `RACQA ${f.racqa}`);
    if (f.iekey) throw new NvmeError(Status.INVALID_FIELD, 'IEKEY in Reservation Acquire');
    if (f.rtype < 1 || f.rtype > 6) throw new NvmeError(Status.INVALID_FIELD, `RTYPE ${f.rtype}`);
    const g = r.registrants.find((x) => x.host === who.key);
    if (!g || g.key !== f.crkey) throw new NvmeError(Status.RESERVATION_CONFLICT, g ? 'CRKEY does not match' : 'not a registrant');
    if (f.racqa === 0) {
      if (this.isHolder(r, who.key) && r.type === f.rtype) return; // acquiring what it holds: success, no change
      if (r.type) throw new NvmeError(Status.RESERVATION_CONFLICT, `namespace ${nsid} is reserved (RTYPE ${r.type})`);
      r.type = f.rtype;
      r.holder = allRegistrants(f.rtype) ? null : who.key;
      return this.changed(nsid, true);
    }
    // Preempt (8.19.5). The issuer is never unregistered by its own preempt.
    const before = this.others(r, who.key);
    let released = false;
    const removeByKey = (key: bigint) => {
      const gone = r.registrants.filter((x) => x.key === key && x.host !== who.key);
      for (const x of gone) this.remove(r, x);
      return gone.length;
    };
    if (!r.type) {
      // No reservation: the registrants with PRKEY are unregistered.
      if (!removeByKey(f.prkey)) throw new NvmeError(Status.RESERVATION_CONFLICT, 'PRKEY matches no registrant');
    } else if (allRegistrants(r.type)) {
      if (f.prkey === 0n) {
        // Every other registrant goes, and the reservation becomes RTYPE held by the issuer.
        for (const x of r.registrants.filter((y) => y.host !== who.key)) this.remove(r, x);
        r.type = f.rtype;
        r.holder = allRegistrants(f.rtype) ? null : who.key;
        released = true;
      } else if (!removeByKey(f.prkey)) throw new NvmeError(Status.RESERVATION_CONFLICT, 'PRKEY matches no registrant');
    } else {
      const holder = r.registrants.find((x) => x.host === r.holder);
      if (holder && holder.key === f.prkey) {
        // PRKEY is the holder's: its registration (and every other with that key) goes, and the
        // issuer holds a reservation of RTYPE (preempting itself changes only the type).
        removeByKey(f.prkey);
        r.type = f.rtype;
        r.holder = allRegistrants(f.rtype) ? null : who.key;
        released = true;
      } else if (f.prkey === 0n) {
        throw new NvmeError(Status.RESERVATION_CONFLICT, 'PRKEY 0 with a reservation holder');
      } else if (!removeByKey(f.prkey)) throw new NvmeError(Status.RESERVATION_CONFLICT, 'PRKEY matches no registrant');
    }
    const after = new Set(this.others(r, who.key));
    // Those unregistered: Registration Preempted; the registrants left, when the reservation
    // changed hands or type: Reservation Released (SPDK's notices for a preempt).
    this.notify(
      before.filter((h) => !after.has(h)),
      nsid,
      NoticeType.REGISTRATION_PREEMPTED,
    );
    if (released) this.notify(after, nsid, NoticeType.RESERVATION_RELEASED);
    this.changed(nsid, true);
  }

  /** Reservation Release (7.4): RRELA 000b release (RTYPE must match), 001b clear. IEKEY is Invalid Field, as SPDK. */
  release(m: ReservationMember, nsid: number, f: { rrela: number; iekey: boolean; rtype: number; crkey: bigint }): void {
    const r = this.of(nsid);
    const who = m.host();
    if (f.rrela > 1) throw new NvmeError(Status.INVALID_FIELD, `RRELA ${f.rrela}`);
    if (f.iekey) throw new NvmeError(Status.INVALID_FIELD, 'IEKEY in Reservation Release');
    const g = r.registrants.find((x) => x.host === who.key);
    if (!g || g.key !== f.crkey) throw new NvmeError(Status.RESERVATION_CONFLICT, g ? 'CRKEY does not match' : 'not a registrant');
    const others = this.others(r, who.key);
    if (f.rrela === 0) {
      if (!r.type) return; // nothing to release: success
      if (r.type !== f.rtype) throw new NvmeError(Status.INVALID_FIELD, `RTYPE ${f.rtype} is not the reservation's (${r.type})`);
      if (!this.isHolder(r, who.key)) return; // a registrant that does not hold it: success, no change
      const type = r.type;
      r.type = 0;
      r.holder = null;
      // Others had no access under WE/EA without being the holder... they gain it, but only
      // the other types' registrants are told (8.19.6; SPDK likewise).
      if (type !== ReservationType.WRITE_EXCLUSIVE && type !== ReservationType.EXCLUSIVE_ACCESS) this.notify(others, nsid, NoticeType.RESERVATION_RELEASED);
      return this.changed(nsid, true);
    }
    // Clear: every registration and the reservation go; the others are told they were preempted.
    r.registrants = [];
    r.type = 0;
    r.holder = null;
    r.generation = (r.generation + 1) >>> 0;
    this.notify(others, nsid, NoticeType.RESERVATION_PREEMPTED);
    this.changed(nsid, true);
  }

  /** Reservation Persistence (Set Features 83h): PTPL on or off; Invalid Field to turn on what cannot persist. */
  setPtpl(nsid: number, on: boolean): void {
    if (on && !this.ptplCapable(nsid)) throw new NvmeError(Status.INVALID_FIELD, `namespace ${nsid} cannot persist reservations (RESCAP PTPL 0)`);
    const r = this.of(nsid);
    if (r.ptpl === on) return;
    r.ptpl = on;
    this.changed(nsid, true);
  }

  /**
   * The Reservation Status data structure (7.5, Figures "Reservation Status Data Structure" and
   * its extended form): one Registered Controller entry per registrant, with the controller it
   * registered through, as SPDK reports it. Extended (EDS): 64-byte header and entries with
   * 128-bit Host Identifiers; otherwise 24-byte header and entries with 64-bit ones, which
   * cannot carry a 128-bit one: Host Identifier Inconsistent Format when one is in use.
   */
  report(m: ReservationMember, nsid: number, eds: boolean): Buffer {
    const r = this.of(nsid);
    if (!eds && (m.host().extended || r.registrants.some((g) => g.extended)))
      throw new NvmeError(Status.HOST_IDENTIFIER_INCONSISTENT_FORMAT, 'EDS 0 while a 128-bit Host Identifier is in use');
    const head = eds ? 64 : 24;
    const entry = eds ? 64 : 24;
    const b = Buffer.alloc(head + entry * r.registrants.length);
    b.writeUInt32LE(r.generation >>> 0, 0); // GEN
    b[4] = r.type; // RTYPE
    b.writeUInt16LE(r.registrants.length, 5); // REGCTL
    b[9] = r.ptpl ? 1 : 0; // PTPLS
    r.registrants.forEach((g, i) => {
      const o = head + entry * i;
      b.writeUInt16LE(g.cntlid, o); // CNTLID
      b[o + 2] = this.isHolder(r, g.host) ? 1 : 0; // RCSTS bit 0: holds the reservation
      if (eds) {
        b.writeBigUInt64LE(g.key, o + 8); // RKEY
        g.hostId.copy(b, o + 16, 0, Math.min(16, g.hostId.length)); // HOSTID (128 bits)
      } else {
        g.hostId.copy(b, o + 8, 0, Math.min(8, g.hostId.length)); // HOSTID (64 bits)
        b.writeBigUInt64LE(g.key, o + 16); // RKEY
      }
    });
    return b;
  }

  /** Every namespace's state, for the device-state record. */
  snapshot(): ReservationSnapshot[] {
    return [...this.state.entries()]
      .filter(([, r]) => r.type || r.registrants.length || r.ptpl || r.generation)
      .map(([nsid, r]) => toSnapshot(nsid, r));
  }

  /**
   * A migrated controller's subsystem on the destination takes the source's reservations (its
   * namespaces must be there). Replaces the namespaces the record names; others stay.
   */
  restore(list: ReservationSnapshot[]): void {
    for (const s of list) {
      this.state.set(s.nsid, fromSnapshot(s));
      this.changed(s.nsid, true);
    }
  }

  /** A controller's host changed (Host Identifier set): its engines need the new access. */
  hostChanged(m: ReservationMember): void {
    for (const nsid of this.state.keys()) m.reservationChanged(nsid);
  }
}

function toSnapshot(nsid: number, r: NamespaceReservation): ReservationSnapshot {
  return {
    nsid,
    generation: r.generation,
    type: r.type,
    holder: r.holder,
    ptpl: r.ptpl,
    registrants: r.registrants.map((g) => ({ host: g.host, hostId: g.hostId.toString('hex'), extended: g.extended, key: g.key, cntlid: g.cntlid })),
  };
}

function fromSnapshot(s: ReservationSnapshot): NamespaceReservation {
  return {
    generation: s.generation >>> 0,
    type: s.type,
    holder: s.holder,
    ptpl: s.ptpl,
    registrants: s.registrants.slice(0, MAX_REGISTRANTS).map((g) => ({ host: g.host, hostId: Buffer.from(g.hostId, 'hex'), extended: g.extended, key: g.key, cntlid: g.cntlid })),
  };
}

/** Checks a snapshot as a record or a file gives it (throws on anything malformed). */
export function checkSnapshot(s: ReservationSnapshot): void {
  if (!Number.isInteger(s.nsid) || s.nsid < 1 || s.nsid > 0xfffffffe) throw new Error(`reservation of NSID ${s.nsid}`);
  if (!Number.isInteger(s.type) || s.type < 0 || s.type > 6) throw new Error(`reservation type ${s.type}`);
  if (s.registrants.length > MAX_REGISTRANTS) throw new Error(`${s.registrants.length} registrants (at most ${MAX_REGISTRANTS})`);
  if (s.type && !allRegistrants(s.type) && !s.registrants.some((g) => g.host === s.holder)) throw new Error('the reservation holder is not a registrant');
  if (new Set(s.registrants.map((g) => g.host)).size !== s.registrants.length) throw new Error('a host is registered twice');
  for (const g of s.registrants) if (!/^([0-9a-f]{2}){8}$|^([0-9a-f]{2}){16}$/.test(g.hostId) || g.key < 0n || g.key >= 1n << 64n) throw new Error('malformed registrant');
}

// ------------------------------------------------------------------ PTPL files (SPDK's format)

/** `xxxxxxxx-xxxx-...` of 16 bytes, lower case, as spdk_uuid_fmt_lower writes a Host Identifier. */
function uuidText(b: Buffer): string {
  const h = Buffer.concat([b, Buffer.alloc(16)]).subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Writes the file as SPDK's nvmf_ns_reservation_store_json does (ptpl, rtype, crkey, bdev_uuid,
 * holder_uuid, registrants [{rkey, host_uuid}]), plus vnvme's own fields for what SPDK's
 * 128-bit-only hosts do not need (64-bit and unset Host Identifiers: vnvme_host, vnvme_holder).
 * PTPL off: an empty file, as SPDK leaves it. Written beside and renamed, so a crash leaves the
 * old file or the new one.
 */
function storePtplFile(file: string, bdevUuid: string, r: NamespaceReservation | null): void {
  let text = '';
  if (r) {
    const holder = r.type && !allRegistrants(r.type) ? r.registrants.find((g) => g.host === r.holder) : undefined;
    const crkey = holder?.key ?? (r.type ? r.registrants[0]?.key ?? 0n : 0n);
    const regs = r.registrants.map((g) => `    {"rkey": ${g.key}, "host_uuid": "${uuidText(g.hostId)}", "vnvme_host": ${JSON.stringify(g.host)}, "vnvme_extended": ${g.extended}, "vnvme_cntlid": ${g.cntlid}}`);
    text =
      `{\n  "ptpl": true,\n  "rtype": ${r.type},\n  "crkey": ${crkey},\n  "bdev_uuid": ${JSON.stringify(bdevUuid.toLowerCase())},\n` +
      `  "holder_uuid": "${holder ? uuidText(holder.hostId) : uuidText(Buffer.alloc(16))}",\n  "vnvme_holder": ${JSON.stringify(r.holder)},\n  "vnvme_generation": ${r.generation},\n` +
      `  "registrants": [\n${regs.join(',\n')}\n  ]\n}\n`;
  }
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function loadPtplFile(file: string, bdevUuid: string): NamespaceReservation | null {
  if (!existsSync(file)) return null;
  const text = readFileSync(file, 'utf8');
  if (!text.trim()) return null;
  // Keys are 64-bit: quoted before parsing so none loses precision.
  const j = JSON.parse(text.replace(/("(?:rkey|crkey)"\s*:\s*)(\d+)/g, '$1"$2"')) as Record<string, unknown>;
  if (j.ptpl !== true) return null;
  if (typeof j.bdev_uuid !== 'string' || j.bdev_uuid.toLowerCase() !== bdevUuid.toLowerCase()) throw new Error(`it names bdev ${String(j.bdev_uuid)}, not ${bdevUuid}`);
  const regs = Array.isArray(j.registrants) ? (j.registrants as Record<string, unknown>[]) : [];
  const registrants: Registrant[] = regs.map((g) => {
    const uuid = String(g.host_uuid ?? '').replace(/-/g, '');
    const extended = g.vnvme_extended === undefined ? true : g.vnvme_extended === true;
    const id = Buffer.from(uuid, 'hex').subarray(0, extended ? 16 : 8);
    const host = typeof g.vnvme_host === 'string' ? g.vnvme_host : hostIdentity(id, extended, 0xffff).key;
    return { host, hostId: Buffer.from(id), extended, key: BigInt(String(g.rkey)), cntlid: 0xffff };
  });
  const type = Number(j.rtype ?? 0);
  let holder: string | null = null;
  if (type && !allRegistrants(type)) {
    if (typeof j.vnvme_holder === 'string') holder = j.vnvme_holder;
    else {
      const h = String(j.holder_uuid ?? '').replace(/-/g, '');
      holder = registrants.find((g) => g.hostId.toString('hex') === h)?.host ?? null;
    }
  }
  const r: NamespaceReservation = { generation: Number(j.vnvme_generation ?? 0) >>> 0, type, holder, registrants, ptpl: true };
  checkSnapshot(toSnapshot(1, r));
  return r;
}

// Reservations (NVMe Base 2.0 8.19; commands 7.2 Acquire, 7.3 Register, 7.4 Release, 7.5
// Report; ONCS bit 5; Identify Namespace RESCAP; Features 81h-83h; log page 80h). Cases on the
// controller under test alone, and cases with a second controller of the same subsystem (the
// in-process target's second listener, DIR/second/cntrl) as the other host. Every case leaves
// no registration behind: later cases may change the Host Identifier, which a registered host
// may not.
import { dirname, join } from 'node:path';
import { Status } from '../spec.js';
import { cmd, Session, type CaseContext, type Cqe } from '../session.js';
import type { ConformanceCase, Level } from '../types.js';

const BASE = 'NVMe Base 2.0';
const ONCS_RESERVATIONS = 1 << 5;
const HOST_A = Buffer.from('5645a0a1a2a3a4a5', 'hex');
const HOST_B = Buffer.from('5645b0b1b2b3b4b5', 'hex');

function c(id: string, title: string, section: string, level: Level, procedure: string, expected: string, run: (t: CaseContext) => Promise<void>, applies?: ConformanceCase['applies']): ConformanceCase {
  return { id, title, section, level, procedure, expected, run, applies };
}

function needReservations(t: CaseContext): void {
  if (!(t.ctrl.oncs & ONCS_RESERVATIONS)) t.skip('Reservations not supported (ONCS bit 5 = 0)');
}

/** The other controller of the in-process target's subsystem. */
const secondController = (env: CaseContext['env']) => env.endpoint !== null;

/** A host: the controller under test, or a second session on the subsystem's other controller. */
interface Host {
  io(sqe: Buffer): Promise<Cqe>;
  admin(sqe: Buffer): Promise<Cqe>;
  buf(data: Buffer): bigint;
  read(iova: bigint, len: number): Buffer;
}

function hostOf(t: CaseContext): Host {
  return {
    io: (sqe) => t.io(sqe),
    admin: (sqe) => t.admin(sqe),
    buf: (data) => {
      const b = t.buf(4096, 0);
      t.write(b, data);
      return b;
    },
    read: (iova, len) => t.read(iova, len),
  };
}

async function withSecond(t: CaseContext, run: (b: Host) => Promise<void>): Promise<void> {
  const s = await Session.open({ socketPath: join(dirname(t.env.socketPath), 'second', 'cntrl'), mappedDoorbells: t.env.mode === 'mapped', shape: 'full' });
  const b: Host = {
    io: async (sqe) => {
      const r = await s.queues.submit(1, sqe, 5000);
      t.note(`second controller: I/O opcode 0x${sqe[0]!.toString(16)} -> status 0x${r.status.toString(16)}`);
      return r;
    },
    admin: async (sqe) => {
      const r = await s.drv.adminCommand(sqe);
      t.note(`second controller: admin opcode 0x${sqe[0]!.toString(16)} -> status 0x${r.status.toString(16)}`);
      return r;
    },
    buf: (data) => {
      const iova = s.drv.alloc(4096);
      s.drv.write(iova, Buffer.concat([data, Buffer.alloc(4096 - data.length)]));
      return iova;
    },
    read: (iova, len) => s.drv.read(iova, len),
  };
  try {
    await run(b);
  } finally {
    s.close();
  }
}

const keys = (...k: bigint[]) => {
  const b = Buffer.alloc(16);
  k.forEach((v, i) => b.writeBigUInt64LE(v, 8 * i));
  return b;
};

function register(h: Host, nsid: number, cdw10: number, crkey: bigint, nrkey: bigint): Promise<Cqe> {
  return h.io(cmd(0x0d, nsid, { prp1: h.buf(keys(crkey, nrkey)), cdw10 }));
}
function acquire(h: Host, nsid: number, racqa: number, rtype: number, crkey: bigint, prkey = 0n): Promise<Cqe> {
  return h.io(cmd(0x11, nsid, { prp1: h.buf(keys(crkey, prkey)), cdw10: racqa | (rtype << 8) }));
}
function release(h: Host, nsid: number, rrela: number, rtype: number, crkey: bigint): Promise<Cqe> {
  return h.io(cmd(0x15, nsid, { prp1: h.buf(keys(crkey)), cdw10: rrela | (rtype << 8) }));
}
async function setHostId(h: Host, id: Buffer): Promise<Cqe> {
  return h.admin(cmd(0x09, 0, { prp1: h.buf(id), cdw10: 0x81 }));
}
async function rw(h: Host, t: CaseContext, opc: number): Promise<Cqe> {
  return h.io(cmd(opc, t.ns.nsid, { prp1: h.buf(Buffer.alloc(t.ns.blockSize)), cdw10: Number(t.ns.blocks - 1n) }));
}
/** Unregisters the host, whatever its key (IEKEY); success or not a registrant. */
async function unregister(h: Host, nsid: number): Promise<void> {
  await register(h, nsid, 1 | 8, 0n, 0n);
}

export const reservationCases: ConformanceCase[] = [
  c(
    'io.reservation.identify',
    'Reservations are reported consistently',
    `${BASE} Figure 275 (ONCS bit 5, CMIC), NVM Command Set 1.0 Figure 97 (RESCAP), ${BASE} 5.16.1.6`,
    'optional',
    'Identify Controller ONCS and CMIC; Identify Namespace NMIC and RESCAP; log 05h for I/O opcodes 0Dh, 0Eh, 11h, 15h.',
    'With ONCS bit 5: RESCAP names at least one type, no reserved bits; the Commands Supported and Effects log lists all four commands.',
    async (t: CaseContext) => {
      needReservations(t);
      const ns = t.buf(4096, 0xa5);
      t.ok(await t.admin(cmd(0x06, t.ns.nsid, { prp1: ns, cdw10: 0 })), 'Identify Namespace');
      const rescap = t.read(ns, 64)[31]!;
      t.note(`RESCAP 0x${rescap.toString(16)}, NMIC 0x${t.read(ns, 64)[30]!.toString(16)}`);
      t.check((rescap & 0x7e) !== 0, 'RESCAP names no reservation type');
      const log = t.buf(4096, 0);
      t.ok(await t.admin(cmd(0x02, 0, { prp1: log, cdw10: 0x05 | (1023 << 16) })), 'log 05h');
      const l = t.read(log, 4096);
      for (const op of [0x0d, 0x0e, 0x11, 0x15]) t.check(l.readUInt32LE(1024 + 4 * op) & 1, `I/O opcode ${op.toString(16)}h not listed in log 05h`);
    },
  ),
  c(
    'io.reservation.register',
    'Reservation Register: register, replace, unregister and their failures',
    `${BASE} 7.3, 8.19.3`,
    'optional',
    'Register NRKEY 0; register K; register K again; register another key; replace with a wrong CRKEY; replace; unregister with the old key; unregister; RREGA 3; CPTPL 01b.',
    'Invalid Field; success; success; Reservation Conflict; Reservation Conflict; success; Reservation Conflict; success; Invalid Field; Invalid Field.',
    async (t: CaseContext) => {
      needReservations(t);
      const h = hostOf(t);
      const n = t.ns.nsid;
      t.ok(await setHostId(h, HOST_A), 'Set Features Host Identifier');
      await unregister(h, n);
      try {
        t.expect(await register(h, n, 0, 0n, 0n), Status.INVALID_FIELD, 'register NRKEY 0');
        t.ok(await register(h, n, 0, 0n, 0x10n), 'register');
        t.ok(await register(h, n, 0, 0n, 0x10n), 'register with the same key');
        t.expect(await register(h, n, 0, 0n, 0x11n), Status.RESERVATION_CONFLICT, 'register with another key');
        t.expect(await register(h, n, 2, 0x99n, 0x12n), Status.RESERVATION_CONFLICT, 'replace, wrong CRKEY');
        t.ok(await register(h, n, 2, 0x10n, 0x12n), 'replace');
        t.expect(await register(h, n, 1, 0x10n, 0n), Status.RESERVATION_CONFLICT, 'unregister with the old key');
        t.ok(await register(h, n, 1, 0x12n, 0n), 'unregister');
        t.expect(await register(h, n, 3, 0n, 0x10n), Status.INVALID_FIELD, 'RREGA 011b');
        t.expect(await register(h, n, 1 << 30, 0n, 0x10n), Status.INVALID_FIELD, 'CPTPL 01b');
      } finally {
        await unregister(h, n);
      }
    },
  ),
  c(
    'io.reservation.acquire-release',
    'Reservation Acquire and Release: field checks and keys',
    `${BASE} 7.2, 7.4, 8.19.4-8.19.6`,
    'optional',
    'Acquire unregistered; register; Acquire with RTYPE 0 and 7, RACQA 7, a wrong CRKEY; Acquire WE; Release with a wrong RTYPE, RRELA 7; Release; Clear.',
    'Reservation Conflict; success; Invalid Field x3, Reservation Conflict; success; Invalid Field x2; success; success (and no registration left).',
    async (t: CaseContext) => {
      needReservations(t);
      const h = hostOf(t);
      const n = t.ns.nsid;
      t.ok(await setHostId(h, HOST_A), 'Set Features Host Identifier');
      await unregister(h, n);
      try {
        t.expect(await acquire(h, n, 0, 1, 0x20n), Status.RESERVATION_CONFLICT, 'acquire, not a registrant');
        t.ok(await register(h, n, 0, 0n, 0x20n), 'register');
        for (const rtype of [0, 7]) t.expect(await acquire(h, n, 0, rtype, 0x20n), Status.INVALID_FIELD, `RTYPE ${rtype}`);
        t.expect(await acquire(h, n, 7, 1, 0x20n), Status.INVALID_FIELD, 'RACQA 111b');
        t.expect(await acquire(h, n, 0, 1, 0x21n), Status.RESERVATION_CONFLICT, 'wrong CRKEY');
        t.ok(await acquire(h, n, 0, 1, 0x20n), 'acquire Write Exclusive');
        t.ok(await rw(h, t, 0x01), 'the holder writes');
        t.expect(await release(h, n, 0, 2, 0x20n), Status.INVALID_FIELD, 'release, wrong RTYPE');
        t.expect(await release(h, n, 7, 1, 0x20n), Status.INVALID_FIELD, 'RRELA 111b');
        t.ok(await release(h, n, 0, 1, 0x20n), 'release');
        t.ok(await release(h, n, 1, 0, 0x20n), 'clear');
        t.expect(await register(h, n, 1, 0x20n, 0n), Status.RESERVATION_CONFLICT, 'unregister after clear: not a registrant');
      } finally {
        await unregister(h, n);
      }
    },
  ),
  c(
    'io.reservation.report',
    'Reservation Report: the status data structure, extended and not, cut to NUMD',
    `${BASE} 7.5 (Figures "Reservation Status Data Structure", "Registered Controller Data Structure" and their extended forms)`,
    'optional',
    'Register K and acquire Write Exclusive; Report with NUMD 1023 (EDS 0), with EDS 1, and with NUMD 0.',
    'RTYPE 1, REGCTL 1, the entry has this CNTLID, RCSTS bit 0, the Host Identifier and K at their offsets; NUMD 0 transfers one dword.',
    async (t: CaseContext) => {
      needReservations(t);
      const h = hostOf(t);
      const n = t.ns.nsid;
      t.ok(await setHostId(h, HOST_A), 'Set Features Host Identifier');
      await unregister(h, n);
      try {
        t.ok(await register(h, n, 0, 0n, 0x30n), 'register');
        t.ok(await acquire(h, n, 0, 1, 0x30n), 'acquire');
        const cntlid = t.ctrl.cntlid;
        const b = t.buf(4096, 0xee);
        t.ok(await t.io(cmd(0x0e, n, { prp1: b, cdw10: 1023 })), 'Report, EDS 0');
        const d = t.read(b, 64);
        t.eq(d[4], 1, 'RTYPE');
        t.eq(d.readUInt16LE(5), 1, 'REGCTL');
        t.eq(d.readUInt16LE(24), cntlid, 'CNTLID');
        t.eq(d[26]! & 1, 1, 'RCSTS holder');
        t.eq(d.subarray(32, 40).toString('hex'), HOST_A.toString('hex'), 'HOSTID');
        t.eq(d.readBigUInt64LE(40), 0x30n, 'RKEY');
        const e = t.buf(4096, 0xee);
        t.ok(await t.io(cmd(0x0e, n, { prp1: e, cdw10: 1023, cdw11: 1 })), 'Report, EDS 1');
        const x = t.read(e, 128);
        t.eq(x.readUInt16LE(64), cntlid, 'extended CNTLID');
        t.eq(x.readBigUInt64LE(72), 0x30n, 'extended RKEY');
        t.eq(x.subarray(80, 88).toString('hex'), HOST_A.toString('hex'), 'extended HOSTID');
        const o = t.buf(4096, 0xee);
        t.ok(await t.io(cmd(0x0e, n, { prp1: o, cdw10: 0 })), 'Report, NUMD 0');
        t.eq(t.read(o, 8)[4], 0xee, 'no byte past NUMD');
        t.ok(await release(h, n, 0, 1, 0x30n), 'release');
      } finally {
        await unregister(h, n);
      }
    },
  ),
  c(
    'io.reservation.host-identifier-locked',
    'A registered host cannot change its Host Identifier',
    `${BASE} 5.27.1.25, 8.19`,
    'optional',
    'Set Host Identifier A; register; Set Host Identifier B; set A again; unregister; set B.',
    'Command Sequence Error for the change while registered; success otherwise.',
    async (t: CaseContext) => {
      needReservations(t);
      const h = hostOf(t);
      const n = t.ns.nsid;
      t.ok(await setHostId(h, HOST_A), 'Host Identifier A');
      await unregister(h, n);
      try {
        t.ok(await register(h, n, 0, 0n, 0x40n), 'register');
        t.expect(await setHostId(h, HOST_B), Status.COMMAND_SEQUENCE_ERROR, 'change while registered');
        t.ok(await setHostId(h, HOST_A), 'the same identifier again');
      } finally {
        await unregister(h, n);
      }
      t.ok(await setHostId(h, HOST_B), 'change when not registered');
      t.ok(await setHostId(h, HOST_A), 'back');
    },
  ),
  c(
    'io.reservation.features',
    'Reservation Notification Mask and Reservation Persistence features',
    `${BASE} 5.27.1.26, 5.27.1.27`,
    'optional',
    'Set and Get Features 82h (mask RESREL) on the namespace; Get 83h; Set 83h PTPL=1 when RESCAP bit 0 is clear.',
    'The mask reads back; PTPL reads 0; PTPL=1 is Invalid Field without RESCAP PTPL.',
    async (t: CaseContext) => {
      needReservations(t);
      const n = t.ns.nsid;
      t.ok(await t.admin(cmd(0x09, n, { cdw10: 0x82, cdw11: 1 << 2 })), 'Set 82h');
      const g = await t.admin(cmd(0x0a, n, { cdw10: 0x82 }));
      t.ok(g, 'Get 82h');
      t.eq(g.dw0 & 0xe, 1 << 2, 'mask');
      t.ok(await t.admin(cmd(0x09, n, { cdw10: 0x82, cdw11: 0 })), 'Set 82h back');
      const ns = t.buf(4096, 0);
      t.ok(await t.admin(cmd(0x06, n, { prp1: ns, cdw10: 0 })), 'Identify Namespace');
      const ptpl = (t.read(ns, 64)[31]! & 1) === 1;
      const p = await t.admin(cmd(0x0a, n, { cdw10: 0x83 }));
      t.ok(p, 'Get 83h');
      if (!ptpl) {
        t.eq(p.dw0 & 1, 0, 'PTPL');
        t.expect(await t.admin(cmd(0x09, n, { cdw10: 0x83, cdw11: 1 })), Status.INVALID_FIELD, 'PTPL=1 without RESCAP PTPL');
      }
    },
  ),
  c(
    'io.reservation.two-hosts.conflict',
    'Another host is held off per the reservation type',
    `${BASE} 8.19 (Figure "Command Behavior in the Presence of a Reservation")`,
    'optional',
    'Hosts A (this controller) and B (the subsystem\'s other controller) with their own Host Identifiers. A registers and acquires Exclusive Access: B reads and writes. A changes it to Write Exclusive (preempting itself): B reads and writes; B registers: B writes. A clears.',
    'EA: both Reservation Conflict; WE: Read succeeds, Write Reservation Conflict; a registrant under WE: Write still Reservation Conflict; after the clear both succeed.',
    async (t: CaseContext) => {
      needReservations(t);
      const a = hostOf(t);
      const n = t.ns.nsid;
      t.ok(await setHostId(a, HOST_A), 'host A identifier');
      await unregister(a, n);
      await withSecond(t, async (b) => {
        t.ok(await setHostId(b, HOST_B), 'host B identifier');
        await unregister(b, n);
        try {
          t.ok(await register(a, n, 0, 0n, 0xa0n), 'A registers');
          t.ok(await acquire(a, n, 0, 2, 0xa0n), 'A acquires Exclusive Access');
          t.expect(await rw(b, t, 0x02), Status.RESERVATION_CONFLICT, 'B reads under EA');
          t.expect(await rw(b, t, 0x01), Status.RESERVATION_CONFLICT, 'B writes under EA');
          t.ok(await acquire(a, n, 1, 1, 0xa0n, 0xa0n), 'A preempts itself to Write Exclusive');
          t.ok(await rw(b, t, 0x02), 'B reads under WE');
          t.expect(await rw(b, t, 0x01), Status.RESERVATION_CONFLICT, 'B writes under WE');
          t.ok(await register(b, n, 0, 0n, 0xb0n), 'B registers');
          t.expect(await rw(b, t, 0x01), Status.RESERVATION_CONFLICT, 'B, a registrant, writes under WE');
          t.ok(await release(a, n, 1, 0, 0xa0n), 'A clears');
          t.ok(await rw(b, t, 0x01), 'B writes after the clear');
        } finally {
          await unregister(b, n);
          await unregister(a, n);
        }
      });
    },
    secondController,
  ),
  c(
    'io.reservation.two-hosts.preempt-notice',
    'A preempted host gets a Reservation Notification log entry and its event',
    `${BASE} 8.19.5, 5.16.1.21 (log page 80h), 5.2 (Asynchronous Event Information - I/O Command Specific Status)`,
    'optional',
    'B (the other controller) registers, acquires Write Exclusive and posts an AER; A registers and preempts B with PRKEY = B\'s key; B reads log 80h twice.',
    'B\'s AER completes with type 110b, info 00h, log 80h; the entry is Registration Preempted for the namespace, Log Page Count non-zero; the second read is empty; B writes get Reservation Conflict.',
    async (t: CaseContext) => {
      needReservations(t);
      const a = hostOf(t);
      const n = t.ns.nsid;
      t.ok(await setHostId(a, HOST_A), 'host A identifier');
      await unregister(a, n);
      await withSecond(t, async (b) => {
        t.ok(await setHostId(b, HOST_B), 'host B identifier');
        await unregister(b, n);
        const readLog = async () => {
          const buf = b.buf(Buffer.alloc(64));
          t.ok(await b.admin(cmd(0x02, 0, { prp1: buf, cdw10: 0x80 | (15 << 16) })), 'B reads log 80h');
          return b.read(buf, 64);
        };
        try {
          while ((await readLog())[8] !== 0); // earlier notices
          t.ok(await register(b, n, 0, 0n, 0xb1n), 'B registers');
          t.ok(await acquire(b, n, 0, 1, 0xb1n), 'B acquires Write Exclusive');
          const event = b.admin(cmd(0x0c, 0));
          t.ok(await register(a, n, 0, 0n, 0xa1n), 'A registers');
          t.ok(await acquire(a, n, 1, 1, 0xa1n, 0xb1n), 'A preempts B');
          const ev = await event;
          t.ok(ev, 'B\'s AER');
          t.eq(ev.dw0 & 7, 6, 'event type I/O command specific');
          t.eq((ev.dw0 >> 8) & 0xff, 0, 'Reservation Log Page Available');
          t.eq((ev.dw0 >> 16) & 0xff, 0x80, 'log page');
          const e = await readLog();
          t.eq(e[8], 1, 'Registration Preempted');
          t.eq(e.readUInt32LE(12), n, 'NSID');
          t.check(e.readBigUInt64LE(0) > 0n, 'Log Page Count is 0');
          t.eq((await readLog())[8], 0, 'the log is empty after its entry was read');
          t.expect(await rw(b, t, 0x01), Status.RESERVATION_CONFLICT, 'B, no longer a registrant, writes');
          t.ok(await release(a, n, 1, 0, 0xa1n), 'A clears');
        } finally {
          await unregister(b, n);
          await unregister(a, n);
        }
      });
    },
    secondController,
  ),
];

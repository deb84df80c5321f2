// Zoned namespaces (NVMe Zoned Namespace Command Set 1.1, issue 18 item 5): the Identify data a
// host finds them by (CAP.CSS bit 6, the CSI descriptor, CNS 05h/06h with CSI 02h, CNS 1Ch),
// writes at the write pointer and Zone Append, the zone state machine through Zone Management
// Send and Receive, and the Max Open/Active Resources. The cases find zoned namespaces by the
// CSI descriptor of every active namespace and skip cleanly when there is none; each leaves
// every zone Empty (Reset, Select All).
import { AdminOpcode, Status, ZnsOpcode } from '../spec.js';
import { cmd, pattern, type CaseContext } from '../session.js';
import type { ConformanceCase, Level } from '../types.js';

const ZNS = 'NVMe Zoned Namespace Command Set 1.1';
const BASE = 'NVMe Base 2.0';
const CSI_ZNS = 2;
const ZS = { EMPTY: 1, IOPEN: 2, EOPEN: 3, CLOSED: 4, FULL: 0xe };
const ZSA = { CLOSE: 1, FINISH: 2, OPEN: 3, RESET: 4, OFFLINE: 5 };

interface ZonedNs {
  nsid: number;
  blocks: bigint;
  bs: number;
  zsze: bigint;
  zones: number;
  mar: number; // 0's based, FFFFFFFFh none
  mor: number;
}

function c(id: string, title: string, section: string, level: Level, procedure: string, expected: string, run: (t: CaseContext) => Promise<void>): ConformanceCase {
  return { id, title, section, level, procedure, expected, run };
}

async function identify(t: CaseContext, cns: number, nsid: number, csi = 0): Promise<Buffer> {
  const b = t.buf(4096, 0);
  t.ok(await t.admin(cmd(AdminOpcode.IDENTIFY, nsid, { prp1: b, cdw10: cns, cdw11: csi << 24 })), `Identify CNS ${cns.toString(16)}h NSID ${nsid} CSI ${csi}`);
  return t.read(b, 4096);
}

/** The CSI the Namespace Identification Descriptor list reports (NIDT 04h), or -1. */
async function csiOf(t: CaseContext, nsid: number): Promise<number> {
  const d = await identify(t, 0x03, nsid);
  for (let at = 0; at + 4 <= 4096 && d[at]; at += 4 + d[at + 1]!) if (d[at] === 4) return d[at + 4]!;
  return -1;
}

/** Every active zoned namespace, or skip. */
async function zonedNamespaces(t: CaseContext): Promise<ZonedNs[]> {
  const list = await identify(t, 0x02, 0);
  const out: ZonedNs[] = [];
  for (let i = 0; i < 1024; i++) {
    const nsid = list.readUInt32LE(4 * i);
    if (!nsid) break;
    if ((await csiOf(t, nsid)) !== CSI_ZNS) continue;
    const id = await identify(t, 0x00, nsid);
    const flbas = id[26]! & 0xf;
    const bs = 2 ** ((id.readUInt32LE(128 + 4 * flbas) >> 16) & 0xff);
    const z = await identify(t, 0x05, nsid, CSI_ZNS);
    const zsze = z.readBigUInt64LE(2816 + 16 * flbas);
    const blocks = id.readBigUInt64LE(0);
    out.push({ nsid, blocks, bs, zsze, zones: zsze ? Number(blocks / zsze) : 0, mar: z.readUInt32LE(4), mor: z.readUInt32LE(8) });
  }
  if (!out.length) t.skip('no active zoned namespace (CSI 02h)');
  for (const n of out) t.note(`namespace ${n.nsid}: ${n.zones} zones of ${n.zsze} blocks, MAR ${n.mar.toString(16)}h, MOR ${n.mor.toString(16)}h`);
  return out;
}

const send = async (t: CaseContext, n: ZonedNs, zslba: bigint, zsa: number, all = false) =>
  t.io(cmd(ZnsOpcode.ZONE_MANAGEMENT_SEND, n.nsid, { cdw10: Number(zslba & 0xffffffffn), cdw11: Number(zslba >> 32n), cdw13: zsa | (all ? 1 << 8 : 0) }));

async function report(t: CaseContext, n: ZonedNs, zslba: bigint, descriptors: number, filter = 0, partial = false) {
  const len = 64 + 64 * descriptors;
  const b = t.buf(len, 0xee);
  t.ok(await t.io(cmd(ZnsOpcode.ZONE_MANAGEMENT_RECEIVE, n.nsid, { prp1: b, cdw10: Number(zslba & 0xffffffffn), cdw11: Number(zslba >> 32n), cdw12: len / 4 - 1, cdw13: (filter << 8) | (partial ? 1 << 16 : 0) })), 'Report Zones');
  const d = t.read(b, len);
  const zones = [];
  for (let i = 0; i < descriptors; i++) {
    const e = d.subarray(64 + 64 * i);
    zones.push({ zt: e[0]!, state: e[1]! >> 4, cap: e.readBigUInt64LE(8), zslba: e.readBigUInt64LE(16), wp: e.readBigUInt64LE(24) });
  }
  return { count: d.readBigUInt64LE(0), zones };
}

function write(t: CaseContext, n: ZonedNs, opc: number, slba: bigint, blocks: number, seed = 1) {
  const iova = t.buf(blocks * n.bs);
  t.write(iova, pattern(blocks * n.bs, seed));
  return t.io(t.rw(opc, slba, blocks, iova, { nsid: n.nsid, bytes: blocks * n.bs }));
}

async function resetAll(t: CaseContext, n: ZonedNs): Promise<void> {
  t.ok(await send(t, n, 0n, ZSA.RESET, true), 'Zone Management Send Reset, Select All');
}

export const zonedCases: ConformanceCase[] = [
  c('zns.identify', 'Zoned namespaces: CAP.CSS, CNS 1Ch, the CSI descriptor and CNS 05h/06h with CSI 02h agree', `${BASE} 3.1.4.1 (CAP.CSS), 5.17.2 (CNS 03h, 05h, 06h, 1Ch); ${ZNS} 4.1.5`, 'mandatory',
    'Find every namespace whose Namespace Identification Descriptor list reports CSI 02h; read CAP, Identify CNS 1Ch, CNS 05h and 06h with CSI 02h.',
    'CAP.CSS bit 6 is set; an I/O Command Set Combination lists NVM (bit 0) and Zoned Namespace (bit 2); each zoned namespace has a non-zero Zone Size dividing NSZE, MOR not above MAR, ZOC with no bit Linux cannot handle; CNS 06h CSI 02h succeeds.',
    async (t: CaseContext) => {
      const all = await zonedNamespaces(t);
      const cap = await t.reg64(0x00);
      t.check(cap & (1n << 43n), `CAP.CSS bit 6 clear with a zoned namespace (CAP ${cap.toString(16)}h)`);
      const iocs = await identify(t, 0x1c, 0);
      let found = false;
      for (let i = 0; i < 512; i++) if ((iocs.readBigUInt64LE(8 * i) & 0x5n) === 0x5n) found = true;
      t.check(found, 'no I/O Command Set Combination with NVM and Zoned Namespace');
      await identify(t, 0x06, 0, CSI_ZNS);
      for (const n of all) {
        t.check(n.zsze > 0n && n.blocks % n.zsze === 0n, `namespace ${n.nsid}: ZSZE ${n.zsze} does not divide NSZE ${n.blocks}`);
        if (n.mar !== 0xffffffff) t.check(n.mor <= n.mar, `namespace ${n.nsid}: MOR ${n.mor} above MAR ${n.mar}`);
      }
    }),
  c('zns.write-pointer', 'Writes only at the write pointer, within the zone capacity', `${ZNS} 2.1.1, 3.3.1 (Write), Figure "Status Code - Command Specific Status Values"`, 'mandatory',
    'Reset every zone; Write 4 blocks at zone 0 start, then 1 block behind and ahead of the write pointer, then from the write pointer one block past the zone capacity; Report Zones of zone 0.',
    'The first Write succeeds and the zone is Implicitly Opened with the write pointer 4 blocks on; the others fail with Zone Invalid Write and Zone Boundary Error.',
    async (t: CaseContext) => {
      for (const n of await zonedNamespaces(t)) {
        await resetAll(t, n);
        const cap = (await report(t, n, 0n, 1)).zones[0]!.cap;
        t.ok(await write(t, n, 0x01, 0n, 4), 'Write at the write pointer');
        t.expect(await write(t, n, 0x01, 1n, 1), Status.ZONE_INVALID_WRITE, 'Write behind the write pointer');
        t.expect(await write(t, n, 0x01, 8n, 1), Status.ZONE_INVALID_WRITE, 'Write ahead of the write pointer');
        if (cap - 4n + 1n <= 0x10000n) t.expect(await write(t, n, 0x01, 4n, Number(cap - 4n + 1n)), Status.ZONE_BOUNDARY_ERROR, 'Write past the zone capacity');
        const z = (await report(t, n, 0n, 1)).zones[0]!;
        t.eq(z.state, ZS.IOPEN, 'zone 0 state');
        t.eq(z.wp, 4n, 'zone 0 write pointer');
        t.eq(z.zt, 2, 'Zone Type: Sequential Write Required');
        await resetAll(t, n);
      }
    }),
  c('zns.append', 'Zone Append writes at the write pointer and returns the LBA it wrote', `${ZNS} 3.4.1`, 'mandatory',
    'Reset every zone; Zone Append 2 blocks to zone 1 twice, Read the second back; Zone Append with a ZSLBA that is not a zone start.',
    'The completions carry the LBAs written (zone start, then start + 2) in DW0/DW1; the data reads back; the bad ZSLBA gets Invalid Field.',
    async (t: CaseContext) => {
      for (const n of await zonedNamespaces(t)) {
        if (n.zones < 2) t.skip(`namespace ${n.nsid} has one zone`);
        await resetAll(t, n);
        const z1 = n.zsze;
        const a = await write(t, n, ZnsOpcode.ZONE_APPEND, z1, 2, 3);
        t.ok(a, 'Zone Append');
        t.eq(BigInt(a.dw0) | (BigInt(a.dw1 ?? 0) << 32n), z1, 'first Zone Append LBA');
        const b = await write(t, n, ZnsOpcode.ZONE_APPEND, z1, 2, 4);
        t.ok(b, 'Zone Append');
        t.eq(BigInt(b.dw0) | (BigInt(b.dw1 ?? 0) << 32n), z1 + 2n, 'second Zone Append LBA');
        const r = t.buf(2 * n.bs, 0);
        t.ok(await t.io(t.rw(0x02, z1 + 2n, 2, r, { nsid: n.nsid, bytes: 2 * n.bs })), 'Read');
        t.check(t.read(r, 2 * n.bs).equals(pattern(2 * n.bs, 4)), 'the appended data reads back');
        t.expect(await write(t, n, ZnsOpcode.ZONE_APPEND, z1 + 1n, 1), Status.INVALID_FIELD, 'Zone Append, ZSLBA not a zone start');
        await resetAll(t, n);
      }
    }),
  c('zns.full-reset', 'A zone written to its capacity is Full; Reset empties it and its blocks read zeroes', `${ZNS} 2.1.1.6, 3.4.3.2.4 (Reset Zone)`, 'mandatory',
    'Reset every zone; Finish zone 0, Write to it; Write 1 block to zone 0 after a Reset; Reset it again and Read that block.',
    'The Finished zone is Full (Zone Is Full for the Write); after Reset the zone is Empty, and the block written before the last Reset reads as zeroes.',
    async (t: CaseContext) => {
      for (const n of await zonedNamespaces(t)) {
        await resetAll(t, n);
        t.ok(await send(t, n, 0n, ZSA.FINISH), 'Finish zone 0');
        t.eq((await report(t, n, 0n, 1)).zones[0]!.state, ZS.FULL, 'zone 0 state');
        t.expect(await write(t, n, 0x01, 0n, 1), Status.ZONE_IS_FULL, 'Write to a Full zone');
        t.ok(await send(t, n, 0n, ZSA.RESET), 'Reset zone 0');
        t.ok(await write(t, n, 0x01, 0n, 1), 'Write');
        t.ok(await send(t, n, 0n, ZSA.RESET), 'Reset zone 0');
        t.eq((await report(t, n, 0n, 1)).zones[0]!.state, ZS.EMPTY, 'zone 0 state');
        const r = t.buf(n.bs, 0xff);
        t.ok(await t.io(t.rw(0x02, 0n, 1, r, { nsid: n.nsid, bytes: n.bs })), 'Read');
        t.check(t.read(r, n.bs).equals(Buffer.alloc(n.bs)), 'a reset block reads zeroes');
      }
    }),
  c('zns.transitions', 'Zone Management Send: Open, Close, Finish and the transitions it refuses', `${ZNS} 2.1.1, 3.4.3 (Zone Management Send), Figure "Zone Send Action"`, 'mandatory',
    'Reset every zone; Close an Empty zone; Open it, Close it, Open it again, Finish it, Open the Full zone; Offline an Empty zone; an SLBA not at a zone start.',
    'Close of Empty, Open of Full and Offline of Empty get Invalid Zone State Transition; Open gives Explicitly Opened, Close Closed, Finish Full; the bad SLBA gets Invalid Field.',
    async (t: CaseContext) => {
      for (const n of await zonedNamespaces(t)) {
        await resetAll(t, n);
        const state = async () => (await report(t, n, 0n, 1)).zones[0]!.state;
        t.expect(await send(t, n, 0n, ZSA.CLOSE), Status.INVALID_ZONE_STATE_TRANSITION, 'Close of an Empty zone');
        t.expect(await send(t, n, 0n, ZSA.OFFLINE), Status.INVALID_ZONE_STATE_TRANSITION, 'Offline of an Empty zone');
        t.ok(await send(t, n, 0n, ZSA.OPEN), 'Open');
        t.eq(await state(), ZS.EOPEN, 'after Open');
        t.ok(await send(t, n, 0n, ZSA.CLOSE), 'Close');
        t.eq(await state(), ZS.CLOSED, 'after Close');
        t.ok(await send(t, n, 0n, ZSA.OPEN), 'Open');
        t.ok(await send(t, n, 0n, ZSA.FINISH), 'Finish');
        t.eq(await state(), ZS.FULL, 'after Finish');
        t.expect(await send(t, n, 0n, ZSA.OPEN), Status.INVALID_ZONE_STATE_TRANSITION, 'Open of a Full zone');
        t.expect(await send(t, n, 1n, ZSA.OPEN), Status.INVALID_FIELD, 'SLBA not a zone start');
        await resetAll(t, n);
      }
    }),
  c('zns.report', 'Report Zones: Number of Zones, the state filter and a partial report', `${ZNS} 3.4.2 (Zone Management Receive), Figure "Report Zones Data Structure"`, 'mandatory',
    'Reset every zone; Finish zone 0; Report Zones from LBA 0 with room for one descriptor, without and with Partial Report; with the Full and the Empty filter.',
    'Without Partial Report Number of Zones counts every zone; with it, the one returned; the Full filter reports zone 0 alone; the Empty filter every other zone, starting at zone 1.',
    async (t: CaseContext) => {
      for (const n of await zonedNamespaces(t)) {
        await resetAll(t, n);
        t.ok(await send(t, n, 0n, ZSA.FINISH), 'Finish zone 0');
        t.eq((await report(t, n, 0n, 1)).count, BigInt(n.zones), 'Number of Zones, no Partial Report');
        t.eq((await report(t, n, 0n, 1, 0, true)).count, 1n, 'Number of Zones, Partial Report');
        const full = await report(t, n, 0n, 1, 5);
        t.eq(full.count, 1n, 'Full zones');
        t.eq(full.zones[0]!.zslba, 0n, 'the Full zone');
        if (n.zones > 1) {
          const empty = await report(t, n, 0n, 1, 1);
          t.eq(empty.count, BigInt(n.zones - 1), 'Empty zones');
          t.eq(empty.zones[0]!.zslba, n.zsze, 'the first Empty zone');
        }
        await resetAll(t, n);
      }
    }),
  c('zns.resources', 'Max Open and Max Active Resources', `${ZNS} 2.1.1.4, Figure "Identify Namespace Data Structure" (MAR, MOR)`, 'mandatory',
    'On a namespace with MOR below its zone count: Reset every zone, Open MOR + 1 zones explicitly (and with MAR, Write to MAR + 1 zones after closing them).',
    'The Open past MOR + 1 open zones fails with Too Many Open Zones (or Too Many Active Zones when MAR is the lower bound).',
    async (t: CaseContext) => {
      const all = (await zonedNamespaces(t)).filter((n) => n.mor !== 0xffffffff && n.mor + 2 <= n.zones);
      if (!all.length) t.skip('no zoned namespace with a Max Open Resources limit below its zones');
      for (const n of all) {
        await resetAll(t, n);
        for (let i = 0; i <= n.mor; i++) t.ok(await send(t, n, BigInt(i) * n.zsze, ZSA.OPEN), `Open zone ${i}`);
        const over = await send(t, n, BigInt(n.mor + 1) * n.zsze, ZSA.OPEN);
        t.expect(over, n.mar === n.mor ? [Status.TOO_MANY_ACTIVE_ZONES, Status.TOO_MANY_OPEN_ZONES] : Status.TOO_MANY_OPEN_ZONES, `Open zone ${n.mor + 1}`);
        if (n.mar !== 0xffffffff && n.mar + 2 <= n.zones) {
          t.ok(await send(t, n, 0n, ZSA.CLOSE, true), 'Close, Select All');
          for (let i = n.mor + 1; i <= n.mar; i++) t.ok(await write(t, n, 0x01, BigInt(i) * n.zsze, 1), `Write zone ${i}`);
          t.ok(await send(t, n, 0n, ZSA.CLOSE, true), 'Close, Select All');
          t.expect(await write(t, n, 0x01, BigInt(n.mar + 1) * n.zsze, 1), Status.TOO_MANY_ACTIVE_ZONES, `Write zone ${n.mar + 1}`);
        }
        await resetAll(t, n);
      }
    }),
];

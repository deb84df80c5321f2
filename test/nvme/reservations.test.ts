// Reservations with two controllers on one subsystem (issue 18 item 3), in both doorbell modes:
// an NvmfTarget with two VFIOUSER listeners (two controllers, two engines) sharing a namespace
// the native engine serves (1) and one a TypeScript bdev serves (2). Host Identifiers, every
// Register/Acquire/Release/Report status row, the conflict table per type on both paths,
// notifications and their AEN on the other controller, hostile fields, PTPL through a restart.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cmd, NvmeDriver, type QueuePair } from '../../harness/initiator/nvme-driver.js';
import { MallocBdev } from '../../target/bdev/malloc.js';
import { ErrorBdev } from '../../target/bdev/error.js';
import { BdevRegistry } from '../../target/bdev/registry.js';
import { NvmfTarget, nsOwner } from '../../target/nvmf/target.js';
import { vfioUserEndpointFor } from '../../target/nvme/endpoint.js';
import { silentLogger } from '../../target/log.js';
import { Status, statusName } from '../../target/nvme/constants.js';
import { ReservationDomain, MAX_REGISTRANTS, hostIdentity, type ReservationMember } from '../../target/nvme/reservations.js';
import { ControllerReservations, MAX_NOTICES } from '../../target/nvme/reservation-io.js';
import type { NvmeController } from '../../target/nvme/controller.js';
import { sc } from './fixture.js';

const NQN = 'nqn.2019-07.io.spdk:cnode-resv';
const eq = (got: number, want: number, what: string) => assert.equal(sc(got), sc(want), `${what}: ${statusName(got)}, expected ${statusName(want)}`);

interface Host {
  drv: NvmeDriver;
  q: QueuePair;
  cntlid: number;
}

interface Rig {
  a: Host;
  b: Host;
  dir: string;
  target: NvmfTarget;
  bdevs: BdevRegistry;
  close(): Promise<void>;
}

async function rig(mode: 'mapped' | 'message', o: { ptplFile?: string; bdevs?: BdevRegistry; keepBdevs?: boolean } = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-resv-'));
  const bdevs = o.bdevs ?? new BdevRegistry();
  if (!o.bdevs) {
    bdevs.add(new MallocBdev({ name: 'Malloc0', blockSize: 512, numBlocks: 2048 }), { method: 'test', params: {} });
    const base = new MallocBdev({ name: 'Malloc1', blockSize: 512, numBlocks: 2048 });
    bdevs.add(base, { method: 'test', params: {} });
    bdevs.add(new ErrorBdev(base), { method: 'test', params: {} });
  }
  const target = new NvmfTarget(bdevs, silentLogger, async (eo) => vfioUserEndpointFor(eo).endpoint);
  target.createTransport('VFIOUSER', { disable_mappable_bar0: mode === 'message' });
  target.createSubsystem({ nqn: NQN, serialNumber: 'RESV0', modelNumber: 'vnvme reservations', allowAnyHost: true, maxNamespaces: 8, anaReporting: false, minCntlid: 1, maxCntlid: 0xffef, dmrsl: 0, wzsl: 0, passthrough: false, enableNssr: false });
  target.addNamespace(NQN, { bdev_name: 'Malloc0', nsid: 1, ptpl_file: o.ptplFile });
  target.addNamespace(NQN, { bdev_name: 'EE_Malloc1', nsid: 2 });
  const hosts: Host[] = [];
  for (const name of ['a', 'b']) {
    mkdirSync(join(dir, name));
    await target.addListener(NQN, { address: { trtype: 'VFIOUSER', traddr: join(dir, name) } });
    const drv = await NvmeDriver.attach(join(dir, name, 'cntrl'), { useMappedDoorbells: mode === 'mapped' });
    const q = await drv.createIoQueuePair(1, 32);
    hosts.push({ drv, q, cntlid: (await drv.identify(1)).readUInt16LE(78) });
  }
  return {
    a: hosts[0]!,
    b: hosts[1]!,
    dir,
    target,
    bdevs,
    async close() {
      for (const h of hosts) h.drv.close();
      await target.shutdown();
      if (!o.keepBdevs) await bdevs.closeAll();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------ the commands, as a host sends them

function keys(h: Host, ...k: bigint[]): bigint {
  const buf = h.drv.alloc(4096);
  const b = Buffer.alloc(16);
  k.forEach((v, i) => b.writeBigUInt64LE(v, 8 * i));
  h.drv.write(buf, b);
  return buf;
}

async function register(h: Host, nsid: number, f: { rrega?: number; iekey?: boolean; cptpl?: number; crkey?: bigint; nrkey?: bigint }): Promise<number> {
  const cdw10 = (f.rrega ?? 0) | (f.iekey ? 8 : 0) | ((f.cptpl ?? 0) << 30);
  return (await h.drv.submit(h.q, cmd(0x0d, nsid, { prp1: keys(h, f.crkey ?? 0n, f.nrkey ?? 0n), cdw10 }))).status;
}

async function acquire(h: Host, nsid: number, f: { racqa?: number; iekey?: boolean; rtype: number; crkey: bigint; prkey?: bigint }): Promise<number> {
  const cdw10 = (f.racqa ?? 0) | (f.iekey ? 8 : 0) | (f.rtype << 8);
  return (await h.drv.submit(h.q, cmd(0x11, nsid, { prp1: keys(h, f.crkey, f.prkey ?? 0n), cdw10 }))).status;
}

async function release(h: Host, nsid: number, f: { rrela?: number; iekey?: boolean; rtype: number; crkey: bigint }): Promise<number> {
  const cdw10 = (f.rrela ?? 0) | (f.iekey ? 8 : 0) | (f.rtype << 8);
  return (await h.drv.submit(h.q, cmd(0x15, nsid, { prp1: keys(h, f.crkey), cdw10 }))).status;
}

async function report(h: Host, nsid: number, o: { numd?: number; eds?: boolean } = {}): Promise<{ status: number; data: Buffer }> {
  const buf = h.drv.alloc(8192);
  h.drv.write(buf, Buffer.alloc(8192, 0xee));
  const numd = o.numd ?? 1023;
  const c = await h.drv.submit(h.q, cmd(0x0e, nsid, { ...h.drv.prps(buf, Math.min(8192, (numd + 1) * 4)), cdw10: numd, cdw11: o.eds ? 1 : 0 }));
  return { status: c.status, data: h.drv.read(buf, 8192) };
}

async function setHostId(h: Host, id: Buffer): Promise<number> {
  const buf = h.drv.alloc(4096);
  h.drv.write(buf, id);
  return (await h.drv.adminCommand(cmd(0x09, 0, { prp1: buf, cdw10: 0x81, cdw11: id.length === 16 ? 1 : 0 }))).status;
}

async function io(h: Host, opc: number, nsid: number): Promise<number> {
  const buf = h.drv.alloc(4096);
  return (await h.drv.io(h.q, opc, nsid, 8n, 1, buf, 512)).status;
}

async function logPage0C(h: Host): Promise<{ count: bigint; type: number; avail: number; nsid: number }> {
  const buf = h.drv.alloc(4096);
  await h.drv.adminOk(cmd(0x02, 0, { prp1: buf, cdw10: 0x80 | (15 << 16) }), 'Get Log Page 80h');
  const d = h.drv.read(buf, 64);
  return { count: d.readBigUInt64LE(0), type: d[8]!, avail: d[9]!, nsid: d.readUInt32LE(12) };
}

/** An AER that resolves with its dword 0 when an event comes. */
function aer(h: Host): Promise<number> {
  return h.drv.submit(h.drv.admin, cmd(0x0c, 0), 30000).then((c) => c.dw0);
}

/**
 * Reads log 80h until it is empty (earlier tests' notices), then leaves an AER outstanding that
 * no earlier event completed: what it reports comes from what the test does next.
 */
async function armAer(h: Host): Promise<{ event: Promise<number> }> {
  for (;;) {
    while ((await logPage0C(h)).type !== 0);
    const ev = aer(h);
    const early = await Promise.race([ev.then(() => true), new Promise<boolean>((ok) => setTimeout(() => ok(false), 30))]);
    if (!early) return { event: ev }; // wrapped: an async function's promise result would be awaited
  }
}

const A_ID = Buffer.from('a1a2a3a4a5a6a7a8', 'hex');
const B_ID = Buffer.from('b1b2b3b4b5b6b7b8', 'hex');

/** Unregisters both hosts (IEKEY), so each test starts clean. */
async function clean(r: Rig, nsid: number): Promise<void> {
  for (const h of [r.a, r.b]) {
    const st = await register(h, nsid, { rrega: 1, iekey: true });
    assert.ok(sc(st) === 0 || sc(st) === sc(Status.RESERVATION_CONFLICT), statusName(st));
  }
}

for (const mode of ['mapped', 'message'] as const) {
  describe(`reservations, two controllers on one subsystem (${mode} doorbells)`, () => {
    let r: Rig;
    before(async () => {
      r = await rig(mode);
      eq(await setHostId(r.a, A_ID), Status.SUCCESS, 'host A id');
      eq(await setHostId(r.b, B_ID), Status.SUCCESS, 'host B id');
    });
    after(async () => {
      await r?.close();
    });

    test('Identify: two controller IDs, CMIC bit 1, NMIC bit 0, ONCS bit 5, RESCAP; log 05h lists the commands', async () => {
      assert.notEqual(r.a.cntlid, r.b.cntlid);
      for (const h of [r.a, r.b]) {
        const id = await h.drv.identify(1);
        assert.ok(id[76]! & 2, 'CMIC bit 1');
        assert.ok(id.readUInt16LE(520) & (1 << 5), 'ONCS reservations');
        assert.ok(id.readUInt32LE(96) & 1, 'CTRATT HIDS (128-bit Host Identifier)');
        const ns = await h.drv.identify(0, 1);
        assert.equal(ns[30]! & 1, 1, 'NMIC shared');
        assert.equal(ns[31], 0xfe, 'RESCAP: all types, IEKEY_X, no PTPL without ptpl_file');
        const buf = h.drv.alloc(4096);
        await h.drv.adminOk(cmd(0x02, 0, { prp1: buf, cdw10: 0x05 | (1023 << 16) }), 'log 05h');
        const log = h.drv.read(buf, 4096);
        for (const op of [0x0d, 0x0e, 0x11, 0x15]) assert.equal(log.readUInt32LE(1024 + 4 * op) & 1, 1, `I/O opcode ${op.toString(16)}h listed`);
      }
    });

    test('Host Identifier: 64- and 128-bit read back; may not change while registered (Command Sequence Error)', async () => {
      const buf = r.a.drv.alloc(4096);
      const dw0 = await r.a.drv.adminOk(cmd(0x0a, 0, { prp1: buf, cdw10: 0x81 }), 'Get Features 81h');
      assert.equal(dw0 & 1, 0, 'EXHID 0');
      assert.deepEqual(r.a.drv.read(buf, 8), A_ID);
      eq(await register(r.a, 1, { nrkey: 0xaan }), Status.SUCCESS, 'register');
      eq(await setHostId(r.a, Buffer.from('0102030405060708', 'hex')), Status.COMMAND_SEQUENCE_ERROR, 'change while registered');
      eq(await setHostId(r.a, A_ID), Status.SUCCESS, 'the same value again');
      eq(await register(r.a, 1, { rrega: 1, crkey: 0xaan }), Status.SUCCESS, 'unregister');
      const ext = Buffer.from('c0c1c2c3c4c5c6c7c8c9cacbcccdcecf', 'hex');
      eq(await setHostId(r.a, ext), Status.SUCCESS, '128-bit');
      const dw = await r.a.drv.adminOk(cmd(0x0a, 0, { prp1: buf, cdw10: 0x81, cdw11: 1 }), 'Get Features 81h');
      assert.equal(dw & 1, 1, 'EXHID 1');
      assert.deepEqual(r.a.drv.read(buf, 16), ext);
      eq(await setHostId(r.a, A_ID), Status.SUCCESS, 'back to 64-bit');
    });

    test('Reservation Register: every status row', async () => {
      await clean(r, 1);
      const a = r.a;
      eq(await register(a, 1, { nrkey: 0n }), Status.INVALID_FIELD, 'register NRKEY 0');
      eq(await register(a, 1, { nrkey: 5n }), Status.SUCCESS, 'register');
      eq(await register(a, 1, { nrkey: 5n }), Status.SUCCESS, 'register again, same key');
      eq(await register(a, 1, { nrkey: 6n }), Status.RESERVATION_CONFLICT, 'register again, another key');
      eq(await register(a, 1, { rrega: 2, crkey: 4n, nrkey: 7n }), Status.RESERVATION_CONFLICT, 'replace, wrong CRKEY');
      eq(await register(a, 1, { rrega: 2, crkey: 5n, nrkey: 0n }), Status.INVALID_FIELD, 'replace with NRKEY 0');
      eq(await register(a, 1, { rrega: 2, crkey: 5n, nrkey: 7n }), Status.SUCCESS, 'replace');
      eq(await register(a, 1, { rrega: 2, iekey: true, crkey: 1n, nrkey: 8n }), Status.SUCCESS, 'replace, IEKEY');
      eq(await register(a, 1, { rrega: 1, crkey: 7n }), Status.RESERVATION_CONFLICT, 'unregister, old key');
      eq(await register(a, 1, { rrega: 1, crkey: 8n }), Status.SUCCESS, 'unregister');
      eq(await register(a, 1, { rrega: 1, crkey: 8n }), Status.RESERVATION_CONFLICT, 'unregister, not a registrant');
      eq(await register(a, 1, { rrega: 2, crkey: 0n, nrkey: 9n }), Status.RESERVATION_CONFLICT, 'replace, not a registrant');
      eq(await register(a, 1, { rrega: 2, iekey: true, nrkey: 9n }), Status.SUCCESS, 'replace with IEKEY registers');
      for (const rrega of [3, 4, 7]) eq(await register(a, 1, { rrega, nrkey: 9n }), Status.INVALID_FIELD, `RREGA ${rrega}`);
      eq(await register(a, 1, { nrkey: 9n, cptpl: 1 }), Status.INVALID_FIELD, 'CPTPL 01b');
      eq(await register(a, 1, { nrkey: 9n, cptpl: 3 }), Status.INVALID_FIELD, 'CPTPL 11b without ptpl_file');
      eq(await register(a, 1, { nrkey: 9n, cptpl: 2 }), Status.SUCCESS, 'CPTPL 10b');
      const rep = await report(a, 1);
      eq(rep.status, Status.SUCCESS, 'report');
      assert.equal(rep.data.readUInt16LE(5), 1, 'REGCTL');
      assert.equal(rep.data.readBigUInt64LE(24 + 16), 9n, 'RKEY');
    });

    test('Acquire and Release: every status row; hostile RTYPE, RACQA, RRELA, IEKEY', async () => {
      await clean(r, 1);
      const { a, b } = r;
      eq(await acquire(a, 1, { rtype: 1, crkey: 1n }), Status.RESERVATION_CONFLICT, 'acquire, not a registrant');
      eq(await register(a, 1, { nrkey: 1n }), Status.SUCCESS, 'register A');
      eq(await register(b, 1, { nrkey: 2n }), Status.SUCCESS, 'register B');
      for (const rtype of [0, 7, 0xff]) eq(await acquire(a, 1, { rtype, crkey: 1n }), Status.INVALID_FIELD, `RTYPE ${rtype}`);
      for (const racqa of [3, 5, 7]) eq(await acquire(a, 1, { racqa, rtype: 1, crkey: 1n }), Status.INVALID_FIELD, `RACQA ${racqa}`);
      eq(await acquire(a, 1, { iekey: true, rtype: 1, crkey: 1n }), Status.INVALID_FIELD, 'acquire IEKEY');
      eq(await acquire(a, 1, { rtype: 1, crkey: 9n }), Status.RESERVATION_CONFLICT, 'acquire, wrong CRKEY');
      eq(await acquire(a, 1, { rtype: 1, crkey: 1n }), Status.SUCCESS, 'acquire WE');
      eq(await acquire(a, 1, { rtype: 1, crkey: 1n }), Status.SUCCESS, 'acquire what it holds');
      eq(await acquire(a, 1, { rtype: 2, crkey: 1n }), Status.RESERVATION_CONFLICT, 'acquire another type while holding');
      eq(await acquire(b, 1, { rtype: 1, crkey: 2n }), Status.RESERVATION_CONFLICT, 'acquire held by another');
      eq(await release(b, 1, { rtype: 1, crkey: 2n }), Status.SUCCESS, 'release by a registrant that does not hold it: no change');
      for (const rrela of [2, 3, 7]) eq(await release(a, 1, { rrela, rtype: 1, crkey: 1n }), Status.INVALID_FIELD, `RRELA ${rrela}`);
      eq(await release(a, 1, { iekey: true, rtype: 1, crkey: 1n }), Status.INVALID_FIELD, 'release IEKEY');
      eq(await release(a, 1, { rtype: 2, crkey: 1n }), Status.INVALID_FIELD, 'release, wrong RTYPE');
      eq(await release(a, 1, { rtype: 1, crkey: 5n }), Status.RESERVATION_CONFLICT, 'release, wrong CRKEY');
      eq(await release(a, 1, { rtype: 1, crkey: 1n }), Status.SUCCESS, 'release');
      eq(await release(a, 1, { rtype: 1, crkey: 1n }), Status.SUCCESS, 'release with nothing reserved');
      eq(await io(b, 0x01, 1), Status.SUCCESS, 'write after release');
      eq(await release(b, 1, { rrela: 1, rtype: 0, crkey: 2n }), Status.SUCCESS, 'clear');
      eq(await register(a, 1, { rrega: 1, crkey: 1n }), Status.RESERVATION_CONFLICT, 'A is no registrant after the clear');
      eq(await acquire(r.a, 1, { rtype: 1, crkey: 1n }), Status.RESERVATION_CONFLICT, 'acquire after clear');
    });

    // NVMe Base 2.0 Figure "Command Behavior in the Presence of a Reservation": [read, write]
    // allowed for a registrant and a non-registrant (the holder may always do both).
    const TABLE: Record<number, { registrant: [boolean, boolean]; other: [boolean, boolean] }> = {
      1: { registrant: [true, false], other: [true, false] },
      2: { registrant: [false, false], other: [false, false] },
      3: { registrant: [true, true], other: [true, false] },
      4: { registrant: [true, true], other: [false, false] },
      5: { registrant: [true, true], other: [true, false] },
      6: { registrant: [true, true], other: [false, false] },
    };
    for (const nsid of [1, 2]) {
      test(`conflict table per type on namespace ${nsid} (${nsid === 1 ? 'native engine' : 'TypeScript bdev'}): Read, Compare, Verify; Write, Write Zeroes, DSM, Flush, fused`, async () => {
        const wrong: string[] = [];
        const check = async (h: Host, who: string, type: number, [rd, wr]: [boolean, boolean]) => {
          const want = (ok: boolean) => (ok ? Status.SUCCESS : Status.RESERVATION_CONFLICT);
          const buf = h.drv.alloc(4096);
          const got: [string, number, boolean][] = [
            ['Read', await io(h, 0x02, nsid), rd],
            ['Verify', (await h.drv.submit(h.q, cmd(0x0c, nsid, { cdw10: 8 }))).status, rd],
            ['Write', await io(h, 0x01, nsid), wr],
            ['Write Zeroes', (await h.drv.submit(h.q, cmd(0x08, nsid, { cdw10: 8 }))).status, wr],
            ['Flush', (await h.drv.submit(h.q, cmd(0x00, nsid))).status, wr],
            ['DSM', (await h.drv.submit(h.q, cmd(0x09, nsid, { prp1: buf, cdw10: 0, cdw11: 0 }))).status, wr],
          ];
          // Compare reads what was just written (zeroes after Write Zeroes, or a failed compare).
          const cmp = (await h.drv.io(h.q, 0x05, nsid, 8n, 1, buf, 512)).status;
          if (rd ? sc(cmp) === sc(Status.RESERVATION_CONFLICT) : sc(cmp) !== sc(Status.RESERVATION_CONFLICT)) wrong.push(`type ${type} ${who} Compare: ${statusName(cmp)}`);
          for (const [name, st, ok] of got) if (sc(st) !== sc(want(ok))) wrong.push(`type ${type} ${who} ${name}: ${statusName(st)}, expected ${statusName(want(ok))}`);
          // A fused Compare and Write is allowed only when both halves are.
          const [c1, c2] = await h.drv.submitTogether(h.q, [cmd(0x05, nsid, { prp1: buf, cdw10: 8, flags: 1 }), cmd(0x01, nsid, { prp1: buf, cdw10: 8, flags: 2 })]);
          if (!(rd && wr) && (sc(c1!.status) !== sc(Status.RESERVATION_CONFLICT) || sc(c2!.status) !== sc(Status.ABORTED_FAILED_FUSED)))
            wrong.push(`type ${type} ${who} fused: ${statusName(c1!.status)}/${statusName(c2!.status)}`);
        };
        for (let type = 1; type <= 6; type++) {
          await clean(r, nsid);
          eq(await register(r.a, nsid, { nrkey: 0xan }), Status.SUCCESS, 'register A');
          eq(await acquire(r.a, nsid, { rtype: type, crkey: 0xan }), Status.SUCCESS, `acquire type ${type}`);
          await check(r.a, 'holder', type, [true, true]);
          await check(r.b, 'non-registrant', type, TABLE[type]!.other);
          eq(await register(r.b, nsid, { nrkey: 0xbn }), Status.SUCCESS, 'register B');
          await check(r.b, 'registrant', type, TABLE[type]!.registrant);
          const rep = await report(r.a, nsid);
          assert.equal(rep.data[4], type, 'RTYPE');
          // RCSTS: the holder; every registrant for the All Registrants types.
          assert.equal(rep.data[24 + 2], 1, 'A holds it');
          assert.equal(rep.data[48 + 2], type >= 5 ? 1 : 0, `B holds it: type ${type}`);
        }
        await clean(r, nsid);
        await check(r.b, 'after release', 0, [true, true]);
        assert.deepEqual(wrong, []);
      });
    }

    test('preempt: Registration Preempted and Reservation Released to the other controller with an AEN (log 80h, RAE)', async () => {
      await clean(r, 1);
      const { a, b } = r;
      eq(await register(a, 1, { nrkey: 0xan }), Status.SUCCESS, 'register A');
      eq(await register(b, 1, { nrkey: 0xbn }), Status.SUCCESS, 'register B');
      eq(await acquire(a, 1, { rtype: 1, crkey: 0xan }), Status.SUCCESS, 'A acquires WE');
      const { event: ev } = await armAer(a);
      eq(await acquire(b, 1, { racqa: 1, rtype: 2, crkey: 0xbn, prkey: 0xan }), Status.SUCCESS, 'B preempts A');
      const dw0 = await ev;
      assert.equal(dw0 & 7, 6, 'AEN type I/O command specific');
      assert.equal((dw0 >> 8) & 0xff, 0, 'Reservation Log Page Available');
      assert.equal((dw0 >> 16) & 0xff, 0x80, 'log 80h');
      const e = await logPage0C(a);
      assert.equal(e.type, 1, 'Registration Preempted');
      assert.equal(e.nsid, 1);
      assert.ok(e.count > 0n);
      assert.deepEqual(await logPage0C(a), { count: 0n, type: 0, avail: 0, nsid: 0 }, 'read: empty');
      eq(await io(a, 0x02, 1), Status.RESERVATION_CONFLICT, 'A reads under B\'s Exclusive Access');
      eq(await register(a, 1, { rrega: 1, crkey: 0xan }), Status.RESERVATION_CONFLICT, 'A was unregistered');
      // B preempts itself (PRKEY its own key): the type changes, others told Reservation Released.
      eq(await register(a, 1, { nrkey: 0xan }), Status.SUCCESS, 'A registers again');
      const { event: ev2 } = await armAer(a);
      eq(await acquire(b, 1, { racqa: 2, rtype: 3, crkey: 0xbn, prkey: 0xbn }), Status.SUCCESS, 'B preempts and aborts itself to WERO');
      assert.equal((await ev2) & 7, 6);
      assert.equal((await logPage0C(a)).type, 2, 'Reservation Released');
      eq(await io(a, 0x01, 1), Status.SUCCESS, 'A registrant writes under WERO');
      // Preempt a key nobody has: Reservation Conflict; PRKEY 0 with a holder: Conflict (as SPDK).
      eq(await acquire(a, 1, { racqa: 1, rtype: 3, crkey: 0xan, prkey: 0x99n }), Status.RESERVATION_CONFLICT, 'PRKEY of nobody');
      eq(await acquire(a, 1, { racqa: 1, rtype: 3, crkey: 0xan, prkey: 0n }), Status.RESERVATION_CONFLICT, 'PRKEY 0');
    });

    test('release and clear: Reservation Released / Reservation Preempted; the mask (82h) hides a type', async () => {
      await clean(r, 1);
      const { a, b } = r;
      eq(await register(a, 1, { nrkey: 0xan }), Status.SUCCESS, 'register A');
      eq(await register(b, 1, { nrkey: 0xbn }), Status.SUCCESS, 'register B');
      eq(await acquire(b, 1, { rtype: 4, crkey: 0xbn }), Status.SUCCESS, 'B acquires EARO');
      const { event: ev } = await armAer(a);
      eq(await release(b, 1, { rtype: 4, crkey: 0xbn }), Status.SUCCESS, 'B releases');
      assert.equal((await ev) & 7, 6);
      assert.equal((await logPage0C(a)).type, 2, 'Reservation Released');
      // Masked: RESREL (bit 2) set on A for namespace 1, so a release leaves no entry.
      await a.drv.adminOk(cmd(0x09, 1, { cdw10: 0x82, cdw11: 1 << 2 }), 'Set Features 82h');
      assert.equal(await a.drv.adminOk(cmd(0x0a, 1, { cdw10: 0x82 }), 'Get Features 82h'), 1 << 2);
      eq(await acquire(b, 1, { rtype: 6, crkey: 0xbn }), Status.SUCCESS, 'B acquires EAAR');
      eq(await register(a, 1, { rrega: 1, crkey: 0xan }), Status.SUCCESS, 'A unregisters');
      eq(await register(a, 1, { nrkey: 0xan }), Status.SUCCESS, 'A registers again');
      eq(await release(b, 1, { rtype: 6, crkey: 0xbn }), Status.SUCCESS, 'B releases EAAR');
      assert.equal((await logPage0C(a)).type, 0, 'masked: no entry');
      await a.drv.adminOk(cmd(0x09, 0xffffffff, { cdw10: 0x82, cdw11: 0 }), 'Set Features 82h, every namespace');
      eq((await a.drv.adminCommand(cmd(0x0a, 0xffffffff, { cdw10: 0x82 }))).status, Status.INVALID_FIELD, 'Get 82h with NSID FFFFFFFFh');
      eq((await a.drv.adminCommand(cmd(0x0a, 9, { cdw10: 0x82 }))).status, Status.INVALID_FIELD, 'Get 82h of an inactive namespace');
      const { event: ev2 } = await armAer(a);
      eq(await release(b, 1, { rrela: 1, rtype: 0, crkey: 0xbn }), Status.SUCCESS, 'B clears');
      assert.equal((await ev2) & 7, 6);
      assert.equal((await logPage0C(a)).type, 3, 'Reservation Preempted');
    });

    test('Report: GEN, RTYPE, REGCTL, entries; extended with 128-bit Host Identifiers; NUMD bounds; EDS 0 with a 128-bit host', async () => {
      await clean(r, 1);
      const { a, b } = r;
      const gen0 = (await report(a, 1)).data.readUInt32LE(0);
      eq(await register(a, 1, { nrkey: 0x1111n }), Status.SUCCESS, 'register A');
      eq(await register(b, 1, { nrkey: 0x2222n }), Status.SUCCESS, 'register B');
      eq(await acquire(b, 1, { rtype: 1, crkey: 0x2222n }), Status.SUCCESS, 'B acquires');
      const { status, data } = await report(a, 1);
      eq(status, Status.SUCCESS, 'report');
      assert.equal(data.readUInt32LE(0), gen0 + 2, 'GEN counts the two registrations');
      assert.equal(data[4], 1, 'RTYPE');
      assert.equal(data.readUInt16LE(5), 2, 'REGCTL');
      assert.equal(data[9], 0, 'PTPLS');
      const entries = [0, 1].map((i) => ({ cntlid: data.readUInt16LE(24 + 24 * i), rcsts: data[26 + 24 * i], hostid: data.subarray(32 + 24 * i, 40 + 24 * i), rkey: data.readBigUInt64LE(40 + 24 * i) }));
      assert.deepEqual(entries, [
        { cntlid: a.cntlid, rcsts: 0, hostid: A_ID, rkey: 0x1111n },
        { cntlid: b.cntlid, rcsts: 1, hostid: B_ID, rkey: 0x2222n },
      ]);
      assert.ok(data.subarray(72, 100).every((x) => x === 0), 'zero past the structure, within NUMD');
      const ext = await report(a, 1, { eds: true });
      eq(ext.status, Status.SUCCESS, 'extended');
      assert.equal(ext.data.readUInt16LE(5), 2);
      assert.equal(ext.data.readUInt16LE(64 + 64), b.cntlid, 'second extended entry CNTLID');
      assert.equal(ext.data.readBigUInt64LE(64 + 64 + 8), 0x2222n, 'RKEY at byte 8');
      assert.deepEqual(ext.data.subarray(64 + 64 + 16, 64 + 64 + 24), B_ID, 'HOSTID at byte 16');
      // NUMD 0: one dword (GEN) and nothing after it.
      const one = await report(a, 1, { numd: 0 });
      eq(one.status, Status.SUCCESS, 'NUMD 0');
      assert.equal(one.data.readUInt32LE(0), gen0 + 2);
      assert.equal(one.data[4], 0xee, 'nothing past NUMD');
      eq((await a.drv.submit(a.q, cmd(0x0e, 1, { prp1: a.drv.alloc(4096), cdw10: 0xffffffff }))).status, Status.INVALID_FIELD, 'NUMD beyond MDTS');
      eq((await a.drv.submit(a.q, cmd(0x0e, 1, { prp1: a.drv.alloc(4096), cdw10: (1 << 20) / 4 }))).status, Status.INVALID_FIELD, 'NUMD one past MDTS');
      eq(await release(b, 1, { rtype: 1, crkey: 0x2222n }), Status.SUCCESS, 'release');
      await clean(r, 1);
      // A host with a 128-bit identifier: EDS 0 cannot carry it.
      eq(await setHostId(a, Buffer.alloc(16, 0x5a)), Status.SUCCESS, '128-bit id');
      eq((await report(a, 1)).status, Status.HOST_IDENTIFIER_INCONSISTENT_FORMAT, 'EDS 0, 128-bit host');
      eq((await report(a, 1, { eds: true })).status, Status.SUCCESS, 'EDS 1, 128-bit host');
      eq(await setHostId(a, A_ID), Status.SUCCESS, 'back to 64-bit');
    });

    test('hostile: NSID 0/absent, PSDT 11b, unmapped data pointer, short SGL, data pointer at the end of memory', async () => {
      const a = r.a;
      for (const nsid of [0, 9, 0xffffffff]) eq((await a.drv.submit(a.q, cmd(0x0d, nsid, { prp1: keys(a, 0n, 1n) }))).status, Status.INVALID_NAMESPACE, `NSID ${nsid}`);
      eq((await a.drv.submit(a.q, cmd(0x0d, 1, { prp1: keys(a, 0n, 1n), flags: 3 << 6 }))).status, Status.INVALID_FIELD, 'PSDT 11b');
      eq((await a.drv.submit(a.q, cmd(0x0d, 1, { prp1: 0x7fff_0000_0000n }))).status, Status.DATA_TRANSFER_ERROR, 'unmapped PRP');
      // An SGL Data Block of 4 bytes where Register needs 16: the walk fails.
      const sge = cmd(0x0d, 1, { flags: 1 << 6 });
      sge.writeBigUInt64LE(keys(a, 0n, 1n), 24);
      sge.writeUInt32LE(4, 32);
      sge[39] = 0x00;
      eq((await a.drv.submit(a.q, sge)).status, Status.DATA_SGL_LENGTH_INVALID, 'SGL shorter than the data');
      const rep = cmd(0x0e, 1, { flags: 1 << 6, cdw10: 15 });
      rep.writeBigUInt64LE(a.drv.alloc(4096), 24);
      rep.writeUInt32LE(8, 32);
      eq((await a.drv.submit(a.q, rep)).status, Status.DATA_SGL_LENGTH_INVALID, 'Report SGL shorter than NUMD');
      eq(await register(a, 1, { rrega: 1, iekey: true }), Status.RESERVATION_CONFLICT, 'nothing was registered by any of them');
    });

    test('a controller reset keeps the registration, the reservation and the Host Identifier', async () => {
      await clean(r, 1);
      eq(await register(r.b, 1, { nrkey: 0xbn }), Status.SUCCESS, 'register B');
      eq(await acquire(r.b, 1, { rtype: 2, crkey: 0xbn }), Status.SUCCESS, 'B acquires EA');
      await r.b.drv.disable();
      r.b.drv.close();
      const drv = await NvmeDriver.attach(join(r.dir, 'b', 'cntrl'), { useMappedDoorbells: mode === 'mapped' });
      r.b = { drv, q: await drv.createIoQueuePair(1, 32), cntlid: r.b.cntlid };
      const buf = drv.alloc(4096);
      await drv.adminOk(cmd(0x0a, 0, { prp1: buf, cdw10: 0x81 }), 'Get Features 81h');
      assert.deepEqual(drv.read(buf, 8), B_ID);
      eq(await io(r.b, 0x01, 1), Status.SUCCESS, 'the holder writes after its reset');
      eq(await io(r.a, 0x02, 1), Status.RESERVATION_CONFLICT, 'the other host still cannot read');
      eq(await release(r.b, 1, { rrela: 1, rtype: 0, crkey: 0xbn }), Status.SUCCESS, 'clear');
    });
  });
}

describe('Reservation Persistence (PTPL) with nvmf_subsystem_add_ns ptpl_file', () => {
  test('RESCAP PTPL, Set/Get Features 83h, CPTPL, the file, and a restart that keeps the reservation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vnvme-ptpl-'));
    const file = join(dir, 'ns1.ptpl');
    const bdevs = new BdevRegistry();
    let r = await rig('message', { ptplFile: file, bdevs: undefined, keepBdevs: true });
    try {
      eq(await setHostId(r.a, A_ID), Status.SUCCESS, 'host id');
      const ns = await r.a.drv.identify(0, 1);
      assert.equal(ns[31], 0xff, 'RESCAP PTPL');
      assert.equal((await r.a.drv.identify(0, 2))[31], 0xfe, 'namespace 2 has no ptpl_file');
      eq((await r.a.drv.adminCommand(cmd(0x09, 2, { cdw10: 0x83, cdw11: 1 }))).status, Status.INVALID_FIELD, 'PTPL 1 where it cannot persist');
      eq((await r.a.drv.adminCommand(cmd(0x09, 1, { cdw10: 0x83 | (1 << 31), cdw11: 1 }))).status, Status.FEATURE_NOT_SAVEABLE, 'SV');
      eq(await register(r.a, 1, { nrkey: 0x77n, cptpl: 3 }), Status.SUCCESS, 'register with CPTPL 11b');
      assert.equal(await r.a.drv.adminOk(cmd(0x0a, 1, { cdw10: 0x83 }), 'Get Features 83h'), 1);
      eq(await acquire(r.a, 1, { rtype: 1, crkey: 0x77n }), Status.SUCCESS, 'acquire WE');
      const saved = JSON.parse(readFileSync(file, 'utf8').replace(/("(?:rkey|crkey)"\s*:\s*)(\d+)/g, '$1"$2"'));
      assert.equal(saved.ptpl, true);
      assert.equal(saved.rtype, 1);
      assert.equal(saved.crkey, '119');
      assert.equal(saved.registrants.length, 1);
      assert.equal(saved.bdev_uuid, r.bdevs.get('Malloc0').uuid.toLowerCase());
      // "Power loss": the target goes, a new one with the same bdev and file comes.
      const keep = r.bdevs;
      await r.close();
      keep.release('Malloc0', nsOwner(NQN, 1));
      keep.release('EE_Malloc1', nsOwner(NQN, 2));
      r = await rig('message', { ptplFile: file, bdevs: keep });
      const rep = await report(r.b, 1);
      eq(rep.status, Status.SUCCESS, 'report after restart');
      assert.equal(rep.data[4], 1, 'RTYPE kept');
      assert.equal(rep.data[9], 1, 'PTPLS');
      assert.equal(rep.data.readUInt16LE(24), 0xffff, 'CNTLID FFFFh: registered before the restart');
      assert.equal(rep.data.readBigUInt64LE(40), 0x77n);
      eq(await io(r.b, 0x01, 1), Status.RESERVATION_CONFLICT, 'the reservation holds after the restart');
      eq(await setHostId(r.b, A_ID), Status.SUCCESS, 'the host comes back (on the other controller)');
      eq(await io(r.b, 0x01, 1), Status.SUCCESS, 'and is the holder again');
      eq(await register(r.b, 1, { rrega: 1, crkey: 0x77n, cptpl: 2 }), Status.SUCCESS, 'unregister, PTPL off');
      assert.equal(readFileSync(file, 'utf8'), '', 'PTPL off: the file is emptied, as SPDK');
    } finally {
      await r.close();
      await r.bdevs.closeAll();
      await bdevs.closeAll();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the reservation model alone: bounds', () => {
  function member(cntlid: number, id: Buffer): ReservationMember & { notices: number[] } {
    const notices: number[] = [];
    return { cntlid, notices, host: () => hostIdentity(id, id.length === 16, cntlid), reservationChanged: () => {}, reservationNotice: (_n, t) => void notices.push(t) };
  }

  test(`at most ${MAX_REGISTRANTS} registrants a namespace (Internal Error beyond, as SPDK); hosts without an identifier are one each`, () => {
    const d = new ReservationDomain();
    const ms = Array.from({ length: MAX_REGISTRANTS + 1 }, (_, i) => member(i + 1, Buffer.alloc(8)));
    for (const m of ms.slice(0, MAX_REGISTRANTS)) d.register(m, 1, { rrega: 0, iekey: false, cptpl: 0, crkey: 0n, nrkey: BigInt(m.cntlid) });
    assert.throws(() => d.register(ms[MAX_REGISTRANTS]!, 1, { rrega: 0, iekey: false, cptpl: 0, crkey: 0n, nrkey: 99n }), (e: { status: number }) => e.status === Status.INTERNAL_ERROR);
    assert.equal(d.of(1).registrants.length, MAX_REGISTRANTS);
    // Two controllers with one Host Identifier are one host: the second sees the first's registration.
    const x = member(50, Buffer.from('0102030405060708', 'hex'));
    const y = member(51, Buffer.from('0102030405060708', 'hex'));
    d.register(x, 2, { rrega: 0, iekey: false, cptpl: 0, crkey: 0n, nrkey: 5n });
    d.acquire(y, 2, { racqa: 0, iekey: false, rtype: 2, crkey: 5n, prkey: 0n });
    assert.equal(d.blocksFor(x.host().key, 2), 0, 'the same host holds it through either controller');
    assert.notEqual(d.blocksFor(ms[0]!.host().key, 2), 0);
  });

  test(`the notification log keeps at most ${MAX_NOTICES} entries; the last one's count moves on`, () => {
    const fake = { opts: { identity: { cntlid: 1 } }, features: { hostId: Buffer.alloc(8), hostIdExtended: false }, pushReservationAccess: () => {}, asyncEvent: () => {} };
    const cr = new ControllerReservations(fake as unknown as NvmeController, new ReservationDomain());
    for (let i = 0; i < MAX_NOTICES + 10; i++) cr.reservationNotice(1, 1);
    assert.equal(cr.waitingNotices, MAX_NOTICES);
    let last = cr.logPage();
    assert.equal(last[9], MAX_NOTICES - 1, 'Number of Available Log Pages');
    for (let i = 0; i < MAX_NOTICES - 1; i++) cr.logPageRead();
    last = cr.logPage();
    assert.equal(last.readBigUInt64LE(0), BigInt(MAX_NOTICES + 10), 'the count shows the entries missed');
  });
});

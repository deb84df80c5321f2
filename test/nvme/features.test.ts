// What Identify reports, what Get/Set Features accept and what the Commands Supported and
// Effects log (05h) lists agree (issue 13): every FID 0..255 is either supported (Get succeeds)
// or Invalid Field, and supported exactly when mandatory or indicated by Identify; every admin
// opcode is accepted exactly when the log lists it. Keep Alive Timer (0Fh), Host Behavior Support
// (16h) and Timestamp (0Eh) are read and written through their data.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cmd } from '../../harness/initiator/nvme-driver.js';
import { Status, statusName } from '../../target/nvme/constants.js';
import { controllerFixture, sc, type ControllerFixture } from './fixture.js';

const GET_FEATURES = 0x0a;
const SET_FEATURES = 0x09;

/** NVMe Base 2.0 Figure 385 / NVM Command Set 1.0: mandatory for an NVM I/O controller over PCIe. */
const MANDATORY = new Map<number, string>([
  [0x01, 'Arbitration'],
  [0x02, 'Power Management'],
  [0x04, 'Temperature Threshold'],
  [0x05, 'Error Recovery'],
  [0x07, 'Number of Queues'],
  [0x08, 'Interrupt Coalescing'],
  [0x09, 'Interrupt Vector Configuration'],
  [0x0a, 'Write Atomicity Normal'],
  [0x0b, 'Asynchronous Event Configuration'],
]);

/** Optional features and the Identify Controller field that says the controller has them. */
const INDICATED: { fid: number; name: string; by: (id: Buffer) => boolean }[] = [
  { fid: 0x06, name: 'Volatile Write Cache (VWC bit 0)', by: (id) => (id[525]! & 1) === 1 },
  { fid: 0x0c, name: 'Autonomous Power State Transition (APSTA)', by: (id) => (id[265]! & 1) === 1 },
  { fid: 0x0d, name: 'Host Memory Buffer (HMPRE)', by: (id) => id.readUInt32LE(272) !== 0 },
  { fid: 0x0e, name: 'Timestamp (ONCS bit 6)', by: (id) => (id.readUInt16LE(520) & (1 << 6)) !== 0 },
  { fid: 0x0f, name: 'Keep Alive Timer (KAS)', by: (id) => id.readUInt16LE(320) !== 0 },
  { fid: 0x10, name: 'Host Controlled Thermal Management (HCTMA)', by: (id) => (id.readUInt16LE(322) & 1) === 1 },
  { fid: 0x11, name: 'Non-Operational Power State Config (CTRATT NOPSPS)', by: (id) => (id.readUInt32LE(96) & (1 << 3)) !== 0 },
  { fid: 0x81, name: 'Host Identifier (ONCS reservations or CTRATT HIDS)', by: (id) => (id.readUInt16LE(520) & (1 << 5)) !== 0 || (id.readUInt32LE(96) & 1) === 1 },
  { fid: 0x82, name: 'Reservation Notification Mask (ONCS reservations)', by: (id) => (id.readUInt16LE(520) & (1 << 5)) !== 0 },
  { fid: 0x83, name: 'Reservation Persistence (ONCS reservations)', by: (id) => (id.readUInt16LE(520) & (1 << 5)) !== 0 },
];

/** Features that are namespace specific: Reservation Notification Mask, Reservation Persistence. */
const NAMESPACE_SPECIFIC = new Set([0x82, 0x83]);

/** Optional features no Identify field announces, which this controller implements. */
const UNANNOUNCED = new Map<number, string>([[0x16, 'Host Behavior Support']]);

/** Admin opcodes a scan must not send: they change or erase state, or never complete by themselves. */
const NOT_SCANNED = new Map<number, { name: string; supported: (id: Buffer) => boolean }>([
  [0x0c, { name: 'Asynchronous Event Request (completes only on an event)', supported: () => true }],
  [0x0d, { name: 'Namespace Management', supported: (id) => (id.readUInt16LE(256) & (1 << 3)) !== 0 }],
  [0x10, { name: 'Firmware Commit', supported: (id) => (id.readUInt16LE(256) & (1 << 2)) !== 0 }],
  [0x11, { name: 'Firmware Image Download', supported: (id) => (id.readUInt16LE(256) & (1 << 2)) !== 0 }],
  [0x15, { name: 'Namespace Attachment', supported: (id) => (id.readUInt16LE(256) & (1 << 3)) !== 0 }],
  [0x1c, { name: 'Virtualization Management', supported: (id) => (id.readUInt16LE(256) & (1 << 7)) !== 0 }],
  [0x80, { name: 'Format NVM', supported: (id) => (id.readUInt16LE(256) & (1 << 1)) !== 0 }],
  [0x81, { name: 'Security Send', supported: (id) => (id.readUInt16LE(256) & 1) !== 0 }],
  [0x84, { name: 'Sanitize', supported: (id) => id.readUInt32LE(328) !== 0 }],
]);

for (const mode of ['mapped', 'message'] as const) {
  describe(`features, Identify and the Commands Supported log agree (${mode} doorbells)`, () => {
    let f: ControllerFixture;
    let id: Buffer;
    before(async () => {
      f = await controllerFixture({ disableMappableBar0: mode === 'message' });
      id = await f.drv.identify(1);
    });
    after(async () => {
      await f?.close();
    });

    test('Identify: KAS non-zero (100 ms units), Timestamp in ONCS', () => {
      assert.equal(id.readUInt16LE(320), 1, 'KAS');
      assert.ok(id.readUInt16LE(520) & (1 << 6), 'ONCS Timestamp');
    });

    test('Get Features over FIDs 0..255: success exactly for mandatory and announced features, else Invalid Field', async () => {
      const drv = f.drv;
      const buf = drv.alloc(4096);
      const supported = new Map(MANDATORY);
      for (const x of INDICATED) if (x.by(id)) supported.set(x.fid, x.name);
      for (const [fid, name] of UNANNOUNCED) supported.set(fid, name);
      const wrong: string[] = [];
      for (let fid = 0; fid < 256; fid++) {
        // Namespace-specific features name an active namespace (NSID 0 is Invalid Field there).
        const c = await drv.adminCommand(cmd(GET_FEATURES, NAMESPACE_SPECIFIC.has(fid) ? 1 : 0, { prp1: buf, cdw10: fid }));
        const want = supported.has(fid) ? Status.SUCCESS : Status.INVALID_FIELD;
        if (sc(c.status) !== sc(want)) wrong.push(`FID ${fid.toString(16)}h${supported.has(fid) ? ` (${supported.get(fid)})` : ''}: ${statusName(c.status)}, expected ${statusName(want)}`);
      }
      assert.deepEqual(wrong, []);
    });

    test('admin opcodes 0..255: accepted exactly when the Commands Supported log lists them', async () => {
      const drv = f.drv;
      const log = drv.alloc(4096);
      await drv.adminOk(cmd(0x02, 0, { prp1: log, cdw10: 0x05 | (1023 << 16) }), 'Commands Supported and Effects');
      const effects = drv.read(log, 4096);
      const listed = (op: number) => (effects.readUInt32LE(4 * op) & 1) === 1;
      const buf = drv.alloc(8192);
      const wrong: string[] = [];
      for (let op = 0; op < 256; op++) {
        const skip = NOT_SCANNED.get(op);
        if (skip) {
          if (listed(op) !== skip.supported(id)) wrong.push(`${op.toString(16)}h ${skip.name}: listed ${listed(op)}, Identify says ${skip.supported(id)}`);
          continue;
        }
        // All-zero command dwords: QID 0, FID 0, CNS 0 with NSID 0, LID 0... each a harmless error
        // or no-op where the opcode exists, Invalid Command Opcode where it does not.
        const c = await drv.adminCommand(cmd(op, 0, { prp1: buf, prp2: 0n }));
        const accepted = sc(c.status) !== sc(Status.INVALID_OPCODE);
        if (accepted !== listed(op)) wrong.push(`${op.toString(16)}h: ${statusName(c.status)} but ${listed(op) ? '' : 'not '}listed`);
      }
      assert.deepEqual(wrong, []);
      assert.ok(listed(0x18), 'Keep Alive listed');
      assert.equal(listed(0x7c), mode === 'message', 'Doorbell Buffer Config only where offered');
    });

    test('Keep Alive Timer: Set/Get in ms rounded up to KAS granularity; Keep Alive accepted', async () => {
      const drv = f.drv;
      const get = () => drv.adminOk(cmd(GET_FEATURES, 0, { cdw10: 0x0f }), 'Get KATO');
      assert.equal(await get(), 0, 'disabled by default');
      await drv.adminOk(cmd(SET_FEATURES, 0, { cdw10: 0x0f, cdw11: 1500 }), 'Set KATO 1500');
      assert.equal(await get(), 1500);
      await drv.adminOk(cmd(SET_FEATURES, 0, { cdw10: 0x0f, cdw11: 1 }), 'Set KATO 1');
      assert.equal(await get(), 100, 'rounded up to 100 ms');
      assert.equal((await drv.adminCommand(cmd(0x18, 0, {}))).status, 0, 'Keep Alive');
      await drv.adminOk(cmd(SET_FEATURES, 0, { cdw10: 0x0f, cdw11: 0 }), 'Set KATO 0');
      assert.equal(await get(), 0);
      assert.equal(sc((await drv.adminCommand(cmd(GET_FEATURES, 0, { cdw10: 0x0f | (3 << 8) }))).status), 0, 'capabilities');
    });

    test('Host Behavior Support: Set transfers the 512-byte structure, Get returns it', async () => {
      const drv = f.drv;
      const src = drv.alloc(4096);
      const dst = drv.alloc(4096);
      const hb = Buffer.alloc(512);
      hb[0] = 1; // ACRE
      hb[2] = 1; // LBAFEE
      hb[300] = 0xaa; // reserved: reads back 0
      drv.write(src, hb);
      await drv.adminOk(cmd(SET_FEATURES, 0, { prp1: src, cdw10: 0x16 }), 'Set Host Behavior');
      drv.write(dst, Buffer.alloc(512, 0xff));
      await drv.adminOk(cmd(GET_FEATURES, 0, { prp1: dst, cdw10: 0x16 }), 'Get Host Behavior');
      const got = drv.read(dst, 512);
      assert.deepEqual([got[0], got[1], got[2], got[300]], [1, 0, 1, 0]);
      assert.ok(got.subarray(3).equals(Buffer.alloc(509)));
      await drv.adminOk(cmd(GET_FEATURES, 0, { prp1: dst, cdw10: 0x16 | (1 << 8) }), 'Get Host Behavior default');
      assert.ok(drv.read(dst, 512).equals(Buffer.alloc(512)), 'default is all zeroes');
      hb[0] = 2;
      drv.write(src, hb);
      assert.equal(sc((await drv.adminCommand(cmd(SET_FEATURES, 0, { prp1: src, cdw10: 0x16 }))).status), sc(Status.INVALID_FIELD), 'ACRE 2');
      await drv.adminOk(cmd(GET_FEATURES, 0, { prp1: dst, cdw10: 0x16 }), 'Get Host Behavior');
      assert.equal(drv.read(dst, 1)[0], 1, 'a rejected Set changes nothing');
    });

    test('Timestamp: counts from reset (origin 000b) until set, then from the value set (origin 001b)', async () => {
      const drv = f.drv;
      const b = drv.alloc(4096);
      await drv.adminOk(cmd(GET_FEATURES, 0, { prp1: b, cdw10: 0x0e }), 'Get Timestamp');
      let ts = drv.read(b, 8);
      assert.ok(ts.readUIntLE(0, 6) < 3_600_000, 'ms since the controller reset');
      assert.equal((ts[6]! >> 1) & 7, 0, 'origin: reset');
      const t0 = 1_700_000_000_000;
      const v = Buffer.alloc(8);
      v.writeUIntLE(t0, 0, 6);
      drv.write(b, v);
      await drv.adminOk(cmd(SET_FEATURES, 0, { prp1: b, cdw10: 0x0e }), 'Set Timestamp');
      await drv.adminOk(cmd(GET_FEATURES, 0, { prp1: b, cdw10: 0x0e }), 'Get Timestamp');
      ts = drv.read(b, 8);
      const now = ts.readUIntLE(0, 6);
      assert.ok(now >= t0 && now < t0 + 10_000, `timestamp ${now}`);
      assert.equal((ts[6]! >> 1) & 7, 1, 'origin: Set Features');
    });
  });
}

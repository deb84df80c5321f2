// What the device-state record carries, checked through the guest-visible interface on the
// destination: features, the error log, SMART counters and power-on time, outstanding AERs,
// interrupt vectors/MSI-X table, config space, and the I/O queues themselves.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cmd } from '../../harness/initiator/nvme-driver.js';
import { migrateDriver } from '../../harness/initiator/migration.js';
import { NvmeMigratable } from '../../target/nvme/migration.js';
import { makePair, driverWithQueue, writeRead } from './pair.js';

test('features, error log, SMART, AERs and config space arrive on the destination', async () => {
  const p = await makePair({ doorbells: 'message' });
  const { drv, q } = await driverWithQueue(p.a);
  try {
    // Features the host changed.
    await drv.adminOk(cmd(0x09, 0, { cdw10: 0x01, cdw11: 0x00030201 }), 'Set Arbitration');
    await drv.adminOk(cmd(0x09, 0, { cdw10: 0x0b, cdw11: 0x100 }), 'Set Async Event Config');
    await drv.adminOk(cmd(0x09, 0, { cdw10: 0x06, cdw11: 0 }), 'Set Volatile Write Cache off');
    await drv.adminOk(cmd(0x09, 0, { cdw10: 0x04, cdw11: 300 }), 'Set Temperature Threshold');
    // An error log entry (invalid namespace on Identify).
    const bad = await drv.adminCommand(cmd(0x06, 0x77, { prp1: drv.alloc(4096), cdw10: 0 }));
    assert.notEqual(bad.status, 0);
    await writeRead(drv, q, 0, 0x5c);
    const aer = drv.submit(drv.admin, cmd(0x0c, 0), 60_000);
    const cfgA = await drv.client.regionRead(7, 0, 256);
    const a = p.a.migration!.device as NvmeMigratable;
    const errA = a.controller.errorLog.count;
    const countersA = a.controller.counters();
    const bornA = a.controller.bornAt;
    await migrateDriver(drv, p.b.socketPath, { protocol: 'v2' });
    const b = p.b.migration!.device as NvmeMigratable;
    // Through the host's eyes, on B.
    assert.equal(await drv.adminOk(cmd(0x0a, 0, { cdw10: 0x01 }), 'Get Arbitration'), 0x00030201);
    assert.equal(await drv.adminOk(cmd(0x0a, 0, { cdw10: 0x0b }), 'Get AEC'), 0x100);
    assert.equal(await drv.adminOk(cmd(0x0a, 0, { cdw10: 0x06 }), 'Get VWC'), 0);
    assert.equal((await drv.adminOk(cmd(0x0a, 0, { cdw10: 0x04 }), 'Get Temp Threshold')) & 0xffff, 300);
    assert.deepEqual(await drv.client.regionRead(7, 0, 256), cfgA, 'config space (BARs, command, MSI-X control)');
    assert.equal(b.controller.errorLog.count, errA);
    const errPage = drv.alloc(4096);
    await drv.adminOk(cmd(0x02, 0xffffffff, { prp1: errPage, cdw10: (15 << 16) | 0x01 }), 'Error log');
    assert.equal(drv.read(errPage, 8).readBigUInt64LE(0), errA, 'newest error entry count');
    const countersB = b.controller.counters();
    assert.equal(countersB.writeCommands, countersA.writeCommands, 'SMART host write commands continue');
    assert.equal(countersB.readCommands, countersA.readCommands);
    assert.ok(Math.abs(b.controller.bornAt - bornA) < 1000, 'power-on time continues (less the migration itself)');
    assert.deepEqual(b.controller.events.outstanding, 1, 'the AER is outstanding on B');
    assert.equal(b.controller.opts.identity.serialNumber, a.controller.opts.identity.serialNumber);
    // I/O continues on B, and the AER completes there.
    await writeRead(drv, q, 8, 0x5d);
    drv.client.postRegionWrite(0, 0x1000 + 8 * 9, Buffer.from([1, 0, 0, 0]));
    const ev = await aer;
    assert.equal(ev.status, 0);
    assert.equal((ev.dw0 >> 16) & 0xff, 0x01, 'error event, log page 1');
  } finally {
    drv.close();
    await p.close();
  }
});

test('version 2 state arrives: Timestamp (counting on), Host Behavior Support, KATO, blocks marked by Write Uncorrectable', async () => {
  const p = await makePair({ doorbells: 'mapped' });
  const { drv, q } = await driverWithQueue(p.a);
  try {
    const data = drv.alloc(4096);
    const stamp = 0x0000_1234_5678_9an;
    const ts = Buffer.alloc(8);
    ts.writeUIntLE(Number(stamp), 0, 6);
    drv.write(data, ts);
    await drv.adminOk(cmd(0x09, 0, { prp1: data, cdw10: 0x0e }), 'Set Timestamp');
    drv.write(data, Buffer.concat([Buffer.from([1, 0, 1]), Buffer.alloc(509)]));
    await drv.adminOk(cmd(0x09, 0, { prp1: data, cdw10: 0x16 }), 'Set Host Behavior Support (ACRE, LBAFEE)');
    await drv.adminOk(cmd(0x09, 0, { cdw10: 0x0f, cdw11: 60_000 }), 'Set KATO 60 s');
    await writeRead(drv, q, 40, 0x11);
    const wu = await drv.submit(q, cmd(0x04, 1, { cdw10: 42, cdw12: 1 })); // LBAs 42-43
    assert.equal(wu.status, 0, 'Write Uncorrectable');
    const before = Date.now();
    await migrateDriver(drv, p.b.socketPath, { protocol: 'v2' });
    const b = p.b.migration!.device as NvmeMigratable;
    await new Promise((r) => setTimeout(r, 50));
    await drv.adminOk(cmd(0x0a, 0, { prp1: data, cdw10: 0x0e }), 'Get Timestamp on B');
    const got = drv.read(data, 8);
    const value = BigInt(got.readUIntLE(0, 6));
    assert.ok(value >= stamp + 50n && value < stamp + BigInt(Date.now() - before) + 1000n, `Timestamp counted on: +${value - stamp} ms`);
    assert.equal((got[6]! >> 1) & 7, 1, 'Timestamp Origin 001b (set by Set Features)');
    assert.equal(got[6]! & 1, 0, 'Synch 0: the downtime was measured');
    await drv.adminOk(cmd(0x0a, 0, { prp1: data, cdw10: 0x16 }), 'Get Host Behavior Support on B');
    assert.deepEqual([...drv.read(data, 4)], [1, 0, 1, 0]);
    assert.equal(await drv.adminOk(cmd(0x0a, 0, { cdw10: 0x0f }), 'Get KATO on B'), 60_000);
    assert.ok(b.controller.keepAlive.running, 'the Keep Alive Timer runs on B');
    const buf = drv.alloc(4096);
    assert.equal((await drv.io(q, 0x02, 1, 43n, 1, buf, 512)).status, 0x281, 'a marked block still reads Unrecovered Read Error on B');
    assert.equal((await drv.io(q, 0x02, 1, 41n, 1, buf, 512)).status, 0, 'its neighbour reads');
    await writeRead(drv, q, 42, 0x22, 2); // written: good again
  } finally {
    drv.close();
    await p.close();
  }
});

test('version 3: a namespace\'s metadata format (PI Type 1, separate) must match on the destination; I/O with PI continues there', async () => {
  const metadata = { size: 8, interleave: false, piType: 1, piFirst: false };
  const p = await makePair({ doorbells: 'mapped', malloc: true, metadata });
  const { drv, q } = await driverWithQueue(p.a);
  try {
    await migrateDriver(drv, p.b.socketPath, { protocol: 'v2' });
    const id = drv.alloc(4096);
    await drv.adminOk(cmd(0x06, 1, { prp1: id, cdw10: 0 }), 'Identify Namespace on B');
    const ns = drv.read(id, 4096);
    assert.equal(ns.readUInt32LE(128) & 0xffff, 8, 'LBAF0 MS');
    assert.equal(ns[29], 1, 'DPS: Type 1');
    // A Write with PRACT (LBAT 77h) and a Read checking every tag, on B's engine.
    const buf = drv.alloc(512);
    drv.write(buf, Buffer.alloc(512, 0x3c));
    const w = await drv.submit(q, cmd(0x01, 1, { prp1: buf, cdw10: 5, cdw12: 1 << 29, cdw14: 5, cdw15: 0x77 }));
    assert.equal(w.status, 0, 'Write with PRACT on B');
    const md = drv.alloc(8);
    const rd = cmd(0x02, 1, { prp1: buf, cdw10: 5, cdw12: 7 << 26, cdw14: 5, cdw15: 0xffff0077 });
    rd.writeBigUInt64LE(md, 16);
    assert.equal((await drv.submit(q, rd)).status, 0, 'Read with every check on B');
    assert.equal(drv.read(md, 8).readUInt32BE(4), 5, 'Reference Tag: the LBA');
  } finally {
    drv.close();
    await p.close();
  }
  // A destination whose namespace has no metadata refuses the source's state (EINVAL on the wire;
  // the same pair with matching formats migrated above).
  const p2 = await makePair({ doorbells: 'mapped', malloc: true, metadata, metadataB: null });
  const d2 = await driverWithQueue(p2.a);
  try {
    await assert.rejects(migrateDriver(d2.drv, p2.b.socketPath, { protocol: 'v2' }), /errno 22/);
  } finally {
    d2.drv.close();
    await p2.close();
  }
});

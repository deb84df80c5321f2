// Migration over real vfio-user sockets between two targets: v2 feature discovery, v1
// region/capability/DIRTY_PAGES, refusal of corrupted/truncated/foreign device state (the
// destination goes to ERROR, the source resumes), device reset out of ERROR, and a client
// that disconnects mid-migration leaving a target that accepts a fresh client.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as W from '../../target/vfio-user/wire.js';
import { MigState } from '../../target/migration/state-machine.js';
import { RECORD_HEADER_SIZE } from '../../target/nvme/device-state.js';
import { VfioUserClient, VfioUserError } from '../../harness/initiator/vfio-user-client.js';
import { NvmeDriver } from '../../harness/initiator/nvme-driver.js';
import { MigrationChannel, migrateDriver } from '../../harness/initiator/migration.js';
import { makePair, driverWithQueue, writeRead, type Pair } from './pair.js';

const errno = (n: number) => (e: unknown) => e instanceof VfioUserError && e.errno === n;

describe('migration v2 over the wire', () => {
  let p: Pair;
  before(async () => {
    p = await makePair();
  });
  after(async () => {
    await p?.close();
  });

  test('DEVICE_FEATURE: MIGRATION flags, PROBE, MIG_DEVICE_STATE GET, unknown feature, bad flag combinations', async () => {
    const c = await VfioUserClient.open(p.a.socketPath);
    try {
      const ch = new MigrationChannel(c, 'v2');
      assert.equal(await ch.migrationFlags(), 5n, 'STOP_COPY | PRE_COPY');
      assert.equal(await ch.state(), MigState.RUNNING);
      const probe = await c.call(W.Command.DEVICE_FEATURE, W.encodeDeviceFeature({ flags: W.FEATURE_PROBE | W.FEATURE_SET | W.Feature.MIG_DEVICE_STATE }));
      assert.equal(W.decodeDeviceFeature(probe.payload).flags, W.FEATURE_PROBE | W.FEATURE_SET | W.Feature.MIG_DEVICE_STATE);
      await assert.rejects(ch.feature(W.FEATURE_GET | 3), errno(W.Errno.ENOTSUP));
      await assert.rejects(ch.feature(W.FEATURE_GET | W.FEATURE_SET | W.Feature.MIG_DEVICE_STATE, Buffer.alloc(8)), errno(W.Errno.EINVAL));
      await assert.rejects(ch.feature(W.FEATURE_SET | W.Feature.MIGRATION, Buffer.alloc(8)), errno(W.Errno.EINVAL));
      await assert.rejects(ch.feature(W.FEATURE_GET | W.Feature.MIG_DEVICE_STATE, Buffer.alloc(0), 8), errno(W.Errno.EINVAL), 'argsz too small for the reply');
      await assert.rejects(ch.setState(MigState.RUNNING_P2P), errno(W.Errno.EINVAL));
      await assert.rejects(ch.setState(MigState.ERROR), errno(W.Errno.EINVAL));
      // MIG_DATA outside the states that allow it
      await assert.rejects(c.call(W.Command.MIG_DATA_READ, W.encodeMigData({ argsz: 72, size: 64 })), errno(W.Errno.EINVAL));
      await assert.rejects(c.call(W.Command.MIG_DATA_WRITE, W.encodeMigData({ size: 4, data: Buffer.alloc(4) })), errno(W.Errno.EINVAL));
      // v1 is not offered on this target
      await assert.rejects(c.call(W.Command.DIRTY_PAGES, Buffer.from([8, 0, 0, 0, 1, 0, 0, 0])), errno(W.Errno.ENOTSUP));
      assert.equal((await c.deviceInfo()).numRegions, 9);
      assert.equal(c.serverCaps.migration, undefined);
      // every arc of the cycle a migration uses, and back
      for (const s of [MigState.PRE_COPY, MigState.STOP_COPY, MigState.STOP, MigState.RESUMING, MigState.STOP]) {
        if (s === MigState.STOP && (await ch.state()) === MigState.RESUMING) {
          await assert.rejects(ch.setState(s), errno(W.Errno.EINVAL), 'RESUMING -> STOP without data');
          assert.equal(await ch.state(), MigState.ERROR);
          await c.reset();
          assert.equal(await ch.state(), MigState.RUNNING);
          continue;
        }
        await ch.setState(s);
        assert.equal(await ch.state(), s);
        if (s === MigState.STOP_COPY) assert.ok((await ch.readAll()).length > RECORD_HEADER_SIZE);
      }
      await ch.setState(MigState.STOP_COPY);
      await assert.rejects(ch.setState(MigState.PRE_COPY), errno(W.Errno.EINVAL), 'STOP_COPY -> PRE_COPY is forbidden');
      assert.equal(await ch.state(), MigState.STOP_COPY);
      await ch.setState(MigState.RUNNING);
    } finally {
      c.close();
    }
  });

  const corruptions: [string, (b: Buffer) => Buffer, RegExp][] = [
    ['truncated', (b) => b.subarray(0, b.length - 7), /truncated/],
    ['flipped payload byte', (b) => ((b[b.length >> 1]! ^= 0xff), b), /CRC mismatch/],
    ['wrong magic', (b) => (b.writeUInt32LE(0x12345678, 0), b), /bad magic/],
    ['wrong version', (b) => (b.writeUInt16LE(99, 4), b), /version 99/],
    ['only the header', (b) => b.subarray(0, RECORD_HEADER_SIZE), /truncated/],
  ];
  for (const [what, mutate, reason] of corruptions) {
    test(`${what} device state: destination -> ERROR, source resumes, reset destination takes a good one`, async () => {
      const { drv, q } = await driverWithQueue(p.a);
      try {
        await writeRead(drv, q, 0, 0x11);
        await assert.rejects(migrateDriver(drv, p.b.socketPath, { protocol: 'v2', mutateRecord: (b) => mutate(Buffer.from(b)) }), errno(W.Errno.EINVAL));
        assert.equal(p.b.migration!.lastError !== null || p.b.migration!.state === MigState.RUNNING, true);
        assert.match(lastB, reason);
        // The guest continues on the source.
        assert.equal(drv.client.closed, false);
        assert.equal(p.a.migration!.state, MigState.RUNNING);
        await writeRead(drv, q, 16, 0x22);
        // The destination (reset on the failed client's disconnect) takes a good migration.
        await migrateDriver(drv, p.b.socketPath, { protocol: 'v2' });
        await writeRead(drv, q, 32, 0x33);
        const back = Buffer.alloc(512 * 8);
        const buf = drv.alloc(4096);
        await drv.io(q, 0x02, 1, 0n, 8, buf, 4096);
        drv.read(buf, 4096).copy(back);
        assert.ok(back.equals(Buffer.alloc(4096, 0x11)), 'data written on A before the failed migration reads back on B');
        // And home again for the next case.
        await migrateDriver(drv, p.a.socketPath, { protocol: 'v2' });
        await writeRead(drv, q, 48, 0x44);
      } finally {
        drv.close();
      }
    });
  }
  let lastB = '';
  before(() => {
    // Record the destination's refusal reason before its client goes away (the disconnect
    // resets the device and clears lastError).
    const m = p.b.migration!;
    const orig = m.setState.bind(m);
    m.setState = async (to: number) => {
      try {
        await orig(to);
      } catch (err) {
        lastB = m.lastError ?? '';
        assert.equal(m.state, MigState.ERROR, 'destination is in ERROR after the refusal');
        throw err;
      }
    };
  });

  test('a state record that does not fit the destination (namespace size) is refused', async () => {
    const q2 = await makePair({ blocksB: 4096 });
    try {
      const { drv, q } = await driverWithQueue(q2.a);
      try {
        await assert.rejects(migrateDriver(drv, q2.b.socketPath, { protocol: 'v2' }), errno(W.Errno.EINVAL));
        await writeRead(drv, q, 0, 0x55);
      } finally {
        drv.close();
      }
    } finally {
      await q2.close();
    }
  });

  test('client disconnects in STOP_COPY: the source resets and accepts a fresh client', async () => {
    const { drv, q } = await driverWithQueue(p.a);
    await writeRead(drv, q, 64, 0x66);
    const ch = new MigrationChannel(drv.client, 'v2');
    await ch.startDirtyLogging([]);
    await ch.setState(MigState.PRE_COPY);
    await ch.setState(MigState.STOP_COPY);
    drv.close();
    for (let i = 0; i < 100 && p.a.attached; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(p.a.migration!.state, MigState.RUNNING);
    assert.equal(p.a.migration!.loggingPageSize, null);
    const fresh = await driverWithQueue(p.a);
    try {
      await writeRead(fresh.drv, fresh.q, 64, 0x67);
    } finally {
      fresh.drv.close();
    }
  });

  test('client disconnects in RESUMING with half a record: the destination accepts a fresh client', async () => {
    const c = await VfioUserClient.open(p.b.socketPath);
    const ch = new MigrationChannel(c, 'v2');
    await ch.setState(MigState.RESUMING);
    await c.call(W.Command.MIG_DATA_WRITE, W.encodeMigData({ size: 10, data: Buffer.alloc(10, 1) }));
    c.close();
    for (let i = 0; i < 100 && p.b.attached; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(p.b.migration!.state, MigState.RUNNING);
    const drv = await NvmeDriver.attach(p.b.socketPath);
    drv.close();
  });
});

describe('migration v1 over the wire', () => {
  let p: Pair;
  before(async () => {
    p = await makePair({ v1: true });
  });
  after(async () => {
    await p?.close();
  });

  test('VERSION migration capability, region 9 with the migration type, DIRTY_PAGES flag checks', async () => {
    const c = await VfioUserClient.open(p.a.socketPath);
    try {
      assert.deepEqual(c.serverCaps.migration, { pgsize: 4096, max_bitmap_size: 268435456 });
      assert.equal((await c.deviceInfo()).numRegions, 10);
      const r = await c.regionInfo(W.RegionIndex.MIGRATION);
      assert.deepEqual(r.info.type, { type: 3, subtype: 1 });
      assert.equal(r.info.size, 0x1000n + (1n << 20n));
      assert.equal(r.fd, null);
      const ch = new MigrationChannel(c, 'v1');
      assert.equal(await ch.state(), 1, 'device_state RUNNING');
      const bad = Buffer.alloc(8);
      bad.writeUInt32LE(8, 0);
      bad.writeUInt32LE(3, 4); // START|STOP
      await assert.rejects(c.call(W.Command.DIRTY_PAGES, bad), errno(W.Errno.EINVAL));
      const inval = Buffer.alloc(4);
      inval.writeUInt32LE(5); // RUNNING|RESUMING
      await assert.rejects(c.regionWrite(W.RegionIndex.MIGRATION, 0, inval), errno(W.Errno.EINVAL));
      inval.writeUInt32LE(6); // the error state cannot be set
      await assert.rejects(c.regionWrite(W.RegionIndex.MIGRATION, 0, inval), errno(W.Errno.EINVAL));
      // data window outside RESUMING
      await assert.rejects(c.regionWrite(W.RegionIndex.MIGRATION, 0x1000, Buffer.alloc(8)), errno(W.Errno.EINVAL));
      // v1 save loop: pending 0 in RUNNING; a record in stop-and-copy
      assert.equal((await c.regionRead(W.RegionIndex.MIGRATION, 8, 8)).readBigUInt64LE(0), 0n);
      await ch.setState(MigState.PRE_COPY);
      assert.equal(await ch.state(), 3);
      await ch.setState(MigState.STOP_COPY);
      assert.equal(await ch.state(), 2);
      // data_offset stages a chunk; reading it again before pending_bytes offers the same one.
      const R = W.RegionIndex.MIGRATION;
      const pending = (await c.regionRead(R, 8, 8)).readBigUInt64LE(0);
      assert.ok(pending > 32n);
      assert.equal((await c.regionRead(R, 16, 8)).readBigUInt64LE(0), 0x1000n);
      const size1 = (await c.regionRead(R, 24, 8)).readBigUInt64LE(0);
      assert.equal((await c.regionRead(R, 16, 8)).readBigUInt64LE(0), 0x1000n);
      assert.equal((await c.regionRead(R, 24, 8)).readBigUInt64LE(0), size1);
      assert.equal(size1, pending, 'the record fits one chunk');
      const rec = await c.regionRead(R, 0x1000, Number(size1));
      assert.equal(rec.readUInt32LE(0), 0x4d564e56);
      await assert.rejects(c.regionRead(R, 0x1000 + Number(size1), 8), errno(W.Errno.EINVAL), 'reads past the chunk');
      assert.equal((await c.regionRead(R, 8, 8)).readBigUInt64LE(0), 0n, 'pending_bytes consumed the chunk');
      await ch.setState(MigState.RUNNING);
      assert.equal(await ch.state(), 1);
    } finally {
      c.close();
    }
  });

  test('v1 migration A -> B -> A with data checks; corrupted stream refused', async () => {
    const { drv, q } = await driverWithQueue(p.a);
    try {
      await writeRead(drv, q, 0, 0x71);
      await migrateDriver(drv, p.b.socketPath, { protocol: 'v1' });
      await writeRead(drv, q, 8, 0x72);
      await assert.rejects(migrateDriver(drv, p.a.socketPath, { protocol: 'v1', mutateRecord: (b) => b.subarray(0, 100) }), errno(W.Errno.EINVAL));
      await writeRead(drv, q, 16, 0x73);
      await migrateDriver(drv, p.a.socketPath, { protocol: 'v1' });
      await writeRead(drv, q, 24, 0x74);
    } finally {
      drv.close();
    }
  });
});

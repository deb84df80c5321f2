// Every error path of the vfio-user server: each case checks the exact errno of the error
// reply and that the server keeps serving (a fresh request succeeds), that fds which came
// with a failed command are closed exactly once, and that connection-level garbage closes
// only that connection.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../native/index.js';
import { VfioUserClient, defaultCaps } from '../../harness/initiator/vfio-user-client.js';
import * as W from '../../target/vfio-user/wire.js';
import { startScratchServer, openFds, replyErrno, trackCloses, waitFor, type ScratchServer } from '../helpers/scratch-device.js';

const E = W.Errno;
const C = W.Command;

function versionRaw(major: number, minor: number, json?: string | Buffer): Buffer {
  const j = json === undefined ? Buffer.alloc(0) : Buffer.isBuffer(json) ? json : Buffer.from(json + '\0');
  const p = Buffer.alloc(4 + j.length);
  p.writeUInt16LE(major, 0);
  p.writeUInt16LE(minor, 2);
  j.copy(p, 4);
  return p;
}

function header(id: number, command: number, size: number, flags = 0): Buffer {
  const h = Buffer.alloc(16);
  h.writeUInt16LE(id, 0);
  h.writeUInt16LE(command, 2);
  h.writeUInt32LE(size, 4);
  h.writeUInt32LE(flags, 8);
  return h;
}

const infoReq = () => W.encodeDeviceInfo({ argsz: 16, flags: 0, numRegions: 0, numIrqs: 0 });
const irqInfoReq = (index: number, argsz = 16) => W.encodeIrqInfo({ argsz, flags: 0, index, count: 0 });
const read = (region: number, offset: bigint, count: number) => W.encodeRegionAccess({ offset, region, count });
const write = (region: number, offset: bigint, count: number, data: Buffer) => W.encodeRegionAccess({ offset, region, count, data });
const dmaMap = (address: bigint, size: bigint, flags = 3, offset = 0n) => W.encodeDmaMap({ flags, offset, address, size });
const setIrqs = (flags: number, index: number, start: number, count: number, data?: Buffer) => W.encodeSetIrqs({ flags, index, start, count, data });
const TRIGGER_EVENTFD = W.IRQ_SET_DATA_EVENTFD | W.IRQ_SET_ACTION_TRIGGER;

describe('vfio-user error paths', () => {
  let s: ScratchServer;
  let c: VfioUserClient;
  const ends: string[] = [];

  /** The server still answers: device info and a config-space read. */
  async function alive(client = c): Promise<void> {
    const d = await client.deviceInfo();
    assert.equal(d.numRegions, 9);
    assert.equal((await client.regionRead(W.RegionIndex.CONFIG, 0, 2)).readUInt16LE(0), 0x4e58);
  }

  /** Sends, expects an error reply with `errno`, then checks the server still serves. */
  async function expectErr(command: number, payload: Buffer, errno: number, fds: number[] = [], client = c): Promise<void> {
    assert.equal(await replyErrno(client, command, payload, fds), errno, `${W.commandName(command)}: errno`);
    await alive(client);
  }

  /** A new connection (the previous client is closed first: one client at a time). */
  async function fresh(negotiate = true): Promise<VfioUserClient> {
    c?.dispose();
    c = negotiate ? await VfioUserClient.open(s.path) : await VfioUserClient.connect(s.path);
    return c;
  }

  /** Sends `fds` (made by `make`) with a failing command; every one must be closed by the server exactly once. */
  async function fdsClosed(command: number, payload: Buffer, errno: number, n: number, make: () => number = () => native.eventfdCreate()): Promise<void> {
    const mine = Array.from({ length: n }, make);
    const before = openFds();
    const t = trackCloses();
    let got: number;
    try {
      got = await replyErrno(c, command, payload, mine);
    } finally {
      t.stop();
    }
    assert.equal(got, errno, `${W.commandName(command)}: errno`);
    assert.deepEqual(t.doubles(), [], 'a received fd was closed twice');
    // The server's copies are gone: only ours are left.
    assert.equal(openFds(), before, 'received fds were not closed');
    mine.forEach((fd) => native.closeFd(fd));
    await alive();
  }

  before(async () => {
    s = startScratchServer();
    s.server.onSessionEnd = (reason) => ends.push(reason);
  });
  after(async () => {
    c?.dispose();
    await s.close();
  });

  describe('VERSION', () => {
    test('a command before VERSION: EINVAL, then VERSION works', async () => {
      await fresh(false);
      assert.equal(await replyErrno(c, C.DEVICE_GET_INFO, infoReq()), E.EINVAL);
      assert.equal(await replyErrno(c, C.REGION_READ, read(7, 0n, 4)), E.EINVAL);
      await c.negotiate();
      await alive();
    });

    test('a second VERSION: EINVAL, negotiated state unchanged', async () => {
      await fresh();
      await expectErr(C.VERSION, W.encodeVersion({ major: 0, minor: 0, caps: { max_data_xfer_size: 4096 } }), E.EINVAL);
      // The first negotiation's limit (1 MiB) still holds.
      assert.equal((await c.regionRead(W.RegionIndex.CONFIG, 0, 4096)).length, 4096);
    });

    test('major != 0: ENOTSUP', async () => {
      await fresh(false);
      assert.equal(await replyErrno(c, C.VERSION, versionRaw(1, 0)), E.ENOTSUP);
      assert.equal(await replyErrno(c, C.VERSION, versionRaw(0xffff, 0, '{}')), E.ENOTSUP);
      await c.negotiate();
      await alive();
    });

    const bad: [string, Buffer][] = [
      ['JSON not NUL-terminated', versionRaw(0, 0, Buffer.from('{"capabilities":{}}'))],
      ['NUL inside the JSON', versionRaw(0, 0, Buffer.from('{"capabilities":{}}\0x\0'))],
      ['invalid JSON', versionRaw(0, 0, '{"capabilities":')],
      ['JSON not an object', versionRaw(0, 0, '[1,2]')],
      ['capabilities an array', versionRaw(0, 0, '{"capabilities":[]}')],
      ['capabilities a string', versionRaw(0, 0, '{"capabilities":"all"}')],
      ['capabilities null', versionRaw(0, 0, '{"capabilities":null}')],
      ['max_msg_fds a string', versionRaw(0, 0, '{"capabilities":{"max_msg_fds":"16"}}')],
      ['max_msg_fds negative', versionRaw(0, 0, '{"capabilities":{"max_msg_fds":-1}}')],
      ['max_data_xfer_size fractional', versionRaw(0, 0, '{"capabilities":{"max_data_xfer_size":1.5}}')],
      ['max_data_xfer_size 0', versionRaw(0, 0, '{"capabilities":{"max_data_xfer_size":0}}')],
      ['pgsizes an object', versionRaw(0, 0, '{"capabilities":{"pgsizes":{}}}')],
      ['max_dma_maps a string', versionRaw(0, 0, '{"capabilities":{"max_dma_maps":"x"}}')],
      ['write_multiple a number', versionRaw(0, 0, '{"capabilities":{"write_multiple":1}}')],
      ['twin_socket not an object', versionRaw(0, 0, '{"capabilities":{"twin_socket":true}}')],
      ['twin_socket.supported not a bool', versionRaw(0, 0, '{"capabilities":{"twin_socket":{"supported":"yes"}}}')],
      ['migration not an object', versionRaw(0, 0, '{"capabilities":{"migration":4096}}')],
      ['migration.pgsize a string', versionRaw(0, 0, '{"capabilities":{"migration":{"pgsize":"4k"}}}')],
      ['payload shorter than major/minor', Buffer.from([0, 0])],
    ];
    for (const [what, payload] of bad) {
      test(`${what}: EINVAL, then a good VERSION works`, async () => {
        await fresh(false);
        assert.equal(await replyErrno(c, C.VERSION, payload), E.EINVAL);
        await c.negotiate();
        await alive();
      });
    }

    test('no JSON at all: spec defaults apply, VERSION succeeds', async () => {
      await fresh(false);
      const r = await c.call(C.VERSION, versionRaw(0, 0));
      const v = W.decodeVersion(r.payload);
      assert.equal(v.major, 0);
      assert.equal(v.minor, 0);
      assert.equal(r.payload[r.payload.length - 1], 0, 'reply JSON NUL-terminated');
      // Default max_msg_fds is 1: the region fd still comes (one fd per reply).
      const r0 = await c.regionInfo(0);
      assert.notEqual(r0.fd, null);
      native.closeFd(r0.fd!);
      await alive();
    });

    test('max_msg_fds 0: regions are offered without mmap (no MMAP flag, no fd)', async () => {
      await fresh(false);
      await c.negotiate({ ...defaultCaps(), max_msg_fds: 0 });
      const r0 = await c.regionInfo(0);
      assert.equal(r0.fd, null);
      assert.equal(r0.info.flags & W.REGION_FLAG_MMAP, 0, 'MMAP advertised without an fd');
      assert.equal(r0.info.size, 0x4000n);
      // The whole BAR then works through messages.
      await c.write32(0, 0x1000, 0x5a5a5a5a);
      assert.equal(s.model.page.readU32(0), 0x5a5a5a5a);
      await alive();
    });

    test('an empty JSON string (just the NUL) is the same as none', async () => {
      await fresh(false);
      assert.equal(await replyErrno(c, C.VERSION, versionRaw(0, 0, '')), 0);
      await alive();
    });

    test('a higher minor is answered with ours; unknown capabilities are ignored', async () => {
      await fresh(false);
      const r = await c.call(C.VERSION, versionRaw(0, 77, '{"capabilities":{"frobnicate":true},"extra":1}'));
      assert.ok(W.decodeVersion(r.payload).minor <= 77);
      await alive();
    });

    test('a failed VERSION changes nothing and a client limit does not outlive its session', async () => {
      await fresh(false);
      // Valid max_dma_maps, invalid later capability: the whole VERSION fails.
      assert.equal(await replyErrno(c, C.VERSION, versionRaw(0, 0, '{"capabilities":{"max_dma_maps":1,"write_multiple":"x"}}')), E.EINVAL);
      await c.negotiate({ max_dma_maps: 1 });
      await c.addMemory(0x100000n, 4096);
      assert.equal(await replyErrno(c, C.DMA_MAP, dmaMap(0x200000n, 4096n)), E.ENOSPC, 'this client asked for one map');
      await fresh(false);
      await c.negotiate(null); // no capabilities: the default (65535) applies again
      await c.addMemory(0x100000n, 4096);
      await c.addMemory(0x200000n, 4096);
      assert.equal(s.server.dma.regions().length, 2);
      await alive();
    });
  });

  describe('commands after VERSION', () => {
    before(async () => {
      await fresh();
    });

    test('unknown commands: ENOSYS', async () => {
      await expectErr(0, Buffer.alloc(0), E.ENOSYS);
      await expectErr(99, Buffer.alloc(8), E.ENOSYS);
      await expectErr(0xffff, Buffer.alloc(0), E.ENOSYS);
      // Server-to-client commands are not commands a client may send.
      await expectErr(C.DMA_READ, W.encodeDmaRw({ address: 0n, count: 4n }), E.ENOSYS);
      await expectErr(C.DMA_WRITE, W.encodeDmaRw({ address: 0n, count: 4n, data: Buffer.alloc(4) }), E.ENOSYS);
    });

    test('migration commands on a device that does not migrate: ENOTSUP', async () => {
      await expectErr(C.DEVICE_FEATURE, W.encodeDeviceFeature({ flags: W.FEATURE_PROBE | W.FEATURE_GET | W.Feature.MIGRATION }), E.ENOTSUP);
      await expectErr(C.MIG_DATA_READ, W.encodeMigData({ size: 16 }), E.ENOTSUP);
    });

    test('header flags with unknown bits or a bad type: EINVAL', async () => {
      for (const flags of [0x100, 0x80000000, W.FLAG_ERROR, 2, 0xf]) {
        const p = c.expectReply(500);
        c.sendRaw(W.encodeMessage({ id: 500, command: C.DEVICE_GET_INFO, flags, error: 0 }, infoReq()));
        const r = await p;
        assert.ok(r.hdr.flags & W.FLAG_ERROR, `flags 0x${flags.toString(16)} accepted`);
        assert.equal(r.hdr.error, E.EINVAL);
      }
      await alive();
    });

    test('a reply for no outstanding request is ignored', async () => {
      const n = c.unmatched.length;
      c.sendRaw(W.encodeReply(4242, C.DMA_READ, W.encodeDmaRw({ address: 0n, count: 4n, data: Buffer.alloc(4) })));
      c.sendRaw(W.encodeErrorReply(4243, C.DMA_WRITE, E.EIO));
      await alive();
      assert.equal(c.unmatched.length, n, 'the server answered a reply');
    });

    test('DEVICE_GET_INFO: argsz too small, payload too short', async () => {
      await expectErr(C.DEVICE_GET_INFO, W.encodeDeviceInfo({ argsz: 15, flags: 0, numRegions: 0, numIrqs: 0 }), E.EINVAL);
      await expectErr(C.DEVICE_GET_INFO, Buffer.alloc(8), E.EINVAL);
      await expectErr(C.DEVICE_GET_INFO, Buffer.alloc(0), E.EINVAL);
    });

    test('DEVICE_GET_REGION_INFO: argsz too small, bad index, short payload', async () => {
      await expectErr(C.DEVICE_GET_REGION_INFO, W.encodeRegionInfoRequest(0, 31), E.EINVAL);
      await expectErr(C.DEVICE_GET_REGION_INFO, W.encodeRegionInfoRequest(9), E.EINVAL);
      await expectErr(C.DEVICE_GET_REGION_INFO, W.encodeRegionInfoRequest(0xffffffff), E.EINVAL);
      await expectErr(C.DEVICE_GET_REGION_INFO, Buffer.alloc(12), E.EINVAL);
    });

    test('DEVICE_GET_IRQ_INFO: argsz too small, bad index', async () => {
      await expectErr(C.DEVICE_GET_IRQ_INFO, irqInfoReq(2, 12), E.EINVAL);
      await expectErr(C.DEVICE_GET_IRQ_INFO, irqInfoReq(5), E.EINVAL);
      await expectErr(C.DEVICE_GET_IRQ_INFO, irqInfoReq(0x80000000), E.EINVAL);
      await expectErr(C.DEVICE_GET_IRQ_INFO, Buffer.alloc(4), E.EINVAL);
    });

    test('DEVICE_GET_REGION_IO_FDS: an empty list; bad index and argsz fail', async () => {
      const q = Buffer.alloc(16);
      q.writeUInt32LE(16, 0);
      q.writeUInt32LE(0, 8);
      const r = await c.call(C.DEVICE_GET_REGION_IO_FDS, q);
      assert.equal(r.payload.length, 16);
      assert.equal(r.payload.readUInt32LE(0), 16, 'argsz');
      assert.equal(r.payload.readUInt32LE(8), 0, 'index');
      assert.equal(r.payload.readUInt32LE(12), 0, 'no sub-regions');
      assert.equal(r.fds.length, 0);
      q.writeUInt32LE(42, 8);
      await expectErr(C.DEVICE_GET_REGION_IO_FDS, q, E.EINVAL);
      q.writeUInt32LE(0, 8);
      q.writeUInt32LE(8, 0);
      await expectErr(C.DEVICE_GET_REGION_IO_FDS, q, E.EINVAL);
      await expectErr(C.DEVICE_GET_REGION_IO_FDS, Buffer.alloc(8), E.EINVAL);
    });

    test('REGION_READ: out of range, count 0, too large (E2BIG), unused and unknown regions', async () => {
      const CFG = W.RegionIndex.CONFIG;
      await expectErr(C.REGION_READ, read(CFG, 4096n, 4), E.EINVAL);
      await expectErr(C.REGION_READ, read(CFG, 4094n, 4), E.EINVAL);
      await expectErr(C.REGION_READ, read(CFG, 0xffffffffffffffffn, 2), E.EINVAL);
      await expectErr(C.REGION_READ, read(0, 0x3ffcn, 8), E.EINVAL);
      await expectErr(C.REGION_READ, read(CFG, 0n, 0), E.EINVAL);
      await expectErr(C.REGION_READ, read(0, 0n, (1 << 20) + 1), E.E2BIG);
      await expectErr(C.REGION_READ, read(0, 0n, 0xffffffff), E.E2BIG);
      await expectErr(C.REGION_READ, read(1, 0n, 4), E.EINVAL, [], c); // BAR1: size 0
      await expectErr(C.REGION_READ, read(W.RegionIndex.ROM, 0n, 4), E.EINVAL);
      await expectErr(C.REGION_READ, read(W.RegionIndex.VGA, 0n, 4), E.EINVAL);
      await expectErr(C.REGION_READ, read(9, 0n, 4), E.EINVAL);
      await expectErr(C.REGION_READ, read(0xffffffff, 0n, 4), E.EINVAL);
      await expectErr(C.REGION_READ, Buffer.alloc(15), E.EINVAL);
    });

    test('REGION_READ anywhere inside a region succeeds (PBA beyond its pending bits reads 0)', async () => {
      assert.deepEqual(await c.regionRead(5, 0xff8, 8), Buffer.alloc(8));
      assert.deepEqual(await c.regionRead(5, 0x100, 16), Buffer.alloc(16));
      assert.equal((await c.regionRead(4, 0xffc, 4)).length, 4);
      assert.equal((await c.regionRead(0, 0x3ff8, 8)).length, 8);
    });

    test('REGION_WRITE: out of range, count 0, E2BIG, count != data length, unused region', async () => {
      const CFG = W.RegionIndex.CONFIG;
      await expectErr(C.REGION_WRITE, write(CFG, 4096n, 4, Buffer.alloc(4)), E.EINVAL);
      await expectErr(C.REGION_WRITE, write(0, 0x3ffen, 4, Buffer.alloc(4)), E.EINVAL);
      await expectErr(C.REGION_WRITE, write(CFG, 0x40n, 0, Buffer.alloc(0)), E.EINVAL);
      await expectErr(C.REGION_WRITE, write(0, 0n, (1 << 20) + 1, Buffer.alloc((1 << 20) + 1)), E.E2BIG);
      await expectErr(C.REGION_WRITE, write(0, 0x40n, 4, Buffer.alloc(2)), E.EINVAL);
      await expectErr(C.REGION_WRITE, write(0, 0x40n, 2, Buffer.alloc(4)), E.EINVAL);
      await expectErr(C.REGION_WRITE, write(2, 0n, 4, Buffer.alloc(4)), E.EINVAL);
      await expectErr(C.REGION_WRITE, write(W.RegionIndex.VGA, 0n, 4, Buffer.alloc(4)), E.EINVAL);
      // Nothing was written by the failed requests.
      assert.deepEqual(await c.regionRead(0, 0x40, 4), Buffer.alloc(4));
    });

    test('REGION_WRITE_MULTI: bad entry counts, bad entries', async () => {
      await expectErr(C.REGION_WRITE_MULTI, Buffer.alloc(8), E.EINVAL);
      const one = W.encodeWriteMulti([{ offset: 0x40n, region: 0, data: Buffer.from([1, 2, 3, 4]) }]);
      const bad = Buffer.from(one);
      bad.writeBigUInt64LE(2n, 0); // claims two entries, carries one
      await expectErr(C.REGION_WRITE_MULTI, bad, E.EINVAL);
      bad.writeBigUInt64LE(1n, 0);
      bad.writeUInt32LE(9, 8 + 12); // more than 8 data bytes
      await expectErr(C.REGION_WRITE_MULTI, bad, E.EINVAL);
      await expectErr(C.REGION_WRITE_MULTI, W.encodeWriteMulti([{ offset: 0x40n, region: 0, data: Buffer.alloc(4) }, { offset: 0n, region: 1, data: Buffer.alloc(4) }]), E.EINVAL);
      assert.deepEqual(await c.regionRead(0, 0x40, 4), Buffer.alloc(4), 'no entry applied when one is bad');
    });

    test('posted writes that fail produce no reply', async () => {
      const n = c.unmatched.length;
      c.post(C.REGION_WRITE, write(1, 0n, 4, Buffer.alloc(4)));
      c.post(C.REGION_WRITE, write(0, 0x40n, 4, Buffer.alloc(1)));
      c.post(C.REGION_WRITE, write(W.RegionIndex.CONFIG, 8192n, 4, Buffer.alloc(4)));
      c.post(C.DEVICE_GET_INFO, Buffer.alloc(0));
      c.post(C.REGION_WRITE, write(0, 0x44n, 4, Buffer.from([9, 9, 9, 9])));
      // A later read sees the good posted write and nothing answered the posted ones.
      assert.deepEqual(await c.regionRead(0, 0x44, 4), Buffer.from([9, 9, 9, 9]));
      assert.equal(c.unmatched.length, n, 'a posted command was answered');
    });

    test('DMA_MAP: overlap EEXIST, size 0, wrap, no READ/WRITE, unknown flags, short payload', async () => {
      const m = await c.addMemory(0x100000n, 0x4000);
      const fd = native.memfdCreate('t', 0x4000);
      try {
        assert.equal(await replyErrno(c, C.DMA_MAP, dmaMap(0x102000n, 0x4000n), [fd]), E.EEXIST);
        assert.equal(await replyErrno(c, C.DMA_MAP, dmaMap(0xfe000n, 0x4000n), [fd]), E.EEXIST);
        assert.equal(await replyErrno(c, C.DMA_MAP, dmaMap(0x100000n, 0x4000n)), E.EEXIST, 'fd-less overlap too');
        assert.equal(await replyErrno(c, C.DMA_MAP, dmaMap(0x200000n, 0n), [fd]), E.EINVAL);
        assert.equal(await replyErrno(c, C.DMA_MAP, dmaMap(0xfffffffffffff000n, 0x2000n), [fd]), E.EINVAL);
        assert.equal(await replyErrno(c, C.DMA_MAP, dmaMap(0xfffffffffffff000n, 0x2000n)), E.EINVAL);
        assert.equal(await replyErrno(c, C.DMA_MAP, dmaMap(0x200000n, 0x4000n, 0), [fd]), E.EINVAL);
        assert.equal(await replyErrno(c, C.DMA_MAP, dmaMap(0x200000n, 0x4000n, 0x13), [fd]), E.EINVAL);
        assert.equal(await replyErrno(c, C.DMA_MAP, Buffer.alloc(24), [fd]), E.EINVAL);
        assert.deepEqual(s.server.dma.regions().map((r) => r.iova), [0x100000]);
        // Adjacent (not overlapping) is fine.
        assert.equal(await replyErrno(c, C.DMA_MAP, dmaMap(0x104000n, 0x4000n), [fd]), 0);
        await c.dmaUnmap(0x104000n, 0x4000n);
      } finally {
        native.closeFd(fd);
      }
      await c.dmaUnmap(m.iova, BigInt(m.size));
      await alive();
    });

    test('DMA_MAP with two fds: EINVAL, both closed', async () => {
      await fdsClosed(C.DMA_MAP, dmaMap(0x300000n, 0x1000n), E.EINVAL, 2, () => native.memfdCreate('t', 0x1000));
    });

    test('DMA_MAP with an eventfd or a socket: EINVAL (never SIGBUS), closed', async () => {
      await fdsClosed(C.DMA_MAP, dmaMap(0x300000n, 0x1000n), E.EINVAL, 1, () => native.eventfdCreate());
      const [a, b] = native.socketPair();
      native.closeFd(b);
      await fdsClosed(C.DMA_MAP, dmaMap(0x300000n, 0x1000n), E.EINVAL, 1, () => a);
    });

    test('DMA_MAP of a file smaller than offset+size: EINVAL (SIGBUS guard), closed', async () => {
      await fdsClosed(C.DMA_MAP, dmaMap(0x300000n, 0x2000n), E.EINVAL, 1, () => native.memfdCreate('small', 0x1000));
      await fdsClosed(C.DMA_MAP, dmaMap(0x300000n, 0x1000n, 3, 0x1000n), E.EINVAL, 1, () => native.memfdCreate('small', 0x1000));
      await fdsClosed(C.DMA_MAP, dmaMap(0x300000n, 0x1000n, 3, 0xfffffffffffff000n), E.EINVAL, 1, () => native.memfdCreate('small', 0x1000));
      assert.equal(s.server.dma.regions().length, 0);
    });

    test('DMA_MAP of a read-only file: READ works, READ|WRITE is EACCES', async () => {
      const file = join(s.dir, 'ro-guest-ram');
      writeFileSync(file, Buffer.alloc(0x2000, 0x5a));
      const ro = () => openSync(file, 'r');
      await fdsClosed(C.DMA_MAP, dmaMap(0x300000n, 0x2000n, W.DMA_MAP_FLAG_READ | W.DMA_MAP_FLAG_WRITE), E.EACCES, 1, ro);
      const fd = ro();
      assert.equal(await replyErrno(c, C.DMA_MAP, dmaMap(0x300000n, 0x2000n, W.DMA_MAP_FLAG_READ), [fd]), 0);
      closeSync(fd);
      assert.deepEqual(s.server.dma.readSync(0x301000n, 4), Buffer.alloc(4, 0x5a));
      assert.throws(() => s.server.dma.writeSync(0x301000n, Buffer.alloc(4)), (e: { errno: number }) => e.errno === E.EACCES);
      await c.dmaUnmap(0x300000n, 0x2000n);
    });

    test('DMA_MAP with a good fd but a bad request closes the fd exactly once', async () => {
      await fdsClosed(C.DMA_MAP, dmaMap(0x300000n, 0n), E.EINVAL, 1, () => native.memfdCreate('t', 0x1000));
      await fdsClosed(C.DMA_MAP, dmaMap(0x300000n, 0x1000n, 0), E.EINVAL, 1, () => native.memfdCreate('t', 0x1000));
    });

    test('DMA at an IOVA that looks like a host virtual address', async () => {
      const iova = 0x7f00_0000_0000n;
      const m = await c.addMemory(iova, 0x10000);
      m.mem.write(0, Buffer.from('virtual?'));
      await c.write64(0, 0x100, iova);
      await c.write64(0, 0x108, iova + 0x8000n);
      await c.write64(0, 0x110, 8n);
      await c.write32(0, 0x118, 1);
      assert.equal(await c.read32(0, 0x120), 0);
      assert.equal(m.mem.read(0x8000, 8).toString(), 'virtual?');
      await c.dmaUnmap(iova, 0x10000n);
    });

    test('DMA_UNMAP: unknown range ENOENT, partial range ENOENT, UNMAP_ALL, ALL with an address, bad flags', async () => {
      await c.addMemory(0x400000n, 0x2000);
      await c.addMemory(0x500000n, 0x2000);
      await expectErr(C.DMA_UNMAP, W.encodeDmaUnmap({ flags: 0, address: 0x600000n, size: 0x2000n }), E.ENOENT);
      await expectErr(C.DMA_UNMAP, W.encodeDmaUnmap({ flags: 0, address: 0x400000n, size: 0x1000n }), E.ENOENT);
      await expectErr(C.DMA_UNMAP, W.encodeDmaUnmap({ flags: W.DMA_UNMAP_FLAG_ALL, address: 0x400000n, size: 0n }), E.EINVAL);
      await expectErr(C.DMA_UNMAP, W.encodeDmaUnmap({ flags: W.DMA_UNMAP_FLAG_ALL, address: 0n, size: 0x1000n }), E.EINVAL);
      await expectErr(C.DMA_UNMAP, W.encodeDmaUnmap({ flags: 0x10, address: 0x400000n, size: 0x2000n }), E.EINVAL);
      await expectErr(C.DMA_UNMAP, W.encodeDmaUnmap({ flags: W.DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, address: 0x400000n, size: 0x2000n, bitmap: { pgsize: 4096n, size: 8n } }), E.ENOTSUP);
      await expectErr(C.DMA_UNMAP, Buffer.alloc(16), E.EINVAL);
      assert.equal(s.server.dma.regions().length, 2, 'failed unmaps removed nothing');
      const u = await c.dmaUnmap(0n, 0n, W.DMA_UNMAP_FLAG_ALL);
      assert.equal(u.flags, W.DMA_UNMAP_FLAG_ALL);
      assert.equal(s.server.dma.regions().length, 0);
      // UNMAP_ALL of nothing is fine too.
      await c.dmaUnmap(0n, 0n, W.DMA_UNMAP_FLAG_ALL);
      await alive();
    });

    test('DMA_UNMAP arriving with an fd: the fd is closed (success and failure)', async () => {
      await c.addMemory(0x700000n, 0x1000);
      const before = openFds();
      const efd = native.eventfdCreate();
      // One tracking window per request: the second one's fd may reuse the first one's number.
      const once = async (payload: Buffer): Promise<number> => {
        const t = trackCloses();
        try {
          return await replyErrno(c, C.DMA_UNMAP, payload, [efd]);
        } finally {
          t.stop();
          assert.deepEqual(t.doubles(), [], 'an fd was closed twice');
        }
      };
      const ok = await once(W.encodeDmaUnmap({ flags: 0, address: 0x700000n, size: 0x1000n }));
      const bad = await once(W.encodeDmaUnmap({ flags: 0, address: 0x700000n, size: 0x1000n }));
      native.closeFd(efd);
      assert.ok(ok === 0 || ok === E.EINVAL, `unmap with an fd: errno ${ok}`);
      assert.equal(bad, ok === 0 ? E.ENOENT : E.EINVAL);
      assert.equal(openFds(), before);
      await alive();
    });

    test('DEVICE_SET_IRQS: bad flag combinations', async () => {
      const MSIX = W.IrqIndex.MSIX;
      const combos = [
        0, // no data, no action
        W.IRQ_SET_DATA_NONE, // no action
        W.IRQ_SET_ACTION_TRIGGER, // no data type
        W.IRQ_SET_DATA_NONE | W.IRQ_SET_DATA_BOOL | W.IRQ_SET_ACTION_TRIGGER,
        W.IRQ_SET_DATA_NONE | W.IRQ_SET_ACTION_MASK | W.IRQ_SET_ACTION_TRIGGER,
        W.IRQ_SET_DATA_NONE | W.IRQ_SET_ACTION_TRIGGER | 0x40, // unknown bit
        W.IRQ_SET_DATA_EVENTFD | W.IRQ_SET_ACTION_MASK, // eventfds only with TRIGGER
      ];
      for (const f of combos) await expectErr(C.DEVICE_SET_IRQS, setIrqs(f, MSIX, 0, 1), E.EINVAL);
      // count 0 only disables (DATA_NONE|TRIGGER, start 0).
      await expectErr(C.DEVICE_SET_IRQS, setIrqs(W.IRQ_SET_DATA_NONE | W.IRQ_SET_ACTION_MASK, MSIX, 0, 0), E.EINVAL);
      await expectErr(C.DEVICE_SET_IRQS, setIrqs(W.IRQ_SET_DATA_NONE | W.IRQ_SET_ACTION_TRIGGER, MSIX, 3, 0), E.EINVAL);
      // DATA_BOOL with fewer bytes than vectors.
      await expectErr(C.DEVICE_SET_IRQS, setIrqs(W.IRQ_SET_DATA_BOOL | W.IRQ_SET_ACTION_TRIGGER, MSIX, 0, 4, Buffer.from([1, 1])), E.EINVAL);
      await expectErr(C.DEVICE_SET_IRQS, Buffer.alloc(16), E.EINVAL);
    });

    test('DEVICE_SET_IRQS: vectors and indices out of range', async () => {
      const T = W.IRQ_SET_DATA_NONE | W.IRQ_SET_ACTION_TRIGGER;
      await expectErr(C.DEVICE_SET_IRQS, setIrqs(T, W.IrqIndex.MSIX, 32, 1), E.EINVAL);
      await expectErr(C.DEVICE_SET_IRQS, setIrqs(T, W.IrqIndex.MSIX, 30, 3), E.EINVAL);
      await expectErr(C.DEVICE_SET_IRQS, setIrqs(T, W.IrqIndex.MSIX, 0xffffffff, 2), E.EINVAL);
      await expectErr(C.DEVICE_SET_IRQS, setIrqs(T, W.IrqIndex.MSIX, 1, 0xffffffff), E.EINVAL);
      await expectErr(C.DEVICE_SET_IRQS, setIrqs(T, W.IrqIndex.MSI, 0, 1), E.EINVAL); // MSI has no vectors
      await expectErr(C.DEVICE_SET_IRQS, setIrqs(T, 5, 0, 1), E.EINVAL);
      await expectErr(C.DEVICE_SET_IRQS, setIrqs(T, 5, 0, 0), E.EINVAL);
      await expectErr(C.DEVICE_SET_IRQS, setIrqs(T, W.IrqIndex.INTX, 1, 1), E.EINVAL);
    });

    test('DEVICE_SET_IRQS: fds without DATA_EVENTFD are closed, EINVAL', async () => {
      await fdsClosed(C.DEVICE_SET_IRQS, setIrqs(W.IRQ_SET_DATA_NONE | W.IRQ_SET_ACTION_TRIGGER, W.IrqIndex.MSIX, 0, 1), E.EINVAL, 1);
      await fdsClosed(C.DEVICE_SET_IRQS, setIrqs(W.IRQ_SET_DATA_BOOL | W.IRQ_SET_ACTION_MASK, W.IrqIndex.MSIX, 0, 2, Buffer.from([1, 1])), E.EINVAL, 2);
    });

    test('DEVICE_SET_IRQS: fd count mismatch and out-of-range vectors close the fds', async () => {
      await fdsClosed(C.DEVICE_SET_IRQS, setIrqs(TRIGGER_EVENTFD, W.IrqIndex.MSIX, 0, 3), E.EINVAL, 2);
      await fdsClosed(C.DEVICE_SET_IRQS, setIrqs(TRIGGER_EVENTFD, W.IrqIndex.MSIX, 0, 1), E.EINVAL, 2);
      await fdsClosed(C.DEVICE_SET_IRQS, setIrqs(TRIGGER_EVENTFD, W.IrqIndex.MSIX, 31, 2), E.EINVAL, 2);
      await fdsClosed(C.DEVICE_SET_IRQS, setIrqs(TRIGGER_EVENTFD, 7, 0, 1), E.EINVAL, 1);
      // More fds than we advertised in max_msg_fds (16).
      await fdsClosed(C.DEVICE_SET_IRQS, setIrqs(TRIGGER_EVENTFD, W.IrqIndex.MSIX, 0, 17), E.EINVAL, 17);
    });

    test('DEVICE_SET_IRQS: a non-eventfd as an interrupt fd is refused (a full pipe would block the target)', async () => {
      await fdsClosed(C.DEVICE_SET_IRQS, setIrqs(TRIGGER_EVENTFD, W.IrqIndex.MSIX, 0, 1), E.EINVAL, 1, () => native.memfdCreate('not-an-eventfd', 4096));
      const [a, b] = native.socketPair();
      native.closeFd(b);
      await fdsClosed(C.DEVICE_SET_IRQS, setIrqs(TRIGGER_EVENTFD, W.IrqIndex.MSIX, 0, 1), E.EINVAL, 1, () => a);
    });

    test('unexpected fds on other commands: EINVAL, closed exactly once', async () => {
      await fdsClosed(C.DEVICE_GET_INFO, infoReq(), E.EINVAL, 1);
      await fdsClosed(C.DEVICE_GET_REGION_INFO, W.encodeRegionInfoRequest(0), E.EINVAL, 2);
      await fdsClosed(C.DEVICE_GET_IRQ_INFO, irqInfoReq(2), E.EINVAL, 1);
      await fdsClosed(C.REGION_READ, read(7, 0n, 4), E.EINVAL, 1);
      await fdsClosed(C.REGION_WRITE, write(0, 0x40n, 4, Buffer.alloc(4)), E.EINVAL, 1);
      await fdsClosed(C.REGION_WRITE_MULTI, W.encodeWriteMulti([{ offset: 0x40n, region: 0, data: Buffer.alloc(4) }]), E.EINVAL, 1);
      await fdsClosed(C.DEVICE_RESET, Buffer.alloc(0), E.EINVAL, 1);
      await fdsClosed(99, Buffer.alloc(0), E.ENOSYS, 3);
      await fdsClosed(C.VERSION, W.encodeVersion({ major: 0, minor: 0, caps: defaultCaps() }), E.EINVAL, 1);
    });

    test('a message sent in pieces, its fd riding on the body, is reassembled with the fd', async () => {
      const msg = W.encodeCommand(900, C.DMA_MAP, dmaMap(0xa00000n, 0x1000n));
      const fd = native.memfdCreate('split', 0x1000);
      const p = c.expectReply(900);
      c.sendRaw(msg.subarray(0, 10));
      c.sendRaw(msg.subarray(10, 16));
      c.sendRaw(msg.subarray(16, 20), [fd]);
      c.sendRaw(msg.subarray(20));
      native.closeFd(fd);
      const r = await p;
      assert.equal(r.hdr.flags & W.FLAG_ERROR, 0, `errno ${r.hdr.error}`);
      assert.deepEqual(s.server.dma.regions(), [{ iova: 0xa00000, size: 0x1000, prot: 3, mapped: true }]);
      await c.dmaUnmap(0xa00000n, 0x1000n);
      await alive();
    });

    test('the same message id on every message works', async () => {
      c.dispose();
      c = await VfioUserClient.open(s.path, { fixedId: 7 });
      const r0 = await c.regionInfo(0);
      native.closeFd(r0.fd!);
      // Pipelined requests with one id: replies come back in order.
      const reads = await Promise.all([0, 2, 8, 0x10].map((o) => c.regionRead(W.RegionIndex.CONFIG, o, 2)));
      assert.equal(reads[0]!.readUInt16LE(0), 0x4e58);
      assert.equal(reads[1]!.readUInt16LE(0), 0x0001);
      await c.addMemory(0x800000n, 0x1000);
      await c.dmaUnmap(0x800000n, 0x1000n);
      await alive();
    });

    test('a client that never sets up interrupts and polls works', async () => {
      await fresh();
      const m = await c.addMemory(0x900000n, 0x2000);
      m.mem.write(0, Buffer.from('polled'));
      await c.write64(0, 0x100, 0x900000n);
      await c.write64(0, 0x108, 0x901000n);
      await c.write64(0, 0x110, 6n);
      await c.write32(0, 0x118, 1);
      // The interrupt had nowhere to go: it stays pending, nothing fails.
      assert.equal(await c.read32(0, 0x120), 0);
      assert.equal(m.mem.read(0x1000, 6).toString(), 'polled');
      assert.equal(s.model.copies > 0, true);
      await alive();
    });
  });

  describe('connection-level failures close only that connection', () => {
    async function closesThenServes(send: (c: VfioUserClient) => void, reason: RegExp, viaClientClose = false): Promise<void> {
      await fresh();
      const before = ends.length;
      send(c);
      if (viaClientClose) c.close();
      else await c.waitClosed(2000);
      await waitFor(() => ends.length > before, 2000, 'session end');
      assert.match(ends.at(-1)!, reason);
      // The server still listens: a new client connects and negotiates.
      await fresh();
      await alive();
    }

    test('truncated header then EOF', async () => {
      await closesThenServes((c) => c.sendRaw(header(1, C.DEVICE_GET_INFO, 32).subarray(0, 9)), /truncated/, true);
    });

    test('truncated body then EOF', async () => {
      await closesThenServes((c) => c.sendRaw(Buffer.concat([header(1, C.DEVICE_GET_INFO, 32), Buffer.alloc(4)])), /truncated/, true);
    });

    test('header size < 16', async () => {
      await closesThenServes((c) => c.sendRaw(header(1, C.DEVICE_GET_INFO, 8)), /below the 16-byte header/);
      await closesThenServes((c) => c.sendRaw(header(1, C.DEVICE_GET_INFO, 0)), /below the 16-byte header/);
    });

    test('message longer than the negotiated maximum', async () => {
      await closesThenServes((c) => c.sendRaw(header(1, C.REGION_WRITE, (2 << 20) + 16)), /exceeds/);
      await closesThenServes((c) => c.sendRaw(header(1, C.REGION_WRITE, 0xffffffff)), /exceeds/);
    });

    test('fds sent with a message that closes the connection are closed', async () => {
      await fresh();
      const before = openFds();
      const efd = native.eventfdCreate();
      const n = ends.length;
      c.sendRaw(header(1, C.DEVICE_SET_IRQS, 0x7fffffff), [efd]);
      await c.waitClosed(2000);
      await waitFor(() => ends.length > n, 2000, 'session end');
      native.closeFd(efd);
      c.dispose();
      await waitFor(() => openFds() === before - 2, 2000, `fd count back (${openFds()} vs ${before - 2})`).catch(() => undefined);
      // The client's socket is gone too: two fewer than before.
      assert.equal(openFds(), before - 2);
      c = await VfioUserClient.open(s.path);
      await alive();
    });
  });
});

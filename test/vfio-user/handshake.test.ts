// The whole handshake as QEMU does it, against a real socket, plus device-model checks.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { native } from '../../native/index.js';
import { VfioUserClient } from '../../harness/initiator/vfio-user-client.js';
import * as W from '../../target/vfio-user/wire.js';
import { startScratchServer, sleep, type ScratchServer } from '../helpers/scratch-device.js';

describe('vfio-user handshake (QEMU order)', () => {
  let s: ScratchServer;
  let c: VfioUserClient;
  before(async () => {
    s = startScratchServer();
    c = await VfioUserClient.connect(s.path);
  });
  after(async () => {
    c.dispose();
    await s.close();
  });

  test('socket is created 0600', () => {
    assert.equal(statSync(s.path).mode & 0o777, 0o600);
  });

  test('VERSION reply passes the checks QEMU applies', async () => {
    const v = await c.negotiate();
    assert.equal(v.major, 0);
    assert.equal(v.minor, 0);
    assert.ok(c.serverCaps.max_msg_fds! <= 16 && c.serverCaps.max_msg_fds! >= 1);
    assert.equal(c.serverCaps.max_data_xfer_size, 1 << 20);
    assert.equal(c.serverCaps.pgsizes, 4096);
    assert.equal(c.serverCaps.write_multiple, true);
    assert.equal(c.serverCaps.twin_socket, undefined, 'twin socket only if asked');
  });

  test('DEVICE_GET_INFO: PCI|RESET, 9 regions, 5 irq indices', async () => {
    const d = await c.deviceInfo();
    assert.equal(d.flags, W.DEVICE_FLAGS_PCI | W.DEVICE_FLAGS_RESET);
    assert.ok(d.numRegions >= 8 && d.numRegions <= 100);
    assert.ok(d.numIrqs >= 3 && d.numIrqs <= 50);
    assert.equal(d.argsz, 16);
  });

  test('region info with the argsz retry; BAR0 offers its doorbell page with an fd', async () => {
    const r0 = await c.regionInfo(0);
    assert.equal(r0.info.size, 0x4000n);
    assert.ok(r0.info.flags & W.REGION_FLAG_MMAP);
    assert.ok(r0.info.flags & W.REGION_FLAG_CAPS);
    assert.deepEqual(r0.info.sparse, [{ offset: 0x1000n, size: 0x1000n }]);
    assert.notEqual(r0.fd, null);
    // What the client writes into the mmapped page, the device sees.
    const page = new native.SharedMemory(r0.fd!, 0x1000, 0x1000);
    page.writeU32(8, 0xfeedbeef);
    assert.equal(s.model.page.readU32(8), 0xfeedbeef);
    page.unmap();
    native.closeFd(r0.fd!);
    for (const i of [1, 2, 3, 6, 8]) assert.equal((await c.regionInfo(i)).info.size, 0n, `region ${i} unused`);
    const cfg = await c.regionInfo(W.RegionIndex.CONFIG);
    assert.equal(cfg.info.size, 4096n);
    assert.equal(cfg.fd, null);
    assert.equal((await c.regionInfo(4)).info.size, 4096n, 'MSI-X table BAR');
    assert.equal((await c.regionInfo(5)).info.size, 4096n, 'PBA BAR');
  });

  test('a short argsz gets only the head and the size needed, no fd', async () => {
    const r = await c.call(W.Command.DEVICE_GET_REGION_INFO, W.encodeRegionInfoRequest(0, 32));
    const info = W.decodeRegionInfo(r.payload);
    assert.equal(r.payload.length, 32);
    assert.ok(info.argsz > 32);
    assert.equal(r.fds.length, 0);
  });

  test('a huge argsz is fine: the reply is as long as it needs to be', async () => {
    const r = await c.call(W.Command.DEVICE_GET_REGION_INFO, W.encodeRegionInfoRequest(0, 1 << 20));
    assert.equal(W.decodeRegionInfo(r.payload).argsz, r.payload.length);
    r.fds.forEach((fd) => native.closeFd(fd));
    const d = await c.call(W.Command.DEVICE_GET_INFO, W.encodeDeviceInfo({ argsz: 4096, flags: 0, numRegions: 0, numIrqs: 0 }));
    assert.equal(d.payload.length, 16);
  });

  test('IRQ info: INTx 1, MSI-X 32 with eventfds', async () => {
    assert.equal((await c.irqInfo(W.IrqIndex.INTX)).count, 1);
    const msix = await c.irqInfo(W.IrqIndex.MSIX);
    assert.equal(msix.count, 32);
    assert.ok(msix.flags & W.IRQ_INFO_EVENTFD);
    await assert.rejects(c.irqInfo(9), (e: { errno: number }) => e.errno === W.Errno.EINVAL);
  });

  test('config space: identity, class code 010802, capability chain', async () => {
    const cfg = await c.regionRead(W.RegionIndex.CONFIG, 0, 256);
    assert.equal(cfg.readUInt16LE(0), 0x4e58);
    assert.equal(cfg.readUInt32LE(8) >>> 8, 0x010802);
    assert.equal(cfg[0x3d], 1, 'INTA');
    const ids: number[] = [];
    for (let p = cfg[0x34]!; p; p = cfg[p + 1]!) ids.push(cfg[p]!);
    assert.deepEqual(ids, [0x01, 0x11, 0x10]);
  });

  test('BAR sizing: all-ones reads back the size mask; identity is read-only', async () => {
    await c.write32(W.RegionIndex.CONFIG, 0x10, 0xffffffff);
    assert.equal(await c.read32(W.RegionIndex.CONFIG, 0x10), (~(0x4000 - 1) & 0xfffffff0 | 0b100) >>> 0);
    await c.write32(W.RegionIndex.CONFIG, 0x10, 0xfebf0000);
    assert.equal(await c.read32(W.RegionIndex.CONFIG, 0x10), 0xfebf0004);
    await c.write32(W.RegionIndex.CONFIG, 0x00, 0x12345678);
    assert.equal(await c.read32(W.RegionIndex.CONFIG, 0x00), 0x00014e58);
    await c.write32(W.RegionIndex.CONFIG, 0x04, 0x6);
    assert.equal((await c.read32(W.RegionIndex.CONFIG, 0x04)) & 0xffff, 0x6);
  });

  test('MSI-X eventfds assigned in chunks, triggered by the device, de-assigned', async () => {
    const efds = Array.from({ length: 20 }, () => native.eventfdCreate());
    // Enable MSI-X in the capability as a driver does.
    const ctrl = (await c.regionRead(W.RegionIndex.CONFIG, 0x52, 2)).readUInt16LE(0);
    await c.regionWrite(W.RegionIndex.CONFIG, 0x52, Buffer.from([ctrl & 0xff, (ctrl >> 8) | 0x80]));
    assert.equal(s.fn.msixEnabled, true);
    await c.setIrqEventfds(W.IrqIndex.MSIX, 0, efds);
    s.fn.interrupt(0);
    s.fn.interrupt(19);
    assert.equal(native.eventfdConsume(efds[0]!), 1);
    assert.equal(native.eventfdConsume(efds[19]!), 1);
    assert.equal(native.eventfdConsume(efds[1]!), 0);
    // De-assign vector 0 (a chunk with no fds); an interrupt then stays pending (PBA).
    await c.setIrqEventfds(W.IrqIndex.MSIX, 0, [null]);
    s.fn.interrupt(0);
    assert.equal(native.eventfdConsume(efds[0]!), 0);
    const pba = await c.regionRead(5, 0, 8);
    assert.equal(pba[0]! & 1, 1);
    // DATA_BOOL trigger fires the chosen vectors.
    await c.call(W.Command.DEVICE_SET_IRQS, W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_BOOL | W.IRQ_SET_ACTION_TRIGGER, index: W.IrqIndex.MSIX, start: 1, count: 2, data: Buffer.from([0, 1]) }));
    assert.equal(native.eventfdConsume(efds[1]!), 0);
    assert.equal(native.eventfdConsume(efds[2]!), 1);
    // DATA_NONE trigger.
    await c.call(W.Command.DEVICE_SET_IRQS, W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_NONE | W.IRQ_SET_ACTION_TRIGGER, index: W.IrqIndex.MSIX, start: 3, count: 1 }));
    assert.equal(native.eventfdConsume(efds[3]!), 1);
    await c.disableIrqs(W.IrqIndex.MSIX);
    s.fn.interrupt(3);
    assert.equal(native.eventfdConsume(efds[3]!), 0);
    efds.forEach((fd) => native.closeFd(fd));
  });

  test('INTx with mask/unmask', async () => {
    const efd = native.eventfdCreate();
    // MSI-X off: the function falls back to INTx.
    await c.regionWrite(W.RegionIndex.CONFIG, 0x53, Buffer.from([0]));
    assert.equal(s.fn.msixEnabled, false);
    await c.setIrqEventfds(W.IrqIndex.INTX, 0, [efd]);
    await c.call(W.Command.DEVICE_SET_IRQS, W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_NONE | W.IRQ_SET_ACTION_MASK, index: 0, start: 0, count: 1 }));
    s.fn.interrupt(0);
    assert.equal(native.eventfdConsume(efd), 0);
    await c.call(W.Command.DEVICE_SET_IRQS, W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_NONE | W.IRQ_SET_ACTION_UNMASK, index: 0, start: 0, count: 1 }));
    assert.equal(native.eventfdConsume(efd), 1, 'pending interrupt delivered on unmask');
    await c.disableIrqs(0);
    native.closeFd(efd);
  });

  test('DMA map of a memfd: the device reads and writes guest memory', async () => {
    const mem = await c.addMemory(0x100000n, 1 << 20);
    mem.mem.write(0x1000, Buffer.from('hello, device'));
    const efd = native.eventfdCreate();
    await c.setIrqEventfds(W.IrqIndex.MSIX, 0, [efd]);
    await c.write64(0, 0x100, 0x101000n);
    await c.write64(0, 0x108, 0x180000n);
    await c.write64(0, 0x110, 13n);
    await c.write32(0, 0x118, 1);
    assert.equal(await c.read32(0, 0x120), 0);
    assert.equal(mem.mem.read(0x80000, 13).toString(), 'hello, device');
    assert.equal(native.eventfdConsume(efd), 1);
    // Outside the map: EFAULT status from the device.
    await c.write64(0, 0x100, 0x300000n);
    await c.write32(0, 0x118, 1);
    assert.equal(await c.read32(0, 0x120), W.Errno.EFAULT);
    await c.disableIrqs(W.IrqIndex.MSIX);
    native.closeFd(efd);
  });

  test('posted writes are processed in order before a later read', async () => {
    for (let i = 0; i < 500; i++) {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(i);
      c.postRegionWrite(0, 0x40 + (i % 8) * 4, b);
    }
    const last = await c.regionRead(0, 0x40, 32);
    for (let k = 0; k < 8; k++) assert.equal(last.readUInt32LE(k * 4), k < 4 ? 496 + k : 488 + k);
  });

  test('REGION_WRITE_MULTI applies entries in order', async () => {
    const entries = [0, 1, 2].map((i) => ({ offset: 0x80n, region: 0, data: Buffer.from([i, 0, 0, 0]) }));
    const r = await c.call(W.Command.REGION_WRITE_MULTI, W.encodeWriteMulti(entries));
    assert.equal(r.payload.readBigUInt64LE(0), 3n);
    assert.equal(await c.read32(0, 0x80), 2);
  });

  test('DEVICE_RESET reaches the model; FLR through the PCIe capability too', async () => {
    await c.reset();
    assert.deepEqual(s.model.resets, ['device']);
    const devctl = 0x60 + 8;
    const b = Buffer.alloc(2);
    b.writeUInt16LE(0x8000);
    await c.regionWrite(W.RegionIndex.CONFIG, devctl, b);
    assert.deepEqual(s.model.resets, ['device', 'flr']);
    assert.equal((await c.regionRead(W.RegionIndex.CONFIG, devctl, 2)).readUInt16LE(0) & 0x8000, 0);
  });

  test('DMA_UNMAP quiesces the device first and echoes the entry', async () => {
    const before = s.model.quiesces.length;
    const u = await c.dmaUnmap(0x100000n, BigInt(1 << 20));
    assert.equal(u.address, 0x100000n);
    assert.equal(s.model.quiesces.length, before + 1);
    assert.equal(s.server.dma.regions().length, 0);
  });

  test('disconnect then reconnect: DMA and IRQs dropped, device state kept', async () => {
    await c.write32(0, 0x10, 0xabcd);
    await c.addMemory(0x200000n, 1 << 16);
    c.close();
    await sleep(50);
    assert.equal(s.server.dma.regions().length, 0);
    assert.equal(s.model.detaches, 1);
    const c2 = await VfioUserClient.open(s.path);
    assert.equal(await c2.read32(0, 0x10), 0xabcd);
    assert.equal(s.server.connections, 2);
    c2.dispose();
  });
});

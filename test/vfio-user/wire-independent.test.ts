// The target's vfio-user encoder (target/vfio-user/wire.ts) held to a second one written from
// the spec's tables (test/helpers/vfio-user-wire.ts): for each message and a set of sample
// values, both produce the same bytes; each reply (and each request the server decodes)
// decodes to the same fields through both.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as W from '../../target/vfio-user/wire.js';
import * as I from '../helpers/vfio-user-wire.js';
import { regionWriteMulti } from '../../harness/initiator/conformance/cases/vfio-user.js';

const MAX64 = 0xffffffffffffffffn;
const hex = (b: Buffer) => b.toString('hex').replace(/(.{32})/g, '$1 ').trim();

function same(target: Buffer, independent: Buffer, what: string): void {
  assert.equal(hex(target), hex(independent), `${what}: target's bytes differ from the spec encoder's`);
}

/** Compares a target decoder's result with the spec decoder's, field by field (spec name -> target name). */
function fields(target: Record<string, unknown>, independent: Record<string, unknown>, names: Record<string, string>, what: string): void {
  for (const [spec, mine] of Object.entries(names)) assert.deepEqual(target[mine], independent[spec], `${what}: ${spec} (target's ${mine})`);
}

describe('the target encoder agrees with the spec encoder byte for byte', () => {
  test('header: command, posted command, reply, error reply (ids and commands at their extremes)', () => {
    for (const id of [0, 1, 0x1234, 0xffff])
      for (const cmd of [1, 9, 10, 18, 0xffff]) {
        const body = Buffer.from([1, 2, 3, 4, 5]);
        same(W.encodeCommand(id, cmd, body), I.command(id, cmd, body), `command ${id}/${cmd}`);
        same(W.encodeCommand(id, cmd, body, true), I.command(id, cmd, body, { noReply: true }), `posted ${id}/${cmd}`);
        same(W.encodeCommand(id, cmd), I.command(id, cmd), `empty command ${id}/${cmd}`);
        same(W.encodeReply(id, cmd, body), I.reply(id, cmd, body), `reply ${id}/${cmd}`);
        for (const errno of [1, 22, 95, 0xffffffff]) same(W.encodeErrorReply(id, cmd, errno), I.errorReply(id, cmd, errno), `error reply ${errno}`);
      }
  });

  test('VERSION: no version data, {} and full capabilities', () => {
    same(W.encodeVersion({ major: 0, minor: 0 }), I.version({ major: 0, minor: 0 }), 'no JSON');
    same(W.encodeVersion({ major: 0, minor: 7, caps: {} }), I.version({ major: 0, minor: 7, json: '{}' }), 'empty caps');
    const caps: W.VersionCaps = { max_msg_fds: 16, max_data_xfer_size: 1048576, pgsizes: 4096, max_dma_maps: 65535, write_multiple: true, migration: { pgsize: 4096, max_bitmap_size: 268435456 }, twin_socket: { supported: false } };
    same(W.encodeVersion({ major: 0xffff, minor: 0x1234, caps }), I.version({ major: 0xffff, minor: 0x1234, json: JSON.stringify({ capabilities: caps }) }), 'full caps');
  });

  test('DMA_MAP: each flag combination, offsets, addresses and sizes up to 2^64-1', () => {
    const samples = [
      { flags: 0, offset: 0n, address: 0n, size: 0n },
      { flags: W.DMA_MAP_FLAG_READ, offset: 0x1000n, address: 0x50000000n, size: 65536n },
      { flags: W.DMA_MAP_FLAG_READ | W.DMA_MAP_FLAG_WRITE, offset: 0x123456789abcn, address: 0x7fff_0000_0000n, size: 1n << 40n },
      { flags: 0xffffffff, offset: MAX64, address: MAX64, size: MAX64 },
    ];
    for (const s of samples) same(W.encodeDmaMap(s), I.dmaMap(s), `DMA_MAP ${JSON.stringify(s, (_, v) => (typeof v === 'bigint' ? v.toString(16) : v))}`);
    same(W.encodeDmaMap({ ...samples[1]!, argsz: 31 }), I.dmaMap({ ...samples[1]!, argsz: 31 }), 'DMA_MAP with its own argsz');
  });

  test('DMA_UNMAP: plain, unmap all, with the dirty bitmap', () => {
    same(W.encodeDmaUnmap({ flags: 0, address: 0x60000000n, size: 1n << 20n }), I.dmaUnmap({ flags: 0, address: 0x60000000n, size: 1n << 20n }), 'plain');
    same(W.encodeDmaUnmap({ flags: W.DMA_UNMAP_FLAG_ALL, address: 0n, size: 0n }), I.dmaUnmap({ flags: I.DMA_UNMAP_ALL, address: 0n, size: 0n }), 'all');
    const bitmap = { pgsize: 4096n, size: 256n };
    same(W.encodeDmaUnmap({ flags: W.DMA_UNMAP_FLAG_GET_DIRTY_BITMAP, address: MAX64 - 0xfffn, size: 0x1000n, bitmap }), I.dmaUnmap({ flags: I.DMA_UNMAP_GET_DIRTY_BITMAP, address: MAX64 - 0xfffn, size: 0x1000n, bitmap }), 'with bitmap');
  });

  test('DEVICE_GET_INFO request and reply', () => {
    same(W.encodeDeviceInfo({ argsz: 16, flags: 0, numRegions: 0, numIrqs: 0 }), I.deviceInfo(), 'request');
    same(W.encodeDeviceInfo({ argsz: 16, flags: W.DEVICE_FLAGS_RESET | W.DEVICE_FLAGS_PCI, numRegions: 10, numIrqs: 5 }), I.deviceInfo({ flags: I.DEVICE_FLAGS_RESET | I.DEVICE_FLAGS_PCI, num_regions: 10, num_irqs: 5 }), 'reply');
  });

  test('DEVICE_GET_REGION_INFO request and reply: no caps, sparse mmap, type, both chained', () => {
    for (const [index, argsz] of [[0, 32], [7, 32], [9, 4096], [0xffffffff, 0xffffffff]] as const) same(W.encodeRegionInfoRequest(index, argsz), I.regionInfoRequest(index, argsz), `request ${index}/${argsz}`);
    const flags = W.REGION_FLAG_READ | W.REGION_FLAG_WRITE | W.REGION_FLAG_MMAP;
    const sparse = [
      { offset: 0x1000n, size: 0x1000n },
      { offset: 0x3000n, size: 0xd000n },
    ];
    const type = { type: 3, subtype: 1 };
    same(W.encodeRegionInfo({ flags: W.REGION_FLAG_READ, index: 7, size: 4096n, offset: 0n }), I.regionInfoReply({ flags: I.REGION_INFO_FLAG_READ, index: 7, size: 4096n, offset: 0n }), 'no caps');
    same(W.encodeRegionInfo({ flags, index: 0, size: 0x4000n, offset: 0x10000000n, sparse: sparse.slice(0, 1) }), I.regionInfoReply({ flags, index: 0, size: 0x4000n, offset: 0x10000000n, caps: [{ sparse: sparse.slice(0, 1) }] }), 'one sparse area');
    same(W.encodeRegionInfo({ flags, index: 0, size: 0x10000n, offset: MAX64, sparse }), I.regionInfoReply({ flags, index: 0, size: 0x10000n, offset: MAX64, caps: [{ sparse }] }), 'two sparse areas');
    same(W.encodeRegionInfo({ flags, index: 9, size: 8192n, offset: 0n, type }), I.regionInfoReply({ flags, index: 9, size: 8192n, offset: 0n, caps: [type] }), 'type cap');
    same(W.encodeRegionInfo({ flags, index: 9, size: 8192n, offset: 0n, sparse, type }), I.regionInfoReply({ flags, index: 9, size: 8192n, offset: 0n, caps: [{ sparse }, type] }), 'sparse then type');
  });

  test('DEVICE_GET_IRQ_INFO request and reply', () => {
    for (const index of [0, 2, 4]) same(W.encodeIrqInfo({ argsz: 16, flags: 0, index, count: 0 }), I.irqInfo({ index }), `request ${index}`);
    same(W.encodeIrqInfo({ argsz: 16, flags: W.IRQ_INFO_EVENTFD | W.IRQ_INFO_NORESIZE, index: 2, count: 2048 }), I.irqInfo({ flags: I.IRQ_INFO_EVENTFD | I.IRQ_INFO_NORESIZE, index: 2, count: 2048 }), 'reply');
    same(W.encodeIrqInfo({ argsz: 16, flags: W.IRQ_INFO_EVENTFD | W.IRQ_INFO_MASKABLE | W.IRQ_INFO_AUTOMASKED, index: 0, count: 1 }), I.irqInfo({ flags: I.IRQ_INFO_EVENTFD | I.IRQ_INFO_MASKABLE | I.IRQ_INFO_AUTOMASKED, index: 0, count: 1 }), 'INTx reply');
  });

  test('DEVICE_SET_IRQS: eventfds, disable all, booleans, explicit argsz', () => {
    same(W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_EVENTFD | W.IRQ_SET_ACTION_TRIGGER, index: 2, start: 1, count: 16 }), I.setIrqs({ flags: I.IRQ_SET_DATA_EVENTFD | I.IRQ_SET_ACTION_TRIGGER, index: 2, start: 1, count: 16 }), 'eventfds');
    same(W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_NONE | W.IRQ_SET_ACTION_TRIGGER, index: 2, start: 0, count: 0 }), I.setIrqs({ flags: I.IRQ_SET_DATA_NONE | I.IRQ_SET_ACTION_TRIGGER, index: 2, start: 0, count: 0 }), 'disable');
    const data = Buffer.from([1, 0, 1]);
    same(W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_BOOL | W.IRQ_SET_ACTION_MASK, index: 1, start: 5, count: 3, data }), I.setIrqs({ flags: I.IRQ_SET_DATA_BOOL | I.IRQ_SET_ACTION_MASK, index: 1, start: 5, count: 3, data }), 'booleans');
    same(W.encodeSetIrqs({ flags: W.IRQ_SET_ACTION_UNMASK | W.IRQ_SET_DATA_NONE, index: 0, start: 0, count: 1, argsz: 0xffffffff }), I.setIrqs({ flags: I.IRQ_SET_ACTION_UNMASK | I.IRQ_SET_DATA_NONE, index: 0, start: 0, count: 1, argsz: 0xffffffff }), 'argsz given');
  });

  test('REGION_READ / REGION_WRITE requests and replies: sizes 1, 2, 4, 8 and a page, offsets up to 2^64-1', () => {
    for (const [region, offset] of [[0, 0n], [0, 0x1008n], [7, 4n], [9, MAX64]] as const)
      for (const n of [1, 2, 4, 8, 4096]) {
        const data = Buffer.alloc(n, 0xa5);
        same(W.encodeRegionAccess({ offset, region, count: n }), I.regionAccess({ offset, region, count: n }), `read request ${region}@${offset}+${n}`);
        same(W.encodeRegionAccess({ offset, region, count: n, data }), I.regionAccess({ offset, region, count: n, data }), `write request / read reply ${region}@${offset}+${n}`);
      }
  });

  test('DMA_READ / DMA_WRITE (server to client) and their replies', () => {
    same(W.encodeDmaRw({ address: 0x10000000n, count: 4096n }), I.dmaAccess({ address: 0x10000000n, count: 4096n }), 'DMA_READ');
    const data = Buffer.from('0123456789abcdef');
    same(W.encodeDmaRw({ address: MAX64, count: 16n, data }), I.dmaAccess({ address: MAX64, count: 16n, data }), 'DMA_WRITE');
  });

  test("REGION_WRITE_MULTI: the target's encoder and the conformance case's own", () => {
    const writes = [
      { offset: 0x1008n, region: 0, data: Buffer.from([3, 0, 0, 0]) },
      { offset: 0x100cn, region: 0, data: Buffer.from([1, 0]) },
      { offset: MAX64, region: 7, data: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]) },
    ];
    same(W.encodeWriteMulti(writes), I.writeMulti(writes), 'target');
    same(regionWriteMulti(writes), I.writeMulti(writes), 'conformance case vfio-user.write-multi-doorbells');
  });
});

describe('replies (and the requests the server reads) decode to the same fields through both', () => {
  test('header', () => {
    for (const m of [I.command(7, 10, Buffer.alloc(20), { noReply: true }), I.reply(0xffff, 9, Buffer.alloc(3)), I.errorReply(1, 2, 22)])
      fields(W.decodeHeader(m) as unknown as Record<string, unknown>, I.unpack(I.HEADER, m), { msg_id: 'id', cmd: 'command', msg_size: 'size', flags: 'flags', error: 'error' }, 'header');
  });

  test('VERSION reply', () => {
    for (const body of [I.version({ major: 0, minor: 0 }), I.version({ major: 0, minor: 3, json: '{}' }), I.version({ major: 1, minor: 2, json: '{"capabilities":{"max_msg_fds":8,"pgsizes":4096,"write_multiple":true}}' })]) {
      const t = W.decodeVersion(body);
      const i = I.decodeVersion(body);
      fields(t as unknown as Record<string, unknown>, i, { major: 'major', minor: 'minor', json: 'json' }, 'VERSION');
      if (i.json && i.json !== '{}') assert.deepEqual(t.caps, JSON.parse(i.json).capabilities);
    }
  });

  test('DMA_MAP and SET_IRQS requests (the server decodes them)', () => {
    const m = I.dmaMap({ flags: 3, offset: 0x1000n, address: MAX64 - 0xfffn, size: 0x1000n });
    fields(W.decodeDmaMap(m) as unknown as Record<string, unknown>, I.unpack(I.DMA_MAP, m), { argsz: 'argsz', flags: 'flags', offset: 'offset', address: 'address', size: 'size' }, 'DMA_MAP');
    const s = I.setIrqs({ flags: I.IRQ_SET_DATA_BOOL | I.IRQ_SET_ACTION_TRIGGER, index: 2, start: 3, count: 2, data: Buffer.from([1, 1]) });
    const ts = W.decodeSetIrqs(s);
    fields(ts as unknown as Record<string, unknown>, I.unpack(I.IRQ_SET, s), { argsz: 'argsz', flags: 'flags', index: 'index', start: 'start', count: 'count' }, 'SET_IRQS');
    assert.deepEqual([...ts.data], [1, 1]);
  });

  test('DMA_UNMAP reply, with and without the bitmap', () => {
    const plain = I.dmaUnmap({ flags: 0, address: 0x60000000n, size: 1n << 20n });
    const names = { argsz: 'argsz', flags: 'flags', address: 'address', size: 'size' };
    fields(W.decodeDmaUnmap(plain) as unknown as Record<string, unknown>, I.unpack(I.DMA_UNMAP, plain), names, 'DMA_UNMAP');
    const withBitmap = I.dmaUnmap({ flags: I.DMA_UNMAP_GET_DIRTY_BITMAP, address: 0x1000n, size: 0x4000n, bitmap: { pgsize: 4096n, size: 1n } });
    const t = W.decodeDmaUnmap(withBitmap);
    fields(t as unknown as Record<string, unknown>, I.unpack(I.DMA_UNMAP, withBitmap), names, 'DMA_UNMAP with bitmap');
    assert.deepEqual(t.bitmap, I.unpack(I.BITMAP, withBitmap, I.DMA_UNMAP.size));
  });

  test('DEVICE_GET_INFO reply', () => {
    const b = I.deviceInfo({ flags: 3, num_regions: 10, num_irqs: 5 });
    fields(W.decodeDeviceInfo(b) as unknown as Record<string, unknown>, I.unpack(I.DEVICE_INFO, b), { argsz: 'argsz', flags: 'flags', num_regions: 'numRegions', num_irqs: 'numIrqs' }, 'DEVICE_GET_INFO');
  });

  test('DEVICE_GET_REGION_INFO reply: the head and every capability', () => {
    const sparse = [
      { offset: 0x1000n, size: 0x1000n },
      { offset: 0x3000n, size: MAX64 },
    ];
    const names = { argsz: 'argsz', flags: 'flags', index: 'index', cap_offset: 'capOffset', size: 'size', offset: 'offset' };
    for (const caps of [[], [{ sparse }], [{ type: 3, subtype: 1 }], [{ sparse }, { type: 3, subtype: 1 }], [{ type: 3, subtype: 1 }, { sparse }]] as I.RegionCap[][]) {
      const b = I.regionInfoReply({ flags: 7, index: 0, size: 0x4000n, offset: 0x20000000n, caps });
      const t = W.decodeRegionInfo(b);
      const i = I.decodeRegionInfoReply(b);
      fields(t as unknown as Record<string, unknown>, i.info, names, `REGION_INFO (${caps.length} caps)`);
      assert.deepEqual(t.sparse, i.sparse, 'sparse areas');
      assert.deepEqual(t.type, i.type, 'type cap');
    }
  });

  test('DEVICE_GET_IRQ_INFO reply', () => {
    const b = I.irqInfo({ flags: 9, index: 2, count: 2048 });
    fields(W.decodeIrqInfo(b) as unknown as Record<string, unknown>, I.unpack(I.IRQ_INFO, b), { argsz: 'argsz', flags: 'flags', index: 'index', count: 'count' }, 'IRQ_INFO');
  });

  test('REGION_READ reply (with data) and REGION_WRITE reply (without)', () => {
    for (const b of [I.regionAccess({ offset: 0x1cn, region: 0, count: 4, data: Buffer.from([1, 0, 0, 0]) }), I.regionAccess({ offset: MAX64, region: 7, count: 2 })]) {
      const t = W.decodeRegionAccess(b);
      fields(t as unknown as Record<string, unknown>, I.unpack(I.REGION_ACCESS, b), { offset: 'offset', region: 'region', count: 'count' }, 'REGION access');
      assert.deepEqual([...t.data], [...b.subarray(I.REGION_ACCESS.size)]);
    }
  });

  test('DMA_READ / DMA_WRITE (the client decodes them)', () => {
    const b = I.dmaAccess({ address: 0x10000000n, count: 3n, data: Buffer.from([9, 8, 7]) });
    const t = W.decodeDmaRw(b);
    fields(t as unknown as Record<string, unknown>, I.unpack(I.DMA_ACCESS, b), { address: 'address', count: 'count' }, 'DMA access');
    assert.deepEqual([...t.data], [9, 8, 7]);
  });

  test('REGION_WRITE_MULTI request (the server decodes it)', () => {
    const writes = [
      { offset: 0x1008n, region: 0, data: Buffer.from([3, 0, 0, 0]) },
      { offset: 0x1000n, region: 0, data: Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]) },
    ];
    const b = I.writeMulti(writes);
    const t = W.decodeWriteMulti(b);
    assert.equal(BigInt(t.length), I.unpack(I.WRITE_MULTI, b).wr_cnt);
    t.forEach((e, k) => {
      const i = I.unpack(I.WRITE_MULTI_ENTRY, b, I.WRITE_MULTI.size + I.WRITE_MULTI_ENTRY.size * k);
      assert.equal(e.offset, i.offset);
      assert.equal(e.region, i.region);
      assert.equal(e.data.length, i.count);
      assert.deepEqual([...e.data], [...(i.data as Buffer).subarray(0, Number(i.count))]);
    });
  });
});

test("the spec encoder's tables tile their structs and have the sizes the spec states", () => {
  assert.throws(() => I.struct('gap', 8, [['a', 0, 4], ['b', 5, 3]]), /gap or an overlap/);
  assert.throws(() => I.struct('overlap', 8, [['a', 0, 4], ['b', 2, 4]]), /gap or an overlap/);
  assert.throws(() => I.struct('short', 8, [['a', 0, 4]]), /fields end at 4/);
  const sizes = [I.HEADER, I.VERSION, I.DMA_MAP, I.DMA_UNMAP, I.BITMAP, I.DEVICE_INFO, I.REGION_INFO, I.CAP_HEADER, I.SPARSE_MMAP, I.SPARSE_AREA, I.CAP_TYPE, I.IRQ_INFO, I.IRQ_SET, I.REGION_ACCESS, I.DMA_ACCESS, I.WRITE_MULTI, I.WRITE_MULTI_ENTRY].map((s) => [s.name, s.size]);
  // The sizes the spec states in words: header 16, DMA_MAP 32 ("16 + 32"), DMA_UNMAP 24 ("16 + 24"), bitmap 16, single device write 24.
  assert.deepEqual(Object.fromEntries(sizes), {
    vfio_user_header: 16,
    vfio_user_version: 4,
    vfio_user_dma_map: 32,
    vfio_user_dma_unmap: 24,
    vfio_bitmap: 16,
    vfio_user_device_info: 16,
    vfio_region_info: 32,
    vfio_info_cap_header: 8,
    vfio_region_info_cap_sparse_mmap: 8,
    vfio_region_sparse_mmap_area: 16,
    vfio_region_info_cap_type: 8,
    vfio_irq_info: 16,
    vfio_irq_set: 20,
    vfio_user_region_access: 16,
    vfio_user_dma_region_access: 16,
    vfio_user_region_write_multi: 8,
    vfio_user_write_multi_data: 24,
  });
});

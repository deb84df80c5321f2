// The native DMA map table against a model: random map/unmap/check/read/write sequences
// (fast-check), including ranges at the top of the 64-bit IOVA space, fd-less regions and
// every permission. Every guest-supplied value is bounds-checked in native code; under
// `npm test -- --asan` this also runs the table under AddressSanitizer.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { native, errnoOf, type NativeSharedMemory } from '../../native/index.js';

const TOP = 0xffffffffffffffffn;

interface ModelRegion {
  iova: bigint;
  size: bigint;
  prot: number;
  mem: NativeSharedMemory | null;
  fd: number | null;
}

const arbIova = fc.oneof(
  fc.integer({ min: 0, max: 40 }).map((p) => BigInt(p) * 0x1000n),
  fc.integer({ min: 0, max: 40 * 0x1000 }).map(BigInt),
  fc.integer({ min: 1, max: 0x3000 }).map((d) => TOP + 1n - BigInt(d)),
);
const arbSize = fc.oneof(fc.constantFrom(0n, 1n, 0x1000n, 0x2000n, 0x3000n), fc.integer({ min: 1, max: 0x4000 }).map(BigInt));
const arbOp = fc.oneof(
  fc.record({ op: fc.constant('map' as const), iova: arbIova, size: arbSize, prot: fc.integer({ min: 0, max: 3 }), fd: fc.boolean() }),
  fc.record({ op: fc.constant('unmap' as const), iova: arbIova, size: arbSize, pick: fc.option(fc.nat(), { freq: 2 }) }),
  fc.record({ op: fc.constant('read' as const), iova: arbIova, len: fc.integer({ min: 0, max: 0x2100 }), pick: fc.option(fc.nat(), { freq: 2 }) }),
  fc.record({ op: fc.constant('write' as const), iova: arbIova, len: fc.integer({ min: 0, max: 0x2100 }), byte: fc.integer({ min: 0, max: 255 }), pick: fc.option(fc.nat(), { freq: 2 }) }),
  fc.record({ op: fc.constant('check' as const), iova: arbIova, len: fc.integer({ min: 0, max: 0x2100 }), access: fc.integer({ min: 1, max: 3 }) }),
);

function find(regions: ModelRegion[], iova: bigint, len: bigint): ModelRegion | undefined {
  if (len === 0n || iova + len > TOP + 1n) return undefined;
  return regions.find((r) => iova >= r.iova && iova + len <= r.iova + r.size);
}

function errno(fn: () => unknown): number {
  try {
    fn();
    return 0;
  } catch (err) {
    return errnoOf(err) ?? -1;
  }
}

test('DmaTable behaves like its model (random map/unmap/check/read/write)', () => {
  fc.assert(
    fc.property(fc.array(arbOp, { minLength: 1, maxLength: 30 }), (ops) => {
      const table = new native.DmaTable();
      const regions: ModelRegion[] = [];
      try {
        for (const o of ops) {
          // Aim a fraction of the accesses inside an existing region.
          const target = 'pick' in o && o.pick !== null && regions.length ? regions[o.pick % regions.length]! : null;
          if (o.op === 'map') {
            const overflow = o.iova + o.size > TOP + 1n;
            const overlaps = regions.some((r) => o.iova < r.iova + r.size && r.iova < o.iova + o.size);
            const size = Number(o.size);
            const fd = o.fd && size > 0 && !overflow ? native.memfdCreate('dma-model', size) : null;
            const got = errno(() => table.map(fd ?? -1, 0n, o.iova, o.size, o.prot));
            // A full-range map ending exactly at 2^64 counts as wrapping (the end is not representable).
            const want = o.size === 0n || o.iova + o.size >= TOP + 1n ? 22 : overlaps ? 17 : 0;
            assert.equal(got, want, `map 0x${o.iova.toString(16)}+0x${o.size.toString(16)}`);
            if (got === 0) regions.push({ iova: o.iova, size: o.size, prot: o.prot, fd, mem: fd !== null ? new native.SharedMemory(fd, size) : null });
            else if (fd !== null) native.closeFd(fd);
          } else if (o.op === 'unmap') {
            const iova = target?.iova ?? o.iova;
            const size = target?.size ?? o.size;
            const i = regions.findIndex((r) => r.iova === iova && r.size === size);
            assert.equal(table.unmap(iova, size), i >= 0);
            if (i >= 0) {
              const [r] = regions.splice(i, 1);
              r!.mem?.unmap();
              if (r!.fd !== null) native.closeFd(r!.fd);
            }
          } else if (o.op === 'check') {
            const r = find(regions, o.iova, BigInt(o.len));
            const denied = r && (((o.access & 1) && !(r.prot & 1)) || ((o.access & 2) && !(r.prot & 2)));
            const want = !r ? 'unmapped' : denied ? 'denied' : !r.mem ? 'nofd' : 'ok';
            assert.equal(table.check(o.iova, o.len, o.access), want);
          } else {
            const iova = target ? target.iova + (o.iova % (target.size || 1n)) : o.iova;
            const len = o.len;
            const r = find(regions, iova, BigInt(len));
            const isWrite = o.op === 'write';
            const data = Buffer.alloc(len, isWrite ? o.byte : 0);
            let out: Buffer | undefined;
            const got = errno(() => {
              if (isWrite) table.write(iova, data);
              else out = table.read(iova, len);
            });
            let want: number;
            if (len === 0 && isWrite) want = 0; // an empty write is a no-op
            else if (!r) want = 14; // EFAULT
            else if (!r.mem) want = 6; // ENXIO: reached through messages instead
            else if (!(r.prot & (isWrite ? 2 : 1))) want = 13; // EACCES
            else want = 0;
            assert.equal(got, want, `${o.op} 0x${iova.toString(16)}+${len}`);
            if (got === 0 && r?.mem && len > 0) {
              const off = Number(iova - r.iova);
              if (isWrite) assert.deepEqual(r.mem.read(off, len), data, 'the write reached the shared memory');
              else assert.deepEqual(out, r.mem.read(off, len), 'the read saw the shared memory');
            }
          }
        }
        // The table lists exactly the model's regions, in IOVA order.
        const list = table.list();
        const sorted = [...regions].sort((a, b) => (a.iova < b.iova ? -1 : 1));
        assert.deepEqual(
          list.map((r) => [r.size, r.prot, r.mapped]),
          sorted.map((r) => [Number(r.size), r.prot & 3, r.mem !== null]),
        );
        assert.equal(table.unmapAll(), regions.length);
      } finally {
        for (const r of regions) {
          r.mem?.unmap();
          if (r.fd !== null) native.closeFd(r.fd);
        }
      }
    }),
    { numRuns: 500 },
  );
});

// Property test of every walk of guest-supplied data pointers: random PRP and SGL graphs in
// guest memory (list pages whose entries point at data pages, at other lists, at themselves,
// misaligned, unmapped, zero; SGL segments chained into cycles), submitted as reads and writes
// to a namespace served by the native engine and to one served through TypeScript (an error
// bdev), and as Get Log Page on the admin queue. Every command must complete (any status) and
// the controller must then still do a correct read/write on both queues: a walk that loops or
// runs away would time the command out, which fails the property.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { MallocBdev } from '../../target/bdev/malloc.js';
import { ErrorBdev } from '../../target/bdev/error.js';
import { NvmeEndpoint } from '../../target/nvme/endpoint.js';
import { NvmeDriver, cmd, type QueuePair } from '../../harness/initiator/nvme-driver.js';

const PAGE = 4096n;
const LISTS = 4;
const DATA_PAGES = 8;

let dir: string;
let ep: NvmeEndpoint;
let drv: NvmeDriver;
let q: QueuePair;
let lists: bigint[];
let data: bigint[];
const base = new MallocBdev({ name: 'm0', blockSize: 512, numBlocks: 4096 });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vnvme-walk-'));
  const eb = new ErrorBdev(base);
  ep = new NvmeEndpoint({
    traddr: dir,
    serialNumber: 'WALK0',
    modelNumber: 'walk fuzz',
    subnqn: 'nqn.2019-07.io.spdk:walk',
    namespaces: () => [
      { nsid: 1, bdev: base },
      { nsid: 2, bdev: eb },
    ],
  });
  drv = await NvmeDriver.attach(join(dir, 'cntrl'));
  await drv.setNumberOfQueues(2);
  q = await drv.createIoQueuePair(1, 64);
  lists = Array.from({ length: LISTS }, () => drv.alloc(4096));
  data = Array.from({ length: DATA_PAGES }, () => drv.alloc(4096));
});

after(async () => {
  drv?.close();
  await ep?.close();
  await base.close();
  rmSync(dir, { recursive: true, force: true });
});

/** An address a guest might put in a pointer: a data page, a list (maybe this one), junk. */
const pointer = fc.oneof(
  fc.record({ k: fc.constant('data' as const), i: fc.nat(DATA_PAGES - 1), off: fc.constantFrom(0, 0, 0, 8, 0x200, 0xff8, 3) }),
  fc.record({ k: fc.constant('list' as const), i: fc.nat(LISTS - 1), off: fc.constantFrom(0, 0, 0xff8, 0x800, 8) }),
  fc.record({ k: fc.constant('raw' as const), v: fc.constantFrom(0n, 1n, 0x7000000000n, 0xfffffffffffff000n, 0xffffffffffffffffn) }),
);
type Ptr = typeof pointer extends fc.Arbitrary<infer T> ? T : never;
const resolve = (p: Ptr): bigint => (p.k === 'raw' ? p.v : (p.k === 'data' ? data : lists)[p.i]! + BigInt(p.off));

/** An SGL descriptor: data block, bit bucket, segment, last segment, or a reserved type. */
const sglDesc = fc.record({
  type: fc.constantFrom(0, 0, 1, 2, 2, 3, 3, 5),
  sub: fc.constantFrom(0, 0, 0, 1),
  to: pointer,
  len: fc.constantFrom(0, 16, 32, 64, 512, 4096, 8192, 0xffffffff),
});
type Desc = typeof sglDesc extends fc.Arbitrary<infer T> ? T : never;
const encodeDesc = (d: Desc): Buffer => {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(resolve(d.to), 0);
  b.writeUInt32LE(d.len >>> 0, 8);
  b[15] = (d.type << 4) | d.sub;
  return b;
};

const scenario = fc.record({
  sgl: fc.boolean(),
  target: fc.constantFrom('native', 'typescript', 'admin'),
  write: fc.boolean(),
  blocks: fc.constantFrom(1, 8, 9, 16, 32, 64, 128),
  prp1: pointer,
  prp2: pointer,
  sgl1: sglDesc,
  // What each list page holds: PRP entries (512 per page) or SGL descriptors (256 per page).
  prpFill: fc.array(fc.array(pointer, { minLength: 1, maxLength: 6 }), { minLength: LISTS, maxLength: LISTS }),
  sglFill: fc.array(fc.array(sglDesc, { minLength: 1, maxLength: 6 }), { minLength: LISTS, maxLength: LISTS }),
});

test('random PRP and SGL graphs (cycles, self-chains, junk) always complete, and the controller keeps serving', async (t) => {
  let runs = 0;
  const statuses = new Map<string, number>();
  await fc.assert(
    fc.asyncProperty(scenario, async (s) => {
      runs++;
      for (let i = 0; i < LISTS; i++) {
        const page = Buffer.alloc(4096);
        if (s.sgl) {
          // Descriptors repeat over the page so a walk from any offset meets them.
          const fill = s.sglFill[i]!;
          for (let k = 0; k < 256; k++) encodeDesc(fill[k % fill.length]!).copy(page, 16 * k);
        } else {
          const fill = s.prpFill[i]!;
          for (let k = 0; k < 512; k++) page.writeBigUInt64LE(resolve(fill[k % fill.length]!), 8 * k);
        }
        drv.write(lists[i]!, page);
      }
      const bytes = s.blocks * 512;
      const c =
        s.target === 'admin'
          ? cmd(0x02, 0xffffffff, { cdw10: 0x02 | ((bytes / 4 - 1) << 16) }) // SMART log, NUMD from the size
          : cmd(s.write ? 0x01 : 0x02, s.target === 'native' ? 1 : 2, { cdw10: 0, cdw12: s.blocks - 1 });
      if (s.sgl) {
        c[1] = (c[1]! & ~0xc0) | 0x40; // PSDT 01: SGL for data
        encodeDesc(s.sgl1).copy(c, 24);
      } else {
        c.writeBigUInt64LE(resolve(s.prp1), 24);
        c.writeBigUInt64LE(resolve(s.prp2), 32);
      }
      // A timeout here (the driver's 5 s) is a walk that did not end: the property fails.
      const r = s.target === 'admin' ? await drv.adminCommand(c) : await drv.submit(q, c, 5000);
      const key = `${s.target}:${s.sgl ? 'sgl' : 'prp'}:0x${(r.status & 0x7ff).toString(16)}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    }),
    { numRuns: 300, seed: Number(process.env.VNVME_FUZZ_SEED ?? 0x5eed) },
  );
  assert.equal(runs, 300);
  t.diagnostic(`statuses: ${[...statuses].sort().map(([k, n]) => `${k} x${n}`).join(', ')}`);
  // The graphs reach the walkers: some commands succeed and some walks end in an error, on
  // each path (a generator that only produced rejected commands would test nothing).
  for (const path of ['native', 'typescript', 'admin']) {
    const here = [...statuses].filter(([k]) => k.startsWith(`${path}:`));
    assert.ok(here.some(([k]) => k.endsWith(':0x0')), `${path}: some command succeeded`);
    assert.ok(here.some(([k]) => !k.endsWith(':0x0')), `${path}: some walk failed`);
  }
  // Still a working controller on both paths and the admin queue.
  for (const nsid of [1, 2]) {
    const buf = drv.alloc(8192);
    drv.write(buf, Buffer.alloc(8192, 0x30 + nsid));
    assert.equal((await drv.io(q, 0x01, nsid, 64n, 16, buf, 8192)).status, 0);
    drv.write(buf, Buffer.alloc(8192));
    assert.equal((await drv.io(q, 0x02, nsid, 64n, 16, buf, 8192)).status, 0);
    assert.ok(drv.read(buf, 8192).equals(Buffer.alloc(8192, 0x30 + nsid)), `nsid ${nsid} reads back what it wrote`);
  }
  assert.equal((await drv.identify(1, 0)).length, 4096);
});

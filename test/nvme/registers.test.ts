// BAR0 register arithmetic is unsigned: any 32-bit value (bit 31 set included) written to any
// register offset 0x00..0x3F, as dwords, qwords or bytes, leaves every BAR0 access working, and a
// fresh client can still disable and enable the controller afterwards (issue 13).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { MallocBdev } from '../../target/bdev/malloc.js';
import { NvmeEndpoint } from '../../target/nvme/endpoint.js';
import { NvmeDriver } from '../../harness/initiator/nvme-driver.js';
import { VfioUserClient } from '../../harness/initiator/vfio-user-client.js';
import { RegionIndex } from '../../target/vfio-user/wire.js';

const BAR0 = 0;

describe('BAR0 registers under arbitrary 32-bit values', () => {
  let dir: string;
  let ep: NvmeEndpoint;
  let bdev: MallocBdev;
  const sock = () => join(dir, 'cntrl');

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'vnvme-regs-'));
    bdev = new MallocBdev({ name: 'Malloc0', blockSize: 512, numBlocks: 1024 });
    ep = new NvmeEndpoint({ traddr: dir, serialNumber: 'REGS0', modelNumber: 'vnvme regs', subnqn: 'nqn.2019-07.io.spdk:regs', namespaces: () => [{ nsid: 1, bdev }] });
  });
  after(async () => {
    await ep?.close();
    await bdev?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function readAll(c: VfioUserClient): Promise<void> {
    for (let o = 0; o < 0x40; o += 4) await c.read32(BAR0, o);
    await c.read64(BAR0, 0x28);
    await c.read64(BAR0, 0x30);
  }

  async function freshEnableWorks(): Promise<void> {
    const drv = await NvmeDriver.attach(sock());
    try {
      assert.equal((await drv.identify(1)).toString('ascii', 4, 9), 'REGS0');
    } finally {
      drv.close();
    }
  }

  test('0x80000000 to INTMS, then INTMC, then any register: reads, writes and a new enable still work', async () => {
    const c = await VfioUserClient.open(sock());
    try {
      await c.regionWrite(RegionIndex.CONFIG, 4, Buffer.from([0x06, 0x00]));
      await c.write32(BAR0, 0x0c, 0x80000000);
      assert.equal(await c.read32(BAR0, 0x0c), 0x80000000, 'INTMS reads the mask set');
      assert.equal(await c.read32(BAR0, 0x10), 0x80000000, 'INTMC reads the same mask');
      await c.write32(BAR0, 0x0c, 0xffffffff);
      await c.write32(BAR0, 0x10, 0x80000001);
      assert.equal(await c.read32(BAR0, 0x0c), 0x7ffffffe, 'INTMC clears only the bits written as 1');
      // A byte write to INTMC clears only bits of that byte (the other bytes were not written).
      await c.regionWrite(BAR0, 0x10, Buffer.from([0x02]));
      assert.equal(await c.read32(BAR0, 0x0c), 0x7ffffffc);
      await c.write64(BAR0, 0x28, 0xfffffffffffff000n);
      assert.equal(await c.read64(BAR0, 0x28), 0xfffffffffffff000n, 'ASQ keeps all 64 bits');
      await c.write32(BAR0, 0x2c, 0x80000000);
      assert.equal(await c.read64(BAR0, 0x28), 0x80000000fffff000n, 'ASQ high half written alone');
      await readAll(c);
    } finally {
      c.close();
    }
    await freshEnableWorks();
    const c2 = await VfioUserClient.open(sock());
    try {
      await readAll(c2);
    } finally {
      c2.close();
    }
  });

  test('property: random dword/qword/byte writes to 0x00..0x3F never break BAR0 or the next enable', async () => {
    const access = fc.oneof(
      fc.record({ kind: fc.constant('dword' as const), off: fc.integer({ min: 0, max: 15 }).map((i) => i * 4), v: fc.integer({ min: 0, max: 0xffffffff }) }),
      fc.record({ kind: fc.constant('qword' as const), off: fc.integer({ min: 0, max: 7 }).map((i) => i * 8), v: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }) }),
      fc.record({ kind: fc.constant('byte' as const), off: fc.integer({ min: 0, max: 0x3f }), v: fc.integer({ min: 0, max: 0xff }) }),
    );
    // Bit 31 set in most dwords: the values that used to turn negative.
    const highBit = fc.record({ kind: fc.constant('dword' as const), off: fc.constantFrom(0x0c, 0x10, 0x14, 0x24, 0x28, 0x2c, 0x30, 0x34), v: fc.integer({ min: 0x80000000, max: 0xffffffff }) });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(access, highBit), { minLength: 1, maxLength: 24 }), async (writes) => {
        const c = await VfioUserClient.open(sock());
        try {
          await c.regionWrite(RegionIndex.CONFIG, 4, Buffer.from([0x06, 0x00]));
          for (const w of writes) {
            if (w.kind === 'dword') await c.write32(BAR0, w.off, w.v);
            else if (w.kind === 'qword') await c.write64(BAR0, w.off, w.v);
            else await c.regionWrite(BAR0, w.off, Buffer.from([w.v]));
          }
          await readAll(c);
          const intms = await c.read32(BAR0, 0x0c);
          assert.ok(intms >= 0 && intms <= 0xffffffff);
        } finally {
          c.close();
        }
        await freshEnableWorks();
      }),
      { numRuns: 60 },
    );
  });
});

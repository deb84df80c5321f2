// Admin data through the one walker when the client shares memory without an fd: a Get Log
// Page whose PRP list and data pages lie in fd-less memory is walked by native.walkData, which
// asks for the list page; TypeScript fetches it with DMA_READ and moves the data with
// DMA_WRITE. The same command in fd-backed memory gives the same bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cmd } from '../../harness/initiator/nvme-driver.js';
import { makePair, driverWithQueue } from '../migration/pair.js';

const FDLESS = 0x50_0000_0000n;

test('Get Log Page with its PRP list and data in memory shared without an fd', async () => {
  const pair = await makePair();
  try {
    const { drv } = await driverWithQueue(pair.a);
    try {
      const m = await drv.client.addMemory(FDLESS, 0x10000, { shareFd: false });
      // Error Information log, 16 KiB: PRP1 = page 0, PRP2 = a list at page 4 naming pages 1-3.
      const list = Buffer.alloc(24);
      for (let i = 0; i < 3; i++) list.writeBigUInt64LE(FDLESS + BigInt((i + 1) * 4096), 8 * i);
      m.mem.write(4 * 4096, list);
      const numd = 16384 / 4 - 1;
      const r = await drv.adminCommand(cmd(0x02, 0xffffffff, { prp1: FDLESS, prp2: FDLESS + 4n * 4096n, cdw10: 0x01 | (numd << 16) }));
      assert.equal(r.status, 0, `status 0x${r.status.toString(16)}`);
      const viaMessages = m.mem.read(0, 16384);
      // The same log into fd-backed memory (through the engine's table directly).
      const buf = drv.alloc(16384);
      const prps = drv.prps(buf, 16384);
      const r2 = await drv.adminCommand(cmd(0x02, 0xffffffff, { ...prps, cdw10: 0x01 | (numd << 16) }));
      assert.equal(r2.status, 0);
      assert.ok(drv.read(buf, 16384).equals(viaMessages), 'same log bytes either way');
      // A list page the client does not have: Data Transfer Error, the queue goes on.
      const bad = await drv.adminCommand(cmd(0x02, 0xffffffff, { prp1: FDLESS, prp2: 0x7000_0000_0000n, cdw10: 0x01 | (numd << 16) }));
      assert.equal(bad.status & 0x7ff, 0x04);
      assert.equal((await drv.identify(1, 0)).length, 4096);
    } finally {
      drv.close();
    }
  } finally {
    await pair.close();
  }
});

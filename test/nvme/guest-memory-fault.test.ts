// A client that truncates guest memory it shared with DMA_MAP cannot kill the target. With a
// malloc bdev the engine copies with memcpy and the fault is a SIGBUS, caught by the guard
// (native/guest-fault.h): Data Transfer Error and CSTS.CFS (without the guard the target died).
// With a file bdev the kernel meets the hole in preadv/pwritev and returns EFAULT: Data
// Transfer Error. Either way the target keeps serving and a fresh client gets working I/O.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ftruncateSync } from 'node:fs';
import { native } from '../../native/index.js';
import { VfioUserClient } from '../../harness/initiator/vfio-user-client.js';
import { cmd } from '../../harness/initiator/nvme-driver.js';
import * as W from '../../target/vfio-user/wire.js';
import { driverWithQueue, makePair, writeRead } from '../migration/pair.js';

const BAR0 = W.RegionIndex.BAR0;
const EXTRA_IOVA = 0x40_0000_0000n;

for (const kind of ['malloc', 'file'] as const)
test(`guest memory truncated after DMA_MAP (${kind} bdev): Data Transfer Error, the target survives`, async () => {
  const pair = await makePair({ malloc: kind === 'malloc' });
  try {
    const { drv, q } = await driverWithQueue(pair.a);
    const fd = native.memfdCreate('guest-ram-2', 1 << 20);
    try {
      // A second region of guest RAM, which the client then truncates to nothing.
      await drv.client.call(W.Command.DMA_MAP, W.encodeDmaMap({ flags: 3, offset: 0n, address: EXTRA_IOVA, size: BigInt(1 << 20) }), [fd]);
      ftruncateSync(fd, 0);
      // Write: the engine reads the data from the vanished pages.
      const w = await drv.submit(q, cmd(0x01, 1, { prp1: EXTRA_IOVA, cdw10: 0, cdw12: 7 }));
      assert.equal(w.status & 0x7ff, 0x04, `write from truncated memory: status 0x${w.status.toString(16)} (want Data Transfer Error)`);
      // Read: the engine writes into them.
      const r = await drv.submit(q, cmd(0x02, 1, { prp1: EXTRA_IOVA + 0x8000n, cdw10: 0, cdw12: 7 }));
      assert.equal(r.status & 0x7ff, 0x04, `read into truncated memory: status 0x${r.status.toString(16)}`);
      let csts = 0;
      for (let i = 0; i < 50 && !(csts & 2) && kind === 'malloc'; i++) {
        csts = await drv.client.read32(BAR0, 0x1c);
        if (!(csts & 2)) await new Promise((res) => setTimeout(res, 10));
      }
      if (kind === 'malloc') assert.ok(csts & 2, `CSTS.CFS set after a fault on guest memory (CSTS 0x${csts.toString(16)})`);
      // The TypeScript path (vfio-user DMA through the table) fails cleanly too.
      assert.throws(() => pair.a.server.dma.readSync(EXTRA_IOVA + 0x10000n, 512), /truncated|Bad address/);
    } finally {
      native.closeFd(fd);
      drv.close();
    }
    // The target is alive: a new client resets the controller and does I/O.
    const c = await VfioUserClient.open(pair.a.socketPath);
    c.close();
    const next = await driverWithQueue(pair.a);
    try {
      await writeRead(next.drv, next.q, 16, 0x42);
    } finally {
      next.drv.close();
    }
  } finally {
    await pair.close();
  }
});

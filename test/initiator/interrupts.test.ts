// The userspace driver completing by MSI-X interrupts (eventfds via SET_IRQS) instead of
// polling: admin and I/O completions arrive only through the vectors the CQs name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MallocBdev } from '../../target/bdev/malloc.js';
import { NvmeEndpoint } from '../../target/nvme/endpoint.js';
import { NvmeDriver, cmd } from '../../harness/initiator/nvme-driver.js';
import { DelayBdev } from '../../target/bdev/delay.js';

for (const mode of ['mapped', 'message'] as const) {
  test(`interrupt-driven completions (${mode} doorbells)`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vnvme-irq-'));
    const bdev = new MallocBdev({ name: 'Malloc0', blockSize: 512, numBlocks: 8192 });
    const ep = new NvmeEndpoint({
      traddr: dir,
      serialNumber: 'IRQ0',
      modelNumber: 'irq',
      subnqn: 'nqn.2019-07.io.spdk:irq',
      namespaces: () => [{ nsid: 1, bdev }],
      disableMappableBar0: mode === 'message',
    });
    const drv = await NvmeDriver.attach(join(dir, 'cntrl'), { interrupts: true, vectors: 3 });
    try {
      const id = await drv.identify(1);
      assert.equal(id.toString('ascii', 4, 24).trim(), 'IRQ0');
      const afterAdmin = drv.interruptCount;
      assert.ok(afterAdmin > 0, 'admin completions raised vector 0');
      await drv.setNumberOfQueues(2);
      const q1 = await drv.createIoQueuePair(1, 32);
      const q2 = await drv.createIoQueuePair(2, 32);
      const buf = drv.alloc(40 * 4096);
      const all = [];
      for (let i = 0; i < 40; i++) all.push(drv.io(i % 2 ? q2 : q1, 0x02, 1, BigInt(i * 8), 8, buf + BigInt(i * 4096), 4096));
      for (const c of await Promise.all(all)) assert.equal(c.status, 0);
      assert.ok(drv.interruptCount > afterAdmin, 'I/O completions raised their vectors');
    } finally {
      drv.close();
      await ep.close();
      await bdev.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a timed-out I/O command is aborted (Command Abort Requested), the queue keeps working', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-abort-'));
  const base = new MallocBdev({ name: 'Malloc0', blockSize: 512, numBlocks: 8192 });
  const slow = new DelayBdev('Delay0', base, { avgReadUs: 3_000_000, p99ReadUs: 3_000_000, avgWriteUs: 0, p99WriteUs: 0 });
  const ep = new NvmeEndpoint({
    traddr: dir,
    serialNumber: 'ABORT0',
    modelNumber: 'abort',
    subnqn: 'nqn.2019-07.io.spdk:abort',
    namespaces: () => [{ nsid: 1, bdev: slow }],
  });
  const drv = await NvmeDriver.attach(join(dir, 'cntrl'));
  try {
    await drv.setNumberOfQueues(1);
    const q = await drv.createIoQueuePair(1, 16);
    const buf = drv.alloc(4096);
    await assert.rejects(drv.submit(q, cmd(0x02, 1, { prp1: buf, cdw12: 7 }), 200), /timed out after 200 ms; Abort accepted/);
    const w = await drv.submit(q, cmd(0x01, 1, { prp1: buf, cdw12: 7 }));
    assert.equal(w.status, 0, 'the queue serves the next command');
  } finally {
    drv.close();
    await ep.close();
    await slow.close();
    await base.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
});

// Interrupt mode (nvmf_tgt --interrupt-mode) and the shadow doorbell event-index protocol in
// both engine modes. Polling mode parks the event indexes (SPDK's EVENTIDX_POLL) while it polls
// after work, so a host skips most doorbell writes, and arms them before it sleeps; interrupt
// mode keeps them armed. Either way no submission may be left waiting: a host that skipped the
// doorbell write because of a stale event index would hang here.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { BdevRegistry } from '../../target/bdev/registry.js';
import { NvmfTarget } from '../../target/nvmf/target.js';
import { silentLogger } from '../../target/log.js';
import { type QueuePair } from '../../harness/initiator/nvme-driver.js';
import { controllerFixture, type ControllerFixture } from './fixture.js';

const READ = 0x02;
const WRITE = 0x01;

for (const interruptMode of [false, true]) {
  describe(`shadow doorbells, ${interruptMode ? 'interrupt' : 'polling'} mode`, () => {
    let f: ControllerFixture;
    let q: QueuePair;
    const stats = () => f.ep.controller.ioStats();

    before(async () => {
      f = await controllerFixture({ disableMappableBar0: true, interruptMode });
      await f.drv.enableShadowDoorbells();
      await f.drv.setNumberOfQueues(2);
      q = await f.drv.createIoQueuePair(1, 64);
    });
    after(() => f.close());

    test('QD 32 bursts complete with data intact; the host writes the trapped doorbell only when the event index asks', async () => {
      const buf = f.drv.alloc(32 * 4096);
      const src = f.drv.alloc(4096);
      f.drv.write(src, Buffer.alloc(4096, 0x5a));
      for (let round = 0; round < 20; round++) {
        const all = [];
        for (let i = 0; i < 32; i++) all.push(f.drv.io(q, round % 2 ? READ : WRITE, 1, BigInt(i * 8), 8, round % 2 ? buf + BigInt(i * 4096) : src, 4096));
        for (const c of await Promise.all(all)) assert.equal(c.status, 0);
      }
      const sh = f.drv.shadow!;
      assert.ok(sh.mmioWrites > 0, 'the first submission after a sleep rang the doorbell');
      assert.ok(sh.skipped > 0, `some doorbell writes were not needed (${sh.skipped} skipped, ${sh.mmioWrites} written)`);
      assert.ok(f.drv.read(buf, 4096).equals(Buffer.alloc(4096, 0x5a)));
      assert.ok(stats().rearms > 0, 'the engine armed the event indexes before sleeping');
    });

    test('QD 1 with pauses of every length: each submission wakes a sleeping engine', async () => {
      const buf = f.drv.alloc(4096);
      for (let i = 0; i < 150; i++) {
        assert.equal((await f.drv.io(q, READ, 1, BigInt((i % 64) * 8), 8, buf, 4096)).status, 0, `command ${i}`);
        if (i % 3 === 0) await sleep(i % 7);
        else if (i % 3 === 1) await new Promise((r) => setImmediate(r));
      }
    });

    test('a queue deleted and created again with a stale event index still wakes the engine', async () => {
      const buf = f.drv.alloc(4096);
      // Leave a stale value in queue 1's event index slot, as a reused qid does.
      for (let i = 0; i < 37; i++) assert.equal((await f.drv.io(q, READ, 1, 0n, 8, buf, 4096)).status, 0);
      await f.drv.deleteIoQueuePair(1);
      q = await f.drv.createIoQueuePair(1, 64);
      for (let i = 0; i < 10; i++) assert.equal((await f.drv.io(q, READ, 1, 0n, 8, buf, 4096)).status, 0, `command ${i} on the new queue`);
    });

    test('idle with a client attached: the engine sleeps instead of polling', async () => {
      await sleep(50);
      const before = stats().polls;
      await sleep(500);
      const polls = stats().polls - before;
      // Polling mode wakes every 100 ms to look for nothing; interrupt mode not at all.
      assert.ok(polls <= (interruptMode ? 1 : 8), `${polls} polls in 500 ms of idleness`);
    });
  });
}

test('interrupt mode refuses a transport with a mappable BAR0, as SPDK, and says what to pass', () => {
  const t = new NvmfTarget(new BdevRegistry(), silentLogger, async () => {
    throw new Error('no listener in this test');
  }, true);
  assert.throws(() => t.createTransport('VFIOUSER', {}), /interrupt mode needs doorbells that trap.*-M/);
  t.createTransport('VFIOUSER', { disable_mappable_bar0: true });
  const [opts] = t.getTransports();
  assert.equal(opts.disable_adaptive_irq, true, 'adaptive IRQs need a poller: forced off');
});

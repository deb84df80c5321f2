// Resources a client can hold are bounded: fds per message (the max_msg_fds we advertise),
// time inside an unfinished message, time before VERSION (we serve one client at a time, so a
// silent one would lock the VMM out), and the cost of many DMA regions. Each hostile client
// is dropped or refused and the next client is served.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { native } from '../../native/index.js';
import { VfioUserClient } from '../../harness/initiator/vfio-user-client.js';
import * as W from '../../target/vfio-user/wire.js';
import { openFds, replyErrno, startScratchServer, waitFor } from '../helpers/scratch-device.js';

const eventfds = (n: number): number[] => Array.from({ length: n }, () => native.eventfdCreate());
const closeAll = (fds: number[]): void => fds.forEach((fd) => native.closeFd(fd));

describe('per-client resource bounds', () => {
  test('a message with more fds than max_msg_fds is refused with EINVAL; the excess is never held', async () => {
    const s = startScratchServer({ maxMsgFds: 16 });
    try {
      const c = await VfioUserClient.open(s.path);
      const base = openFds();
      const efds = eventfds(200);
      const req = W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_EVENTFD | W.IRQ_SET_ACTION_TRIGGER, index: W.IrqIndex.MSIX, start: 0, count: 200 });
      assert.equal(await replyErrno(c, W.Command.DEVICE_SET_IRQS, req, efds), W.Errno.EINVAL);
      closeAll(efds);
      assert.equal(openFds(), base, 'every fd that came with the refused message is closed');
      // Still serving this client.
      assert.equal(await replyErrno(c, W.Command.DEVICE_GET_INFO, W.encodeDeviceInfo({ argsz: 16, flags: 0, numRegions: 0, numIrqs: 0 })), 0);
      c.close();
    } finally {
      await s.close();
    }
  });

  test('an unfinished message holds at most max_msg_fds fds and is dropped after the message timeout', async () => {
    const s = startScratchServer({ maxMsgFds: 16, messageTimeoutMs: 300 });
    try {
      const c = await VfioUserClient.open(s.path);
      const base = openFds();
      // A header promising a large body, then 40 chunks of one byte each carrying 200 fds:
      // 8,000 fds offered inside one message that never ends.
      const hdr = W.encodeCommand(7, W.Command.DEVICE_SET_IRQS, Buffer.alloc(4096));
      c.sendRaw(hdr.subarray(0, 16));
      for (let i = 0; i < 40; i++) {
        const efds = eventfds(200);
        c.sendRaw(hdr.subarray(16 + i, 17 + i), efds);
        closeAll(efds);
      }
      await waitFor(() => openFds() - base <= 16, 2000, 'the target to hold no more than 16 of the fds');
      const reason = await c.waitClosed(3000);
      assert.match(reason, /closed/);
      await waitFor(() => openFds() <= base, 2000, 'the held fds to be closed with the connection');
      // The next client is served.
      const d = await VfioUserClient.open(s.path);
      d.close();
    } finally {
      await s.close();
    }
  });

  test('a client that never sends VERSION is dropped after the handshake timeout; the next one is served', async () => {
    const s = startScratchServer({ handshakeTimeoutMs: 300 });
    try {
      const silent = await VfioUserClient.connect(s.path);
      // Waits behind the silent client (one client at a time), then negotiates.
      const next = await VfioUserClient.open(s.path, { timeoutMs: 5000 });
      assert.ok(silent.closed, 'the silent client was disconnected');
      next.close();
      const stalled = await VfioUserClient.connect(s.path);
      stalled.sendRaw(W.encodeCommand(1, W.Command.VERSION, Buffer.alloc(64)).subarray(0, 10)); // mid-header
      const after = await VfioUserClient.open(s.path, { timeoutMs: 5000 });
      assert.ok(stalled.closed, 'a client stalled inside VERSION was disconnected');
      after.close();
    } finally {
      await s.close();
    }
  });

  test('DMA map, lookup and unmap cost O(log n): 16x the regions costs well under 16^2 x the time', async () => {
    const s = startScratchServer();
    try {
      const c = await VfioUserClient.open(s.path);
      const table = s.server.dma;
      // Timing ratio of two sizes measured side by side, not an absolute time: linear per-map
      // cost (quadratic total) gives ~256x, O(log n) ~20x.
      const run = async (n: number, base: bigint): Promise<number> => {
        const t0 = process.hrtime.bigint();
        for (let i = 0; i < n; i++) table.map(null, 0n, base + BigInt(i) * 0x2000n, 0x1000n, 3);
        for (let i = 0; i < n; i++) assert.ok(table.has(base + BigInt(i) * 0x2000n, 0x1000n));
        for (let i = n - 1; i >= 0; i--) assert.ok(table.unmap(base + BigInt(i) * 0x2000n, 0x1000n));
        return Number(process.hrtime.bigint() - t0);
      };
      await run(1000, 1n << 40n); // warm up
      const small = await run(1000, 1n << 40n);
      const large = await run(16000, 1n << 41n);
      assert.ok(large / small < 80, `16x the regions took ${(large / small).toFixed(1)}x the time`);
      // Through the protocol: 4,000 fd-less maps, all distinct, then ENOSPC-free unmap of each.
      for (let i = 0; i < 4000; i++) await c.addMemory(0x1000_0000n + BigInt(i) * 0x2000n, 0x1000, { shareFd: false });
      assert.equal(table.regions().length, 4000);
      c.close();
    } finally {
      await s.close();
    }
  });
});

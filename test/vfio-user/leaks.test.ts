// File descriptor hygiene of the server: nothing leaks over many connect/negotiate/map/
// interrupt/disconnect cycles (including failed commands and connections dropped in the
// middle of a message with fds attached), and every fd the target holds is close-on-exec.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { native } from '../../native/index.js';
import { VfioUserClient } from '../../harness/initiator/vfio-user-client.js';
import * as W from '../../target/vfio-user/wire.js';
import { startScratchServer, openFds, replyErrno, sleep, waitFor, type ScratchServer } from '../helpers/scratch-device.js';

const O_CLOEXEC = 0o2000000;

function fdList(): number[] {
  return readdirSync('/proc/self/fd').map(Number);
}

/** fd -> what it is (readlink) and its flags from fdinfo; fds that vanished meanwhile are skipped. */
function describeFds(fds: number[]): { fd: number; target: string; flags: number }[] {
  const out: { fd: number; target: string; flags: number }[] = [];
  for (const fd of fds) {
    try {
      const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
      const flags = parseInt(/^flags:\s+([0-7]+)/m.exec(info)![1]!, 8);
      let target = '?';
      try {
        target = readlinkSync(`/proc/self/fd/${fd}`);
      } catch {
        /* raced */
      }
      out.push({ fd, target, flags });
    } catch {
      /* closed meanwhile (readdir's own fd, for one) */
    }
  }
  return out;
}

/** Waits until the fd count equals `want` (the server closes asynchronously after a disconnect). */
async function settle(want: number): Promise<number> {
  await waitFor(() => openFds() === want, 2000, 'fd count to settle').catch(() => undefined);
  return openFds();
}

describe('vfio-user fd leaks and close-on-exec', () => {
  let s: ScratchServer;
  let sessions = 0;
  let inherited: Set<number>;
  before(() => {
    // Whatever the process had before the target existed (stdio, node's internals, pipes the
    // test runner passed down) is not the target's.
    inherited = new Set(fdList());
    s = startScratchServer();
    s.server.onSessionEnd = () => sessions++;
  });
  after(async () => {
    await s.close();
  });

  async function cycle(i: number): Promise<void> {
    const c = await VfioUserClient.open(s.path);
    const r0 = await c.regionInfo(0);
    assert.notEqual(r0.fd, null);
    native.closeFd(r0.fd!);
    await c.addMemory(0x100000n, 0x10000);
    await c.addMemory(0x200000n, 0x1000, { shareFd: false });
    const efds = Array.from({ length: 4 }, () => native.eventfdCreate());
    await c.setIrqEventfds(W.IrqIndex.MSIX, 0, efds);
    await c.setIrqEventfds(W.IrqIndex.INTX, 0, [efds[0]!]);
    // Failed commands with fds attached.
    const mem = native.memfdCreate('small', 0x1000);
    assert.equal(await replyErrno(c, W.Command.DMA_MAP, W.encodeDmaMap({ flags: 3, offset: 0n, address: 0x100000n, size: 0x1000n }), [mem]), W.Errno.EEXIST);
    assert.equal(await replyErrno(c, W.Command.DEVICE_SET_IRQS, W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_EVENTFD | W.IRQ_SET_ACTION_TRIGGER, index: 2, start: 0, count: 2 }), [efds[1]!]), W.Errno.EINVAL);
    native.closeFd(mem);
    if (i % 3 === 0) {
      // Vanish in the middle of a message that carried fds.
      const h = W.encodeCommand(1, W.Command.DEVICE_SET_IRQS, W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_EVENTFD | W.IRQ_SET_ACTION_TRIGGER, index: 2, start: 4, count: 2 }));
      c.sendRaw(h.subarray(0, 20), [efds[2]!, efds[3]!]);
    } else if (i % 3 === 1) {
      // The client unmaps and disables first, as QEMU does on a clean shutdown.
      await c.dmaUnmap(0n, 0n, W.DMA_UNMAP_FLAG_ALL);
      await c.disableIrqs(W.IrqIndex.MSIX);
    }
    c.dispose();
    efds.forEach((fd) => native.closeFd(fd));
  }

  test('100 connect/VERSION/region info/DMA_MAP/SET_IRQS/disconnect cycles leak no fd', async () => {
    // One warm-up cycle: lazily created fds (libuv, the addon) are not leaks.
    await cycle(1);
    await waitFor(() => !s.server.attached, 2000, 'detach');
    const before = await settle(openFds());
    const ends = sessions;
    for (let i = 0; i < 100; i++) await cycle(i);
    await waitFor(() => sessions === ends + 100 && !s.server.attached, 5000, 'all sessions to end');
    const afterCount = await settle(before);
    assert.equal(afterCount, before, `fds before ${before}, after ${afterCount}`);
    assert.equal(s.server.dma.regions().length, 0);
    // The server still works.
    const c = await VfioUserClient.open(s.path);
    assert.equal((await c.deviceInfo()).numRegions, 9);
    c.dispose();
  });

  test('every fd the target opens is close-on-exec', async () => {
    await waitFor(() => !s.server.attached, 2000, 'detach');
    const c = await VfioUserClient.open(s.path);
    const r0 = await c.regionInfo(0);
    await c.addMemory(0x100000n, 0x10000);
    const efds = Array.from({ length: 3 }, () => native.eventfdCreate());
    await c.setIrqEventfds(W.IrqIndex.MSIX, 0, efds);
    await sleep(1);
    // The listener, the device's BAR0 file, the session socket, the client's socket, the region
    // fd, the memfd, 3 eventfds and the server's copies of them.
    const ours = fdList().filter((fd) => !inherited.has(fd));
    assert.ok(ours.length >= 10, `only ${ours.length} new fds`);
    const bad = describeFds(ours).filter((d) => !(d.flags & O_CLOEXEC));
    assert.deepEqual(bad, [], `fds without FD_CLOEXEC: ${bad.map((b) => `${b.fd} ${b.target}`).join(', ')}`);
    native.closeFd(r0.fd!);
    c.dispose();
    efds.forEach((fd) => native.closeFd(fd));
  });
});

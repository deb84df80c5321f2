// Interrupts as the host receives them (NVMe Base 2.0 5.4 IEN/IV, 3.1 admin CQ on vector 0;
// PCI MSI-X through vfio-user VFIO_USER_DEVICE_SET_IRQS eventfds).
import { native } from '../../../../native/index.js';
import { IrqIndex } from '../spec.js';
import { cmd, type CaseContext } from '../session.js';
import type { ConformanceCase } from '../types.js';

const BASE = 'NVMe Base 2.0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the eventfd has fired (or `ms` passed); returns the count seen. */
async function fired(fd: number, ms: number): Promise<number> {
  const until = Date.now() + ms;
  let n = 0;
  while (Date.now() < until) {
    n += native.eventfdConsume(fd);
    if (n) return n;
    await sleep(2);
  }
  return n;
}

export const interruptCases: ConformanceCase[] = [
  {
    id: 'interrupts.msix-io-cq',
    section: `${BASE} 5.4 (IEN, IV); PCI MSI-X; vfio-user 1.0 VFIO_USER_DEVICE_SET_IRQS`,
    title: 'A completion on an I/O CQ with IEN=1 raises its MSI-X vector',
    procedure: 'Give MSI-X vector 1 an eventfd (SET_IRQS); Create CQ 2 with IEN=1, IV=1 and SQ 2; Read; then CQ 3 with IEN=0, IV=1 and SQ 3; Read.',
    expected: 'The eventfd fires after the Read on SQ 2; it does not fire for the Read on SQ 3 (interrupts disabled).',
    level: 'mandatory',
    fresh: 'full',
    async run(t: CaseContext) {
      t.dirty();
      const fd = native.eventfdCreate();
      try {
        await t.drv.client.setIrqEventfds(IrqIndex.MSIX, 1, [fd]);
        native.eventfdConsume(fd);
        t.ok(await t.createCq(2, 8, { iv: 1, ien: true }), 'Create CQ 2 IEN=1 IV=1');
        t.ok(await t.createSq(2, 2, 8), 'Create SQ 2');
        t.ok(await t.createCq(3, 8, { iv: 1, ien: false }), 'Create CQ 3 IEN=0 IV=1');
        t.ok(await t.createSq(3, 3, 8), 'Create SQ 3');
        native.eventfdConsume(fd);
        t.ok(await t.io(t.rw(0x02, 0n, 1, t.buf(t.ns.blockSize)), 3), 'Read on SQ 3 (IEN=0)');
        t.eq(await fired(fd, 50), 0, 'interrupts with IEN=0');
        t.ok(await t.io(t.rw(0x02, 0n, 1, t.buf(t.ns.blockSize)), 2), 'Read on SQ 2 (IEN=1)');
        t.check((await fired(fd, 1000)) > 0, 'vector 1 did not fire for a completion on CQ 2');
      } finally {
        native.closeFd(fd);
      }
    },
  },
  {
    id: 'interrupts.admin-vector-0',
    section: `${BASE} 3.1.x (admin CQ uses vector 0); PCI MSI-X`,
    title: 'Admin completions raise MSI-X vector 0',
    procedure: 'Give vector 0 an eventfd; send Identify.',
    expected: 'The eventfd fires.',
    level: 'mandatory',
    fresh: 'bare',
    async run(t: CaseContext) {
      t.dirty();
      const fd = native.eventfdCreate();
      try {
        await t.drv.client.setIrqEventfds(IrqIndex.MSIX, 0, [fd]);
        native.eventfdConsume(fd);
        t.ok(await t.admin(cmd(0x06, 0, { prp1: t.buf(4096), cdw10: 1 })), 'Identify');
        t.check((await fired(fd, 1000)) > 0, 'vector 0 did not fire');
      } finally {
        native.closeFd(fd);
      }
    },
  },
];

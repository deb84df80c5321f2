// Acceptance for the harness (tagged: boots a real guest). One guest gets our vfio-user
// controller and QEMU's own emulated NVMe side by side; inside the guest, for each: the
// controller appears with its serial and model (nvme list, nvme id-ctrl), the namespace size
// matches the backing store, fio --verify=crc32c passes, and nvme reset recovers.
// Skips itself (with the reason) when this machine cannot provision QEMU and the guest image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { provisionGuestParts, type GuestParts } from '../../harness/guest/parts.js';
import { BASELINE_SERIAL, Guest } from '../../harness/guest/guest.js';
import { fioVerify, identifyController, namespaceBytes, resetAndRecover, waitForController } from '../../harness/guest/nvme-in-guest.js';
import type { MemoryPreference } from '../../harness/guest/memory.js';
import { which } from '../../harness/process.js';
import { consoleProgress } from '../../harness/progress.js';
import { TargetProcess, type TargetController } from '../../harness/target-process.js';

const BASELINE_MIB = 256;
const TARGET_MIB = 256;
const FIO_MIB = 16;

/** Why this machine cannot run the test, or undefined when it can. */
function cannotProvision(): string | undefined {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const haveQemu = Boolean(process.env.VNVME_QEMU) || Boolean(which('qemu-system-x86_64'));
  if (!root && !haveQemu) return 'not root and no QEMU given: provisioning QEMU and the guest image needs root (debootstrap)';
  if (!root) return 'building the guest image needs root (debootstrap, chroot)';
  if (!existsSync('/etc/debian_version') && !haveQemu) return 'not a Debian/Ubuntu host and no QEMU given (--qemu / VNVME_QEMU)';
  if (!which('debootstrap', `${process.env.PATH ?? ''}:/usr/sbin:/sbin`)) return 'debootstrap is not installed (apt-get install debootstrap)';
  return undefined;
}

/** VNVME_GUEST_MEMORY=hugepages|memfd pins the guest RAM backend (default: auto). */
function memoryPreference(): MemoryPreference {
  const v = process.env.VNVME_GUEST_MEMORY ?? 'auto';
  if (v !== 'auto' && v !== 'hugepages' && v !== 'memfd') throw new Error(`VNVME_GUEST_MEMORY must be auto, hugepages or memfd, not "${v}"`);
  return v;
}

/**
 * Runs `vnvme target` with its RPC socket in `socketDir` and exports one malloc-backed
 * controller at `socketDir/c0/cntrl`. Any failure fails the test: the point of it is our
 * controller, so it must never pass on QEMU's emulated NVMe alone.
 */
async function startOurTarget(socketDir: string): Promise<{ process: TargetProcess; controller: TargetController }> {
  const proc = await TargetProcess.start(socketDir);
  try {
    const controller = await proc.addMallocController({ name: 'c0', sizeMiB: TARGET_MIB, serial: 'VNVME-ACCEPT-0001', model: 'vnvme virtual NVMe' });
    return { process: proc, controller };
  } catch (err) {
    await proc.stop();
    throw err;
  }
}

test('a guest sees our vfio-user controller and QEMU\'s NVMe, runs fio verify and nvme reset on both', { timeout: 30 * 60_000 }, async (t) => {
  const why = cannotProvision();
  if (why) {
    t.skip(why);
    return;
  }
  const progress = consoleProgress('vnvme test');
  const parts: GuestParts = await provisionGuestParts({}, progress);
  const work = mkdtempSync(join(tmpdir(), 'vnvme-accept-'));
  const target = await startOurTarget(join(work, 'target'));
  let guest: Guest | undefined;
  try {
    guest = await Guest.start({
      ...parts,
      name: `accept-${process.pid}`,
      memMiB: 1024,
      smp: 2,
      vfioUser: [{ id: 'vfu0', socket: target.controller.socket }],
      baselineNvmeMiB: BASELINE_MIB,
      memory: memoryPreference(),
      progress,
    });
    const g = guest;
    t.diagnostic(`accelerator: ${g.info.accel} (${g.info.accelReason})`);
    t.diagnostic(`memory: ${g.info.memory}`);
    t.diagnostic(`qemu: ${g.info.qemu}; boot to SSH ${(g.info.bootMs / 1000).toFixed(1)} s`);
    assert.ok(['kvm', 'tcg'].includes(g.info.accel));

    const devices = [
      { label: "QEMU's emulated NVMe (baseline)", serial: BASELINE_SERIAL, model: 'QEMU NVMe Ctrl', bytes: BASELINE_MIB * 2 ** 20 },
      { label: 'our vfio-user controller', serial: target.controller.serial, model: target.controller.model, bytes: target.controller.sizeBytes },
    ];
    for (const d of devices) {
      await t.test(d.label, async (st) => {
        const ctrl = await waitForController(g, d.serial);
        const list = await g.check('nvme list');
        assert.match(list.stdout, new RegExp(d.serial), 'nvme list shows the serial');
        assert.match(list.stdout, new RegExp(d.model.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), 'nvme list shows the model');
        const id = await identifyController(g, ctrl.name);
        assert.equal(id.sn, d.serial);
        assert.equal(id.mn, d.model);
        const ns = ctrl.namespaces[0] ?? '';
        assert.equal(await namespaceBytes(g, ns), d.bytes, 'namespace size matches the backing store');
        const fio = await fioVerify(g, ns, FIO_MIB);
        st.diagnostic(`fio: wrote ${fio.writeBytes} B, verified ${fio.readBytes} B in ${(fio.result.durationMs / 1000).toFixed(1)} s`);
        assert.equal(fio.errors, 0);
        assert.equal(fio.writeBytes, FIO_MIB * 2 ** 20);
        assert.ok(fio.readBytes >= FIO_MIB * 2 ** 20, 'everything written was read back and verified');
        const r = await resetAndRecover(g, ctrl);
        st.diagnostic(`nvme reset: live again after ${r.liveAfterMs} ms`);
        const again = await waitForController(g, d.serial, 10_000);
        assert.equal(again.name, ctrl.name);
      });
    }

    const qmp = await g.qmp();
    try {
      assert.equal((await qmp.queryStatus()).status, 'running');
    } finally {
      qmp.close();
    }
  } catch (err) {
    if (guest) t.diagnostic(`serial log tail:\n${guest.serialLog().split('\n').slice(-30).join('\n')}`);
    if ('process' in target) t.diagnostic(`target log tail (${target.process.logFile}):\n${readFileSync(target.process.logFile, 'utf8').split('\n').slice(-40).join('\n')}`);
    throw err;
  } finally {
    const info = guest?.info;
    await guest?.stop();
    await target.process.stop();
    rmSync(work, { recursive: true, force: true });
    if (info) {
      // Teardown left nothing behind: QEMU gone, our hugetlbfs mount gone.
      assert.ok(!existsSync(`/proc/${info.pid}`) || !readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').includes(info.runDir), 'QEMU still running');
      assert.ok(!readFileSync('/proc/mounts', 'utf8').includes(info.runDir), 'a mount in the run directory is left');
    }
  }
});

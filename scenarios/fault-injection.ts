// fault-injection: the error bdev (bdev_error_create / bdev_error_inject_error over RPC) returns
// media errors on reads and writes and holds I/Os until the guest times out. The guest reports
// the errors (dmesg, nvme error-log), aborts/resets and recovers, and data outside the faulted
// range stays intact.
import type { Guest } from '../harness/guest/guest.js';
import { defineScenario } from '../harness/runner/scenario.js';
import { setupGuestWithTarget } from './lib/guest-target.js';

const FAULT_LBA = 16384; // 8 MiB in, 512 B blocks
const FAULT_BLOCKS = 2048; // 1 MiB

async function waitLive(g: Guest, ctrl: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let state = '';
  while (Date.now() < deadline) {
    state = (await g.exec(`cat /sys/class/nvme/${ctrl}/state`)).stdout.trim();
    if (state === 'live') return state;
    await new Promise((r) => setTimeout(r, 500));
  }
  return state;
}

export const scenario = defineScenario({
  name: 'fault-injection',
  description: 'Error bdev injects media errors (read, write) and a held I/O (timeout); the guest logs them (dmesg, nvme error-log), recovers, and data elsewhere stays intact.',
  tags: ['fault', 'guest'],
  needs: ['qemu'],
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const { target: t, guest: g, ctrl } = await setupGuestWithTarget(ctx, {
      serial: 'VNVME-FAULT-0001',
      model: 'vnvme fault injection',
      bdevRpcs: [
        ['bdev_malloc_create', '-b', 'Malloc0', '32', '512'],
        ['bdev_error_create', 'Malloc0'],
      ],
      namespaces: ['EE_Malloc0'],
      guest: { append: 'nvme_core.io_timeout=8 nvme_core.max_retries=1' },
    });
    const dev = `/dev/${ctrl.name}`;
    const ns = `/dev/${ctrl.namespaces[0]}`;
    let goodSum = '';
    await ctx.check('setup.data', { title: '4 MiB of known data outside the faulted range', area: 'Data integrity', section: '' }, async (c) => {
      await c.sh(g, `cat /sys/module/nvme_core/parameters/io_timeout; head -c 4194304 /dev/urandom > /tmp/good && dd if=/tmp/good of=${ns} bs=1M oflag=direct status=none && dd if=/dev/urandom of=${ns} bs=512 seek=${FAULT_LBA} count=${FAULT_BLOCKS} oflag=direct status=none`);
      goodSum = (await c.sh(g, 'md5sum < /tmp/good')).stdout.split(' ')[0]!;
      await c.sh(g, 'dmesg -C');
    });
    ctx.step('media error on read');
    await ctx.check('read.media-error', { title: 'reads of the faulted range fail with Unrecovered Read Error, and the guest kernel logs it', area: 'Errors', section: 'NVMe Base 2.1 Figure 102 (Media and Data Integrity Errors, 81h Unrecovered Read Error)' }, async (c) => {
      await c.rpc(t, 'bdev_error_inject_error', 'EE_Malloc0', 'read', 'nvme_failure', '--nvme-sct', '2', '--nvme-sc', '0x81', '-n', '1000', '--lba-start', String(FAULT_LBA), '--lba-count', String(FAULT_BLOCKS));
      const r = await c.sh(g, `dd if=${ns} of=/dev/null bs=512 skip=${FAULT_LBA} count=8 iflag=direct`, { expectExit: null });
      c.ok(r.code !== 0, 'dd of the faulted range', 'fails (EIO)', `exit ${r.code}`);
      const d = await c.sh(g, "dmesg | grep -iE 'nvme|I/O error|medium' | tail -20");
      c.ok(/Unrecovered Read Error|critical medium error|I\/O error/i.test(d.stdout), 'guest kernel log', 'Unrecovered Read Error / I/O error', d.stdout.trim().split('\n').slice(-3).join(' | '));
    });
    await ctx.check('read.outside-ok', { title: 'reads outside the faulted range still succeed while the fault is armed', area: 'Errors', section: '' }, async (c) => {
      const r = await c.sh(g, `dd if=${ns} bs=1M count=4 iflag=direct status=none | md5sum`);
      c.equal('md5 of the good range', goodSum, r.stdout.split(' ')[0]);
      await c.rpc(t, 'bdev_error_inject_error', 'EE_Malloc0', 'clear', 'failure');
    });
    await ctx.check('error-log', { title: 'nvme error-log shows an entry for the failed command', area: 'Log pages', section: 'NVMe Base 2.1 5.1.12.1.2 (Error Information)' }, async (c) => {
      const r = await c.sh(g, `nvme error-log ${dev} -e 16 -o json`);
      const j = JSON.parse(r.stdout) as { errors?: { error_count?: number; status_field?: number }[] };
      const entries = (j.errors ?? []).filter((e) => Number(e.error_count ?? 0) > 0);
      c.ok(entries.length > 0, 'error log entries with a non-zero error count', '>= 1', String(entries.length));
    });
    ctx.step('media error on write');
    await ctx.check('write.media-error', { title: 'writes to the faulted range fail with Write Fault and the guest reports it', area: 'Errors', section: 'NVMe Base 2.1 Figure 102 (80h Write Fault)' }, async (c) => {
      await c.rpc(t, 'bdev_error_inject_error', 'EE_Malloc0', 'write', 'nvme_failure', '--nvme-sct', '2', '--nvme-sc', '0x80', '-n', '1000', '--lba-start', String(FAULT_LBA), '--lba-count', String(FAULT_BLOCKS));
      const r = await c.sh(g, `dd if=/dev/zero of=${ns} bs=512 seek=${FAULT_LBA} count=8 oflag=direct`, { expectExit: null });
      c.ok(r.code !== 0, 'dd write to the faulted range', 'fails (EIO)', `exit ${r.code}`);
      await c.rpc(t, 'bdev_error_inject_error', 'EE_Malloc0', 'clear', 'failure');
    });
    ctx.step('held I/O (timeout)');
    await ctx.check('timeout.recovers', { title: 'an I/O the device never completes times out in the guest (abort / reset), and the controller comes back live', area: 'Reset', section: 'NVMe Base 2.1 5.1.1 (Abort), 3.7.2 (Controller Level Reset)' }, async (c) => {
      await c.sh(g, 'dmesg -C');
      await c.rpc(t, 'bdev_error_inject_error', 'EE_Malloc0', 'read', 'pending', '-n', '1', '--lba-start', String(FAULT_LBA), '--lba-count', String(FAULT_BLOCKS));
      const t0 = Date.now();
      const reader = g.exec(`dd if=${ns} of=/dev/null bs=512 skip=${FAULT_LBA} count=8 iflag=direct; echo dd-exit=$?`, { timeoutMs: 180_000 });
      // Wait for the guest's timeout handling to start, then let the held I/O go.
      let saw = '';
      while (Date.now() - t0 < 90_000) {
        saw = (await g.exec("dmesg | grep -iE 'timeout|abort|reset' | tail -5")).stdout.trim();
        if (saw) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      c.add({ command: "dmesg | grep -iE 'timeout|abort|reset'", where: 'guest', output: saw, note: `after ${Date.now() - t0} ms` });
      await c.rpc(t, 'bdev_error_resume_pending', 'EE_Malloc0');
      await c.rpc(t, 'bdev_error_inject_error', 'EE_Malloc0', 'clear', 'failure');
      const rr = await reader;
      c.add({ command: rr.command, where: 'guest', exitCode: rr.code, output: rr.stdout + rr.stderr });
      c.ok(saw !== '', 'guest timeout handling', 'timeout/abort/reset logged', saw || 'nothing logged in 90 s');
      const state = await waitLive(g, ctrl.name, 90_000);
      c.equal('controller state', 'live', state);
      ctx.metric({ name: 'held I/O to live again', value: Date.now() - t0, unit: 'ms' });
    });
    ctx.step('recovery');
    await ctx.check('recovered.data-intact', { title: 'after the faults: I/O works everywhere and the data outside the faulted range is intact', area: 'Data integrity', section: '' }, async (c) => {
      const r = await c.sh(g, `dd if=${ns} bs=1M count=4 iflag=direct status=none | md5sum`);
      c.equal('md5 of the good range', goodSum, r.stdout.split(' ')[0]);
      await c.sh(g, `dd if=/dev/urandom of=/tmp/new bs=512 count=8 status=none && dd if=/tmp/new of=${ns} bs=512 seek=${FAULT_LBA} count=8 oflag=direct status=none`);
      const a = (await c.sh(g, 'md5sum < /tmp/new')).stdout.split(' ')[0];
      const b = (await c.sh(g, `dd if=${ns} bs=512 skip=${FAULT_LBA} count=8 iflag=direct status=none | md5sum`)).stdout.split(' ')[0];
      c.equal('md5 of new data in the formerly faulted range', a, b);
      await c.sh(g, "dmesg | grep -i nvme | tail -30; echo; nvme error-log " + dev + ' -e 4');
    });
  },
});

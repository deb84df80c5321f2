// guest-fio-perf: the same fio jobs on our vfio-user device and on QEMU's own emulated NVMe in
// the same guest, side by side: 4 KiB random read/write at QD1 and QD32, 128 KiB sequential read
// and write. Numbers under TCG measure the emulator more than the device; the report says which
// accelerator ran. VNVME_PERF_RUNTIME (s, default 10) sets each job's runtime.
import { BASELINE_SERIAL } from '../harness/guest/guest.js';
import { waitForController } from '../harness/guest/nvme-in-guest.js';
import { defineScenario } from '../harness/runner/scenario.js';
import { setupGuestWithTarget } from './lib/guest-target.js';

const RUNTIME = Math.max(2, Number(process.env.VNVME_PERF_RUNTIME ?? 10));
const SIZE_MIB = 192;

const JOBS = [
  { name: '4k randread QD1', rw: 'randread', bs: '4k', iodepth: 1 },
  { name: '4k randread QD32', rw: 'randread', bs: '4k', iodepth: 32 },
  { name: '4k randwrite QD1', rw: 'randwrite', bs: '4k', iodepth: 1 },
  { name: '4k randwrite QD32', rw: 'randwrite', bs: '4k', iodepth: 32 },
  { name: '128k seq read QD8', rw: 'read', bs: '128k', iodepth: 8 },
  { name: '128k seq write QD8', rw: 'write', bs: '128k', iodepth: 8 },
];

export const scenario = defineScenario({
  name: 'guest-fio-perf',
  description: "fio 4 KiB randread/randwrite at QD1/QD32 and 128 KiB sequential, on our vfio-user device and on QEMU's emulated NVMe in the same guest, side by side.",
  tags: ['perf', 'guest'],
  needs: ['qemu'],
  timeoutMs: 30 * 60_000,
  async run(ctx) {
    const { guest: g, ctrl } = await setupGuestWithTarget(ctx, {
      serial: 'VNVME-PERF-0001',
      model: 'vnvme perf',
      bdevRpcs: [['bdev_malloc_create', '-b', 'Malloc0', '256', '512']],
      namespaces: ['Malloc0'],
      guest: { baselineNvmeMiB: 256 },
    });
    const base = await waitForController(g, BASELINE_SERIAL, 60_000);
    const devices = [
      { series: 'vfio-user', ns: `/dev/${ctrl.namespaces[0]}` },
      { series: 'qemu-nvme', ns: `/dev/${base.namespaces[0]}` },
    ];
    for (const d of devices) {
      ctx.step(`precondition ${d.series}`);
      await g.check(`fio --name=fill --filename=${d.ns} --direct=1 --ioengine=libaio --rw=write --bs=1m --iodepth=4 --size=${SIZE_MIB}M --output-format=terse >/dev/null`, { timeoutMs: 600_000 });
    }
    for (const j of JOBS) {
      for (const d of devices) {
        ctx.step(`${j.name} on ${d.series}`);
        await ctx.check(`${j.rw}-${j.bs}-qd${j.iodepth}.${d.series}`, { title: `${j.name} on ${d.series}: runs without errors`, area: 'Performance', section: '', level: 'informational' }, async (c) => {
          const cmd = `fio --name=perf --filename=${d.ns} --direct=1 --ioengine=libaio --rw=${j.rw} --bs=${j.bs} --iodepth=${j.iodepth} --size=${SIZE_MIB}M --time_based --runtime=${RUNTIME} --ramp_time=1 --randrepeat=0 --group_reporting --output-format=json`;
          const r = await c.sh(g, cmd, { timeoutMs: (RUNTIME + 120) * 1000, expectExit: null, keep: 2000 });
          const run = ctx.fio(j.name, d.series, cmd, r.stdout);
          c.equal('fio exit status', 0, r.code);
          c.equal('fio errors', 0, run.errors);
          const iops = run.readIops + run.writeIops;
          c.ok(iops > 0, 'IOPS', '> 0', iops.toFixed(0));
          ctx.metric({ name: j.name, value: iops, unit: 'IOPS', series: d.series, group: 'IOPS: vfio-user vs QEMU NVMe' });
          ctx.metric({ name: j.name, value: Math.max(run.readClatUs['99'] ?? 0, run.writeClatUs['99'] ?? 0), unit: 'µs', series: d.series, group: 'clat p99: vfio-user vs QEMU NVMe' });
        });
      }
    }
  },
});

// guest-fio-perf: the same fio jobs on our vfio-user device and on QEMU's own emulated NVMe in
// the same guest, side by side: 4 KiB random read/write at QD1 and QD32, 128 KiB sequential read
// and write. Each job alternates the two devices (A B, B A, A B ...) over VNVME_PERF_REPS
// repetitions (default 3) and reports the median of each device, the median of the per-round
// ratios ours/QEMU and their spread (min..max), in the report and the terminal. Numbers under
// TCG measure the emulator more than the device; the report says which accelerator ran.
// VNVME_PERF_RUNTIME (s, default 10) sets each fio run's runtime.
import { BASELINE_SERIAL } from '../harness/guest/guest.js';
import { waitForController } from '../harness/guest/nvme-in-guest.js';
import { defineScenario } from '../harness/runner/scenario.js';
import { setupGuestWithTarget } from './lib/guest-target.js';

const RUNTIME = Math.max(2, Number(process.env.VNVME_PERF_RUNTIME ?? 10));
const REPS = Math.max(1, Math.floor(Number(process.env.VNVME_PERF_REPS ?? 3)));

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
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
    const table: string[] = [];
    for (const j of JOBS) {
      const iops = new Map<string, number[]>(devices.map((d) => [d.series, []]));
      const p99 = new Map<string, number[]>(devices.map((d) => [d.series, []]));
      const ratios: number[] = [];
      ctx.step(`${j.name}: ${REPS} alternation(s)`);
      await ctx.check(`${j.rw}-${j.bs}-qd${j.iodepth}`, { title: `${j.name}: ours and QEMU's NVMe alternated ${REPS}x, every run without errors`, area: 'Performance', section: '', level: 'informational' }, async (c) => {
        for (let rep = 0; rep < REPS; rep++) {
          const round = new Map<string, number>();
          for (const d of rep % 2 ? [...devices].reverse() : devices) {
            const cmd = `fio --name=perf --filename=${d.ns} --direct=1 --ioengine=libaio --rw=${j.rw} --bs=${j.bs} --iodepth=${j.iodepth} --size=${SIZE_MIB}M --time_based --runtime=${RUNTIME} --ramp_time=1 --randrepeat=0 --group_reporting --output-format=json`;
            const r = await c.sh(g, cmd, { timeoutMs: (RUNTIME + 120) * 1000, expectExit: null, keep: 2000 });
            const run = ctx.fio(`${j.name} #${rep + 1}`, d.series, cmd, r.stdout);
            c.equal(`fio exit status (${d.series}, round ${rep + 1})`, 0, r.code);
            c.equal(`fio errors (${d.series}, round ${rep + 1})`, 0, run.errors);
            const v = run.readIops + run.writeIops;
            c.ok(v > 0, `IOPS (${d.series}, round ${rep + 1})`, '> 0', v.toFixed(0));
            iops.get(d.series)!.push(v);
            p99.get(d.series)!.push(Math.max(run.readClatUs['99'] ?? 0, run.writeClatUs['99'] ?? 0));
            round.set(d.series, v);
          }
          const base = round.get('qemu-nvme') ?? 0;
          if (base > 0) ratios.push((round.get('vfio-user') ?? 0) / base);
        }
        // Medians per device (what the report's ratios are computed from), and the spread of the
        // per-round ratios so a reader sees whether the difference is bigger than the noise.
        for (const d of devices) {
          ctx.metric({ name: j.name, value: median(iops.get(d.series)!), unit: 'IOPS', series: d.series, group: 'IOPS: vfio-user vs QEMU NVMe' });
          ctx.metric({ name: j.name, value: median(p99.get(d.series)!), unit: 'µs', series: d.series, group: 'clat p99: vfio-user vs QEMU NVMe' });
        }
        const line = ratios.length
          ? `${j.name.padEnd(20)} ours/QEMU ${median(ratios).toFixed(2)}x (rounds ${ratios.map((r) => r.toFixed(2)).join(', ')}; spread ${Math.min(...ratios).toFixed(2)}..${Math.max(...ratios).toFixed(2)})`
          : `${j.name.padEnd(20)} no baseline`;
        c.note(line);
        table.push(line);
      });
    }
    ctx.saveText('ratios.txt', `${table.join('\n')}\n`);
    process.stderr.write(`guest-fio-perf: median ratios ours/QEMU NVMe over ${REPS} alternations\n${table.map((l) => `  ${l}`).join('\n')}\n`);
  },
});

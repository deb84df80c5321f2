// guest-fio-verify: random writes with crc32c verification from 4 KiB to 1 MiB, several jobs
// and queue depths; then the guest reboots (QMP system_reset: the controller is reset and
// re-initialised) and everything is read back and verified cold. Sizes are small by default
// (CI under TCG); VNVME_FIO_SCALE=N multiplies them.
import { defineScenario, Skip } from '../harness/runner/scenario.js';
import { rebootGuest } from '../harness/runner/guest-reboot.js';
import { waitForController } from '../harness/guest/nvme-in-guest.js';
import { setupGuestWithTarget } from './lib/guest-target.js';

const SERIAL = 'VNVME-FIOV-0001';
const SCALE = Math.max(1, Number(process.env.VNVME_FIO_SCALE ?? 1));

interface VerifyJob {
  name: string;
  bs: string;
  iodepth: number;
  numjobs: number;
  sizeMiB: number;
  offsetMiB: number;
}

const JOBS: VerifyJob[] = [
  { name: '4k-qd1', bs: '4k', iodepth: 1, numjobs: 1, sizeMiB: 4 * SCALE, offsetMiB: 0 },
  { name: '4k-1m-qd16-2jobs', bs: '4k-1m', iodepth: 16, numjobs: 2, sizeMiB: 16 * SCALE, offsetMiB: 8 * SCALE },
  { name: '128k-qd4', bs: '128k', iodepth: 4, numjobs: 1, sizeMiB: 16 * SCALE, offsetMiB: 48 * SCALE },
];

function fioCommand(dev: string, j: VerifyJob, verifyOnly: boolean): string {
  return [
    'fio',
    `--name=${j.name}`,
    `--filename=${dev}`,
    '--direct=1 --ioengine=libaio --rw=randwrite',
    j.bs.includes('-') ? `--bsrange=${j.bs}` : `--bs=${j.bs}`,
    `--iodepth=${j.iodepth} --numjobs=${j.numjobs}`,
    `--offset=${j.offsetMiB}M --size=${j.sizeMiB}M --offset_increment=${j.sizeMiB}M`,
    '--verify=crc32c --verify_fatal=1 --verify_dump=1 --randrepeat=1 --randseed=4242',
    verifyOnly ? '--verify_only=1' : '--do_verify=1',
    '--group_reporting --output-format=json',
  ].join(' ');
}

export const scenario = defineScenario({
  name: 'guest-fio-verify',
  description: 'fio random writes with crc32c verify (4 KiB to 1 MiB, 1-2 jobs, QD 1-16), then a cold re-read verify after a guest reboot.',
  tags: ['default', 'guest', 'integrity'],
  needs: ['qemu'],
  timeoutMs: 20 * 60_000,
  async run(ctx) {
    const { guest: g, ctrl } = await setupGuestWithTarget(ctx, {
      serial: SERIAL,
      model: 'vnvme fio verify',
      bdevRpcs: [['bdev_malloc_create', '-b', 'Malloc0', String(96 * SCALE), '512']],
      namespaces: ['Malloc0'],
    });
    let ns = `/dev/${ctrl.namespaces[0]}`;
    for (const j of JOBS) {
      ctx.step(`fio ${j.name}`);
      await ctx.check(`write-verify.${j.name}`, { title: `random write + crc32c verify, bs ${j.bs}, QD${j.iodepth}, ${j.numjobs} job(s), ${j.sizeMiB} MiB each`, area: 'Data integrity', section: 'NVM Command Set 1.0 3.3.4, 3.3.6 (Read, Write)' }, async (c) => {
        const cmd = fioCommand(ns, j, false);
        const r = await c.sh(g, cmd, { timeoutMs: 15 * 60_000, expectExit: null, keep: 3000 });
        const run = ctx.fio(j.name, 'vfio-user', cmd, r.stdout);
        c.equal('fio exit status', 0, r.code);
        c.equal('fio job errors', 0, run.errors);
        const written = (run.json as { jobs: { write: { io_bytes: number }; read: { io_bytes: number } }[] }).jobs.reduce((a, x) => a + x.write.io_bytes, 0);
        const read = (run.json as { jobs: { read: { io_bytes: number } }[] }).jobs.reduce((a, x) => a + x.read.io_bytes, 0);
        c.ok(read >= written && written >= j.sizeMiB * j.numjobs * 2 ** 20, 'bytes written and verified', `written >= ${j.sizeMiB * j.numjobs} MiB, verified >= written`, `written ${written}, verified ${read}`);
      });
    }
    ctx.step('reboot guest');
    let rebooted = false;
    await ctx.check('reboot', { title: 'guest reboots (system reset) and the controller comes back with its namespace', area: 'Reset', section: 'NVMe Base 2.1 3.5.1 (re-initialization after reset)' }, async (c) => {
      const ms = await rebootGuest(g);
      ctx.metric({ name: 'reboot to SSH', value: ms, unit: 'ms' });
      const again = await waitForController(g, SERIAL, 90_000);
      c.note(`back as ${again.name} (${again.namespaces.join(' ')}) ${ms} ms after system_reset`);
      ns = `/dev/${again.namespaces[0]}`;
      rebooted = true;
    });
    for (const j of JOBS) {
      ctx.step(`cold verify ${j.name}`);
      await ctx.check(`cold-verify.${j.name}`, { title: `after reboot: every block written by ${j.name} reads back with a good crc32c`, area: 'Data integrity', section: 'NVM Command Set 1.0 3.3.4' }, async (c) => {
        if (!rebooted) throw new Skip('the guest did not come back after the reboot (see the reboot check)');
        const cmd = fioCommand(ns, j, true);
        const r = await c.sh(g, cmd, { timeoutMs: 15 * 60_000, expectExit: null, keep: 3000 });
        const run = ctx.fio(`${j.name} (cold re-read)`, 'vfio-user', cmd, r.stdout);
        c.equal('fio exit status', 0, r.code);
        c.equal('fio job errors', 0, run.errors);
        const read = (run.json as { jobs: { read: { io_bytes: number } }[] }).jobs.reduce((a, x) => a + x.read.io_bytes, 0);
        c.ok(read >= j.sizeMiB * j.numjobs * 2 ** 20, 'bytes verified', `>= ${j.sizeMiB * j.numjobs} MiB`, String(read));
      });
    }
  },
});

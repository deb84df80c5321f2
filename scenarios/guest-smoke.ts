// guest-smoke: a Linux guest's nvme driver binds our vfio-user controller, and what the guest
// reads (Identify Controller / Namespace through nvme-cli, sysfs, block size) is what the
// target was configured with over RPC.
import { defineScenario } from '../harness/runner/scenario.js';
import { setupGuestWithTarget } from './lib/guest-target.js';

const SERIAL = 'VNVME-SMOKE-0001';
const MODEL = 'vnvme smoke controller';
const MIB = 128;

export const scenario = defineScenario({
  name: 'guest-smoke',
  description: 'Guest nvme driver binds our controller; serial, model, subsystem NQN and namespace size match the RPC configuration.',
  tags: ['default', 'guest', 'smoke'],
  needs: ['qemu'],
  timeoutMs: 10 * 60_000,
  async run(ctx) {
    const { target, exported, guest: g, ctrl } = await setupGuestWithTarget(ctx, {
      serial: SERIAL,
      model: MODEL,
      bdevRpcs: [['bdev_malloc_create', '-b', 'Malloc0', String(MIB), '512']],
      namespaces: ['Malloc0'],
    });
    const dev = `/dev/${ctrl.name}`;
    const ns = `/dev/${ctrl.namespaces[0]}`;
    ctx.step('checks');
    await ctx.check('driver.bound', { title: 'the nvme PCI driver is bound and the controller is live', area: 'Initialization', section: 'NVMe Base 2.1 3.5.1' }, async (c) => {
      const r = await c.sh(g, `basename $(readlink /sys/class/nvme/${ctrl.name}/device/driver); cat /sys/class/nvme/${ctrl.name}/state`);
      c.equal('driver and state', 'nvme\nlive', r.stdout.trim());
    });
    let idctrl: Record<string, unknown> = {};
    await ctx.check('id-ctrl.sn-mn', { title: 'Identify Controller SN and MN are the serial_number and model_number given to nvmf_create_subsystem', area: 'Identify', section: 'NVMe Base 2.1 5.1.13.2.1 (Identify Controller: SN, MN)' }, async (c) => {
      const r = await c.sh(g, `nvme id-ctrl ${dev} -o json`);
      idctrl = JSON.parse(r.stdout) as Record<string, unknown>;
      c.equal('SN', SERIAL, String(idctrl.sn).trim());
      c.equal('MN', MODEL, String(idctrl.mn).trim());
      ctx.fact('id-ctrl.fr', String(idctrl.fr).trim());
      ctx.fact('id-ctrl.vid', `0x${Number(idctrl.vid).toString(16)}`);
      ctx.fact('id-ctrl.ver', `0x${Number(idctrl.ver).toString(16)}`);
    });
    await ctx.check('id-ctrl.subnqn', { title: 'Identify Controller SUBNQN is the subsystem NQN', area: 'Identify', section: 'NVMe Base 2.1 5.1.13.2.1 (SUBNQN)' }, async (c) => {
      c.equal('SUBNQN', exported.nqn, String(idctrl.subnqn ?? '').trim());
      const sys = await c.sh(g, `cat /sys/class/nvme/${ctrl.name}/subsysnqn`);
      c.equal('sysfs subsysnqn', exported.nqn, sys.stdout.trim());
    });
    await ctx.check('rpc.subsystem', { title: 'nvmf_get_subsystems reports what the guest sees', area: 'RPC', section: 'SPDK JSON-RPC nvmf_get_subsystems' }, async (c) => {
      const out = await c.rpc(target, 'nvmf_get_subsystems');
      const subs = JSON.parse(out) as { nqn: string; serial_number?: string; model_number?: string; namespaces?: { nsid: number; bdev_name: string }[] }[];
      const s = subs.find((x) => x.nqn === exported.nqn);
      c.ok(s !== undefined, 'subsystem listed', exported.nqn, subs.map((x) => x.nqn).join(','));
      c.equal('serial_number', SERIAL, s!.serial_number);
      c.equal('model_number', MODEL, s!.model_number);
      c.equal('namespaces', [{ nsid: 1, bdev_name: 'Malloc0' }], (s!.namespaces ?? []).map((n) => ({ nsid: n.nsid, bdev_name: n.bdev_name })));
    });
    await ctx.check('id-ns.size', { title: 'namespace size and LBA size match the malloc bdev (128 MiB, 512 B blocks)', area: 'Identify', section: 'NVMe Base 2.1 / NVM Command Set 1.0 4.1.5.1 (NSZE, NCAP, LBAF)' }, async (c) => {
      const r = await c.sh(g, `nvme id-ns ${ns} -o json`);
      const j = JSON.parse(r.stdout) as { nsze: number; ncap: number; flbas: number; lbafs: { ds: number }[] };
      const blocks = (MIB * 2 ** 20) / 512;
      c.equal('NSZE', blocks, j.nsze);
      c.equal('NCAP', blocks, j.ncap);
      c.equal('LBA data size (2^ds)', 512, 2 ** (j.lbafs[j.flbas & 0xf]?.ds ?? 0));
      const b = await c.sh(g, `blockdev --getsize64 ${ns}; blockdev --getss ${ns}`);
      c.equal('block device bytes and sector size', `${MIB * 2 ** 20}\n512`, b.stdout.trim());
    });
    await ctx.check('io.readwrite', { title: 'a 1 MiB O_DIRECT write reads back identical', area: 'NVM I/O', section: 'NVM Command Set 1.0 3.3.4, 3.3.6 (Read, Write)' }, async (c) => {
      await c.sh(g, `head -c 1048576 /dev/urandom > /tmp/a && dd if=/tmp/a of=${ns} bs=1M count=1 oflag=direct status=none && dd if=${ns} of=/tmp/b bs=1M count=1 iflag=direct status=none`);
      const r = await c.sh(g, 'md5sum /tmp/a /tmp/b');
      const sums = r.stdout.trim().split('\n').map((l) => l.split(' ')[0]);
      c.equal('md5 of read-back data', sums[0], sums[1]);
    });
    await ctx.check('guest.no-errors', { title: 'the guest kernel logged no nvme errors or timeouts', area: 'Initialization', section: '' }, async (c) => {
      const r = await c.sh(g, "dmesg | grep -iE 'nvme.*(timeout|error|fail|abort|reset)' || true");
      c.equal('nvme error lines in dmesg', '', r.stdout.trim());
    });
  },
});

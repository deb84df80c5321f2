// qemu-basic-flow: the SPDK+libvfio-user guide's basic flow, as its users type it: guest RAM
// on hugepages (`-object memory-backend-file,...,mem-path=<hugetlbfs>,share=on,prealloc=on
// -numa node,memdev=mem0`), `-device vfio-user-pci,socket=DIR/cntrl` (Oracle's fork at
// d377d483f9, the guide's commit) or the JSON form (upstream QEMU >= 10.1.1), the guest's nvme
// driver binds, fio verify passes. Run it with the fork:
//   npm run scenario -- --qemu-git https://github.com/oracle/qemu --qemu-ref d377d483f9 qemu-basic-flow
import { defineScenario } from '../harness/runner/scenario.js';
import { setupGuestWithTarget } from './lib/guest-target.js';

const SERIAL = 'VNVME-BASIC-0001';

export const scenario = defineScenario({
  name: 'qemu-basic-flow',
  description: "The SPDK+libvfio-user guide's basic flow: hugepage-backed guest RAM, vfio-user-pci on DIR/cntrl, the nvme driver binds, fio crc32c verify passes (with Oracle's fork at d377d483f9 via --qemu-git/--qemu-ref, or the provisioned QEMU).",
  tags: ['guest', 'seed'],
  needs: ['qemu'],
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const parts = await ctx.parts();
    ctx.fact('qemu', parts.qemu.description);
    const { guest: g, ctrl } = await setupGuestWithTarget(ctx, {
      serial: SERIAL,
      model: 'vnvme basic flow',
      bdevRpcs: [['bdev_malloc_create', '-b', 'Malloc0', '64', '512']],
      namespaces: ['Malloc0'],
      // The guide's flow is hugepages; a host that cannot give them fails here with the reason.
      guest: { memory: 'hugepages' },
    });
    await ctx.check('memory.hugepages', { title: 'guest RAM is a shared memory-backend-file on hugetlbfs', area: 'Harness', section: '' }, async (c) => {
      c.add({ note: 'QEMU command line', output: g.info.qemuCommand });
      c.ok(/memory-backend-file,id=mem0,[^ ]*mem-path=[^ ,]+,share=on,prealloc=on/.test(g.info.qemuCommand) && /-numa node,memdev=mem0/.test(g.info.qemuCommand), 'guest memory', 'memory-backend-file on hugetlbfs, share=on, -numa node,memdev=mem0', g.info.memory);
    });
    await ctx.check('driver.binds', { title: "the guest's nvme driver binds our controller", area: 'Guest', section: '' }, async (c) => {
      const r = await c.sh(g, `cat /sys/class/nvme/${ctrl.name}/state; readlink /sys/class/nvme/${ctrl.name}/device/driver`);
      c.equal('controller state', 'live', r.stdout.split('\n')[0]);
      c.ok(/\/nvme$/.test(r.stdout.split('\n')[1] ?? ''), 'bound driver', 'nvme', r.stdout.split('\n')[1] ?? '');
    });
    await ctx.check('fio.verify', { title: 'fio random writes with crc32c verify pass (4 KiB-128 KiB, QD8)', area: 'Data integrity', section: 'NVM Command Set 1.0 3.3.4, 3.3.6' }, async (c) => {
      const dev = `/dev/${ctrl.namespaces[0]}`;
      const r = await c.sh(g, `fio --name=basic --filename=${dev} --direct=1 --ioengine=libaio --rw=randwrite --bsrange=4k-128k --iodepth=8 --size=32M --verify=crc32c --verify_fatal=1 --do_verify=1 --output=/tmp/basic-fio.txt; echo rc=$?`, { timeoutMs: 300_000 });
      c.ok(/rc=0\s*$/.test(r.stdout), 'fio exit status', '0', r.stdout.trim().split('\n').pop() ?? '');
    });
  },
});

// namespace-hotplug: namespaces added and removed through RPC while the guest runs. The guest
// learns of them by the Namespace Attribute Changed event (AER, Changed Namespace List log)
// and its block devices appear and disappear; namespace 1 keeps its data throughout.
import { waitForGuest } from '../harness/guest/nvme-in-guest.js';
import { defineScenario } from '../harness/runner/scenario.js';
import { setupGuestWithTarget } from './lib/guest-target.js';


export const scenario = defineScenario({
  name: 'namespace-hotplug',
  description: 'nvmf_subsystem_add_ns / remove_ns while the guest runs: the guest sees namespaces appear and go (AER), I/O works on the new one, namespace 1 data stays intact.',
  tags: ['default', 'guest', 'namespaces'],
  needs: ['qemu'],
  timeoutMs: 12 * 60_000,
  async run(ctx) {
    const { target: t, exported, guest: g, ctrl } = await setupGuestWithTarget(ctx, {
      serial: 'VNVME-HOTPLUG-01',
      model: 'vnvme namespace hotplug',
      bdevRpcs: [['bdev_malloc_create', '-b', 'Malloc0', '32', '512']],
      namespaces: ['Malloc0'],
    });
    const c0 = ctrl.name;
    const ns1 = `/dev/${ctrl.namespaces[0]}`;
    let ns1Sum = '';
    await ctx.check('ns1.write', { title: 'namespace 1 holds 4 MiB of known data', area: 'NVM I/O', section: '' }, async (c) => {
      await c.sh(g, `head -c 4194304 /dev/urandom > /tmp/ns1 && dd if=/tmp/ns1 of=${ns1} bs=1M oflag=direct status=none`);
      ns1Sum = (await c.sh(g, 'md5sum < /tmp/ns1')).stdout.split(' ')[0]!;
    });
    for (let round = 1; round <= 2; round++) {
      ctx.step(`round ${round}: add namespace 2`);
      const bdev = `Hot${round}`;
      await ctx.check(`add.${round}`, { title: `round ${round}: nvmf_subsystem_add_ns makes ${c0}n2 appear in the guest`, area: 'Namespaces', section: 'NVMe Base 2.1 5.1.12.1.5 (Changed Namespace List), 5.1.2 (Namespace Attribute Changed AEN)' }, async (c) => {
        await c.rpc(t, 'bdev_malloc_create', '-b', bdev, '16', '512');
        await c.rpc(t, 'nvmf_subsystem_add_ns', exported.nqn, bdev, '-n', '2');
        const t0 = Date.now();
        const seen = await waitForGuest(g, `test -b /dev/${c0}n2 && [ "$(blockdev --getsize64 /dev/${c0}n2)" = 16777216 ]`, 60_000);
        await c.sh(g, `ls /sys/class/nvme/${c0}/ | grep n || true; nvme list-ns /dev/${c0}; dmesg | grep -i nvme | tail -5`);
        c.ok(seen, `/dev/${c0}n2 of 16 MiB`, 'appears within 60 s', seen ? `after ${Date.now() - t0} ms` : 'not seen');
        ctx.metric({ name: `namespace add visible (round ${round})`, value: Date.now() - t0, unit: 'ms' });
      });
      await ctx.check(`io.${round}`, { title: `round ${round}: write/read verify on the new namespace`, area: 'NVM I/O', section: '' }, async (c) => {
        await c.sh(g, `head -c 1048576 /dev/urandom > /tmp/n2 && dd if=/tmp/n2 of=/dev/${c0}n2 bs=1M oflag=direct status=none`);
        const a = (await c.sh(g, 'md5sum < /tmp/n2')).stdout.split(' ')[0];
        const b = (await c.sh(g, `dd if=/dev/${c0}n2 bs=1M count=1 iflag=direct status=none | md5sum`)).stdout.split(' ')[0];
        c.equal('md5 read back', a, b);
      });
      ctx.step(`round ${round}: remove namespace 2`);
      await ctx.check(`remove.${round}`, { title: `round ${round}: nvmf_subsystem_remove_ns makes ${c0}n2 go away`, area: 'Namespaces', section: 'NVMe Base 2.1 5.1.12.1.5, 5.1.2' }, async (c) => {
        await c.rpc(t, 'nvmf_subsystem_remove_ns', exported.nqn, '2');
        const t0 = Date.now();
        const gone = await waitForGuest(g, `! test -e /dev/${c0}n2`, 60_000);
        await c.sh(g, `nvme list-ns /dev/${c0}; dmesg | grep -i nvme | tail -5`);
        c.ok(gone, `/dev/${c0}n2`, 'removed within 60 s', gone ? `after ${Date.now() - t0} ms` : 'still present');
        await c.rpc(t, 'bdev_malloc_delete', bdev);
      });
    }
    await ctx.check('ns1.intact', { title: 'namespace 1 data unchanged after the namespace changes', area: 'Data integrity', section: '' }, async (c) => {
      const r = await c.sh(g, `dd if=${ns1} bs=1M count=4 iflag=direct status=none | md5sum`);
      c.equal('md5 of namespace 1', ns1Sum, r.stdout.split(' ')[0]);
      const st = await c.sh(g, `cat /sys/class/nvme/${c0}/state`);
      c.equal('controller state', 'live', st.stdout.trim());
    });
  },
});

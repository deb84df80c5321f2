// guest-zns: a zoned namespace (bdev_zone_block_create over a malloc bdev) seen by the Linux
// nvme driver: the kernel registers a host-managed zoned block device with the zone size and
// count the namespace reports (drivers/nvme/host/zns.c: CAP.CSS bit 6, CC.CSS 110b, Identify
// CNS 05h/06h with CSI 02h), blkzone reports its zones, and fio's zonemode=zbd writes
// sequentially into the zones and verifies what it wrote (issue 18 item 5).
import { defineScenario } from '../harness/runner/scenario.js';
import { setupGuestWithTarget } from './lib/guest-target.js';

const SERIAL = 'VNVME-ZNS-0001';
const ZONE_CAPACITY = 2048; // blocks of 512 bytes: 1 MiB zones, capacity = size
const ZONES = 16;

export const scenario = defineScenario({
  name: 'guest-zns',
  description: 'A bdev_zone_block namespace in the guest: the kernel zoned block device (host-managed), blkzone report, fio zonemode=zbd write + verify.',
  tags: ['guest', 'zns'],
  needs: ['qemu'],
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const { guest: g, ctrl } = await setupGuestWithTarget(ctx, {
      serial: SERIAL,
      model: 'vnvme zns',
      bdevRpcs: [
        ['bdev_malloc_create', '-b', 'Malloc0', String((ZONE_CAPACITY * ZONES * 512) / 2 ** 20), '512'],
        ['bdev_zone_block_create', '-b', 'Zone0', '-n', 'Malloc0', '-z', String(ZONE_CAPACITY), '-o', '4'],
      ],
      namespaces: ['Zone0'],
    });
    const name = ctrl.namespaces[0]!;
    const dev = `/dev/${name}`;
    ctx.step('zoned block device');
    await ctx.check('zoned-device', { title: 'the kernel registers a host-managed zoned block device with the namespace zones', area: 'Zoned namespaces', section: 'NVMe Zoned Namespace Command Set 1.1 4.1.5 (Identify)' }, async (c) => {
      c.equal('queue/zoned', 'host-managed', (await c.sh(g, `cat /sys/block/${name}/queue/zoned`)).stdout.trim());
      c.equal('queue/nr_zones', String(ZONES), (await c.sh(g, `cat /sys/block/${name}/queue/nr_zones`)).stdout.trim());
      c.equal('queue/chunk_sectors (zone size)', String(ZONE_CAPACITY), (await c.sh(g, `cat /sys/block/${name}/queue/chunk_sectors`)).stdout.trim());
    });
    ctx.step('fio zonemode=zbd');
    await ctx.check('fio-zbd', { title: 'fio zonemode=zbd sequential writes into the zones, verified with crc32c', area: 'Zoned namespaces', section: 'NVMe Zoned Namespace Command Set 1.1 3.3.1, 3.4.3' }, async (c) => {
      const cmd = `fio --name=zbd --filename=${dev} --direct=1 --ioengine=psync --zonemode=zbd --rw=write --bs=64k --size=8M --verify=crc32c --verify_fatal=1 --output-format=json`;
      const r = await c.sh(g, cmd, { timeoutMs: 10 * 60_000, expectExit: null, keep: 3000 });
      const run = ctx.fio('zbd', 'vfio-user', cmd, r.stdout);
      c.equal('fio exit status', 0, r.code);
      c.equal('fio job errors', 0, run.errors);
    });
  },
});

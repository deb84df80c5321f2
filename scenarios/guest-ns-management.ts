// guest-ns-management: Namespace Management and Attachment from the guest with nvme-cli, as a
// host's tooling uses them: the subsystem has a 64 MiB namespace pool (vnvme_subsystem_set_ns_pool,
// set before the guest boots so the kernel's cached Commands Supported and Effects log lists
// 0Dh/15h with NIC). The guest creates a namespace (`nvme create-ns`), sees it allocated but not
// active, attaches it to its controller (`nvme attach-ns`), gets a block device of the right size
// and does verified I/O on it, creates a 4 KiB-block one by `--block-size`, reads the attached
// controller lists, hits the statuses nvme-cli reports (capacity, already attached, not
// attached), detaches (`nvme detach-ns`: the block device goes) and deletes (`nvme delete-ns`:
// the capacity comes back); namespace 1 keeps its data throughout.
import type { Guest } from '../harness/guest/guest.js';
import type { CheckRecorder } from '../harness/runner/context.js';
import { waitForGuest } from '../harness/guest/nvme-in-guest.js';
import { defineScenario } from '../harness/runner/scenario.js';
import { setupGuestWithTarget } from './lib/guest-target.js';

const POOL_MIB = 64;
const SECTION_MGMT = 'NVMe Base 2.0 5.23 (Namespace Management)';
const SECTION_ATTACH = 'NVMe Base 2.0 5.22 (Namespace Attachment)';


/** The NSIDs `nvme list-ns` prints ("[   0]:0x2" lines). */
function listed(out: string): number[] {
  return [...out.matchAll(/\]:\s*0x([0-9a-fA-F]+)/g)].map((m) => parseInt(m[1]!, 16));
}

/** "create-ns: Success, created nsid:2" -> 2 */
function createdNsid(out: string): number | undefined {
  const m = /created nsid:\s*(\d+)/i.exec(out);
  return m ? Number(m[1]) : undefined;
}

/**
 * A shell snippet printing the block device (nvmeXnY) of namespace `nsid`, or nothing. With native
 * multipath the disk is named after the subsystem and an instance number, not the NSID, so the
 * NSID is read from sysfs (our controller is the guest's only NVMe device).
 */
function blockDeviceOf(nsid: number): string {
  return `for b in /sys/block/nvme*n*; do [ -e "$b/nsid" ] || continue; [ "$(cat $b/nsid)" = ${nsid} ] && { basename $b; break; }; done; true`;
}

async function idCtrl(c: CheckRecorder, g: Guest, dev: string): Promise<Record<string, unknown>> {
  return JSON.parse((await c.sh(g, `nvme id-ctrl ${dev} -o json`)).stdout) as Record<string, unknown>;
}

/** nvme-cli prints 128-bit capacities as numbers or strings depending on its version. */
const big = (v: unknown) => BigInt(String(v ?? 0).replace(/\..*$/, ''));

export const scenario = defineScenario({
  name: 'guest-ns-management',
  description: 'nvme-cli create-ns / attach-ns / detach-ns / delete-ns against a subsystem with a namespace pool: allocated vs active lists, block devices appearing and going, I/O on created namespaces (512 B and 4 KiB formats), capacity accounting, the statuses nvme-cli reports.',
  tags: ['guest', 'namespaces', 'admin'],
  needs: ['qemu'],
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const { guest: g, ctrl } = await setupGuestWithTarget(ctx, {
      serial: 'VNVME-NSMGMT-01',
      model: 'vnvme namespace management',
      bdevRpcs: [['bdev_malloc_create', '-b', 'Malloc0', '32', '512']],
      namespaces: ['Malloc0'],
      subsystemRpcs: [['vnvme_subsystem_set_ns_pool', '{nqn}', String(POOL_MIB)]],
    });
    const c0 = ctrl.name;
    const dev = `/dev/${c0}`;
    const ns1 = `/dev/${ctrl.namespaces[0]}`;
    let ns1Sum = '';
    let cntlid = 0;
    let unvmcap0 = 0n;

    await ctx.check('id-ctrl', { title: 'Identify Controller: OACS bit 3, TNVMCAP = pool + namespace 1, UNVMCAP = pool', area: 'Identify', section: 'NVMe Base 2.0 5.17.2.1 (OACS, TNVMCAP, UNVMCAP)' }, async (c) => {
      const id = await idCtrl(c, g, dev);
      cntlid = Number(id.cntlid);
      c.ok((Number(id.oacs) & 0x8) !== 0, 'OACS bit 3 (Namespace Management)', 'set', `0x${Number(id.oacs).toString(16)}`);
      unvmcap0 = big(id.unvmcap);
      c.equal('UNVMCAP (bytes)', String(POOL_MIB * 2 ** 20), String(unvmcap0));
      c.equal('TNVMCAP (bytes)', String((POOL_MIB + 32) * 2 ** 20), String(big(id.tnvmcap)));
      ctx.fact('id-ctrl.cntlid', String(cntlid));
    });
    await ctx.check('ns1.write', { title: 'namespace 1 holds 4 MiB of known data', area: 'NVM I/O', section: '' }, async (c) => {
      await c.sh(g, `head -c 4194304 /dev/urandom > /tmp/ns1 && dd if=/tmp/ns1 of=${ns1} bs=1M oflag=direct status=none`);
      ns1Sum = (await c.sh(g, 'md5sum < /tmp/ns1')).stdout.split(' ')[0]!;
    });

    ctx.step('create-ns');
    let nsid = 0;
    await ctx.check('create-ns', { title: 'nvme create-ns (8192 blocks, FLBAS 0): a new NSID, allocated, not active, UNVMCAP 4 MiB lower', area: 'Namespaces', section: SECTION_MGMT }, async (c) => {
      const r = await c.sh(g, `nvme create-ns ${dev} --nsze=8192 --ncap=8192 --flbas=0`);
      nsid = createdNsid(r.stdout + r.stderr) ?? 0;
      c.ok(nsid >= 2, 'NSID printed by create-ns', '>= 2', String(nsid));
      c.ok(listed((await c.sh(g, `nvme list-ns ${dev} --all`)).stdout).includes(nsid), 'allocated namespace list (CNS 10h)', `holds ${nsid}`, 'missing');
      c.ok(!listed((await c.sh(g, `nvme list-ns ${dev}`)).stdout).includes(nsid), 'active namespace list (CNS 02h)', `without ${nsid}`, 'listed');
      c.equal('UNVMCAP after create', String(unvmcap0 - 4n * 2n ** 20n), String(big((await idCtrl(c, g, dev)).unvmcap)));
    });

    ctx.step('attach-ns');
    let blk = '';
    await ctx.check('attach-ns', { title: 'nvme attach-ns to this controller: a 4 MiB block device appears', area: 'Namespaces', section: `${SECTION_ATTACH}; NVMe Base 2.0 5.16.1.5 (Changed Namespace List)` }, async (c) => {
      if (!nsid) c.fail('no namespace was created');
      await c.sh(g, `nvme attach-ns ${dev} --namespace-id=${nsid} --controllers=${cntlid}`);
      const t0 = Date.now();
      const seen = await waitForGuest(g, `b=$(${blockDeviceOf(nsid)}); [ -n "$b" ] && [ "$(blockdev --getsize64 /dev/$b)" = 4194304 ]`, 60_000);
      blk = (await c.sh(g, blockDeviceOf(nsid))).stdout.trim();
      await c.sh(g, `nvme list-ns ${dev}; lsblk; dmesg | grep -i nvme | tail -5`);
      c.ok(seen, `block device of namespace ${nsid}`, '4 MiB within 60 s', seen ? `/dev/${blk} after ${Date.now() - t0} ms` : 'not seen');
      ctx.metric({ name: 'attach-ns to block device', value: Date.now() - t0, unit: 'ms' });
      const lc = (await c.sh(g, `nvme list-ctrl ${dev} --namespace-id=${nsid}`)).stdout;
      c.ok(listed(lc).includes(cntlid), 'attached controller list (CNS 12h)', `holds ${cntlid}`, lc.trim());
    });
    await ctx.check('io', { title: 'write/read verify on the created namespace', area: 'NVM I/O', section: '' }, async (c) => {
      if (!blk) c.fail('no block device for the created namespace');
      await c.sh(g, `head -c 1048576 /dev/urandom > /tmp/n2 && dd if=/tmp/n2 of=/dev/${blk} bs=1M oflag=direct status=none`);
      const a = (await c.sh(g, 'md5sum < /tmp/n2')).stdout.split(' ')[0];
      const b = (await c.sh(g, `dd if=/dev/${blk} bs=1M count=1 iflag=direct status=none | md5sum`)).stdout.split(' ')[0];
      c.equal('md5 read back', a, b);
    });
    await ctx.check('statuses', { title: 'nvme-cli reports the spec statuses: Namespace Insufficient Capacity, Namespace Already Attached, Namespace Not Attached', area: 'Namespaces', section: `${SECTION_MGMT}; ${SECTION_ATTACH}` }, async (c) => {
      const big1 = await c.sh(g, `nvme create-ns ${dev} --nsze=1048576 --ncap=1048576 --flbas=0`, { expectExit: null }); // 512 MiB
      c.ok(big1.code !== 0 && /INSUFFICIENT|capacity/i.test(big1.stdout + big1.stderr), 'create beyond UNVMCAP', 'Namespace Insufficient Capacity', `exit ${big1.code}: ${(big1.stdout + big1.stderr).trim()}`);
      const again = await c.sh(g, `nvme attach-ns ${dev} --namespace-id=${nsid} --controllers=${cntlid}`, { expectExit: null });
      c.ok(again.code !== 0 && /ALREADY_ATTACHED|already attached/i.test(again.stdout + again.stderr), 'attach twice', 'Namespace Already Attached', `exit ${again.code}: ${(again.stdout + again.stderr).trim()}`);
      const other = await c.sh(g, `nvme create-ns ${dev} --nsze=8 --ncap=8 --flbas=0`);
      const spare = createdNsid(other.stdout + other.stderr) ?? 0;
      const not = await c.sh(g, `nvme detach-ns ${dev} --namespace-id=${spare} --controllers=${cntlid}`, { expectExit: null });
      c.ok(not.code !== 0 && /NOT_ATTACHED|not attached/i.test(not.stdout + not.stderr), 'detach a namespace attached nowhere', 'Namespace Not Attached', `exit ${not.code}: ${(not.stdout + not.stderr).trim()}`);
      await c.sh(g, `nvme delete-ns ${dev} --namespace-id=${spare}`);
    });

    ctx.step('4 KiB namespace');
    await ctx.check('create-ns.4k', { title: 'nvme create-ns --block-size=4096 picks the 4 KiB LBA format; attached, its block device has 4096-byte sectors', area: 'Namespaces', section: `${SECTION_MGMT}; NVMe Base 2.0 5.17.2.1 (CNS 00h NSID FFFFFFFFh)` }, async (c) => {
      const r = await c.sh(g, `nvme create-ns ${dev} --nsze=1024 --ncap=1024 --block-size=4096`);
      const id4 = createdNsid(r.stdout + r.stderr) ?? 0;
      c.ok(id4 > 0, 'NSID printed by create-ns', '> 0', String(id4));
      await c.sh(g, `nvme attach-ns ${dev} --namespace-id=${id4} --controllers=${cntlid}`);
      const seen = await waitForGuest(g, `b=$(${blockDeviceOf(id4)}); [ -n "$b" ] && [ "$(blockdev --getss /dev/$b)" = 4096 ] && [ "$(blockdev --getsize64 /dev/$b)" = 4194304 ]`, 60_000);
      c.ok(seen, `block device of namespace ${id4}`, '4 MiB of 4096-byte sectors within 60 s', seen ? 'seen' : 'not seen');
      await c.sh(g, `nvme detach-ns ${dev} --namespace-id=${id4} --controllers=${cntlid}`);
      const gone = await waitForGuest(g, `[ -z "$(${blockDeviceOf(id4)})" ]`, 60_000);
      c.ok(gone, `block device of namespace ${id4}`, 'gone after detach-ns', gone ? 'gone' : 'still present');
      await c.sh(g, `nvme delete-ns ${dev} --namespace-id=${id4}`);
    });

    ctx.step('detach-ns, delete-ns');
    await ctx.check('detach-ns', { title: 'nvme detach-ns: the block device goes, the namespace stays allocated', area: 'Namespaces', section: SECTION_ATTACH }, async (c) => {
      await c.sh(g, `nvme detach-ns ${dev} --namespace-id=${nsid} --controllers=${cntlid}`);
      const t0 = Date.now();
      const gone = await waitForGuest(g, `[ -z "$(${blockDeviceOf(nsid)})" ]`, 60_000);
      c.ok(gone, `block device of namespace ${nsid}`, 'removed within 60 s', gone ? `after ${Date.now() - t0} ms` : 'still present');
      c.ok(listed((await c.sh(g, `nvme list-ns ${dev} --all`)).stdout).includes(nsid), 'allocated namespace list', `still holds ${nsid}`, 'missing');
      c.ok(!listed((await c.sh(g, `nvme list-ns ${dev}`)).stdout).includes(nsid), 'active namespace list', `without ${nsid}`, 'listed');
    });
    await ctx.check('delete-ns', { title: 'nvme delete-ns: no longer allocated, UNVMCAP back to the whole pool', area: 'Namespaces', section: SECTION_MGMT }, async (c) => {
      await c.sh(g, `nvme delete-ns ${dev} --namespace-id=${nsid}`);
      c.ok(!listed((await c.sh(g, `nvme list-ns ${dev} --all`)).stdout).includes(nsid), 'allocated namespace list', `without ${nsid}`, 'listed');
      c.equal('UNVMCAP after delete', String(unvmcap0), String(big((await idCtrl(c, g, dev)).unvmcap)));
    });
    await ctx.check('ns1.intact', { title: 'namespace 1 data unchanged, controller live', area: 'Data integrity', section: '' }, async (c) => {
      const r = await c.sh(g, `dd if=${ns1} bs=1M count=4 iflag=direct status=none | md5sum`);
      c.equal('md5 of namespace 1', ns1Sum, r.stdout.split(' ')[0]);
      c.equal('controller state', 'live', (await c.sh(g, `cat /sys/class/nvme/${c0}/state`)).stdout.trim());
    });
  },
});

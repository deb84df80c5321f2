// migration-qemu: a real QEMU live-migrates a running guest whose NVMe controller is ours,
// back and forth between two `vnvme target` processes, under a verifying workload. The QEMU
// must speak vfio-user migration: Oracle's fork, branch vfio-user-dbfix, `x-enable-migration=on`
// (protocol v1, which the targets serve with VNVME_MIGRATION_V1=1). Build it with
// `npx vnvme qemu build --git <url|mirror> --ref vfio-user-dbfix` and run
// `npm run scenario -- --qemu-git <url|mirror> --qemu-ref vfio-user-dbfix migration-qemu`.
//
// Both targets export the same subsystem with the same namespace UUID over one shared file
// (bdev_aio), configured by RPC as a user types it; a preflight compares them first. Each hop
// starts a destination QEMU with `-incoming tcp:127.0.0.1:PORT` on the other target, migrates
// over QMP and waits for completion, then checks on the destination: the data written before
// the first hop, fresh I/O, and a fio crc32c verify job that ran across the switch (its reads
// land in guest memory by device DMA only, so a page the target wrote but did not report dirty
// shows up as a verify failure). Downtime, total time and transferred bytes are metrics per
// hop. VNVME_MIGRATION_HOPS sets the number of hops (default 50).
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runDirFor, type Guest } from '../harness/guest/guest.js';
import { killIncoming, migrateGuest, resumeOnSource, waitForIncoming } from '../harness/guest/migrate.js';
import { compareProfiles, migrationProfile, type BdevInfo, type SubsystemInfo } from '../harness/guest/migration-preflight.js';
import { waitForController } from '../harness/guest/nvme-in-guest.js';
import type { ScenarioTarget } from '../harness/runner/target.js';
import { defineScenario } from '../harness/runner/scenario.js';

const NQN = 'nqn.2019-07.io.spdk:mig0';
const SERIAL = 'VNVME-QEMU-MIG';
const BASE_MIB = 8; // data written before the first hop, at offset 0
const FIO_OFFSET_MIB = 16; // the verify job's region
const FIO_SIZE_MIB = 16;
const FRESH_OFFSET_MIB = 40; // fresh I/O after each hop, 1 MiB per hop, cycling

async function profile(t: ScenarioTarget) {
  const subs = await t.rpcJson<SubsystemInfo[]>('nvmf_get_subsystems');
  const bdevs = await t.rpcJson<BdevInfo[]>('bdev_get_bdevs');
  return migrationProfile(NQN, subs, bdevs);
}

export const scenario = defineScenario({
  name: 'migration-qemu',
  description:
    "Live migration of a running guest by a real QEMU (Oracle's vfio-user-dbfix fork, x-enable-migration=on, protocol v1) between two targets sharing one file: ping-pong hops with data, fresh I/O and a fio verify job checked on every destination; downtime per hop.",
  tags: ['migration', 'guest', 'heavy'],
  // 'migration-qemu' is decided here, after provisioning (the runner checks needs before it).
  needs: ['qemu'],
  timeoutMs: 60 * 60_000,
  async run(ctx) {
    const parts = await ctx.parts();
    ctx.fact('qemu', parts.qemu.description);
    if (!parts.qemu.vfioUserMigration) {
      ctx.skip(
        `${parts.qemu.description} has no vfio-user migration (x-enable-migration); build Oracle's fork and pass it: ` +
          '--qemu-git https://github.com/oracle/qemu (or a local mirror) --qemu-ref vfio-user-dbfix',
      );
    }
    const hops = Math.max(1, Number.parseInt(process.env.VNVME_MIGRATION_HOPS ?? '50', 10) || 50);
    ctx.fact('migration.hops', String(hops));

    ctx.step('two targets, one shared file, the same namespace UUID');
    const file = join(ctx.tmp, 'shared.img');
    writeFileSync(file, Buffer.alloc(0));
    truncateSync(file, 64 << 20);
    const uuid = randomUUID();
    const targets = [await ctx.target('target-a', { env: { VNVME_MIGRATION_V1: '1' } }), await ctx.target('target-b', { env: { VNVME_MIGRATION_V1: '1' } })];
    const sockets: string[] = [];
    for (const t of targets) {
      await t.rpc('bdev_aio_create', file, 'Shared0', '512');
      await t.rpc('nvmf_create_transport', ...ctx.transportArgs());
      await t.rpc('nvmf_create_subsystem', NQN, '-a', '-s', SERIAL, '-d', 'vnvme QEMU migration');
      await t.rpc('nvmf_subsystem_add_ns', NQN, 'Shared0', '-u', uuid);
      const dir = join(t.workDir, 'ep');
      mkdirSync(dir, { recursive: true });
      await t.rpc('nvmf_subsystem_add_listener', NQN, '-t', 'VFIOUSER', '-a', dir, '-s', '0');
      sockets.push(join(dir, 'cntrl'));
    }
    for (const s of sockets) for (let i = 0; i < 100 && !existsSync(s); i++) await new Promise((r) => setTimeout(r, 50));

    await ctx.check('preflight', { title: 'preflight: both targets export the same subsystem, namespace UUIDs and storage', area: 'Migration', section: '' }, async (c) => {
      const [a, b] = [await profile(targets[0]!), await profile(targets[1]!)];
      c.add({ note: 'source profile', output: JSON.stringify(a, null, 2) });
      const differences = compareProfiles(a, b);
      c.equal('differences between the targets', '', differences.join('; '));
    });

    ctx.step('boot the guest on target A');
    const append = 'nvme_core.io_timeout=30';
    let src: Guest = await ctx.guest({ label: 'hop0', vfioUser: [{ id: 'vfu0', socket: sockets[0]!, migration: true }], append });
    const ctrl = await waitForController(src, SERIAL, 120_000);
    const dev = `/dev/${ctrl.namespaces[0]}`;
    let baseSum = '';
    await ctx.check('before.write', { title: `the guest writes ${BASE_MIB} MiB of known data before the first hop`, area: 'Migration', section: '' }, async (c) => {
      await c.sh(src, `head -c ${BASE_MIB << 20} /dev/urandom > /root/base && dd if=/root/base of=${dev} bs=1M oflag=direct status=none && sync`);
      baseSum = (await c.sh(src, 'md5sum < /root/base')).stdout.split(' ')[0]!;
      const back = (await c.sh(src, `dd if=${dev} bs=1M count=${BASE_MIB} iflag=direct status=none | md5sum`)).stdout.split(' ')[0]!;
      c.equal('read back before migration', baseSum, back);
    });
    // A verify job that runs across every hop: written blocks are read back (device DMA into
    // guest memory) and checked by the CPU, possibly after a hop moved the buffer.
    const fioCmd =
      `fio --name=across --filename=${dev} --offset=${FIO_OFFSET_MIB}M --size=${FIO_SIZE_MIB}M --direct=1 --ioengine=libaio ` +
      '--rw=randwrite --bs=4k --iodepth=4 --verify=crc32c --verify_backlog=64 --verify_fatal=1 --do_verify=1 ' +
      '--time_based --runtime=86400 --rate_iops=300 --output=/root/fio.out';
    await ctx.check('workload.start', { title: 'a fio crc32c verify job runs in the guest across the migrations', area: 'Migration', section: '' }, async (c) => {
      await c.sh(src, `nohup ${fioCmd} > /root/fio.log 2>&1 & sleep 3; pgrep -x fio >/dev/null && echo running`);
    });

    const downtimes: number[] = [];
    let completed = 0;
    for (let hop = 1; hop <= hops; hop++) {
      const to = hop % 2; // 1: B, 0: A
      ctx.step(`hop ${hop}/${hops}: ${to ? 'A -> B' : 'B -> A'}`);
      const port = await freePort();
      const uri = `tcp:127.0.0.1:${port}`;
      const label = `hop${hop}`;
      const dstPromise = ctx.guest({
        label,
        vfioUser: [{ id: 'vfu0', socket: sockets[to]!, migration: true }],
        append,
        extraQemuArgs: ['-incoming', uri],
        bootTimeoutMs: 600_000,
      });
      dstPromise.catch(() => undefined);
      const dstDir = runDirFor(`sc-${ctx.scenario.name}-${label}-${process.pid}`);
      // Guest.start clears the run directory first: wait for this QEMU's pid file, then its QMP.
      for (let i = 0; i < 600 && !existsSync(join(dstDir, 'qemu.pid')); i++) await new Promise((r) => setTimeout(r, 100));
      const incoming = await waitForIncoming(dstDir, 300_000);
      if (hop === 1) ctx.fact('destination.status', incoming);

      let ok = true;
      await ctx.check(`hop${hop}.migrate`, { title: `hop ${hop}: QEMU migrates the guest and its controller (${to ? 'A -> B' : 'B -> A'})`, area: 'Migration', section: '' }, async (c) => {
        const r = await migrateGuest(src, { uri, vfioUserMigration: true, timeoutMs: 600_000 });
        const info = r.info as { downtime?: number; 'total-time'?: number; ram?: { transferred?: number } };
        if (r.status !== 'completed') {
          ok = false;
          c.add({ note: 'query-migrate', output: JSON.stringify(r.info, null, 2) });
          c.add({ note: 'recovery', output: await resumeOnSource(src).catch((e: Error) => `could not resume the source: ${e.message}`) });
        }
        c.equal('migration status', 'completed', r.status);
        const downtime = Number(info.downtime ?? NaN);
        downtimes.push(downtime);
        ctx.metric({ name: `hop ${hop} downtime`, value: downtime, unit: 'ms' });
        ctx.metric({ name: `hop ${hop} total time`, value: Number(info['total-time'] ?? r.elapsedMs), unit: 'ms' });
        ctx.metric({ name: `hop ${hop} RAM transferred`, value: Number(info.ram?.transferred ?? 0), unit: 'bytes' });
      });
      if (!ok) {
        killIncoming(dstDir);
        await dstPromise.catch(() => undefined);
        break;
      }
      let dst: Guest;
      try {
        dst = await dstPromise;
      } catch (err) {
        await ctx.check(`hop${hop}.destination`, { title: `hop ${hop}: the guest runs on the destination`, area: 'Migration', section: '' }, async (c) => {
          c.add({ note: 'recovery', output: await resumeOnSource(src).catch((e: Error) => `could not resume the source: ${e.message}`) });
          c.fail(`the destination QEMU did not come up after the migration: ${(err as Error).message}`);
        });
        break;
      }
      await src.stop();
      src = dst;
      await ctx.check(`hop${hop}.verify`, { title: `hop ${hop}: data from before, fresh I/O and the verify job are intact on the destination`, area: 'Migration', section: '' }, async (c) => {
        const sum = (await c.sh(dst, `dd if=${dev} bs=1M count=${BASE_MIB} iflag=direct status=none | md5sum`, { timeoutMs: 120_000 })).stdout.split(' ')[0]!;
        c.equal('data written before the first hop', baseSum, sum);
        const off = FRESH_OFFSET_MIB + (hop % 16);
        const fresh = await c.sh(
          dst,
          `head -c 1048576 /dev/urandom > /root/fresh && dd if=/root/fresh of=${dev} bs=1M seek=${off} oflag=direct status=none && ` +
            `a=$(md5sum < /root/fresh) && b=$(dd if=${dev} bs=1M skip=${off} count=1 iflag=direct status=none | md5sum) && [ "$a" = "$b" ] && echo same`,
          { timeoutMs: 120_000 },
        );
        c.equal('fresh 1 MiB write read back', 'same', fresh.stdout.trim());
        const fio = await c.sh(dst, 'pgrep -x fio >/dev/null && echo running || { echo stopped; cat /root/fio.log /root/fio.out 2>/dev/null | tail -20; }', { expectExit: null });
        c.equal('fio verify job', 'running', fio.stdout.trim().split('\n')[0]);
        const dmesg = await c.sh(dst, "dmesg | grep -iE 'nvme ?[0-9]+(n[0-9]+)?:.*(timeout|reset|I/O error|abort)' | tail -5", { expectExit: null });
        c.equal('nvme timeouts, resets or I/O errors in dmesg', '', dmesg.stdout.trim());
      });
      completed++;
    }
    ctx.metric({ name: 'migrations completed', value: completed, unit: 'count' });
    const good = downtimes.filter(Number.isFinite);
    if (good.length) {
      ctx.metric({ name: 'downtime max', value: Math.max(...good), unit: 'ms' });
      ctx.metric({ name: 'downtime median', value: good.sort((a, b) => a - b)[Math.floor(good.length / 2)]!, unit: 'ms' });
    }
    await ctx.check('workload.end', { title: `after ${completed} migrations the fio verify job stops cleanly with no verify error`, area: 'Migration', section: '' }, async (c) => {
      c.equal('migrations completed', String(hops), String(completed));
      await c.sh(src, 'pkill -INT -x fio; for i in $(seq 60); do pgrep -x fio >/dev/null || break; sleep 1; done; true', { timeoutMs: 90_000 });
      const out = await c.sh(src, 'cat /root/fio.out; cat /root/fio.log', { expectExit: null });
      c.add({ note: 'fio output', output: out.stdout.slice(-4000) });
      c.ok(!/verify: bad|crc32c: verify failed|bad magic|err=\s*[1-9]/i.test(out.stdout), 'fio output', 'no verify error', /verify/i.test(out.stdout) ? 'see output' : 'clean');
    });
  },
});

// migration-upstream-qemu: what happens when a guest with a vnvme controller is live-migrated
// by a QEMU without vfio-user migration (upstream 10.1-11.1). The harness refuses such a
// migration; forced, QEMU completes it, the destination's controller starts blank (the
// device state is not in the migration stream), and the guest finds out only when its I/O
// times out and its driver resets the controller. The scenario records every step so the
// loss is visible in the report.
import { defineScenario } from '../harness/runner/scenario.js';

export const scenario = defineScenario({
  name: 'migration-upstream-qemu',
  description: 'Upstream QEMU has no vfio-user migration: the harness refuses to migrate a guest with our device; forced, the migration "succeeds", the device state is silently lost and the guest recovers only by I/O timeout and controller reset.',
  tags: ['migration', 'guest'],
  needs: ['qemu'],
  timeoutMs: 20 * 60_000,
  async run(ctx) {
    const { existsSync, writeFileSync, truncateSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { freePort, runDirFor } = await import('../harness/guest/guest.js');
    const { migrateGuest, MigrationRefused } = await import('../harness/guest/migrate.js');
    const { waitForController } = await import('../harness/guest/nvme-in-guest.js');
    const serial = 'VNVME-UPSTREAM-MIG';
    const append = 'nvme_core.io_timeout=8 nvme_core.admin_timeout=8';

    ctx.step('two targets sharing one file');
    const file = join(ctx.tmp, 'shared.img');
    writeFileSync(file, Buffer.alloc(0));
    truncateSync(file, 64 << 20);
    const ta = await ctx.target('target-a');
    const tb = await ctx.target('target-b');
    const exported: Awaited<ReturnType<typeof ta.exportController>>[] = [];
    for (const t of [ta, tb]) {
      await t.rpc('bdev_aio_create', file, 'Shared0', '512');
      exported.push(await t.exportController({ name: 'ctrl0', serial, model: 'vnvme upstream migration', bdevs: ['Shared0'] }));
    }
    const parts = await ctx.parts();
    ctx.fact('qemu', parts.qemu.description);
    ctx.fact('qemu.vfioUserMigration', String(parts.qemu.vfioUserMigration));
    if (parts.qemu.vfioUserMigration) ctx.skip(`${parts.qemu.description} has vfio-user migration; this scenario is about QEMUs without it`);

    ctx.step('boot the source guest');
    const src = await ctx.guest({ label: 'src', vfioUser: [{ id: 'vfu0', socket: exported[0]!.socket }], append });
    const ctrl = await waitForController(src, serial, 90_000);
    const dev = `/dev/${ctrl.namespaces[0]}`;
    let sum = '';
    await ctx.check('before.write', { title: 'the guest writes 4 MiB of known data through our controller', area: 'Migration', section: '' }, async (c) => {
      await c.sh(src, `head -c 4194304 /dev/urandom > /tmp/d && dd if=/tmp/d of=${dev} bs=1M oflag=direct status=none && md5sum < /tmp/d`);
      sum = (await c.sh(src, 'md5sum < /tmp/d')).stdout.split(' ')[0]!;
    });

    const port = await freePort();
    const uri = `tcp:127.0.0.1:${port}`;
    await ctx.check('refused', { title: 'the harness refuses to migrate a guest with a vfio-user device on a QEMU without vfio-user migration', area: 'Migration', section: '' }, async (c) => {
      try {
        await migrateGuest(src, { uri, vfioUserMigration: parts.qemu.vfioUserMigration });
        c.fail('migrateGuest went ahead');
      } catch (err) {
        c.ok(err instanceof MigrationRefused, 'migrateGuest', 'refuses (MigrationRefused)', (err as Error).message);
      }
    });

    ctx.step('forced migration to a destination QEMU (-incoming)');
    const dstPromise = ctx.guest({ label: 'dst', vfioUser: [{ id: 'vfu0', socket: exported[1]!.socket }], append, extraQemuArgs: ['-incoming', uri], bootTimeoutMs: 400_000 });
    dstPromise.catch(() => undefined);
    const dstQmp = join(runDirFor(`sc-${ctx.scenario.name}-dst-${process.pid}`), 'qmp.sock');
    for (let i = 0; i < 600 && !existsSync(dstQmp); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1000)); // the incoming side listens once QEMU is up
    let vfioTransferred: number | null = null;
    await ctx.check('forced.completes', { title: 'forced, QEMU completes the migration as if the device had no state', area: 'Migration', section: '' }, async (c) => {
      const r = await migrateGuest(src, { uri, vfioUserMigration: false, force: true });
      c.add({ note: 'query-migrate at the end', output: JSON.stringify(r.info, null, 2) });
      vfioTransferred = r.vfioTransferred;
      ctx.fact('upstream.vfio.transferred', r.vfioTransferred === null ? 'absent' : String(r.vfioTransferred));
      ctx.metric({ name: 'upstream QEMU migration time', value: r.elapsedMs, unit: 'ms' });
      c.equal('migration status', 'completed', r.status);
    });
    const dst = await dstPromise;
    await ctx.check('lost', { title: 'the device state did not move: no vfio device data in the stream, the destination controller started blank', area: 'Migration', section: '' }, async (c) => {
      c.ok(vfioTransferred === null || vfioTransferred === 0, 'vfio bytes in the migration stream', '0 or absent', String(vfioTransferred));
      const st = await tb.rpc('nvmf_subsystem_get_controllers', exported[1]!.nqn);
      c.add({ command: st.command, where: 'host', exitCode: st.exitCode, output: st.output });
    });
    await ctx.check('guest.after', { title: 'on the destination the guest finds out only by I/O timeouts and a controller reset: the loss is visible', area: 'Migration', section: '' }, async (c) => {
      const t0 = Date.now();
      const r = await c.sh(dst, `timeout 120 dd if=${dev} bs=1M count=4 iflag=direct status=none | md5sum; echo rc=$?`, { expectExit: null, timeoutMs: 150_000 });
      ctx.metric({ name: 'first guest read after the migration', value: Date.now() - t0, unit: 'ms' });
      await c.sh(dst, `dmesg | grep -iE 'nvme|timeout|reset' | tail -30`, { expectExit: null });
      const state = (await c.sh(dst, `cat /sys/class/nvme/${ctrl.name}/state 2>/dev/null || echo gone`, { expectExit: null })).stdout.trim();
      const after = r.stdout.split(' ')[0] ?? '';
      ctx.fact('guest.controller.after', state);
      ctx.fact('guest.read.after', after === sum ? 'data intact' : 'read failed or differs');
      c.ok(state !== 'live' || after !== sum, 'guest after the migration', 'I/O failed or the controller was reset (the device state was lost)', `controller ${state}, read ${after === sum ? 'intact' : 'failed/differs'}`);
    });
  },
});

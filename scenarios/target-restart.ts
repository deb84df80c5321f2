// target-restart: the target process is SIGKILLed while the guest writes, and started again
// with the same configuration (the same rpc commands; the file bdev persists). The guest writes
// 4 KiB blocks with O_DIRECT|O_DSYNC and prints each block number as its write is acknowledged;
// the host streams those acknowledgements out over SSH as they come. What the guest sees (errors,
// resets, whether the controller comes back, whether QEMU survives) is recorded; the verdict is
// that no acknowledged write is missing from the backing file, read on the host.
import { openSync, readSync, closeSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineScenario } from '../harness/runner/scenario.js';
import { setupGuestWithTarget } from './lib/guest-target.js';

const BLOCK = 4096;
const MAX_BLOCKS = 4096; // 16 MiB
const WRITE_SECONDS = 40;

/** The 4 KiB written for block i: its number as 8 digits, repeated. */
export function blockPattern(i: number): Buffer {
  return Buffer.from(String(i).padStart(8, '0').repeat(BLOCK / 8));
}

export const scenario = defineScenario({
  name: 'target-restart',
  description: 'The target is killed (SIGKILL) and restarted during guest writes to a file bdev; what the guest sees is recorded; no acknowledged write is lost.',
  tags: ['fault', 'guest'],
  needs: ['qemu'],
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const file = join(ctx.tmp, 'disk.img');
    writeFileSync(file, '');
    truncateSync(file, 64 * 2 ** 20);
    const bdevRpc = ['bdev_aio_create', file, 'Aio0', '512'];
    const { target: t, exported, guest: g, ctrl } = await setupGuestWithTarget(ctx, {
      serial: 'VNVME-RESTART-01',
      model: 'vnvme target restart',
      bdevRpcs: [bdevRpc],
      namespaces: ['Aio0'],
      guest: { append: 'nvme_core.io_timeout=10' },
    });
    const ns = `/dev/${ctrl.namespaces[0]}`;
    const acked = new Set<number>();
    let partial = '';
    ctx.step('guest writes, acknowledging each block');
    const script = `end=$(( $(date +%s) + ${WRITE_SECONDS} )); i=0; while [ $i -lt ${MAX_BLOCKS} ] && [ $(date +%s) -lt $end ]; do p=$(printf %08d $i); yes $p | tr -d '\\n' | head -c ${BLOCK} > /tmp/blk; if dd if=/tmp/blk of=${ns} bs=${BLOCK} seek=$i count=1 oflag=direct,dsync conv=notrunc status=none 2>/tmp/err; then echo ACK $i; i=$((i+1)); else echo "FAIL $i $(cat /tmp/err)"; sleep 1; fi; done; echo DONE $i`;
    const failures: string[] = [];
    const writer = g
      .exec(script, {
        timeoutMs: (WRITE_SECONDS + 150) * 1000,
        onStdout: (d: Buffer) => {
          const lines = (partial + d.toString()).split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) {
            const m = /^ACK (\d+)$/.exec(l);
            if (m) acked.add(Number(m[1]));
            else if (l.startsWith('FAIL')) failures.push(l);
          }
        },
      } as never)
      .catch((err: Error) => ({ command: script, code: null, signal: 'ssh', stdout: '', stderr: err.message, durationMs: 0 }));
    const t0 = Date.now();
    while (acked.size < 50 && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 200));
    ctx.step('kill the target (SIGKILL)');
    const ackedAtKill = acked.size;
    await t.kill('SIGKILL');
    const killedAt = Date.now();
    ctx.fact('restart.ackedBeforeKill', ackedAtKill);
    await new Promise((r) => setTimeout(r, 2000));
    ctx.step('restart the target with the same configuration');
    await ctx.check('restart.rpc', { title: 'the target restarts and takes the same configuration again', area: 'Harness', section: '' }, async (c) => {
      t.resetConfigState();
      await t.start();
      await c.rpc(t, 'nvmf_create_transport', ...ctx.transportArgs());
      await c.rpc(t, bdevRpc[0]!, ...bdevRpc.slice(1));
      await c.rpc(t, 'nvmf_create_subsystem', exported.nqn, '-a', '-s', exported.serial, '-d', exported.model);
      await c.rpc(t, 'nvmf_subsystem_add_ns', exported.nqn, 'Aio0');
      await c.rpc(t, 'nvmf_subsystem_add_listener', exported.nqn, '-t', 'VFIOUSER', '-a', exported.dir, '-s', '0');
      ctx.metric({ name: 'target down', value: Date.now() - killedAt, unit: 'ms' });
    });
    ctx.step('observe the guest');
    const result = await writer;
    await ctx.check('guest.observed', { title: 'what the guest saw (recorded, informational)', area: 'Reset', section: 'vfio-user: server restart is not a defined reconnect; QEMU behaviour recorded', level: 'informational' }, async (c) => {
      c.add({ command: 'writer loop (dd oflag=direct,dsync per 4 KiB block)', where: 'guest', exitCode: result.code, output: `${acked.size} blocks acknowledged (${ackedAtKill} before the kill); ${failures.length} failed attempts\n${failures.slice(0, 10).join('\n')}\n${result.stdout.split('\n').slice(-3).join('\n')}${result.stderr}` });
      ctx.fact('restart.qemuAlive', String(g.alive));
      if (!g.alive) {
        c.note(`QEMU exited after the target was killed; serial log tail:\n${g.serialLog().split('\n').slice(-15).join('\n')}`);
        return;
      }
      const st = await c.sh(g, `cat /sys/class/nvme/${ctrl.name}/state 2>&1; dmesg | grep -iE 'nvme|vfio' | tail -25`, { expectExit: null });
      ctx.fact('restart.controllerState', st.stdout.split('\n')[0] ?? '');
    });
    ctx.step('verify acknowledged writes on the host');
    await ctx.check('no-acked-write-lost', { title: 'every write the guest saw acknowledged is in the backing file', area: 'Data integrity', section: 'NVMe Base 2.1 (a completed Write with FUA/O_DSYNC is durable)' }, async (c) => {
      c.ok(acked.size > 0, 'writes acknowledged before the kill', '> 0', String(acked.size));
      const fd = openSync(file, 'r');
      const buf = Buffer.alloc(BLOCK);
      const lost: number[] = [];
      try {
        for (const i of [...acked].sort((a, b) => a - b)) {
          readSync(fd, buf, 0, BLOCK, i * BLOCK);
          if (!buf.equals(blockPattern(i))) lost.push(i);
        }
      } finally {
        closeSync(fd);
      }
      c.equal(`acknowledged blocks missing or wrong in ${file} (of ${acked.size})`, [], lost.slice(0, 20));
    });
  },
});

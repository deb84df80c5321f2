// guest-nvme-cli: admin and I/O commands issued from the guest with nvme-cli, each output
// checked: identify, namespace list, SMART / error / firmware logs, every feature read, the
// settable ones written and read back, format, write-zeroes, dataset management, flush,
// compare (match and miscompare), verify, write-uncor, copy, controller reset, and NVM
// subsystem reset when offered. A second namespace has 8 bytes of separate metadata with PI
// Type 1 (bdev_malloc_create -m 8 -t 1): the kernel's block integrity profile, I/O through it,
// nvme-cli's --prinfo/--metadata, and a Guard error the kernel reports.
import type { Guest } from '../harness/guest/guest.js';
import type { CheckRecorder } from '../harness/runner/context.js';
import { defineScenario, Skip } from '../harness/runner/scenario.js';
import { namespaceDevice, resetAndRecover } from '../harness/guest/nvme-in-guest.js';
import { setupGuestWithTarget } from './lib/guest-target.js';
import { judgeNumberOfQueuesAfterInit } from './lib/nvme-cli-status.js';

const SERIAL = 'VNVME-CLI-0001';
const MODEL = 'vnvme nvme-cli controller';

/** Features: id, name, whether mandatory for an NVM controller (NVMe Base 2.1 Figure 385). */
const FEATURES: { fid: number; name: string; mandatory: boolean; cdw11?: number; set?: number }[] = [
  { fid: 0x01, name: 'Arbitration', mandatory: true, set: 0x00000003 },
  { fid: 0x02, name: 'Power Management', mandatory: true, set: 0 },
  { fid: 0x04, name: 'Temperature Threshold', mandatory: true, set: 0x0000015e },
  { fid: 0x05, name: 'Error Recovery', mandatory: false, set: 0x00000010 },
  { fid: 0x06, name: 'Volatile Write Cache', mandatory: false },
  { fid: 0x07, name: 'Number of Queues', mandatory: true },
  { fid: 0x08, name: 'Interrupt Coalescing', mandatory: true, set: 0x00000a04 },
  { fid: 0x09, name: 'Interrupt Vector Configuration', mandatory: true, cdw11: 1 },
  { fid: 0x0a, name: 'Write Atomicity Normal', mandatory: true, set: 0 },
  { fid: 0x0b, name: 'Asynchronous Event Configuration', mandatory: true, set: 0x00000100 },
  { fid: 0x0c, name: 'Autonomous Power State Transition', mandatory: false },
  { fid: 0x0d, name: 'Host Memory Buffer', mandatory: false },
  { fid: 0x0e, name: 'Timestamp', mandatory: false },
  { fid: 0x0f, name: 'Keep Alive Timer', mandatory: false },
  { fid: 0x10, name: 'Host Controlled Thermal Management', mandatory: false },
  { fid: 0x11, name: 'Non-Operational Power State Config', mandatory: false },
  { fid: 0x80, name: 'Software Progress Marker', mandatory: false },
  { fid: 0x81, name: 'Host Identifier', mandatory: false },
  { fid: 0x82, name: 'Reservation Notification Mask', mandatory: false },
  { fid: 0x83, name: 'Reservation Persistence', mandatory: false },
];

/** "get-feature:... Current value:0x000003" -> 3 */
function currentValue(out: string): number | undefined {
  const m = /[Cc]urrent value:\s*(0x[0-9a-fA-F]+|\d+)/.exec(out) ?? /value:\s*(0x[0-9a-fA-F]+)/.exec(out);
  return m ? Number(m[1]) : undefined;
}

async function md5(c: CheckRecorder, g: Guest, cmd: string): Promise<string> {
  return (await c.sh(g, `${cmd} | md5sum`)).stdout.split(' ')[0]!;
}

export const scenario = defineScenario({
  name: 'guest-nvme-cli',
  description: 'nvme-cli admin and I/O commands from the guest with checked outputs: id-ctrl, id-ns, list-ns, logs, every feature, set-feature, format, write-zeroes, dsm, flush, compare, verify, write-uncor, copy, protection information (integrity profile, --prinfo, Guard error), reset, subsystem-reset.',
  tags: ['default', 'guest', 'admin'],
  needs: ['qemu'],
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const { guest: g, ctrl } = await setupGuestWithTarget(ctx, {
      serial: SERIAL,
      model: MODEL,
      bdevRpcs: [
        ['bdev_malloc_create', '-b', 'Malloc0', '64', '512'],
        ['bdev_malloc_create', '-b', 'Malloc1', '16', '512', '-m', '8', '-t', '1'],
      ],
      namespaces: ['Malloc0', 'Malloc1'],
      subsystemArgs: ['-n'],
    });
    const dev = `/dev/${ctrl.name}`;
    const ns = `/dev/${ctrl.namespaces[0]}`;
    ctx.step('identify');
    let id: Record<string, unknown> = {};
    await ctx.check('id-ctrl', { title: 'Identify Controller: SN/MN/FR, NN >= 1, SQES/CQES, ONCS decoded', area: 'Identify', section: 'NVMe Base 2.1 5.1.13.2.1' }, async (c) => {
      id = JSON.parse((await c.sh(g, `nvme id-ctrl ${dev} -o json`)).stdout) as Record<string, unknown>;
      c.equal('SN', SERIAL, String(id.sn).trim());
      c.equal('MN', MODEL, String(id.mn).trim());
      c.ok(Number(id.nn) >= 1, 'NN (number of namespaces)', '>= 1', String(id.nn));
      c.equal('SQES (min/max 64 B)', 0x66, Number(id.sqes));
      c.equal('CQES (min/max 16 B)', 0x44, Number(id.cqes));
      ctx.fact('id-ctrl.oncs', `0x${Number(id.oncs).toString(16)}`);
      ctx.fact('id-ctrl.fr', String(id.fr).trim());
    });
    const oncs = Number(id.oncs ?? 0);
    await ctx.check('id-ns', { title: 'Identify Namespace: NSZE = NCAP = 64 MiB / 512, one LBA format in use', area: 'Identify', section: 'NVM Command Set 1.0 4.1.5.1' }, async (c) => {
      const j = JSON.parse((await c.sh(g, `nvme id-ns ${ns} -o json`)).stdout) as { nsze: number; ncap: number; nlbaf: number; flbas: number };
      c.equal('NSZE', 131072, j.nsze);
      c.equal('NCAP', 131072, j.ncap);
      c.ok((j.flbas & 0xf) <= j.nlbaf, 'FLBAS within NLBAF', `<= ${j.nlbaf}`, String(j.flbas & 0xf));
    });
    await ctx.check('list-ns', { title: 'Identify active namespace list holds NSID 1', area: 'Identify', section: 'NVMe Base 2.1 5.1.13.2.2 (CNS 02h)' }, async (c) => {
      const r = await c.sh(g, `nvme list-ns ${dev}`);
      c.ok(/\]:\s*0x1\b/.test(r.stdout) || /\b1\b/.test(r.stdout), 'NSID 1 listed', '[   0]:0x1', r.stdout.trim());
    });
    ctx.step('log pages');
    await ctx.check('smart-log', { title: 'SMART / Health Information log: no critical warning, plausible temperature', area: 'Log pages', section: 'NVMe Base 2.1 5.1.12.1.3' }, async (c) => {
      const j = JSON.parse((await c.sh(g, `nvme smart-log ${dev} -o json`)).stdout) as Record<string, number>;
      c.equal('critical_warning', 0, j.critical_warning);
      const temp = j.temperature ?? 0;
      c.ok(temp > 250 && temp < 400, 'composite temperature (kelvin)', '250..400 K', String(temp));
    });
    await ctx.check('error-log', { title: 'Error Information log page reads', area: 'Log pages', section: 'NVMe Base 2.1 5.1.12.1.2' }, async (c) => {
      const r = await c.sh(g, `nvme error-log ${dev} -e 4 -o json`);
      const j = JSON.parse(r.stdout) as { errors?: unknown[] };
      c.ok(Array.isArray(j.errors), 'errors array', 'array', typeof j.errors);
    });
    await ctx.check('fw-log', { title: 'Firmware Slot log: active slot revision = Identify FR', area: 'Log pages', section: 'NVMe Base 2.1 5.1.12.1.4' }, async (c) => {
      const r = await c.sh(g, `nvme fw-log ${dev} -o json`);
      c.ok(r.stdout.includes(String(id.fr).trim()), 'FR in the firmware log', String(id.fr).trim(), r.stdout.trim().slice(0, 300));
    });
    ctx.step('features');
    for (const f of FEATURES) {
      await ctx.check(`get-feature.${f.fid.toString(16).padStart(2, '0')}`, { title: `Get Features ${f.name} (FID ${f.fid.toString(16)}h)`, area: 'Features', section: 'NVMe Base 2.1 5.1.11 / 5.1.25', level: f.mandatory ? 'mandatory' : 'optional' }, async (c) => {
        const r = await c.sh(g, `nvme get-feature ${dev} -f ${f.fid}${f.cdw11 !== undefined ? ` --cdw11=${f.cdw11}` : ''}${[0x0e, 0x81].includes(f.fid) ? ' -l 16' : ''}`, { expectExit: null });
        if (r.code !== 0) {
          if (!f.mandatory && /INVALID_FIELD|Invalid Field/i.test(r.stdout + r.stderr)) throw new Skip(`optional feature not supported: ${(r.stderr || r.stdout).trim().split('\n').at(-1)}`);
          c.fail(`get-feature ${f.fid} failed: ${(r.stderr || r.stdout).trim().split('\n').at(-1)}`);
        }
      });
    }
    for (const f of FEATURES.filter((x) => x.set !== undefined)) {
      await ctx.check(`set-feature.${f.fid.toString(16).padStart(2, '0')}`, { title: `Set Features ${f.name} to 0x${f.set!.toString(16)} and read it back`, area: 'Features', section: 'NVMe Base 2.1 5.1.25', level: f.mandatory ? 'mandatory' : 'optional' }, async (c) => {
        const before = currentValue((await c.sh(g, `nvme get-feature ${dev} -f ${f.fid}`)).stdout);
        const r = await c.sh(g, `nvme set-feature ${dev} -f ${f.fid} -V ${f.set}`, { expectExit: null });
        if (r.code !== 0) {
          if (!f.mandatory) throw new Skip(`not settable here: ${(r.stderr || r.stdout).trim().split('\n').at(-1)}`);
          c.fail(`set-feature ${f.fid} failed: ${(r.stderr || r.stdout).trim()}`);
        }
        const after = currentValue((await c.sh(g, `nvme get-feature ${dev} -f ${f.fid}`)).stdout);
        const want = f.fid === 0x02 ? f.set! & 0x1f : f.set!;
        c.equal(`current value after set (before: ${before})`, want, after);
        if (before !== undefined && f.fid !== 0x0b) await c.sh(g, `nvme set-feature ${dev} -f ${f.fid} -V ${before}`);
      });
    }
    await ctx.check('set-feature.number-of-queues-after-init', { title: 'Set Features Number of Queues after queues exist is rejected (Command Sequence Error)', area: 'Features', section: 'NVMe Base 2.1 5.1.25.2.1', level: 'optional' }, async (c) => {
      const r = await c.sh(g, `nvme set-feature ${dev} -f 7 -V 0x00010001`, { expectExit: null });
      const j = judgeNumberOfQueuesAfterInit(r);
      if (j.verdict === 'skip') throw new Skip(j.reason);
      c.ok(j.verdict === 'pass', 'NVMe status from the device', 'Command Sequence Error (00h/0Ch)', j.detail);
    });
    ctx.step('I/O commands');
    await ctx.check('write-zeroes', { title: 'Write Zeroes clears 8 blocks of written data', area: 'NVM I/O', section: 'NVM Command Set 1.0 3.3.8', level: oncs & 0x8 ? 'mandatory' : 'optional' }, async (c) => {
      if (!(oncs & 0x8)) throw new Skip('ONCS bit 3 (Write Zeroes) not set');
      await c.sh(g, `head -c 4096 /dev/urandom | dd of=${ns} bs=4096 count=1 oflag=direct status=none`);
      await c.sh(g, `nvme write-zeroes ${ns} -s 0 -c 7`);
      const z = await md5(c, g, `dd if=${ns} bs=4096 count=1 iflag=direct status=none`);
      const ref = await md5(c, g, 'head -c 4096 /dev/zero');
      c.equal('md5 of the first 4 KiB after write-zeroes', ref, z);
    });
    await ctx.check('dsm', { title: 'Dataset Management (deallocate) of 8 blocks completes; other data unchanged', area: 'NVM I/O', section: 'NVM Command Set 1.0 3.3.3', level: oncs & 0x4 ? 'mandatory' : 'optional' }, async (c) => {
      if (!(oncs & 0x4)) throw new Skip('ONCS bit 2 (Dataset Management) not set');
      await c.sh(g, `head -c 8192 /dev/urandom > /tmp/d && dd if=/tmp/d of=${ns} bs=8192 count=1 seek=10 oflag=direct status=none`);
      await c.sh(g, `nvme dsm ${ns} --ad -s 160 -b 8`);
      const after = await md5(c, g, `dd if=${ns} bs=4096 skip=21 count=1 iflag=direct status=none`);
      const want = await md5(c, g, 'dd if=/tmp/d bs=4096 skip=1 count=1 status=none');
      c.equal('blocks next to the deallocated range are unchanged', want, after);
    });
    await ctx.check('flush', { title: 'Flush completes successfully', area: 'NVM I/O', section: 'NVM Command Set 1.0 3.3.2' }, async (c) => {
      await c.sh(g, `nvme flush ${ns}`);
    });
    await ctx.check('compare', { title: 'Compare: matching data succeeds, different data reports Compare Failure', area: 'NVM I/O', section: 'NVM Command Set 1.0 3.3.1', level: oncs & 0x1 ? 'mandatory' : 'optional' }, async (c) => {
      if (!(oncs & 0x1)) throw new Skip('ONCS bit 0 (Compare) not set');
      await c.sh(g, `head -c 512 /dev/urandom > /tmp/c && dd if=/tmp/c of=${ns} bs=512 count=1 seek=100 oflag=direct status=none`);
      await c.sh(g, `nvme compare ${ns} -s 100 -c 0 -z 512 -d /tmp/c`);
      const bad = await c.sh(g, `head -c 512 /dev/urandom > /tmp/x && nvme compare ${ns} -s 100 -c 0 -z 512 -d /tmp/x`, { expectExit: null });
      c.ok(bad.code !== 0 && /COMPARE_FAILED|Compare Failure|COMPARE/i.test(bad.stdout + bad.stderr), 'miscompare status', 'Compare Failure (02h/85h)', `exit ${bad.code}: ${(bad.stdout + bad.stderr).trim()}`);
    });
    await ctx.check('verify', { title: 'Verify of written blocks succeeds; past the last LBA is refused', area: 'NVM I/O', section: 'NVM Command Set 1.0 3.3.5', level: 'optional' }, async (c) => {
      if (!(oncs & 0x80)) throw new Skip('ONCS bit 7 (Verify) not set');
      await c.sh(g, `nvme verify ${ns} -s 0 -c 7`);
      const bad = await c.sh(g, `nvme verify ${ns} -s 131071 -c 1`, { expectExit: null });
      c.ok(bad.code !== 0 && /LBA_RANGE|LBA Out of Range|0x80/i.test(bad.stdout + bad.stderr), 'status past the end', 'LBA Out of Range (00h/80h)', `exit ${bad.code}: ${(bad.stdout + bad.stderr).trim()}`);
    });
    await ctx.check('write-uncor', { title: 'Write Uncorrectable: reads of the block fail until it is written again', area: 'NVM I/O', section: 'NVM Command Set 1.0 3.3.7', level: 'optional' }, async (c) => {
      if (!(oncs & 0x2)) throw new Skip('ONCS bit 1 (Write Uncorrectable) not set');
      await c.sh(g, `nvme write-uncor ${ns} -s 200 -c 0`);
      const rd = await c.sh(g, `dd if=${ns} of=/dev/null bs=512 skip=200 count=1 iflag=direct status=none`, { expectExit: null });
      c.ok(rd.code !== 0, 'a read of the marked block fails', 'dd exits non-zero (Unrecovered Read Error: the kernel reports a medium error, ENODATA)', `exit ${rd.code}: ${(rd.stdout + rd.stderr).trim()}`);
      await c.sh(g, `head -c 512 /dev/urandom > /tmp/u && dd if=/tmp/u of=${ns} bs=512 seek=200 count=1 oflag=direct status=none`);
      const back = await md5(c, g, `dd if=${ns} bs=512 skip=200 count=1 iflag=direct status=none`);
      c.equal('written again: reads what was written', await md5(c, g, 'cat /tmp/u'), back);
    });
    await ctx.check('copy', { title: 'Copy of two source ranges to a destination: the destination reads them in order', area: 'NVM I/O', section: 'NVM Command Set 1.0 3.3.2', level: 'optional' }, async (c) => {
      if (!(oncs & 0x100)) throw new Skip('ONCS bit 8 (Copy) not set');
      await c.sh(g, `head -c 1024 /dev/urandom > /tmp/s && dd if=/tmp/s of=${ns} bs=512 seek=300 count=2 oflag=direct status=none`);
      // Ranges [301, 1 block] and [300, 1 block] (NLB 0's based, as nvme-cli passes it) to LBA 400.
      await c.sh(g, `nvme copy ${ns} --sdlba=400 --slbs=301,300 --blocks=0,0`);
      const got = await md5(c, g, `dd if=${ns} bs=512 skip=400 count=2 iflag=direct status=none`);
      const want = await md5(c, g, '(dd if=/tmp/s bs=512 skip=1 count=1 status=none; dd if=/tmp/s bs=512 count=1 status=none)');
      c.equal('LBA 400-401 hold LBA 301 then 300', want, got);
    });
    await ctx.check('format', { title: 'Format NVM (LBA format 0, no secure erase) completes and the namespace keeps working', area: 'Admin', section: 'NVMe Base 2.1 5.1.10 / NVM Command Set 1.0 4.1.2', level: Number(id.oacs ?? 0) & 0x2 ? 'mandatory' : 'optional' }, async (c) => {
      if (!(Number(id.oacs ?? 0) & 0x2)) throw new Skip('OACS bit 1 (Format NVM) not set');
      await c.sh(g, `nvme format ${ns} --lbaf=0 --ses=0 --force`, { timeoutMs: 120_000 });
      await c.sh(g, `sleep 1; head -c 65536 /dev/urandom > /tmp/f && dd if=/tmp/f of=${ns} bs=65536 count=1 oflag=direct status=none`);
      const r = await md5(c, g, `dd if=${ns} bs=65536 count=1 iflag=direct status=none`);
      c.equal('data written after format reads back', await md5(c, g, 'cat /tmp/f'), r);
    });
    ctx.step('protection information');
    const pi = namespaceDevice(ctrl, 2);
    const piDev = `/dev/${pi}`;
    await ctx.check('pi.integrity', { title: 'PI Type 1 namespace: Identify MS 8 / DPS 1, and the kernel registers a T10-DIF-TYPE1-CRC integrity profile', area: 'Protection', section: 'NVM Command Set 1.0 5.2, Figure 97 (LBAF, DPS)', level: 'optional' }, async (c) => {
      if (!pi) throw new Error(`no namespace with NSID 2 among ${ctrl.namespaces.map((n, i) => `${n} (NSID ${ctrl.nsids[i]})`).join(', ')}`);
      const j = JSON.parse((await c.sh(g, `nvme id-ns ${piDev} -o json`)).stdout) as { flbas: number; dps: number; lbafs: { ms: number; ds: number }[] };
      c.equal('LBAF MS', 8, j.lbafs[j.flbas & 0xf]!.ms);
      c.equal('DPS', 1, j.dps);
      c.equal('integrity format', 'T10-DIF-TYPE1-CRC', (await c.sh(g, `cat /sys/block/${pi}/integrity/format`)).stdout.trim());
      c.equal('protection interval', '512', (await c.sh(g, `cat /sys/block/${pi}/integrity/protection_interval_bytes`)).stdout.trim());
    });
    await ctx.check('pi.block-io', { title: 'Direct I/O through the integrity profile: the kernel generates PI, the target checks it on write and read', area: 'Protection', section: 'NVM Command Set 1.0 5.2 (PRCHK)', level: 'optional' }, async (c) => {
      await c.sh(g, `head -c 65536 /dev/urandom > /tmp/p && dd if=/tmp/p of=${piDev} bs=65536 seek=1 count=1 oflag=direct status=none`);
      c.equal('data read back', await md5(c, g, 'cat /tmp/p'), await md5(c, g, `dd if=${piDev} bs=65536 skip=1 count=1 iflag=direct status=none`));
    });
    await ctx.check('pi.nvme-cli', { title: 'nvme write --prinfo=8 (PRACT) stores generated PI; nvme read --metadata returns it; a fully checked read succeeds', area: 'Protection', section: 'NVM Command Set 1.0 5.2 (PRACT, PRCHK, ILBRT, LBAT)', level: 'optional' }, async (c) => {
      await c.sh(g, 'head -c 512 /dev/urandom > /tmp/b');
      await c.sh(g, `nvme write ${piDev} --start-block=300 --block-count=0 --data-size=512 --data=/tmp/b --prinfo=8 --app-tag=0x1234 --ref-tag=300`);
      await c.sh(g, `nvme read ${piDev} --start-block=300 --block-count=0 --data-size=512 --data=/tmp/r --metadata-size=8 --metadata=/tmp/m --prinfo=0`);
      c.equal('data', await md5(c, g, 'cat /tmp/b'), await md5(c, g, 'cat /tmp/r'));
      const md = (await c.sh(g, 'od -An -tx1 /tmp/m')).stdout.replace(/\s+/g, '');
      c.equal('Application Tag (LBAT)', '1234', md.slice(4, 8));
      c.equal('Reference Tag (the LBA, Type 1)', '0000012c', md.slice(8, 16));
      await c.sh(g, `nvme read ${piDev} --start-block=300 --block-count=0 --data-size=512 --data=/tmp/r --metadata-size=8 --metadata=/tmp/m --prinfo=7 --ref-tag=300 --app-tag=0x1234 --app-tag-mask=0xffff`);
    });
    await ctx.check('pi.guard-error', { title: 'A block stored with a wrong Guard: checked reads fail with End-to-end Guard Check Error (the kernel: EILSEQ), unchecked reads succeed, a rewrite heals it', area: 'Protection', section: 'NVM Command Set 1.0 5.2.1.4, status 282h', level: 'optional' }, async (c) => {
      // /tmp/m holds block 300's valid PI: its Guard set to FFFFh (wrong but for 1 in 65536), stored with PRCHK clear.
      await c.sh(g, "printf '\\377\\377' | dd of=/tmp/m bs=1 count=2 conv=notrunc status=none");
      await c.sh(g, `nvme write ${piDev} --start-block=300 --block-count=0 --data-size=512 --data=/tmp/b --metadata-size=8 --metadata=/tmp/m --prinfo=0`);
      const chk = await c.sh(g, `nvme read ${piDev} --start-block=300 --block-count=0 --data-size=512 --data=/tmp/r --metadata-size=8 --metadata=/tmp/m --prinfo=4`, { expectExit: null });
      c.ok(chk.code !== 0 && /GUARD|0x282|282/i.test(chk.stdout + chk.stderr), 'nvme read with the Guard check', 'End-to-end Guard Check Error (282h)', `exit ${chk.code}: ${(chk.stdout + chk.stderr).trim()}`);
      const rd = await c.sh(g, `dd if=${piDev} of=/dev/null bs=512 skip=300 count=1 iflag=direct status=none`, { expectExit: null });
      // The kernel maps 282h-284h to BLK_STS_PROTECTION, which a read returns as EILSEQ.
      c.ok(rd.code !== 0 && /Invalid or incomplete multibyte/.test(rd.stderr), "the kernel's read (PRCHK guard and ref)", 'EILSEQ (BLK_STS_PROTECTION)', `exit ${rd.code}: ${rd.stderr.trim()}`);
      await c.sh(g, `nvme read ${piDev} --start-block=300 --block-count=0 --data-size=512 --data=/tmp/r --prinfo=0 --metadata-size=8 --metadata=/tmp/m`);
      await c.sh(g, `dd if=/tmp/b of=${piDev} bs=512 seek=300 count=1 oflag=direct status=none`);
      c.equal('rewritten block reads', await md5(c, g, 'cat /tmp/b'), await md5(c, g, `dd if=${piDev} bs=512 skip=300 count=1 iflag=direct status=none`));
    });
    ctx.step('resets');
    await ctx.check('nvme-reset', { title: 'nvme reset: controller reset, live again, I/O works', area: 'Reset', section: 'NVMe Base 2.1 3.7.2 (Controller Level Reset)' }, async (c) => {
      const r = await resetAndRecover(g, ctrl);
      c.add({ command: r.reset.command, where: 'guest', exitCode: r.reset.code, output: r.reset.stdout + r.reset.stderr, note: `live again after ${r.liveAfterMs} ms` });
      ctx.metric({ name: 'controller reset to live', value: r.liveAfterMs, unit: 'ms' });
    });
    await ctx.check('subsystem-reset', { title: 'nvme subsystem-reset (NSSR) when CAP.NSSRS is set: controller comes back live', area: 'Reset', section: 'NVMe Base 2.1 3.7.1 (NVM Subsystem Reset)', level: 'optional' }, async (c) => {
      // CAP.NSSRS: from show-regs when BAR0 can be mapped (Debian kernels refuse it for a bound
      // device: CONFIG_IO_STRICT_DEVMEM); otherwise the kernel's own answer: the ioctl returns
      // ENOTTY when the controller does not offer NVM subsystem reset.
      const regs = await c.sh(g, `nvme show-regs ${dev} -o json`, { expectExit: null });
      let cap: bigint | undefined;
      try {
        cap = BigInt((JSON.parse(regs.stdout) as { cap: number | string }).cap);
      } catch {
        c.note('CAP not readable from the guest (show-regs failed); asking the kernel with the ioctl');
      }
      if (cap !== undefined && ((cap >> 36n) & 1n) === 0n) throw new Skip('CAP.NSSRS is 0: NVM subsystem reset not supported');
      const nssr = await c.sh(g, `nvme subsystem-reset ${dev}`, { expectExit: null });
      if (nssr.code !== 0 && /Inappropriate ioctl|not supported|ENOTTY/i.test(nssr.stdout + nssr.stderr)) throw new Skip(`the kernel reports no NVM subsystem reset support (CAP.NSSRS = 0): ${(nssr.stdout + nssr.stderr).trim()}`);
      const deadline = Date.now() + 60_000;
      let state = '';
      while (Date.now() < deadline) {
        state = (await g.exec(`cat /sys/class/nvme/${ctrl.name}/state`)).stdout.trim();
        if (state === 'live') break;
        await new Promise((r) => setTimeout(r, 500));
      }
      c.equal('controller state after subsystem reset', 'live', state);
      await c.sh(g, `dd if=${ns} of=/dev/null bs=4096 count=16 iflag=direct status=none`);
    });
  },
});

// libvirt-guest: the SPDK+libvfio-user guide's libvirt path. Our target exports a controller
// whose socket DIR/cntrl it gives libvirt's QEMU group (`vnvme target --socket-group G
// --socket-mode 0660`); `vnvme libvirt domain` writes the domain (shared guest RAM on hugepages
// or memfd, the vfio-user device on <qemu:commandline>); Debian's libvirtd (installed and
// started here when missing, where apt-get exists; else the scenario is skipped with the reason)
// defines and starts it; QEMU runs as libvirt's unprivileged user, the guest's nvme driver binds
// and fio verify passes. Not in the default suite: it installs packages and starts a daemon.
//   npm run scenario -- libvirt-guest [--memory memfd]
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, chownSync, chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { defineScenario } from '../harness/runner/scenario.js';

const SERIAL = 'VNVME-LIBVIRT-01';
const STAGE_ROOT = '/var/lib/vnvme/libvirt';

export const scenario = defineScenario({
  name: 'libvirt-guest',
  description: "Debian's libvirtd runs the guest: the domain `vnvme libvirt domain` writes (shared RAM on hugepages or memfd, vfio-user on <qemu:commandline>), QEMU as libvirt's unprivileged user on a socket whose group the target set; nvme driver binds, fio verify passes.",
  tags: ['libvirt', 'guest'],
  needs: ['qemu'],
  timeoutMs: 30 * 60_000,
  async run(ctx) {
    const { libvirtMissing, installLibvirt, ensureLibvirtd, stopStartedDaemons, libvirtQemuAccount, virsh } = await import('../harness/libvirt/daemon.js');
    const { stageForLibvirt } = await import('../harness/libvirt/stage.js');
    const { domainXml } = await import('../harness/libvirt/domain.js');
    const { findHugetlbfsMount, prepareGuestMemory, releaseGuestMemory } = await import('../harness/guest/memory.js');
    const { chooseAccelerator } = await import('../harness/guest/accel.js');
    const { freePort } = await import('../harness/guest/guest.js');
    const { GuestSsh } = await import('../harness/guest/ssh.js');
    const { waitForController } = await import('../harness/guest/nvme-in-guest.js');
    const { groupId } = await import('../target/account-ids.js');

    ctx.step('libvirt');
    if (libvirtMissing()) {
      ctx.progress.step('installing libvirt (apt-get)');
      const inst = installLibvirt();
      ctx.saveText('apt-get.log', inst.output);
      if (inst.reason) ctx.skip(inst.reason);
    }
    const daemons = await ensureLibvirtd();
    ctx.fact('libvirtd', daemons.how);
    for (const pid of daemons.pids) ctx.trackProcess(pid);
    ctx.onFinish(() => stopStartedDaemons(daemons));
    const version = spawnSync('libvirtd', ['--version'], { encoding: 'utf8', env: { ...process.env, PATH: `${process.env.PATH ?? ''}:/usr/sbin` } });
    ctx.fact('libvirt.version', (version.stdout ?? '').trim());
    const account = libvirtQemuAccount();
    ctx.fact('libvirt.qemu-account', `${account.user}:${account.group}`);

    const parts = await ctx.parts();
    const accel = await chooseAccelerator(ctx.settings.accel ?? 'auto', parts.qemu, parts.image.kernel, ctx.progress);
    ctx.fact('accelerator', `${accel.accel} (${accel.reason})`);
    ctx.fact('qemu', parts.qemu.description);

    // Guest RAM: libvirt takes hugepages from a hugetlbfs mounted before libvirtd started.
    const memMiB = 1024;
    const hugetlbfs = findHugetlbfsMount(readFileSync('/proc/mounts', 'utf8'));
    let memory: 'hugepages' | 'memfd' = ctx.settings.memory === 'memfd' || !hugetlbfs ? 'memfd' : 'hugepages';
    if (ctx.settings.memory === 'hugepages' && !hugetlbfs) ctx.skip('--memory hugepages: no hugetlbfs is mounted for libvirt (.ci/prepare-runner mounts one at /dev/hugepages)');
    let releasePages = async (): Promise<void> => undefined;
    if (memory === 'hugepages') {
      try {
        const m = await prepareGuestMemory(memMiB, 'hugepages', ctx.tmp);
        void m.settle(() => undefined);
        releasePages = () => releaseGuestMemory(m.reservation);
      } catch (err) {
        if (ctx.settings.memory === 'hugepages') throw err;
        ctx.fact('memory.fallback', (err as Error).message);
        memory = 'memfd';
      }
    }
    ctx.onFinish(() => releasePages());
    ctx.fact('memory', memory);

    ctx.step('stage image and QEMU for libvirt');
    const name = `vnvme-${process.pid}`;
    const stage = join(STAGE_ROOT, name);
    rmSync(stage, { recursive: true, force: true });
    mkdirSync(STAGE_ROOT, { recursive: true, mode: 0o755 });
    const staged = stageForLibvirt(stage, parts.image, parts.qemu);
    ctx.onFinish(() => rmSync(stage, { recursive: true, force: true }));
    // The listener directory: ours, not writable by others, enterable by QEMU's group.
    const ctrlDir = join(stage, 'ctrl');
    mkdirSync(ctrlDir, { mode: 0o750 });
    chownSync(ctrlDir, 0, groupId(account.group));
    chmodSync(ctrlDir, 0o750);

    ctx.step('start target');
    const target = await ctx.target('target', { args: ['--socket-group', account.group, '--socket-mode', '0660'] });
    const socket = join(ctrlDir, 'cntrl');
    const nqn = 'nqn.2019-07.io.spdk:libvirt-guest';
    const configured = await ctx.check('setup.rpc', { title: 'target configured through vnvme rpc, listener in a directory QEMU can enter', area: 'Harness', section: '' }, async (c) => {
      await c.rpc(target, 'nvmf_create_transport', ...ctx.transportArgs());
      await c.rpc(target, 'bdev_malloc_create', '-b', 'Malloc0', '64', '512');
      await c.rpc(target, 'nvmf_create_subsystem', nqn, '-a', '-s', SERIAL, '-d', 'vnvme libvirt');
      await c.rpc(target, 'nvmf_subsystem_add_ns', nqn, 'Malloc0');
      await c.rpc(target, 'nvmf_subsystem_add_listener', nqn, '-t', 'VFIOUSER', '-a', ctrlDir, '-s', '0');
      for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
      c.ok(existsSync(socket), 'vfio-user socket', socket, 'missing');
    });
    if (!configured) return;
    await ctx.check('socket.group', { title: "the listener socket belongs to libvirt's QEMU group, mode 0660 (vnvme target --socket-group/--socket-mode)", area: 'Harness', section: '' }, (c) => {
      const st = statSync(socket);
      c.equal('socket owner uid, group gid, mode', `0 ${groupId(account.group)} 660`, `${st.uid} ${st.gid} ${(st.mode & 0o777).toString(8)}`);
    });

    ctx.step('define and start the domain');
    const sshPort = await freePort();
    const xml = domainXml({
      name,
      type: accel.accel === 'kvm' ? 'kvm' : 'qemu',
      memMiB,
      vcpus: 2,
      memory,
      emulator: staged.emulator,
      kernel: staged.kernel,
      initrd: staged.initrd,
      cmdline: parts.image.append,
      disk: staged.disk,
      serialLog: staged.serialLog,
      socket,
      syntax: parts.qemu.vfioUserSyntax,
      sshPort,
    });
    const xmlFile = join(ctx.dir, 'domain.xml');
    writeFileSync(xmlFile, xml);
    ctx.artifact('domain.xml', xmlFile);
    await ctx.check('domain.valid', { title: 'the domain XML is valid for libvirt (virt-xml-validate)', area: 'Harness', section: '' }, async (c) => {
      const r = spawnSync('virt-xml-validate', [xmlFile, 'domain'], { encoding: 'utf8' });
      c.add({ command: `virt-xml-validate ${xmlFile} domain`, where: 'host', exitCode: r.status, output: `${r.stdout}${r.stderr}` });
      if (r.error) c.fail(`virt-xml-validate: ${r.error.message}`);
      c.equal('virt-xml-validate exit status', 0, r.status);
    });
    ctx.onFinish(async () => {
      await virsh(['destroy', name], 60_000);
      await virsh(['undefine', name], 60_000);
      ctx.artifact('libvirt-qemu.log', `/var/log/libvirt/qemu/${name}.log`, 60);
      ctx.artifact('serial.log', staged.serialLog, 120);
    });
    const started = await ctx.check('domain.start', { title: 'virsh define + start: libvirtd starts QEMU with the domain', area: 'Harness', section: '' }, async (c) => {
      for (const args of [['define', xmlFile], ['start', name]]) {
        const r = await virsh(args);
        c.add({ command: r.command, where: 'host', exitCode: r.code, output: r.output });
        if (r.code !== 0) c.fail(`${r.command} failed: ${r.output.trim().split('\n').slice(-3).join(' | ')}`);
      }
    });
    if (!started) return;
    const pidFile = `/run/libvirt/qemu/${name}.pid`;
    for (let i = 0; i < 100 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 100));
    const qemuPid = Number.parseInt(existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : '0', 10);
    if (qemuPid > 0) ctx.trackProcess(qemuPid, { name: 'serial.log', path: staged.serialLog });

    await ctx.check('qemu.unprivileged', { title: "QEMU runs as libvirt's unprivileged user, not root", area: 'Harness', section: '' }, (c) => {
      c.ok(qemuPid > 0, 'QEMU pid from libvirt', 'a pid', String(qemuPid));
      const status = readFileSync(`/proc/${qemuPid}/status`, 'utf8');
      const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      const user = spawnSync('id', ['-u', account.user], { encoding: 'utf8' }).stdout.trim();
      c.equal('QEMU uid', user, String(uid));
      c.ok(uid !== 0, 'QEMU is not root', 'uid != 0', String(uid));
    });
    await ctx.check('memory.shared', { title: `guest RAM is shared with the target (${memory})`, area: 'Harness', section: '' }, (c) => {
      const cmd = readFileSync(`/proc/${qemuPid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      c.add({ note: 'QEMU command line (from libvirt)', output: cmd });
      const shared = memory === 'hugepages' ? /memory-backend-file[^ ]*(mem-path[^ ]*hugepages|hugepages[^ ]*)/.test(cmd) && /"share":true|share=(on|yes)/.test(cmd) : /memory-backend-memfd/.test(cmd) && /"share":true|share=(on|yes)/.test(cmd);
      c.ok(shared, 'memory backend', memory === 'hugepages' ? 'memory-backend-file on hugetlbfs, shared' : 'memory-backend-memfd, shared', cmd.match(/memory-backend-\w+[^ ]*/)?.[0] ?? 'none');
    });

    ctx.step('boot (SSH)');
    const t0 = Date.now();
    const ssh = await GuestSsh.connect(
      { host: '127.0.0.1', port: sshPort, username: 'root', privateKeyPath: parts.image.privateKeyPath },
      { timeoutMs: accel.accel === 'kvm' ? 120_000 : 300_000, alive: () => (qemuPid > 0 && !existsSync(`/proc/${qemuPid}`) ? new Error(`QEMU (pid ${qemuPid}) exited; see libvirt-qemu.log`) : undefined) },
    );
    ctx.onFinish(() => ssh.close());
    ctx.metric({ name: 'guest boot to SSH (libvirt)', value: Date.now() - t0, unit: 'ms' });

    ctx.step('checks');
    let dev = '';
    await ctx.check('driver.binds', { title: "the guest's nvme driver binds our controller", area: 'Initialization', section: 'NVMe Base 2.1 3.5.1' }, async (c) => {
      const ctrl = await waitForController(ssh, SERIAL, 90_000);
      const r = await c.sh(ssh, `cat /sys/class/nvme/${ctrl.name}/state; basename $(readlink /sys/class/nvme/${ctrl.name}/device/driver)`);
      c.equal('state and driver', 'live\nnvme', r.stdout.trim());
      dev = `/dev/${ctrl.namespaces[0]}`;
    });
    await ctx.check('fio.verify', { title: 'fio random writes with crc32c verify pass (4 KiB-128 KiB, QD8)', area: 'Data integrity', section: 'NVM Command Set 1.0 3.3.4, 3.3.6' }, async (c) => {
      if (!dev) c.fail('no namespace (driver.binds failed)');
      const r = await c.sh(ssh, `fio --name=libvirt --filename=${dev} --direct=1 --ioengine=libaio --rw=randwrite --bsrange=4k-128k --iodepth=8 --size=32M --verify=crc32c --verify_fatal=1 --do_verify=1 --output=/tmp/fio.txt; echo rc=$?`, { timeoutMs: 600_000 });
      c.ok(/rc=0\s*$/.test(r.stdout), 'fio exit status', '0', r.stdout.trim().split('\n').pop() ?? '');
    });
  },
});

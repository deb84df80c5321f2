// The usual start of a guest scenario: our target in its own process configured through
// `vnvme rpc` (transport, bdevs, subsystem, listener), a guest attached to it, and the
// controller found in the guest by its serial number.
import type { Guest } from '../../harness/guest/guest.js';
import type { GuestOptions } from '../../harness/guest/guest.js';
import { waitForController, type GuestController } from '../../harness/guest/nvme-in-guest.js';
import type { ScenarioContext } from '../../harness/runner/context.js';
import type { ExportedController, ScenarioTarget } from '../../harness/runner/target.js';
import { CheckFailed } from '../../harness/runner/scenario.js';

export interface GuestWithTarget {
  target: ScenarioTarget;
  exported: ExportedController;
  guest: Guest;
  ctrl: GuestController;
}

export interface SetupOptions {
  serial: string;
  model: string;
  /** rpc lines creating the bdevs, e.g. [['bdev_malloc_create', '-b', 'Malloc0', '256', '512']] */
  bdevRpcs: string[][];
  /** Namespaces, in order (bdev names). */
  namespaces: string[];
  subsystemArgs?: string[];
  /** rpc lines run after the namespaces are added, before the listener; `{nqn}` is the subsystem's NQN. */
  subsystemRpcs?: string[][];
  guest?: Partial<Omit<GuestOptions, 'qemu' | 'image'>>;
}

export async function setupGuestWithTarget(ctx: ScenarioContext, o: SetupOptions): Promise<GuestWithTarget> {
  ctx.step('start target');
  const target = await ctx.target();
  let exported: ExportedController | undefined;
  await ctx.check('setup.rpc', { title: 'target configured through vnvme rpc', area: 'Harness', section: '' }, async (c) => {
    await c.rpc(target, 'nvmf_create_transport', ...ctx.transportArgs());
    for (const args of o.bdevRpcs) await c.rpc(target, args[0]!, ...args.slice(1));
    const nqn = `nqn.2019-07.io.spdk:${ctx.scenario.name}`;
    const dir = `${target.workDir}/ctrl0`;
    const { mkdirSync, existsSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    await c.rpc(target, 'nvmf_create_subsystem', nqn, '-a', '-s', o.serial, '-d', o.model, ...(o.subsystemArgs ?? []));
    for (const b of o.namespaces) await c.rpc(target, 'nvmf_subsystem_add_ns', nqn, b);
    for (const args of o.subsystemRpcs ?? []) await c.rpc(target, args[0]!, ...args.slice(1).map((a) => a.replaceAll('{nqn}', nqn)));
    await c.rpc(target, 'nvmf_subsystem_add_listener', nqn, '-t', 'VFIOUSER', '-a', dir, '-s', '0');
    const socket = `${dir}/cntrl`;
    for (let i = 0; i < 200 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
    c.ok(existsSync(socket), 'vfio-user socket created by the listener', socket, existsSync(socket) ? socket : 'missing');
    exported = { nqn, dir, socket, serial: o.serial, model: o.model, bdev: o.namespaces[0] ?? '' };
  });
  if (!exported) throw new CheckFailed('target setup failed (see the setup.rpc check)');
  ctx.step('boot guest');
  const guest = await ctx.guest({ vfioUser: [{ id: 'vfu0', socket: exported.socket }], ...o.guest });
  ctx.step('find the controller in the guest');
  let ctrl: GuestController | undefined;
  await ctx.check('guest.controller-present', { title: 'the guest nvme driver binds our controller and exposes its namespace', area: 'Initialization', section: 'NVMe Base 2.1 3.5.1 (controller initialization)' }, async (c) => {
    try {
      ctrl = await waitForController(guest, o.serial, 90_000);
    } catch (err) {
      c.note((err as Error).message);
      c.fail(`no controller with serial ${o.serial} and a namespace in the guest`);
    }
    c.equal('controller serial (sysfs)', o.serial, ctrl!.serial);
    await c.sh(guest, `cat /sys/class/nvme/${ctrl!.name}/state; readlink /sys/class/nvme/${ctrl!.name}/device/driver; dmesg | grep -i nvme | tail -20`);
  });
  if (!ctrl) throw new CheckFailed(`controller ${o.serial} did not appear in the guest`);
  ctx.fact('guest.controller', `${ctrl.name} at ${ctrl.address}: ${ctrl.namespaces.join(' ')}`);
  return { target, exported, guest, ctrl };
}

// Rebooting a running guest in place: QMP set-action reboot=reset, then system_reset (the same QEMU, devices reset as on a
// power cycle of the machine), then SSH again. Guest (harness/guest/guest.ts) has no reboot;
// this adds one without changing it.
import type { Guest } from '../guest/guest.js';
import { GuestSsh } from '../guest/ssh.js';

export async function rebootGuest(g: Guest, timeoutMs = 240_000): Promise<number> {
  await g.exec('sync').catch(() => undefined);
  const t0 = Date.now();
  const qmp = await g.qmp();
  try {
    // The harness starts QEMU with -no-reboot (a guest reboot ends QEMU); for this reset only,
    // make a reset a reset (QMP set-action, QEMU >= 6.0).
    await qmp.execute('set-action', { reboot: 'reset' });
    await qmp.execute('system_reset');
  } finally {
    qmp.close();
  }
  g.ssh.close();
  // The old sshd may still answer for a moment before the reset takes effect.
  await new Promise((r) => setTimeout(r, 1500));
  g.ssh = await GuestSsh.connect(
    { host: '127.0.0.1', port: g.info.sshPort, username: 'root', privateKeyPath: g.info.privateKeyPath },
    { timeoutMs, alive: () => (g.alive ? undefined : new Error('QEMU exited during the reboot')) },
  );
  return Date.now() - t0;
}

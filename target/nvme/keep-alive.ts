// Keep Alive (NVMe Base 2.0 3.9, the Keep Alive command 5.15, the Keep Alive Timer feature
// 5.27.1.12). Optional over PCIe: its KATO defaults to 0 (disabled), and Linux's nvme-pci never
// sets it, but a host that does gets what the spec gives it.
//
// The controller's timer starts when a Set Features with a non-zero KATO completes and restarts
// on every Keep Alive command; CTRATT.TBKAS is 0, so other commands do not restart it. If KATO
// passes without one, the controller does what 3.9 says for an expiry: it records an Error
// Information log entry (Keep Alive Timer Expired, 19h) and stops processing commands (I/O
// queues torn down, admin commands no longer fetched) with CSTS.CFS set. PCIe has no transport
// connection to drop, so the association ends as after any controller fatal status: the host
// resets the controller (CC.EN 1 -> 0), which clears KATO to its default 0. SPDK's nvmf
// target does the same on its keep alive poller (set CFS, disconnect the queue pairs); QEMU's
// emulated NVMe reports KAS 0 and has no timer.
//
// The timer is paused while the device is quiesced for live migration and started afresh,
// with the whole KATO, when it resumes (source or destination): the guest did not run meanwhile.
import { CSTS_CFS, Status } from './constants.js';
import type { NvmeController } from './controller.js';

export class KeepAliveTimer {
  private timer: NodeJS.Timeout | null = null;
  /** When the running timer expires (Date.now() ms), for tests and debugging. */
  deadline: number | null = null;

  constructor(private readonly c: NvmeController) {}

  get running(): boolean {
    return this.timer !== null;
  }

  /** Starts the timer again with the current KATO (a Keep Alive command, Set Features, resume). */
  restart(): void {
    this.stop();
    const ms = this.c.features.keepAliveTimeoutMs;
    if (!ms || !this.c.admin) return;
    this.deadline = Date.now() + ms;
    this.timer = setTimeout(() => this.expire(), ms);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.deadline = null;
  }

  private expire(): void {
    this.timer = null;
    this.deadline = null;
    const c = this.c;
    if (!c.admin || c.frozen) return;
    c.log.warn('Keep Alive Timer expired: controller fatal status, commands no longer processed', { katoMs: c.features.keepAliveTimeoutMs });
    c.errorLog.record({ sqid: 0xffff, cid: 0xffff, status: Status.KEEP_ALIVE_TIMER_EXPIRED, paramLocation: 0xffff, lba: 0n, nsid: 0 });
    for (const e of c.inflightIo.values()) e.abort('dropped');
    c.inflightIo.clear();
    try {
      c.io.resetQueues();
    } catch {
      /* never attached */
    }
    c.sqs.clear();
    c.cqs.clear();
    // No admin queue: nothing more is fetched or completed until the host resets the controller.
    c.admin = null;
    c.pendingAdminCqes = [];
    c.csts |= CSTS_CFS;
  }
}

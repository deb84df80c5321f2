// Warnings about a client's refused requests, at most `burst` per `intervalMs`: a hostile
// client can make us refuse thousands of requests a second, and the log must not become the
// resource it exhausts. What was held back is counted and said when the window closes.
import type { Logger } from './device.js';

export class WarnLimiter {
  private windowStart = 0;
  private inWindow = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly burst = 10,
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  warn(msg: string, fields?: Record<string, unknown>): void {
    const t = this.now();
    if (t - this.windowStart >= this.intervalMs) {
      if (this.suppressed > 0) this.log.warn('similar warnings suppressed', { count: this.suppressed, intervalMs: this.intervalMs });
      this.windowStart = t;
      this.inWindow = 0;
      this.suppressed = 0;
    }
    if (this.inWindow++ < this.burst) this.log.warn(msg, fields);
    else this.suppressed++;
  }
}

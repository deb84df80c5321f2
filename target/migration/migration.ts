// Live migration of one device: the v2 state machine driven arc by arc, the outgoing and
// incoming device-state streams, and dirty-page logging over the DMA table. Protocol
// adapters (v2.ts: DEVICE_FEATURE + MIG_DATA; v1.ts: the migration region + DIRTY_PAGES)
// translate messages into calls on this class. Transitions complete before the reply
// (vfio-user spec: "the SET must complete the transition before replying").
import type { DmaSpace } from '../vfio-user/dma.js';
import { silentLogger, type Logger } from '../vfio-user/device.js';
import { Errno, WireError } from '../vfio-user/wire.js';
import { MigState, stateName, transitionPath } from './state-machine.js';

/** What a device gives the migration machinery. */
export interface MigratableDevice {
  /** Stops DMA, completions and interrupts; in-flight work completes or is captured. */
  quiesce(): Promise<void>;
  resume(): void;
  /** The device-state record (device quiesced). */
  save(): Buffer;
  /** Validates and applies a record; throws before changing anything if it is bad. */
  load(record: Buffer): void;
  /**
   * The client vanished while the device was stopped for migration: the guest that owned
   * its queues now runs elsewhere (or died). Reset it, so nothing is executed or completed
   * twice when memory is mapped again.
   */
  abandon(): void;
}

export interface MigrationOptions {
  log?: Logger;
  /** Largest incoming record accepted (default 16 MiB). */
  maxRecord?: number;
}

export interface MigrationStats {
  transitions: number;
  lastQuiesceMs: number;
  bytesOut: number;
  bytesIn: number;
}

export class DeviceMigration {
  state: MigState = MigState.RUNNING;
  private outgoing: Buffer | null = null;
  private readAt = 0;
  private incoming: Buffer[] = [];
  private incomingBytes = 0;
  /** Dirty-page logging page size, or null when off. */
  loggingPageSize: number | null = null;
  readonly log: Logger;
  readonly stats: MigrationStats = { transitions: 0, lastQuiesceMs: 0, bytesOut: 0, bytesIn: 0 };
  /** Error of the transition that put the device in ERROR. */
  lastError: string | null = null;

  constructor(
    readonly device: MigratableDevice,
    readonly dma: DmaSpace,
    readonly opts: MigrationOptions = {},
  ) {
    this.log = opts.log ?? silentLogger;
  }

  // ------------------------------------------------------------------ state machine

  /** Moves to `to` by the shortest path; on a failed arc the device is left in ERROR. */
  async setState(to: number): Promise<void> {
    const path = transitionPath(this.state, to as MigState);
    if (path === null) throw new WireError(Errno.EINVAL, `migration: ${stateName(this.state)} -> ${stateName(to)} is not a valid transition`);
    for (const next of path) {
      const from = this.state;
      try {
        await this.arc(from, next);
      } catch (err) {
        this.state = MigState.ERROR;
        this.lastError = (err as Error).message;
        this.log.error('migration transition failed; device is in ERROR until reset', { from: stateName(from), to: stateName(next), error: this.lastError });
        throw new WireError(err instanceof WireError ? err.errno : Errno.EINVAL, `migration ${stateName(from)} -> ${stateName(next)} failed: ${this.lastError}`);
      }
      this.state = next;
      this.stats.transitions++;
      this.log.debug('migration state', { from: stateName(from), to: stateName(next) });
    }
  }

  private async arc(from: MigState, to: MigState): Promise<void> {
    const { STOP, RUNNING, STOP_COPY, RESUMING, PRE_COPY } = MigState;
    if (from === RUNNING && to === STOP) return this.quiesce();
    if (from === STOP && to === RUNNING) return this.device.resume();
    if (from === STOP && to === STOP_COPY) return this.stage();
    if (from === STOP_COPY && to === STOP) {
      this.outgoing = null;
      return;
    }
    if (from === STOP && to === RESUMING) {
      this.incoming = [];
      this.incomingBytes = 0;
      return;
    }
    if (from === RESUMING && to === STOP) return this.restore();
    if (from === RUNNING && to === PRE_COPY) return; // the device keeps running; all its state moves in STOP_COPY
    if (from === PRE_COPY && to === RUNNING) return;
    if (from === PRE_COPY && to === STOP_COPY) {
      await this.quiesce();
      return this.stage();
    }
    throw new WireError(Errno.EINVAL, `no arc ${stateName(from)} -> ${stateName(to)}`);
  }

  private async quiesce(): Promise<void> {
    const t0 = performance.now();
    await this.device.quiesce();
    this.stats.lastQuiesceMs = performance.now() - t0;
  }

  private stage(): void {
    this.outgoing = this.device.save();
    this.readAt = 0;
  }

  private restore(): void {
    const record = Buffer.concat(this.incoming);
    this.incoming = [];
    this.incomingBytes = 0;
    if (record.length === 0) throw new WireError(Errno.EINVAL, 'no device state was written while RESUMING');
    this.device.load(record);
    this.stats.bytesIn += record.length;
  }

  // ------------------------------------------------------------------ data streams

  /** Bytes of device state not yet read (PRE_COPY: none; STOP_COPY: the rest of the record). */
  get pendingBytes(): number {
    if (this.state !== MigState.STOP_COPY || !this.outgoing) return 0;
    return this.outgoing.length - this.readAt;
  }

  /** The next up to `max` bytes of the outgoing stream (PRE_COPY, STOP_COPY). */
  readData(max: number): Buffer {
    if (this.state !== MigState.PRE_COPY && this.state !== MigState.STOP_COPY)
      throw new WireError(Errno.EINVAL, `migration data can only be read in PRE_COPY or STOP_COPY, not ${stateName(this.state)}`);
    if (this.state === MigState.PRE_COPY || !this.outgoing) return Buffer.alloc(0);
    const n = Math.min(max, this.outgoing.length - this.readAt);
    const out = this.outgoing.subarray(this.readAt, this.readAt + n);
    this.readAt += n;
    this.stats.bytesOut += n;
    return out;
  }

  /** Appends to the incoming stream (RESUMING). */
  writeData(data: Buffer): void {
    if (this.state !== MigState.RESUMING) throw new WireError(Errno.EINVAL, `migration data can only be written in RESUMING, not ${stateName(this.state)}`);
    const max = this.opts.maxRecord ?? 16 << 20;
    if (this.incomingBytes + data.length > max) throw new WireError(Errno.E2BIG, `incoming device state exceeds ${max} bytes`);
    this.incoming.push(Buffer.from(data));
    this.incomingBytes += data.length;
  }

  // ------------------------------------------------------------------ dirty page logging

  startLogging(pageSize: number): void {
    if (pageSize < 512 || pageSize > 1 << 30 || (pageSize & (pageSize - 1)) !== 0) throw new WireError(Errno.EINVAL, `dirty page size ${pageSize} is not a power of two in 512..1 GiB`);
    // Restarting with another page size starts a fresh log (the kernel's rule for DMA_LOGGING_START).
    this.dma.table.startDirtyLog(pageSize);
    this.loggingPageSize = pageSize;
  }

  stopLogging(): void {
    if (this.loggingPageSize === null) return;
    this.dma.table.stopDirtyLog();
    this.loggingPageSize = null;
  }

  /** Dirty bitmap (u64 words, bit n = page n) of [iova, iova+length), cleared as read. */
  dirtyBitmap(iova: bigint, length: bigint, pageSize: number): Buffer {
    if (this.loggingPageSize === null) throw new WireError(Errno.EINVAL, 'dirty page logging is not started');
    if (pageSize !== this.loggingPageSize) throw new WireError(Errno.EINVAL, `bitmap page size ${pageSize} differs from the logging page size ${this.loggingPageSize}`);
    if (length === 0n || iova % BigInt(pageSize) !== 0n) throw new WireError(Errno.EINVAL, 'dirty bitmap range must be page-aligned and non-empty');
    try {
      return this.dma.table.dirtyBitmap(iova, length, pageSize, true);
    } catch (err) {
      throw new WireError(Errno.EINVAL, `dirty bitmap: ${(err as Error).message}`);
    }
  }

  // ------------------------------------------------------------------ reset and disconnect

  /** DEVICE_RESET: the device is reset, migration starts over in RUNNING. */
  deviceReset(): void {
    const wasStopped = this.state !== MigState.RUNNING && this.state !== MigState.PRE_COPY;
    this.outgoing = null;
    this.incoming = [];
    this.incomingBytes = 0;
    this.state = MigState.RUNNING;
    this.lastError = null;
    if (wasStopped) this.device.resume();
  }

  /**
   * The client went away: forget the streams and logging. A device stopped for migration
   * (STOP, STOP_COPY, RESUMING, ERROR) is reset, since its queues belong to a guest that runs
   * elsewhere now; the next client finds a running, reset device. RUNNING and PRE_COPY keep
   * the device state for a reconnecting client, as the protocol asks.
   */
  clientGone(): void {
    this.stopLogging();
    if (this.state === MigState.RUNNING || this.state === MigState.PRE_COPY) {
      this.state = MigState.RUNNING;
      this.outgoing = null;
      return;
    }
    // STOP is where a source rests after a completed migration; anything else was cut short.
    const fields = { state: stateName(this.state) };
    if (this.state === MigState.STOP) this.log.info('client left a stopped device; resetting it for the next client', fields);
    else this.log.warn('client disconnected mid-migration; resetting the device for the next client', fields);
    this.device.abandon();
    this.deviceReset();
  }
}

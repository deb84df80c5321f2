// The vfio-user server: one listening socket, one client at a time, every command processed
// strictly in the order received (posted writes included), replies matched by message id.
// Protocol handling lives here; sockets live in transport.ts, the device in device.ts.
import { DmaSpace, type DmaMessenger } from './dma.js';
import { IrqTable, closeQuietly } from './irq.js';
import { SocketListener, SocketTransport, type MessageTransport, type SocketOptions } from './transport.js';
import { silentLogger, type Logger, type RegionSpec, type VfioDevice } from './device.js';
import type { MigrationHooks } from './migration-hooks.js';
import { WarnLimiter } from './warn-limiter.js';
import * as W from './wire.js';

export interface ServerOptions extends SocketOptions {
  log?: Logger;
  /** Advertise REGION_WRITE_MULTI (default true). */
  writeMultiple?: boolean;
  /** Largest REGION/DMA READ/WRITE payload we accept and advertise (default 1 MiB). */
  maxDataXferSize?: number;
  /** Most fds we can receive in one message (default 16; QEMU accepts at most 16). */
  maxMsgFds?: number;
  /**
   * A client must finish VERSION within this many ms of connecting (default 10 s): we serve one
   * client at a time, so one that connects and says nothing would lock the VMM out.
   */
  handshakeTimeoutMs?: number;
  /** A message must arrive whole within this many ms of its first byte (default 10 s). */
  messageTimeoutMs?: number;
}

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_MESSAGE_TIMEOUT_MS = 10_000;

/** Limits negotiated with VERSION (spec defaults until then). */
export interface Negotiated {
  major: number;
  minor: number;
  clientMaxMsgFds: number;
  clientMaxDataXferSize: number;
  clientPgsizes: number;
  versionDone: boolean;
}

const SERVER_MINOR = 2;
const DEFAULT_XFER = 1 << 20;
const QUEUE_HIGH_WATER = 64;
/** Commands queued while a server->client request waits for its reply; beyond this, the client is dropped. */
const QUEUE_FLOOD = 4096;

/**
 * Refusals logged at warning level (rate-limited): memory the client offers and we cannot use
 * (a range past the end of its file, an overlap, a bad fd) usually means a misconfigured VMM,
 * and the guest sees only I/O errors later. Other refusals (probing, unsupported commands) are
 * ordinary and stay at debug.
 */
const WARN_ON_REFUSAL = new Set<number>([W.Command.VERSION, W.Command.DMA_MAP, W.Command.DMA_UNMAP]);

type Reply = { payload?: Buffer; fds?: number[] } | null; // null: nothing to send

export class VfioUserServer {
  readonly log: Logger;
  /** Refusals of client requests worth an operator's attention, rate-limited. */
  readonly refusals: WarnLimiter;
  readonly dma = new DmaSpace();
  readonly irqs: IrqTable;
  private listener: SocketListener;
  private session: Session | null = null;
  private closed = false;
  /** Connections served so far (tests and stats). */
  connections = 0;
  onSessionEnd?: (reason: string) => void;
  /** Live migration (v2 commands; v1 region and dirty pages when offered). */
  migration: MigrationHooks | null = null;

  constructor(
    readonly path: string,
    readonly device: VfioDevice,
    readonly opts: ServerOptions = {},
  ) {
    this.log = opts.log ?? silentLogger;
    this.refusals = new WarnLimiter(this.log);
    this.irqs = new IrqTable(device.irqs.map((i) => i.count));
    this.listener = new SocketListener(path, opts, (fd) => this.onConnection(fd));
    this.listener.accept();
  }

  get attached(): boolean {
    return this.session !== null;
  }

  /** Writes the current client's socket served natively (fast writes; stats and tests). */
  get fastWritesServed(): number {
    return this.session?.fastWrites ?? 0;
  }

  private onConnection(fd: number): void {
    if (this.closed) {
      closeQuietly(fd);
      return;
    }
    this.connections++;
    this.session = new Session(this, fd, (reason) => {
      this.session = null;
      this.log.info('client disconnected', { reason });
      this.onSessionEnd?.(reason);
      if (!this.closed) this.listener.accept();
    });
    this.log.info('client connected', { path: this.path });
  }

  /** Disconnects the current client (the server keeps listening). */
  async disconnectClient(): Promise<void> {
    await this.session?.terminate('disconnected by the server');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listener.close();
    await this.session?.terminate('server shutting down');
  }
}

class Session implements DmaMessenger {
  private readonly transport: MessageTransport;
  private readonly queue: { msg: Buffer; fds: number[]; droppedFds: number }[] = [];
  private readonly connectedAt = Date.now();
  private readonly watchdog: NodeJS.Timeout;
  private busy = false;
  private ended = false;
  private endPromise: Promise<void> | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (m: { hdr: W.Header; payload: Buffer }) => void; reject: (e: Error) => void }>();
  readonly neg: Negotiated = {
    major: 0,
    minor: 0,
    clientMaxMsgFds: 1,
    clientMaxDataXferSize: DEFAULT_XFER,
    clientPgsizes: 4096,
    versionDone: false,
  };

  constructor(
    private readonly server: VfioUserServer,
    fd: number,
    private readonly onEnd: (reason: string) => void,
  ) {
    this.transport = new SocketTransport(fd, {
      onMessage: (msg, fds, dropped) => this.enqueue(msg, fds, dropped),
      onClose: (reason) => void this.terminate(reason),
    });
    this.transport.setMaxMessageSize(this.maxMessage);
    this.transport.setMaxFds(this.maxFds);
    const handshake = server.opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    const message = server.opts.messageTimeoutMs ?? DEFAULT_MESSAGE_TIMEOUT_MS;
    // A client that holds its slot without talking (no VERSION, or stalled inside a message
    // with our buffer and its fds) is dropped so the next one can connect.
    this.watchdog = setInterval(() => {
      if (this.ended) return;
      if (!this.neg.versionDone && Date.now() - this.connectedAt > handshake) {
        this.server.refusals.warn('client did not negotiate VERSION in time; dropping it', { timeoutMs: handshake });
        void this.terminate(`no VERSION within ${handshake} ms`);
      } else if (this.transport.partialAge > message) {
        this.server.refusals.warn('client stalled inside a message; dropping it', { timeoutMs: message, ageMs: this.transport.partialAge });
        void this.terminate(`message incomplete after ${message} ms`);
      }
    }, Math.max(10, Math.min(handshake, message, 1000) / 4));
    this.watchdog.unref();
  }

  get fastWrites(): number {
    return this.transport.fastWrites ?? 0;
  }

  private get maxFds(): number {
    return this.server.opts.maxMsgFds ?? 16;
  }

  private get log(): Logger {
    return this.server.log;
  }

  private get maxXfer(): number {
    return this.server.opts.maxDataXferSize ?? DEFAULT_XFER;
  }

  /** Largest message we read: a full data transfer plus its fixed part. */
  private get maxMessage(): number {
    return this.maxXfer + 4096;
  }

  get maxTransfer(): number {
    return Math.min(this.neg.clientMaxDataXferSize, this.maxXfer);
  }

  // ------------------------------------------------------------------ ordering

  private enqueue(msg: Buffer, fds: number[], droppedFds: number): void {
    if (this.ended) {
      fds.forEach(closeQuietly);
      return;
    }
    const hdr = W.decodeHeader(msg);
    // Replies to our own requests (DMA_READ/WRITE) are not commands: deliver at once.
    if ((hdr.flags & W.FLAG_TYPE_MASK) === W.TYPE_REPLY) {
      fds.forEach(closeQuietly);
      const p = this.pending.get(hdr.id);
      if (!p) {
        this.log.warn('reply to no outstanding request', { id: hdr.id, command: W.commandName(hdr.command) });
        return;
      }
      this.pending.delete(hdr.id);
      p.resolve({ hdr, payload: msg.subarray(W.HEADER_SIZE) });
      return;
    }
    this.queue.push({ msg, fds, droppedFds });
    this.transport.setFastWritesEnabled?.(false);
    // Back-pressure, except while we wait for the client to answer a DMA_READ/WRITE: its reply
    // may sit behind the commands it pipelined, so we keep reading (up to a hard limit).
    if (this.queue.length > QUEUE_HIGH_WATER) {
      if (this.pending.size === 0) this.transport.pause();
      else if (this.queue.length > QUEUE_FLOOD) {
        this.log.warn('client keeps sending while a DMA request is outstanding; dropping it', { queued: this.queue.length });
        void this.terminate('command queue overflow');
      }
    }
    if (!this.busy) this.pump();
  }

  /** Processes queued commands one by one; an async handler holds back everything after it. */
  private pump(): void {
    this.busy = true;
    while (this.queue.length && !this.ended) {
      const { msg, fds, droppedFds } = this.queue.shift()!;
      const r = this.process(msg, fds, droppedFds);
      if (r instanceof Promise) {
        r.finally(() => {
          if (this.ended) return;
          if (this.queue.length <= QUEUE_HIGH_WATER / 2 && !this.transport.closed) this.transport.resume();
          this.pump();
        });
        return;
      }
    }
    this.busy = false;
    // The queue is empty and nothing is in progress: a doorbell the channel serves natively
    // now cannot overtake an earlier message (vfio-user: commands are processed in order).
    if (!this.transport.closed && !this.ended) {
      this.transport.setFastWritesEnabled?.(this.pending.size === 0);
      this.transport.resume();
    }
  }

  private process(msg: Buffer, fds: number[], droppedFds: number): void | Promise<void> {
    const hdr = W.decodeHeader(msg);
    const payload = msg.subarray(W.HEADER_SIZE);
    const noReply = (hdr.flags & W.FLAG_NO_REPLY) !== 0;
    const finish = (r: Reply): void => {
      // fds in a reply (a region's mmap fd) stay owned by the device: sendmsg duplicates them.
      if (!noReply && r) this.send(W.encodeReply(hdr.id, hdr.command, r.payload), r.fds);
    };
    const fail = (err: unknown): void => {
      // Whatever fds no handler took are ours to close; taken ones were closed or stored by
      // the handler (closing them again could hit a reused fd number of someone else's).
      fds.splice(0).forEach(closeQuietly);
      const errno = err instanceof W.WireError ? err.errno : W.Errno.EINVAL;
      const message = err instanceof Error ? err.message : String(err);
      if (!(err instanceof W.WireError)) this.log.error('internal error handling a command', { command: W.commandName(hdr.command), error: message, stack: (err as Error)?.stack });
      else if (WARN_ON_REFUSAL.has(hdr.command)) this.server.refusals.warn('client request refused', { command: W.commandName(hdr.command), errno, error: message });
      else this.log.debug('command failed', { command: W.commandName(hdr.command), errno, error: message });
      if (!noReply) this.send(W.encodeErrorReply(hdr.id, hdr.command, errno));
    };
    try {
      if ((hdr.flags & W.FLAG_TYPE_MASK) !== W.TYPE_COMMAND) throw new W.WireError(W.Errno.EINVAL, `message type ${hdr.flags & W.FLAG_TYPE_MASK} is neither command nor reply`);
      if (hdr.flags & ~(W.FLAG_TYPE_MASK | W.FLAG_NO_REPLY)) throw new W.WireError(W.Errno.EINVAL, `unknown header flags 0x${hdr.flags.toString(16)}`);
      if (droppedFds > 0 || fds.length > this.maxFds)
        throw new W.WireError(W.Errno.EINVAL, `${fds.length + droppedFds} file descriptors in one message; we accept ${this.maxFds} (max_msg_fds)`);
      if (!this.neg.versionDone && hdr.command !== W.Command.VERSION)
        throw new W.WireError(W.Errno.EINVAL, `${W.commandName(hdr.command)} before VERSION negotiation`);
      const r = this.dispatch(hdr, payload, fds);
      if (r instanceof Promise) return r.then(finish, fail);
      finish(r);
    } catch (err) {
      fail(err);
    }
  }

  private send(msg: Buffer, fds: number[] = []): void {
    if (this.transport.closed) return;
    try {
      this.transport.send(msg, fds);
    } catch (err) {
      this.log.warn('send failed; dropping the client', { error: (err as Error).message });
      void this.terminate('send failed');
    }
  }

  // ------------------------------------------------------------------ dispatch

  private dispatch(hdr: W.Header, p: Buffer, fds: number[]): Reply | Promise<Reply> {
    const dev = this.server.device;
    switch (hdr.command as W.Command) {
      case W.Command.VERSION:
        return this.version(p, fds);
      case W.Command.DMA_MAP:
        return this.dmaMap(p, fds);
      case W.Command.DMA_UNMAP:
        return this.dmaUnmap(p, fds);
      case W.Command.DEVICE_GET_INFO: {
        noFds(fds);
        const req = W.decodeDeviceInfo(p);
        if (req.argsz < W.DEVICE_INFO_SIZE) throw new W.WireError(W.Errno.EINVAL, `DEVICE_GET_INFO: argsz ${req.argsz} < 16`);
        const numRegions = Math.max(dev.regions.length, this.server.migration?.v1Region ? this.server.migration.v1Region.index + 1 : 0);
        const info = { argsz: W.DEVICE_INFO_SIZE, flags: dev.deviceFlags, numRegions, numIrqs: dev.irqs.length };
        return { payload: W.encodeDeviceInfo(info) };
      }
      case W.Command.DEVICE_GET_REGION_INFO:
        noFds(fds);
        return this.regionInfo(p);
      case W.Command.DEVICE_GET_REGION_IO_FDS: {
        noFds(fds);
        if (p.length < 16) throw new W.WireError(W.Errno.EINVAL, 'DEVICE_GET_REGION_IO_FDS: short request');
        if (p.readUInt32LE(0) < 16) throw new W.WireError(W.Errno.EINVAL, `DEVICE_GET_REGION_IO_FDS: argsz ${p.readUInt32LE(0)} < 16`);
        const index = p.readUInt32LE(8);
        if (!this.regionSpec(index)) throw new W.WireError(W.Errno.EINVAL, `no region ${index}`);
        // We export no ioeventfds: an empty sub-region list.
        const out = Buffer.alloc(16);
        out.writeUInt32LE(16, 0);
        out.writeUInt32LE(index, 8);
        return { payload: out };
      }
      case W.Command.DEVICE_GET_IRQ_INFO: {
        noFds(fds);
        const req = W.decodeIrqInfo(p);
        if (req.argsz < W.IRQ_INFO_SIZE) throw new W.WireError(W.Errno.EINVAL, `DEVICE_GET_IRQ_INFO: argsz ${req.argsz} < 16`);
        const spec = dev.irqs[req.index];
        if (!spec) throw new W.WireError(W.Errno.EINVAL, `DEVICE_GET_IRQ_INFO: no IRQ index ${req.index}`);
        return { payload: W.encodeIrqInfo({ argsz: W.IRQ_INFO_SIZE, flags: spec.flags, index: req.index, count: spec.count }) };
      }
      case W.Command.DEVICE_SET_IRQS: {
        const req = W.decodeSetIrqs(p);
        this.server.irqs.apply(req, fds.splice(0)); // takes the fds (closes them on failure)
        return {};
      }
      case W.Command.REGION_READ: {
        noFds(fds);
        const a = W.decodeRegionAccess(p, 'REGION_READ');
        this.checkAccess(a.region, a.offset, a.count);
        const mig = this.server.migration;
        const data = mig?.v1Region?.index === a.region ? mig.v1RegionRead!(a.offset, a.count) : dev.regionRead(a.region, a.offset, a.count);
        return { payload: W.encodeRegionAccess({ offset: a.offset, region: a.region, count: data.length, data }) };
      }
      case W.Command.REGION_WRITE: {
        noFds(fds);
        const a = W.decodeRegionAccess(p, 'REGION_WRITE');
        if (a.data.length !== a.count) throw new W.WireError(W.Errno.EINVAL, `REGION_WRITE: count ${a.count} but ${a.data.length} data bytes`);
        this.checkAccess(a.region, a.offset, a.count);
        const reply = { payload: W.encodeRegionAccess({ offset: a.offset, region: a.region, count: a.count }) };
        const mig = this.server.migration;
        const r = mig?.v1Region?.index === a.region ? mig.v1RegionWrite!(a.offset, a.data) : dev.regionWrite(a.region, a.offset, a.data);
        return r instanceof Promise ? r.then(() => reply) : reply;
      }
      case W.Command.REGION_WRITE_MULTI: {
        noFds(fds);
        if (this.server.opts.writeMultiple === false) throw new W.WireError(W.Errno.ENOTSUP, 'REGION_WRITE_MULTI was not negotiated');
        const entries = W.decodeWriteMulti(p);
        for (const e of entries) this.checkAccess(e.region, e.offset, e.data.length);
        const out = Buffer.alloc(8);
        out.writeBigUInt64LE(BigInt(entries.length), 0);
        return applyInOrder(entries, (e) => dev.regionWrite(e.region, e.offset, e.data), { payload: out });
      }
      case W.Command.DEVICE_RESET: {
        noFds(fds);
        if (!(dev.deviceFlags & W.DEVICE_FLAGS_RESET)) throw new W.WireError(W.Errno.ENOTSUP, 'device has no reset');
        const r = dev.reset();
        const after = (): Reply => {
          this.server.migration?.deviceReset();
          return {};
        };
        return r instanceof Promise ? r.then(after) : after();
      }
      case W.Command.DEVICE_FEATURE:
      case W.Command.MIG_DATA_READ:
      case W.Command.MIG_DATA_WRITE:
      case W.Command.DIRTY_PAGES:
        noFds(fds);
        return this.migrationCommand(hdr.command, p);
      default:
        fds.splice(0).forEach(closeQuietly);
        throw new W.WireError(W.Errno.ENOSYS, `unsupported command ${hdr.command}`);
    }
  }

  private migrationCommand(command: W.Command, p: Buffer): Reply | Promise<Reply> {
    const m = this.server.migration;
    if (!m) throw new W.WireError(W.Errno.ENOTSUP, `${W.commandName(command)}: this device does not migrate`);
    switch (command) {
      case W.Command.DEVICE_FEATURE: {
        const r = m.deviceFeature(p);
        return r instanceof Promise ? r.then((payload) => ({ payload })) : { payload: r };
      }
      case W.Command.MIG_DATA_READ:
        return { payload: m.migDataRead(p, this.maxTransfer) };
      case W.Command.MIG_DATA_WRITE:
        m.migDataWrite(p);
        return {};
      default:
        if (!m.dirtyPages) throw new W.WireError(W.Errno.ENOTSUP, 'DIRTY_PAGES needs migration v1');
        return { payload: m.dirtyPages(p) };
    }
  }

  /** The region at `index`: the device's, or the v1 migration region. */
  private regionSpec(index: number): RegionSpec | undefined {
    const mig = this.server.migration?.v1Region;
    return mig && mig.index === index ? mig : this.server.device.regions[index];
  }

  private checkAccess(region: number, offset: bigint, count: number): void {
    const spec = this.regionSpec(region);
    if (!spec || spec.size === 0n) throw new W.WireError(W.Errno.EINVAL, `no region ${region}`);
    if (count === 0) throw new W.WireError(W.Errno.EINVAL, 'access of 0 bytes');
    if (count > this.maxXfer) throw new W.WireError(W.Errno.E2BIG, `access of ${count} bytes exceeds max_data_xfer_size ${this.maxXfer}`);
    if (offset >= spec.size || BigInt(count) > spec.size - offset)
      throw new W.WireError(W.Errno.EINVAL, `access [0x${offset.toString(16)}, +${count}) outside region ${region} of 0x${spec.size.toString(16)} bytes`);
  }

  private version(p: Buffer, fds: number[]): Reply {
    noFds(fds);
    if (this.neg.versionDone) throw new W.WireError(W.Errno.EINVAL, 'VERSION already negotiated');
    const v = W.decodeVersion(p);
    if (v.major !== 0) throw new W.WireError(W.Errno.ENOTSUP, `protocol major ${v.major} not supported (0 only)`);
    const caps = v.caps ?? {};
    const num = (x: unknown, name: string, dflt: number): number => {
      if (x === undefined) return dflt;
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) throw new W.WireError(W.Errno.EINVAL, `VERSION: capability ${name} is not a non-negative integer`);
      return x;
    };
    const clientFds = num(caps.max_msg_fds, 'max_msg_fds', 1);
    const clientXfer = num(caps.max_data_xfer_size, 'max_data_xfer_size', DEFAULT_XFER);
    const clientPg = num(caps.pgsizes, 'pgsizes', 4096);
    const clientMaps = num(caps.max_dma_maps, 'max_dma_maps', 65535);
    if (clientXfer === 0) throw new W.WireError(W.Errno.EINVAL, 'VERSION: max_data_xfer_size 0');
    checkCapTypes(caps);
    // Everything is valid: only now does negotiation change state (a failed VERSION changes nothing).
    this.neg.major = 0;
    this.neg.minor = Math.min(v.minor, SERVER_MINOR);
    this.neg.clientMaxMsgFds = clientFds;
    this.neg.clientMaxDataXferSize = clientXfer;
    this.neg.clientPgsizes = clientPg;
    // Per session: a limit one client asked for must not bind the next one.
    this.server.dma.maxRegions = Math.min(65535, Math.max(1, clientMaps));
    const ours: W.VersionCaps = {
      max_msg_fds: this.server.opts.maxMsgFds ?? 16,
      max_data_xfer_size: this.maxXfer,
      pgsizes: 4096,
      max_dma_maps: 65535,
    };
    if (this.server.opts.writeMultiple !== false) ours.write_multiple = true;
    Object.assign(ours, this.server.migration?.versionCaps?.(caps) ?? {});
    const reply = versionReply(ours, v.caps, p.length);
    this.neg.versionDone = true;
    this.server.dma.messenger = this;
    this.server.device.attach({ dma: this.server.dma, irqs: this.server.irqs, log: this.log });
    this.transport.setFastWrites?.(this.server.device.fastWrites?.() ?? null);
    this.log.debug('VERSION negotiated', { minor: this.neg.minor, clientCaps: caps });
    return { payload: W.encodeVersion({ major: 0, minor: this.neg.minor, caps: reply }) };
  }

  private regionInfo(p: Buffer): Reply {
    const req = W.decodeRegionInfo(p);
    if (req.argsz < W.REGION_INFO_SIZE) throw new W.WireError(W.Errno.EINVAL, `DEVICE_GET_REGION_INFO: argsz ${req.argsz} < 32`);
    const spec = this.regionSpec(req.index);
    if (!spec) throw new W.WireError(W.Errno.EINVAL, `DEVICE_GET_REGION_INFO: no region ${req.index}`);
    const flags = (spec.readable ? W.REGION_FLAG_READ : 0) | (spec.writable ? W.REGION_FLAG_WRITE : 0);
    // A client that takes no fds (max_msg_fds 0) cannot mmap: offer the region without it.
    const mmap = this.neg.clientMaxMsgFds >= 1 ? spec.mmap : undefined;
    const full = W.encodeRegionInfo({
      flags: flags | (mmap ? W.REGION_FLAG_MMAP : 0),
      index: spec.index,
      size: spec.size,
      offset: mmap?.offset ?? 0n,
      sparse: mmap?.areas,
      type: spec.type,
    });
    if (full.length > req.argsz) {
      // Too small for the capabilities: the head only, with the size needed; the client retries.
      const head = W.encodeRegionInfo({ flags, index: spec.index, size: spec.size, offset: 0n });
      head.writeUInt32LE(full.length, 0);
      return { payload: head };
    }
    // The fd goes only with the full reply (one fd: QEMU takes at most one per region reply).
    const fds = mmap ? [mmap.fd] : [];
    return { payload: full, fds };
  }

  private dmaMap(p: Buffer, fds: number[]): Reply | Promise<Reply> {
    const taken = fds.splice(0);
    const fd = taken.length === 1 ? taken[0]! : null;
    try {
      if (taken.length > 1) throw new W.WireError(W.Errno.EINVAL, `DMA_MAP with ${taken.length} fds`);
      const m = W.decodeDmaMap(p);
      if (m.size === 0n) throw new W.WireError(W.Errno.EINVAL, 'DMA_MAP of size 0');
      if (m.address + m.size > 0xffffffffffffffffn) throw new W.WireError(W.Errno.EINVAL, 'DMA_MAP range wraps');
      if (!(m.flags & (W.DMA_MAP_FLAG_READ | W.DMA_MAP_FLAG_WRITE))) throw new W.WireError(W.Errno.EINVAL, 'DMA_MAP with neither READ nor WRITE');
      if (m.flags & ~0xf) throw new W.WireError(W.Errno.EINVAL, `DMA_MAP: unknown flags 0x${m.flags.toString(16)}`);
      if (fd !== null && m.size % 4096n !== 0n) this.server.refusals.warn('DMA_MAP size not page-aligned', { size: m.size.toString() });
      this.server.dma.map(fd, m.offset, m.address, m.size, m.flags & 3);
      this.server.device.dmaMapped?.(m.address, m.size);
    } finally {
      // The mapping keeps the memory; the fd itself is no longer needed (closed exactly once).
      taken.forEach(closeQuietly);
    }
    return {};
  }

  private dmaUnmap(p: Buffer, fds: number[]): Reply | Promise<Reply> {
    fds.splice(0).forEach(closeQuietly); // an fd on UNMAP is meaningless; close it
    const u = W.decodeDmaUnmap(p);
    const echo = W.encodeDmaUnmap({ argsz: W.DMA_UNMAP_SIZE, flags: u.flags, address: u.address, size: u.size });
    if (u.flags & ~(W.DMA_UNMAP_FLAG_ALL | W.DMA_UNMAP_FLAG_GET_DIRTY_BITMAP)) throw new W.WireError(W.Errno.EINVAL, `DMA_UNMAP: unknown flags 0x${u.flags.toString(16)}`);
    const dev = this.server.device;
    if (u.flags & W.DMA_UNMAP_FLAG_GET_DIRTY_BITMAP) {
      const mig = this.server.migration;
      if (!mig?.unmapDirtyBitmap) throw new W.WireError(W.Errno.ENOTSUP, 'DMA_UNMAP dirty bitmap needs migration v1');
      if (u.flags & W.DMA_UNMAP_FLAG_ALL) throw new W.WireError(W.Errno.EINVAL, 'DMA_UNMAP: ALL with a dirty bitmap');
      const exists = this.server.dma.has(u.address, u.size);
      if (!exists) throw new W.WireError(W.Errno.ENOENT, `DMA_UNMAP: no region [0x${u.address.toString(16)}, +0x${u.size.toString(16)})`);
      const bm = u.bitmap!;
      const q = dev.quiesceDma?.(u.address, u.size);
      const done = (): Reply => {
        // The bitmap is taken after in-flight DMA finished and before the pages go away.
        const bitmap = mig.unmapDirtyBitmap!(u.address, u.size, bm.pgsize, bm.size);
        this.server.dma.unmap(u.address, u.size);
        const head = W.encodeDmaUnmap({ flags: u.flags, address: u.address, size: u.size, bitmap: bm });
        const payload = Buffer.concat([head, bitmap]);
        payload.writeUInt32LE(payload.length, 0);
        return { payload };
      };
      return q instanceof Promise ? q.then(done) : done();
    }
    if (u.flags & W.DMA_UNMAP_FLAG_ALL) {
      if (u.address !== 0n || u.size !== 0n) throw new W.WireError(W.Errno.EINVAL, 'DMA_UNMAP ALL needs address and size 0');
      const q = dev.quiesceDma?.(0n, 0xffffffffffffffffn);
      const done = (): Reply => {
        this.server.dma.unmapAll();
        return { payload: echo };
      };
      return q instanceof Promise ? q.then(done) : done();
    }
    const exists = this.server.dma.has(u.address, u.size);
    if (!exists) throw new W.WireError(W.Errno.ENOENT, `DMA_UNMAP: no region [0x${u.address.toString(16)}, +0x${u.size.toString(16)})`);
    const q = dev.quiesceDma?.(u.address, u.size);
    const done = (): Reply => {
      this.server.dma.unmap(u.address, u.size);
      return { payload: echo };
    };
    return q instanceof Promise ? q.then(done) : done();
  }

  // ------------------------------------------------------------------ server -> client DMA

  private request(command: W.Command, payload: Buffer): Promise<{ hdr: W.Header; payload: Buffer }> {
    if (this.ended) return Promise.reject(new W.WireError(W.Errno.ENOTCONN, 'client is gone'));
    const id = this.nextId;
    this.nextId = (this.nextId + 1) & 0xffff || 1;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new W.WireError(W.Errno.ETIMEDOUT, `${W.commandName(command)} got no reply`));
      }, 5000);
      this.pending.set(id, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.send(W.encodeCommand(id, command, payload));
      // The reply must be readable even if we paused for back-pressure.
      if (!this.transport.closed) this.transport.resume();
    });
  }

  async dmaRead(iova: bigint, count: number): Promise<Buffer> {
    const r = await this.request(W.Command.DMA_READ, W.encodeDmaRw({ address: iova, count: BigInt(count) }));
    if (r.hdr.flags & W.FLAG_ERROR) throw new W.WireError(r.hdr.error || W.Errno.EIO, `client failed DMA_READ (errno ${r.hdr.error})`);
    const d = W.decodeDmaRw(r.payload);
    if (d.data.length !== count) throw new W.WireError(W.Errno.EIO, `DMA_READ reply has ${d.data.length} bytes, ${count} asked`);
    return Buffer.from(d.data);
  }

  async dmaWrite(iova: bigint, data: Buffer): Promise<void> {
    const r = await this.request(W.Command.DMA_WRITE, W.encodeDmaRw({ address: iova, count: BigInt(data.length), data }));
    if (r.hdr.flags & W.FLAG_ERROR) throw new W.WireError(r.hdr.error || W.Errno.EIO, `client failed DMA_WRITE (errno ${r.hdr.error})`);
  }

  // ------------------------------------------------------------------ teardown

  terminate(reason: string): Promise<void> {
    if (this.endPromise) return this.endPromise;
    this.ended = true;
    clearInterval(this.watchdog);
    this.endPromise = (async () => {
      this.transport.close();
      for (const { fds } of this.queue.splice(0)) fds.forEach(closeQuietly);
      for (const p of this.pending.values()) p.reject(new W.WireError(W.Errno.ENOTCONN, 'client disconnected'));
      this.pending.clear();
      const dev = this.server.device;
      try {
        if (this.neg.versionDone) {
          await dev.quiesceDma?.(0n, 0xffffffffffffffffn);
          await dev.detach();
        }
      } catch (err) {
        this.log.error('device detach failed', { error: (err as Error).message });
      }
      this.server.dma.messenger = null;
      this.server.dma.unmapAll();
      this.server.dma.maxRegions = 65535;
      this.server.irqs.reset();
      // After detach (the engine is parked until memory returns): drop migration streams
      // and logging; a device stopped for migration runs again for the next client.
      try {
        if (this.neg.versionDone) await this.server.migration?.clientGone();
      } catch (err) {
        this.log.error('migration cleanup failed', { error: (err as Error).message });
      }
      this.onEnd(reason);
    })();
    return this.endPromise;
  }
}

/** The spec's defaults ("Version" table): what a client assumes for a capability the reply leaves out. */
const CAP_DEFAULTS = { max_msg_fds: 1, max_data_xfer_size: 1 << 20, pgsizes: 4096, max_dma_maps: 65535, write_multiple: false } as const;

/**
 * The VERSION reply's capabilities: only what the client asked about, plus any limit of ours
 * stricter than the spec default (the client must learn it), and never longer than the
 * request when that can be helped. Oracle's QEMU reads the reply into its request's buffer
 * and fails realize ("reply larger than recv buffer") on a longer one.
 */
export function versionReply(ours: W.VersionCaps, client: W.VersionCaps | undefined, requestPayloadBytes: number): W.VersionCaps | undefined {
  const asked = client ?? {};
  const stricter = (k: string, v: unknown): boolean =>
    (k === 'max_msg_fds' || k === 'max_data_xfer_size' || k === 'max_dma_maps') && typeof v === 'number' && v < CAP_DEFAULTS[k];
  const entries: Array<[string, unknown, boolean]> = [];
  for (const [k, v] of Object.entries(ours)) {
    if (v === undefined) continue;
    if (k === 'migration') {
      const m = asked.migration;
      if (!m || typeof m !== 'object' || typeof v !== 'object' || v === null) continue;
      // Answer the migration keys the client sent (pgsize always: it is the one both must agree on).
      const sub = Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([sk]) => sk === 'pgsize' || sk in m));
      entries.push([k, sub, false]);
      continue;
    }
    const must = stricter(k, v);
    if (must || k in asked) entries.push([k, v, must]);
  }
  if (client === undefined && !entries.some(([, , must]) => must)) return undefined;
  const build = (list: typeof entries): W.VersionCaps => Object.fromEntries(list.map(([k, v]) => [k, v]));
  const size = (c: W.VersionCaps): number => W.encodeVersion({ major: 0, minor: 0, caps: c }).length;
  // Too long: leave out the least useful first (a limit the client assumes anyway costs nothing).
  const rank = (k: string): number => {
    const i = ['migration', 'max_data_xfer_size', 'max_msg_fds', 'write_multiple', 'pgsizes', 'max_dma_maps'].indexOf(k);
    return i < 0 ? 99 : i;
  };
  let list = [...entries].sort((x, y) => Number(y[2]) - Number(x[2]) || rank(x[0]) - rank(y[0]));
  while (size(build(list)) > requestPayloadBytes) {
    let drop = list.length - 1;
    while (drop >= 0 && list[drop]![2]) drop--;
    if (drop < 0) break;
    list = list.filter((_, j) => j !== drop);
  }
  return build(list);
}

/** Types of the capabilities other than the plain numbers (SPEC "Version" table). */
function checkCapTypes(caps: W.VersionCaps): void {
  const bad = (what: string): never => {
    throw new W.WireError(W.Errno.EINVAL, `VERSION: capability ${what}`);
  };
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  const isNum = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
  if (caps.write_multiple !== undefined && typeof caps.write_multiple !== 'boolean') bad('write_multiple is not a boolean');
  const twin: unknown = caps.twin_socket;
  if (twin !== undefined) {
    if (!isObj(twin)) bad('twin_socket is not an object');
    else {
      if (twin.supported !== undefined && typeof twin.supported !== 'boolean') bad('twin_socket.supported is not a boolean');
      if (twin.fd_index !== undefined && !isNum(twin.fd_index)) bad('twin_socket.fd_index is not a non-negative integer');
    }
  }
  const mig: unknown = caps.migration;
  if (mig !== undefined) {
    if (!isObj(mig)) bad('migration is not an object');
    else for (const k of ['pgsize', 'max_bitmap_size']) if (mig[k] !== undefined && !isNum(mig[k])) bad(`migration.${k} is not a non-negative integer`);
  }
}

function noFds(fds: number[]): void {
  if (fds.length) {
    fds.splice(0).forEach(closeQuietly);
    throw new W.WireError(W.Errno.EINVAL, `unexpected file descriptors (${fds.length}) with this command`);
  }
}

function applyInOrder<T>(items: T[], fn: (t: T) => void | Promise<void>, result: Reply): Reply | Promise<Reply> {
  for (let i = 0; i < items.length; i++) {
    const r = fn(items[i]!);
    if (r instanceof Promise) {
      return r.then(async () => {
        for (let j = i + 1; j < items.length; j++) await fn(items[j]!);
        return result;
      });
    }
  }
  return result;
}

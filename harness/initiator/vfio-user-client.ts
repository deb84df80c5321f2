// A vfio-user client: what QEMU's vfio-user-pci does, in TypeScript, strict about what the
// server sends back. Used by the initiator (userspace NVMe driver), protocol tests and
// migration tooling. Shares the wire format with the server.
import { native, type NativeSharedMemory } from '../../native/index.js';
import { SocketTransport } from '../../target/vfio-user/transport.js';
import * as W from '../../target/vfio-user/wire.js';

export class VfioUserError extends Error {
  constructor(
    readonly command: number,
    readonly errno: number,
  ) {
    super(`${W.commandName(command)} failed: errno ${errno}`);
  }
}

export interface ReplyMessage {
  hdr: W.Header;
  payload: Buffer;
  fds: number[];
}

export interface GuestMemory {
  iova: bigint;
  size: number;
  fd: number;
  mem: NativeSharedMemory;
}

export interface ClientOptions {
  /** Milliseconds to wait for each reply (QEMU: 5000). */
  timeoutMs?: number;
  /** Override the message id (tests: the same id on every message is legal). */
  fixedId?: number;
  /**
   * Sees each DMA_READ/DMA_WRITE the server sends before it is answered from client memory;
   * returning an errno answers with that error instead (tests: a failing or odd client).
   */
  onDmaRequest?: (command: W.Command.DMA_READ | W.Command.DMA_WRITE, address: bigint, count: bigint) => number | void;
}

export class VfioUserClient {
  private transport: SocketTransport;
  private nextId = 0;
  private readonly waiting = new Map<number, { resolve: (m: ReplyMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[]>();
  /** Memory the client owns (for answering DMA_READ/DMA_WRITE and for its own use). */
  readonly memory: GuestMemory[] = [];
  closed = false;
  closeReason = '';
  serverCaps: W.VersionCaps = {};
  serverMinor = 0;
  /** Replies that matched no outstanding request (tests: a server must never send these). */
  readonly unmatched: W.Header[] = [];
  private closeWaiters: (() => void)[] = [];

  private constructor(
    path: string,
    readonly opts: ClientOptions = {},
  ) {
    this.transport = SocketTransport.connect(path, {
      onMessage: (msg, fds) => this.onMessage(msg, fds),
      onClose: (reason) => this.onClose(reason),
    });
    this.transport.setMaxMessageSize(64 << 20);
  }

  static async connect(path: string, opts: ClientOptions = {}): Promise<VfioUserClient> {
    return new VfioUserClient(path, opts);
  }

  /** Connects and negotiates VERSION with QEMU's capabilities. */
  static async open(path: string, opts: ClientOptions = {}): Promise<VfioUserClient> {
    const c = await VfioUserClient.connect(path, opts);
    await c.negotiate();
    return c;
  }

  /** The socket's fd, for a native loop that posts doorbell writes itself (perf). */
  get socketFd(): number {
    return this.transport.fd;
  }

  // ------------------------------------------------------------------ raw messaging

  private allocId(): number {
    if (this.opts.fixedId !== undefined) return this.opts.fixedId;
    this.nextId = (this.nextId + 1) & 0xffff;
    return this.nextId;
  }

  /** Sends raw bytes (tests use this for hostile messages). */
  sendRaw(msg: Buffer, fds: number[] = []): void {
    this.transport.send(msg, fds);
  }

  /** Sends a command and waits for its reply (replies are matched by id, in order). */
  request(command: number, payload: Buffer = Buffer.alloc(0), fds: number[] = []): Promise<ReplyMessage> {
    const id = this.allocId();
    const p = this.expectReply(id);
    this.transport.send(W.encodeCommand(id, command, payload), fds);
    return p;
  }

  expectReply(id: number): Promise<ReplyMessage> {
    if (this.closed) return Promise.reject(new Error(`connection closed: ${this.closeReason}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const list = this.waiting.get(id);
        const i = list?.findIndex((w) => w.timer === timer) ?? -1;
        if (list && i >= 0) list.splice(i, 1);
        reject(new Error(`no reply to message ${id} within ${this.opts.timeoutMs ?? 5000} ms`));
      }, this.opts.timeoutMs ?? 5000);
      const list = this.waiting.get(id) ?? [];
      list.push({ resolve, reject, timer });
      this.waiting.set(id, list);
    });
  }

  /** Sends a command with No_reply set (a posted write). */
  post(command: number, payload: Buffer): void {
    this.transport.send(W.encodeCommand(this.allocId(), command, payload, true));
  }

  /** Sends and throws VfioUserError for an error reply. */
  async call(command: number, payload?: Buffer, fds?: number[]): Promise<ReplyMessage> {
    const r = await this.request(command, payload, fds);
    if (r.hdr.flags & W.FLAG_ERROR) {
      r.fds.forEach((fd) => native.closeFd(fd));
      throw new VfioUserError(command, r.hdr.error);
    }
    if (r.hdr.command !== command) throw new Error(`reply for command ${r.hdr.command}, expected ${command}`);
    return r;
  }

  private onMessage(msg: Buffer, fds: number[]): void {
    const hdr = W.decodeHeader(msg);
    const payload = msg.subarray(W.HEADER_SIZE);
    if ((hdr.flags & W.FLAG_TYPE_MASK) === W.TYPE_REPLY) {
      const list = this.waiting.get(hdr.id);
      const w = list?.shift();
      if (!w) {
        this.unmatched.push(hdr);
        fds.forEach((fd) => native.closeFd(fd));
        return;
      }
      if (list && list.length === 0) this.waiting.delete(hdr.id);
      clearTimeout(w.timer);
      w.resolve({ hdr, payload, fds });
      return;
    }
    // Server -> client commands: DMA_READ / DMA_WRITE against our memory.
    fds.forEach((fd) => native.closeFd(fd));
    try {
      if (hdr.command === W.Command.DMA_READ || hdr.command === W.Command.DMA_WRITE) {
        const d = W.decodeDmaRw(payload);
        const errno = this.opts.onDmaRequest?.(hdr.command, d.address, d.count);
        if (errno) throw new W.WireError(errno, 'refused by onDmaRequest');
        if (this.closed) return;
      }
      if (hdr.command === W.Command.DMA_READ) {
        const d = W.decodeDmaRw(payload);
        const data = this.readMemory(d.address, Number(d.count));
        this.transport.send(W.encodeReply(hdr.id, hdr.command, W.encodeDmaRw({ address: d.address, count: d.count, data })));
      } else if (hdr.command === W.Command.DMA_WRITE) {
        const d = W.decodeDmaRw(payload);
        if (BigInt(d.data.length) !== d.count) throw new W.WireError(W.Errno.EINVAL, 'DMA_WRITE count mismatch');
        this.writeMemory(d.address, d.data);
        this.transport.send(W.encodeReply(hdr.id, hdr.command, W.encodeDmaRw({ address: d.address, count: d.count })));
      } else throw new W.WireError(W.Errno.ENOSYS, `server sent command ${hdr.command}`);
    } catch (err) {
      const errno = err instanceof W.WireError ? err.errno : W.Errno.EFAULT;
      if (!this.closed) this.transport.send(W.encodeErrorReply(hdr.id, hdr.command, errno));
    }
  }

  private onClose(reason: string): void {
    this.closed = true;
    this.closeReason = reason;
    for (const list of this.waiting.values())
      for (const w of list) {
        clearTimeout(w.timer);
        w.reject(new Error(`connection closed: ${reason}`));
      }
    this.waiting.clear();
    for (const f of this.closeWaiters.splice(0)) f();
  }

  /** Resolves when the server closes the connection. */
  waitClosed(timeoutMs = 5000): Promise<string> {
    if (this.closed) return Promise.resolve(this.closeReason);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('server did not close the connection')), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(t);
        resolve(this.closeReason);
      });
    });
  }

  close(): void {
    if (!this.closed) {
      this.transport.close();
      this.onClose('closed by client');
    }
  }

  /** Closes the connection; guest memory stays mapped for a reconnect. */
  dispose(): void {
    this.close();
    for (const m of this.memory.splice(0)) {
      m.mem.unmap();
      native.closeFd(m.fd);
    }
  }

  // ------------------------------------------------------------------ commands

  async negotiate(caps: W.VersionCaps | null = defaultCaps()): Promise<W.Version> {
    const r = await this.call(W.Command.VERSION, W.encodeVersion({ major: 0, minor: 0, caps: caps ?? undefined }));
    const v = W.decodeVersion(r.payload);
    // The checks QEMU applies to the server's reply (hw/vfio-user/proxy.c).
    if (v.major !== 0) throw new Error(`server major ${v.major} != 0`);
    if (v.minor > 0 && caps) throw new Error(`server minor ${v.minor} > client minor 0`);
    if (r.payload.length > 4 && r.payload[r.payload.length - 1] !== 0) throw new Error('server JSON not NUL-terminated');
    const c = v.caps ?? {};
    if ((c.max_msg_fds ?? 1) > 16) throw new Error('server max_msg_fds > 16');
    if ((c.max_data_xfer_size ?? 1 << 20) > 64 << 20) throw new Error('server max_data_xfer_size > 64 MiB');
    if ((c.pgsizes ?? 4096) % 4096 !== 0) throw new Error('server pgsizes not a multiple of 4096');
    if ((c.max_dma_maps ?? 65535) > 65535) throw new Error('server max_dma_maps above the default');
    this.serverCaps = c;
    this.serverMinor = v.minor;
    return v;
  }

  async deviceInfo(): Promise<W.DeviceInfo> {
    const r = await this.call(W.Command.DEVICE_GET_INFO, W.encodeDeviceInfo({ argsz: W.DEVICE_INFO_SIZE, flags: 0, numRegions: 0, numIrqs: 0 }));
    return W.decodeDeviceInfo(r.payload);
  }

  /** Region info with QEMU's retry protocol: ask with 32 bytes, retry with what argsz says. */
  async regionInfo(index: number): Promise<{ info: W.RegionInfo; fd: number | null }> {
    let argsz = W.REGION_INFO_SIZE;
    for (let attempt = 0; attempt < 3; attempt++) {
      const r = await this.call(W.Command.DEVICE_GET_REGION_INFO, W.encodeRegionInfoRequest(index, argsz));
      const info = W.decodeRegionInfo(r.payload);
      if (info.argsz > argsz) {
        r.fds.forEach((fd) => native.closeFd(fd));
        argsz = info.argsz;
        continue;
      }
      if (r.fds.length > 1) throw new Error(`region ${index}: ${r.fds.length} fds in one reply`);
      return { info, fd: r.fds[0] ?? null };
    }
    throw new Error(`region ${index}: argsz kept growing`);
  }

  async irqInfo(index: number): Promise<W.IrqInfo> {
    const r = await this.call(W.Command.DEVICE_GET_IRQ_INFO, W.encodeIrqInfo({ argsz: W.IRQ_INFO_SIZE, flags: 0, index, count: 0 }));
    return W.decodeIrqInfo(r.payload);
  }

  /** Assigns eventfds to vectors start.. (null entries de-assign), chunked by the server's max_msg_fds as QEMU does. */
  async setIrqEventfds(index: number, start: number, fds: (number | null)[]): Promise<void> {
    const max = this.serverCaps.max_msg_fds ?? 1;
    let i = 0;
    while (i < fds.length) {
      const valid = fds[i] !== null;
      let j = i;
      while (j < fds.length && j - i < max && (fds[j] !== null) === valid) j++;
      const chunk = fds.slice(i, j);
      await this.call(
        W.Command.DEVICE_SET_IRQS,
        W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_EVENTFD | W.IRQ_SET_ACTION_TRIGGER, index, start: start + i, count: chunk.length }),
        valid ? (chunk as number[]) : [],
      );
      i = j;
    }
  }

  async disableIrqs(index: number): Promise<void> {
    await this.call(W.Command.DEVICE_SET_IRQS, W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_NONE | W.IRQ_SET_ACTION_TRIGGER, index, start: 0, count: 0 }));
  }

  async regionRead(region: number, offset: bigint | number, count: number): Promise<Buffer> {
    const r = await this.call(W.Command.REGION_READ, W.encodeRegionAccess({ offset: BigInt(offset), region, count }));
    const a = W.decodeRegionAccess(r.payload);
    if (a.count > count || a.data.length !== a.count) throw new Error(`REGION_READ reply of ${a.count}/${a.data.length} bytes for ${count}`);
    return Buffer.from(a.data);
  }

  async regionWrite(region: number, offset: bigint | number, data: Buffer): Promise<void> {
    await this.call(W.Command.REGION_WRITE, W.encodeRegionAccess({ offset: BigInt(offset), region, count: data.length, data }));
  }

  /** A posted write: no reply; ordering guarantees a later read sees it. */
  postRegionWrite(region: number, offset: bigint | number, data: Buffer): void {
    this.post(W.Command.REGION_WRITE, W.encodeRegionAccess({ offset: BigInt(offset), region, count: data.length, data }));
  }

  async read32(region: number, offset: number): Promise<number> {
    return (await this.regionRead(region, offset, 4)).readUInt32LE(0);
  }
  async write32(region: number, offset: number, v: number): Promise<void> {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    await this.regionWrite(region, offset, b);
  }
  async read64(region: number, offset: number): Promise<bigint> {
    return (await this.regionRead(region, offset, 8)).readBigUInt64LE(0);
  }
  async write64(region: number, offset: number, v: bigint): Promise<void> {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(v);
    await this.regionWrite(region, offset, b);
  }

  /** Creates a memfd of `size` bytes, maps it here and shares it with DMA_MAP at `iova`. */
  async addMemory(iova: bigint, size: number, opts: { shareFd?: boolean; flags?: number } = {}): Promise<GuestMemory> {
    const fd = native.memfdCreate('vnvme-guest', size);
    const mem = new native.SharedMemory(fd, size);
    const m = { iova, size, fd, mem };
    this.memory.push(m);
    await this.mapMemory(m, opts);
    return m;
  }

  async mapMemory(m: GuestMemory, opts: { shareFd?: boolean; flags?: number } = {}): Promise<void> {
    const flags = opts.flags ?? W.DMA_MAP_FLAG_READ | W.DMA_MAP_FLAG_WRITE;
    await this.call(W.Command.DMA_MAP, W.encodeDmaMap({ flags, offset: 0n, address: m.iova, size: BigInt(m.size) }), opts.shareFd === false ? [] : [m.fd]);
  }

  async dmaUnmap(iova: bigint, size: bigint, flags = 0): Promise<W.DmaUnmap> {
    const r = await this.call(W.Command.DMA_UNMAP, W.encodeDmaUnmap({ flags, address: iova, size }));
    return W.decodeDmaUnmap(r.payload);
  }

  async reset(): Promise<void> {
    await this.call(W.Command.DEVICE_RESET);
  }

  private findMemory(iova: bigint, len: number): GuestMemory {
    const m = this.memory.find((x) => iova >= x.iova && iova + BigInt(len) <= x.iova + BigInt(x.size));
    if (!m) throw new W.WireError(W.Errno.EFAULT, `no client memory at 0x${iova.toString(16)}+${len}`);
    return m;
  }

  readMemory(iova: bigint, len: number): Buffer {
    const m = this.findMemory(iova, len);
    return m.mem.read(Number(iova - m.iova), len);
  }

  writeMemory(iova: bigint, data: Buffer): void {
    const m = this.findMemory(iova, data.length);
    m.mem.write(Number(iova - m.iova), data);
  }
}

/** The capabilities QEMU 10.1+ sends (PROTOCOL.md 1.4). */
export function defaultCaps(): W.VersionCaps {
  return {
    migration: { pgsize: 4096, max_bitmap_size: 268435456 },
    max_msg_fds: 16,
    max_data_xfer_size: 1048576,
    pgsizes: 4096,
    max_dma_maps: 65535,
    write_multiple: true,
  };
}

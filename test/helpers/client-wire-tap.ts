// Checks, while installed, every message the vfio-user client (harness/initiator/vfio-user-client.ts)
// sends for a request it was asked to make: the request's arguments are encoded again with the
// independent spec encoder (vfio-user-wire.ts) and the bytes the client hands its transport must
// be the same. The client keeps its own encoder (target/vfio-user/wire.ts); this holds it to the
// spec on every message of a real run, not only on sample values.
//
// How: the client's request methods are wrapped to note what they were asked to send; the
// transport's send is wrapped to compare the next message with it. A client method sends its
// message synchronously, before its first await, so the two meet without any other send between.
// Messages sent after an await inside one method (REGION_INFO retries, SET_IRQS chunks after the
// first) are not checked.
import { SocketTransport } from '../../target/vfio-user/transport.js';
import { VfioUserClient, defaultCaps, type GuestMemory } from '../../harness/initiator/vfio-user-client.js';
import * as I from './vfio-user-wire.js';

type Expected = { name: string; cmd: number; body: Buffer; noReply: boolean };
type Method = (...args: never[]) => unknown;

const NAMES = new Map<number, string>(Object.entries(I.VfioUserCommand).map(([k, v]) => [v, k]));

export class ClientWireTap {
  /** Messages checked, by command name. */
  readonly checked = new Map<string, number>();
  /** One line a mismatch: command, then both byte strings. */
  readonly mismatches: string[] = [];
  private expected: Expected | null = null;
  private readonly undo: (() => void)[] = [];

  install(): this {
    const tap = this;
    const C = VfioUserClient.prototype as unknown as Record<string, Method>;
    const expect = (name: string, build: (self: VfioUserClient, ...args: never[]) => Omit<Expected, 'name'>) => {
      const orig = C[name]!;
      C[name] = function (this: VfioUserClient, ...args: never[]) {
        const before = tap.expected;
        tap.expected = { name, ...build(this, ...args) };
        try {
          return orig.apply(this, args);
        } finally {
          tap.expected = before;
        }
      } as Method;
      this.undo.push(() => (C[name] = orig));
    };
    const cmd = I.VfioUserCommand;

    expect('negotiate', (_s, ...a: unknown[]) => {
      // negotiate(caps = defaultCaps()); null sends no version data.
      const caps = (a.length === 0 || a[0] === undefined ? defaultCaps() : a[0]) as Record<string, unknown> | null;
      const json = caps === null ? undefined : JSON.stringify(Object.keys(caps).length ? { capabilities: caps } : {});
      return { cmd: cmd.VERSION, body: I.version({ major: 0, minor: 0, json }), noReply: false };
    });
    expect('mapMemory', (_s, ...a: unknown[]) => {
      const [m, o] = a as [GuestMemory, { flags?: number } | undefined];
      return { cmd: cmd.DMA_MAP, body: I.dmaMap({ flags: o?.flags ?? I.DMA_MAP_READ | I.DMA_MAP_WRITE, offset: 0n, address: m.iova, size: BigInt(m.size) }), noReply: false };
    });
    expect('dmaUnmap', (_s, ...a: unknown[]) => {
      const [address, size, flags] = a as [bigint, bigint, number | undefined];
      return { cmd: cmd.DMA_UNMAP, body: I.dmaUnmap({ flags: flags ?? 0, address, size }), noReply: false };
    });
    expect('deviceInfo', () => ({ cmd: cmd.DEVICE_GET_INFO, body: I.deviceInfo(), noReply: false }));
    expect('regionInfo', (_s, ...a: unknown[]) => ({ cmd: cmd.DEVICE_GET_REGION_INFO, body: I.regionInfoRequest(a[0] as number), noReply: false }));
    expect('irqInfo', (_s, ...a: unknown[]) => ({ cmd: cmd.DEVICE_GET_IRQ_INFO, body: I.irqInfo({ index: a[0] as number }), noReply: false }));
    expect('setIrqEventfds', (self, ...a: unknown[]) => {
      // The first chunk: a run of assigned (or of de-assigned) vectors, at most max_msg_fds long.
      const [index, start, fds] = a as [number, number, (number | null)[]];
      const max = self.serverCaps.max_msg_fds ?? 1;
      let n = 0;
      while (n < fds.length && n < max && (fds[n] !== null) === (fds[0] !== null)) n++;
      return { cmd: cmd.DEVICE_SET_IRQS, body: I.setIrqs({ flags: I.IRQ_SET_DATA_EVENTFD | I.IRQ_SET_ACTION_TRIGGER, index, start, count: n }), noReply: false };
    });
    expect('disableIrqs', (_s, ...a: unknown[]) => ({ cmd: cmd.DEVICE_SET_IRQS, body: I.setIrqs({ flags: I.IRQ_SET_DATA_NONE | I.IRQ_SET_ACTION_TRIGGER, index: a[0] as number, start: 0, count: 0 }), noReply: false }));
    expect('regionRead', (_s, ...a: unknown[]) => {
      const [region, offset, count] = a as [number, bigint | number, number];
      return { cmd: cmd.REGION_READ, body: I.regionAccess({ offset: BigInt(offset), region, count }), noReply: false };
    });
    expect('regionWrite', (_s, ...a: unknown[]) => {
      const [region, offset, data] = a as [number, bigint | number, Buffer];
      return { cmd: cmd.REGION_WRITE, body: I.regionAccess({ offset: BigInt(offset), region, count: data.length, data }), noReply: false };
    });
    expect('postRegionWrite', (_s, ...a: unknown[]) => {
      const [region, offset, data] = a as [number, bigint | number, Buffer];
      return { cmd: cmd.REGION_WRITE, body: I.regionAccess({ offset: BigInt(offset), region, count: data.length, data }), noReply: true };
    });
    expect('reset', () => ({ cmd: cmd.DEVICE_RESET, body: Buffer.alloc(0), noReply: false }));

    const T = SocketTransport.prototype as unknown as { send: (msg: Buffer, fds?: number[]) => void };
    const send = T.send;
    T.send = function (this: SocketTransport, msg: Buffer, fds?: number[]) {
      const e = tap.expected;
      if (e) {
        tap.expected = null; // only the first message of the call
        tap.compare(e, msg);
      }
      return send.call(this, msg, fds);
    };
    this.undo.push(() => (T.send = send));
    return this;
  }

  private compare(e: Expected, sent: Buffer): void {
    // The message id is the client's to choose; everything else is determined by the request.
    const id = sent.length >= 2 ? sent.readUInt16LE(0) : 0;
    const want = I.command(id, e.cmd, e.body, { noReply: e.noReply });
    const label = `${NAMES.get(e.cmd) ?? e.cmd}${e.noReply ? ' (posted)' : ''}`;
    this.checked.set(label, (this.checked.get(label) ?? 0) + 1);
    if (!want.equals(sent)) this.mismatches.push(`${label} via ${e.name}: sent ${sent.toString('hex')}, spec encoder ${want.toString('hex')}`);
  }

  uninstall(): void {
    for (const f of this.undo.splice(0).reverse()) f();
  }
}

// Property-based fuzzing of the vfio-user server over a real socket: valid encodings of every
// command, mutated (header fields, payload bytes and length, interesting integers, fds of
// every kind attached), sent after a valid VERSION. After each message the server must answer
// (any reply) or close the connection; it must never crash; after each run a fresh client
// must still negotiate and read config space; and no fd may leak.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { native } from '../../native/index.js';
import { VfioUserClient, defaultCaps } from '../../harness/initiator/vfio-user-client.js';
import { SocketTransport } from '../../target/vfio-user/transport.js';
import * as W from '../../target/vfio-user/wire.js';
import { startScratchServer, openFds, waitFor, type ScratchServer } from '../helpers/scratch-device.js';

const C = W.Command;
const SENTINEL_ID = 0xffff;

/** A bare connection: every message it gets is recorded; DMA_READ/WRITE are refused with EIO. */
class RawConn {
  readonly t: SocketTransport;
  closed = false;
  private waiters: (() => void)[] = [];
  readonly replies: W.Header[] = [];

  constructor(path: string) {
    this.t = SocketTransport.connect(path, {
      onMessage: (msg, fds) => {
        fds.forEach((fd) => native.closeFd(fd));
        const h = W.decodeHeader(msg);
        if ((h.flags & W.FLAG_TYPE_MASK) === W.TYPE_COMMAND) {
          // The server asks for client memory: say no at once (no 5 s waits).
          if (!this.closed) this.t.send(W.encodeErrorReply(h.id, h.command, W.Errno.EIO));
        } else this.replies.push(h);
        this.wake();
      },
      onClose: () => {
        this.closed = true;
        this.wake();
      },
    });
    this.t.setMaxMessageSize(64 << 20);
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * Resolves with the replies that came before the one with `id` and `command` once that one
   * came, or null when the connection closed first.
   */
  async until(id: number, command: number, timeoutMs = 3000): Promise<W.Header[] | null> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.replies.findIndex((h) => h.id === id && h.command === command);
      if (i >= 0) return this.replies.splice(0, i + 1).slice(0, i);
      if (this.closed) return null;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`server neither answered message ${id} (${W.commandName(command)}) nor closed the connection`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  send(msg: Buffer, fds: number[] = []): void {
    if (!this.closed) this.t.send(msg, fds);
  }

  close(): void {
    if (!this.closed) this.t.close();
    this.closed = true;
  }
}

// ---------------------------------------------------------------------------- seeds

type FdKind = 'eventfd' | 'memfd' | 'socket';

interface Seed {
  command: number;
  payload: Buffer;
  fds?: FdKind[];
}

function u32s(...v: number[]): Buffer {
  const b = Buffer.alloc(4 * v.length);
  v.forEach((x, i) => b.writeUInt32LE(x >>> 0, 4 * i));
  return b;
}

const seeds: Seed[] = [
  { command: C.VERSION, payload: W.encodeVersion({ major: 0, minor: 0, caps: defaultCaps() }) },
  { command: C.DMA_MAP, payload: W.encodeDmaMap({ flags: 3, offset: 0n, address: 0x100000n, size: 0x1000n }), fds: ['memfd'] },
  { command: C.DMA_MAP, payload: W.encodeDmaMap({ flags: 1, offset: 0n, address: 0x200000n, size: 0x2000n }) },
  { command: C.DMA_UNMAP, payload: W.encodeDmaUnmap({ flags: 0, address: 0x100000n, size: 0x1000n }) },
  { command: C.DMA_UNMAP, payload: W.encodeDmaUnmap({ flags: W.DMA_UNMAP_FLAG_ALL, address: 0n, size: 0n }) },
  { command: C.DMA_UNMAP, payload: W.encodeDmaUnmap({ flags: 1, address: 0x100000n, size: 0x1000n, bitmap: { pgsize: 4096n, size: 8n } }) },
  { command: C.DEVICE_GET_INFO, payload: W.encodeDeviceInfo({ argsz: 16, flags: 0, numRegions: 0, numIrqs: 0 }) },
  { command: C.DEVICE_GET_REGION_INFO, payload: W.encodeRegionInfoRequest(0, 32) },
  { command: C.DEVICE_GET_REGION_INFO, payload: W.encodeRegionInfoRequest(0, 256) },
  { command: C.DEVICE_GET_REGION_INFO, payload: W.encodeRegionInfoRequest(7, 32) },
  { command: C.DEVICE_GET_REGION_IO_FDS, payload: u32s(16, 0, 0, 0) },
  { command: C.DEVICE_GET_IRQ_INFO, payload: W.encodeIrqInfo({ argsz: 16, flags: 0, index: 2, count: 0 }) },
  { command: C.DEVICE_SET_IRQS, payload: W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_EVENTFD | W.IRQ_SET_ACTION_TRIGGER, index: 2, start: 0, count: 2 }), fds: ['eventfd', 'eventfd'] },
  { command: C.DEVICE_SET_IRQS, payload: W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_BOOL | W.IRQ_SET_ACTION_TRIGGER, index: 2, start: 0, count: 2, data: Buffer.from([1, 0]) }) },
  { command: C.DEVICE_SET_IRQS, payload: W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_NONE | W.IRQ_SET_ACTION_UNMASK, index: 0, start: 0, count: 1 }) },
  { command: C.DEVICE_SET_IRQS, payload: W.encodeSetIrqs({ flags: W.IRQ_SET_DATA_NONE | W.IRQ_SET_ACTION_TRIGGER, index: 2, start: 0, count: 0 }) },
  { command: C.REGION_READ, payload: W.encodeRegionAccess({ offset: 0n, region: 7, count: 64 }) },
  { command: C.REGION_READ, payload: W.encodeRegionAccess({ offset: 0x1000n, region: 0, count: 8 }) },
  { command: C.REGION_READ, payload: W.encodeRegionAccess({ offset: 0n, region: 5, count: 8 }) },
  { command: C.REGION_WRITE, payload: W.encodeRegionAccess({ offset: 0x40n, region: 0, count: 4, data: Buffer.from([1, 2, 3, 4]) }) },
  { command: C.REGION_WRITE, payload: W.encodeRegionAccess({ offset: 0x118n, region: 0, count: 4, data: Buffer.from([1, 0, 0, 0]) }) },
  { command: C.REGION_WRITE, payload: W.encodeRegionAccess({ offset: 0x04n, region: 7, count: 2, data: Buffer.from([6, 0]) }) },
  { command: C.REGION_WRITE, payload: W.encodeRegionAccess({ offset: 0x52n, region: 7, count: 2, data: Buffer.from([0x1f, 0x80]) }) },
  { command: C.REGION_WRITE, payload: W.encodeRegionAccess({ offset: 0n, region: 4, count: 16, data: Buffer.alloc(16) }) },
  { command: C.DMA_READ, payload: W.encodeDmaRw({ address: 0x100000n, count: 8n }) },
  { command: C.DMA_WRITE, payload: W.encodeDmaRw({ address: 0x100000n, count: 4n, data: Buffer.alloc(4) }) },
  { command: C.DEVICE_RESET, payload: Buffer.alloc(0) },
  { command: C.DIRTY_PAGES, payload: u32s(8, 1) },
  { command: C.REGION_WRITE_MULTI, payload: W.encodeWriteMulti([{ offset: 0x40n, region: 0, data: Buffer.alloc(4) }, { offset: 0x10n, region: 7, data: Buffer.alloc(2) }]) },
  { command: C.DEVICE_FEATURE, payload: W.encodeDeviceFeature({ flags: W.FEATURE_GET | W.Feature.MIGRATION }) },
  { command: C.MIG_DATA_READ, payload: W.encodeMigData({ size: 64 }) },
  { command: C.MIG_DATA_WRITE, payload: W.encodeMigData({ size: 4, data: Buffer.alloc(4) }) },
];

// ---------------------------------------------------------------------------- mutations

const interesting = [0, 1, 2, 4, 7, 8, 15, 16, 17, 31, 32, 0x1000, 0xfff, 0x100000, 0x100001, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];

const arbMutation = fc.record(
  {
    id: fc.integer({ min: 0, max: 0xfffe }),
    command: fc.option(fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constant(0xffff)), { freq: 5 }),
    flags: fc.option(fc.oneof(fc.constantFrom(0, W.FLAG_NO_REPLY, W.FLAG_ERROR, W.TYPE_REPLY, 2, 0x100, W.FLAG_NO_REPLY | W.TYPE_REPLY), fc.nat()), { freq: 4 }),
    error: fc.option(fc.nat(), { freq: 6 }),
    bytes: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
    words: fc.array(fc.record({ at: fc.nat(), value: fc.oneof(fc.constantFrom(...interesting), fc.integer({ min: 0, max: 0x2000 }), fc.nat()) }), { maxLength: 3 }),
    truncate: fc.option(fc.nat(), { freq: 5 }),
    append: fc.option(fc.uint8Array({ maxLength: 48 }), { freq: 6 }),
    fds: fc.option(fc.array(fc.constantFrom<FdKind>('eventfd', 'memfd', 'socket'), { minLength: 1, maxLength: 3 }), { freq: 6 }),
  },
  { requiredKeys: ['id', 'command', 'flags', 'error', 'bytes', 'words', 'truncate', 'append', 'fds'] },
);

type Mutation = typeof arbMutation extends fc.Arbitrary<infer T> ? T : never;

const arbMessage = fc.record({ seed: fc.nat({ max: seeds.length - 1 }), m: arbMutation });

/** Structured accesses: every region, offsets and counts around the boundaries. */
const arbSmall = fc.oneof(fc.constantFrom(...interesting), fc.integer({ min: 0, max: 0x4100 }));
const arbAccess = fc
  .record({
    write: fc.boolean(),
    noReply: fc.boolean(),
    region: fc.integer({ min: 0, max: 10 }),
    offset: arbSmall,
    count: fc.oneof(fc.integer({ min: 0, max: 16 }), arbSmall),
  })
  .map(({ write, noReply, region, offset, count }) => {
    const data = write ? Buffer.alloc(Math.min(count, 0x2000), 0xa5) : undefined;
    const payload = W.encodeRegionAccess({ offset: BigInt(offset), region, count, data });
    return W.encodeCommand(0x4000 + region, write ? C.REGION_WRITE : C.REGION_READ, payload, noReply && write);
  });
const arbSetIrqs = fc
  .record({ flags: fc.integer({ min: 0, max: 0x7f }), index: fc.integer({ min: 0, max: 5 }), start: arbSmall, count: fc.integer({ min: 0, max: 40 }), data: fc.uint8Array({ maxLength: 40 }) })
  .map(({ flags, index, start, count, data }) => W.encodeCommand(0x5000, C.DEVICE_SET_IRQS, W.encodeSetIrqs({ flags, index, start, count, data: Buffer.from(data) })));

type Mutated = { msg: Buffer; fds: FdKind[]; id: number };

function build(seedIndex: number, m: Mutation): Mutated {
  const seed = seeds[seedIndex]!;
  let p = Buffer.from(seed.payload);
  for (const b of m.bytes) if (p.length) p[b.at % p.length] = b.value;
  for (const w of m.words) if (p.length >= 4) p.writeUInt32LE(w.value >>> 0, (w.at % (p.length >> 2)) * 4);
  if (m.truncate !== null) p = p.subarray(0, m.truncate % (p.length + 1));
  if (m.append !== null) p = Buffer.concat([p, Buffer.from(m.append)]);
  const msg = W.encodeMessage({ id: m.id, command: m.command ?? seed.command, flags: m.flags ?? W.TYPE_COMMAND, error: m.error ?? 0 }, p);
  return { msg, fds: m.fds ?? seed.fds ?? [], id: m.id };
}

function makeFd(kind: FdKind): number {
  if (kind === 'eventfd') return native.eventfdCreate();
  if (kind === 'memfd') return native.memfdCreate('fuzz', 0x2000);
  const [a, b] = native.socketPair();
  native.closeFd(b);
  return a;
}

// ---------------------------------------------------------------------------- the property

describe('vfio-user fuzzing', () => {
  let s: ScratchServer;
  let sessions = 0;
  // Internal errors (a handler threw something that is not a WireError) are bugs even when
  // the client gets a tidy EINVAL: every bad input must be refused by a check that says why.
  const internal: string[] = [];
  before(() => {
    const quiet = () => undefined;
    s = startScratchServer({
      log: { debug: quiet, info: quiet, warn: quiet, error: (msg, f) => internal.push(`${msg} ${JSON.stringify(f)}`) },
    });
    s.server.onSessionEnd = () => sessions++;
  });
  after(async () => {
    await s.close();
  });

  /** A fresh client negotiates and reads config space: the server is healthy. */
  async function healthy(): Promise<void> {
    await waitFor(() => !s.server.attached, 3000, 'the fuzzed session to end');
    const c = await VfioUserClient.open(s.path, { timeoutMs: 3000 });
    try {
      assert.equal((await c.regionRead(W.RegionIndex.CONFIG, 0, 4)).readUInt32LE(0), 0x00014e58);
    } finally {
      c.dispose();
    }
    await waitFor(() => !s.server.attached, 3000, 'the health check session to end');
  }

  async function runOne(messages: ({ seed: number; m: Mutation } | Buffer)[], desync: number | null, negotiate: boolean): Promise<void> {
    const conn = new RawConn(s.path);
    try {
      if (negotiate) {
        conn.send(W.encodeCommand(1, C.VERSION, W.encodeVersion({ major: 0, minor: 0, caps: defaultCaps() })));
        assert.notEqual(await conn.until(1, C.VERSION), null, 'VERSION');
      }
      for (const item of messages) {
        const { msg, fds: kinds } = Buffer.isBuffer(item) ? { msg: item, fds: [] as FdKind[] } : build(item.seed, item.m);
        const fds = kinds.map(makeFd);
        conn.send(msg, fds);
        fds.forEach((fd) => native.closeFd(fd)); // the channel holds its own duplicates
        // A sentinel behind it: in-order processing means its reply follows the fuzzed one's.
        conn.send(W.encodeCommand(SENTINEL_ID, C.DEVICE_GET_INFO, W.encodeDeviceInfo({ argsz: 16, flags: 0, numRegions: 0, numIrqs: 0 })));
        const before = await conn.until(SENTINEL_ID, C.DEVICE_GET_INFO);
        if (before === null) return; // closed: allowed
        // Anything but a reply-type message or one marked No_reply got exactly one reply (an
        // unknown message type gets an error reply), before the sentinel's; those got none.
        const h = W.decodeHeader(msg);
        const wantsReply = (h.flags & W.FLAG_TYPE_MASK) !== W.TYPE_REPLY && !(h.flags & W.FLAG_NO_REPLY);
        assert.equal(before.filter((r) => r.id === h.id).length, wantsReply ? 1 : 0, `replies to ${W.commandName(h.command)} flags 0x${h.flags.toString(16)}: ${JSON.stringify(before)}`);
        assert.equal(before.length, wantsReply ? 1 : 0, 'unexpected extra replies');
      }
      if (desync !== null) {
        // A header whose size disagrees with what follows: the stream cannot be resynchronised;
        // the server must wait or close, and must survive our hanging up.
        const h = Buffer.alloc(16);
        h.writeUInt16LE(3, 0);
        h.writeUInt16LE(C.REGION_WRITE, 2);
        h.writeUInt32LE(desync >>> 0, 4);
        conn.send(Buffer.concat([h, Buffer.alloc(desync % 40)]));
      }
    } finally {
      conn.close();
    }
  }

  test('random and mutated messages: the server answers or closes, never crashes, keeps serving', async () => {
    const fdsBefore = openFds();
    const t0 = Date.now();
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof({ weight: 3, arbitrary: arbMessage }, { weight: 2, arbitrary: arbAccess }, { weight: 1, arbitrary: arbSetIrqs }), { minLength: 1, maxLength: 5 }),
        fc.option(fc.nat(), { freq: 8 }),
        fc.boolean().map((b) => b || Math.random() < 0.9),
        async (messages, desync, negotiate) => {
          runs++;
          await runOne(messages, desync, negotiate);
          await healthy();
          assert.deepEqual(internal.splice(0), [], 'internal errors');
        },
      ),
      { numRuns: 350, seed: Number(process.env.VNVME_FUZZ_SEED ?? Date.now() % 0x7fffffff), verbose: 1 },
    );
    // Every fd the runs sent was closed by the server.
    await waitFor(() => openFds() === fdsBefore, 3000, 'fds to settle').catch(() => undefined);
    assert.equal(openFds(), fdsBefore, 'fds leaked while fuzzing');
    assert.ok(sessions >= runs, `${sessions} sessions for ${runs} runs`);
    console.log(`fuzz: ${runs} runs, ${sessions} sessions in ${Date.now() - t0} ms`);
  });

  test('random bytes straight after VERSION', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 200 }), async (bytes) => {
        const conn = new RawConn(s.path);
        try {
          conn.send(W.encodeCommand(1, C.VERSION, W.encodeVersion({ major: 0, minor: 0, caps: defaultCaps() })));
          assert.notEqual(await conn.until(1, C.VERSION), null);
          conn.send(Buffer.from(bytes));
        } finally {
          conn.close();
        }
        await healthy();
        assert.deepEqual(internal.splice(0), [], 'internal errors');
      }),
      { numRuns: 100, seed: Number(process.env.VNVME_FUZZ_SEED ?? Date.now() % 0x7fffffff) },
    );
  });
});

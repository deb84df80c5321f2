// Message-based DMA: memory mapped with DMA_MAP but without an fd is reached through
// DMA_READ/DMA_WRITE messages the server sends and the client answers (PROTOCOL.md 1.13).
// The scratch device's copy engine (BAR0 0x118) drives it.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { VfioUserClient, type ClientOptions } from '../../harness/initiator/vfio-user-client.js';
import * as W from '../../target/vfio-user/wire.js';
import { startScratchServer, waitFor, type ScratchServer } from '../helpers/scratch-device.js';

describe('vfio-user message-based DMA', () => {
  let s: ScratchServer;
  let c: VfioUserClient;
  const seen: { cmd: number; address: bigint; count: bigint }[] = [];
  let answer: (cmd: number, address: bigint) => number | void = () => undefined;
  const ends: string[] = [];

  async function open(opts: ClientOptions = {}): Promise<VfioUserClient> {
    c?.dispose();
    c = await VfioUserClient.open(s.path, {
      onDmaRequest: (cmd, address, count) => {
        seen.push({ cmd, address, count });
        return answer(cmd, address);
      },
      ...opts,
    });
    return c;
  }

  /** Programs the scratch device's copy and waits for its status (errno, 0 = ok). */
  async function copy(src: bigint, dst: bigint, len: number): Promise<number> {
    await c.write64(0, 0x100, src);
    await c.write64(0, 0x108, dst);
    await c.write64(0, 0x110, BigInt(len));
    await c.write32(0, 0x118, 1);
    return c.read32(0, 0x120);
  }

  before(async () => {
    s = startScratchServer();
    s.server.onSessionEnd = (r) => ends.push(r);
    await open();
  });
  after(async () => {
    c.dispose();
    await s.close();
  });

  test('DMA_MAP without an fd: the region is known but not mapped', async () => {
    await c.addMemory(0x100000n, 0x10000, { shareFd: false });
    const r = s.server.dma.regions();
    assert.deepEqual(r, [{ iova: 0x100000, size: 0x10000, prot: 3, mapped: false }]);
  });

  test('the device copy goes through DMA_READ and DMA_WRITE answered by the client', async () => {
    const m = c.memory[0]!;
    m.mem.write(0x10, Buffer.from('through messages'));
    seen.length = 0;
    assert.equal(await copy(0x100010n, 0x108000n, 16), 0);
    assert.equal(m.mem.read(0x8000, 16).toString(), 'through messages');
    assert.deepEqual(seen, [
      { cmd: W.Command.DMA_READ, address: 0x100010n, count: 16n },
      { cmd: W.Command.DMA_WRITE, address: 0x108000n, count: 16n },
    ]);
  });

  test('transfers larger than max_data_xfer_size are split into several messages', async () => {
    await c.addMemory(0x1000000n, 3 << 20, { shareFd: false });
    const m = c.memory[1]!;
    const data = Buffer.alloc((1 << 20) + 4096 + 5);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7) & 0xff;
    m.mem.write(0, data);
    seen.length = 0;
    assert.equal(await copy(0x1000000n, 0x1000000n + 0x180000n, data.length), 0);
    assert.deepEqual(m.mem.read(3 << 19, data.length), data);
    const reads = seen.filter((x) => x.cmd === W.Command.DMA_READ);
    const writes = seen.filter((x) => x.cmd === W.Command.DMA_WRITE);
    assert.deepEqual(reads.map((x) => x.count), [1048576n, 4101n]);
    assert.deepEqual(writes.map((x) => x.count), [1048576n, 4101n]);
  });

  test('fd-backed source, message-backed destination', async () => {
    const shared = await c.addMemory(0x200000n, 0x1000);
    shared.mem.write(0, Buffer.from('mixed'));
    seen.length = 0;
    assert.equal(await copy(0x200000n, 0x100100n, 5), 0);
    assert.equal(c.memory[0]!.mem.read(0x100, 5).toString(), 'mixed');
    assert.deepEqual(seen.map((x) => x.cmd), [W.Command.DMA_WRITE]);
  });

  test('a client that answers with an error: the device sees that errno', async () => {
    answer = (cmd) => (cmd === W.Command.DMA_READ ? W.Errno.EIO : undefined);
    assert.equal(await copy(0x100000n, 0x108000n, 8), W.Errno.EIO);
    answer = (cmd) => (cmd === W.Command.DMA_WRITE ? W.Errno.EACCES : undefined);
    assert.equal(await copy(0x100000n, 0x108000n, 8), W.Errno.EACCES);
    answer = () => undefined;
    assert.equal(await copy(0x100000n, 0x108000n, 8), 0);
  });

  test('fd-less memory the client does not have: the client answers EFAULT', async () => {
    // Mapped at the server, unknown to the client's memory list.
    await c.call(W.Command.DMA_MAP, W.encodeDmaMap({ flags: 3, offset: 0n, address: 0x300000n, size: 0x1000n }));
    seen.length = 0;
    assert.equal(await copy(0x300000n, 0x108000n, 8), W.Errno.EFAULT);
    assert.equal(seen.length, 1, 'the request reached the client');
    await c.dmaUnmap(0x300000n, 0x1000n);
  });

  test('a read-only fd-less region refuses device writes without asking the client', async () => {
    await c.call(W.Command.DMA_MAP, W.encodeDmaMap({ flags: W.DMA_MAP_FLAG_READ, offset: 0n, address: 0x400000n, size: 0x1000n }));
    seen.length = 0;
    assert.equal(await copy(0x100000n, 0x400000n, 8), W.Errno.EACCES);
    assert.deepEqual(seen.map((x) => x.cmd), [W.Command.DMA_READ]);
    await c.dmaUnmap(0x400000n, 0x1000n);
  });

  test('posted writes pipelined behind a DMA request do not stall its reply', async () => {
    const m = c.memory[0]!;
    m.mem.write(0x20, Buffer.from('no stall'));
    await c.write64(0, 0x100, 0x100020n);
    await c.write64(0, 0x108, 0x109000n);
    await c.write64(0, 0x110, 8n);
    const t0 = Date.now();
    // The copy starts with a posted write; 300 more posted writes follow at once, so the
    // client's DMA_READ reply arrives behind them.
    c.postRegionWrite(0, 0x118, Buffer.from([1, 0, 0, 0]));
    for (let i = 0; i < 300; i++) c.postRegionWrite(0, 0x40, Buffer.from([i & 0xff, 0, 0, 0]));
    assert.equal(await c.read32(0, 0x120), 0);
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms (a 5 s DMA timeout?)`);
    assert.equal(m.mem.read(0x9000, 8).toString(), 'no stall');
    assert.equal(await c.read32(0, 0x40), 299 & 0xff);
  });

  test('a client that disconnects while a DMA request is outstanding', async () => {
    const n = ends.length;
    const copies = s.model.copies;
    answer = () => {
      c.close();
    };
    await c.write64(0, 0x100, 0x100000n);
    await c.write64(0, 0x108, 0x108000n);
    await c.write64(0, 0x110, 8n);
    c.postRegionWrite(0, 0x118, Buffer.from([1, 0, 0, 0]));
    await waitFor(() => ends.length > n, 2000, 'session end');
    answer = () => undefined;
    assert.equal(s.model.copies, copies, 'the copy cannot have completed');
    assert.equal(s.server.dma.regions().length, 0, 'mappings dropped');
    // The server is ready for the next client; the failed copy left an errno behind.
    await open();
    assert.notEqual(await c.read32(0, 0x120), 0);
    await c.addMemory(0x100000n, 0x1000, { shareFd: false });
    c.memory[0]!.mem.write(0, Buffer.from('again'));
    assert.equal(await copy(0x100000n, 0x100800n, 5), 0);
    assert.equal(c.memory[0]!.mem.read(0x800, 5).toString(), 'again');
  });
});

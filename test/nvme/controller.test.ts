// The NVMe controller over a real vfio-user socket, driven by our userspace driver, in both
// doorbell modes (mapped page polled by the native engine; REGION_WRITE messages).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MallocBdev } from '../../target/bdev/malloc.js';
import { ErrorBdev } from '../../target/bdev/error.js';
import { FileBdev } from '../../target/bdev/file.js';
import { openSync, readSync, closeSync, writeFileSync } from 'node:fs';
import { NvmeEndpoint } from '../../target/nvme/endpoint.js';
import { NvmeDriver, cmd, type QueuePair } from '../../harness/initiator/nvme-driver.js';
import { Status } from '../../target/nvme/constants.js';

const st = (s: number) => s & 0x7ff; // SCT/SC without DNR/More

for (const mode of ['mapped', 'message'] as const) {
  describe(`NVMe controller (${mode} doorbells)`, () => {
    let dir: string;
    let ep: NvmeEndpoint;
    let bdev: MallocBdev;
    let drv: NvmeDriver;
    let q: QueuePair;

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'vnvme-nvme-'));
      bdev = new MallocBdev({ name: 'Malloc0', blockSize: 512, numBlocks: 16384 });
      ep = new NvmeEndpoint({
        traddr: dir,
        serialNumber: 'SPDK0',
        modelNumber: 'vnvme test controller',
        subnqn: 'nqn.2019-07.io.spdk:cnode0',
        namespaces: () => [{ nsid: 1, bdev }],
        disableMappableBar0: mode === 'message',
      });
      drv = await NvmeDriver.attach(join(dir, 'cntrl'));
    });
    after(async () => {
      drv?.close();
      await ep?.close();
      await bdev?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('doorbell mode as configured', () => {
      assert.equal(drv.mappedDoorbells, mode === 'mapped');
    });

    test('registers after enable: CAP, VS 1.4, CSTS.RDY', async () => {
      const vs = await drv.client.read32(0, 0x08);
      assert.equal(vs, 0x00010400);
      assert.equal(Number(drv.cap & 0xffffn) + 1, 1024);
      assert.equal((await drv.client.read32(0, 0x1c)) & 1, 1);
    });

    test('Identify Controller: serial, model, NN, SQES/CQES, subnqn', async () => {
      const id = await drv.identify(1);
      assert.equal(id.toString('ascii', 4, 24).trim(), 'SPDK0');
      assert.equal(id.toString('ascii', 24, 64).trim(), 'vnvme test controller');
      assert.equal(id[512], 0x66);
      assert.equal(id[513], 0x44);
      assert.equal(id.toString('utf8', 768, 768 + 26), 'nqn.2019-07.io.spdk:cnode0');
    });

    test('Identify Namespace / active list / descriptors; unsupported CNS is Invalid Field', async () => {
      const ns = await drv.identify(0, 1);
      assert.equal(ns.readBigUInt64LE(0), 16384n);
      assert.equal((ns.readUInt32LE(128) >> 16) & 0xff, 9);
      const list = await drv.identify(2, 0);
      assert.equal(list.readUInt32LE(0), 1);
      assert.equal(list.readUInt32LE(4), 0);
      const desc = await drv.identify(3, 1);
      assert.equal(desc[0], 3, 'UUID descriptor');
      const bad = await drv.adminCommand(cmd(0x06, 0, { prp1: drv.alloc(4096), cdw10: 0x1f }));
      assert.equal(st(bad.status), st(Status.INVALID_FIELD));
      const badNs = await drv.adminCommand(cmd(0x06, 0, { prp1: drv.alloc(4096), cdw10: 0 }));
      assert.equal(st(badNs.status), st(Status.INVALID_NAMESPACE));
    });

    test('Number of Queues, then I/O queue pair', async () => {
      const n = await drv.setNumberOfQueues(4);
      assert.deepEqual(n, { nsq: 4, ncq: 4 });
      q = await drv.createIoQueuePair(1, 64);
    });

    test('queue creation rules: qid 0, duplicate, size over MQES, missing CQ, vector, deletion order', async () => {
      const base = drv.alloc(4096);
      const c = async (op: number, cdw10: number, cdw11: number) => st((await drv.adminCommand(cmd(op, 0, { prp1: base, cdw10, cdw11 }))).status);
      assert.equal(await c(0x05, (15 << 16) | 0, 1), st(Status.INVALID_QUEUE_IDENTIFIER));
      assert.equal(await c(0x05, (15 << 16) | 1, 1), st(Status.INVALID_QUEUE_IDENTIFIER));
      assert.equal(await c(0x05, (4096 << 16) | 2, 1), st(Status.INVALID_QUEUE_SIZE));
      assert.equal(await c(0x05, (15 << 16) | 2, 0), st(Status.INVALID_FIELD));
      assert.equal(await c(0x05, (15 << 16) | 2, (999 << 16) | 1), st(Status.INVALID_INTERRUPT_VECTOR));
      assert.equal(await c(0x05, (15 << 16) | 9, 1), st(Status.INVALID_QUEUE_IDENTIFIER), 'above the granted count');
      assert.equal(await c(0x01, (15 << 16) | 2, (3 << 16) | 1), st(Status.COMPLETION_QUEUE_INVALID));
      assert.equal(await c(0x04, 1, 0), st(Status.INVALID_QUEUE_DELETION));
      assert.equal(await c(0x00, 7, 0), st(Status.INVALID_QUEUE_IDENTIFIER));
    });

    test('write then read back, 4 KiB and 256 KiB (PRP list)', async () => {
      for (const bytes of [4096, 256 * 1024]) {
        const src = drv.alloc(bytes);
        const dst = drv.alloc(bytes);
        const data = Buffer.alloc(bytes);
        for (let i = 0; i < bytes; i += 4) data.writeUInt32LE((i * 2654435761) >>> 0, i);
        drv.write(src, data);
        const w = await drv.io(q, 0x01, 1, 100n, bytes / 512, src, bytes);
        assert.equal(w.status, 0);
        const r = await drv.io(q, 0x02, 1, 100n, bytes / 512, dst, bytes);
        assert.equal(r.status, 0);
        assert.ok(drv.read(dst, bytes).equals(data));
        assert.ok((await bdev.read(100n, bytes / 512)).equals(data), 'data reached the bdev');
      }
    });

    test('I/O errors: LBA out of range, invalid namespace, unmapped buffer, invalid opcode, MDTS', async () => {
      const buf = drv.alloc(4096);
      assert.equal(st((await drv.io(q, 0x02, 1, 16383n, 2, buf, 1024)).status), st(Status.LBA_OUT_OF_RANGE));
      assert.equal(st((await drv.io(q, 0x02, 9, 0n, 1, buf, 512)).status), st(Status.INVALID_NAMESPACE));
      assert.equal(st((await drv.submit(q, cmd(0x02, 1, { prp1: 0x7000000000n, cdw12: 0 }))).status), st(Status.DATA_TRANSFER_ERROR));
      assert.equal(st((await drv.submit(q, cmd(0x7f, 1, {}))).status), st(Status.INVALID_OPCODE));
      assert.equal(st((await drv.submit(q, cmd(0x02, 1, { prp1: buf, cdw12: 4095 }))).status), st(Status.INVALID_FIELD));
    });

    test('a PRP list whose chain pointer points at itself ends in Data Transfer Error (I/O and admin), and the queues keep working', async () => {
      // A list at page offset 0xFF8: its only entry is the chain pointer, and it points back at the list.
      const page = drv.alloc(8192);
      const list = page + 0xff8n;
      const self = Buffer.alloc(8);
      self.writeBigUInt64LE(list);
      drv.write(list, self);
      const data = drv.alloc(4096);
      const io = await drv.submit(q, cmd(0x02, 1, { prp1: data, prp2: list, cdw12: 16384 / 512 - 1 }));
      assert.equal(st(io.status), st(Status.DATA_TRANSFER_ERROR), 'native engine: read of 16 KiB');
      // Get Log Page (served by TypeScript), 16 KiB of the error log through the same list.
      const admin = await drv.adminCommand(cmd(0x02, 0xffffffff, { prp1: data, prp2: list, cdw10: 0x01 | ((16384 / 4 - 1) << 16) }));
      assert.notEqual(admin.status, 0, 'admin path completes with an error');
      assert.ok([st(Status.DATA_TRANSFER_ERROR), st(Status.INVALID_FIELD)].includes(st(admin.status)), `admin status 0x${admin.status.toString(16)}`);
      const buf = drv.alloc(4096);
      assert.equal((await drv.io(q, 0x02, 1, 0n, 8, buf, 4096)).status, 0, 'I/O queue still serves');
      assert.equal((await drv.identify(1, 0)).length, 4096, 'admin queue still serves');
    });

    test('write zeroes, compare, DSM deallocate, flush', async () => {
      const buf = drv.alloc(4096);
      drv.write(buf, Buffer.alloc(4096, 0xab));
      assert.equal((await drv.io(q, 0x01, 1, 200n, 8, buf, 4096)).status, 0);
      assert.equal((await drv.io(q, 0x05, 1, 200n, 8, buf, 4096)).status, 0, 'compare equal');
      assert.equal((await drv.submit(q, cmd(0x08, 1, { cdw10: 200, cdw12: 7 }))).status, 0);
      assert.equal(st((await drv.io(q, 0x05, 1, 200n, 8, buf, 4096)).status), st(Status.COMPARE_FAILURE));
      assert.ok((await bdev.read(200n, 8)).equals(Buffer.alloc(4096)));
      drv.write(buf, Buffer.alloc(4096, 0xcd));
      await drv.io(q, 0x01, 1, 300n, 8, buf, 4096);
      const range = drv.alloc(16);
      const r = Buffer.alloc(16);
      r.writeUInt32LE(8, 4);
      r.writeBigUInt64LE(300n, 8);
      drv.write(range, r);
      assert.equal((await drv.submit(q, cmd(0x09, 1, { prp1: range, cdw10: 0, cdw11: 4 }))).status, 0);
      assert.ok((await bdev.read(300n, 8)).equals(Buffer.alloc(4096)));
      assert.equal((await drv.submit(q, cmd(0x00, 1, {}))).status, 0);
    });

    test('many commands in flight wrap the queues', async () => {
      const buf = drv.alloc(64 * 4096);
      const all = [];
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < 60; i++) all.push(drv.io(q, 0x02, 1, BigInt(i * 8), 8, buf + BigInt(i * 4096), 4096));
        for (const c of await Promise.all(all.splice(0))) assert.equal(c.status, 0);
      }
    });

    test('SMART log counts the I/O; unknown log page is Invalid Log Page', async () => {
      const b = drv.alloc(4096);
      await drv.adminOk(cmd(0x02, 0xffffffff, { prp1: b, cdw10: 0x02 | (127 << 16) }), 'smart');
      const smart = drv.read(b, 512);
      assert.ok(smart.readBigUInt64LE(64) > 200n, 'host read commands');
      assert.ok(smart.readBigUInt64LE(80) >= 3n, 'host write commands');
      const bad = await drv.adminCommand(cmd(0x02, 0, { prp1: b, cdw10: 0x77 | (127 << 16) }));
      assert.equal(st(bad.status), st(Status.INVALID_LOG_PAGE));
      // The same I/O shows in the bdev's statistics (bdev_get_iostat), served natively or not.
      ep.controller.foldBdevStats();
      assert.ok(bdev.stats.num_read_ops >= 240, `bdev read ops ${bdev.stats.num_read_ops}`);
      assert.ok(bdev.stats.bytes_written >= 4096 + 256 * 1024);
    });

    test('Get/Set Features: VWC, number of queues after creation is a sequence error', async () => {
      assert.equal(await drv.adminOk(cmd(0x0a, 0, { cdw10: 0x06 }), 'get vwc'), 1);
      await drv.adminOk(cmd(0x09, 0, { cdw10: 0x06, cdw11: 0 }), 'set vwc');
      assert.equal(await drv.adminOk(cmd(0x0a, 0, { cdw10: 0x06 }), 'get vwc'), 0);
      const c = await drv.adminCommand(cmd(0x09, 0, { cdw10: 0x07, cdw11: 0x00010001 }));
      assert.equal(st(c.status), st(Status.COMMAND_SEQUENCE_ERROR));
      const bad = await drv.adminCommand(cmd(0x0a, 0, { cdw10: 0x55 }));
      assert.equal(st(bad.status), st(Status.INVALID_FIELD));
    });

    test('namespace hot add raises the Changed Namespace AEN', async () => {
      await drv.adminOk(cmd(0x09, 0, { cdw10: 0x0b, cdw11: 1 << 8 }), 'AEC');
      const aer = drv.adminCommand(cmd(0x0c, 0, {}));
      const second = new MallocBdev({ name: 'Malloc1', blockSize: 4096, numBlocks: 256 });
      const before = ep.opts.namespaces;
      ep.opts.namespaces = () => [...before(), { nsid: 2, bdev: second }];
      ep.refreshNamespaces();
      const c = await aer;
      assert.equal(c.dw0 & 7, 2, 'notice');
      assert.equal((c.dw0 >> 16) & 0xff, 0x04, 'changed namespace list log');
      const b = drv.alloc(4096);
      await drv.adminOk(cmd(0x02, 0, { prp1: b, cdw10: 0x04 | (1023 << 16) }), 'changed ns log');
      assert.equal(drv.read(b, 4).readUInt32LE(0), 2);
      assert.equal((await drv.identify(0, 2)).readBigUInt64LE(0), 256n);
      ep.opts.namespaces = before;
      ep.refreshNamespaces();
      await second.close();
    });

    test('error bdev namespaces are served through TypeScript with the injected status', async () => {
      const base = new MallocBdev({ name: 'Malloc2', blockSize: 512, numBlocks: 1024 });
      const eb = new ErrorBdev(base);
      const before = ep.opts.namespaces;
      ep.opts.namespaces = () => [...before(), { nsid: 3, bdev: eb }];
      ep.refreshNamespaces();
      const buf = drv.alloc(4096);
      drv.write(buf, Buffer.alloc(4096, 7));
      assert.equal((await drv.io(q, 0x01, 3, 8n, 8, buf, 4096)).status, 0);
      assert.ok((await base.read(8n, 8)).equals(Buffer.alloc(4096, 7)));
      eb.inject('read', { errorType: 'nvme_failure', remaining: 1, status: { sct: 2, sc: 0x81 } });
      const r = await drv.io(q, 0x02, 3, 8n, 8, buf, 4096);
      assert.equal(r.status & 0x7ff, (2 << 8) | 0x81);
      ep.opts.namespaces = before;
      ep.refreshNamespaces();
      await eb.close();
    });

    test('file bdev namespaces are served natively (pwritev/preadv), durable after flush', async () => {
      const file = join(dir, 'disk.img');
      writeFileSync(file, Buffer.alloc(1 << 20));
      const fb = await FileBdev.open({ name: 'AIO0', filename: file, blockSize: 512 });
      const before = ep.opts.namespaces;
      ep.opts.namespaces = () => [...before(), { nsid: 4, bdev: fb }];
      ep.refreshNamespaces();
      const src = drv.alloc(64 * 1024);
      const data = Buffer.alloc(64 * 1024);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7 + 3) & 0xff;
      drv.write(src, data);
      // An unaligned PRP1 (offset 0x200) forces the O_DIRECT bounce path.
      assert.equal((await drv.io(q, 0x01, 4, 16n, 128, src, 64 * 1024)).status, 0);
      assert.equal((await drv.submit(q, cmd(0x00, 4, {}))).status, 0);
      const dst = drv.alloc(8192) + 0x200n;
      assert.equal((await drv.io(q, 0x02, 4, 16n, 8, dst, 4096)).status, 0);
      assert.ok(drv.read(dst, 4096).equals(data.subarray(0, 4096)));
      const fd = openSync(file, 'r');
      const onDisk = Buffer.alloc(64 * 1024);
      readSync(fd, onDisk, 0, onDisk.length, 16 * 512);
      closeSync(fd);
      assert.ok(onDisk.equals(data), 'the file holds what was written');
      assert.ok(ep.controller.ioStats().writeBytes >= 64 * 1024);
      ep.opts.namespaces = before;
      ep.refreshNamespaces();
      await fb.close();
    });

    test('shadow doorbells (Doorbell Buffer Config) only when BAR0 traps', async () => {
      const idc = await drv.identify(1);
      const dbcs = (idc.readUInt16LE(256) & (1 << 8)) !== 0;
      assert.equal(dbcs, mode === 'message', 'OACS.DBCS advertised only in message mode');
      if (!dbcs) {
        const c = await drv.adminCommand(cmd(0x7c, 0, { prp1: drv.alloc(4096), prp2: drv.alloc(4096) }));
        assert.equal(st(c.status), st(Status.INVALID_OPCODE));
        return;
      }
      const bad = await drv.adminCommand(cmd(0x7c, 0, { prp1: drv.alloc(4096) + 8n, prp2: drv.alloc(4096) }));
      assert.equal(st(bad.status), st(Status.INVALID_FIELD));
      await drv.enableShadowDoorbells();
      const buf = drv.alloc(64 * 4096);
      for (let round = 0; round < 5; round++) {
        const all = [];
        for (let i = 0; i < 40; i++) all.push(drv.io(q, 0x02, 1, BigInt(i * 8), 8, buf + BigInt(i * 4096), 4096));
        for (const c of await Promise.all(all)) assert.equal(c.status, 0);
      }
      assert.ok(drv.shadow!.mmioWrites > 0);
    });

    test('controller reset (CC.EN=0) tears down I/O queues; re-init works', async () => {
      await drv.disable();
      assert.equal(ep.controller.sqs.size, 0);
      drv.close();
      drv = await NvmeDriver.attach(join(dir, 'cntrl'));
      await drv.setNumberOfQueues(2);
      q = await drv.createIoQueuePair(1, 16);
      const buf = drv.alloc(4096);
      assert.equal((await drv.io(q, 0x02, 1, 100n, 8, buf, 4096)).status, 0);
    });
  });
}

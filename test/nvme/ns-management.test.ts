// Namespace Management (0Dh) and Namespace Attachment (15h) end to end: a target configured
// by RPC (a subsystem with Malloc0 as namespace 1, a namespace pool, two listeners = two
// controllers), each controller driven by our userspace driver over its vfio-user socket.
// Every status row of both commands, the Identify data they need (OACS bit 3, TNVMCAP/UNVMCAP,
// MNAN, CNS 00h NSID FFFFFFFFh, 10h-13h), the Commands Supported and Effects entries, and the
// Changed Namespace List and Namespace Attribute Changed event on each controller whose
// namespaces changed; and that without a pool nothing of it is there.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { JsonRpcClient, RpcCallError, saveConfig } from '../../harness/rpc/client.js';
import { NvmeDriver, cmd, type Cqe, type QueuePair } from '../../harness/initiator/nvme-driver.js';
import { Status } from '../../target/nvme/constants.js';
import { startTarget, type TestTarget } from '../rpc/helpers.js';
import { controllerFixture, sc } from './fixture.js';

const NQN = 'nqn.2019-07.io.spdk:nsm';
const POOL = 8 << 20; // 8 MiB
const MALLOC0_BYTES = 4096 * 512;

const NSID_ALL = 0xffffffff;

/** Namespace Management create data: the Identify Namespace layout's host-specified fields. */
function createData(f: { nsze: bigint; ncap?: bigint; flbas?: number; dps?: number; nmic?: number }): Buffer {
  const b = Buffer.alloc(4096);
  b.writeBigUInt64LE(f.nsze, 0);
  b.writeBigUInt64LE(f.ncap ?? f.nsze, 8);
  b[26] = f.flbas ?? 0;
  b[29] = f.dps ?? 0;
  b[30] = f.nmic ?? 0;
  return b;
}

function controllerListData(ids: number[], count = ids.length): Buffer {
  const b = Buffer.alloc(4096);
  b.writeUInt16LE(count, 0);
  ids.forEach((id, i) => b.writeUInt16LE(id, 2 + 2 * i));
  return b;
}

/** One controller of the subsystem, with an AER helper. */
class Host {
  constructor(
    readonly drv: NvmeDriver,
    readonly cntlid: number,
  ) {}

  static async attach(socket: string): Promise<Host> {
    const drv = await NvmeDriver.attach(socket);
    const id = await drv.identify(1);
    return new Host(drv, id.readUInt16LE(78));
  }

  async send(opc: number, nsid: number, f: { data?: Buffer; cdw10?: number; cdw11?: number } = {}): Promise<Cqe> {
    let prp1 = 0n;
    if (f.data) {
      prp1 = this.drv.alloc(4096);
      this.drv.write(prp1, f.data);
    }
    return this.drv.adminCommand(cmd(opc, nsid, { prp1, cdw10: f.cdw10 ?? 0, cdw11: f.cdw11 ?? 0 }));
  }

  create(f: Parameters<typeof createData>[0], cdw11 = 0): Promise<Cqe> {
    return this.send(0x0d, 0, { data: createData(f), cdw10: 0, cdw11 });
  }
  delete(nsid: number): Promise<Cqe> {
    return this.send(0x0d, nsid, { cdw10: 1 });
  }
  attachNs(nsid: number, ids: number[], sel = 0): Promise<Cqe> {
    return this.send(0x15, nsid, { data: controllerListData(ids), cdw10: sel });
  }
  detachNs(nsid: number, ids: number[]): Promise<Cqe> {
    return this.attachNs(nsid, ids, 1);
  }

  async identify(cns: number, nsid = 0, cntid = 0): Promise<{ c: Cqe; data: Buffer }> {
    const b = this.drv.alloc(4096);
    this.drv.write(b, Buffer.alloc(4096, 0xa5));
    const c = await this.drv.adminCommand(cmd(0x06, nsid, { prp1: b, cdw10: cns | (cntid << 16) }));
    return { c, data: this.drv.read(b, 4096) };
  }
  async list(cns: number, nsid = 0): Promise<number[]> {
    const { c, data } = await this.identify(cns, nsid);
    assert.equal(c.status, 0, `Identify CNS ${cns}`);
    const ids: number[] = [];
    for (let i = 0; i < 1024 && data.readUInt32LE(4 * i); i++) ids.push(data.readUInt32LE(4 * i));
    return ids;
  }
  async controllerList(cns: number, nsid = 0, cntid = 0): Promise<number[]> {
    const { c, data } = await this.identify(cns, nsid, cntid);
    assert.equal(c.status, 0, `Identify CNS ${cns}`);
    return Array.from({ length: data.readUInt16LE(0) }, (_, i) => data.readUInt16LE(2 + 2 * i));
  }

  async log(lid: number, bytes = 4096): Promise<Buffer> {
    const b = this.drv.alloc(bytes);
    await this.drv.adminOk(cmd(0x02, 0, { prp1: b, cdw10: lid | ((bytes / 4 - 1) << 16) }), `Get Log Page ${lid}`);
    return this.drv.read(b, bytes);
  }
  async changedNamespaces(): Promise<number[]> {
    const d = await this.log(0x04);
    const ids: number[] = [];
    for (let i = 0; i < 1024 && d.readUInt32LE(4 * i); i++) ids.push(d.readUInt32LE(4 * i));
    return ids;
  }

  /** Enables Namespace Attribute Notices (AEC bit 8). */
  async enableNotices(): Promise<void> {
    await this.drv.adminOk(cmd(0x09, 0, { cdw10: 0x0b, cdw11: 1 << 8 }), 'Set Features AEC');
  }

  /** Posts an AER; `fired` says whether it completed, `done` gives its completion. */
  aer(): { done: Promise<Cqe>; fired: () => boolean } {
    let got = false;
    const done = this.drv.submit(this.drv.admin, cmd(0x0c, 0), 60_000).then((c) => {
      got = true;
      return c;
    });
    done.catch(() => {});
    return { done, fired: () => got };
  }

  close(): void {
    this.drv.close();
  }
}

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An event of type Notice (2h), Namespace Attribute Changed (00h), for log 04h. */
function assertNamespaceNotice(c: Cqe): void {
  assert.equal(c.status, 0);
  assert.equal(c.dw0 & 7, 2, 'event type Notice');
  assert.equal((c.dw0 >> 8) & 0xff, 0x00, 'Namespace Attribute Changed');
  assert.equal((c.dw0 >> 16) & 0xff, 0x04, 'log page 04h');
}

function u128(b: Buffer, off: number): bigint {
  return b.readBigUInt64LE(off) | (b.readBigUInt64LE(off + 8) << 64n);
}

describe('Namespace Management and Attachment (two controllers, a namespace pool)', () => {
  let tgt: TestTarget;
  let rpc: JsonRpcClient;
  let a: Host;
  let b: Host;
  let q: QueuePair;
  /** b's AER posted in one test and completed in the next. */
  let bPending: ReturnType<Host['aer']>;

  before(async () => {
    tgt = await startTarget({ realEndpoint: true });
    rpc = await JsonRpcClient.connect(tgt.sock);
    await rpc.call('nvmf_create_transport', { trtype: 'VFIOUSER' });
    await rpc.call('bdev_malloc_create', { name: 'Malloc0', num_blocks: 4096, block_size: 512 });
    await rpc.call('nvmf_create_subsystem', { nqn: NQN, allow_any_host: true, serial_number: 'NSM0', max_namespaces: 8 });
    await rpc.call('nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Malloc0' } });
    await rpc.call('vnvme_subsystem_set_ns_pool', { nqn: NQN, capacity: POOL });
    const dirs = ['l1', 'l2'].map((d) => join(tgt.dir, d));
    for (const d of dirs) {
      mkdirSync(d, { mode: 0o700 });
      await rpc.call('nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: d, trsvcid: '0' } });
    }
    a = await Host.attach(join(dirs[0]!, 'cntrl'));
    b = await Host.attach(join(dirs[1]!, 'cntrl'));
    await a.drv.setNumberOfQueues(1);
    q = await a.drv.createIoQueuePair(1, 16);
    await a.enableNotices();
    await b.enableNotices();
  });
  after(async () => {
    a?.close();
    b?.close();
    rpc?.close();
    await tgt?.stop();
  });

  test('Identify Controller: OACS bit 3, TNVMCAP = pool + Malloc0, UNVMCAP = pool, MNAN = NN', async () => {
    const { data } = await a.identify(1);
    assert.equal(data.readUInt16LE(256) & (1 << 3), 1 << 3, 'OACS bit 3');
    assert.equal(u128(data, 280), BigInt(POOL + MALLOC0_BYTES), 'TNVMCAP');
    assert.equal(u128(data, 296), BigInt(POOL), 'UNVMCAP');
    assert.equal(data.readUInt32LE(516), 8, 'NN');
    assert.equal(data.readUInt32LE(540), 8, 'MNAN');
    assert.notEqual(a.cntlid, b.cntlid, 'two controllers, two IDs');
  });

  test('Commands Supported and Effects: 0Dh and 15h with CSUPP and NIC, no LBCC/NCC', async () => {
    const d = await a.log(0x05);
    assert.equal(d.readUInt32LE(4 * 0x0d) & 0xf, 0b1001, 'Namespace Management: CSUPP | NIC');
    assert.equal(d.readUInt32LE(4 * 0x15) & 0xf, 0b1001, 'Namespace Attachment: CSUPP | NIC');
  });

  test('CNS 00h NSID FFFFFFFFh lists the formats to create with; 13h the controllers; 10h/12h the allocated namespace 1', async () => {
    const { c, data } = await a.identify(0, NSID_ALL);
    assert.equal(c.status, 0);
    assert.equal(data[25], 1, 'NLBAF: two formats');
    assert.equal((data.readUInt32LE(128) >> 16) & 0xff, 9, 'LBAF0 512');
    assert.equal((data.readUInt32LE(132) >> 16) & 0xff, 12, 'LBAF1 4096');
    assert.equal(data.readBigUInt64LE(0), 0n, 'no size in the common data');
    const ids = [a.cntlid, b.cntlid].sort((x, y) => x - y);
    assert.deepEqual(await a.controllerList(0x13), ids);
    assert.deepEqual(await a.controllerList(0x13, 0, ids[1]!), [ids[1]], 'CNTID: from that ID on');
    assert.deepEqual(await a.list(0x10), [1]);
    assert.deepEqual(await b.controllerList(0x12, 1), ids, 'namespace 1 (RPC) is attached to both');
    for (const nsid of [0xfffffffe, NSID_ALL]) assert.equal(sc((await a.identify(0x10, nsid)).c.status), sc(Status.INVALID_NAMESPACE), `CNS 10h NSID ${nsid.toString(16)}`);
    for (const nsid of [0, 9, NSID_ALL]) assert.equal(sc((await a.identify(0x11, nsid)).c.status), sc(Status.INVALID_NAMESPACE), `CNS 11h NSID ${nsid.toString(16)}`);
    const unallocated = await a.identify(0x11, 5);
    assert.equal(unallocated.c.status, 0);
    assert.ok(unallocated.data.equals(Buffer.alloc(4096)), 'CNS 11h of an unallocated NSID: zeroes');
  });

  test('create: NSID in dword 0, allocated but attached nowhere, capacity taken, a bdev made', async () => {
    const c = await a.create({ nsze: 1024n, flbas: 1 }); // 4 MiB of 4 KiB blocks
    assert.equal(c.status, 0);
    assert.equal(c.dw0, 2, 'the lowest free NSID');
    assert.deepEqual(await a.list(0x10), [1, 2], 'allocated');
    assert.deepEqual(await a.list(0x02), [1], 'not active: attached to no controller');
    assert.deepEqual(await a.controllerList(0x12, 2), []);
    const id = await a.identify(0x11, 2);
    assert.equal(id.data.readBigUInt64LE(0), 1024n, 'NSZE');
    assert.equal(id.data.readBigUInt64LE(8), 1024n, 'NCAP');
    assert.equal(id.data[26], 1, 'FLBAS');
    assert.equal(id.data[25], 1, 'NLBAF');
    assert.equal(id.data[30], 0, 'NMIC: private');
    assert.ok((await a.identify(0, 2)).data.equals(Buffer.alloc(4096)), 'CNS 00h of a namespace not attached here: zeroes');
    assert.equal(u128((await a.identify(1)).data, 296), BigInt(POOL - (4 << 20)), 'UNVMCAP');
    const pool = (await rpc.call('vnvme_subsystem_get_ns_pool', { nqn: NQN })) as { allocated: number; namespaces: { nsid: number; bdev_name: string }[] };
    assert.equal(pool.allocated, 4 << 20);
    assert.equal(pool.namespaces[0]!.nsid, 2);
    const bdevs = (await rpc.call('bdev_get_bdevs', { name: pool.namespaces[0]!.bdev_name })) as { block_size: number; num_blocks: number }[];
    assert.equal(bdevs[0]!.block_size, 4096);
    assert.equal(bdevs[0]!.num_blocks, 1024);
  });

  test('create: every rejected request changes nothing', async () => {
    const before = await a.list(0x10);
    const rows: [string, Promise<Cqe>, number][] = [
      ['NSZE 0', a.create({ nsze: 0n }), Status.INVALID_FIELD],
      ['NCAP > NSZE', a.create({ nsze: 8n, ncap: 16n }), Status.INVALID_FIELD],
      ['NCAP < NSZE (thin)', a.create({ nsze: 16n, ncap: 8n }), Status.THIN_PROVISIONING_NOT_SUPPORTED],
      ['FLBAS beyond NLBAF', a.create({ nsze: 8n, flbas: 2 }), Status.INVALID_FORMAT],
      ['FLBAS upper bits beyond NLBAF', a.create({ nsze: 8n, flbas: 1 << 5 }), Status.INVALID_FORMAT],
      ['DPS type 1 without metadata', a.create({ nsze: 8n, dps: 1 }), Status.INVALID_FORMAT],
      ['CSI 2 (Zoned)', a.create({ nsze: 8n }, 2 << 24), Status.IO_COMMAND_SET_NOT_SUPPORTED],
      ['larger than UNVMCAP', a.create({ nsze: 8193n, flbas: 0 }), Status.NAMESPACE_INSUFFICIENT_CAPACITY],
      ['SEL 2 (reserved)', a.send(0x0d, 0, { data: createData({ nsze: 8n }), cdw10: 2 }), Status.INVALID_FIELD],
    ];
    for (const [what, p, want] of rows) assert.equal(sc((await p).status), sc(want), what);
    assert.deepEqual(await a.list(0x10), before);
    assert.equal(u128((await a.identify(1)).data, 296), BigInt(POOL - (4 << 20)), 'UNVMCAP unchanged');
  });

  test('attach to this controller: the namespace becomes active, Changed Namespace List and AEN here only; I/O works', async () => {
    const ea = a.aer();
    const eb = b.aer();
    assert.equal((await a.attachNs(2, [a.cntlid])).status, 0);
    assertNamespaceNotice(await ea.done);
    assert.deepEqual(await a.changedNamespaces(), [2]);
    await settle(200);
    assert.equal(eb.fired(), false, 'the other controller saw no change');
    assert.deepEqual(await a.list(0x02), [1, 2]);
    assert.deepEqual(await b.list(0x02), [1]);
    assert.deepEqual(await a.controllerList(0x12, 2), [a.cntlid]);
    assert.equal((await a.identify(0, 2)).data.readBigUInt64LE(0), 1024n, 'CNS 00h now reports it');
    const buf = a.drv.alloc(4096);
    a.drv.write(buf, Buffer.alloc(4096, 0x3c));
    assert.equal((await a.drv.io(q, 0x01, 2, 7n, 1, buf, 4096)).status, 0, 'Write to the new namespace');
    const back = a.drv.alloc(4096);
    assert.equal((await a.drv.io(q, 0x02, 2, 7n, 1, back, 4096)).status, 0, 'Read');
    assert.ok(a.drv.read(back, 4096).equals(Buffer.alloc(4096, 0x3c)));
    // Format NVM keeps the namespace's format: its own index is accepted, another is not.
    assert.equal(sc((await a.send(0x80, 2, { cdw10: 0 })).status), sc(Status.INVALID_FORMAT), 'Format NVM to LBAF 0');
    assert.equal((await a.send(0x80, 2, { cdw10: 1 })).status, 0, 'Format NVM in LBAF 1');
    assert.equal((await a.drv.io(q, 0x02, 2, 7n, 1, back, 4096)).status, 0);
    assert.ok(a.drv.read(back, 4096).equals(Buffer.alloc(4096)), 'formatted to zeroes');
    bPending = eb; // still outstanding: the next change of b's namespaces completes it
  });

  test('attach and detach rejections: every status row, nothing changed', async () => {
    const rows: [string, Promise<Cqe>, number][] = [
      ['already attached', a.attachNs(2, [a.cntlid]), Status.NAMESPACE_ALREADY_ATTACHED],
      ['private namespace to a second controller', a.attachNs(2, [b.cntlid]), Status.NAMESPACE_IS_PRIVATE],
      ['empty controller list', a.attachNs(2, []), Status.CONTROLLER_LIST_INVALID],
      ['a controller not in the subsystem', a.attachNs(2, [0x7777]), Status.CONTROLLER_LIST_INVALID],
      ['a controller twice', a.detachNs(2, [a.cntlid, a.cntlid]), Status.CONTROLLER_LIST_INVALID],
      ['more than 2047 identifiers', a.send(0x15, 2, { data: controllerListData([a.cntlid], 2048), cdw10: 0 }), Status.CONTROLLER_LIST_INVALID],
      ['detach where not attached', a.detachNs(2, [b.cntlid]), Status.NAMESPACE_NOT_ATTACHED],
      ['unallocated NSID', a.attachNs(5, [a.cntlid]), Status.INVALID_FIELD],
      ['NSID 0', a.attachNs(0, [a.cntlid]), Status.INVALID_NAMESPACE],
      ['NSID above NN', a.attachNs(9, [a.cntlid]), Status.INVALID_NAMESPACE],
      ['NSID FFFFFFFFh', a.attachNs(NSID_ALL, [a.cntlid]), Status.INVALID_NAMESPACE],
      ['SEL 2 (reserved)', a.attachNs(2, [a.cntlid], 2), Status.INVALID_FIELD],
    ];
    for (const [what, p, want] of rows) {
      const c = await p;
      assert.equal(sc(c.status), sc(want), what);
      assert.ok(c.status & (1 << 14), `${what}: DNR`);
    }
    assert.deepEqual(await a.controllerList(0x12, 2), [a.cntlid]);
    assert.deepEqual(await b.list(0x02), [1]);
  });

  test('a shared namespace attached to both controllers in one command: both get the event', async () => {
    const eb = bPending;
    const c = await a.create({ nsze: 2048n, nmic: 1 }); // 1 MiB of 512-byte blocks
    assert.equal(c.status, 0);
    const nsid = c.dw0;
    assert.equal(nsid, 3);
    assert.equal((await a.identify(0x11, nsid)).data[30], 1, 'NMIC bit 0');
    const ea = a.aer();
    assert.equal((await a.attachNs(nsid, [a.cntlid, b.cntlid])).status, 0);
    assertNamespaceNotice(await ea.done);
    assertNamespaceNotice(await eb.done);
    assert.deepEqual(await a.changedNamespaces(), [3]);
    assert.deepEqual(await b.changedNamespaces(), [3]);
    assert.deepEqual(await b.list(0x02), [1, 3]);
    assert.deepEqual(await b.controllerList(0x12, nsid), [a.cntlid, b.cntlid].sort((x, y) => x - y));
  });

  test('detach: the namespace leaves the active list of that controller only, with the event; its I/O is refused', async () => {
    const eb = b.aer();
    const ea = a.aer();
    assert.equal((await a.detachNs(3, [b.cntlid])).status, 0);
    assertNamespaceNotice(await eb.done);
    assert.deepEqual(await b.changedNamespaces(), [3]);
    assert.deepEqual(await b.list(0x02), [1]);
    assert.deepEqual(await a.list(0x02), [1, 2, 3]);
    await settle(200);
    assert.equal(ea.fired(), false, 'no event where nothing changed');
    assert.equal((await a.detachNs(2, [a.cntlid])).status, 0);
    assertNamespaceNotice(await ea.done);
    assert.deepEqual(await a.changedNamespaces(), [2]);
    const buf = a.drv.alloc(4096);
    assert.equal(sc((await a.drv.io(q, 0x02, 2, 0n, 1, buf, 4096)).status), sc(Status.INVALID_NAMESPACE), 'Read of the detached namespace');
    // A namespace the operator added is attached and detached the same way.
    const eb2 = b.aer();
    assert.equal((await a.detachNs(1, [b.cntlid])).status, 0);
    assertNamespaceNotice(await eb2.done);
    assert.deepEqual(await b.changedNamespaces(), [1]);
    assert.deepEqual(await b.list(0x02), []);
    assert.deepEqual(await a.controllerList(0x12, 1), [a.cntlid]);
    assert.equal((await b.attachNs(1, [b.cntlid])).status, 0);
    assert.deepEqual(await b.list(0x02), [1]);
    assert.deepEqual(await b.changedNamespaces(), [1]);
  });

  test('delete: detached from every controller (the event where it was attached), capacity and bdev freed', async () => {
    const ea = a.aer();
    const pool0 = (await rpc.call('vnvme_subsystem_get_ns_pool', { nqn: NQN })) as { allocated: number; bdevs: string[] };
    assert.equal(pool0.allocated, (4 << 20) + (1 << 20));
    for (const [what, p, want] of [
      ['unallocated NSID', a.delete(6), Status.INVALID_FIELD],
      ['NSID 0', a.delete(0), Status.INVALID_NAMESPACE],
      ['NSID above NN', a.delete(9), Status.INVALID_NAMESPACE],
    ] as [string, Promise<Cqe>, number][])
      assert.equal(sc((await p).status), sc(want), what);
    assert.equal((await a.delete(3)).status, 0, 'delete namespace 3 (attached to a)');
    assertNamespaceNotice(await ea.done);
    assert.deepEqual(await a.changedNamespaces(), [3]);
    assert.deepEqual(await a.list(0x10), [1, 2]);
    assert.deepEqual(await a.list(0x02), [1]);
    assert.equal((await a.delete(2)).status, 0, 'delete namespace 2 (attached nowhere)');
    const pool = (await rpc.call('vnvme_subsystem_get_ns_pool', { nqn: NQN })) as { allocated: number; bdevs: string[] };
    assert.equal(pool.allocated, 0);
    assert.deepEqual(pool.bdevs, []);
    const names = ((await rpc.call('bdev_get_bdevs')) as { name: string }[]).map((x) => x.name);
    assert.deepEqual(names, ['Malloc0'], 'the pool bdevs are gone');
    assert.equal(u128((await a.identify(1)).data, 296), BigInt(POOL), 'UNVMCAP back to the whole pool');
    // The freed NSIDs are handed out again.
    assert.equal((await a.create({ nsze: 8n })).dw0, 2);
    assert.equal((await a.delete(2)).status, 0);
  });

  test('NSID exhaustion: Namespace Identifier Unavailable once every NSID up to NN is allocated', async () => {
    const made: number[] = [];
    for (let i = 0; i < 7; i++) {
      const c = await a.create({ nsze: 8n });
      assert.equal(c.status, 0, `create ${i}`);
      made.push(c.dw0);
    }
    assert.deepEqual(made, [2, 3, 4, 5, 6, 7, 8]);
    assert.equal(sc((await a.create({ nsze: 8n })).status), sc(Status.NAMESPACE_IDENTIFIER_UNAVAILABLE));
    // RPC: the pool cannot shrink below what is allocated, nor go while namespaces use it.
    await assert.rejects(rpc.call('vnvme_subsystem_set_ns_pool', { nqn: NQN, capacity: 4096 }), (e: RpcCallError) => e.error.code === -16);
    await assert.rejects(rpc.call('vnvme_subsystem_remove_ns_pool', { nqn: NQN }), (e: RpcCallError) => e.error.code === -16);
    // save_config keeps the pool, not the namespaces the host made nor their bdevs.
    const cfg = await saveConfig(rpc);
    const entries = cfg.subsystems.flatMap((s) => s.config ?? []) as { method: string; params: Record<string, unknown> }[];
    assert.deepEqual(entries.filter((e) => e.method === 'vnvme_subsystem_set_ns_pool').map((e) => e.params), [{ nqn: NQN, capacity: POOL, block_sizes: [512, 4096] }]);
    assert.deepEqual(entries.filter((e) => e.method === 'nvmf_subsystem_add_ns').map((e) => (e.params.namespace as { nsid: number }).nsid), [1]);
    assert.deepEqual(entries.filter((e) => e.method === 'bdev_malloc_create').map((e) => e.params.name), ['Malloc0']);
    // ... and replays it (its listeners left out: this target still serves them).
    for (const sub of cfg.subsystems) if (sub.config) sub.config = sub.config.filter((e) => (e as { method: string }).method !== 'nvmf_subsystem_add_listener');
    const again = await startTarget({ config: cfg, realEndpoint: true });
    try {
      const c2 = await JsonRpcClient.connect(again.sock);
      assert.deepEqual(((await c2.call('vnvme_subsystem_get_ns_pool', { nqn: NQN })) as { capacity: number; allocated: number }).allocated, 0);
      c2.close();
    } finally {
      await again.stop();
    }
    // nvmf_subsystem_remove_ns of a pool namespace frees it too.
    await rpc.call('nvmf_subsystem_remove_ns', { nqn: NQN, nsid: 8 });
    assert.equal(((await rpc.call('vnvme_subsystem_get_ns_pool', { nqn: NQN })) as { allocated: number }).allocated, 6 * 8 * 512);
  });

  test('delete NSID FFFFFFFFh: every namespace goes, the operator bdev stays (released)', async () => {
    const ea = a.aer();
    assert.equal((await a.delete(NSID_ALL)).status, 0);
    assertNamespaceNotice(await ea.done);
    assert.deepEqual(await a.changedNamespaces(), [1]);
    assert.deepEqual(await a.list(0x10), []);
    assert.deepEqual(await a.list(0x02), []);
    assert.equal(((await rpc.call('vnvme_subsystem_get_ns_pool', { nqn: NQN })) as { allocated: number }).allocated, 0);
    const bdevs = (await rpc.call('bdev_get_bdevs')) as { name: string; claimed: boolean }[];
    assert.deepEqual(bdevs.map((x) => [x.name, x.claimed]), [['Malloc0', false]]);
    assert.equal(u128((await a.identify(1)).data, 280), BigInt(POOL), 'TNVMCAP: the pool alone now');
    await rpc.call('vnvme_subsystem_remove_ns_pool', { nqn: NQN });
    assert.equal((await a.identify(1)).data.readUInt16LE(256) & (1 << 3), 0, 'OACS bit 3 clear without the pool');
    assert.equal(sc((await a.create({ nsze: 8n })).status), sc(Status.INVALID_OPCODE));
  });
});

describe('without a namespace pool nothing changes', () => {
  test('an endpoint with no subsystem and one whose subsystem has no pool: OACS bit 3 clear, 0Dh/15h Invalid Opcode, CNS 10h-13h Invalid Field', async () => {
    const f = await controllerFixture();
    const tgt = await startTarget({ realEndpoint: true });
    const rpc = await JsonRpcClient.connect(tgt.sock);
    let h: Host | undefined;
    try {
      await rpc.call('nvmf_create_transport', { trtype: 'VFIOUSER' });
      await rpc.call('bdev_malloc_create', { name: 'Malloc0', num_blocks: 64, block_size: 512 });
      await rpc.call('nvmf_create_subsystem', { nqn: NQN, allow_any_host: true });
      await rpc.call('nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Malloc0' } });
      const dir = join(tgt.dir, 'l');
      mkdirSync(dir, { mode: 0o700 });
      await rpc.call('nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: dir, trsvcid: '0' } });
      h = await Host.attach(join(dir, 'cntrl'));
      for (const host of [new Host(f.drv, 1), h]) {
        const id = (await host.identify(1)).data;
        assert.equal(id.readUInt16LE(256) & (1 << 3), 0, 'OACS bit 3');
        assert.equal(u128(id, 280), 0n, 'TNVMCAP');
        assert.equal(u128(id, 296), 0n, 'UNVMCAP');
        assert.equal(id.readUInt32LE(540), 0, 'MNAN');
        assert.equal(sc((await host.create({ nsze: 8n })).status), sc(Status.INVALID_OPCODE), 'Namespace Management');
        assert.equal(sc((await host.attachNs(1, [1])).status), sc(Status.INVALID_OPCODE), 'Namespace Attachment');
        for (const cns of [0x10, 0x11, 0x12, 0x13]) assert.equal(sc((await host.identify(cns, 1)).c.status), sc(Status.INVALID_FIELD), `CNS ${cns.toString(16)}h`);
        assert.equal(sc((await host.identify(0, NSID_ALL)).c.status), sc(Status.INVALID_NAMESPACE), 'CNS 00h NSID FFFFFFFFh');
        const effects = await host.log(0x05);
        assert.equal(effects.readUInt32LE(4 * 0x0d), 0, 'no 0Dh entry');
        assert.equal(effects.readUInt32LE(4 * 0x15), 0, 'no 15h entry');
      }
      // RPC: bad pools are refused.
      for (const [params, re] of [
        [{ capacity: 1 << 20, block_sizes: [1000] }, /power of two/],
        [{ capacity: 1 << 20, block_sizes: [256] }, /power of two/],
        [{ capacity: 1 << 20, block_sizes: [512, 512] }, /twice/],
        [{ capacity: 1 << 20, block_sizes: [] }, /1 to 16/],
        [{ capacity: 2 ** 52 }, /memory/],
      ] as [Record<string, unknown>, RegExp][])
        await assert.rejects(rpc.call('vnvme_subsystem_set_ns_pool', { nqn: NQN, ...params }), (e: RpcCallError) => re.test(e.error.message));
      await assert.rejects(rpc.call('vnvme_subsystem_get_ns_pool', { nqn: NQN }), /no namespace pool/);
      await assert.rejects(rpc.call('vnvme_subsystem_set_ns_pool', { nqn: 'nqn.2019-07.io.spdk:none', capacity: 0 }), /not found/);
    } finally {
      h?.close();
      rpc.close();
      await tgt.stop();
      await f.close();
    }
  });
});

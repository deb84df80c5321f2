// A hostile client stalled inside a message on one subsystem's listener, holding as many fds
// as it can send, takes nothing from anyone else: the RPC server answers, another subsystem's
// controller serves I/O, and the process holds at most max_msg_fds of the offered fds.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { native } from '../../native/index.js';
import { NvmeDriver } from '../../harness/initiator/nvme-driver.js';
import { VfioUserClient } from '../../harness/initiator/vfio-user-client.js';
import * as W from '../../target/vfio-user/wire.js';
import { JsonRpcClient } from '../../harness/rpc/client.js';
import { openFds } from '../helpers/scratch-device.js';
import { startTarget } from './helpers.js';

test('a client stalled mid-message with thousands of fds: RPC and other subsystems keep working', async (t) => {
  const tgt = await startTarget({ realEndpoint: true });
  const c = await JsonRpcClient.connect(tgt.sock);
  const clients: { close(): void }[] = [];
  t.after(async () => {
    for (const x of clients) x.close();
    c.close();
    await tgt.stop();
  });
  await c.call('nvmf_create_transport', { trtype: 'VFIOUSER' });
  for (const i of [0, 1]) {
    const nqn = `nqn.2019-07.io.spdk:cnode${i}`;
    const dir = join(tgt.dir, `ep${i}`);
    mkdirSync(dir, { mode: 0o700 });
    await c.call('bdev_malloc_create', { name: `Malloc${i}`, num_blocks: 1024, block_size: 512 });
    await c.call('nvmf_create_subsystem', { nqn, serial_number: `SPDK${i}`, allow_any_host: true });
    await c.call('nvmf_subsystem_add_ns', { nqn, namespace: { bdev_name: `Malloc${i}` } });
    await c.call('nvmf_subsystem_add_listener', { nqn, listen_address: { trtype: 'VFIOUSER', traddr: dir, trsvcid: '0' } });
  }
  const before = openFds();
  // On cnode0: VERSION, then a message whose body never ends, 5,000 fds along the way.
  const hostile = await VfioUserClient.open(join(tgt.dir, 'ep0', 'cntrl'));
  clients.push(hostile);
  const msg = W.encodeCommand(9, W.Command.DEVICE_SET_IRQS, Buffer.alloc(8192));
  hostile.sendRaw(msg.subarray(0, 16));
  for (let i = 0; i < 25; i++) {
    const efds = Array.from({ length: 200 }, () => native.eventfdCreate());
    hostile.sendRaw(msg.subarray(16 + i, 17 + i), efds);
    efds.forEach((fd) => native.closeFd(fd));
  }
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(openFds() - before <= 16 + 4, `the target holds ${openFds() - before} more fds (at most max_msg_fds of the offered ones)`);
  // RPC answers.
  const subs = (await c.call('nvmf_get_subsystems')) as { nqn: string }[];
  assert.ok(subs.some((s) => s.nqn === 'nqn.2019-07.io.spdk:cnode1'));
  // The other subsystem's controller serves I/O.
  const drv = await NvmeDriver.attach(join(tgt.dir, 'ep1', 'cntrl'));
  clients.push(drv);
  const q = await drv.createIoQueuePair(1, 16);
  const buf = drv.alloc(4096);
  drv.write(buf, Buffer.alloc(4096, 0x5c));
  assert.equal((await drv.io(q, 0x01, 1, 0n, 8, buf, 4096)).status, 0);
  drv.write(buf, Buffer.alloc(4096));
  assert.equal((await drv.io(q, 0x02, 1, 0n, 8, buf, 4096)).status, 0);
  assert.ok(drv.read(buf, 4096).equals(Buffer.alloc(4096, 0x5c)));
});

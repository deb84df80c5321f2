// The RPC-built target with the real vfio-user NVMe endpoint: namespaces on error and delay
// bdevs, driven by our initiator, show the injected NVMe statuses and added latency.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { NvmeDriver } from '../../harness/initiator/nvme-driver.js';
import { JsonRpcClient } from '../../harness/rpc/client.js';
import { startTarget } from './helpers.js';

const NQN = 'nqn.2019-07.io.spdk:cnode0';

test('error and delay bdevs behind the real endpoint, configured over RPC', async (t) => {
  const tgt = await startTarget({ realEndpoint: true });
  const c = await JsonRpcClient.connect(tgt.sock);
  let drv: NvmeDriver | undefined;
  t.after(async () => {
    drv?.close();
    c.close();
    await tgt.stop();
  });
  const ep = join(tgt.dir, 'ep');
  mkdirSync(ep);
  await c.call('nvmf_create_transport', { trtype: 'VFIOUSER' });
  await c.call('bdev_malloc_create', { name: 'Malloc0', num_blocks: 1024, block_size: 512 });
  await c.call('bdev_error_create', { base_name: 'Malloc0' });
  await c.call('bdev_malloc_create', { name: 'Malloc1', num_blocks: 1024, block_size: 512 });
  await c.call('bdev_delay_create', { name: 'Delay0', base_bdev_name: 'Malloc1', avg_read_latency: 30000, p99_read_latency: 30000, avg_write_latency: 0, p99_write_latency: 0 });
  await c.call('nvmf_create_subsystem', { nqn: NQN, serial_number: 'SPDK0', allow_any_host: true });
  assert.equal(await c.call('nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'EE_Malloc0' } }), 1);
  assert.equal(await c.call('nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Delay0' } }), 2);
  await c.call('nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: ep, trsvcid: '0' } });

  drv = await NvmeDriver.attach(join(ep, 'cntrl'));
  const q = await drv.createIoQueuePair(1, 16);
  const buf = drv.alloc(4096);
  drv.write(buf, Buffer.alloc(512, 0xab));
  assert.equal((await drv.io(q, 0x01, 1, 5n, 1, buf, 512)).status, 0);

  await c.call('bdev_error_inject_error', { name: 'EE_Malloc0', io_type: 'read', error_type: 'nvme_failure', nvme_sct: 2, nvme_sc: 0x81, num: 1 });
  const failed = await drv.io(q, 0x02, 1, 5n, 1, buf, 512);
  assert.equal(failed.status & 0x7ff, (2 << 8) | 0x81, `status 0x${failed.status.toString(16)}`);
  drv.write(buf, Buffer.alloc(512));
  assert.equal((await drv.io(q, 0x02, 1, 5n, 1, buf, 512)).status, 0);
  assert.equal(drv.read(buf, 1)[0], 0xab);

  await c.call('bdev_error_inject_error', { name: 'EE_Malloc0', io_type: 'write', error_type: 'failure', every: 2, lba_start: 100, lba_count: 10 });
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await drv.io(q, 0x01, 1, 104n, 1, buf, 512)).status & 0x7ff);
  assert.deepEqual(statuses, [0, 0x06, 0, 0x06]);
  assert.equal((await drv.io(q, 0x01, 1, 50n, 1, buf, 512)).status, 0); // outside the range

  const start = Date.now();
  assert.equal((await drv.io(q, 0x02, 2, 0n, 1, buf, 512)).status, 0);
  assert.ok(Date.now() - start >= 28, `delayed read took ${Date.now() - start} ms`);

  const io = (await c.call('bdev_get_iostat', { names: ['EE_Malloc0', 'Delay0'] })) as { bdevs: Array<{ name: string; num_read_ops: number; num_write_ops: number }> };
  assert.equal(io.bdevs[0].num_read_ops, 1); // the failed read is not counted as completed
  assert.ok(io.bdevs[0].num_write_ops >= 3);
  assert.equal(io.bdevs[1].num_read_ops, 1);
});

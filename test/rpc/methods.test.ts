// Each method's happy path and error paths; after every failed call the target's state is
// exactly what it was before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { TargetDaemon } from '../../target/daemon.js';
import { Logger } from '../../target/log.js';
import { join } from 'node:path';
import { JsonRpcClient, RpcCallError, saveConfig } from '../../harness/rpc/client.js';
import { startTarget, TestTarget } from './helpers.js';
import { created } from './stub-endpoint.js';

const NQN = 'nqn.2019-07.io.spdk:cnode0';

async function setup(t: { after(fn: () => unknown): void }): Promise<{ tgt: TestTarget; c: JsonRpcClient }> {
  const tgt = await startTarget();
  const c = await JsonRpcClient.connect(tgt.sock);
  t.after(async () => {
    c.close();
    await tgt.stop();
  });
  return { tgt, c };
}

async function snapshot(c: JsonRpcClient): Promise<string> {
  const cfg = await saveConfig(c);
  const bdevs = await c.call('bdev_get_bdevs');
  const subs = await c.call('nvmf_get_subsystems');
  const tr = await c.call('nvmf_get_transports');
  return JSON.stringify({ cfg, bdevs, subs, tr });
}

/** Expects the call to fail with `code` (and message matching `msg`) and the state to stay the same. */
async function fails(c: JsonRpcClient, method: string, params: Record<string, unknown>, code: number, msg?: RegExp): Promise<void> {
  const before = await snapshot(c);
  await assert.rejects(c.call(method, params), (err: unknown) => {
    assert.ok(err instanceof RpcCallError, String(err));
    assert.equal(err.error.code, code, `${method}: ${err.error.message}`);
    if (msg) assert.match(err.error.message, msg);
    return true;
  });
  assert.equal(await snapshot(c), before, `${method} changed state although it failed`);
}

test('framework methods', async (t) => {
  const { c } = await setup(t);
  const all = (await c.call('rpc_get_methods')) as string[];
  for (const m of ['spdk_get_version', 'framework_get_config', 'bdev_malloc_create', 'nvmf_subsystem_add_listener', 'framework_start_init']) assert.ok(all.includes(m), m);
  const current = (await c.call('rpc_get_methods', { current: true })) as string[];
  assert.ok(!current.includes('framework_start_init'));
  const aliases = (await c.call('rpc_get_methods', { include_aliases: true })) as string[];
  assert.ok(aliases.includes('construct_malloc_bdev'));
  assert.equal(await c.call('framework_wait_init'), true);
  assert.deepEqual(await c.call('framework_get_subsystems'), [
    { subsystem: 'bdev', depends_on: [] },
    { subsystem: 'nvmf', depends_on: ['bdev'] },
  ]);
  const v = (await c.call('spdk_get_version')) as { version: string; fields: { major: number } };
  assert.equal(v.fields.major, 26);
  assert.ok(Array.isArray(await c.call('framework_get_config', { name: 'bdev' })));
  await fails(c, 'framework_get_config', { name: 'iscsi' }, -32602, /iscsi/);
  await fails(c, 'framework_get_config', {}, -32602, /missing required parameter 'name'/);
  await fails(c, 'rpc_get_methods', { current: 'yes' }, -32602, /'current'/);
  await fails(c, 'no_such_method', {}, -32601);
  await fails(c, 'spdk_kill_instance', { sig_name: 'SIGFOO' }, -32602, /SIGFOO/);
});

test('bdev methods: create, list, stats, delete, and their errors', async (t) => {
  const { tgt, c } = await setup(t);
  assert.equal(await c.call('bdev_malloc_create', { num_blocks: 2048, block_size: 512, name: 'Malloc0', md_interleave: false, dif_is_head_of_md: false }), 'Malloc0');
  assert.equal(await c.call('bdev_malloc_create', { num_blocks: 16, block_size: 4096 }), 'Malloc1');
  await fails(c, 'bdev_malloc_create', { num_blocks: 8, block_size: 512, name: 'Malloc0' }, -17, /File exists.*Malloc0/);
  await fails(c, 'bdev_malloc_create', { num_blocks: 8, block_size: 1000, name: 'X' }, -22, /multiple of 512/);
  await fails(c, 'bdev_malloc_create', { num_blocks: 0, block_size: 512, name: 'X' }, -22);
  await fails(c, 'bdev_malloc_create', { num_blocks: 2 ** 45, block_size: 512, name: 'X' }, -12, /larger than this machine's memory/);
  await fails(c, 'bdev_malloc_create', { block_size: 512, name: 'X' }, -32602, /num_blocks/);
  // Metadata and PI as SPDK's malloc takes them; only the sizes it offers, PI with metadata,
  // the 16-bit Guard format; a TypeScript bdev cannot stack on one.
  assert.equal(await c.call('bdev_malloc_create', { num_blocks: 8, block_size: 512, name: 'MD0', md_size: 8, dif_type: 1 }), 'MD0');
  await fails(c, 'bdev_malloc_create', { num_blocks: 8, block_size: 512, name: 'X', md_size: 12 }, -22, /metadata size 12/);
  await fails(c, 'bdev_malloc_create', { num_blocks: 8, block_size: 512, name: 'X', dif_type: 1 }, -22, /needs md_size/);
  await fails(c, 'bdev_malloc_create', { num_blocks: 8, block_size: 512, name: 'X', md_size: 16, dif_type: 1, dif_pi_format: 2 }, -95, /16-bit Guard/);
  await fails(c, 'bdev_error_create', { base_name: 'MD0' }, -95, /only the native I\/O engine/);
  await fails(c, 'bdev_null_create', { name: 'X', num_blocks: 8, block_size: 512, md_size: 8 }, -95);
  const [md0] = (await c.call('bdev_get_bdevs', { name: 'MD0' })) as Record<string, unknown>[];
  assert.equal(md0.md_size, 8);
  assert.equal(md0.dif_type, 1);
  assert.equal(md0.md_interleave, false);
  assert.equal(await c.call('bdev_malloc_delete', { name: 'MD0' }), true);
  await fails(c, 'bdev_malloc_create', { num_blocks: 8, block_size: 512, name: 'X', uuid: 'not-a-uuid' }, -32602, /uuid/);

  assert.equal(await c.call('bdev_null_create', { name: 'Null0', num_blocks: 1 << 20, block_size: 512 }), 'Null0');
  await fails(c, 'bdev_null_create', { name: 'Null0', num_blocks: 8, block_size: 512 }, -17);

  const img = join(tgt.dir, 'disk.img');
  writeFileSync(img, Buffer.alloc(1 << 20));
  assert.equal(await c.call('bdev_aio_create', { filename: img, name: 'AIO0', readonly: false, fallocate: false, nowait: false }), 'AIO0');
  assert.equal(await c.call('bdev_uring_create', { filename: img, name: 'Uring0', block_size: 4096 }), 'Uring0');
  await fails(c, 'bdev_aio_create', { filename: join(tgt.dir, 'missing.img'), name: 'AIO1' }, -2, /missing\.img/);
  await fails(c, 'bdev_aio_create', { filename: tgt.dir, name: 'AIO1' }, -22, /neither a regular file/);
  await fails(c, 'bdev_aio_create', { filename: img, name: 'AIO0' }, -17);

  assert.equal(await c.call('bdev_error_create', { base_name: 'Malloc1' }), true);
  await fails(c, 'bdev_error_create', { base_name: 'Malloc1' }, -16, /claimed/);
  await fails(c, 'bdev_error_create', { base_name: 'Nope' }, -19);
  assert.equal(
    await c.call('bdev_delay_create', { base_bdev_name: 'Null0', name: 'Delay0', avg_read_latency: 10, p99_read_latency: 20, avg_write_latency: 10, p99_write_latency: 20 }),
    'Delay0',
  );
  await fails(c, 'bdev_delay_create', { base_bdev_name: 'Null0', name: 'Delay1', avg_read_latency: 1, p99_read_latency: 1, avg_write_latency: 1, p99_write_latency: 1 }, -16);
  await fails(c, 'bdev_delay_create', { base_bdev_name: 'Malloc0', name: 'Delay1', avg_read_latency: 1 }, -32602, /p99_read_latency/);
  assert.equal(await c.call('bdev_delay_update_latency', { delay_bdev_name: 'Delay0', latency_type: 'avg_read', latency_us: 5 }), true);

  // error injection
  assert.equal(await c.call('bdev_error_inject_error', { name: 'EE_Malloc1', io_type: 'read', error_type: 'nvme_failure', nvme_sct: 2, nvme_sc: 0x81, num: 2 }), true);
  assert.equal(await c.call('bdev_error_inject_error', { name: 'EE_Malloc1', io_type: 'write', error_type: 'failure', every: 3, lba_start: 0, lba_count: 4 }), true);
  assert.equal(await c.call('bdev_error_inject_error', { name: 'EE_Malloc1', io_type: 'flush', error_type: 'nvme_failure', sct: 0, sc: 6 }), true);
  const ee = tgt.daemon.ctx.bdevs.get('EE_Malloc1');
  await assert.rejects(ee.read(0n, 1), (e: { status: unknown }) => (assert.deepEqual(e.status, { sct: 2, sc: 0x81 }), true));
  await assert.rejects(ee.flush(), (e: { status: unknown }) => (assert.deepEqual(e.status, { sct: 0, sc: 6 }), true));
  await fails(c, 'bdev_error_inject_error', { name: 'EE_Malloc1', io_type: 'read', error_type: 'nvme_failure' }, -22, /nvme_sct/);
  await fails(c, 'bdev_error_inject_error', { name: 'EE_Malloc1', io_type: 'read', error_type: 'failure', nvme_sc: 2 }, -22);
  await fails(c, 'bdev_error_inject_error', { name: 'EE_Malloc1', io_type: 'read', error_type: 'corrupt_data' }, -22, /corrupt_value/);
  await fails(c, 'bdev_error_inject_error', { name: 'Malloc0', io_type: 'read', error_type: 'failure' }, -19, /not an error bdev/);
  await fails(c, 'bdev_error_inject_error', { name: 'EE_Malloc1', io_type: 'sideways', error_type: 'failure' }, -32602, /io_type/);
  assert.equal(await c.call('bdev_error_inject_error', { name: 'EE_Malloc1', io_type: 'clear', error_type: 'failure' }), true);

  // listing and stats
  const bdevs = (await c.call('bdev_get_bdevs')) as Array<Record<string, unknown>>;
  assert.deepEqual(
    bdevs.map((b) => b.name),
    ['Malloc0', 'Malloc1', 'Null0', 'AIO0', 'Uring0', 'EE_Malloc1', 'Delay0'],
  );
  const m1 = bdevs.find((b) => b.name === 'Malloc1')!;
  assert.equal(m1.claimed, true);
  assert.equal(m1.block_size, 4096);
  assert.equal(bdevs.find((b) => b.name === 'Uring0')!.product_name, 'URING bdev');
  assert.equal(bdevs.find((b) => b.name === 'AIO0')!.product_name, 'AIO disk');
  assert.equal(((await c.call('bdev_get_bdevs', { name: 'Null0' })) as unknown[]).length, 1);
  await fails(c, 'bdev_get_bdevs', { name: 'Nope' }, -19);
  setTimeout(() => void c.call('bdev_null_create', { name: 'Late', num_blocks: 8, block_size: 512 }).catch(() => {}), 30);
  const c2 = await JsonRpcClient.connect(tgt.sock);
  assert.equal(((await c2.call('bdev_get_bdevs', { name: 'Late', timeout: 2000 })) as unknown[]).length, 1);
  c2.close();

  const ms = tgt.daemon.ctx.bdevs.get('Malloc0');
  await ms.write(0n, Buffer.alloc(1024, 1));
  await ms.read(0n, 2);
  const io = (await c.call('bdev_get_iostat', { names: ['Malloc0'] })) as { tick_rate: number; bdevs: Array<Record<string, number>> };
  assert.equal(io.tick_rate, 1e9);
  assert.equal(io.bdevs.length, 1);
  assert.equal(io.bdevs[0].bytes_written, 1024);
  assert.equal(io.bdevs[0].num_read_ops, 1);
  const reset = (await c.call('bdev_get_iostat', { reset_mode: 'all' })) as { bdevs: unknown[] };
  assert.equal(reset.bdevs.length, 8);
  const after = (await c.call('bdev_get_iostat', { names: ['Malloc0'] })) as { bdevs: Array<Record<string, number>> };
  assert.equal(after.bdevs[0].bytes_written, 0);
  await fails(c, 'bdev_get_iostat', { names: ['Nope'] }, -19);

  // deletes: wrong kind, claimed, missing
  await fails(c, 'bdev_malloc_delete', { name: 'Null0' }, -19);
  await fails(c, 'bdev_malloc_delete', { name: 'Malloc1' }, -16, /in use by bdev 'EE_Malloc1'/);
  await fails(c, 'bdev_null_delete', { name: 'Null0' }, -16);
  assert.equal(await c.call('bdev_delay_delete', { name: 'Delay0' }), true);
  assert.equal(await c.call('bdev_null_delete', { name: 'Null0' }), true);
  assert.equal(await c.call('bdev_error_delete', { name: 'EE_Malloc1' }), true);
  assert.equal(await c.call('bdev_malloc_delete', { name: 'Malloc1' }), true);
  assert.equal(await c.call('bdev_aio_delete', { name: 'AIO0' }), true);
  assert.equal(await c.call('bdev_uring_delete', { name: 'Uring0' }), true);
  await fails(c, 'bdev_aio_delete', { name: 'AIO0' }, -19);
  // unknown keys are ignored with a warning
  assert.equal(await c.call('bdev_null_create', { name: 'N2', num_blocks: 8, block_size: 512, from_the_future: true }), 'N2');
  assert.ok(tgt.logs.some((l) => l.includes('from_the_future')));
});

test('nvmf methods: transport, subsystem, namespaces, listeners, controllers, stats', async (t) => {
  const { tgt, c } = await setup(t);
  await c.call('bdev_malloc_create', { num_blocks: 2048, block_size: 512, name: 'Malloc0' });
  await c.call('bdev_malloc_create', { num_blocks: 2048, block_size: 512, name: 'Malloc1' });
  const ep = join(tgt.dir, 'ep0');
  mkdirSync(ep);

  await fails(c, 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: ep } }, -32602, /not found/);
  await fails(c, 'nvmf_create_transport', { trtype: 'TCP' }, -32602, /TCP/);
  await fails(c, 'nvmf_create_transport', { trtype: 'VFIOUSER', max_io_qpairs_per_ctrlr: 600 }, -32602, /max_io_qpairs_per_ctrlr/);
  await fails(c, 'nvmf_create_transport', { trtype: 'VFIOUSER', max_queue_depth: 'deep' }, -32602, /max_queue_depth/);
  assert.equal(
    await c.call('nvmf_create_transport', { no_srq: false, c2h_success: true, trtype: 'VFIOUSER', zcopy: false, disable_mappable_bar0: true, max_queue_depth: 64, max_io_qpairs_per_ctrlr: 8 }),
    true,
  );
  await fails(c, 'nvmf_create_transport', { trtype: 'VFIOUSER' }, -32603, /already exists/);
  const [tr] = (await c.call('nvmf_get_transports')) as Array<Record<string, unknown>>;
  assert.equal(tr.trtype, 'VFIOUSER');
  assert.equal(tr.max_queue_depth, 64);
  assert.equal(tr.max_io_qpairs_per_ctrlr, 8);
  assert.equal(tr.disable_mappable_bar0, true);
  assert.equal(tr.disable_shadow_doorbells, false);
  assert.equal(((await c.call('nvmf_get_transports', { trtype: 'VFIOUSER' })) as unknown[]).length, 1);
  await fails(c, 'nvmf_get_transports', { trtype: 'RDMA' }, -22);

  assert.equal(await c.call('nvmf_create_subsystem', { nqn: NQN, serial_number: 'SPDK0', allow_any_host: true, ana_reporting: false, passthrough: false, enable_nssr: false }), true);
  await fails(c, 'nvmf_create_subsystem', { nqn: NQN }, -32603, /Unable to create subsystem/);
  await fails(c, 'nvmf_create_subsystem', { nqn: 'not-an-nqn' }, -32602, /NQN/);
  await fails(c, 'nvmf_create_subsystem', { nqn: 'nqn.2019-07.io.spdk:cnode1', serial_number: 'x'.repeat(21) }, -32602, /serial/);
  await fails(c, 'nvmf_create_subsystem', { nqn: 'nqn.2019-07.io.spdk:cnode1', min_cntlid: 10, max_cntlid: 5 }, -32602, /cntlid/);
  await fails(c, 'nvmf_create_subsystem', { nqn: 'nqn.2019-07.io.spdk:cnode1', tgt_name: 'other' }, -32602, /Unable to find target other/);

  // namespaces
  assert.equal(await c.call('nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Malloc0', no_auto_visible: false, hide_metadata: false } }), 1);
  await fails(c, 'nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Malloc0' } }, -16, /in use by namespace 1/);
  await fails(c, 'nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Nope' } }, -19);
  await fails(c, 'nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Malloc1', nsid: 1 } }, -32602, /NSID 1 is already in use/);
  await fails(c, 'nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Malloc1', nguid: 'xyz' } }, -32602, /nguid/);
  await fails(c, 'nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Malloc1', nsid: 33 } }, -32602, /max_namespaces/);
  await fails(c, 'nvmf_subsystem_add_ns', { nqn: 'nqn.2019-07.io.spdk:nope', namespace: { bdev_name: 'Malloc1' } }, -32602, /not found/);
  await fails(c, 'nvmf_subsystem_add_ns', { nqn: NQN }, -32602, /namespace/);
  await fails(c, 'bdev_malloc_delete', { name: 'Malloc0' }, -16, /namespace 1 of/);
  assert.equal(
    await c.call('nvmf_subsystem_add_ns', {
      nqn: NQN,
      namespace: { bdev_name: 'Malloc1', nsid: 5, nguid: '0123456789abcdef0123456789abcdef', eui64: '0123456789abcdef', uuid: 'ceccf520-691e-4b46-9546-34af789907c5' },
    }),
    5,
  );

  // listeners
  await fails(c, 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: join(tgt.dir, 'missing') } }, -2, /does not exist/);
  writeFileSync(join(tgt.dir, 'plain'), '');
  await fails(c, 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: join(tgt.dir, 'plain') } }, -20, /not a directory/);
  await fails(c, 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'TCP', traddr: '127.0.0.1', trsvcid: '4420' } }, -32602, /TCP/);
  await fails(c, 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER' } }, -32602, /traddr/);
  if (process.getuid?.() !== 0) {
    const ro = join(tgt.dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    await fails(c, 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: ro } }, -13, /not writable/);
  }
  // a cntrl socket someone else serves is not taken over
  const busy = join(tgt.dir, 'busy');
  mkdirSync(busy);
  const other = createServer(() => {});
  await new Promise<void>((r) => other.listen(join(busy, 'cntrl'), () => r()));
  await fails(c, 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: busy } }, -98, /another process is serving/);
  await new Promise<void>((r) => other.close(() => r()));
  const nEndpoints = created.length;
  assert.equal(await c.call('nvmf_subsystem_add_listener', { nqn: NQN, secure_channel: false, listen_address: { trtype: 'VFIOUSER', traddr: ep, trsvcid: '0' } }), true);
  assert.equal(created.length, nEndpoints + 1);
  const endpoint = created[created.length - 1];
  assert.ok(statSync(join(ep, 'cntrl')).isSocket());
  await fails(c, 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: ep + '/' } }, -17, /already a listener/);

  const subs = (await c.call('nvmf_get_subsystems')) as Array<Record<string, any>>;
  assert.equal(subs[0].subtype, 'Discovery');
  const s = subs[1];
  assert.equal(s.nqn, NQN);
  assert.equal(s.serial_number, 'SPDK0');
  assert.deepEqual(s.listen_addresses, [{ trtype: 'VFIOUSER', adrfam: 'unknown', traddr: ep, trsvcid: '0' }]);
  assert.deepEqual(
    s.namespaces.map((n: { nsid: number; bdev_name: string }) => [n.nsid, n.bdev_name]),
    [
      [1, 'Malloc0'],
      [5, 'Malloc1'],
    ],
  );
  assert.equal(s.namespaces[1].nguid, '0123456789ABCDEF0123456789ABCDEF');
  assert.equal(((await c.call('nvmf_get_subsystems', { nqn: NQN })) as unknown[]).length, 1);
  await fails(c, 'nvmf_get_subsystems', { nqn: 'nqn.2019-07.io.spdk:nope' }, -32602);

  // controllers and stats come from the endpoint
  assert.deepEqual(await c.call('nvmf_subsystem_get_controllers', { nqn: NQN }), []);
  const stats = (await c.call('nvmf_get_stats')) as { poll_groups: Array<{ transports: Array<{ trtype: string; endpoints: unknown[] }> }> };
  assert.equal(stats.poll_groups[0].transports[0].trtype, 'VFIOUSER');
  assert.equal(stats.poll_groups[0].transports[0].endpoints.length, 1);

  // namespace removal notifies the endpoint and frees the bdev
  const changes = endpoint.namespaceChanges;
  assert.equal(await c.call('nvmf_subsystem_remove_ns', { nqn: NQN, nsid: 5 }), true);
  assert.equal(endpoint.namespaceChanges, changes + 1);
  await fails(c, 'nvmf_subsystem_remove_ns', { nqn: NQN, nsid: 5 }, -32602, /namespace 5/);
  assert.equal(await c.call('bdev_malloc_delete', { name: 'Malloc1' }), true);

  await fails(c, 'nvmf_subsystem_remove_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: join(tgt.dir, 'other') } }, -32602, /no VFIOUSER listener/);
  assert.equal(await c.call('nvmf_subsystem_remove_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: ep, trsvcid: '0' } }), true);
  assert.equal(endpoint.closed, true);
  assert.ok(!existsSync(join(ep, 'cntrl')));

  // deleting the subsystem closes its listeners and releases its bdevs
  await c.call('nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: ep } });
  const ep2 = created[created.length - 1];
  await fails(c, 'nvmf_delete_subsystem', { nqn: 'nqn.2019-07.io.spdk:nope' }, -32602);
  assert.equal(await c.call('nvmf_delete_subsystem', { nqn: NQN }), true);
  assert.equal(ep2.closed, true);
  assert.equal(await c.call('bdev_malloc_delete', { name: 'Malloc0' }), true);
  assert.equal(((await c.call('nvmf_get_subsystems')) as unknown[]).length, 1);
});

test('--wait-for-rpc: runtime methods refused (-1) until framework_start_init; framework_wait_init waits', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-wait-'));
  const d = await TargetDaemon.start({ rpcSocket: join(dir, 's.sock'), waitForRpc: true, log: Logger.create({ level: 'error', sink: { write: () => {} } }) });
  const c = await JsonRpcClient.connect(join(dir, 's.sock'));
  t.after(async () => {
    c.close();
    await d.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  assert.ok(((await c.call('rpc_get_methods', { current: true })) as string[]).includes('framework_start_init'));
  await assert.rejects(c.call('bdev_malloc_create', { num_blocks: 8, block_size: 512 }), (e: unknown) => e instanceof RpcCallError && e.error.code === -1);
  const c2 = await JsonRpcClient.connect(join(dir, 's.sock'));
  let initDone = false;
  const waiting = c2.call('framework_wait_init').then((r) => (assert.equal(initDone, true), r));
  await new Promise((r) => setTimeout(r, 50));
  initDone = true;
  assert.equal(await c.call('framework_start_init'), true);
  assert.equal(await waiting, true);
  c2.close();
  assert.equal(await c.call('bdev_malloc_create', { num_blocks: 8, block_size: 512 }), 'Malloc0');
  assert.ok(!((await c.call('rpc_get_methods', { current: true })) as string[]).includes('framework_start_init'));
});

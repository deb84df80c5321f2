// save_config / load_config round trip: a config saved from one target and loaded into a
// fresh one (over RPC as rpc.py does it, or at start as `vnvme target -c`) rebuilds the
// same state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonRpcClient, loadConfig, RpcClientError, saveConfig, SavedConfig } from '../../harness/rpc/client.js';
import { startTarget } from './helpers.js';

const NQN = 'nqn.2019-07.io.spdk:cnode0';

async function state(c: JsonRpcClient): Promise<unknown> {
  const strip = (bdevs: Array<Record<string, unknown>>) => bdevs.map(({ driver_specific, ...b }) => ({ ...b, driver_specific: JSON.stringify(driver_specific) }));
  return {
    config: await saveConfig(c),
    bdevs: strip((await c.call('bdev_get_bdevs')) as Array<Record<string, unknown>>),
    subsystems: await c.call('nvmf_get_subsystems'),
    transports: await c.call('nvmf_get_transports'),
  };
}

test('save_config from a populated target, load_config into a fresh one: same state', async (t) => {
  const shared = mkdtempSync(join(tmpdir(), 'vnvme-cfg-'));
  t.after(() => rmSync(shared, { recursive: true, force: true }));
  const img = join(shared, 'disk.img');
  writeFileSync(img, Buffer.alloc(2 << 20));
  const ep = join(shared, 'ep');
  mkdirSync(ep);

  const a = await startTarget();
  const ca = await JsonRpcClient.connect(a.sock);
  await ca.call('nvmf_create_transport', { trtype: 'VFIOUSER', disable_mappable_bar0: true, max_queue_depth: 128, max_io_qpairs_per_ctrlr: 4 });
  await ca.call('bdev_malloc_create', { name: 'Malloc0', num_blocks: 4096, block_size: 512 });
  await ca.call('bdev_malloc_create', { name: 'Malloc1', num_blocks: 64, block_size: 4096, uuid: 'ceccf520-691e-4b46-9546-34af789907c5' });
  await ca.call('bdev_null_create', { name: 'Null0', num_blocks: 1024, block_size: 512 });
  await ca.call('bdev_aio_create', { name: 'AIO0', filename: img, block_size: 4096 });
  await ca.call('bdev_error_create', { base_name: 'Malloc1' });
  await ca.call('bdev_delay_create', { name: 'Delay0', base_bdev_name: 'Null0', avg_read_latency: 1, p99_read_latency: 2, avg_write_latency: 3, p99_write_latency: 4 });
  await ca.call('nvmf_create_subsystem', { nqn: NQN, serial_number: 'SPDK0', model_number: 'vnvme round trip', allow_any_host: true, max_namespaces: 8 });
  await ca.call('nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Malloc0' } });
  await ca.call('nvmf_subsystem_add_ns', {
    nqn: NQN,
    namespace: { bdev_name: 'EE_Malloc1', nsid: 4, nguid: '0123456789abcdef0123456789abcdef', eui64: '0123456789abcdef', uuid: 'ceccf520-691e-4b46-9546-34af789907c6' },
  });
  await ca.call('nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'AIO0' } });
  await ca.call('nvmf_subsystem_add_host', { nqn: NQN, host: 'nqn.2014-08.org.nvmexpress:uuid:11111111-2222-3333-4444-555555555555' });
  await ca.call('nvmf_create_subsystem', { nqn: 'nqn.2019-07.io.spdk:cnode1' });
  await ca.call('nvmf_subsystem_add_ns', { nqn: 'nqn.2019-07.io.spdk:cnode1', namespace: { bdev_name: 'Delay0' } });
  await ca.call('nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: ep, trsvcid: '0' } });
  const saved = await saveConfig(ca);
  const before = await state(ca);
  ca.close();
  await a.stop();

  // SPDK's layout: one entry per subsystem, bdevs before nvmf, creation order kept.
  assert.deepEqual(
    saved.subsystems.map((s) => s.subsystem),
    ['bdev', 'nvmf'],
  );
  const methods = (saved.subsystems[1].config as Array<{ method: string }>).map((e) => e.method);
  assert.deepEqual(methods.slice(0, 2), ['nvmf_create_transport', 'nvmf_create_subsystem']);
  assert.ok(methods.indexOf('nvmf_subsystem_add_listener') < methods.indexOf('nvmf_subsystem_add_ns'));

  // Over RPC, as rpc.py load_config does it.
  const b = await startTarget();
  const cb = await JsonRpcClient.connect(b.sock);
  assert.equal(await loadConfig(cb, structuredClone(saved)), false);
  assert.deepEqual(await state(cb), before);
  cb.close();
  await b.stop();

  // At start, as `vnvme target -c`.
  const c = await startTarget({ config: structuredClone(saved) as SavedConfig });
  const cc = await JsonRpcClient.connect(c.sock);
  assert.deepEqual(await state(cc), before);
  cc.close();
  await c.stop();
});

test('load_config refuses a config with an unknown method before calling anything', async (t) => {
  const tgt = await startTarget();
  const c = await JsonRpcClient.connect(tgt.sock);
  t.after(async () => {
    c.close();
    await tgt.stop();
  });
  const cfg: SavedConfig = {
    subsystems: [
      {
        subsystem: 'bdev',
        config: [
          { method: 'bdev_null_create', params: { name: 'N0', num_blocks: 8, block_size: 512 } },
          { method: 'bdev_ocf_create', params: {} },
        ],
      },
    ],
  };
  await assert.rejects(loadConfig(c, cfg), (e: unknown) => e instanceof RpcClientError && /Unknown method/.test(e.message));
  assert.deepEqual(await c.call('bdev_get_bdevs'), []);
  // empty config: rpc.py calls framework_start_init, which a running target accepts as a no-op
  assert.equal(await loadConfig(c, { subsystems: [{ subsystem: 'bdev', config: [] }] }), false);
});

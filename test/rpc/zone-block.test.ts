// bdev_zone_block_create / bdev_zone_block_delete as SPDK's rpc.py sends them (name, base_bdev,
// zone_capacity, optimal_open_zones): zone size the capacity rounded up to a power of two,
// whole zones of the base, bdev_get_bdevs' zoned fields and driver_specific, the errors SPDK's
// zone_block gives (zero capacity or open zones: EINVAL) and ours (a base that is not a malloc
// bdev, a zoned bdev as the base of a TypeScript bdev), and nothing changes after a failed call.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonRpcClient, RpcCallError } from '../../harness/rpc/client.js';
import { startTarget } from './helpers.js';

async function fails(c: JsonRpcClient, method: string, params: Record<string, unknown>, code: number, msg?: RegExp): Promise<void> {
  const before = JSON.stringify(await c.call('bdev_get_bdevs'));
  await assert.rejects(c.call(method, params), (err: unknown) => {
    assert.ok(err instanceof RpcCallError, String(err));
    assert.equal(err.error.code, code, `${method}: ${err.error.message}`);
    if (msg) assert.match(err.error.message, msg);
    return true;
  });
  assert.equal(JSON.stringify(await c.call('bdev_get_bdevs')), before, `${method} left state changed`);
}

test('bdev_zone_block_create over a malloc bdev: layout, bdev_get_bdevs, errors, delete', async (t) => {
  const tgt = await startTarget();
  const c = await JsonRpcClient.connect(tgt.sock);
  t.after(async () => {
    c.close();
    await tgt.stop();
  });
  await c.call('bdev_malloc_create', { name: 'Malloc0', num_blocks: 2100, block_size: 512 });
  await c.call('bdev_null_create', { name: 'Null0', num_blocks: 2048, block_size: 512 });
  await fails(c, 'bdev_zone_block_create', { name: 'Z0', base_bdev: 'Malloc0', zone_capacity: 0, optimal_open_zones: 1 }, -22, /zone_capacity/);
  await fails(c, 'bdev_zone_block_create', { name: 'Z0', base_bdev: 'Malloc0', zone_capacity: 100, optimal_open_zones: 0 }, -22, /optimal_open_zones/);
  await fails(c, 'bdev_zone_block_create', { name: 'Z0', base_bdev: 'Null0', zone_capacity: 100, optimal_open_zones: 1 }, -95, /malloc/);
  await fails(c, 'bdev_zone_block_create', { name: 'Z0', base_bdev: 'Malloc0', zone_capacity: 4000, optimal_open_zones: 1 }, -22, /larger than/);
  await fails(c, 'bdev_zone_block_create', { name: 'Z0', base_bdev: 'Nope', zone_capacity: 100, optimal_open_zones: 1 }, -19);
  await fails(c, 'bdev_zone_block_create', { name: 'Z0', base_bdev: 'Malloc0', zone_capacity: 100, optimal_open_zones: 1, max_open_zones: 4, max_active_zones: 2 }, -22, /max_open_zones/);
  assert.equal(await c.call('bdev_zone_block_create', { name: 'Z0', base_bdev: 'Malloc0', zone_capacity: 100, optimal_open_zones: 2 }), 'Z0');
  const [z] = (await c.call('bdev_get_bdevs', { name: 'Z0' })) as Record<string, unknown>[];
  // 2100 blocks hold 16 zones of 128 (the capacity 100 rounded up to a power of two).
  assert.equal(z!.num_blocks, 16 * 128);
  assert.equal(z!.zoned, true);
  assert.equal(z!.zone_size, 128);
  assert.equal(z!.optimal_open_zones, 2);
  assert.deepEqual(z!.driver_specific, { zone_block: { name: 'Z0', base_bdev: 'Malloc0', zone_capacity: 100, optimal_open_zones: 2 } });
  const [m] = (await c.call('bdev_get_bdevs', { name: 'Malloc0' })) as Record<string, unknown>[];
  assert.equal(m!.zoned, false);
  assert.equal(m!.claimed, true);
  await fails(c, 'bdev_zone_block_create', { name: 'Z1', base_bdev: 'Malloc0', zone_capacity: 100, optimal_open_zones: 1 }, -16, /claimed/);
  await fails(c, 'bdev_error_create', { base_name: 'Z0' }, -95, /zoned/);
  assert.equal(await c.call('bdev_zone_block_delete', { name: 'Z0' }), true);
  const [m2] = (await c.call('bdev_get_bdevs', { name: 'Malloc0' })) as Record<string, unknown>[];
  assert.equal(m2!.claimed, false);
});

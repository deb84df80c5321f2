// Every failure the bdev and nvmf layers report reaches the wire with the code and message
// SPDK's rpc.py users have seen so far: the domain throws a TargetError (target/errors.ts) and
// target/rpc/ alone chooses the JSON-RPC code and text. The expected pairs were recorded from
// the target before the domain stopped throwing JSON-RPC errors itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { JsonRpcClient, RpcCallError } from '../../harness/rpc/client.js';
import { startTarget } from './helpers.js';

const NQN = 'nqn.2019-07.io.spdk:cnode0';
const OTHER = 'nqn.2019-07.io.spdk:nope';

test('bdev and nvmf failures keep their JSON-RPC code and message', async (t) => {
  const tgt = await startTarget();
  const c = await JsonRpcClient.connect(tgt.sock);
  const server = createServer();
  t.after(async () => {
    c.close();
    server.close();
    await tgt.stop();
  });
  const dir = (name: string, mode = 0o700) => {
    const p = join(tgt.dir, name);
    mkdirSync(p);
    chmodSync(p, mode);
    return p;
  };
  const live = dir('live');
  await new Promise<void>((res) => server.listen(join(live, 'cntrl'), () => res()));
  const file = join(tgt.dir, 'file');
  writeFileSync(file, '');

  const ok = async (method: string, params: Record<string, unknown>) => void (await c.call(method, params));
  /** Expects `method` to fail with exactly this code and message. */
  const fail = async (label: string, method: string, params: Record<string, unknown>, code: number, message: string) => {
    const err = await c.call(method, params).then(
      () => assert.fail(`${label}: ${method} succeeded`),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RpcCallError, `${label}: ${String(err)}`);
    assert.deepEqual({ code: err.error.code, message: err.error.message }, { code, message }, label);
  };

  // bdev/registry.ts
  await ok('bdev_malloc_create', { name: 'Malloc0', num_blocks: 64, block_size: 512 });
  await ok('bdev_malloc_create', { name: 'Malloc1', num_blocks: 64, block_size: 512 });
  await fail('bdev exists', 'bdev_malloc_create', { name: 'Malloc0', num_blocks: 64, block_size: 512 }, -17, "File exists: bdev 'Malloc0' already exists");
  await fail('bdev missing', 'bdev_get_bdevs', { name: 'Nope' }, -19, "No such device: bdev 'Nope' does not exist");
  await ok('bdev_error_create', { base_name: 'Malloc1' });
  await fail('bdev claimed', 'bdev_error_create', { base_name: 'Malloc1' }, -16, "Device or resource busy: bdev 'Malloc1' is already claimed by bdev 'EE_Malloc1'");
  await fail('base bdev missing', 'bdev_error_create', { base_name: 'Nope' }, -19, "No such device: bdev 'Nope' does not exist");
  await fail('delete of another kind', 'bdev_null_delete', { name: 'Malloc0' }, -19, "No such device: no bdev_null bdev named 'Malloc0'");
  await fail('delete of a claimed bdev', 'bdev_malloc_delete', { name: 'Malloc1' }, -16, "Device or resource busy: bdev 'Malloc1' is in use by bdev 'EE_Malloc1'");

  // nvmf/target.ts: transports
  await fail('transport type', 'nvmf_create_transport', { trtype: 'TCP' }, -32602, "Invalid parameters: transport type 'TCP' is not supported (only VFIOUSER)");
  await fail('max_queue_depth', 'nvmf_create_transport', { trtype: 'VFIOUSER', max_queue_depth: 1 }, -32602, 'Invalid parameters: max_queue_depth 1 must be 2..65536');
  await fail('max_aq_depth', 'nvmf_create_transport', { trtype: 'VFIOUSER', max_aq_depth: 1 }, -32602, 'Invalid parameters: max_aq_depth 1 must be 2..4096');
  await fail('max_io_qpairs_per_ctrlr', 'nvmf_create_transport', { trtype: 'VFIOUSER', max_io_qpairs_per_ctrlr: 600 }, -32602, 'Invalid parameters: max_io_qpairs_per_ctrlr 600 must be 1..511');
  await fail('transport missing', 'nvmf_get_transports', { trtype: 'VFIOUSER' }, -22, "Invalid argument: transport 'VFIOUSER' does not exist");
  await ok('nvmf_create_subsystem', { nqn: NQN, max_namespaces: 2 });
  await fail('no transport yet', 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: live } }, -32602, 'Invalid parameters: transport VFIOUSER has not been created (run nvmf_create_transport -t VFIOUSER first)');
  await ok('nvmf_create_transport', { trtype: 'VFIOUSER' });
  await fail('transport exists', 'nvmf_create_transport', { trtype: 'VFIOUSER' }, -32603, "Transport type 'VFIOUSER' already exists");

  // subsystems
  const long = `nqn.2019-07.io.spdk:${'x'.repeat(210)}`;
  await fail('NQN too long', 'nvmf_create_subsystem', { nqn: long }, -32602, `Invalid parameters: NQN '${long}' is longer than 223 bytes`);
  await fail('NQN form', 'nvmf_create_subsystem', { nqn: 'not-an-nqn' }, -32602, "Invalid parameters: NQN 'not-an-nqn' is not of the form nqn.yyyy-mm.reverse.domain:name");
  await fail('subsystem exists', 'nvmf_create_subsystem', { nqn: NQN }, -32603, 'Unable to create subsystem nqn.2019-07.io.spdk:cnode0: it already exists');
  await fail('discovery exists', 'nvmf_create_subsystem', { nqn: 'nqn.2014-08.org.nvmexpress.discovery' }, -32603, 'Unable to create subsystem nqn.2014-08.org.nvmexpress.discovery: it already exists');
  await fail('serial', 'nvmf_create_subsystem', { nqn: OTHER, serial_number: 'x'.repeat(21) }, -32602, "Invalid parameters: serial number 'xxxxxxxxxxxxxxxxxxxxx' must be at most 20 printable ASCII characters");
  await fail('model', 'nvmf_create_subsystem', { nqn: OTHER, model_number: 'é' }, -32602, "Invalid parameters: model number 'é' must be at most 40 printable ASCII characters");
  await fail('cntlid', 'nvmf_create_subsystem', { nqn: OTHER, min_cntlid: 10, max_cntlid: 5 }, -32602, 'Invalid parameters: Invalid cntlid range [10-5]');
  await fail('subsystem missing', 'nvmf_delete_subsystem', { nqn: OTHER }, -32602, "Subsystem with NQN 'nqn.2019-07.io.spdk:nope' not found");
  await fail('subsystem missing (get)', 'nvmf_get_subsystems', { nqn: OTHER }, -32602, "Subsystem with NQN 'nqn.2019-07.io.spdk:nope' not found");

  // namespaces
  await fail('nsid range', 'nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Malloc0', nsid: 0xffffffff } }, -32602, 'Invalid parameters: NSID 4294967295 must be 1..4294967294');
  await fail('nsid over max_namespaces', 'nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Malloc0', nsid: 3 } }, -32602, 'Invalid parameters: NSID 3 exceeds max_namespaces 2 of nqn.2019-07.io.spdk:cnode0');
  await fail('nguid', 'nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Malloc0', nguid: 'xyz' } }, -32602, "Invalid parameters: nguid 'xyz' is not 16 bytes of hex");
  await fail('eui64', 'nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Malloc0', eui64: '00' } }, -32602, "Invalid parameters: eui64 '00' is not 8 bytes of hex");
  await fail('namespace bdev missing', 'nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Nope' } }, -19, "No such device: bdev 'Nope' does not exist");
  await fail('namespace bdev claimed', 'nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Malloc1' } }, -16, "Device or resource busy: bdev 'Malloc1' is already in use by bdev 'EE_Malloc1'");
  await ok('nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Malloc0', nsid: 1 } });
  await fail('delete of a bdev in a namespace', 'bdev_malloc_delete', { name: 'Malloc0' }, -16, "Device or resource busy: bdev 'Malloc0' is in use by namespace 1 of nqn.2019-07.io.spdk:cnode0");
  await fail('nsid in use', 'nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'EE_Malloc1', nsid: 1 } }, -32602, 'Invalid parameters: NSID 1 is already in use in nqn.2019-07.io.spdk:cnode0');
  await ok('nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'EE_Malloc1', nsid: 2 } });
  await ok('bdev_null_create', { name: 'Null0', num_blocks: 64, block_size: 512 });
  await fail('namespaces full', 'nvmf_subsystem_add_ns', { nqn: NQN, namespace: { bdev_name: 'Null0' } }, -32602, 'Invalid parameters: subsystem nqn.2019-07.io.spdk:cnode0 already has its maximum of 2 namespaces');
  await fail('namespace missing', 'nvmf_subsystem_remove_ns', { nqn: NQN, nsid: 5 }, -32602, 'Invalid parameters: namespace 5 does not exist in nqn.2019-07.io.spdk:cnode0');

  // listeners
  await fail('listener trtype', 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'TCP', traddr: live } }, -32602, "Invalid parameters: trtype 'TCP' is not supported (only VFIOUSER)");
  await fail('listener directory missing', 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: join(tgt.dir, 'none') } }, -2, `No such file or directory: listener directory '${tgt.dir}/none' does not exist`);
  await fail('listener not a directory', 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: file } }, -20, `Not a directory: listener address '${tgt.dir}/file' is not a directory`);
  await fail('listener directory unsafe', 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: dir('open', 0o777) } }, -13, `Permission denied: listener directory '${tgt.dir}/open' is writable by group and others (mode 0777): they could put their own socket at cntrl and receive the VMM's guest memory; chmod go-w it or choose a private directory (mkdir -m 0700)`);
  await fail('listener socket served', 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: live } }, -98, `Address already in use: another process is serving ${tgt.dir}/live/cntrl; stop it or choose another directory`);
  // root passes the writability check on /proc, and the endpoint then fails to listen there
  if (process.getuid?.() === 0)
    await fail('listener cannot listen', 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: '/proc' } }, -32603, 'failed to listen on /proc/cntrl: listen EACCES: permission denied /proc/cntrl');
  else
    await fail('listener directory not writable', 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: '/proc' } }, -13, "Permission denied: listener directory '/proc' is not writable");
  const ep = dir('ep');
  await ok('nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: ep } });
  await fail('listener exists', 'nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: ep } }, -17, `File exists: '${tgt.dir}/ep' is already a listener of nqn.2019-07.io.spdk:cnode0`);
  await fail('listener missing', 'nvmf_subsystem_remove_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr: live } }, -32602, `Invalid parameters: subsystem nqn.2019-07.io.spdk:cnode0 has no VFIOUSER listener at '${tgt.dir}/live'`);
  await fail('listener of a missing subsystem', 'nvmf_subsystem_add_listener', { nqn: OTHER, listen_address: { trtype: 'VFIOUSER', traddr: ep } }, -32602, "Subsystem with NQN 'nqn.2019-07.io.spdk:nope' not found");

});

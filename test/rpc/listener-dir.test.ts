// A listener directory someone else could put a socket of their own in (owned by another
// user, writable by group or others, /tmp itself, or under a parent they may rename entries
// of) is refused with a JSON-RPC error that says what to do; the target keeps serving with
// its state unchanged, and a private directory of ours (mkdtemp, 0700) is accepted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { JsonRpcClient, RpcCallError } from '../../harness/rpc/client.js';
import { startTarget } from './helpers.js';

const NQN = 'nqn.2019-07.io.spdk:cnode0';

test('unsafe listener directories are refused with the reason; a 0700 directory of ours is accepted', async (t) => {
  const tgt = await startTarget();
  const c = await JsonRpcClient.connect(tgt.sock);
  t.after(async () => {
    c.close();
    await tgt.stop();
  });
  await c.call('nvmf_create_transport', { trtype: 'VFIOUSER' });
  await c.call('nvmf_create_subsystem', { nqn: NQN, allow_any_host: true });
  const add = (traddr: string) => c.call('nvmf_subsystem_add_listener', { nqn: NQN, listen_address: { trtype: 'VFIOUSER', traddr, trsvcid: '0' } });
  const refused = async (traddr: string, why: RegExp) => {
    const before = JSON.stringify(await c.call('nvmf_get_subsystems'));
    await assert.rejects(add(traddr), (err: unknown) => {
      assert.ok(err instanceof RpcCallError, String(err));
      assert.equal(err.error.code, -13, err.error.message); // -EACCES
      assert.match(err.error.message, why);
      return true;
    });
    assert.ok(!existsSync(join(traddr, 'cntrl')), `${traddr}: no socket made`);
    assert.equal(JSON.stringify(await c.call('nvmf_get_subsystems')), before, 'state unchanged');
  };

  const open = join(tgt.dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  await refused(open, /writable by group and others \(mode 0777\).*chmod go-w/);
  const groupW = join(tgt.dir, 'group-writable');
  mkdirSync(groupW);
  chmodSync(groupW, 0o770);
  await refused(groupW, /writable by its group/);
  await refused('/tmp', /writable by group and others \(mode 01777\)/); // sticky does not stop creating `cntrl`
  const under = join(open, 'ep'); // private itself, but others may rename it away
  mkdirSync(under, { mode: 0o700 });
  await refused(under, /a parent of listener directory .* without the sticky bit.*chmod go-w/);
  if (process.geteuid?.() === 0) {
    const theirs = join(tgt.dir, 'theirs');
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, 65534, 65534);
    await refused(theirs, /owned by uid 65534, not by us \(uid 0\) or root.*chown/);
  }

  const ok = join(tgt.dir, 'ep');
  mkdirSync(ok, { mode: 0o700 });
  assert.equal(await add(ok), true);
  assert.ok(existsSync(join(ok, 'cntrl')));
  const subs = (await c.call('nvmf_get_subsystems', { nqn: NQN })) as Array<{ listen_addresses: Array<{ traddr: string }> }>;
  assert.deepEqual(subs[0].listen_addresses.map((l) => l.traddr), [ok]);
  rmSync(open, { recursive: true, force: true });
});

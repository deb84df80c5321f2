// SPDK transport ID parsing for `-r`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatTrid, parseTrid } from '../../harness/initiator/trid.js';

test('space- or comma-separated key:value pairs, keys case-insensitive', () => {
  const a = parseTrid('trtype:VFIOUSER traddr:/var/run/vfio-user subnqn:nqn.2019-07.io.spdk:cnode0');
  assert.equal(a.traddr, '/var/run/vfio-user');
  assert.equal(a.socketPath, '/var/run/vfio-user/cntrl');
  assert.equal(a.subnqn, 'nqn.2019-07.io.spdk:cnode0');
  const b = parseTrid('TRTYPE:vfiouser,TrAddr:/tmp/x');
  assert.equal(b.trtype, 'VFIOUSER');
  assert.equal(b.socketPath, '/tmp/x/cntrl');
  assert.equal(b.subnqn, undefined);
  assert.equal(parseTrid('trtype=VFIOUSER traddr=/d').traddr, '/d');
  assert.equal(formatTrid(a), 'trtype:VFIOUSER traddr:/var/run/vfio-user subnqn:nqn.2019-07.io.spdk:cnode0');
});

test('rejects other transports, missing fields, junk', () => {
  assert.throws(() => parseTrid('trtype:PCIe traddr:0000:00:04.0'), /only VFIOUSER/);
  assert.throws(() => parseTrid('trtype:TCP traddr:1.2.3.4 trsvcid:4420'), /only VFIOUSER/);
  assert.throws(() => parseTrid('traddr:/x'), /trtype is required/);
  assert.throws(() => parseTrid('trtype:VFIOUSER'), /traddr/);
  assert.throws(() => parseTrid('trtype:VFIOUSER traddr:/x bogus'), /key:value/);
  assert.throws(() => parseTrid('trtype:VFIOUSER traddr:/x color:red'), /unknown key/);
  assert.throws(() => parseTrid('trtype:VFIOUSER traddr:/x traddr:/y'), /twice/);
});

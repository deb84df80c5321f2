// The migration preflight: two targets exporting the same controller pass; each kind of
// difference that would fail late or leave data behind is named, with the RPC option to fix.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareProfiles, migrationProfile, type BdevInfo, type SubsystemInfo } from '../../harness/guest/migration-preflight.js';

const NQN = 'nqn.2019-07.io.spdk:mig0';
const UUID = '6a1e3b1c-7a5e-4c2e-9d41-0c1d2e3f4a5b';
const subs = (o: Partial<SubsystemInfo['namespaces'] extends (infer T)[] | undefined ? T : never> = {}, extra: Partial<SubsystemInfo> = {}): SubsystemInfo[] => [
  { nqn: 'nqn.2014-08.org.nvmexpress.discovery' },
  { nqn: NQN, serial_number: 'SN0', model_number: 'M', namespaces: [{ nsid: 1, bdev_name: 'Shared0', uuid: UUID, ...o }], ...extra },
];
const aio = (o: Partial<BdevInfo> = {}, filename = '/srv/shared.img'): BdevInfo[] => [
  { name: 'Shared0', product_name: 'AIO disk', block_size: 512, num_blocks: 131072, uuid: 'bdev-uuid', driver_specific: { aio: { filename } }, ...o },
];

test('identical exports on one shared file pass', () => {
  assert.deepEqual(compareProfiles(migrationProfile(NQN, subs(), aio()), migrationProfile(NQN, subs(), aio())), []);
});

test('each difference is refused with what differs', () => {
  const base = migrationProfile(NQN, subs(), aio());
  const cases: Array<[string, ReturnType<typeof migrationProfile>, RegExp]> = [
    ['uuid', migrationProfile(NQN, subs({ uuid: '00000000-0000-4000-8000-000000000000' }), aio()), /namespace 1 UUID \(nvmf_subsystem_add_ns -u\)/],
    ['serial', migrationProfile(NQN, subs({}, { serial_number: 'SN1' }), aio()), /serial number/],
    ['size', migrationProfile(NQN, subs(), aio({ num_blocks: 1 })), /block count/],
    ['block size', migrationProfile(NQN, subs(), aio({ block_size: 4096 })), /block size/],
    ['storage', migrationProfile(NQN, subs(), aio({}, '/srv/other.img')), /namespace 1 storage/],
    ['malloc', migrationProfile(NQN, subs(), [{ name: 'Shared0', product_name: 'Malloc disk', block_size: 512, num_blocks: 131072 }]), /backed by memory.*stay behind/],
    ['missing ns', migrationProfile(NQN, [{ nqn: NQN, serial_number: 'SN0', model_number: 'M', namespaces: [] }], aio()), /namespace 1: only on the source/],
  ];
  for (const [what, other, re] of cases) {
    const d = compareProfiles(base, other);
    assert.ok(d.length > 0, `${what}: refused`);
    assert.match(d.join('\n'), re, what);
  }
  assert.throws(() => migrationProfile('nqn.2019-07.io.spdk:nope', subs(), aio()), /does not exist/);
});

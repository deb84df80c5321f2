// Live migration end to end with a verifying workload: the initiator (as VMM) moves a
// running controller back and forth between two targets sharing guest memory and a file
// bdev, at random moments, in both protocol versions and both doorbell modes; every
// acknowledged write must read back intact afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runMigrationInitiator } from '../../scenarios/lib/migration-run.js';

for (const protocol of ['v2', 'v1'] as const) {
  for (const doorbells of ['mapped', 'message'] as const) {
    test(`10 migrations under a verifying workload (${protocol}, ${doorbells} doorbells)`, async () => {
      const r = await runMigrationInitiator({ iterations: 10, protocol, doorbells, seed: protocol === 'v2' ? 11 : 13, minGapMs: 2, maxGapMs: 25 });
      assert.deepEqual(r.errors, []);
      assert.equal(r.completed, 10);
      assert.ok(r.writes > 0 && r.reads > 0, `workload ran (${r.writes} writes, ${r.reads} reads)`);
      assert.ok(r.verifiedAtEnd > 0);
      assert.ok(r.passed);
      assert.ok(r.aerCarried, 'the AER outstanding since the start completed on the last target');
      assert.equal(r.strayCompletions, 0, 'nothing acknowledged twice');
      assert.ok(r.adminCommands > 0, 'admin commands ran during the migrations');
      for (const m of r.migrations) assert.ok(m.downtimeMs < 5000 && m.recordBytes > 0);
    });
  }
}

for (const protocol of ['v2', 'v1'] as const) {
  test(`10 migrations with I/O served in TypeScript (delay bdev) and in flight at STOP (${protocol})`, async () => {
    const r = await runMigrationInitiator({ iterations: 10, protocol, delayUs: 1500, seed: 5, minGapMs: 2, maxGapMs: 20 });
    assert.deepEqual(r.errors, []);
    assert.ok(r.passed);
    assert.ok(r.inflightAtStop > 0, 'commands were outstanding when the guest paused');
    assert.ok(r.adminCommands > 0 && r.aerCarried);
  });
}

test('10 migrations with shadow doorbells (Doorbell Buffer Config, message mode, v2)', async () => {
  const r = await runMigrationInitiator({ iterations: 10, protocol: 'v2', doorbells: 'message', shadowDoorbells: true, seed: 29, minGapMs: 2, maxGapMs: 20 });
  assert.deepEqual(r.errors, []);
  assert.ok(r.passed);
});

// Every engine call that pauses the engine thread resumes it on every way out: a throw from
// argument parsing inside the paused section (createCq/createSq read the IOVA after pausing)
// used to leave the engine parked for good, and every later I/O timed out.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { driverWithQueue, makePair, writeRead } from '../migration/pair.js';

test('engine calls that throw while the engine is paused leave it running', async () => {
  const pair = await makePair();
  try {
    const { drv, q } = await driverWithQueue(pair.a);
    try {
      const engine = pair.a.controller.io;
      const bad = 'not an iova' as unknown as bigint; // what a buggy caller could pass
      for (let i = 0; i < 3; i++) {
        assert.throws(() => engine.createCq(5, bad, 16, 0, true));
        assert.throws(() => engine.createSq(5, 1, bad, 16));
        assert.throws(() => engine.setNamespace(1, { kind: 'nonsense' } as never));
      }
      await writeRead(drv, q, 8, 0x77);
    } finally {
      drv.close();
    }
  } finally {
    await pair.close();
  }
});

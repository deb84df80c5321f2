// The BAR0 doorbell page a client gets (sparse mmap fd) is a size-sealed memfd: a hostile
// client's ftruncate(fd, 0) fails with EPERM instead of SIGBUSing the target at its next
// doorbell access, and the controller keeps serving I/O through mapped doorbells.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ftruncateSync, fstatSync } from 'node:fs';
import { VfioUserClient } from '../../harness/initiator/vfio-user-client.js';
import { native } from '../../native/index.js';
import { driverWithQueue, makePair, writeRead } from '../migration/pair.js';

test('a client cannot shrink or grow the doorbell page it is handed; the target keeps serving', async () => {
  const pair = await makePair();
  try {
    const c = await VfioUserClient.open(pair.a.socketPath);
    const { fd } = await c.regionInfo(0);
    assert.ok(fd !== null, 'BAR0 is offered with an mmap fd');
    assert.equal(fstatSync(fd!).size, 0x4000);
    assert.throws(() => ftruncateSync(fd!, 0), /EPERM/);
    assert.throws(() => ftruncateSync(fd!, 1 << 20), /EPERM/);
    native.closeFd(fd!);
    c.close();
    const { drv, q } = await driverWithQueue(pair.a);
    await writeRead(drv, q, 0, 0x5a);
    drv.close();
  } finally {
    await pair.close();
  }
});

// Property test of connection lifetimes: random sequences of clients that connect and leave at
// every stage (before VERSION, inside a header, inside a body carrying fds, after VERSION, after
// DMA_MAP, with the controller enabled and queues created, in the middle of I/O). After each
// sequence a fresh driver must enable the controller and read back what it writes: no pause,
// fd, queue or DMA state a departed client left may break the next one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { native } from '../../native/index.js';
import { VfioUserClient } from '../../harness/initiator/vfio-user-client.js';
import { NvmeDriver } from '../../harness/initiator/nvme-driver.js';
import * as W from '../../target/vfio-user/wire.js';
import { driverWithQueue, makePair, writeRead } from '../migration/pair.js';
import { openFds } from '../helpers/scratch-device.js';

const stage = fc.constantFrom('silent', 'mid-header', 'mid-body-fds', 'version', 'mapped', 'enabled', 'queues', 'in-flight');
type Stage = typeof stage extends fc.Arbitrary<infer T> ? T : never;

async function leaveAt(path: string, s: Stage): Promise<void> {
  if (s === 'silent' || s === 'mid-header' || s === 'mid-body-fds') {
    const c = await VfioUserClient.connect(path);
    const v = W.encodeCommand(1, W.Command.VERSION, Buffer.alloc(64));
    if (s === 'mid-header') c.sendRaw(v.subarray(0, 9));
    if (s === 'mid-body-fds') {
      const efd = native.eventfdCreate();
      c.sendRaw(v.subarray(0, 20), [efd, efd, efd]);
      native.closeFd(efd);
    }
    c.close();
    return;
  }
  if (s === 'version') {
    (await VfioUserClient.open(path)).close();
    return;
  }
  if (s === 'mapped') {
    const c = await VfioUserClient.open(path);
    await c.addMemory(0x100000n, 0x20000);
    c.dispose(); // close() keeps the client's memory for a reconnect

    return;
  }
  const drv = await NvmeDriver.attach(path);
  if (s !== 'enabled') {
    await drv.setNumberOfQueues(2);
    const q = await drv.createIoQueuePair(1, 32);
    if (s === 'in-flight') {
      const buf = drv.alloc(65536);
      for (let i = 0; i < 8; i++) void drv.io(q, i % 2 ? 0x01 : 0x02, 1, BigInt(i * 128), 128, buf, 65536).catch(() => undefined);
    }
  }
  drv.close();
}

test('random connect/abort sequences never break the next client', async () => {
  const pair = await makePair();
  try {
    const fds = openFds();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(stage, { minLength: 1, maxLength: 6 }), async (seq) => {
        for (const s of seq) await leaveAt(pair.a.socketPath, s);
        const { drv, q } = await driverWithQueue(pair.a);
        try {
          await writeRead(drv, q, (n++ % 64) * 8, n & 0xff);
        } finally {
          drv.close();
        }
      }),
      { numRuns: 40, seed: Number(process.env.VNVME_FUZZ_SEED ?? 0xab047) },
    );
    await new Promise((r) => setTimeout(r, 200));
    // The engine's dup of the namespace file is opened once, on the first attach.
    assert.ok(openFds() <= fds + 1, `fds: ${fds} before, ${openFds()} after: something a client left is still open`);
  } finally {
    await pair.close();
  }
});

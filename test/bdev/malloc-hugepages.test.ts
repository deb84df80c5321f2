// Malloc bdevs on 2 MiB huge pages (vnvme target --malloc-hugepages): the native engine maps
// the hugetlb memfd and serves I/O from it; without free huge pages the bdev falls back to
// ordinary pages and says why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MallocBdev } from '../../target/bdev/malloc.js';
import { NvmeEndpoint } from '../../target/nvme/endpoint.js';
import { NvmeDriver } from '../../harness/initiator/nvme-driver.js';

/** Free and not reserved by a mapping (pages are reserved at mmap, taken at first touch). */
function freeHugepages(): number {
  const m = readFileSync('/proc/meminfo', 'utf8');
  const n = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(m)?.[1] ?? 0);
  return n('HugePages_Free') - n('HugePages_Rsvd');
}
const NR = '/proc/sys/vm/nr_hugepages';

/** Two free 2 MiB pages for the test: reserved (and given back) when root and none are free. */
function withHugepages(t: { after(fn: () => void): void; skip(reason: string): void }): boolean {
  if (freeHugepages() >= 2) return true;
  if (process.getuid?.() !== 0) {
    t.skip('no free 2 MiB huge pages and not root to reserve two (vm.nr_hugepages)');
    return false;
  }
  const add = (n: number) => writeFileSync(NR, String(Number(readFileSync(NR, 'utf8')) + n));
  add(2);
  t.after(() => add(-2));
  if (freeHugepages() >= 2) return true;
  t.skip('the kernel could not reserve two 2 MiB huge pages (memory fragmented?)');
  return false;
}

test('a malloc bdev on huge pages serves I/O through the native engine', async (t) => {
  if (!withHugepages(t)) return;
  const before = freeHugepages();
  // 3 MiB of data: the memfd is rounded up to two huge pages.
  const bdev = new MallocBdev({ name: 'MallocHuge', blockSize: 512, numBlocks: 6144, hugepages: true });
  assert.equal(bdev.hugepages, true, bdev.hugepagesRefused);
  assert.equal(before - freeHugepages(), 2, 'two huge pages reserved');
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-huge-'));
  const ep = new NvmeEndpoint({ traddr: dir, serialNumber: 'HUGE0', modelNumber: 'vnvme huge malloc', subnqn: 'nqn.2019-07.io.spdk:huge', namespaces: () => [{ nsid: 1, bdev }] });
  const drv = await NvmeDriver.attach(join(dir, 'cntrl'));
  try {
    await drv.setNumberOfQueues(1);
    const q = await drv.createIoQueuePair(1, 16);
    const buf = drv.alloc(4096);
    // The last 4 KiB of the disk, past the first huge page.
    const lba = BigInt(6144 - 8);
    drv.write(buf, Buffer.alloc(4096, 0xa5));
    assert.equal((await drv.io(q, 0x01, 1, lba, 8, buf, 4096)).status, 0);
    drv.write(buf, Buffer.alloc(4096));
    assert.equal((await drv.io(q, 0x02, 1, lba, 8, buf, 4096)).status, 0);
    assert.ok(drv.read(buf, 4096).equals(Buffer.alloc(4096, 0xa5)));
    assert.equal(ep.controller.ioStats().readCommands, 1, 'served by the native engine');
  } finally {
    drv.close();
    await ep.close();
    await bdev.close();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(freeHugepages(), before, 'the pages are given back');
});

test('without enough free huge pages a malloc bdev falls back to ordinary pages and says why', async () => {
  // Far more than any host here has free.
  const numBlocks = (freeHugepages() + 64) * 4096;
  const bdev = new MallocBdev({ name: 'MallocNoHuge', blockSize: 512, numBlocks, hugepages: true });
  try {
    assert.equal(bdev.hugepages, false);
    assert.match(bdev.hugepagesRefused ?? '', /free 2 MiB huge pages needed \(vm\.nr_hugepages\)/);
  } finally {
    await bdev.close();
  }
});

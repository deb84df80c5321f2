// Two NVMe targets (A, B) serving one file with the same namespace identity, as the source
// and destination of a live migration; and a driver with an I/O queue pair on A.
import { mkdtempSync, mkdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileBdev } from '../../target/bdev/file.js';
import { MallocBdev } from '../../target/bdev/malloc.js';
import type { Bdev, BdevMetadata } from '../../target/bdev/bdev.js';
import { NvmeEndpoint } from '../../target/nvme/endpoint.js';
import { NvmeDriver, type QueuePair } from '../../harness/initiator/nvme-driver.js';

export interface Pair {
  dir: string;
  a: NvmeEndpoint;
  b: NvmeEndpoint;
  bdevs: Bdev[];
  close(): Promise<void>;
}

/** `metadata` (malloc only): both namespaces' metadata format, or B's alone with `metadataB` (null: none). */
export async function makePair(
  o: { v1?: boolean; doorbells?: 'mapped' | 'message'; blocks?: number; blocksB?: number; malloc?: boolean; metadata?: BdevMetadata; metadataB?: BdevMetadata | null } = {},
): Promise<Pair> {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-migt-'));
  const uuid = '6a1e3b1c-7a5e-4c2e-9d41-0c1d2e3f4a5b';
  const eps: NvmeEndpoint[] = [];
  const bdevs: Bdev[] = [];
  for (const name of ['A', 'B']) {
    const file = join(dir, `disk${name === 'B' && o.blocksB ? 'B' : ''}.img`);
    writeFileSync(file, Buffer.alloc(0), { flag: 'a' });
    truncateSync(file, 512 * (name === 'B' && o.blocksB ? o.blocksB : (o.blocks ?? 8192)));
    const bdev: Bdev = o.malloc
      ? new MallocBdev({ name: `d${name}`, blockSize: 512, numBlocks: o.blocks ?? 8192, uuid, metadata: (name === 'B' && o.metadataB !== undefined ? o.metadataB : o.metadata) ?? undefined })
      : await FileBdev.open({ name: `d${name}`, filename: file, uuid });
    bdevs.push(bdev);
    const traddr = join(dir, name);
    mkdirSync(traddr);
    eps.push(
      new NvmeEndpoint({
        traddr,
        serialNumber: 'MIG0',
        modelNumber: 'migration test',
        subnqn: 'nqn.2019-07.io.spdk:mig',
        namespaces: () => [{ nsid: 1, bdev, uuid }],
        disableMappableBar0: o.doorbells === 'message',
        migration: { v1: o.v1 },
      }),
    );
  }
  return {
    dir,
    a: eps[0]!,
    b: eps[1]!,
    bdevs,
    async close() {
      for (const e of eps) await e.close();
      for (const b of bdevs) await b.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function driverWithQueue(ep: NvmeEndpoint): Promise<{ drv: NvmeDriver; q: QueuePair }> {
  const drv = await NvmeDriver.attach(ep.socketPath);
  await drv.setNumberOfQueues(2);
  const q = await drv.createIoQueuePair(1, 32);
  return { drv, q };
}

/** Writes `blocks` 512-byte blocks of `fill` at `lba` and reads them back. */
export async function writeRead(drv: NvmeDriver, q: QueuePair, lba: number, fill: number, blocks = 8): Promise<void> {
  const buf = drv.alloc(512 * blocks);
  drv.write(buf, Buffer.alloc(512 * blocks, fill));
  const w = await drv.io(q, 0x01, 1, BigInt(lba), blocks, buf, 512 * blocks);
  if (w.status) throw new Error(`write status 0x${w.status.toString(16)}`);
  drv.write(buf, Buffer.alloc(512 * blocks, 0));
  const r = await drv.io(q, 0x02, 1, BigInt(lba), blocks, buf, 512 * blocks);
  if (r.status) throw new Error(`read status 0x${r.status.toString(16)}`);
  const got = drv.read(buf, 512 * blocks);
  if (!got.equals(Buffer.alloc(512 * blocks, fill))) throw new Error(`LBA ${lba}: read back differs`);
}

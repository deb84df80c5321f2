// One NVMe endpoint over a malloc bdev with our driver attached, for the spec-status tests.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MallocBdev } from '../../target/bdev/malloc.js';
import { NvmeEndpoint, type NvmeEndpointOptions } from '../../target/nvme/endpoint.js';
import { NvmeDriver } from '../../harness/initiator/nvme-driver.js';

export interface ControllerFixture {
  dir: string;
  ep: NvmeEndpoint;
  drv: NvmeDriver;
  socketPath: string;
  close(): Promise<void>;
}

/** SCT/SC of a completion status, without DNR and More. */
export const sc = (s: number) => s & 0x7ff;

export async function controllerFixture(o: Partial<NvmeEndpointOptions> = {}): Promise<ControllerFixture> {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-spec-'));
  const bdev = new MallocBdev({ name: 'Malloc0', blockSize: 512, numBlocks: 2048 });
  const ep = new NvmeEndpoint({ traddr: dir, serialNumber: 'SPEC0', modelNumber: 'vnvme spec statuses', subnqn: 'nqn.2019-07.io.spdk:spec', namespaces: () => [{ nsid: 1, bdev }], ...o });
  const socketPath = join(dir, 'cntrl');
  let drv: NvmeDriver;
  try {
    drv = await NvmeDriver.attach(socketPath);
  } catch (err) {
    await ep.close();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    dir,
    ep,
    drv,
    socketPath,
    async close() {
      drv.close();
      await ep.close();
      await bdev.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

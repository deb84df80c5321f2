// vnvme perf's native loop against our target in both doorbell modes: it completes I/O,
// reports sane latencies, and the data path it drives leaves no errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MallocBdev } from '../../target/bdev/malloc.js';
import { NvmeEndpoint } from '../../target/nvme/endpoint.js';
import { runPerf, formatPerf } from '../../harness/initiator/perf.js';

for (const mode of ['mapped', 'message'] as const) {
  test(`perf: ${mode} doorbells, randread QD8 and randwrite 128 KiB`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vnvme-perf-'));
    const bdev = new MallocBdev({ name: 'Malloc0', blockSize: 512, numBlocks: 65536 });
    const ep = new NvmeEndpoint({
      traddr: dir,
      serialNumber: 'PERF0',
      modelNumber: 'perf',
      subnqn: 'nqn.2019-07.io.spdk:perf',
      namespaces: () => [{ nsid: 1, bdev }],
      disableMappableBar0: mode === 'message',
    });
    try {
      const r = await runPerf(join(dir, 'cntrl'), { queueDepth: 8, ioSize: 4096, workload: 'randread', seconds: 0.5 });
      assert.equal(r.doorbells, mode);
      assert.ok(r.ios > 50, `${r.ios} I/Os`);
      assert.equal(r.errors, 0);
      assert.ok(r.latencyUs.min > 0 && r.latencyUs.min <= r.latencyUs.p50 && r.latencyUs.p50 <= r.latencyUs.max);
      assert.match(formatPerf(r), /IOPS/);
      const w = await runPerf(join(dir, 'cntrl'), { queueDepth: 4, ioSize: 131072, workload: 'randwrite', seconds: 0.3, workers: 2 });
      assert.equal(w.errors, 0);
      assert.equal(w.workers, 2);
      assert.ok(w.ios > 10);
      assert.ok(ep.controller.ioStats().writeBytes >= w.ios * 131072);
    } finally {
      await ep.close();
      await bdev.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

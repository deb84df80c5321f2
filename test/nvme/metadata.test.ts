// Namespaces with metadata and protection information over a real vfio-user socket, in both
// doorbell modes (issue 18 item 1), for what the conformance cases do not cover: Format NVM's
// PI/MSET/PIL rules and what it leaves in the metadata, Write Zeroes with and without PRACT,
// deallocation, Copy carrying metadata and refusing PRINFOR/PRINFOW, and the Identify bytes.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cmd, type NvmeDriver, type QueuePair } from '../../harness/initiator/nvme-driver.js';
import { MallocBdev } from '../../target/bdev/malloc.js';
import { controllerFixture, sc, type ControllerFixture } from './fixture.js';

const INVALID_FIELD = 0x002;
const INVALID_FORMAT = 0x10a;
const GUARD_ERROR = 0x282;

/** Write (or Read) of `blocks` on the separate-metadata namespace: data buffer and MPTR. */
function rw(drv: NvmeDriver, opc: number, nsid: number, lba: number, blocks: number, data: bigint, md: bigint | null, cdw12 = 0, cdw14 = 0, cdw15 = 0): Buffer {
  const { prp1, prp2 } = drv.prps(data, blocks * 512);
  const sqe = cmd(opc, nsid, { prp1, prp2, cdw10: lba, cdw12: (blocks - 1) | cdw12, cdw14, cdw15 });
  if (md !== null) sqe.writeBigUInt64LE(md, 16);
  return sqe;
}

for (const mode of ['mapped', 'message'] as const) {
  describe(`metadata and PI (${mode} doorbells)`, () => {
    let f: ControllerFixture;
    let q: QueuePair;
    const t1 = new MallocBdev({ name: 'PI1', blockSize: 512, numBlocks: 256, metadata: { size: 8, interleave: false, piType: 1, piFirst: false } });
    const ext = new MallocBdev({ name: 'EXT', blockSize: 512, numBlocks: 256, metadata: { size: 16, interleave: true, piType: 3, piFirst: true } });
    before(async () => {
      f = await controllerFixture({ namespaces: () => [{ nsid: 1, bdev: t1 }, { nsid: 2, bdev: ext }], disableMappableBar0: mode === 'message' });
      await f.drv.setNumberOfQueues(2);
      q = await f.drv.createIoQueuePair(1, 16);
    });
    after(async () => {
      await f.close();
      await t1.close();
      await ext.close();
    });

    const submit = (sqe: Buffer) => f.drv.submit(q, sqe);
    /** Block `lba`'s 8 bytes of PI, read with PRCHK clear. */
    async function piOf(lba: number): Promise<Buffer> {
      const d = f.drv.alloc(512);
      const m = f.drv.alloc(8);
      assert.equal((await submit(rw(f.drv, 0x02, 1, lba, 1, d, m))).status, 0);
      return f.drv.read(m, 8);
    }
    const checkedRead = async (lba: number) => (await submit(rw(f.drv, 0x02, 1, lba, 1, f.drv.alloc(512), f.drv.alloc(8), 7 << 26, lba, 0))).status;

    test('Identify Namespace: MS, FLBAS bit 4, MC, DPC, DPS', async () => {
      for (const [nsid, ms, flbas, mc, dpc, dps] of [
        [1, 8, 0x00, 0x02, 0x11, 0x01],
        [2, 16, 0x10, 0x01, 0x0c, 0x0b],
      ] as const) {
        const b = f.drv.alloc(4096);
        await f.drv.adminOk(cmd(0x06, nsid, { prp1: b, cdw10: 0 }), 'Identify Namespace');
        const id = f.drv.read(b, 4096);
        assert.equal(id.readUInt32LE(128) & 0xffff, ms, `ns ${nsid} LBAF0 MS`);
        assert.equal((id.readUInt32LE(128) >> 16) & 0xff, 9, `ns ${nsid} LBADS`);
        assert.deepEqual([id[26], id[27], id[28], id[29]], [flbas, mc, dpc, dps], `ns ${nsid} FLBAS MC DPC DPS`);
      }
    });

    test('Write Zeroes: with PRACT the blocks get generated PI; without, all-FFh PI (unchecked); both read with every check', async () => {
      assert.equal((await submit(cmd(0x08, 1, { cdw10: 10, cdw12: 1 | (1 << 29), cdw14: 10, cdw15: 0x55 }))).status, 0, 'Write Zeroes with PRACT');
      const pi = await piOf(11);
      assert.equal(pi.readUInt16BE(0), 0, 'Guard of 512 zero bytes');
      assert.equal(pi.readUInt16BE(2), 0x55, 'LBAT');
      assert.equal(pi.readUInt32BE(4), 11, 'Reference Tag counts from ILBRT');
      assert.equal(await checkedRead(11), 0);
      assert.equal((await submit(cmd(0x08, 1, { cdw10: 20, cdw12: 0 }))).status, 0, 'Write Zeroes without PRACT');
      assert.deepEqual(await piOf(20), Buffer.alloc(8, 0xff));
      assert.equal(await checkedRead(20), 0);
      assert.equal(sc((await submit(cmd(0x08, 1, { cdw10: 20, cdw12: 1 << 26, cdw14: 21 }))).status), 0x181, 'Type 1 ILBRT not the LBA');
    });

    test('a block with a wrong Guard, then Dataset Management deallocate: its PI is all FFh again', async () => {
      const m = f.drv.alloc(8);
      f.drv.write(m, Buffer.from([1, 2, 0, 0, 0, 0, 0, 30]));
      assert.equal((await submit(rw(f.drv, 0x01, 1, 30, 1, f.drv.alloc(512), m))).status, 0, 'Write, PRCHK clear');
      assert.equal(sc(await checkedRead(30)), GUARD_ERROR);
      const r = f.drv.alloc(16);
      const range = Buffer.alloc(16);
      range.writeUInt32LE(1, 4);
      range.writeBigUInt64LE(30n, 8);
      f.drv.write(r, range);
      assert.equal((await submit(cmd(0x09, 1, { prp1: r, cdw10: 0, cdw11: 1 << 2 }))).status, 0, 'deallocate');
      assert.deepEqual(await piOf(30), Buffer.alloc(8, 0xff));
      assert.equal(await checkedRead(30), 0);
    });

    test('Copy carries each block\'s metadata with its data; PRINFOR/PRINFOW are Invalid Field', async () => {
      const d = f.drv.alloc(512);
      f.drv.write(d, Buffer.alloc(512, 0x61));
      assert.equal((await submit(rw(f.drv, 0x01, 1, 40, 1, d, null, 1 << 29, 40, 0x99))).status, 0, 'Write with PRACT');
      const list = f.drv.alloc(32);
      const e = Buffer.alloc(32);
      e.writeBigUInt64LE(40n, 8);
      f.drv.write(list, e);
      assert.equal((await submit(cmd(0x19, 1, { prp1: list, cdw10: 50, cdw12: 0 }))).status, 0, 'Copy 40 -> 50');
      assert.deepEqual(await piOf(50), await piOf(40), 'metadata copied verbatim (Reference Tag 40: a Type 1 check at 50 fails)');
      assert.equal(sc((await submit(cmd(0x19, 1, { prp1: list, cdw10: 50, cdw12: 1 << 12 }))).status), INVALID_FIELD, 'PRINFOR');
      assert.equal(sc((await submit(cmd(0x19, 1, { prp1: list, cdw10: 50, cdw12: 1 << 26 }))).status), INVALID_FIELD, 'PRINFOW');
    });

    test('Format NVM: only the namespace\'s own PI type, MSET and PIL; it leaves all-FFh PI', async () => {
      const fmt = (nsid: number, cdw10: number) => f.drv.adminCommand(cmd(0x80, nsid, { cdw10 }));
      assert.equal(sc((await fmt(1, 0)).status), INVALID_FORMAT, 'PI 0 on a Type 1 namespace');
      assert.equal(sc((await fmt(1, (1 << 5) | (1 << 4))).status), INVALID_FORMAT, 'MSET 1 (extended) on separate metadata');
      assert.equal(sc((await fmt(1, (1 << 5) | (1 << 8))).status), INVALID_FORMAT, 'PIL 1 (first 8 bytes)');
      assert.equal(sc((await fmt(2, 3 << 5)).status), INVALID_FORMAT, 'MSET 0 on extended metadata');
      assert.equal(sc((await fmt(0xffffffff, 0)).status), INVALID_FORMAT, 'all namespaces with PI 0');
      assert.equal((await fmt(1, 1 << 5)).status, 0, 'Format NVM PI Type 1, separate, PI last');
      assert.deepEqual(await piOf(11), Buffer.alloc(8, 0xff));
      assert.equal((await fmt(2, (3 << 5) | (1 << 4) | (1 << 8))).status, 0, 'Format NVM PI Type 3, extended, PI first');
    });
  });
}

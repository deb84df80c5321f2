// Get Log Page (NVMe Base 2.0 5.16): NUMD = NUMDU:NUMDL + 1 dwords and the offset LPOU:LPOL are
// unsigned; a transfer beyond MDTS or an offset beyond the log is Invalid Field in Command,
// never an internal error or a success that transferred nothing (issue 13).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cmd } from '../../harness/initiator/nvme-driver.js';
import { Status } from '../../target/nvme/constants.js';
import { controllerFixture, sc, type ControllerFixture } from './fixture.js';

const ERROR_LOG = 0x01; // 64 entries of 64 bytes: 4096 bytes
const SMART_LOG = 0x02; // 512 bytes
const MDTS_BYTES = 4096 << 8; // the endpoint's MDTS = 8

interface Row {
  name: string;
  lid: number;
  /** NUMD - 1 (the 0-based dword count across NUMDU:NUMDL). */
  numd0: number;
  offset?: bigint;
  want: number;
  /** Bytes the buffer must hold (defaults to the transfer length). */
}

const rows: Row[] = [
  { name: 'SMART, 512 bytes', lid: SMART_LOG, numd0: 127, want: Status.SUCCESS },
  { name: 'error log, 4 KiB', lid: ERROR_LOG, numd0: 1023, want: Status.SUCCESS },
  { name: 'NUMDU 1 (65537 dwords, within MDTS): success, zeroes past the log', lid: ERROR_LOG, numd0: 0x10000, want: Status.SUCCESS },
  { name: 'exactly MDTS', lid: ERROR_LOG, numd0: MDTS_BYTES / 4 - 1, want: Status.SUCCESS },
  { name: 'one dword beyond MDTS', lid: ERROR_LOG, numd0: MDTS_BYTES / 4, want: Status.INVALID_FIELD },
  { name: 'NUMDU bit 15 set', lid: ERROR_LOG, numd0: 0x80000000, want: Status.INVALID_FIELD },
  { name: 'NUMDU bit 15 set, SMART', lid: SMART_LOG, numd0: 0x8000007f, want: Status.INVALID_FIELD },
  { name: 'NUMD 0xFFFFFFFF (2^32 dwords)', lid: ERROR_LOG, numd0: 0xffffffff, want: Status.INVALID_FIELD },
  { name: 'offset at the last dword of the log', lid: ERROR_LOG, numd0: 0, offset: 4092n, want: Status.SUCCESS },
  { name: 'offset at the end of the log', lid: ERROR_LOG, numd0: 0, offset: 4096n, want: Status.INVALID_FIELD },
  { name: 'offset beyond the SMART log', lid: SMART_LOG, numd0: 127, offset: 512n, want: Status.INVALID_FIELD },
  { name: 'LPOL 0xFFFFFFFC', lid: ERROR_LOG, numd0: 0, offset: 0xfffffffcn, want: Status.INVALID_FIELD },
  { name: 'LPOU bit 31 set', lid: ERROR_LOG, numd0: 0, offset: 0x80000000_00000000n, want: Status.INVALID_FIELD },
  { name: 'LPOU:LPOL all ones but dword aligned', lid: ERROR_LOG, numd0: 0, offset: 0xffffffff_fffffffcn, want: Status.INVALID_FIELD },
  { name: 'offset not dword aligned', lid: ERROR_LOG, numd0: 0, offset: 2n, want: Status.INVALID_FIELD },
  { name: 'unknown log page with a huge NUMD', lid: 0x77, numd0: 0xffffffff, want: Status.INVALID_LOG_PAGE },
];

describe('Get Log Page: NUMD and offset', () => {
  let f: ControllerFixture;
  let buf: bigint;
  before(async () => {
    f = await controllerFixture();
    buf = f.drv.alloc(MDTS_BYTES + 4096);
  });
  after(async () => {
    await f?.close();
  });

  for (const r of rows) {
    test(`${r.name} -> ${r.want ? `0x${sc(r.want).toString(16)}` : 'success'}`, async () => {
      const drv = f.drv;
      const len = Math.min((r.numd0 + 1) * 4, MDTS_BYTES); // what the buffer describes
      drv.write(buf, Buffer.alloc(Math.min(len, 8192), 0xee));
      const { prp1, prp2 } = drv.prps(buf, len);
      const off = r.offset ?? 0n;
      const c = await drv.adminCommand(
        cmd(0x02, 0xffffffff, {
          prp1,
          prp2,
          cdw10: r.lid | ((r.numd0 & 0xffff) << 16),
          cdw11: r.numd0 >>> 16,
          cdw12: Number(off & 0xffffffffn),
          cdw13: Number(off >> 32n),
        }),
      );
      assert.equal(sc(c.status), sc(r.want), `status 0x${c.status.toString(16)}`);
      if (r.want === Status.SUCCESS) {
        const got = drv.read(buf, Math.min(len, 8192));
        if (len > 4096 && r.lid === ERROR_LOG) assert.ok(got.subarray(4096).equals(Buffer.alloc(got.length - 4096)), 'bytes past the log read as zeroes');
        if (r.lid === SMART_LOG) assert.equal(got.readUInt16LE(1), 313, 'the SMART log arrived (composite temperature)');
      }
    });
  }

  test('the admin queue still serves after the table', async () => {
    assert.equal((await f.drv.identify(1)).toString('ascii', 4, 9), 'SPEC0');
  });
});

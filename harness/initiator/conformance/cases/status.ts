// Completion status rules that hold across commands (NVMe Base 2.0 4.2.3: the Status field,
// Do Not Retry).
import { cmd, type CaseContext, type Cqe } from '../session.js';
import { STATUS_DNR } from '../spec.js';
import type { ConformanceCase } from '../types.js';

const BASE = 'NVMe Base 2.0';

export const statusCases: ConformanceCase[] = [
  {
    id: 'status.dnr-on-deterministic-errors',
    section: `${BASE} 4.2.3 (Do Not Retry)`,
    title: 'Errors that a retry cannot fix carry Do Not Retry',
    procedure: 'Provoke Invalid Command Opcode, Invalid Field in Command (admin and I/O), Invalid Namespace or Format and LBA Out of Range; inspect status bit 14.',
    expected: 'DNR = 1 in each (a host such as Linux would otherwise retry them).',
    level: 'optional',
    async run(t: CaseContext) {
      const b = t.buf(4096);
      const got: [string, Cqe][] = [
        ['admin Invalid Command Opcode', await t.admin(cmd(0x7f, 0))],
        ['admin Invalid Field', await t.admin(cmd(0x06, 0, { prp1: b, cdw10: 0x1f }))],
        ['I/O Invalid Command Opcode', await t.io(cmd(0x7f, t.ns.nsid))],
        ['I/O Invalid Namespace', await t.io(t.rw(0x02, 0n, 1, b, { nsid: 0 }))],
        ['I/O LBA Out of Range', await t.io(t.rw(0x02, t.ns.blocks, 1, b))],
        ['I/O Invalid Field (MDTS)', await t.io(t.rw(0x02, 0n, t.ctrl.mdts ? Math.min(65536, (4096 << t.ctrl.mdts) / t.ns.blockSize + 1) : 1, b))],
      ];
      for (const [what, c] of got) {
        if (what.includes('MDTS') && !t.ctrl.mdts) continue;
        t.check(c.status !== 0, `${what}: unexpectedly succeeded`);
        t.eq(c.status & STATUS_DNR ? 1 : 0, 1, `${what}: DNR`);
      }
    },
  },
];

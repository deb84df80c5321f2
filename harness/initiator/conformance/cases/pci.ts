// The PCI function as vfio-user exposes it (PROTOCOL.md section 5; vfio-user 1.0 region info):
// capabilities the Linux nvme driver needs, MSI-X placement, and which parts of BAR0 are mmapped.
import { native } from '../../../../native/index.js';
import { RegionIndex } from '../spec.js';
import type { CaseContext } from '../session.js';
import type { ConformanceCase } from '../types.js';

async function config(t: CaseContext): Promise<Buffer> {
  return t.drv.client.regionRead(RegionIndex.CONFIG, 0, 256);
}

function capabilities(cfg: Buffer): Map<number, number> {
  const caps = new Map<number, number>();
  let at = cfg[0x34]! & 0xfc;
  for (let guard = 0; at && guard < 48; guard++) {
    if (!caps.has(cfg[at]!)) caps.set(cfg[at]!, at);
    at = cfg[at + 1]! & 0xfc;
  }
  return caps;
}

async function bar0Areas(t: CaseContext): Promise<{ size: bigint; areas: { offset: bigint; size: bigint }[] }> {
  const r = await t.drv.client.regionInfo(0);
  if (r.fd !== null) native.closeFd(r.fd);
  return { size: r.info.size, areas: r.fd === null ? [] : (r.info.sparse ?? []).map((a) => ({ offset: a.offset, size: a.size })) };
}

export const pciCases: ConformanceCase[] = [
  {
    id: 'pci.capabilities',
    section: 'PCI Local Bus 3.0 6.7 / PCIe Base 5.0 7.5.3; NVMe over PCIe 1.0 3.8 (MSI-X, PCI Express capability)',
    title: 'The capability list has MSI-X and PCI Express',
    procedure: 'Read config space; check Status.Capabilities List, walk the list from 34h.',
    expected: 'Capabilities List bit set; an MSI-X capability (11h) and a PCI Express capability (10h) are found; the walk terminates.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const cfg = await config(t);
      t.check(cfg.readUInt16LE(6) & (1 << 4), 'Status.Capabilities List is clear');
      const caps = capabilities(cfg);
      t.note(`capabilities: ${[...caps].map(([id, at]) => `${id.toString(16)}h@${at.toString(16)}h`).join(' ')}`);
      t.check(caps.has(0x11), 'no MSI-X capability');
      t.check(caps.has(0x10), 'no PCI Express capability');
    },
  },
  {
    id: 'pci.msix-table',
    section: 'PCI Local Bus 3.0 6.8.2 (MSI-X table and PBA); PROTOCOL.md 5 (MSI-X outside mmapped pages)',
    title: 'MSI-X table and PBA are inside their BAR and never in an mmapped area',
    procedure: 'Read the MSI-X capability (table size, BIR/offset, PBA BIR/offset); compare with BAR0 size and its sparse mmap areas.',
    expected: 'Table size >= 2 vectors (admin + I/O); table and PBA lie within the BAR; neither overlaps an mmapped area (they must trap).',
    level: 'mandatory',
    async run(t: CaseContext) {
      const cfg = await config(t);
      const at = capabilities(cfg).get(0x11);
      if (at === undefined) t.fail('no MSI-X capability');
      const n = (cfg.readUInt16LE(at + 2) & 0x7ff) + 1;
      const table = cfg.readUInt32LE(at + 4), pba = cfg.readUInt32LE(at + 8);
      t.note(`MSI-X: ${n} vectors, table BIR ${table & 7} @0x${(table & ~7).toString(16)}, PBA BIR ${pba & 7} @0x${(pba & ~7).toString(16)}`);
      t.check(n >= 2, `${n} MSI-X vector(s)`);
      for (const [what, v, len] of [['table', table, 16 * n], ['PBA', pba, 8 * Math.ceil(n / 64)]] as const) {
        const bir = v & 7, off = BigInt(v & ~7);
        const r = await t.drv.client.regionInfo(bir);
        if (r.fd !== null) native.closeFd(r.fd);
        t.check(off + BigInt(len) <= r.info.size, `MSI-X ${what} beyond BAR${bir}`);
        const areas = r.fd === null ? [] : r.info.sparse ?? [];
        for (const a of areas) t.check(off + BigInt(len) <= a.offset || off >= a.offset + a.size, `MSI-X ${what} inside an mmapped area of BAR${bir}`);
      }
    },
  },
  {
    id: 'vfio-user.bar0-mmap-areas',
    section: 'vfio-user 1.0 VFIO_USER_DEVICE_GET_REGION_INFO (sparse mmap capability); NVMe Base 2.0 3.1',
    title: 'Only the doorbell page of BAR0 is mmapped; registers always trap',
    procedure: 'GET_REGION_INFO for BAR0; list the sparse mmap areas.',
    expected: 'No area overlaps the registers (0h-FFFh); when areas are offered (mapped doorbell targets) one covers the doorbells from 1000h; message-mode targets offer none.',
    level: 'mandatory',
    async run(t: CaseContext) {
      const { areas } = await bar0Areas(t);
      t.note(`areas: ${areas.map((a) => `0x${a.offset.toString(16)}+0x${a.size.toString(16)}`).join(', ') || 'none'}`);
      for (const a of areas) t.check(a.offset >= 0x1000n, `area at 0x${a.offset.toString(16)} overlaps the registers`);
      // What the target offers, whichever mode this host chose to use.
      if (areas.length) t.check(areas.some((a) => a.offset <= 0x1000n && a.offset + a.size >= 0x1010n), 'mmapped areas offered, but none covers the doorbells');
      if (t.drv.mappedDoorbells) t.check(areas.length > 0, 'the host uses mapped doorbells but no area is offered');
    },
  },
  {
    id: 'pci.interrupt-pin',
    section: 'PCI Local Bus 3.0 6.2.4 (Interrupt Pin); PROTOCOL.md 5',
    title: 'Interrupt Pin is INTA (QEMU nvme sets 1)',
    procedure: 'Read config byte 3Dh.',
    expected: '1 (INTA#) — a legacy interrupt is available until MSI-X is enabled.',
    level: 'optional',
    async run(t: CaseContext) {
      t.eq((await config(t))[0x3d], 1, 'Interrupt Pin');
    },
  },
];

// `vnvme identify -r 'trtype:VFIOUSER traddr:DIR'`: the controller's and namespaces' Identify
// data decoded, laid out like spdk_nvme_identify / `nvme id-ctrl` (NVMe Base 2.0 Figure 275,
// NVM Command Set 1.0 Figure 97); `--json` prints the same as JSON.
import type { Command } from 'commander';
import { NvmeDriver, cmd } from './nvme-driver.js';
import { formatTrid, parseTrid } from './trid.js';
import { checkTraddr } from './endpoint.js';

export interface LbaFormat {
  index: number;
  metadataSize: number;
  dataSize: number;
  relativePerformance: number;
  inUse: boolean;
}

export interface NamespaceInfo {
  nsid: number;
  nsze: string;
  ncap: string;
  nuse: string;
  blockSize: number;
  sizeBytes: string;
  capacityBytes: string;
  utilizationBytes: string;
  nsfeat: number;
  dlfeat: number;
  flbas: number;
  lbaFormats: LbaFormat[];
  nguid: string | null;
  eui64: string | null;
  uuid: string | null;
}

export interface IdentifyReport {
  trid: string;
  registers: { cap: string; mqes: number; cqr: boolean; timeoutMs: number; dstrd: number; css: number; mpsmin: number; mpsmax: number; vs: string };
  controller: {
    vid: string;
    ssvid: string;
    sn: string;
    mn: string;
    fr: string;
    rab: number;
    ieeeOui: string;
    cmic: number;
    mdts: number;
    mdtsBytes: number | null;
    cntlid: number;
    ver: string;
    oaes: string;
    oacs: { value: string; securitySendReceive: boolean; formatNvm: boolean; firmware: boolean; namespaceManagement: boolean; deviceSelfTest: boolean; directives: boolean; nvmeMi: boolean; virtualization: boolean; doorbellBufferConfig: boolean };
    acl: number;
    aerl: number;
    frmw: string;
    lpa: string;
    elpe: number;
    npss: number;
    wctemp: number;
    cctemp: number;
    sqes: { min: number; max: number };
    cqes: { min: number; max: number };
    nn: number;
    oncs: { value: string; compare: boolean; writeUncorrectable: boolean; datasetManagement: boolean; writeZeroes: boolean; saveSelect: boolean; reservations: boolean; timestamp: boolean; verify: boolean; copy: boolean };
    fuses: string;
    fna: string;
    vwc: { present: boolean; flushBroadcast: string };
    sgls: { value: string; supported: boolean; bitBucket: boolean; longerThanData: boolean };
    subnqn: string;
  };
  namespaces: NamespaceInfo[];
}

const hex = (v: number, w = 0) => `0x${(v >>> 0).toString(16).padStart(w, '0')}`;
const text = (b: Buffer, off: number, len: number) => b.toString('latin1', off, off + len).replace(/\0/g, '').trimEnd();
const allZero = (b: Buffer) => b.every((x) => x === 0);

function version(v: number): string {
  return `${v >>> 16}.${(v >> 8) & 0xff}${v & 0xff ? `.${v & 0xff}` : ''}`;
}

function uuidText(b: Buffer): string {
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export function decodeController(id: Buffer): IdentifyReport['controller'] {
  const oacs = id.readUInt16LE(256);
  const oncs = id.readUInt16LE(520);
  const sgls = id.readUInt32LE(536);
  const vwc = id[525]!;
  const mdts = id[77]!;
  return {
    vid: hex(id.readUInt16LE(0), 4),
    ssvid: hex(id.readUInt16LE(2), 4),
    sn: text(id, 4, 20),
    mn: text(id, 24, 40),
    fr: text(id, 64, 8),
    rab: 2 ** id[72]!,
    ieeeOui: id.readUIntLE(73, 3).toString(16).padStart(6, '0'),
    cmic: id[76]!,
    mdts,
    mdtsBytes: mdts ? 4096 * 2 ** mdts : null,
    cntlid: id.readUInt16LE(78),
    ver: version(id.readUInt32LE(80)),
    oaes: hex(id.readUInt32LE(92)),
    oacs: {
      value: hex(oacs),
      securitySendReceive: !!(oacs & 1),
      formatNvm: !!(oacs & 2),
      firmware: !!(oacs & 4),
      namespaceManagement: !!(oacs & 8),
      deviceSelfTest: !!(oacs & 0x10),
      directives: !!(oacs & 0x20),
      nvmeMi: !!(oacs & 0x40),
      virtualization: !!(oacs & 0x80),
      doorbellBufferConfig: !!(oacs & 0x100),
    },
    acl: id[258]! + 1,
    aerl: id[259]! + 1,
    frmw: hex(id[260]!),
    lpa: hex(id[261]!),
    elpe: id[262]! + 1,
    npss: id[263]! + 1,
    wctemp: id.readUInt16LE(266),
    cctemp: id.readUInt16LE(268),
    sqes: { min: 2 ** (id[512]! & 0xf), max: 2 ** (id[512]! >> 4) },
    cqes: { min: 2 ** (id[513]! & 0xf), max: 2 ** (id[513]! >> 4) },
    nn: id.readUInt32LE(516),
    oncs: {
      value: hex(oncs),
      compare: !!(oncs & 1),
      writeUncorrectable: !!(oncs & 2),
      datasetManagement: !!(oncs & 4),
      writeZeroes: !!(oncs & 8),
      saveSelect: !!(oncs & 0x10),
      reservations: !!(oncs & 0x20),
      timestamp: !!(oncs & 0x40),
      verify: !!(oncs & 0x80),
      copy: !!(oncs & 0x100),
    },
    fuses: hex(id.readUInt16LE(522)),
    fna: hex(id[524]!),
    vwc: { present: !!(vwc & 1), flushBroadcast: ['not indicated', 'reserved', 'not supported', 'supported'][(vwc >> 1) & 3]! },
    sgls: { value: hex(sgls), supported: (sgls & 3) !== 0, bitBucket: !!(sgls & (1 << 16)), longerThanData: !!(sgls & (1 << 18)) },
    subnqn: id.toString('utf8', 768, 1024).replace(/\0.*$/s, ''),
  };
}

export function decodeNamespace(nsid: number, id: Buffer, descriptors: Buffer | null): NamespaceInfo {
  const nsze = id.readBigUInt64LE(0), ncap = id.readBigUInt64LE(8), nuse = id.readBigUInt64LE(16);
  const flbas = id[26]!;
  const cur = flbas & 0xf;
  const lbaFormats: LbaFormat[] = [];
  for (let i = 0; i <= id[25]!; i++) {
    const f = id.readUInt32LE(128 + 4 * i);
    lbaFormats.push({ index: i, metadataSize: f & 0xffff, dataSize: 2 ** ((f >> 16) & 0xff), relativePerformance: (f >> 24) & 3, inUse: i === cur });
  }
  const bs = lbaFormats[cur]?.dataSize ?? 512;
  let nguid: string | null = allZero(id.subarray(104, 120)) ? null : id.subarray(104, 120).toString('hex');
  let eui64: string | null = allZero(id.subarray(120, 128)) ? null : id.subarray(120, 128).toString('hex');
  let uuid: string | null = null;
  if (descriptors) {
    for (let at = 0; at + 4 <= descriptors.length && descriptors[at]; ) {
      const type = descriptors[at]!, len = descriptors[at + 1]!;
      const v = descriptors.subarray(at + 4, at + 4 + len);
      if (type === 1) eui64 ??= v.toString('hex');
      if (type === 2) nguid ??= v.toString('hex');
      if (type === 3 && !allZero(v)) uuid = uuidText(v);
      at += 4 + len;
    }
  }
  return {
    nsid,
    nsze: nsze.toString(),
    ncap: ncap.toString(),
    nuse: nuse.toString(),
    blockSize: bs,
    sizeBytes: (nsze * BigInt(bs)).toString(),
    capacityBytes: (ncap * BigInt(bs)).toString(),
    utilizationBytes: (nuse * BigInt(bs)).toString(),
    nsfeat: id[24]!,
    dlfeat: id[33]!,
    flbas,
    lbaFormats,
    nguid,
    eui64,
    uuid,
  };
}

/** Attaches to the controller, reads every Identify structure, detaches. */
export async function identifyController(socketPath: string, trid: string): Promise<IdentifyReport> {
  const drv = await NvmeDriver.attach(socketPath, { memoryBytes: 4 << 20 });
  try {
    const cap = drv.cap;
    const vs = await drv.client.read32(0, 0x08);
    const idc = await drv.identify(1);
    const controller = decodeController(idc);
    const list = await drv.identify(2, 0);
    const namespaces: NamespaceInfo[] = [];
    for (let i = 0; i < 1024; i++) {
      const nsid = list.readUInt32LE(4 * i);
      if (!nsid) break;
      const ns = await drv.identify(0, nsid);
      let desc: Buffer | null = null;
      if (vs >= 0x00010300) {
        const buf = drv.alloc(4096);
        const c = await drv.adminCommand(cmd(0x06, nsid, { prp1: buf, cdw10: 3 }));
        if (c.status === 0) desc = drv.read(buf, 4096);
      }
      namespaces.push(decodeNamespace(nsid, ns, desc));
    }
    return {
      trid,
      registers: {
        cap: `0x${cap.toString(16)}`,
        mqes: Number(cap & 0xffffn) + 1,
        cqr: (cap & (1n << 16n)) !== 0n,
        timeoutMs: Number((cap >> 24n) & 0xffn) * 500,
        dstrd: Number((cap >> 32n) & 0xfn),
        css: Number((cap >> 37n) & 0xffn),
        mpsmin: 4096 * 2 ** Number((cap >> 48n) & 0xfn),
        mpsmax: 4096 * 2 ** Number((cap >> 52n) & 0xfn),
        vs: version(vs),
      },
      controller,
      namespaces,
    };
  } finally {
    drv.close();
  }
}

function human(bytes: string): string {
  let v = Number(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u ? v.toFixed(2) : v} ${units[u]}`;
}

export function formatIdentify(r: IdentifyReport): string {
  const c = r.controller;
  const L: string[] = [];
  const row = (k: string, v: string | number | boolean) => L.push(`${`${k}:`.padEnd(40)}${typeof v === 'boolean' ? (v ? 'Supported' : 'Not Supported') : v}`);
  const head = (t: string) => L.push('', t, '='.repeat(t.length));
  L.push('='.repeat(50), `NVMe Controller at ${r.trid}`, '='.repeat(50));
  head('Controller Capabilities/Features');
  row('Vendor ID', c.vid.slice(2));
  row('Subsystem Vendor ID', c.ssvid.slice(2));
  row('Serial Number', c.sn);
  row('Model Number', c.mn);
  row('Firmware Version', c.fr);
  row('Recommended Arb Burst', c.rab);
  row('IEEE OUI Identifier', c.ieeeOui);
  row('Multi-path I/O (CMIC)', hex(c.cmic));
  row('Max Data Transfer Size', c.mdtsBytes === null ? 'Unlimited' : `${c.mdtsBytes} (MDTS ${c.mdts})`);
  row('Controller ID', hex(c.cntlid, 4));
  row('Version', c.ver);
  row('Subsystem NQN', c.subnqn);
  head('Controller Registers');
  row('CAP', r.registers.cap);
  row('Maximum Queue Entries', r.registers.mqes);
  row('Contiguous Queues Required', r.registers.cqr ? 'Yes' : 'No');
  row('Ready Timeout', `${r.registers.timeoutMs} ms`);
  row('Doorbell Stride', `${4 << r.registers.dstrd} bytes`);
  row('Memory Page Size Min/Max', `${r.registers.mpsmin}/${r.registers.mpsmax} bytes`);
  row('NVMe Specification Version (VS)', r.registers.vs);
  head('Admin Command Set Attributes');
  row('Optional Admin Command Support (OACS)', c.oacs.value);
  row('  Security Send/Receive', c.oacs.securitySendReceive);
  row('  Format NVM', c.oacs.formatNvm);
  row('  Firmware Activate/Download', c.oacs.firmware);
  row('  Namespace Management', c.oacs.namespaceManagement);
  row('  Device Self-Test', c.oacs.deviceSelfTest);
  row('  Directives', c.oacs.directives);
  row('  NVMe-MI', c.oacs.nvmeMi);
  row('  Virtualization Management', c.oacs.virtualization);
  row('  Doorbell Buffer Config', c.oacs.doorbellBufferConfig);
  row('Abort Command Limit', c.acl);
  row('Async Event Request Limit', c.aerl);
  row('Optional Async Events (OAES)', c.oaes);
  row('Firmware Updates (FRMW)', c.frmw);
  row('Log Page Attributes (LPA)', c.lpa);
  row('Error Log Page Entries', c.elpe);
  row('Number of Power States', c.npss);
  row('Warning Temperature Threshold', `${c.wctemp} Kelvin (${c.wctemp - 273} Celsius)`);
  row('Critical Temperature Threshold', `${c.cctemp} Kelvin (${c.cctemp - 273} Celsius)`);
  head('NVM Command Set Attributes');
  row('Submission Queue Entry Size', `Max: ${c.sqes.max}  Min: ${c.sqes.min}`);
  row('Completion Queue Entry Size', `Max: ${c.cqes.max}  Min: ${c.cqes.min}`);
  row('Number of Namespaces', c.nn);
  row('Optional NVM Commands (ONCS)', c.oncs.value);
  row('  Compare', c.oncs.compare);
  row('  Write Uncorrectable', c.oncs.writeUncorrectable);
  row('  Dataset Management', c.oncs.datasetManagement);
  row('  Write Zeroes', c.oncs.writeZeroes);
  row('  Save and Select', c.oncs.saveSelect);
  row('  Reservations', c.oncs.reservations);
  row('  Timestamp', c.oncs.timestamp);
  row('  Verify', c.oncs.verify);
  row('  Copy', c.oncs.copy);
  row('Fused Operations (FUSES)', c.fuses);
  row('Format NVM Attributes (FNA)', c.fna);
  row('Volatile Write Cache', c.vwc.present ? 'Present' : 'Not Present');
  row('  Flush with NSID FFFFFFFFh', c.vwc.flushBroadcast);
  row('SGL Support (SGLS)', `${c.sgls.value}${c.sgls.supported ? '' : ' (PRPs only)'}`);
  row('  SGL Bit Bucket', c.sgls.bitBucket);
  row('  SGL Longer Than Data', c.sgls.longerThanData);
  head('Active Namespaces');
  if (!r.namespaces.length) L.push('No active namespaces');
  for (const n of r.namespaces) {
    L.push('', `Namespace ID: ${n.nsid}`);
    row('Size', `${n.nsze} blocks (${human(n.sizeBytes)})`);
    row('Capacity', `${n.ncap} blocks (${human(n.capacityBytes)})`);
    row('Utilization', `${n.nuse} blocks (${human(n.utilizationBytes)})`);
    row('Block Size', `${n.blockSize} bytes`);
    row('Deallocated Read Behaviour (DLFEAT)', hex(n.dlfeat));
    row('NGUID', n.nguid ?? '-');
    row('EUI64', n.eui64 ?? '-');
    row('UUID', n.uuid ?? '-');
    row('Number of LBA Formats', n.lbaFormats.length);
    row('Current LBA Format', `LBA Format #${String(n.flbas & 0xf).padStart(2, '0')}`);
    for (const f of n.lbaFormats) L.push(`  LBA Format #${String(f.index).padStart(2, '0')}: Data Size: ${f.dataSize}  Metadata Size: ${f.metadataSize}  Relative Performance: ${f.relativePerformance}${f.inUse ? '  (in use)' : ''}`);
  }
  return L.join('\n');
}

export function register(program: Command): void {
  program
    .command('identify')
    .description('print the Identify Controller and Namespace data of a vfio-user NVMe controller')
    .requiredOption('-r, --trid <trid>', "transport ID, e.g. 'trtype:VFIOUSER traddr:/var/run/vfio-user'")
    .option('--json', 'print the decoded data as JSON')
    .action(async (o: { trid: string; json?: boolean }) => {
      const t = parseTrid(o.trid);
      await checkTraddr(t.traddr);
      const r = await identifyController(t.socketPath, formatTrid(t));
      if (t.subnqn && r.controller.subnqn !== t.subnqn) throw new Error(`subnqn ${t.subnqn} given, the controller reports ${r.controller.subnqn}`);
      console.log(o.json ? JSON.stringify(r, null, 2) : formatIdentify(r));
    });
}

// Identify data structures (NVMe Base 2.0 section 5.17): controller, namespace, active and
// allocated namespace lists, namespace identification descriptors, controller lists, I/O
// command set specific data.
import type { ControllerIdentity, NamespaceView } from './model.js';
import { KEEP_ALIVE_GRANULARITY_MS } from './features.js';

function ascii(buf: Buffer, off: number, len: number, s: string): void {
  buf.fill(0x20, off, off + len);
  buf.write(s.slice(0, len), off, 'ascii');
}

/** Namespace Management's part of Identify Controller (absent: not supported, OACS bit 3 clear). */
export interface NamespaceCapacity {
  /** TNVMCAP and UNVMCAP, bytes. */
  total: bigint;
  unallocated: bigint;
}

function u128(b: Buffer, off: number, v: bigint): void {
  b.writeBigUInt64LE(v & 0xffffffffffffffffn, off);
  b.writeBigUInt64LE(v >> 64n, off + 8);
}

export function identifyController(id: ControllerIdentity, nsm?: NamespaceCapacity): Buffer {
  const b = Buffer.alloc(4096);
  b.writeUInt16LE(id.vendorId, 0); // VID
  b.writeUInt16LE(id.subsystemVendorId, 2); // SSVID
  ascii(b, 4, 20, id.serialNumber); // SN
  ascii(b, 24, 40, id.modelNumber); // MN
  ascii(b, 64, 8, id.firmwareRevision); // FR
  b[72] = 6; // RAB
  b.writeUIntLE(id.ieeeOui, 73, 3); // IEEE
  b[76] = 0; // CMIC: one port, one controller
  b[77] = id.mdts; // MDTS in units of CAP.MPSMIN (4 KiB)
  b.writeUInt16LE(id.cntlid, 78); // CNTLID
  b.writeUInt32LE(0x00010400, 80); // VER 1.4.0
  b.writeUInt32LE(1 << 8, 92); // OAES: Namespace Attribute Notices
  b.writeUInt32LE(1 << 0, 96); // CTRATT: HIDS, the 128-bit Host Identifier (EXHID) is accepted
  b[111] = 1; // CNTRLTYPE: I/O controller
  // OACS: Format NVM, Namespace Management and Attachment (with a capacity pool), DBBUF
  b.writeUInt16LE((1 << 1) | (nsm ? 1 << 3 : 0) | (id.shadowDoorbells ? 1 << 8 : 0), 256);
  b[258] = 3; // ACL: 4 concurrent Aborts
  b[259] = 3; // AERL: 4 outstanding AERs
  b[260] = 0x03; // FRMW: slot 1 read-only, 1 slot
  b[261] = 0x06; // LPA: Commands Supported and Effects, extended Get Log Page
  b[262] = 63; // ELPE: 64 error log entries
  b[263] = 0; // NPSS: one power state
  b.writeUInt16LE(343, 266); // WCTEMP (K)
  b.writeUInt16LE(373, 268); // CCTEMP (K)
  if (nsm) {
    u128(b, 280, nsm.total); // TNVMCAP
    u128(b, 296, nsm.unallocated); // UNVMCAP
  }
  b.writeUInt16LE(KEEP_ALIVE_GRANULARITY_MS / 100, 320); // KAS: Keep Alive supported, 100 ms units
  b[512] = 0x66; // SQES
  b[513] = 0x44; // CQES
  b.writeUInt32LE(id.maxNamespaces, 516); // NN
  // ONCS: Compare, DSM, Write Zeroes, Save field / Select field (SEL is honoured; nothing is
  // saveable, which SEL 011b reports), Timestamp feature.
  b.writeUInt16LE((1 << 0) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 6), 520);
  b.writeUInt16LE(0, 522); // FUSES
  b[524] = 0; // FNA
  b[525] = 0x07; // VWC: present; Flush with NSID FFFFFFFFh supported
  b.writeUInt32LE((1 << 0) | (1 << 16) | (1 << 18), 536); // SGLS: SGLs, bit bucket, longer SGL than data
  if (nsm) b.writeUInt32LE(id.maxNamespaces, 540); // MNAN: as many as NN
  b.write(id.subnqn.slice(0, 255), 768, 'utf8'); // SUBNQN
  // Power state 0: 25.00 W, operational.
  b.writeUInt16LE(2500, 2048);
  return b;
}

/** NLBAF and the LBA Format list (no metadata; LBADS log2 of the block size, RP 0: best). */
function lbaFormats(b: Buffer, blockSizes: number[]): void {
  b[25] = blockSizes.length - 1; // NLBAF (0's based)
  blockSizes.forEach((bs, i) => b.writeUInt32LE(Math.log2(bs) << 16, 128 + 4 * i)); // LBAFn: MS 0, LBADS
}

export function identifyNamespace(ns: NamespaceView): Buffer {
  const b = Buffer.alloc(4096);
  b.writeBigUInt64LE(ns.blocks, 0); // NSZE
  b.writeBigUInt64LE(ns.blocks, 8); // NCAP
  b.writeBigUInt64LE(ns.blocks, 16); // NUSE
  b[24] = 0; // NSFEAT
  lbaFormats(b, ns.lbaFormats ?? [ns.blockSize]);
  b[26] = ns.formatIndex ?? 0; // FLBAS: the format in use (at most 16 formats: bits 3:0), no metadata
  b[30] = ns.shared ? 1 : 0; // NMIC bit 0: may be attached to two or more controllers
  b[33] = 0x09; // DLFEAT: deallocated blocks read zeroes; Write Zeroes may deallocate
  if (ns.nguid) ns.nguid.copy(b, 104); // NGUID
  if (ns.eui64) ns.eui64.copy(b, 120); // EUI64
  return b;
}

/**
 * CNS 00h with NSID FFFFFFFFh when Namespace Management is supported: the capabilities common
 * to every namespace, above all the LBA formats a created namespace may use (nvme-cli's
 * `create-ns --block-size` picks FLBAS from this list).
 */
export function commonNamespaceCapabilities(blockSizes: number[]): Buffer {
  const b = Buffer.alloc(4096);
  lbaFormats(b, blockSizes);
  b[33] = 0x09; // DLFEAT, as every namespace reports it
  return b;
}

/**
 * A Controller List (Figure "Controller List Format"): Number of Identifiers (bytes 1:0),
 * then up to 2047 controller identifiers in increasing order, those >= `from` (CNS 12h, 13h).
 */
export function controllerList(cntlids: number[], from: number): Buffer {
  const b = Buffer.alloc(4096);
  const ids = [...cntlids].filter((id) => id >= from).sort((x, y) => x - y).slice(0, 2047);
  b.writeUInt16LE(ids.length, 0);
  ids.forEach((id, i) => b.writeUInt16LE(id, 2 + 2 * i));
  return b;
}

/** A Namespace List: NSIDs above `after`, ascending, at most 1024 (CNS 02h active, 10h allocated). */
export function namespaceList(nsids: number[], after: number): Buffer {
  const b = Buffer.alloc(4096);
  let i = 0;
  for (const id of [...nsids].sort((a, c) => a - c)) {
    if (id <= after) continue;
    if (i >= 1024) break;
    b.writeUInt32LE(id, 4 * i++);
  }
  return b;
}

export function namespaceDescriptors(ns: NamespaceView): Buffer {
  const b = Buffer.alloc(4096);
  let at = 0;
  const put = (type: number, data: Buffer) => {
    b[at] = type;
    b[at + 1] = data.length;
    data.copy(b, at + 4);
    at += 4 + data.length;
  };
  if (ns.eui64) put(1, ns.eui64);
  if (ns.nguid) put(2, ns.nguid);
  put(3, ns.uuid);
  put(4, Buffer.from([0])); // CSI: NVM command set
  return b;
}

/** CNS 06h with CSI 0: NVM command set specific controller data (all limits: none). */
export function nvmControllerData(): Buffer {
  return Buffer.alloc(4096);
}

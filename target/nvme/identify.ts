// Identify data structures (NVMe Base 2.0 section 5.17): controller, namespace, active and
// allocated namespace lists, namespace identification descriptors, controller lists, I/O
// command set specific data.
import type { ControllerIdentity, NamespaceView } from './model.js';
import { KEEP_ALIVE_GRANULARITY_MS } from './features.js';
import { native } from '../../native/index.js';
import { reservationCapabilities } from './reservations.js';

/**
 * ONCS (Identify Controller bytes 521:520, NVMe Base 2.0 Figure 275): Compare (0), Write
 * Uncorrectable (1), Dataset Management (2), Write Zeroes (3), Save/Select in Features (4),
 * Reservations (5), Timestamp (6), Verify (7), Copy (8).
 */
export const ONCS = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8);

/** The limits the native engine enforces (native/nvme-engine.h), as Identify reports them. */
const LIMITS = native.constants.limits;

/** Copy's MSSRL and MCL for a block size: the engine's 1 MiB in blocks (MSSRL is 16 bits). */
export function copyLimitBlocks(blockSize: number): number {
  return Math.min(0xffff, Math.floor(LIMITS.COPY_MAX_BYTES / blockSize));
}

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
  // CMIC bit 1: the NVM subsystem may have two or more controllers (one per listener: a second
  // nvmf_subsystem_add_listener adds one at any time), as SPDK always reports; one port (PCIe
  // function), no ANA.
  b[76] = 1 << 1;
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
  // ONCS: Compare, Write Uncorrectable, DSM, Write Zeroes, Save field / Select field (SEL is
  // honoured; nothing is saveable, which SEL 011b reports), Timestamp feature, Verify, Copy.
  b.writeUInt16LE(ONCS, 520);
  b.writeUInt16LE(1 << 0, 522); // FUSES: Compare and Write
  b[524] = 0; // FNA
  b[525] = 0x07; // VWC: present; Flush with NSID FFFFFFFFh supported
  // ACWU (0's based): the engine runs a fused Compare and Write on one thread with nothing in
  // between, so every pair it accepts (NLB up to 65536, within MDTS) is written atomically.
  b.writeUInt16LE(0xffff, 532);
  b.writeUInt16LE(1 << 0, 534); // OCFS: Copy with Source Range Entries Descriptor Format 0h
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

export function identifyNamespace(ns: NamespaceView, o: { ptpl?: boolean } = {}): Buffer {
  const b = Buffer.alloc(4096);
  b.writeBigUInt64LE(ns.blocks, 0); // NSZE
  b.writeBigUInt64LE(ns.blocks, 8); // NCAP
  b.writeBigUInt64LE(ns.blocks, 16); // NUSE
  b[24] = 0; // NSFEAT
  lbaFormats(b, ns.lbaFormats ?? [ns.blockSize]);
  b[26] = ns.formatIndex ?? 0; // FLBAS: the format in use (at most 16 formats: bits 3:0)
  const md = ns.bdev.metadata;
  if (md) {
    // A namespace with metadata has the one format its bdev was created with (NVM Command Set
    // 1.0 Figure 97, 5.3): LBAF MS (bits 15:0), FLBAS bit 4 metadata at the end of each block's
    // data (extended) or not (separate, MPTR); MC says which of the two it supports.
    b.writeUInt16LE(md.size, 128 + 4 * (ns.formatIndex ?? 0));
    if (md.interleave) b[26] |= 1 << 4;
    b[27] = md.interleave ? 1 << 0 : 1 << 1; // MC
    if (md.piType) {
      // DPC: the PI type in use (bit type-1) and where it sits (bit 3 first, bit 4 last 8 bytes);
      // DPS: the type (bits 2:0), bit 3 PI in the first 8 bytes of the metadata.
      b[28] = (1 << (md.piType - 1)) | (md.piFirst ? 1 << 3 : 1 << 4);
      b[29] = md.piType | (md.piFirst ? 1 << 3 : 0);
    }
  }
  b[30] = ns.shared ? 1 : 0; // NMIC bit 0: may be attached to two or more controllers
  b[31] = reservationCapabilities(o.ptpl === true); // RESCAP: every type, IEKEY_X; PTPL with a ptpl_file
  b[33] = 0x09; // DLFEAT: deallocated blocks read zeroes; Write Zeroes may deallocate
  // Copy (NVM Command Set 1.0 Figure 97): MSSRL, MCL (blocks), MSRC (0's based ranges).
  const copyBlocks = copyLimitBlocks(ns.blockSize);
  b.writeUInt16LE(copyBlocks, 74);
  b.writeUInt32LE(copyBlocks, 76);
  b[80] = LIMITS.COPY_MAX_RANGES - 1;
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
  put(4, Buffer.from([ns.bdev.zoned ? CSI_ZNS : CSI_NVM])); // CSI: NVM or Zoned Namespace command set
  return b;
}

/** Command Set Identifiers (NVMe Base 2.0 Figure "Command Set Identifiers"). */
export const CSI_NVM = 0x00;
export const CSI_ZNS = 0x02;

/**
 * CNS 05h with CSI 02h: the Zoned Namespace Command Set specific Identify Namespace data
 * structure (ZNS 1.1 Figure "Identify Namespace Data Structure, I/O Command Set Specific"):
 * ZOC 0 (fixed zone capacity, no zone active excursions: what Linux accepts), OZCS RAZB (reads
 * may cross zone boundaries), MAR and MOR (0's based, FFFFFFFFh: no limit), and in each LBA
 * Format Extension (bytes 2816 + 16 * format) the Zone Size ZSZE in blocks and ZDES 0.
 */
export function zonedNamespaceData(ns: NamespaceView): Buffer {
  const b = Buffer.alloc(4096);
  const z = ns.bdev.zoned!;
  b.writeUInt16LE(0, 0); // ZOC
  b.writeUInt16LE(1 << 0, 2); // OZCS: Read Across Zone Boundaries
  b.writeUInt32LE(z.maxActiveZones ? z.maxActiveZones - 1 : 0xffffffff, 4); // MAR
  b.writeUInt32LE(z.maxOpenZones ? z.maxOpenZones - 1 : 0xffffffff, 8); // MOR
  const formats = (ns.lbaFormats ?? [ns.blockSize]).length;
  for (let i = 0; i < formats; i++) b.writeBigUInt64LE(BigInt(z.zoneSize), 2816 + 16 * i); // ZSZE
  return b;
}

/**
 * CNS 06h with CSI 02h (ZNS 1.1 Figure "Identify I/O Command Set Specific Controller Data
 * Structure"): ZASL 0, Zone Append's size limit is MDTS.
 */
export function zonedControllerData(): Buffer {
  return Buffer.alloc(4096);
}

/**
 * CNS 1Ch: the I/O Command Set data structure (NVMe Base 2.0 Figure "Identify I/O Command Set
 * data structure"), 512 I/O Command Set Combinations of 8 bytes: index 0, the one in use (the
 * I/O Command Set Profile feature's default), is NVM (bit 0) and Zoned Namespace (bit 2).
 */
export function ioCommandSetData(): Buffer {
  const b = Buffer.alloc(4096);
  b.writeBigUInt64LE((1n << 0n) | (1n << 2n), 0);
  return b;
}

/**
 * CNS 06h with CSI 0: NVM command set specific controller data (NVM Command Set 1.0 Figure 97).
 * VSL (byte 0): Verify's size limit, 2^VSL pages of 4 KiB (CAP.MPSMIN); Write Zeroes, Write
 * Uncorrectable and Dataset Management have none (WZSL, WUSL, DMRL, DMRSL, DMSL 0).
 */
export function nvmControllerData(): Buffer {
  const b = Buffer.alloc(4096);
  b[0] = Math.log2(LIMITS.VERIFY_MAX_BYTES / 4096);
  return b;
}

// Namespace Management (0Dh, NVMe Base 2.0 5.23) and Namespace Attachment (15h, 5.22): the
// host creates a namespace from the subsystem's capacity, attaches it to controllers of the
// subsystem, detaches it and deletes it. Every rule is checked here and every status chosen
// here, before anything changes; the NVM subsystem side (NamespaceInventory) only carries the
// change out and tells each controller whose namespaces changed (Changed Namespace List,
// Namespace Attribute Changed event).
//
// Offered only when the subsystem has a capacity pool (vnvme_subsystem_set_ns_pool); without
// one OACS bit 3 is clear and both commands are Invalid Command Opcode, as any optional admin
// command the controller does not support (NVMe Base 2.0 5, Figure 139: optional).
import { NvmeError, Status } from './constants.js';
import type { NvmeController } from './controller.js';
import type { NamespaceInventory } from './model.js';
import { commandSegments, gather } from './transfer.js';

/** The subsystem's namespaces when Namespace Management is offered, else null. */
export function managedNamespaces(c: NvmeController): NamespaceInventory | null {
  const inv = c.opts.inventory;
  return inv && inv.supported() ? inv : null;
}

const dw = (sqe: Buffer, n: number) => sqe.readUInt32LE(4 * n);

const NSID_ALL = 0xffffffff;

/** Namespace Management SEL (CDW10 bits 3:0, Figure "Namespace Management - Select"). */
export const NsManagementSelect = { CREATE: 0x0, DELETE: 0x1 } as const;
/** Namespace Attachment SEL (CDW10 bits 3:0, Figure "Namespace Attachment - Select"). */
export const NsAttachmentSelect = { ATTACH: 0x0, DETACH: 0x1 } as const;

/** The most identifiers a Controller List holds (Figure "Controller List Format"). */
export const CONTROLLER_LIST_MAX = 2047;

/**
 * The host software specified fields of Namespace Management create (Figure "Namespace
 * Management - Host Software Specified Fields"): a 4096-byte Identify Namespace layout of which
 * the host fills these. What we do not support is reserved for us and ignored (ANA groups, NVM
 * sets, endurance groups, LBSTM, placement handles).
 */
export interface NamespaceManagementData {
  nsze: bigint; // bytes 7:0
  ncap: bigint; // bytes 15:8
  flbas: number; // byte 26
  dps: number; // byte 29
  nmic: number; // byte 30
  anagrpid: number; // bytes 95:92
  nvmsetid: number; // bytes 101:100
  endgid: number; // bytes 103:102
}

export const NAMESPACE_MANAGEMENT_DATA_BYTES = 4096;

export function decodeNamespaceManagementData(b: Buffer): NamespaceManagementData {
  return {
    nsze: b.readBigUInt64LE(0),
    ncap: b.readBigUInt64LE(8),
    flbas: b[26]!,
    dps: b[29]!,
    nmic: b[30]!,
    anagrpid: b.readUInt32LE(92),
    nvmsetid: b.readUInt16LE(100),
    endgid: b.readUInt16LE(102),
  };
}

export function encodeNamespaceManagementData(d: Partial<NamespaceManagementData> & { nsze: bigint }): Buffer {
  const b = Buffer.alloc(NAMESPACE_MANAGEMENT_DATA_BYTES);
  b.writeBigUInt64LE(d.nsze, 0);
  b.writeBigUInt64LE(d.ncap ?? d.nsze, 8);
  b[26] = d.flbas ?? 0;
  b[29] = d.dps ?? 0;
  b[30] = d.nmic ?? 0;
  b.writeUInt32LE(d.anagrpid ?? 0, 92);
  b.writeUInt16LE(d.nvmsetid ?? 0, 100);
  b.writeUInt16LE(d.endgid ?? 0, 102);
  return b;
}

/** A Controller List as the host sends it: Number of Identifiers (bytes 1:0), then the identifiers. */
export function decodeControllerList(b: Buffer): { count: number; ids: number[] } {
  const count = b.readUInt16LE(0);
  const ids: number[] = [];
  for (let i = 0; i < Math.min(count, CONTROLLER_LIST_MAX); i++) ids.push(b.readUInt16LE(2 + 2 * i));
  return { count, ids };
}

async function fromHost(c: NvmeController, sqe: Buffer, len: number): Promise<Buffer> {
  const segs = await commandSegments(c.ctx!.dma, sqe, len, false, false);
  return gather(c.ctx!.dma, segs);
}

/** Rejects NSIDs that name no namespace a controller could have: 0 and above NN (3.2.1.2). */
function checkValidNsid(c: NvmeController, nsid: number): void {
  if (nsid === 0 || nsid > c.opts.identity.maxNamespaces) throw new NvmeError(Status.INVALID_NAMESPACE, `NSID ${nsid} is not a valid NSID (NN ${c.opts.identity.maxNamespaces})`);
}

// ------------------------------------------------------------------ Namespace Management (0Dh)

export async function namespaceManagement(c: NvmeController, sqe: Buffer): Promise<number | void> {
  const inv = managedNamespaces(c);
  if (!inv) throw new NvmeError(Status.INVALID_OPCODE, 'Namespace Management is not supported (no namespace pool)');
  const sel = dw(sqe, 10) & 0xf;
  if (sel === NsManagementSelect.CREATE) return createNamespace(c, inv, sqe);
  if (sel === NsManagementSelect.DELETE) return deleteNamespace(c, inv, sqe);
  throw new NvmeError(Status.INVALID_FIELD, `Namespace Management SEL ${sel} is reserved`);
}

/**
 * Create: allocates a namespace of NSZE blocks in the format FLBAS names and returns its NSID
 * in completion dword 0; it is attached to no controller (the host attaches it next). The NSID
 * field is reserved for create and ignored.
 */
async function createNamespace(c: NvmeController, inv: NamespaceInventory, sqe: Buffer): Promise<number> {
  // CSI (CDW11 bits 31:24): only the NVM Command Set (0h) is implemented.
  const csi = dw(sqe, 11) >>> 24;
  if (csi !== 0) throw new NvmeError(Status.IO_COMMAND_SET_NOT_SUPPORTED, `CSI ${csi}: only the NVM Command Set`);
  const d = decodeNamespaceManagementData(await fromHost(c, sqe, NAMESPACE_MANAGEMENT_DATA_BYTES));
  const formats = inv.lbaFormats();
  // FLBAS: format index bits 3:0, and bits 6:5 as its upper bits when more than 16 formats exist.
  const format = (d.flbas & 0xf) | (((d.flbas >> 5) & 3) << 4);
  if (format >= formats.length) throw new NvmeError(Status.INVALID_FORMAT, `FLBAS format ${format}: only ${formats.length} LBA formats`);
  // No LBA format has metadata, so no end-to-end protection can be enabled (as Format NVM).
  if (d.dps & 7) throw new NvmeError(Status.INVALID_FORMAT, `DPS protection type ${d.dps & 7} on a format without metadata`);
  if (d.nsze === 0n) throw new NvmeError(Status.INVALID_FIELD, 'NSZE 0');
  if (d.ncap > d.nsze) throw new NvmeError(Status.INVALID_FIELD, `NCAP ${d.ncap} exceeds NSZE ${d.nsze}`);
  // NSFEAT bit 0 is clear: every namespace is fully provisioned, NCAP must equal NSZE.
  if (d.ncap < d.nsze) throw new NvmeError(Status.THIN_PROVISIONING_NOT_SUPPORTED, `NCAP ${d.ncap} below NSZE ${d.nsze}`);
  const allocated = new Set(inv.allocated().map((a) => a.view.nsid));
  let nsid = 0;
  for (let n = 1; n <= c.opts.identity.maxNamespaces; n++)
    if (!allocated.has(n)) {
      nsid = n;
      break;
    }
  if (!nsid) throw new NvmeError(Status.NAMESPACE_IDENTIFIER_UNAVAILABLE, `all ${c.opts.identity.maxNamespaces} NSIDs are allocated`);
  const bytes = d.nsze * BigInt(formats[format]!);
  const free = inv.capacity().unallocated;
  if (bytes > free) throw new NvmeError(Status.NAMESPACE_INSUFFICIENT_CAPACITY, `${bytes} bytes asked, ${free} unallocated`);
  inv.create({ nsid, blocks: d.nsze, formatIndex: format, shared: (d.nmic & 1) === 1 });
  return nsid;
}

/**
 * Delete: the namespace is detached from every controller it was attached to and its capacity
 * freed; NSID FFFFFFFFh deletes every namespace of the subsystem. An NSID that is valid but not
 * allocated is Invalid Field in Command (an inactive NSID, 3.2.1.2).
 */
async function deleteNamespace(c: NvmeController, inv: NamespaceInventory, sqe: Buffer): Promise<void> {
  const nsid = sqe.readUInt32LE(4);
  if (nsid === NSID_ALL) {
    // One at a time; another controller may delete one of them meanwhile.
    for (const a of inv.allocated()) if (inv.allocated().some((x) => x.view.nsid === a.view.nsid)) await inv.delete(a.view.nsid);
    return;
  }
  checkValidNsid(c, nsid);
  if (!inv.allocated().some((a) => a.view.nsid === nsid)) throw new NvmeError(Status.INVALID_FIELD, `NSID ${nsid} is not allocated`);
  await inv.delete(nsid);
}

// ------------------------------------------------------------------ Namespace Attachment (15h)

/**
 * Attaches the namespace to, or detaches it from, every controller in the Controller List.
 * The whole list is checked first: a command that fails changes nothing (QEMU stops at the
 * first bad entry, having changed the ones before it). A controller whose attached namespaces
 * changed, this one included, gets the NSID in its Changed Namespace List and a Namespace
 * Attribute Changed event if it enabled them (as QEMU's hw/nvme does).
 */
export async function namespaceAttachment(c: NvmeController, sqe: Buffer): Promise<void> {
  const inv = managedNamespaces(c);
  if (!inv) throw new NvmeError(Status.INVALID_OPCODE, 'Namespace Attachment is not supported (no namespace pool)');
  const sel = dw(sqe, 10) & 0xf;
  if (sel !== NsAttachmentSelect.ATTACH && sel !== NsAttachmentSelect.DETACH) throw new NvmeError(Status.INVALID_FIELD, `Namespace Attachment SEL ${sel} is reserved`);
  const nsid = sqe.readUInt32LE(4);
  // One namespace per command: the broadcast NSID is not one of its values.
  if (nsid === NSID_ALL) throw new NvmeError(Status.INVALID_NAMESPACE, 'Namespace Attachment of NSID FFFFFFFFh');
  checkValidNsid(c, nsid);
  const ns = inv.allocated().find((a) => a.view.nsid === nsid);
  if (!ns) throw new NvmeError(Status.INVALID_FIELD, `NSID ${nsid} is not allocated`);
  const list = decodeControllerList(await fromHost(c, sqe, 4096));
  const known = new Set(inv.controllers());
  if (list.count === 0) throw new NvmeError(Status.CONTROLLER_LIST_INVALID, 'the controller list is empty');
  if (list.count > CONTROLLER_LIST_MAX) throw new NvmeError(Status.CONTROLLER_LIST_INVALID, `${list.count} identifiers (at most ${CONTROLLER_LIST_MAX})`);
  if (new Set(list.ids).size !== list.ids.length) throw new NvmeError(Status.CONTROLLER_LIST_INVALID, `controller list ${list.ids.join(',')} names a controller twice`);
  for (const id of list.ids) if (!known.has(id)) throw new NvmeError(Status.CONTROLLER_LIST_INVALID, `controller ${id} is not in the NVM subsystem`);
  const attached = new Set(ns.controllers);
  if (sel === NsAttachmentSelect.ATTACH) {
    for (const id of list.ids) if (attached.has(id)) throw new NvmeError(Status.NAMESPACE_ALREADY_ATTACHED, `namespace ${nsid} is already attached to controller ${id}`);
    // A private namespace (NMIC bit 0 clear) is attached to one controller at most.
    if (!ns.shared && attached.size + list.ids.length > 1) throw new NvmeError(Status.NAMESPACE_IS_PRIVATE, `namespace ${nsid} is private`);
    inv.attach(nsid, list.ids);
  } else {
    for (const id of list.ids) if (!attached.has(id)) throw new NvmeError(Status.NAMESPACE_NOT_ATTACHED, `namespace ${nsid} is not attached to controller ${id}`);
    inv.detach(nsid, list.ids);
  }
}

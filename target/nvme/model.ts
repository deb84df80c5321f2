// Shapes the controller works with: its identity and the namespaces it exposes.
import type { Bdev } from '../bdev/bdev.js';

export interface ControllerIdentity {
  vendorId: number;
  subsystemVendorId: number;
  serialNumber: string;
  modelNumber: string;
  firmwareRevision: string;
  ieeeOui: number;
  cntlid: number;
  subnqn: string;
  /** MDTS as a power of two of 4 KiB pages. */
  mdts: number;
  maxNamespaces: number;
  shadowDoorbells: boolean;
}

export interface NamespaceView {
  nsid: number;
  bdev: Bdev;
  blocks: bigint;
  blockSize: number;
  uuid: Buffer;
  nguid?: Buffer;
  eui64?: Buffer;
  /**
   * The LBA formats Identify Namespace lists (block sizes; FLBAS is `formatIndex`). Absent:
   * one format, the bdev's block size. Namespaces created by Namespace Management list the
   * formats they could have been created with.
   */
  lbaFormats?: number[];
  formatIndex?: number;
  /** NMIC bit 0: may be attached to more than one controller (given at Namespace Management create). */
  shared?: boolean;
}

/** A namespace of the NVM subsystem, attached to this controller or not (Identify CNS 11h, 12h). */
export interface AllocatedNamespace {
  view: NamespaceView;
  /** IDs of the controllers it is attached to, ascending. */
  controllers: number[];
  /** Whether it may be attached to more than one controller (a private one may not). */
  shared: boolean;
}

/** What Namespace Management asks for (NVMe Base 2.0 5.23, the host software specified fields). */
export interface NamespaceCreation {
  nsid: number;
  blocks: bigint;
  /** Index into NamespaceInventory.lbaFormats(). */
  formatIndex: number;
  shared: boolean;
}

/**
 * The NVM subsystem's namespaces as Namespace Management and Attachment see them (the
 * subsystem side is target/nvmf/; target/nvme/endpoint.ts binds the two). The admin commands
 * check every rule and choose every status; these calls only change the inventory, and every
 * controller whose attached namespaces changed is told (setNamespaces: Changed Namespace List,
 * Namespace Attribute Changed event).
 */
export interface NamespaceInventory {
  /** Whether the subsystem has capacity to manage (OACS bit 3 and commands 0Dh/15h depend on it). */
  supported(): boolean;
  /** TNVMCAP and UNVMCAP, in bytes. */
  capacity(): { total: bigint; unallocated: bigint };
  /** Block sizes a created namespace may be formatted with (FLBAS indexes this list). */
  lbaFormats(): number[];
  /** Every allocated namespace, by NSID. */
  allocated(): AllocatedNamespace[];
  /** The controller IDs of the subsystem, ascending. */
  controllers(): number[];
  create(ns: NamespaceCreation): void;
  /** Detaches it from every controller and frees its capacity. */
  delete(nsid: number): Promise<void>;
  attach(nsid: number, cntlids: number[]): void;
  detach(nsid: number, cntlids: number[]): void;
}

export function uuidBytes(uuid: string): Buffer {
  const hex = uuid.replace(/-/g, '');
  return /^[0-9a-fA-F]{32}$/.test(hex) ? Buffer.from(hex, 'hex') : Buffer.alloc(16);
}

export function hexBytes(hex: string | undefined, len: number): Buffer | undefined {
  if (!hex) return undefined;
  const h = hex.replace(/-/g, '');
  return h.length === 2 * len && /^[0-9a-fA-F]+$/.test(h) ? Buffer.from(h, 'hex') : undefined;
}

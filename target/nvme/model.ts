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

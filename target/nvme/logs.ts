// Log pages (NVMe Base 2.0 section 5.16): Error Information, SMART / Health Information,
// Firmware Slot Information, Changed Namespace List, Commands Supported and Effects.
import { AdminOpcode, IoOpcode, ZnsOpcode } from './constants.js';

export interface ErrorLogEntry {
  errorCount: bigint;
  sqid: number;
  cid: number;
  status: number; // status field incl. phase bit 0 = 0
  paramLocation: number;
  lba: bigint;
  nsid: number;
}

export class ErrorLog {
  private entries: ErrorLogEntry[] = [];
  count = 0n;
  constructor(readonly capacity = 64) {}

  record(e: Omit<ErrorLogEntry, 'errorCount'>): void {
    this.count++;
    this.entries.unshift({ ...e, errorCount: this.count });
    if (this.entries.length > this.capacity) this.entries.pop();
  }

  /** Entries newest first (live migration). */
  snapshot(): ErrorLogEntry[] {
    return this.entries.map((e) => ({ ...e }));
  }

  restore(count: bigint, entries: ErrorLogEntry[]): void {
    this.count = count;
    this.entries = entries.slice(0, this.capacity).map((e) => ({ ...e }));
  }

  page(): Buffer {
    const b = Buffer.alloc(64 * this.capacity);
    this.entries.forEach((e, i) => {
      const o = 64 * i;
      b.writeBigUInt64LE(e.errorCount, o);
      b.writeUInt16LE(e.sqid, o + 8);
      b.writeUInt16LE(e.cid, o + 10);
      b.writeUInt16LE((e.status << 1) & 0xffff, o + 12);
      b.writeUInt16LE(e.paramLocation, o + 14);
      b.writeBigUInt64LE(e.lba, o + 16);
      b.writeUInt32LE(e.nsid, o + 24);
    });
    return b;
  }
}

export interface SmartCounters {
  dataUnitsRead: bigint; // thousands of 512-byte units, rounded up
  dataUnitsWritten: bigint;
  hostReadCommands: bigint;
  hostWriteCommands: bigint;
  controllerBusyMinutes: bigint;
  powerCycles: bigint;
  powerOnHours: bigint;
  unsafeShutdowns: bigint;
  mediaErrors: bigint;
  errorLogEntries: bigint;
  temperatureK: number;
  criticalWarning: number;
}

function u128(b: Buffer, off: number, v: bigint): void {
  b.writeBigUInt64LE(v & 0xffffffffffffffffn, off);
  b.writeBigUInt64LE(v >> 64n, off + 8);
}

export function smartLog(c: SmartCounters): Buffer {
  const b = Buffer.alloc(512);
  b[0] = c.criticalWarning;
  b.writeUInt16LE(c.temperatureK, 1);
  b[3] = 100; // available spare
  b[4] = 10; // available spare threshold
  b[5] = 0; // percentage used
  u128(b, 32, c.dataUnitsRead);
  u128(b, 48, c.dataUnitsWritten);
  u128(b, 64, c.hostReadCommands);
  u128(b, 80, c.hostWriteCommands);
  u128(b, 96, c.controllerBusyMinutes);
  u128(b, 112, c.powerCycles);
  u128(b, 128, c.powerOnHours);
  u128(b, 144, c.unsafeShutdowns);
  u128(b, 160, c.mediaErrors);
  u128(b, 176, c.errorLogEntries);
  b.writeUInt16LE(c.temperatureK, 200); // temperature sensor 1
  return b;
}

export function dataUnits(bytes: bigint): bigint {
  const units = (bytes + 511n) / 512n;
  return (units + 999n) / 1000n;
}

export function firmwareSlotLog(fr: string): Buffer {
  const b = Buffer.alloc(512);
  b[0] = 0x01; // AFI: slot 1 active
  b.fill(0x20, 8, 16);
  b.write(fr.slice(0, 8), 8, 'ascii');
  return b;
}

export function changedNamespaceLog(nsids: number[]): Buffer {
  const b = Buffer.alloc(4096);
  if (nsids.length > 1024) b.writeUInt32LE(0xffffffff, 0);
  else nsids.forEach((n, i) => b.writeUInt32LE(n, 4 * i));
  return b;
}

const CSUPP = 1 << 0;
const LBCC = 1 << 1;
const NCC = 1 << 2;
const NIC = 1 << 3;

/**
 * Lists what the controller accepts: Doorbell Buffer Config only when it is offered (OACS bit
 * 8), Namespace Management and Attachment only with a capacity pool (OACS bit 3). Both of those
 * change which namespaces the controller has (NIC, Namespace Inventory Change), which is what
 * makes Linux rescan after `nvme create-ns`/`attach-ns` passthrough; neither changes a
 * namespace's capabilities or its data (no NCC, no LBCC), unlike Format NVM.
 */
export function commandEffectsLog(opts: { shadowDoorbells: boolean; namespaceManagement?: boolean; zoned?: boolean }): Buffer {
  const b = Buffer.alloc(4096);
  for (const op of [
    AdminOpcode.DELETE_SQ,
    AdminOpcode.CREATE_SQ,
    AdminOpcode.GET_LOG_PAGE,
    AdminOpcode.DELETE_CQ,
    AdminOpcode.CREATE_CQ,
    AdminOpcode.IDENTIFY,
    AdminOpcode.ABORT,
    AdminOpcode.SET_FEATURES,
    AdminOpcode.GET_FEATURES,
    AdminOpcode.ASYNC_EVENT_REQUEST,
    AdminOpcode.KEEP_ALIVE,
    ...(opts.shadowDoorbells ? [AdminOpcode.DOORBELL_BUFFER_CONFIG] : []),
  ])
    b.writeUInt32LE(CSUPP, 4 * op);
  b.writeUInt32LE(CSUPP | LBCC | NCC | NIC, 4 * AdminOpcode.FORMAT_NVM);
  if (opts.namespaceManagement) for (const op of [AdminOpcode.NS_MANAGEMENT, AdminOpcode.NS_ATTACHMENT]) b.writeUInt32LE(CSUPP | NIC, 4 * op);
  // I/O: Verify reads; Write Uncorrectable and Copy change logical block content (LBCC).
  for (const op of [IoOpcode.FLUSH, IoOpcode.READ, IoOpcode.COMPARE, IoOpcode.VERIFY]) b.writeUInt32LE(CSUPP, 1024 + 4 * op);
  // Reservations (ONCS bit 5): no effect on the namespace's content or capabilities.
  for (const op of [IoOpcode.RESERVATION_REGISTER, IoOpcode.RESERVATION_REPORT, IoOpcode.RESERVATION_ACQUIRE, IoOpcode.RESERVATION_RELEASE]) b.writeUInt32LE(CSUPP, 1024 + 4 * op);
  for (const op of [IoOpcode.WRITE, IoOpcode.WRITE_UNCORRECTABLE, IoOpcode.WRITE_ZEROES, IoOpcode.DSM, IoOpcode.COPY]) b.writeUInt32LE(CSUPP | LBCC, 1024 + 4 * op);
  if (opts.zoned) {
    // The Zoned Namespace command set (CSI 02h, ZNS 1.1 5.2): zoned namespaces take no Copy or
    // Write Uncorrectable (native/nvme-zones.cc); Zone Management Send and Zone Append change
    // block content, Zone Management Receive reads.
    for (const op of [IoOpcode.WRITE_UNCORRECTABLE, IoOpcode.COPY]) b.writeUInt32LE(0, 1024 + 4 * op);
    for (const op of [ZnsOpcode.ZONE_MANAGEMENT_SEND, ZnsOpcode.ZONE_APPEND]) b.writeUInt32LE(CSUPP | LBCC, 1024 + 4 * op);
    b.writeUInt32LE(CSUPP, 1024 + 4 * ZnsOpcode.ZONE_MANAGEMENT_RECEIVE);
  }
  return b;
}

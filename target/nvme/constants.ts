// NVMe names and numbers (NVM Express Base Specification 2.0; NVM Command Set 1.0), so code
// reads like the spec: opcodes, register offsets, status codes with their spec names.
import { native } from '../../native/index.js';

export const Reg = {
  CAP: 0x00,
  VS: 0x08,
  INTMS: 0x0c,
  INTMC: 0x10,
  CC: 0x14,
  CSTS: 0x1c,
  NSSR: 0x20,
  AQA: 0x24,
  ASQ: 0x28,
  ACQ: 0x30,
  CMBLOC: 0x38,
  CMBSZ: 0x3c,
  BPINFO: 0x40,
  CMBMSC: 0x50,
  PMRCAP: 0xe00,
  DOORBELLS: 0x1000,
} as const;

export const CC_EN = 1 << 0;
export const CSTS_RDY = 1 << 0;
export const CSTS_CFS = 1 << 1;
export const CSTS_NSSRO = 1 << 4;
export const CSTS_SHST_MASK = 3 << 2;
export const CSTS_SHST_COMPLETE = 2 << 2;

export const AdminOpcode = {
  DELETE_SQ: 0x00,
  CREATE_SQ: 0x01,
  GET_LOG_PAGE: 0x02,
  DELETE_CQ: 0x04,
  CREATE_CQ: 0x05,
  IDENTIFY: 0x06,
  ABORT: 0x08,
  SET_FEATURES: 0x09,
  GET_FEATURES: 0x0a,
  ASYNC_EVENT_REQUEST: 0x0c,
  NS_MANAGEMENT: 0x0d,
  FW_COMMIT: 0x10,
  FW_DOWNLOAD: 0x11,
  NS_ATTACHMENT: 0x15,
  KEEP_ALIVE: 0x18,
  DOORBELL_BUFFER_CONFIG: 0x7c,
  FORMAT_NVM: 0x80,
} as const;

export const IoOpcode = {
  FLUSH: 0x00,
  WRITE: 0x01,
  READ: 0x02,
  WRITE_UNCORRECTABLE: 0x04,
  COMPARE: 0x05,
  WRITE_ZEROES: 0x08,
  DSM: 0x09,
  VERIFY: 0x0c,
  RESERVATION_REGISTER: 0x0d,
  RESERVATION_REPORT: 0x0e,
  RESERVATION_ACQUIRE: 0x11,
  RESERVATION_RELEASE: 0x15,
  COPY: 0x19,
} as const;

/** Zoned Namespace Command Set 1.1 I/O opcodes (served by native/nvme-zones.cc). */
export const ZnsOpcode = {
  ZONE_MANAGEMENT_SEND: 0x79,
  ZONE_MANAGEMENT_RECEIVE: 0x7a,
  ZONE_APPEND: 0x7d,
} as const;

/**
 * The statuses the native engine completes with have their one home in native/nvme-data.h;
 * the addon exports them and the table below takes them from there.
 */
const E = native.constants.status;

/** Status field (without phase): SC 7:0, SCT 10:8, DNR 14. */
export function status(sct: number, sc: number, dnr = true): number {
  return (sct << 8) | sc | (dnr ? 1 << 14 : 0);
}

export const Status = {
  SUCCESS: E.SUCCESS,
  INVALID_OPCODE: E.INVALID_OPCODE,
  INVALID_FIELD: E.INVALID_FIELD,
  CID_CONFLICT: status(0, 0x03),
  DATA_TRANSFER_ERROR: E.DATA_TRANSFER_ERROR,
  ABORTED_FAILED_FUSED: E.ABORTED_FAILED_FUSED,
  ABORTED_MISSING_FUSED: E.ABORTED_MISSING_FUSED,
  INTERNAL_ERROR: E.INTERNAL_ERROR,
  ABORT_REQUESTED: status(0, 0x07, false),
  ABORT_SQ_DELETED: status(0, 0x08, false),
  INVALID_NAMESPACE: E.INVALID_NAMESPACE,
  COMMAND_SEQUENCE_ERROR: status(0, 0x0c),
  INVALID_SGL_SEGMENT_DESCRIPTOR: E.INVALID_SGL_SEGMENT_DESCRIPTOR,
  INVALID_NUMBER_OF_SGL_DESCRIPTORS: E.INVALID_NUMBER_OF_SGL_DESCRIPTORS,
  DATA_SGL_LENGTH_INVALID: E.DATA_SGL_LENGTH_INVALID,
  SGL_DESCRIPTOR_TYPE_INVALID: E.SGL_DESCRIPTOR_TYPE_INVALID,
  INVALID_PRP_OFFSET: E.INVALID_PRP_OFFSET,
  SGL_OFFSET_INVALID: E.SGL_OFFSET_INVALID,
  LBA_OUT_OF_RANGE: E.LBA_OUT_OF_RANGE,
  HOST_IDENTIFIER_INCONSISTENT_FORMAT: status(0, 0x18),
  KEEP_ALIVE_TIMER_EXPIRED: status(0, 0x19, false),
  NS_NOT_READY: status(0, 0x82, false),
  // A command the namespace's reservation forbids (NVMe Base 2.0 8.19); the engine's own value.
  RESERVATION_CONFLICT: E.RESERVATION_CONFLICT,
  // Command specific (SCT 1)
  COMPLETION_QUEUE_INVALID: status(1, 0x00),
  INVALID_QUEUE_IDENTIFIER: status(1, 0x01),
  INVALID_QUEUE_SIZE: status(1, 0x02),
  ABORT_COMMAND_LIMIT_EXCEEDED: status(1, 0x03),
  ASYNC_EVENT_LIMIT_EXCEEDED: status(1, 0x05),
  INVALID_FIRMWARE_SLOT: status(1, 0x06),
  INVALID_INTERRUPT_VECTOR: status(1, 0x08),
  INVALID_LOG_PAGE: status(1, 0x09),
  INVALID_FORMAT: status(1, 0x0a),
  INVALID_QUEUE_DELETION: status(1, 0x0c),
  FEATURE_NOT_SAVEABLE: status(1, 0x0d),
  FEATURE_NOT_CHANGEABLE: status(1, 0x0e),
  // Namespace Management / Attachment (NVMe Base 2.0 5.22, 5.23)
  NAMESPACE_INSUFFICIENT_CAPACITY: status(1, 0x15),
  NAMESPACE_IDENTIFIER_UNAVAILABLE: status(1, 0x16),
  NAMESPACE_ALREADY_ATTACHED: status(1, 0x18),
  NAMESPACE_IS_PRIVATE: status(1, 0x19),
  NAMESPACE_NOT_ATTACHED: status(1, 0x1a),
  THIN_PROVISIONING_NOT_SUPPORTED: status(1, 0x1b),
  CONTROLLER_LIST_INVALID: status(1, 0x1c),
  IO_COMMAND_SET_NOT_SUPPORTED: status(1, 0x29),
  INVALID_IO_COMMAND_SET: status(1, 0x2c),
  // Zoned Namespace Command Set 1.1 (native/nvme-zones.h)
  ZONE_BOUNDARY_ERROR: status(1, 0xb8),
  ZONE_IS_FULL: status(1, 0xb9),
  ZONE_IS_READ_ONLY: status(1, 0xba),
  ZONE_IS_OFFLINE: status(1, 0xbb),
  ZONE_INVALID_WRITE: status(1, 0xbc),
  TOO_MANY_ACTIVE_ZONES: status(1, 0xbd),
  TOO_MANY_OPEN_ZONES: status(1, 0xbe),
  INVALID_ZONE_STATE_TRANSITION: status(1, 0xbf),
  // Copy (NVM Command Set 1.0 3.3.2): MSRC, MSSRL or MCL exceeded
  COMMAND_SIZE_LIMIT_EXCEEDED: E.COMMAND_SIZE_LIMIT_EXCEEDED,
  // Media and data integrity (SCT 2)
  WRITE_FAULT: E.WRITE_FAULT,
  UNRECOVERED_READ_ERROR: E.UNRECOVERED_READ_ERROR,
  COMPARE_FAILURE: E.COMPARE_FAILURE,
} as const;

const names = new Map<number, string>(Object.entries(Status).map(([k, v]) => [v & 0x7ff, k]));

export function statusName(s: number): string {
  return names.get(s & 0x7ff) ?? `SCT ${(s >> 8) & 7} SC 0x${(s & 0xff).toString(16)}`;
}

/** An NVMe command failure carrying its status. */
export class NvmeError extends Error {
  constructor(
    readonly status: number,
    message?: string,
  ) {
    super(message ?? statusName(status));
  }
}

export const Feature = {
  ARBITRATION: 0x01,
  POWER_MANAGEMENT: 0x02,
  TEMPERATURE_THRESHOLD: 0x04,
  ERROR_RECOVERY: 0x05,
  VOLATILE_WRITE_CACHE: 0x06,
  NUMBER_OF_QUEUES: 0x07,
  INTERRUPT_COALESCING: 0x08,
  INTERRUPT_VECTOR_CONFIG: 0x09,
  WRITE_ATOMICITY: 0x0a,
  ASYNC_EVENT_CONFIG: 0x0b,
  TIMESTAMP: 0x0e,
  KEEP_ALIVE_TIMER: 0x0f,
  HOST_BEHAVIOR_SUPPORT: 0x16,
  HOST_IDENTIFIER: 0x81,
  RESERVATION_NOTIFICATION_MASK: 0x82,
  RESERVATION_PERSISTENCE: 0x83,
} as const;

export const LogPage = {
  ERROR: 0x01,
  SMART: 0x02,
  FIRMWARE_SLOT: 0x03,
  CHANGED_NS_LIST: 0x04,
  COMMANDS_SUPPORTED: 0x05,
  RESERVATION_NOTIFICATION: 0x80,
} as const;

/** Asynchronous event types and infos (Get Log Page / AER completion dword 0). */
export const AsyncEvent = {
  TYPE_ERROR: 0,
  TYPE_SMART: 1,
  TYPE_NOTICE: 2,
  /** I/O Command specific status (110b); info 00h: Reservation Log Page Available (log 80h). */
  TYPE_IO: 6,
  IO_RESERVATION_LOG_AVAILABLE: 0x00,
  ERROR_INVALID_DOORBELL_REGISTER: 0x00,
  ERROR_INVALID_DOORBELL_VALUE: 0x01,
  NOTICE_NS_ATTRIBUTE_CHANGED: 0x00,
} as const;

export const PAGE_SIZE = 4096;

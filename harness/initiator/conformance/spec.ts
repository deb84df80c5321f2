// The numbers the conformance suite checks a controller against, written from the
// specifications' own tables, not taken from the target (target/nvme/constants.ts,
// target/vfio-user/wire.ts): a wrong number there must fail here, not pass on both ends.
// test/initiator/conformance-spec.test.ts compares the two where both name a value.
// Checked against QEMU include/block/nvme.h and SPDK include/spdk/nvme_spec.h (NVMe) and the
// vfio-user specification (QEMU docs/interop/vfio-user.rst, libvfio-user docs/vfio-user.rst).
// Key names follow the target's where both name the same value, so a comparison by name works;
// the spec's own name is in the comment where it differs.

// ============================================================================ NVMe

/** Status Code Type (NVMe Base 2.0 4.2.3, Figure "Status Code Type Values"). */
export const SCT = {
  GENERIC: 0,
  COMMAND_SPECIFIC: 1,
  MEDIA_AND_DATA_INTEGRITY: 2,
  PATH_RELATED: 3,
  VENDOR_SPECIFIC: 7,
} as const;

/** The Status field without phase, DNR or More: SC bits 7:0, SCT bits 10:8 (Figure "Completion Queue Entry: Status Field"). */
const sc = (sct: number, code: number) => (sct << 8) | code;

/** Status field bits other than SCT/SC (NVMe Base 2.0 4.2.3). */
export const STATUS_MORE = 1 << 13;
export const STATUS_DNR = 1 << 14;
/** What a status comparison looks at: SCT and SC. */
export const STATUS_CODE_MASK = 0x7ff;

export const Status = {
  // ---- Generic Command Status (SCT 0h): NVMe Base 2.0 4.2.3.1, Figure "Status Code - Generic Command Status Values"
  SUCCESS: sc(0, 0x00), // Successful Completion
  INVALID_OPCODE: sc(0, 0x01), // Invalid Command Opcode
  INVALID_FIELD: sc(0, 0x02), // Invalid Field in Command
  CID_CONFLICT: sc(0, 0x03), // Command ID Conflict
  DATA_TRANSFER_ERROR: sc(0, 0x04),
  ABORTED_POWER_LOSS: sc(0, 0x05), // Commands Aborted due to Power Loss Notification
  INTERNAL_ERROR: sc(0, 0x06),
  ABORT_REQUESTED: sc(0, 0x07), // Command Abort Requested
  ABORT_SQ_DELETED: sc(0, 0x08), // Command Aborted due to SQ Deletion
  ABORTED_FAILED_FUSED: sc(0, 0x09), // Command Aborted due to Failed Fused Command
  ABORTED_MISSING_FUSED: sc(0, 0x0a), // Command Aborted due to Missing Fused Command
  INVALID_NAMESPACE: sc(0, 0x0b), // Invalid Namespace or Format
  COMMAND_SEQUENCE_ERROR: sc(0, 0x0c),
  INVALID_SGL_SEGMENT_DESCRIPTOR: sc(0, 0x0d),
  INVALID_NUMBER_OF_SGL_DESCRIPTORS: sc(0, 0x0e),
  DATA_SGL_LENGTH_INVALID: sc(0, 0x0f),
  METADATA_SGL_LENGTH_INVALID: sc(0, 0x10),
  SGL_DESCRIPTOR_TYPE_INVALID: sc(0, 0x11),
  INVALID_USE_OF_CMB: sc(0, 0x12), // Invalid Use of Controller Memory Buffer
  INVALID_PRP_OFFSET: sc(0, 0x13), // PRP Offset Invalid
  ATOMIC_WRITE_UNIT_EXCEEDED: sc(0, 0x14),
  OPERATION_DENIED: sc(0, 0x15),
  SGL_OFFSET_INVALID: sc(0, 0x16),
  // 17h reserved
  HOST_IDENTIFIER_INCONSISTENT_FORMAT: sc(0, 0x18),
  KEEP_ALIVE_TIMER_EXPIRED: sc(0, 0x19),
  KEEP_ALIVE_TIMEOUT_INVALID: sc(0, 0x1a),
  ABORTED_PREEMPT_AND_ABORT: sc(0, 0x1b), // Command Aborted due to Preempt and Abort
  SANITIZE_FAILED: sc(0, 0x1c),
  SANITIZE_IN_PROGRESS: sc(0, 0x1d),
  SGL_DATA_BLOCK_GRANULARITY_INVALID: sc(0, 0x1e),
  COMMAND_NOT_SUPPORTED_FOR_QUEUE_IN_CMB: sc(0, 0x1f),
  NAMESPACE_WRITE_PROTECTED: sc(0, 0x20), // Namespace is Write Protected
  COMMAND_INTERRUPTED: sc(0, 0x21),
  TRANSIENT_TRANSPORT_ERROR: sc(0, 0x22),
  // ---- Generic, I/O command set specific (SCT 0h, 80h-BFh): NVM Command Set 1.0 Figure
  //      "Status Code - Generic Command Status Values, NVM Command Set" (80h, 81h) and
  //      NVMe Base 2.0 4.2.3.1 (82h-84h, common to the I/O command sets)
  LBA_OUT_OF_RANGE: sc(0, 0x80),
  CAPACITY_EXCEEDED: sc(0, 0x81),
  NS_NOT_READY: sc(0, 0x82), // Namespace Not Ready
  RESERVATION_CONFLICT: sc(0, 0x83),
  FORMAT_IN_PROGRESS: sc(0, 0x84),

  // ---- Command Specific Status (SCT 1h): NVMe Base 2.0 4.2.3.2, Figure "Status Code - Command Specific Status Values"
  COMPLETION_QUEUE_INVALID: sc(1, 0x00),
  INVALID_QUEUE_IDENTIFIER: sc(1, 0x01),
  INVALID_QUEUE_SIZE: sc(1, 0x02),
  ABORT_COMMAND_LIMIT_EXCEEDED: sc(1, 0x03),
  // 04h reserved
  ASYNC_EVENT_LIMIT_EXCEEDED: sc(1, 0x05), // Asynchronous Event Request Limit Exceeded
  INVALID_FIRMWARE_SLOT: sc(1, 0x06),
  INVALID_FIRMWARE_IMAGE: sc(1, 0x07),
  INVALID_INTERRUPT_VECTOR: sc(1, 0x08),
  INVALID_LOG_PAGE: sc(1, 0x09),
  INVALID_FORMAT: sc(1, 0x0a),
  FIRMWARE_ACTIVATION_REQUIRES_CONVENTIONAL_RESET: sc(1, 0x0b),
  INVALID_QUEUE_DELETION: sc(1, 0x0c),
  FEATURE_NOT_SAVEABLE: sc(1, 0x0d), // Feature Identifier Not Saveable
  FEATURE_NOT_CHANGEABLE: sc(1, 0x0e),
  FEATURE_NOT_NAMESPACE_SPECIFIC: sc(1, 0x0f),
  FIRMWARE_ACTIVATION_REQUIRES_NVM_SUBSYSTEM_RESET: sc(1, 0x10),
  FIRMWARE_ACTIVATION_REQUIRES_CONTROLLER_RESET: sc(1, 0x11),
  FIRMWARE_ACTIVATION_REQUIRES_MAXIMUM_TIME_VIOLATION: sc(1, 0x12),
  FIRMWARE_ACTIVATION_PROHIBITED: sc(1, 0x13),
  OVERLAPPING_RANGE: sc(1, 0x14),
  NAMESPACE_INSUFFICIENT_CAPACITY: sc(1, 0x15),
  NAMESPACE_IDENTIFIER_UNAVAILABLE: sc(1, 0x16),
  // 17h reserved
  NAMESPACE_ALREADY_ATTACHED: sc(1, 0x18),
  NAMESPACE_IS_PRIVATE: sc(1, 0x19),
  NAMESPACE_NOT_ATTACHED: sc(1, 0x1a),
  THIN_PROVISIONING_NOT_SUPPORTED: sc(1, 0x1b),
  CONTROLLER_LIST_INVALID: sc(1, 0x1c),
  DEVICE_SELF_TEST_IN_PROGRESS: sc(1, 0x1d),
  BOOT_PARTITION_WRITE_PROHIBITED: sc(1, 0x1e),
  INVALID_CONTROLLER_IDENTIFIER: sc(1, 0x1f),
  INVALID_SECONDARY_CONTROLLER_STATE: sc(1, 0x20),
  INVALID_NUMBER_OF_CONTROLLER_RESOURCES: sc(1, 0x21),
  INVALID_RESOURCE_IDENTIFIER: sc(1, 0x22),
  SANITIZE_PROHIBITED_WHILE_PMR_ENABLED: sc(1, 0x23),
  ANA_GROUP_IDENTIFIER_INVALID: sc(1, 0x24),
  ANA_ATTACH_FAILED: sc(1, 0x25),
  INSUFFICIENT_CAPACITY: sc(1, 0x26),
  NAMESPACE_ATTACHMENT_LIMIT_EXCEEDED: sc(1, 0x27),
  PROHIBITION_OF_COMMAND_EXECUTION_NOT_SUPPORTED: sc(1, 0x28),
  IO_COMMAND_SET_NOT_SUPPORTED: sc(1, 0x29),
  IO_COMMAND_SET_NOT_ENABLED: sc(1, 0x2a),
  IO_COMMAND_SET_COMBINATION_REJECTED: sc(1, 0x2b),
  INVALID_IO_COMMAND_SET: sc(1, 0x2c),
  IDENTIFIER_UNAVAILABLE: sc(1, 0x2d),
  // ---- Command specific, NVM Command Set 1.0 Figure "Status Code - Command Specific Status Values, NVM Command Set"
  CONFLICTING_ATTRIBUTES: sc(1, 0x80),
  INVALID_PROTECTION_INFORMATION: sc(1, 0x81),
  ATTEMPTED_WRITE_TO_READ_ONLY_RANGE: sc(1, 0x82),
  COMMAND_SIZE_LIMIT_EXCEEDED: sc(1, 0x83),
  // ---- Command specific, Zoned Namespace Command Set 1.1 Figure "Status Code - Command Specific Status Values"
  ZONE_BOUNDARY_ERROR: sc(1, 0xb8),
  ZONE_IS_FULL: sc(1, 0xb9),
  ZONE_IS_READ_ONLY: sc(1, 0xba),
  ZONE_IS_OFFLINE: sc(1, 0xbb),
  ZONE_INVALID_WRITE: sc(1, 0xbc),
  TOO_MANY_ACTIVE_ZONES: sc(1, 0xbd),
  TOO_MANY_OPEN_ZONES: sc(1, 0xbe),
  INVALID_ZONE_STATE_TRANSITION: sc(1, 0xbf),

  // ---- Media and Data Integrity Errors (SCT 2h): NVMe Base 2.0 4.2.3.3, Figure "Status Code -
  //      Media and Data Integrity Error Values" (80h-88h, the end-to-end ones NVM Command Set 1.0)
  WRITE_FAULT: sc(2, 0x80),
  UNRECOVERED_READ_ERROR: sc(2, 0x81),
  END_TO_END_GUARD_CHECK_ERROR: sc(2, 0x82),
  END_TO_END_APPLICATION_TAG_CHECK_ERROR: sc(2, 0x83),
  END_TO_END_REFERENCE_TAG_CHECK_ERROR: sc(2, 0x84),
  COMPARE_FAILURE: sc(2, 0x85),
  ACCESS_DENIED: sc(2, 0x86),
  DEALLOCATED_OR_UNWRITTEN_LOGICAL_BLOCK: sc(2, 0x87),
  END_TO_END_STORAGE_TAG_CHECK_ERROR: sc(2, 0x88),
} as const;

export type StatusName = keyof typeof Status;

const statusNames = new Map<number, string>(Object.entries(Status).map(([k, v]) => [v, k]));

/** The spec name of a status field's SCT/SC (DNR, More and phase ignored). */
export function statusName(s: number): string {
  const code = s & STATUS_CODE_MASK;
  return statusNames.get(code) ?? `SCT ${(code >> 8) & 7} SC 0x${(code & 0xff).toString(16)}`;
}

/** Admin command opcodes (NVMe Base 2.0 5, Figure "Opcodes for Admin Commands"). */
export const AdminOpcode = {
  DELETE_SQ: 0x00, // Delete I/O Submission Queue
  CREATE_SQ: 0x01, // Create I/O Submission Queue
  GET_LOG_PAGE: 0x02,
  DELETE_CQ: 0x04, // Delete I/O Completion Queue
  CREATE_CQ: 0x05, // Create I/O Completion Queue
  IDENTIFY: 0x06,
  ABORT: 0x08,
  SET_FEATURES: 0x09,
  GET_FEATURES: 0x0a,
  ASYNC_EVENT_REQUEST: 0x0c, // Asynchronous Event Request
  NS_MANAGEMENT: 0x0d, // Namespace Management
  FW_COMMIT: 0x10, // Firmware Commit
  FW_DOWNLOAD: 0x11, // Firmware Image Download
  DEVICE_SELF_TEST: 0x14,
  NS_ATTACHMENT: 0x15, // Namespace Attachment
  KEEP_ALIVE: 0x18,
  DIRECTIVE_SEND: 0x19,
  DIRECTIVE_RECEIVE: 0x1a,
  VIRTUALIZATION_MANAGEMENT: 0x1c,
  NVME_MI_SEND: 0x1d,
  NVME_MI_RECEIVE: 0x1e,
  CAPACITY_MANAGEMENT: 0x20,
  LOCKDOWN: 0x24,
  DOORBELL_BUFFER_CONFIG: 0x7c,
  FABRICS: 0x7f, // Fabrics Commands
  FORMAT_NVM: 0x80,
  SECURITY_SEND: 0x81,
  SECURITY_RECEIVE: 0x82,
  SANITIZE: 0x84,
  GET_LBA_STATUS: 0x86,
} as const;

/**
 * I/O command opcodes of the NVM command set (NVM Command Set 1.0 3, Figure "Opcodes for NVM
 * Commands"; Flush and the reservation commands are NVMe Base 2.0 7, Figure "Opcodes for I/O Commands").
 */
export const IoOpcode = {
  FLUSH: 0x00,
  WRITE: 0x01,
  READ: 0x02,
  WRITE_UNCORRECTABLE: 0x04,
  COMPARE: 0x05,
  WRITE_ZEROES: 0x08,
  DSM: 0x09, // Dataset Management
  VERIFY: 0x0c,
  RESERVATION_REGISTER: 0x0d,
  RESERVATION_REPORT: 0x0e,
  RESERVATION_ACQUIRE: 0x11,
  RESERVATION_RELEASE: 0x15,
  COPY: 0x19,
} as const;

/** I/O command opcodes of the Zoned Namespace Command Set (ZNS 1.1 Figure "Opcodes for Zoned Namespace Commands"). */
export const ZnsOpcode = {
  ZONE_MANAGEMENT_SEND: 0x79,
  ZONE_MANAGEMENT_RECEIVE: 0x7a,
  ZONE_APPEND: 0x7d,
} as const;

/** Command names as the spec writes them, for evidence ("Identify (0x6)"). */
export const ADMIN_COMMAND_NAMES: Record<number, string> = {
  [AdminOpcode.DELETE_SQ]: 'Delete I/O SQ',
  [AdminOpcode.CREATE_SQ]: 'Create I/O SQ',
  [AdminOpcode.GET_LOG_PAGE]: 'Get Log Page',
  [AdminOpcode.DELETE_CQ]: 'Delete I/O CQ',
  [AdminOpcode.CREATE_CQ]: 'Create I/O CQ',
  [AdminOpcode.IDENTIFY]: 'Identify',
  [AdminOpcode.ABORT]: 'Abort',
  [AdminOpcode.SET_FEATURES]: 'Set Features',
  [AdminOpcode.GET_FEATURES]: 'Get Features',
  [AdminOpcode.ASYNC_EVENT_REQUEST]: 'Asynchronous Event Request',
  [AdminOpcode.NS_MANAGEMENT]: 'Namespace Management',
  [AdminOpcode.FW_COMMIT]: 'Firmware Commit',
  [AdminOpcode.FW_DOWNLOAD]: 'Firmware Image Download',
  [AdminOpcode.DEVICE_SELF_TEST]: 'Device Self-test',
  [AdminOpcode.NS_ATTACHMENT]: 'Namespace Attachment',
  [AdminOpcode.KEEP_ALIVE]: 'Keep Alive',
  [AdminOpcode.DIRECTIVE_SEND]: 'Directive Send',
  [AdminOpcode.DIRECTIVE_RECEIVE]: 'Directive Receive',
  [AdminOpcode.DOORBELL_BUFFER_CONFIG]: 'Doorbell Buffer Config',
  [AdminOpcode.FORMAT_NVM]: 'Format NVM',
  [AdminOpcode.SECURITY_SEND]: 'Security Send',
  [AdminOpcode.SECURITY_RECEIVE]: 'Security Receive',
  [AdminOpcode.SANITIZE]: 'Sanitize',
  [AdminOpcode.GET_LBA_STATUS]: 'Get LBA Status',
};

export const IO_COMMAND_NAMES: Record<number, string> = {
  [IoOpcode.FLUSH]: 'Flush',
  [IoOpcode.WRITE]: 'Write',
  [IoOpcode.READ]: 'Read',
  [IoOpcode.WRITE_UNCORRECTABLE]: 'Write Uncorrectable',
  [IoOpcode.COMPARE]: 'Compare',
  [IoOpcode.WRITE_ZEROES]: 'Write Zeroes',
  [IoOpcode.DSM]: 'Dataset Management',
  [IoOpcode.VERIFY]: 'Verify',
  [IoOpcode.RESERVATION_REGISTER]: 'Reservation Register',
  [IoOpcode.RESERVATION_REPORT]: 'Reservation Report',
  [IoOpcode.RESERVATION_ACQUIRE]: 'Reservation Acquire',
  [IoOpcode.RESERVATION_RELEASE]: 'Reservation Release',
  [IoOpcode.COPY]: 'Copy',
  [ZnsOpcode.ZONE_MANAGEMENT_SEND]: 'Zone Management Send',
  [ZnsOpcode.ZONE_MANAGEMENT_RECEIVE]: 'Zone Management Receive',
  [ZnsOpcode.ZONE_APPEND]: 'Zone Append',
};

/**
 * Controller registers: byte offsets in BAR0 (NVMe Base 2.0 3.1.3, Figure "Controller
 * Properties"; the doorbells from 1000h as the NVMe over PCIe Transport Specification 1.0 maps them).
 */
export const Reg = {
  CAP: 0x00, // Controller Capabilities (8 bytes)
  VS: 0x08, // Version
  INTMS: 0x0c, // Interrupt Mask Set
  INTMC: 0x10, // Interrupt Mask Clear
  CC: 0x14, // Controller Configuration
  CSTS: 0x1c, // Controller Status
  NSSR: 0x20, // NVM Subsystem Reset
  AQA: 0x24, // Admin Queue Attributes
  ASQ: 0x28, // Admin Submission Queue Base Address (8 bytes)
  ACQ: 0x30, // Admin Completion Queue Base Address (8 bytes)
  CMBLOC: 0x38, // Controller Memory Buffer Location
  CMBSZ: 0x3c, // Controller Memory Buffer Size
  BPINFO: 0x40, // Boot Partition Information
  BPRSEL: 0x44, // Boot Partition Read Select
  BPMBL: 0x48, // Boot Partition Memory Buffer Location (8 bytes)
  CMBMSC: 0x50, // Controller Memory Buffer Memory Space Control (8 bytes)
  CMBSTS: 0x58, // Controller Memory Buffer Status
  CMBEBS: 0x5c, // Controller Memory Buffer Elasticity Buffer Size
  CMBSWTP: 0x60, // Controller Memory Buffer Sustained Write Throughput
  NSSD: 0x64, // NVM Subsystem Shutdown
  CRTO: 0x68, // Controller Ready Timeouts
  PMRCAP: 0xe00, // Persistent Memory Region Capabilities
  PMRCTL: 0xe04,
  PMRSTS: 0xe08,
  PMREBS: 0xe0c,
  PMRSWTP: 0xe10,
  PMRMSCL: 0xe14,
  PMRMSCU: 0xe18,
  DOORBELLS: 0x1000, // SQ 0 Tail Doorbell; then (2y)*(4 << CAP.DSTRD) for SQ y, (2y+1)*(...) for CQ y
} as const;

/** CC and CSTS bits (NVMe Base 2.0 3.1.3.5 CC, 3.1.3.6 CSTS). */
export const CC_EN = 1 << 0;
export const CC_SHN_SHIFT = 14;
export const CC_IOSQES_SHIFT = 16;
export const CC_IOCQES_SHIFT = 20;
export const CSTS_RDY = 1 << 0;
export const CSTS_CFS = 1 << 1;
export const CSTS_SHST_MASK = 3 << 2;
export const CSTS_SHST_COMPLETE = 2 << 2;
export const CSTS_NSSRO = 1 << 4;
/** CAP.NSSRS (bit 36): NVM Subsystem Reset supported. */
export const CAP_NSSRS = 1n << 36n;
/** The value NSSR takes to reset the subsystem: "NVMe" (3.1.3.7). */
export const NSSR_RESET_VALUE = 0x4e564d65;

/** Feature Identifiers (NVMe Base 2.0 5.27.1, Figure "Feature Identifiers"). */
export const Feature = {
  ARBITRATION: 0x01,
  POWER_MANAGEMENT: 0x02,
  LBA_RANGE_TYPE: 0x03, // NVM Command Set 1.0 4.1.3.1
  TEMPERATURE_THRESHOLD: 0x04,
  ERROR_RECOVERY: 0x05,
  VOLATILE_WRITE_CACHE: 0x06,
  NUMBER_OF_QUEUES: 0x07,
  INTERRUPT_COALESCING: 0x08,
  INTERRUPT_VECTOR_CONFIG: 0x09, // Interrupt Vector Configuration
  WRITE_ATOMICITY: 0x0a, // Write Atomicity Normal
  ASYNC_EVENT_CONFIG: 0x0b, // Asynchronous Event Configuration
  AUTONOMOUS_POWER_STATE_TRANSITION: 0x0c,
  HOST_MEMORY_BUFFER: 0x0d,
  TIMESTAMP: 0x0e,
  KEEP_ALIVE_TIMER: 0x0f,
  HOST_CONTROLLED_THERMAL_MANAGEMENT: 0x10,
  NON_OPERATIONAL_POWER_STATE_CONFIG: 0x11,
  READ_RECOVERY_LEVEL_CONFIG: 0x12,
  PREDICTABLE_LATENCY_MODE_CONFIG: 0x13,
  PREDICTABLE_LATENCY_MODE_WINDOW: 0x14,
  HOST_BEHAVIOR_SUPPORT: 0x16,
  SANITIZE_CONFIG: 0x17,
  ENDURANCE_GROUP_EVENT_CONFIG: 0x18,
  IO_COMMAND_SET_PROFILE: 0x19,
  SPINUP_CONTROL: 0x1a,
  ENHANCED_CONTROLLER_METADATA: 0x7d,
  CONTROLLER_METADATA: 0x7e,
  NAMESPACE_METADATA: 0x7f,
  SOFTWARE_PROGRESS_MARKER: 0x80,
  HOST_IDENTIFIER: 0x81,
  RESERVATION_NOTIFICATION_MASK: 0x82,
  RESERVATION_PERSISTENCE: 0x83,
  NAMESPACE_WRITE_PROTECTION_CONFIG: 0x84,
} as const;

/** Log Page Identifiers (NVMe Base 2.0 5.16.1, Figure "Get Log Page - Log Page Identifiers"). */
export const LogPage = {
  SUPPORTED_LOG_PAGES: 0x00,
  ERROR: 0x01, // Error Information
  SMART: 0x02, // SMART / Health Information
  FIRMWARE_SLOT: 0x03, // Firmware Slot Information
  CHANGED_NS_LIST: 0x04, // Changed Namespace List
  COMMANDS_SUPPORTED: 0x05, // Commands Supported and Effects
  DEVICE_SELF_TEST: 0x06,
  TELEMETRY_HOST_INITIATED: 0x07,
  TELEMETRY_CONTROLLER_INITIATED: 0x08,
  ENDURANCE_GROUP_INFORMATION: 0x09,
  PREDICTABLE_LATENCY_PER_NVM_SET: 0x0a,
  PREDICTABLE_LATENCY_EVENT_AGGREGATE: 0x0b,
  ASYMMETRIC_NAMESPACE_ACCESS: 0x0c,
  PERSISTENT_EVENT_LOG: 0x0d,
  ENDURANCE_GROUP_EVENT_AGGREGATE: 0x0f,
  MEDIA_UNIT_STATUS: 0x10,
  SUPPORTED_CAPACITY_CONFIGURATION_LIST: 0x11,
  FEATURE_IDENTIFIERS_SUPPORTED: 0x12, // Feature Identifiers Supported and Effects
  NVME_MI_COMMANDS_SUPPORTED: 0x13, // NVMe-MI Commands Supported and Effects
  COMMAND_AND_FEATURE_LOCKDOWN: 0x14,
  BOOT_PARTITION: 0x15,
  ROTATIONAL_MEDIA_INFORMATION: 0x16,
  DISCOVERY: 0x70,
  RESERVATION_NOTIFICATION: 0x80,
  SANITIZE_STATUS: 0x81,
} as const;

/**
 * Asynchronous Event Request completion dword 0 (NVMe Base 2.0 5.2.1): event type (bits 2:0,
 * Figure "Asynchronous Event Request - Completion Queue Entry Dword 0") and the event information
 * per type (Figures "Error Status", "SMART / Health Status", "Notice" Asynchronous Event Information).
 */
export const AsyncEvent = {
  TYPE_ERROR: 0,
  TYPE_SMART: 1,
  TYPE_NOTICE: 2,
  TYPE_IMMEDIATE: 3,
  TYPE_ONE_SHOT: 4,
  TYPE_IO_COMMAND_SPECIFIC: 6,
  TYPE_VENDOR_SPECIFIC: 7,
  ERROR_INVALID_DOORBELL_REGISTER: 0x00, // Write to Invalid Doorbell Register
  ERROR_INVALID_DOORBELL_VALUE: 0x01, // Invalid Doorbell Write Value
  ERROR_DIAGNOSTIC_FAILURE: 0x02,
  ERROR_PERSISTENT_INTERNAL: 0x03,
  ERROR_TRANSIENT_INTERNAL: 0x04,
  ERROR_FIRMWARE_IMAGE_LOAD: 0x05,
  SMART_RELIABILITY: 0x00, // NVM subsystem Reliability
  SMART_TEMPERATURE_THRESHOLD: 0x01,
  SMART_SPARE_BELOW_THRESHOLD: 0x02,
  NOTICE_NS_ATTRIBUTE_CHANGED: 0x00,
  NOTICE_FIRMWARE_ACTIVATION_STARTING: 0x01,
  NOTICE_TELEMETRY_LOG_CHANGED: 0x02,
  NOTICE_ANA_CHANGE: 0x03,
} as const;

/** The broadcast NSID (NVMe Base 2.0 3.2.1.2). */
export const NSID_ALL = 0xffffffff;

/** Identify CNS values (NVMe Base 2.0 5.17.1, Figure "Identify - CNS Values"). */
export const Cns = {
  NAMESPACE: 0x00, // Identify Namespace data structure for the specified NSID (FFFFFFFFh: common capabilities)
  CONTROLLER: 0x01,
  ACTIVE_NS_LIST: 0x02, // Active Namespace ID list
  NS_DESCRIPTORS: 0x03, // Namespace Identification Descriptor list
  NVM_SET_LIST: 0x04,
  IO_NAMESPACE: 0x05, // I/O Command Set specific Identify Namespace
  IO_CONTROLLER: 0x06, // I/O Command Set specific Identify Controller
  IO_ACTIVE_NS_LIST: 0x07,
  ALLOCATED_NS_LIST: 0x10, // Allocated Namespace ID list
  ALLOCATED_NAMESPACE: 0x11, // Identify Namespace data structure for an allocated NSID
  NS_ATTACHED_CONTROLLERS: 0x12, // Namespace Attached Controller list
  CONTROLLER_LIST: 0x13, // Controller list (every controller of the NVM subsystem)
  PRIMARY_CONTROLLER_CAPABILITIES: 0x14,
  SECONDARY_CONTROLLER_LIST: 0x15,
  NS_GRANULARITY_LIST: 0x16,
  UUID_LIST: 0x17,
} as const;

/** Identify Controller fields Namespace Management uses: byte offsets (NVMe Base 2.0 Figure 275). */
export const IdCtrl = {
  OACS: 256, // Optional Admin Command Support (2 bytes)
  OAES: 92, // Optional Asynchronous Events Supported (4 bytes)
  TNVMCAP: 280, // Total NVM Capacity (16 bytes)
  UNVMCAP: 296, // Unallocated NVM Capacity (16 bytes)
  NN: 516, // Number of Namespaces (4 bytes)
  MNAN: 540, // Maximum Number of Allocated Namespaces (4 bytes)
} as const;

/** OACS bit 3: Namespace Management and Namespace Attachment commands supported. */
export const OACS_NS_MANAGEMENT = 1 << 3;
/** OAES bit 8: Namespace Attribute Notices supported. */
export const OAES_NS_ATTRIBUTE_NOTICES = 1 << 8;

/** Identify Namespace fields: byte offsets (NVM Command Set 1.0 4.1.5.1, Figure "Identify Namespace Data Structure, NVM Command Set"). */
export const IdNs = {
  NSZE: 0, // 8 bytes
  NCAP: 8, // 8 bytes
  NUSE: 16, // 8 bytes
  NSFEAT: 24, // bit 0: thin provisioning
  NLBAF: 25, // 0's based
  FLBAS: 26, // bits 3:0 format index (bits 6:5 its upper bits), bit 4 extended metadata
  DPS: 29,
  NMIC: 30, // bit 0: may be attached to two or more controllers
  LBAF0: 128, // LBA Format n at 128 + 4n: MS 15:0, LBADS 23:16, RP 25:24
} as const;

/**
 * Namespace Management (NVMe Base 2.0 5.23): SEL in CDW10 bits 3:0 (Figure "Namespace
 * Management - Select"); CSI in CDW11 bits 31:24; for create, the host software specified
 * fields are the Identify Namespace layout above (NSZE, NCAP, FLBAS, DPS, NMIC...), 4096 bytes.
 */
export const NsManagementSelect = { CREATE: 0x0, DELETE: 0x1 } as const;

/** Namespace Attachment (NVMe Base 2.0 5.22): SEL in CDW10 bits 3:0 (Figure "Namespace Attachment - Select"). */
export const NsAttachmentSelect = { ATTACH: 0x0, DETACH: 0x1 } as const;

/** Controller List (NVMe Base 2.0 Figure "Controller List Format"): a 2-byte count, then up to 2047 2-byte IDs. */
export const CONTROLLER_LIST_MAX = 2047;

/** Commands Supported and Effects data structure bits (NVMe Base 2.0 5.16.1.6, Figure "Command Supported and Effects Data Structure"). */
export const CommandEffects = {
  CSUPP: 1 << 0, // Command Supported
  LBCC: 1 << 1, // Logical Block Content Change
  NCC: 1 << 2, // Namespace Capability Change
  NIC: 1 << 3, // Namespace Inventory Change
  CCC: 1 << 4, // Controller Capability Change
} as const;

// ============================================================================ vfio-user

/** Command IDs (vfio-user spec, "Commands" table). */
export const VfioUserCommand = {
  VERSION: 1,
  DMA_MAP: 2,
  DMA_UNMAP: 3,
  DEVICE_GET_INFO: 4,
  DEVICE_GET_REGION_INFO: 5,
  DEVICE_GET_REGION_IO_FDS: 6,
  DEVICE_GET_IRQ_INFO: 7,
  DEVICE_SET_IRQS: 8,
  REGION_READ: 9,
  REGION_WRITE: 10,
  DMA_READ: 11,
  DMA_WRITE: 12,
  DEVICE_RESET: 13,
  // 14 was VFIO_USER_DIRTY_PAGES (migration v1, withdrawn)
  REGION_WRITE_MULTI: 15,
  DEVICE_FEATURE: 16,
  MIG_DATA_READ: 17,
  MIG_DATA_WRITE: 18,
} as const;

/** VFIO_USER_DMA_MAP flags (vfio-user spec, VFIO_USER_DMA_MAP: bit 0 readable, bit 1 writeable). */
export const DMA_MAP_READ = 1 << 0;
export const DMA_MAP_WRITE = 1 << 1;

/** PCI region indices (linux/vfio.h VFIO_PCI_*_REGION_INDEX, which the vfio-user spec uses). */
export const RegionIndex = {
  BAR0: 0,
  BAR1: 1,
  BAR2: 2,
  BAR3: 3,
  BAR4: 4,
  BAR5: 5,
  ROM: 6,
  CONFIG: 7,
  VGA: 8,
} as const;

/** PCI IRQ indices (linux/vfio.h VFIO_PCI_*_IRQ_INDEX). */
export const IrqIndex = { INTX: 0, MSI: 1, MSIX: 2, ERR: 3, REQ: 4 } as const;

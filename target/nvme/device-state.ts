// The NVMe controller's device-state record: one versioned, self-checking byte stream that
// carries everything a destination target needs to continue a running controller —
// registers, PCI config space and MSI-X table, features, namespaces' identity, every SQ and
// CQ (ids, base, size, head/tail, phase, vector, enable, doorbell values), the admin queue,
// shadow doorbell buffers, outstanding AERs and pending events, the error log and SMART
// counters; since version 2 also Timestamp, Host Behavior Support and the Keep Alive Timeout
// (section FEAX) and the blocks Write Uncorrectable marked (UNCR); since version 3 the LBA
// format's metadata of each namespace that has any (NSFM: size, placement, PI type and
// location), which the destination's namespaces must match; since version 4 reservations
// (RESV: this controller's notification log and mask, and the subsystem's reservation state of
// the namespaces it has). Version 1 to 3 records still load: those take their defaults (no
// namespace has metadata, no reservation). Both migration adapters (v2: MIG_DATA, v1: the migration region) carry it as an
// opaque stream.
//
// Layout (little-endian):
//   header (32 bytes): magic u32 @0 'VNVM', version u16 @4, header size u16 @6,
//     payload length u32 @8, CRC-32 of the payload u32 @12, section count u32 @16,
//     flags u32 @20 (0), reserved u64 @24
//   payload: sections, each { tag u32 (four ASCII chars), length u32, body }
// decodeDeviceState() checks magic, version, sizes, CRC, that every section is present
// exactly once and fully consumed, and the internal references (an SQ's CQ exists, heads
// and tails lie inside their queues, vectors inside the MSI-X table).
import { ByteReader, ByteWriter, RecordError, crc32 } from '../migration/record.js';
import type { AdminQueue } from './controller.js';
import type { ControllerReservationState } from './reservation-io.js';
import { checkSnapshot, MAX_REGISTRANTS, type ReservationSnapshot } from './reservations.js';

export { RecordError };

export const RECORD_MAGIC = 0x4d564e56; // "VNVM" read as a little-endian u32
export const RECORD_VERSION = 4;
/** The oldest version decodeDeviceState() reads. */
export const RECORD_MIN_VERSION = 1;
export const RECORD_HEADER_SIZE = 32;
/** Upper bound for a record (sanity against a corrupt length). */
export const RECORD_MAX_SIZE = 16 << 20;

export interface QueueRecord {
  type: 'sq' | 'cq';
  qid: number;
  cqid: number; // SQ: its CQ; CQ: 0
  iova: bigint;
  size: number;
  head: number;
  tail: number; // CQ: tail the device writes next; SQ: unused (0)
  phase: boolean;
  ien: boolean;
  vector: number;
  inflight: number; // SQ: upcalled commands whose completion is not yet posted
  doorbell: number; // SQ: tail doorbell; CQ: head doorbell, as last written by the host
}

export type AdminQueueRecord = AdminQueue;

export interface ErrorEntryRecord {
  errorCount: bigint;
  sqid: number;
  cid: number;
  status: number;
  paramLocation: number;
  lba: bigint;
  nsid: number;
}

export interface DeviceState {
  identity: {
    vendorId: number;
    deviceId: number;
    cntlid: number;
    serialNumber: string;
    modelNumber: string;
    subnqn: string;
    maxQueueEntries: number;
    maxIoQueues: number;
    msixVectors: number;
    mappedDoorbells: boolean;
  };
  registers: { cap: bigint; cc: number; csts: number; aqa: number; asq: bigint; acq: bigint; intms: number };
  pci: { config: Buffer; msixTable: Buffer };
  admin: AdminQueueRecord | null;
  adminDoorbells: [number, number];
  pendingAdminCqes: Buffer[];
  queues: QueueRecord[];
  completions: { sqid: number; cid: number; status: number; dw0: number }[];
  shadow: { dbs: bigint; ei: bigint } | null;
  events: { aers: number[]; pending: number[]; masked: number[]; changedNamespaces: number[] };
  features: {
    arbitration: number;
    powerManagement: number;
    errorRecovery: number;
    volatileWriteCache: number;
    queuesGranted: { nsq: number; ncq: number } | null;
    interruptCoalescing: number;
    writeAtomicity: number;
    asyncEventConfig: number;
    hostId: Buffer;
    hostIdExtended: boolean;
    tempThresholds: [number, number][];
    ivConfig: [number, number][];
  };
  namespaces: { nsid: number; blocks: bigint; blockSize: number; uuid: Buffer }[];
  errorLog: { count: bigint; entries: ErrorEntryRecord[] };
  smart: { readCommands: bigint; writeCommands: bigint; readBytes: bigint; writeBytes: bigint; mediaErrors: bigint; powerCycles: bigint; unsafeShutdowns: bigint; powerOnMs: bigint };
  /**
   * Version 2 (null from a version 1 record: the destination keeps its defaults). The Timestamp
   * as it read at capture, with its origin and Synch bit and the source's wall clock then (the
   * destination adds the downtime it can measure); the Host Behavior Support structure; KATO.
   */
  featuresV2: {
    timestampMs: bigint;
    timestampOrigin: number;
    timestampSynch: number;
    capturedAtMs: bigint;
    hostBehavior: Buffer;
    keepAliveTimeoutMs: number;
  } | null;
  /** Version 2: the blocks Write Uncorrectable marked, per namespace (none from version 1). */
  uncorrectable: { nsid: number; slba: bigint; nlb: bigint }[];
  /** Version 3: the namespaces whose LBA format has metadata (none from versions 1 and 2). */
  formats: NamespaceFormatRecord[];
  /** Version 4: reservations (null from older records: the destination keeps its own). */
  reservations: ReservationRecord | null;
}

/**
 * What a migrated controller carries of reservations (target/nvme/reservations.ts): its own
 * side (Reservation Notification log entries and count, Feature 82h masks) and the subsystem's
 * state of each namespace it has (registrants, type, holder, generation, PTPL).
 */
export interface ReservationRecord {
  controller: ControllerReservationState;
  namespaces: ReservationSnapshot[];
}

export interface NamespaceFormatRecord {
  nsid: number;
  /** Metadata bytes a block (8, 16, 32, 64, 128). */
  mdSize: number;
  /** FLBAS bit 4: interleaved with the data. */
  extended: boolean;
  piType: number;
  /** DPS bit 3: PI in the first 8 bytes of the metadata. */
  piFirst: boolean;
}

const TAGS = ['IDEN', 'REGS', 'PCIC', 'ADMQ', 'IOQS', 'SHDW', 'AENS', 'FEAT', 'NSID', 'ERRL', 'SMRT', 'FEAX', 'UNCR', 'NSFM', 'RESV'] as const;
type Tag = (typeof TAGS)[number];
/** The sections each version has (all required). */
const VERSION_TAGS: Record<number, readonly Tag[]> = { 1: TAGS.slice(0, 11), 2: TAGS.slice(0, 13), 3: TAGS.slice(0, 14), 4: TAGS };
/** Reservation Notification log entries a record may carry (a controller keeps 255). */
const MAX_NOTICES = 255;
const METADATA_SIZES = [8, 16, 32, 64, 128];
/** Upper bound of Write Uncorrectable ranges in a record (the engine keeps 1024 per namespace). */
const MAX_UNCORRECTABLE = 1024 * 1024;

function tagValue(t: string): number {
  return Buffer.from(t, 'ascii').readUInt32LE(0);
}
function tagName(v: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return /^[A-Z]{4}$/.test(b.toString('latin1')) ? b.toString('latin1') : `0x${v.toString(16)}`;
}

// ------------------------------------------------------------------ encode

/**
 * Encodes the record; `version` 1 writes what a version 1 target reads (without the version 2
 * sections), for tests of old records and for a destination that reads only version 1.
 */
export function encodeDeviceState(s: DeviceState, version = RECORD_VERSION): Buffer {
  if (!VERSION_TAGS[version]) throw new RecordError(`device state: cannot write version ${version}`);
  const sections: [Tag, Buffer][] = [];
  const sec = (t: Tag, f: (w: ByteWriter) => void) => {
    const w = new ByteWriter();
    f(w);
    sections.push([t, w.finish()]);
  };
  sec('IDEN', (w) => {
    const i = s.identity;
    w.u16(i.vendorId).u16(i.deviceId).u16(i.cntlid).str(i.serialNumber).str(i.modelNumber).str(i.subnqn);
    w.u32(i.maxQueueEntries).u32(i.maxIoQueues).u32(i.msixVectors).bool(i.mappedDoorbells);
  });
  sec('REGS', (w) => {
    const r = s.registers;
    w.u64(r.cap).u32(r.cc).u32(r.csts).u32(r.aqa).u64(r.asq).u64(r.acq).u32(r.intms);
  });
  sec('PCIC', (w) => w.blob(s.pci.config).blob(s.pci.msixTable));
  sec('ADMQ', (w) => {
    const a = s.admin;
    w.bool(a !== null);
    if (a) w.u64(a.sqBase).u64(a.cqBase).u32(a.sqSize).u32(a.cqSize).u32(a.sqHead).u32(a.sqTail).u32(a.cqTail).u32(a.cqHead).bool(a.phase);
    w.u32(s.adminDoorbells[0]).u32(s.adminDoorbells[1]);
    w.u32(s.pendingAdminCqes.length);
    for (const c of s.pendingAdminCqes) w.bytes(c);
  });
  sec('IOQS', (w) => {
    w.u32(s.queues.length);
    for (const q of s.queues) {
      w.u8(q.type === 'sq' ? 1 : 2).u16(q.qid).u16(q.cqid).u64(q.iova).u32(q.size).u32(q.head).u32(q.tail);
      w.bool(q.phase).bool(q.ien).u16(q.vector).u32(q.inflight).u32(q.doorbell);
    }
    w.u32(s.completions.length);
    for (const c of s.completions) w.u16(c.sqid).u16(c.cid).u16(c.status).u32(c.dw0);
  });
  sec('SHDW', (w) => {
    w.bool(s.shadow !== null);
    if (s.shadow) w.u64(s.shadow.dbs).u64(s.shadow.ei);
  });
  sec('AENS', (w) => {
    const e = s.events;
    w.u32(e.aers.length);
    e.aers.forEach((v) => w.u16(v));
    w.u32(e.pending.length);
    e.pending.forEach((v) => w.u32(v));
    w.u32(e.masked.length);
    e.masked.forEach((v) => w.u8(v));
    w.u32(e.changedNamespaces.length);
    e.changedNamespaces.forEach((v) => w.u32(v));
  });
  sec('FEAT', (w) => {
    const f = s.features;
    w.u32(f.arbitration).u32(f.powerManagement).u32(f.errorRecovery).u32(f.volatileWriteCache);
    w.bool(f.queuesGranted !== null);
    if (f.queuesGranted) w.u16(f.queuesGranted.nsq).u16(f.queuesGranted.ncq);
    w.u32(f.interruptCoalescing).u32(f.writeAtomicity).u32(f.asyncEventConfig).blob(f.hostId).bool(f.hostIdExtended);
    w.u32(f.tempThresholds.length);
    for (const [k, v] of f.tempThresholds) w.u16(k).u32(v);
    w.u32(f.ivConfig.length);
    for (const [k, v] of f.ivConfig) w.u16(k).u8(v);
  });
  sec('NSID', (w) => {
    w.u32(s.namespaces.length);
    for (const n of s.namespaces) w.u32(n.nsid).u64(n.blocks).u32(n.blockSize).blob(n.uuid);
  });
  sec('ERRL', (w) => {
    w.u64(s.errorLog.count).u32(s.errorLog.entries.length);
    for (const e of s.errorLog.entries) w.u64(e.errorCount).u16(e.sqid).u16(e.cid).u16(e.status).u16(e.paramLocation).u64(e.lba).u32(e.nsid);
  });
  sec('SMRT', (w) => {
    const m = s.smart;
    w.u64(m.readCommands).u64(m.writeCommands).u64(m.readBytes).u64(m.writeBytes).u64(m.mediaErrors).u64(m.powerCycles).u64(m.unsafeShutdowns).u64(m.powerOnMs);
  });
  if (version >= 2) {
    sec('FEAX', (w) => {
      const x = s.featuresV2 ?? { timestampMs: 0n, timestampOrigin: 0, timestampSynch: 0, capturedAtMs: 0n, hostBehavior: Buffer.alloc(512), keepAliveTimeoutMs: 0 };
      w.u64(x.timestampMs).u8(x.timestampOrigin).u8(x.timestampSynch).u64(x.capturedAtMs).blob(x.hostBehavior).u32(x.keepAliveTimeoutMs);
    });
    sec('UNCR', (w) => {
      w.u32(s.uncorrectable.length);
      for (const u of s.uncorrectable) w.u32(u.nsid).u64(u.slba).u64(u.nlb);
    });
  }
  if (version >= 3) {
    sec('NSFM', (w) => {
      w.u32(s.formats.length);
      for (const f of s.formats) w.u32(f.nsid).u32(f.mdSize).u8((f.extended ? 1 : 0) | (f.piFirst ? 2 : 0)).u8(f.piType);
    });
  }
  if (version >= 4) {
    sec('RESV', (w) => {
      const rv = s.reservations ?? { controller: { count: 0n, notices: [], defaultMask: 0, masks: [] }, namespaces: [] };
      const cr = rv.controller;
      w.u64(cr.count).u32(cr.notices.length);
      for (const n of cr.notices) w.u64(n.count).u8(n.type).u32(n.nsid);
      w.u8(cr.defaultMask).u32(cr.masks.length);
      for (const [nsid, m] of cr.masks) w.u32(nsid).u8(m);
      w.u32(rv.namespaces.length);
      for (const n of rv.namespaces) {
        w.u32(n.nsid).u32(n.generation).u8(n.type).str(n.holder ?? '').bool(n.ptpl).u32(n.registrants.length);
        for (const g of n.registrants) w.str(g.host).str(g.hostId).bool(g.extended).u64(g.key).u16(g.cntlid);
      }
    });
  }
  const body = new ByteWriter();
  for (const [t, b] of sections) body.u32(tagValue(t)).blob(b);
  const payload = body.finish();
  const h = Buffer.alloc(RECORD_HEADER_SIZE);
  h.writeUInt32LE(RECORD_MAGIC, 0);
  h.writeUInt16LE(version, 4);
  h.writeUInt16LE(RECORD_HEADER_SIZE, 6);
  h.writeUInt32LE(payload.length, 8);
  h.writeUInt32LE(crc32(payload), 12);
  h.writeUInt32LE(sections.length, 16);
  return Buffer.concat([h, payload]);
}

// ------------------------------------------------------------------ decode

/** Decodes and validates a record; throws RecordError with the reason. */
export function decodeDeviceState(buf: Buffer): DeviceState {
  if (buf.length < RECORD_HEADER_SIZE) throw new RecordError(`device state: ${buf.length} bytes, shorter than the ${RECORD_HEADER_SIZE}-byte header`);
  const magic = buf.readUInt32LE(0);
  if (magic !== RECORD_MAGIC) throw new RecordError(`device state: bad magic 0x${magic.toString(16)} (expected 0x${RECORD_MAGIC.toString(16)})`);
  const version = buf.readUInt16LE(4);
  if (!VERSION_TAGS[version]) throw new RecordError(`device state: version ${version} is not supported (this target reads versions ${RECORD_MIN_VERSION} to ${RECORD_VERSION})`);
  const tags = VERSION_TAGS[version]!;
  const hsize = buf.readUInt16LE(6);
  if (hsize !== RECORD_HEADER_SIZE) throw new RecordError(`device state: header size ${hsize} (expected ${RECORD_HEADER_SIZE})`);
  const plen = buf.readUInt32LE(8);
  if (buf.length < RECORD_HEADER_SIZE + plen) throw new RecordError(`device state: truncated: ${buf.length - RECORD_HEADER_SIZE} of ${plen} payload bytes`);
  if (buf.length > RECORD_HEADER_SIZE + plen) throw new RecordError(`device state: ${buf.length - RECORD_HEADER_SIZE - plen} bytes after the payload`);
  if (buf.readUInt32LE(20) !== 0) throw new RecordError(`device state: unknown flags 0x${buf.readUInt32LE(20).toString(16)}`);
  const payload = buf.subarray(RECORD_HEADER_SIZE);
  const crc = crc32(payload);
  if (crc !== buf.readUInt32LE(12)) throw new RecordError(`device state: CRC mismatch (record 0x${buf.readUInt32LE(12).toString(16)}, computed 0x${crc.toString(16)}): corrupted stream`);
  const nsec = buf.readUInt32LE(16);
  const outer = new ByteReader(payload, 'device state');
  const bodies = new Map<Tag, Buffer>();
  for (let i = 0; i < nsec; i++) {
    const tv = outer.u32();
    const name = tagName(tv);
    if (!(tags as readonly string[]).includes(name)) throw new RecordError(`device state: unknown section ${name}${(TAGS as readonly string[]).includes(name) ? ` in a version ${version} record` : ''}`);
    if (bodies.has(name as Tag)) throw new RecordError(`device state: section ${name} appears twice`);
    bodies.set(name as Tag, outer.blob(RECORD_MAX_SIZE));
  }
  outer.end();
  for (const t of tags) if (!bodies.has(t)) throw new RecordError(`device state: section ${t} is missing`);
  const rd = (t: Tag) => new ByteReader(bodies.get(t)!, `device state section ${t}`);

  let r = rd('IDEN');
  const identity = {
    vendorId: r.u16(),
    deviceId: r.u16(),
    cntlid: r.u16(),
    serialNumber: r.str(64),
    modelNumber: r.str(64),
    subnqn: r.str(256),
    maxQueueEntries: r.u32(),
    maxIoQueues: r.u32(),
    msixVectors: r.u32(),
    mappedDoorbells: r.bool(),
  };
  r.end();
  if (identity.msixVectors < 1 || identity.msixVectors > 2048) throw new RecordError(`device state: ${identity.msixVectors} MSI-X vectors`);
  if (identity.maxQueueEntries < 2 || identity.maxQueueEntries > 65536) throw new RecordError(`device state: max queue entries ${identity.maxQueueEntries}`);

  r = rd('REGS');
  const registers = { cap: r.u64(), cc: r.u32(), csts: r.u32(), aqa: r.u32(), asq: r.u64(), acq: r.u64(), intms: r.u32() };
  r.end();

  r = rd('PCIC');
  const pci = { config: r.blob(4096), msixTable: r.blob(16 * 2048) };
  r.end();
  if (pci.config.length !== 4096) throw new RecordError(`device state: config space of ${pci.config.length} bytes`);
  if (pci.msixTable.length !== 16 * identity.msixVectors) throw new RecordError(`device state: MSI-X table of ${pci.msixTable.length} bytes for ${identity.msixVectors} vectors`);

  r = rd('ADMQ');
  let admin: AdminQueueRecord | null = null;
  if (r.bool()) {
    admin = { sqBase: r.u64(), cqBase: r.u64(), sqSize: r.u32(), cqSize: r.u32(), sqHead: r.u32(), sqTail: r.u32(), cqTail: r.u32(), cqHead: r.u32(), phase: r.bool() };
    const a = admin;
    if (a.sqSize < 2 || a.sqSize > 4096 || a.cqSize < 2 || a.cqSize > 4096) throw new RecordError('device state: admin queue sizes out of range');
    if (a.sqHead >= a.sqSize || a.sqTail >= a.sqSize || a.cqHead >= a.cqSize || a.cqTail >= a.cqSize) throw new RecordError('device state: admin queue head/tail outside the queue');
  }
  const adminDoorbells: [number, number] = [r.u32(), r.u32()];
  const nCqes = r.count(4096, 'pending admin completions');
  const pendingAdminCqes: Buffer[] = [];
  for (let i = 0; i < nCqes; i++) pendingAdminCqes.push(r.bytes(16));
  r.end();

  r = rd('IOQS');
  const nq = r.count(2 * 1024, 'queues');
  const queues: QueueRecord[] = [];
  for (let i = 0; i < nq; i++) {
    const kind = r.u8();
    if (kind !== 1 && kind !== 2) throw new RecordError(`device state: queue type ${kind}`);
    queues.push({
      type: kind === 1 ? 'sq' : 'cq',
      qid: r.u16(),
      cqid: r.u16(),
      iova: r.u64(),
      size: r.u32(),
      head: r.u32(),
      tail: r.u32(),
      phase: r.bool(),
      ien: r.bool(),
      vector: r.u16(),
      inflight: r.u32(),
      doorbell: r.u32(),
    });
  }
  const nc = r.count(65536, 'completions');
  const completions = [];
  for (let i = 0; i < nc; i++) completions.push({ sqid: r.u16(), cid: r.u16(), status: r.u16(), dw0: r.u32() });
  r.end();
  validateQueues(queues, completions, identity);

  r = rd('SHDW');
  const shadow = r.bool() ? { dbs: r.u64(), ei: r.u64() } : null;
  r.end();

  r = rd('AENS');
  const events = {
    aers: Array.from({ length: r.count(256, 'AERs') }, () => r.u16()),
    pending: [] as number[],
    masked: [] as number[],
    changedNamespaces: [] as number[],
  };
  events.pending = Array.from({ length: r.count(4096, 'pending events') }, () => r.u32());
  events.masked = Array.from({ length: r.count(8, 'masked event types') }, () => r.u8());
  events.changedNamespaces = Array.from({ length: r.count(1024, 'changed namespaces') }, () => r.u32());
  r.end();

  r = rd('FEAT');
  const features = {
    arbitration: r.u32(),
    powerManagement: r.u32(),
    errorRecovery: r.u32(),
    volatileWriteCache: r.u32(),
    queuesGranted: r.bool() ? { nsq: r.u16(), ncq: r.u16() } : null,
    interruptCoalescing: r.u32(),
    writeAtomicity: r.u32(),
    asyncEventConfig: r.u32(),
    hostId: r.blob(16),
    hostIdExtended: r.bool(),
    tempThresholds: [] as [number, number][],
    ivConfig: [] as [number, number][],
  };
  features.tempThresholds = Array.from({ length: r.count(64, 'temperature thresholds') }, () => [r.u16(), r.u32()] as [number, number]);
  features.ivConfig = Array.from({ length: r.count(2048, 'vector configurations') }, () => [r.u16(), r.u8()] as [number, number]);
  r.end();

  r = rd('NSID');
  const namespaces = Array.from({ length: r.count(1024, 'namespaces') }, () => ({ nsid: r.u32(), blocks: r.u64(), blockSize: r.u32(), uuid: r.blob(16) }));
  r.end();

  r = rd('ERRL');
  const errCount = r.u64();
  const errorLog = {
    count: errCount,
    entries: Array.from({ length: r.count(256, 'error log entries') }, () => ({
      errorCount: r.u64(),
      sqid: r.u16(),
      cid: r.u16(),
      status: r.u16(),
      paramLocation: r.u16(),
      lba: r.u64(),
      nsid: r.u32(),
    })),
  };
  r.end();

  r = rd('SMRT');
  const smart = { readCommands: r.u64(), writeCommands: r.u64(), readBytes: r.u64(), writeBytes: r.u64(), mediaErrors: r.u64(), powerCycles: r.u64(), unsafeShutdowns: r.u64(), powerOnMs: r.u64() };
  r.end();

  let featuresV2: DeviceState['featuresV2'] = null;
  const uncorrectable: DeviceState['uncorrectable'] = [];
  if (version >= 2) {
    r = rd('FEAX');
    featuresV2 = { timestampMs: r.u64(), timestampOrigin: r.u8(), timestampSynch: r.u8(), capturedAtMs: r.u64(), hostBehavior: r.blob(512), keepAliveTimeoutMs: r.u32() };
    r.end();
    const x = featuresV2;
    if (x.timestampMs > 0xffffffffffffn || x.timestampOrigin > 7 || x.timestampSynch > 1) throw new RecordError('device state: Timestamp out of range');
    if (x.hostBehavior.length !== 512) throw new RecordError(`device state: Host Behavior Support of ${x.hostBehavior.length} bytes`);
    r = rd('UNCR');
    const n = r.count(MAX_UNCORRECTABLE, 'uncorrectable ranges');
    for (let i = 0; i < n; i++) {
      const u = { nsid: r.u32(), slba: r.u64(), nlb: r.u64() };
      if (!namespaces.some((ns) => ns.nsid === u.nsid)) throw new RecordError(`device state: uncorrectable blocks of namespace ${u.nsid}, which the record does not have`);
      const ns = namespaces.find((m) => m.nsid === u.nsid)!;
      if (u.nlb === 0n || u.slba + u.nlb > ns.blocks) throw new RecordError(`device state: uncorrectable blocks ${u.slba}+${u.nlb} outside namespace ${u.nsid}`);
      uncorrectable.push(u);
    }
    r.end();
  }
  const formats: NamespaceFormatRecord[] = [];
  if (version >= 3) {
    r = rd('NSFM');
    const n = r.count(1024, 'namespace formats');
    for (let i = 0; i < n; i++) {
      const f = { nsid: r.u32(), mdSize: r.u32(), flags: r.u8(), piType: r.u8() };
      const where = `device state: namespace ${f.nsid}'s format`;
      if (!namespaces.some((ns) => ns.nsid === f.nsid)) throw new RecordError(`${where}: the record has no such namespace`);
      if (formats.some((x) => x.nsid === f.nsid)) throw new RecordError(`${where} appears twice`);
      if (!METADATA_SIZES.includes(f.mdSize)) throw new RecordError(`${where}: metadata size ${f.mdSize}`);
      if (f.flags > 3 || f.piType > 3) throw new RecordError(`${where}: flags ${f.flags}, PI type ${f.piType}`);
      formats.push({ nsid: f.nsid, mdSize: f.mdSize, extended: (f.flags & 1) !== 0, piType: f.piType, piFirst: (f.flags & 2) !== 0 });
    }
    r.end();
  }

  let reservations: ReservationRecord | null = null;
  if (version >= 4) {
    r = rd('RESV');
    const count = r.u64();
    const notices = Array.from({ length: r.count(MAX_NOTICES, 'reservation notices') }, () => ({ count: r.u64(), type: r.u8(), nsid: r.u32() }));
    for (const n of notices) if (n.type < 1 || n.type > 3) throw new RecordError(`device state: reservation notice of type ${n.type}`);
    const defaultMask = r.u8();
    const masks = Array.from({ length: r.count(1024, 'reservation masks') }, () => [r.u32(), r.u8()] as [number, number]);
    const list: ReservationSnapshot[] = [];
    const n = r.count(1024, 'namespace reservations');
    for (let i = 0; i < n; i++) {
      const x: ReservationSnapshot = { nsid: r.u32(), generation: r.u32(), type: r.u8(), holder: r.str(256) || null, ptpl: r.bool(), registrants: [] };
      const regs = r.count(MAX_REGISTRANTS, 'registrants');
      for (let j = 0; j < regs; j++) x.registrants.push({ host: r.str(256), hostId: r.str(64), extended: r.bool(), key: r.u64(), cntlid: r.u16() });
      const where = `device state: reservation of namespace ${x.nsid}`;
      if (!namespaces.some((ns) => ns.nsid === x.nsid)) throw new RecordError(`${where}: the record has no such namespace`);
      if (list.some((y) => y.nsid === x.nsid)) throw new RecordError(`${where} appears twice`);
      try {
        checkSnapshot(x);
      } catch (err) {
        throw new RecordError(`${where}: ${(err as Error).message}`);
      }
      list.push(x);
    }
    r.end();
    reservations = { controller: { count, notices, defaultMask, masks }, namespaces: list };
  }

  return { identity, registers, pci, admin, adminDoorbells, pendingAdminCqes, queues, completions, shadow, events, features, namespaces, errorLog, smart, featuresV2, uncorrectable, formats, reservations };
}

function validateQueues(queues: QueueRecord[], completions: { sqid: number }[], id: DeviceState['identity']): void {
  const cqs = new Map<number, QueueRecord>();
  const sqs = new Map<number, QueueRecord>();
  for (const q of queues) {
    const where = `${q.type.toUpperCase()} ${q.qid}`;
    if (q.qid === 0 || q.qid > id.maxIoQueues) throw new RecordError(`device state: ${where}: queue id outside 1..${id.maxIoQueues}`);
    if (q.size < 2 || q.size > id.maxQueueEntries) throw new RecordError(`device state: ${where}: size ${q.size} outside 2..${id.maxQueueEntries}`);
    if (q.head >= q.size || q.tail >= q.size) throw new RecordError(`device state: ${where}: head ${q.head}/tail ${q.tail} outside a queue of ${q.size}`);
    if (q.doorbell >= q.size) throw new RecordError(`device state: ${where}: doorbell ${q.doorbell} outside a queue of ${q.size}`);
    if (q.iova % 4096n !== 0n) throw new RecordError(`device state: ${where}: base 0x${q.iova.toString(16)} not page-aligned`);
    const set = q.type === 'cq' ? cqs : sqs;
    if (set.has(q.qid)) throw new RecordError(`device state: ${where} appears twice`);
    set.set(q.qid, q);
    if (q.type === 'cq' && q.vector >= id.msixVectors) throw new RecordError(`device state: ${where}: vector ${q.vector} beyond ${id.msixVectors} MSI-X vectors`);
  }
  for (const q of sqs.values()) if (!cqs.has(q.cqid)) throw new RecordError(`device state: SQ ${q.qid} refers to missing CQ ${q.cqid}`);
  for (const c of completions) if (!sqs.has(c.sqid)) throw new RecordError(`device state: completion for missing SQ ${c.sqid}`);
}

// Typed loader for the native addon (build/Release/vnvme.node, or VNVME_NATIVE for the ASan build).
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const require = createRequire(import.meta.url);

export interface NativeListener {
  readonly fd: number;
  start(): void;
  stop(): void;
  close(): void;
}
export interface NativeChannel {
  readonly fd: number;
  send(buf: Buffer, fds?: number[]): void;
  close(): void;
  setMaxMessageSize(size: number): void;
  /** fds one message may carry; more are closed on arrival and counted (onMessage's third argument). */
  setMaxFds(count: number): void;
  /** ms since the first byte of an unfinished incoming message (0 between messages). */
  readonly partialAge: number;
  /**
   * 4-byte REGION_WRITEs to [base, base+size) of `region` go straight to the engine (NVMe
   * message-mode doorbells, no JavaScript hop) while enabled; the engine may decline one.
   */
  setFastWrites(engine: NativeEngine | null, region: number, base: bigint, size: number): void;
  /** The owner has nothing queued: a fast write cannot overtake an earlier message. */
  setFastWritesEnabled(on: boolean): void;
  /** Writes served natively so far. */
  readonly fastWrites: number;
  pause(): void;
  resume(): void;
}
export interface NativeSharedMemory {
  readonly size: number;
  read(offset: number, length: number): Buffer;
  write(offset: number, data: Buffer): void;
  fill(offset: number, length: number, byte: number): void;
  readU32(offset: number): number;
  writeU32(offset: number, value: number): void;
  readU64(offset: number): bigint;
  writeU64(offset: number, value: bigint | number): void;
  unmap(): void;
}
export type DmaCheck = 'ok' | 'unmapped' | 'nofd' | 'denied';
export interface NativeDmaTable {
  map(fd: number, fileOffset: number | bigint, iova: number | bigint, size: number | bigint, prot: number): void;
  unmap(iova: number | bigint, size: number | bigint): boolean;
  unmapAll(): number;
  read(iova: number | bigint, length: number): Buffer;
  write(iova: number | bigint, data: Buffer): void;
  check(iova: number | bigint, length: number, access: number): DmaCheck;
  list(): { iova: number; size: number; prot: number; mapped: boolean }[];
  /** Number of regions (O(1); list() builds every entry). */
  count(): number;
  /** A region with exactly this range is registered (O(log n)). */
  has(iova: bigint, size: bigint): boolean;
  startDirtyLog(pageSize: number): void;
  stopDirtyLog(): void;
  dirtyBitmap(iova: number | bigint, size: number | bigint, pageSize: number, clear: boolean): Buffer;
  markDirty(iova: number | bigint, length: number): void;
}

export interface NativeNamespaceSpec {
  kind: 'memory' | 'file' | 'null' | 'upcall';
  fd?: number;
  size: number;
  blockSize: number;
  writeCache?: boolean;
  /** The LBA format's metadata (memory only: the memfd holds it after `size` bytes of data). */
  metadata?: NativeMetadataFormat;
  /** Zoned (ZNS; memory without metadata): zone size (a power of two) and capacity in blocks, Max Open/Active zones (0: no limit). */
  zoned?: NativeZoneLayout;
}
export interface NativeZoneLayout {
  zoneSize: number;
  zoneCapacity: number;
  maxOpenZones: number;
  maxActiveZones: number;
}
/** Metadata bytes a block, extended (FLBAS bit 4) or separate, PI type 0-3 and where it sits (DPS bit 3). */
export interface NativeMetadataFormat {
  size: number;
  extended: boolean;
  piType: number;
  piFirst: boolean;
}
export interface NativeEngine {
  start(): void;
  stop(): void;
  pause(): void;
  resume(): void;
  createCq(qid: number, iova: bigint, entries: number, vector: number, ien: boolean): void;
  createSq(qid: number, cqid: number, iova: bigint, entries: number): void;
  deleteSq(qid: number): void;
  deleteCq(qid: number): void;
  resetQueues(): void;
  setNamespace(nsid: number, spec: NativeNamespaceSpec | null): void;
  setVectorFd(vector: number, fd: number): void;
  doorbell(index: number, value: number): void;
  complete(sqid: number, cid: number, status: number, dw0: number): void;
  setDoorbellMemory(mem: NativeSharedMemory | null, watchAdmin: boolean): void;
  setMdts(bytes: number): void;
  setCoalescing(thr: number, time100us: number, vectorsWithoutCoalescing: number[]): void;
  setShadow(dbs: bigint | null, eventIdx?: bigint): void;
  /** Sleep whenever idle (nvmf_tgt --interrupt-mode); shadow doorbells keep their event indexes armed. */
  setInterruptMode(on: boolean): void;
  /** Live I/O queues, doorbell values and unposted upcall completions (engine parked). */
  migrationState(): EngineMigrationState;
  /** Rebuilds queues from migrationState(); validates everything first. */
  restoreQueues(state: EngineMigrationState): void;
  /** Blocks of the namespace marked by Write Uncorrectable read normally again (Format NVM). */
  clearUncorrectable(nsid: number): void;
  /** What this controller's host may not do to the namespace under its reservation (constants.reservation bits). */
  setReservationAccess(nsid: number, blocks: number): void;
  stats(): Record<string, number>;
  namespaceStats(nsid: number): { readOps: number; readBytes: number; writeOps: number; writeBytes: number; unmapOps: number; unmapBytes: number; flushOps: number; writeZeroesOps: number };
  queueState(): Array<Record<string, number | bigint | boolean | string>>;
}
export interface EngineCqState {
  type: 'cq';
  qid: number;
  iova: bigint;
  size: number;
  head: number;
  tail: number;
  phase: boolean;
  ien: boolean;
  vector: number;
  doorbell: number;
}
export interface EngineSqState {
  type: 'sq';
  qid: number;
  cqid: number;
  iova: bigint;
  size: number;
  head: number;
  inflight: number;
  doorbell: number;
}
export interface EngineMigrationState {
  queues: (EngineCqState | EngineSqState)[];
  adminDoorbells: [number, number];
  completions: { sqid: number; cid: number; status: number; dw0: number }[];
  /** Shadow doorbell buffers (restoreQueues only; null/absent = none). */
  shadow?: { dbs: bigint; ei: bigint } | null;
  /** Admin SQ tail / CQ head TypeScript has processed (restoreQueues; default adminDoorbells). */
  adminSeen?: [number, number];
  /** Blocks marked by Write Uncorrectable (absent from an older target's state: none). */
  uncorrectable?: { nsid: number; slba: bigint; nlb: bigint }[];
}

export interface PerfConfig {
  memory: NativeSharedMemory;
  memIova: bigint;
  sqIova: bigint;
  cqIova: bigint;
  bufIova: bigint;
  qsize: number;
  qid: number;
  nsid: number;
  blockSize: number;
  ioSize: number;
  qd: number;
  readPct: number;
  random: boolean;
  seconds: number;
  nsBlocks: number;
  doorbells?: NativeSharedMemory;
  sockFd?: number;
  /** Shadow doorbells (Doorbell Buffer Config): the two buffers in the initiator's memory. */
  shadowDbsIova?: bigint;
  shadowEiIova?: bigint;
  sqTail: number;
  cqHead: number;
  phase: boolean;
  cidBase: number;
}
export interface PerfResult {
  ios: number;
  reads: number;
  writes: number;
  errors: number;
  bytes: number;
  elapsed: number;
  minNs: number;
  maxNs: number;
  avgNs: number;
  /** Real doorbell writes, and shadow doorbell updates that needed none (event index). */
  doorbellWrites: number;
  doorbellsSkipped: number;
  sqTail: number;
  cqHead: number;
  phase: boolean;
  percentilesNs: Record<string, number>;
  histogram: [number, number][];
  error?: string;
}

export interface NativeAddon {
  runPerf(cfg: PerfConfig): Promise<PerfResult>;
  NvmeEngine: new (dma: NativeDmaTable, onUpcall: (kind: number, qid: number, data: Buffer) => void) => NativeEngine;
  Listener: new (fd: number, onConnection: (fd: number) => void) => NativeListener;
  Channel: new (fd: number, onMessage: (msg: Buffer, fds: number[], droppedFds: number) => void, onClose: (reason: string) => void) => NativeChannel;
  SharedMemory: new (fd: number, size: number, offset?: number) => NativeSharedMemory;
  DmaTable: new () => NativeDmaTable;
  FdWatcher: new (fd: number, onReadable: () => void) => { close(): void };
  listenUnix(path: string, mode: number): number;
  connectUnix(path: string): number;
  socketPair(): [number, number];
  /** hugetlb: on 2 MiB huge pages (size a multiple of 2 MiB; the pages are taken at the first mapping). */
  memfdCreate(name: string, size: number, hugetlb?: boolean): number;
  createUnlinkedFile(path: string, size: number): number;
  /** Seals a memfd's size (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL). */
  memfdSealSize(fd: number): void;
  closeFd(fd: number): void;
  eventfdCreate(): number;
  eventfdSignal(fd: number): void;
  eventfdConsume(fd: number): number;
  /** Throws EINVAL unless `fd` is an eventfd; makes it non-blocking (interrupt fds from a client). */
  eventfdAdopt(fd: number): void;
  sanitized: boolean;
  /**
   * The one data-pointer walker (native/nvme-data.h) for a command's PRPs or SGL. Lists in
   * memory shared without an fd come from `pages`; when one is missing, `need` says which, and
   * the caller asks again with it added (target/nvme/transfer.ts does).
   */
  walkData(
    table: NativeDmaTable,
    sqe: Buffer,
    length: number,
    toHost: boolean,
    allowSgl: boolean,
    pages?: [bigint, Buffer][],
  ): { status: number; segments: { iova: bigint; len: number; bucket: boolean }[]; need?: { iova: bigint; len: number } };
  /** Numbers both sides of the boundary use, from their one home in native/. */
  constants: NativeConstants;
}

export interface NativeConstants {
  /** NVMe statuses the engine completes with (SC | SCT << 8 | DNR << 14). */
  status: Record<
    | 'SUCCESS'
    | 'INVALID_OPCODE'
    | 'INVALID_FIELD'
    | 'DATA_TRANSFER_ERROR'
    | 'ABORTED_FAILED_FUSED'
    | 'ABORTED_MISSING_FUSED'
    | 'COMMAND_SIZE_LIMIT_EXCEEDED'
    | 'INTERNAL_ERROR'
    | 'INVALID_NAMESPACE'
    | 'INVALID_SGL_SEGMENT_DESCRIPTOR'
    | 'INVALID_NUMBER_OF_SGL_DESCRIPTORS'
    | 'DATA_SGL_LENGTH_INVALID'
    | 'SGL_DESCRIPTOR_TYPE_INVALID'
    | 'INVALID_PRP_OFFSET'
    | 'SGL_OFFSET_INVALID'
    | 'LBA_OUT_OF_RANGE'
    | 'RESERVATION_CONFLICT'
    | 'WRITE_FAULT'
    | 'UNRECOVERED_READ_ERROR'
    | 'COMPARE_FAILURE',
    number
  >;
  /** Upcall kinds from the engine thread. */
  upcall: { BDEV_OP: number; ADMIN_DOORBELL: number; EVENT: number; ERROR: number; IO_COMMAND: number };
  /** Reservation access bits (setReservationAccess): the read and the write command groups. */
  reservation: { BLOCKS_READ: number; BLOCKS_WRITE: number };
  /** Event info bytes beyond the spec's, in kind EVENT upcalls. */
  event: { SQ_NOT_MAPPED: number; CLIENT_MEMORY_FAULT: number };
  bdevOp: { HEADER_SIZE: number; ENTRY_SIZE: number; DEALLOCATE: number; FUSED: number };
  /** What the engine enforces and Identify reports: Copy's MSRC + 1 and MSSRL/MCL in bytes, VSL in bytes. */
  limits: { COPY_MAX_RANGES: number; COPY_MAX_BYTES: number; VERIFY_MAX_BYTES: number; MAX_UNCORRECTABLE_RANGES: number; MAX_NSID: number };
}

/** A validated I/O command for a namespace served by a TypeScript bdev (upcall BDEV_OP). */
export interface BdevOp {
  opcode: number;
  cid: number;
  sqid: number;
  nsid: number;
  slba: bigint;
  nlb: number;
  /** Bytes the command transfers (Read/Write/Compare) or zeroes (Write Zeroes). */
  bytes: number;
  /** Data segments in guest memory (Read, Write, Compare). */
  segments: { iova: bigint; len: number; bucket: boolean }[];
  /** Dataset Management: the ranges to deallocate (only sent when AD is set); Copy: its source ranges. */
  ranges: { slba: bigint; nlb: number }[];
  /** Flags (bdevOp.DEALLOCATE, bdevOp.FUSED). */
  flags: number;
  /**
   * A fused Compare and Write (flags FUSED): the Write's CID. `segments` are the Compare's data
   * (`bytes` of them) followed by the Write's.
   */
  secondCid: number;
}

const path = process.env.VNVME_NATIVE ? resolve(root, process.env.VNVME_NATIVE) : resolve(root, 'build/Release/vnvme.node');
export const native: NativeAddon = require(path) as NativeAddon;

/** Decodes a BDEV_OP upcall record (layout in native/engine.h). */
export function decodeBdevOp(b: Buffer): BdevOp {
  const { HEADER_SIZE, ENTRY_SIZE } = native.constants.bdevOp;
  if (b.length < HEADER_SIZE) throw new Error(`bdev op record of ${b.length} bytes`);
  const opcode = b[0]!;
  const count = b.readUInt32LE(20);
  if (b.length < HEADER_SIZE + ENTRY_SIZE * count) throw new Error(`bdev op record: ${count} entries in ${b.length} bytes`);
  const op: BdevOp = {
    opcode,
    cid: b.readUInt16LE(2),
    nsid: b.readUInt32LE(4),
    slba: b.readBigUInt64LE(8),
    nlb: b.readUInt32LE(16),
    bytes: Number(b.readBigUInt64LE(24)),
    sqid: b.readUInt16LE(32),
    segments: [],
    ranges: [],
    flags: b[1]!,
    secondCid: b.readUInt16LE(34),
  };
  for (let i = 0; i < count; i++) {
    const at = HEADER_SIZE + ENTRY_SIZE * i;
    if (opcode === 0x09 || opcode === 0x19) op.ranges.push({ slba: b.readBigUInt64LE(at), nlb: b.readUInt32LE(at + 8) });
    else op.segments.push({ iova: b.readBigUInt64LE(at), len: b.readUInt32LE(at + 8), bucket: (b.readUInt32LE(at + 12) & 1) !== 0 });
  }
  return op;
}

/** The errno a native call failed with (positive), or undefined for other errors. */
export function errnoOf(err: unknown): number | undefined {
  const e = err as { errno?: unknown };
  return typeof e?.errno === 'number' ? e.errno : undefined;
}

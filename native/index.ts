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
  /** Live I/O queues, doorbell values and unposted upcall completions (engine parked). */
  migrationState(): EngineMigrationState;
  /** Rebuilds queues from migrationState(); validates everything first. */
  restoreQueues(state: EngineMigrationState): void;
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
}
/** Upcall kinds from the engine thread. */
export const UPCALL_COMMAND = 1;
export const UPCALL_ADMIN_DOORBELL = 2;
export const UPCALL_EVENT = 3;

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
  memfdCreate(name: string, size: number): number;
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
}

const path = process.env.VNVME_NATIVE ? resolve(root, process.env.VNVME_NATIVE) : resolve(root, 'build/Release/vnvme.node');
export const native: NativeAddon = require(path) as NativeAddon;

/** The errno a native call failed with (positive), or undefined for other errors. */
export function errnoOf(err: unknown): number | undefined {
  const e = err as { errno?: unknown };
  return typeof e?.errno === 'number' ? e.errno : undefined;
}

// Admin commands (NVMe Base 2.0 section 5), one function per command, reached from one
// dispatch. Each returns completion dword 0, 'deferred' (AER: completes later), or throws
// NvmeError with the status the spec names.
import { AdminOpcode, AsyncEvent, Feature, LogPage, NvmeError, PAGE_SIZE, Status } from './constants.js';
import type { NvmeController } from './controller.js';
import { commandSegments, gather, scatter } from './transfer.js';
import { CSI_NVM, CSI_ZNS, commonNamespaceCapabilities, controllerList, identifyController, identifyNamespace, ioCommandSetData, namespaceDescriptors, namespaceList, nvmControllerData, zonedControllerData, zonedNamespaceData } from './identify.js';
import { featureDataBytes } from './features.js';
import { changedNamespaceLog, commandEffectsLog, dataUnits, firmwareSlotLog, smartLog } from './logs.js';
import { managedNamespaces, namespaceAttachment, namespaceManagement } from './ns-management.js';

type Result = number | void | 'deferred';

/** The controller's composite temperature (a constant 40 degrees Celsius). */
const COMPOSITE_TEMPERATURE_K = 313;

export async function executeAdmin(c: NvmeController, sqe: Buffer): Promise<Result> {
  const opc = sqe[0]!;
  const fuse = sqe[1]! & 3;
  if (fuse) throw new NvmeError(Status.INVALID_FIELD, 'fused admin commands are not supported');
  switch (opc) {
    case AdminOpcode.IDENTIFY:
      return identify(c, sqe);
    case AdminOpcode.CREATE_CQ:
      return createCq(c, sqe);
    case AdminOpcode.CREATE_SQ:
      return createSq(c, sqe);
    case AdminOpcode.DELETE_SQ:
      return deleteSq(c, sqe);
    case AdminOpcode.DELETE_CQ:
      return deleteCq(c, sqe);
    case AdminOpcode.GET_FEATURES:
      return getFeatures(c, sqe);
    case AdminOpcode.SET_FEATURES:
      return setFeatures(c, sqe);
    case AdminOpcode.GET_LOG_PAGE:
      return getLogPage(c, sqe);
    case AdminOpcode.ASYNC_EVENT_REQUEST:
      return asyncEventRequest(c, sqe);
    case AdminOpcode.ABORT:
      return abort(c, sqe);
    case AdminOpcode.KEEP_ALIVE:
      c.keepAlive.restart(); // NVMe Base 2.0 5.15 (keep-alive.ts)
      return 0;
    case AdminOpcode.DOORBELL_BUFFER_CONFIG:
      return doorbellBufferConfig(c, sqe);
    case AdminOpcode.FORMAT_NVM:
      return formatNvm(c, sqe);
    case AdminOpcode.NS_MANAGEMENT:
      return namespaceManagement(c, sqe);
    case AdminOpcode.NS_ATTACHMENT:
      return namespaceAttachment(c, sqe);
    default:
      throw new NvmeError(Status.INVALID_OPCODE, `admin opcode 0x${opc.toString(16)}`);
  }
}

const dw = (sqe: Buffer, n: number) => sqe.readUInt32LE(4 * n);

async function toHost(c: NvmeController, sqe: Buffer, data: Buffer): Promise<void> {
  const segs = await commandSegments(c.ctx!.dma, sqe, data.length, true, false);
  await scatter(c.ctx!.dma, segs, data);
}

async function fromHost(c: NvmeController, sqe: Buffer, len: number): Promise<Buffer> {
  const segs = await commandSegments(c.ctx!.dma, sqe, len, false, false);
  return gather(c.ctx!.dma, segs);
}

// ------------------------------------------------------------------ Identify (06h)

async function identify(c: NvmeController, sqe: Buffer): Promise<Result> {
  const cns = dw(sqe, 10) & 0xff;
  const cntid = dw(sqe, 10) >>> 16;
  const nsid = dw(sqe, 1);
  const csi = dw(sqe, 11) >>> 24;
  const nn = c.opts.identity.maxNamespaces;
  // Namespace Management's CNS values (10h-13h) and NSID FFFFFFFFh for CNS 00h exist only
  // with it (NVMe Base 2.0 5.17.2, Figure 273: mandatory if OACS bit 3 is set).
  const managed = managedNamespaces(c);
  const validNsid = () => {
    if (nsid === 0 || (nsid > nn && nsid !== 0xffffffff)) throw new NvmeError(Status.INVALID_NAMESPACE, `NSID ${nsid}`);
    if (nsid === 0xffffffff) throw new NvmeError(Status.INVALID_NAMESPACE, 'NSID FFFFFFFFh is not allowed here');
  };
  const activeNs = () => {
    if (nsid === 0xffffffff && !managed) throw new NvmeError(Status.INVALID_NAMESPACE, 'NSID FFFFFFFFh without namespace management');
    validNsid();
    return c.namespaces.get(nsid);
  };
  let data: Buffer;
  switch (cns) {
    case 0x00: {
      if (nsid === 0xffffffff && managed) {
        data = commonNamespaceCapabilities(managed.lbaFormats());
        break;
      }
      const ns = activeNs();
      data = ns ? identifyNamespace(ns, { ptpl: c.reservations.domain.ptplCapable(nsid) }) : Buffer.alloc(4096); // inactive: zeroes
      break;
    }
    case 0x01:
      data = identifyController(c.opts.identity, managed?.capacity());
      break;
    case 0x02:
      if (nsid >= 0xfffffffe) throw new NvmeError(Status.INVALID_NAMESPACE, `NSID ${nsid}`);
      data = namespaceList([...c.namespaces.keys()], nsid);
      break;
    case 0x03: {
      const ns = activeNs();
      if (!ns) throw new NvmeError(Status.INVALID_NAMESPACE, `NSID ${nsid} is not active`);
      data = namespaceDescriptors(ns);
      break;
    }
    case 0x05: {
      // The Zoned Namespace command set's data only for a zoned namespace (ZNS 1.1 4.1.5.1):
      // another namespace is Invalid I/O Command Set there (NVMe Base 2.0 5.17.2).
      const zoned = csi === CSI_ZNS && c.ioCommandSets();
      if (csi !== CSI_NVM && !zoned) throw new NvmeError(Status.INVALID_FIELD, `CSI ${csi}`);
      const ns = activeNs();
      data = Buffer.alloc(4096);
      if (zoned && ns) {
        if (!ns.bdev.zoned) throw new NvmeError(Status.INVALID_IO_COMMAND_SET, `namespace ${nsid} is not zoned`);
        data = zonedNamespaceData(ns);
      }
      break;
    }
    case 0x06:
      if (csi === CSI_ZNS && c.ioCommandSets()) data = zonedControllerData();
      else if (csi !== CSI_NVM) throw new NvmeError(Status.INVALID_FIELD, `CSI ${csi}`);
      else data = nvmControllerData();
      break;
    case 0x1c: // I/O Command Set data structure: with CAP.CSS bit 6 only
      if (!c.ioCommandSets()) throw new NvmeError(Status.INVALID_FIELD, 'CNS 1Ch without I/O command sets (CAP.CSS bit 6)');
      data = ioCommandSetData();
      break;
    case 0x10: // Allocated Namespace ID list
      if (!managed) throw new NvmeError(Status.INVALID_FIELD, 'CNS 10h without namespace management');
      if (nsid >= 0xfffffffe) throw new NvmeError(Status.INVALID_NAMESPACE, `NSID ${nsid}`);
      data = namespaceList(managed.allocated().map((a) => a.view.nsid), nsid);
      break;
    case 0x11: {
      // Identify Namespace for an allocated NSID, attached here or not (unallocated: zeroes).
      if (!managed) throw new NvmeError(Status.INVALID_FIELD, 'CNS 11h without namespace management');
      validNsid();
      const a = managed.allocated().find((x) => x.view.nsid === nsid);
      data = a ? identifyNamespace(a.view) : Buffer.alloc(4096);
      break;
    }
    case 0x12: {
      // Namespace Attached Controller list: the controllers NSID is attached to, from CNTID on.
      if (!managed) throw new NvmeError(Status.INVALID_FIELD, 'CNS 12h without namespace management');
      validNsid();
      const a = managed.allocated().find((x) => x.view.nsid === nsid);
      data = controllerList(a?.controllers ?? [], cntid);
      break;
    }
    case 0x13: // Controller list: every controller of the NVM subsystem, from CNTID on
      if (!managed) throw new NvmeError(Status.INVALID_FIELD, 'CNS 13h without namespace management');
      data = controllerList(managed.controllers(), cntid);
      break;
    default:
      throw new NvmeError(Status.INVALID_FIELD, `CNS 0x${cns.toString(16)} is not supported`);
  }
  await toHost(c, sqe, data);
}

// ------------------------------------------------------------------ queues (01h, 00h, 05h, 04h)

function checkQueueMemory(c: NvmeController, iova: bigint, bytes: number, what: string): void {
  if (iova & BigInt(PAGE_SIZE - 1)) throw new NvmeError(Status.INVALID_FIELD, `${what} base not page aligned`);
  if (c.ctx!.dma.table.check(iova, bytes, 3) !== 'ok') throw new NvmeError(Status.INVALID_FIELD, `${what} is not in shared guest memory`);
}

function createCq(c: NvmeController, sqe: Buffer): Result {
  const qid = dw(sqe, 10) & 0xffff;
  const qsize = (dw(sqe, 10) >>> 16) + 1;
  const pc = dw(sqe, 11) & 1;
  const ien = (dw(sqe, 11) & 2) !== 0;
  const iv = dw(sqe, 11) >>> 16;
  const granted = c.features.grantedQueues().ncq + 1;
  // QID 0 (the admin CQ), beyond the CQs granted, or in use: Invalid Queue Identifier (5.5).
  if (qid === 0 || qid > granted || c.cqs.has(qid)) throw new NvmeError(Status.INVALID_QUEUE_IDENTIFIER, `CQ ${qid}`);
  if (qsize < 2 || qsize > c.opts.maxQueueEntries) throw new NvmeError(Status.INVALID_QUEUE_SIZE, `CQ size ${qsize}`);
  if (!pc) throw new NvmeError(Status.INVALID_FIELD, 'physically non-contiguous CQ (CAP.CQR=1)');
  if (iv >= c.opts.msixVectors) throw new NvmeError(Status.INVALID_INTERRUPT_VECTOR, `vector ${iv}`);
  const iova = sqe.readBigUInt64LE(24);
  checkQueueMemory(c, iova, qsize * 16, 'CQ');
  c.io.createCq(qid, iova, qsize, iv, ien);
  c.cqs.set(qid, { qid, size: qsize, iova, vector: iv, ien });
}

function createSq(c: NvmeController, sqe: Buffer): Result {
  const qid = dw(sqe, 10) & 0xffff;
  const qsize = (dw(sqe, 10) >>> 16) + 1;
  const pc = dw(sqe, 11) & 1;
  const cqid = dw(sqe, 11) >>> 16;
  const granted = c.features.grantedQueues();
  if (qid === 0 || qid > granted.nsq + 1 || c.sqs.has(qid)) throw new NvmeError(Status.INVALID_QUEUE_IDENTIFIER, `SQ ${qid}`);
  if (qsize < 2 || qsize > c.opts.maxQueueEntries) throw new NvmeError(Status.INVALID_QUEUE_SIZE, `SQ size ${qsize}`);
  // A CQID that can never name an I/O CQ (0, the admin CQ, or beyond the CQs granted) is an
  // invalid queue identifier; Completion Queue Invalid is for an in-range CQ not created
  // (NVMe Base 2.0 5.7; SPDK's vfio-user target does the same).
  if (cqid === 0 || cqid > granted.ncq + 1) throw new NvmeError(Status.INVALID_QUEUE_IDENTIFIER, `CQID ${cqid} is not an I/O CQ identifier`);
  if (!c.cqs.has(cqid)) throw new NvmeError(Status.COMPLETION_QUEUE_INVALID, `CQ ${cqid} does not exist`);
  if (!pc) throw new NvmeError(Status.INVALID_FIELD, 'physically non-contiguous SQ (CAP.CQR=1)');
  const iova = sqe.readBigUInt64LE(24);
  checkQueueMemory(c, iova, qsize * 64, 'SQ');
  c.io.createSq(qid, cqid, iova, qsize);
  c.sqs.set(qid, { qid, size: qsize, iova, cqid });
}

function deleteSq(c: NvmeController, sqe: Buffer): Result {
  const qid = dw(sqe, 10) & 0xffff;
  if (qid === 0 || !c.sqs.has(qid)) throw new NvmeError(Status.INVALID_QUEUE_IDENTIFIER, `SQ ${qid}`);
  // After Delete I/O SQ no completion may be posted for its commands (NVMe Base 2.0 5.6).
  for (const [k, v] of c.inflightIo) if (k.startsWith(`${qid}:`)) v.abort('dropped');
  c.io.deleteSq(qid);
  c.sqs.delete(qid);
}

function deleteCq(c: NvmeController, sqe: Buffer): Result {
  const qid = dw(sqe, 10) & 0xffff;
  if (qid === 0 || !c.cqs.has(qid)) throw new NvmeError(Status.INVALID_QUEUE_IDENTIFIER, `CQ ${qid}`);
  for (const sq of c.sqs.values()) if (sq.cqid === qid) throw new NvmeError(Status.INVALID_QUEUE_DELETION, `CQ ${qid} still has SQ ${sq.qid}`);
  c.io.deleteCq(qid);
  c.cqs.delete(qid);
}

// ------------------------------------------------------------------ features (0Ah, 09h)

async function getFeatures(c: NvmeController, sqe: Buffer): Promise<Result> {
  const fid = dw(sqe, 10) & 0xff;
  const sel = (dw(sqe, 10) >> 8) & 7;
  if (sel > 3) throw new NvmeError(Status.INVALID_FIELD, `SEL ${sel}`);
  // Reservation Notification Mask and Reservation Persistence are per namespace (reservation-io.ts).
  if (fid === Feature.RESERVATION_NOTIFICATION_MASK || fid === Feature.RESERVATION_PERSISTENCE) return c.reservations.getFeature(fid, dw(sqe, 1), sel);
  const r = c.features.get(fid, dw(sqe, 11), sel);
  // Features with a data structure return it (not for SEL 011b, which reports capabilities).
  const data = sel === 3 ? null : c.features.data(fid, dw(sqe, 11), sel);
  if (data) await toHost(c, sqe, data);
  return r;
}

async function setFeatures(c: NvmeController, sqe: Buffer): Promise<Result> {
  const fid = dw(sqe, 10) & 0xff;
  const save = (dw(sqe, 10) >>> 31) === 1;
  const bytes = featureDataBytes(fid, dw(sqe, 11));
  const data = bytes && !save ? await fromHost(c, sqe, bytes) : undefined;
  if (fid === Feature.RESERVATION_NOTIFICATION_MASK || fid === Feature.RESERVATION_PERSISTENCE) {
    if (save) throw new NvmeError(Status.FEATURE_NOT_SAVEABLE);
    return c.reservations.setFeature(fid, dw(sqe, 1), dw(sqe, 11));
  }
  // NVMe Base 2.0 5.27.1.25: a registered host's identifier may not change (Command Sequence Error).
  if (fid === Feature.HOST_IDENTIFIER && data && !save) c.reservations.checkHostIdChange(data, (dw(sqe, 11) & 1) === 1);
  const r = c.features.set(fid, dw(sqe, 11), { save, ioQueuesExist: c.sqs.size > 0 || c.cqs.size > 0, data });
  if (fid === Feature.VOLATILE_WRITE_CACHE) c.syncAllNamespaces();
  // A threshold the current temperature already crosses raises the SMART / Health event
  // (Temperature Threshold, info 01h, log 02h) when the host enabled it (AEC bit 1).
  if (fid === Feature.TEMPERATURE_THRESHOLD && c.features.temperatureOutOfRange(COMPOSITE_TEMPERATURE_K) && c.features.asyncEventConfig & (1 << 1))
    c.asyncEvent(AsyncEvent.TYPE_SMART, 0x01, LogPage.SMART);
  if (fid === Feature.INTERRUPT_COALESCING || fid === Feature.INTERRUPT_VECTOR_CONFIG) c.syncCoalescing();
  // The Keep Alive Timer starts when this command completes (5.27.1.12); KATO 0 stops it.
  if (fid === Feature.KEEP_ALIVE_TIMER) c.keepAlive.restart();
  // Another host now: its engine judges I/O by that host's reservations.
  if (fid === Feature.HOST_IDENTIFIER) c.reservations.hostChanged();
  return r;
}

// ------------------------------------------------------------------ Get Log Page (02h)

async function getLogPage(c: NvmeController, sqe: Buffer): Promise<Result> {
  const lid = dw(sqe, 10) & 0xff;
  const rae = (dw(sqe, 10) >> 15) & 1;
  // NUMD = NUMDU:NUMDL + 1 dwords, 1..2^32: unsigned arithmetic (a `<< 16` of NUMDU with bit 15
  // set would go negative), and a transfer beyond MDTS is Invalid Field (NVMe Base 2.0 5.16).
  const numd = (dw(sqe, 11) & 0xffff) * 0x10000 + (dw(sqe, 10) >>> 16) + 1;
  const len = numd * 4;
  // LPOU:LPOL, a byte offset (unsigned 64-bit), dword aligned.
  const offset = (BigInt(dw(sqe, 13)) << 32n) | BigInt(dw(sqe, 12));
  if (offset & 3n) throw new NvmeError(Status.INVALID_FIELD, 'log page offset not dword aligned');
  const nsid = dw(sqe, 1);
  let page: Buffer;
  switch (lid) {
    case LogPage.ERROR:
      page = c.errorLog.page();
      break;
    case LogPage.SMART: {
      if (nsid !== 0 && nsid !== 0xffffffff && !c.namespaces.has(nsid)) throw new NvmeError(Status.INVALID_NAMESPACE);
      const k = c.counters();
      page = smartLog({
        dataUnitsRead: dataUnits(k.readBytes),
        dataUnitsWritten: dataUnits(k.writeBytes),
        hostReadCommands: k.readCommands,
        hostWriteCommands: k.writeCommands,
        controllerBusyMinutes: 0n,
        powerCycles: c.powerCycles,
        powerOnHours: BigInt(Math.floor((Date.now() - c.bornAt) / 3_600_000)),
        unsafeShutdowns: c.unsafeShutdowns,
        mediaErrors: c.jsStats.mediaErrors,
        errorLogEntries: c.errorLog.count,
        temperatureK: COMPOSITE_TEMPERATURE_K,
        criticalWarning: c.features.temperatureOutOfRange(COMPOSITE_TEMPERATURE_K) ? 1 << 1 : 0,
      });
      break;
    }
    case LogPage.FIRMWARE_SLOT:
      page = firmwareSlotLog(c.opts.identity.firmwareRevision);
      break;
    case LogPage.CHANGED_NS_LIST:
      page = changedNamespaceLog(c.changedNamespaces);
      break;
    case LogPage.RESERVATION_NOTIFICATION:
      page = c.reservations.logPage();
      break;
    case LogPage.COMMANDS_SUPPORTED:
      // CSI (CDW14 bits 31:24) 02h: the Zoned Namespace command set's I/O commands (Linux's
      // zns.c reads it and keeps a namespace read-only unless Zone Append is supported).
      page = commandEffectsLog({ shadowDoorbells: c.opts.identity.shadowDoorbells, namespaceManagement: managedNamespaces(c) !== null, zoned: dw(sqe, 14) >>> 24 === CSI_ZNS && c.ioCommandSets() });
      break;
    default:
      throw new NvmeError(Status.INVALID_LOG_PAGE, `log page 0x${lid.toString(16)}`);
  }
  if (len > maxTransferBytes(c)) throw new NvmeError(Status.INVALID_FIELD, `${numd} dwords exceed MDTS (${maxTransferBytes(c)} bytes)`);
  if (offset >= BigInt(page.length)) throw new NvmeError(Status.INVALID_FIELD, `offset ${offset} beyond the ${page.length}-byte log`);
  const out = Buffer.alloc(len);
  page.copy(out, 0, Number(offset), Math.min(page.length, Number(offset) + len));
  await toHost(c, sqe, out);
  // Each read of log 0Ch takes its entry: the next read returns the next one (5.16.1.21).
  if (lid === LogPage.RESERVATION_NOTIFICATION) c.reservations.logPageRead();
  // Only a read that completed clears what it reported.
  if (!rae) {
    if (lid === LogPage.CHANGED_NS_LIST) c.changedNamespaces = [];
    c.events.logPageRead(lid);
  }
}

/** MDTS in bytes (MDTS is a power of two in units of CAP.MPSMIN, 4 KiB; 0 = no limit). */
function maxTransferBytes(c: NvmeController): number {
  const mdts = c.opts.identity.mdts;
  return mdts ? PAGE_SIZE * 2 ** mdts : Number.MAX_SAFE_INTEGER;
}

// ------------------------------------------------------------------ AER (0Ch), Abort (08h)

function asyncEventRequest(c: NvmeController, sqe: Buffer): Result {
  c.events.request(sqe.readUInt16LE(2));
  queueMicrotask(() => c.events.deliver());
  return 'deferred';
}

function abort(c: NvmeController, sqe: Buffer): Result {
  const sqid = dw(sqe, 10) & 0xffff;
  const cid = dw(sqe, 10) >>> 16;
  if (sqid === 0) {
    return c.events.abort(cid) ? 0 : 1; // bit 0 clear: aborted
  }
  const inflight = c.inflightIo.get(`${sqid}:${cid}`);
  if (inflight) {
    inflight.abort('requested');
    return 0;
  }
  return 1; // bit 0 set: not aborted (it completed or was never seen)
}

// ------------------------------------------------------------------ Doorbell Buffer Config (7Ch)

function doorbellBufferConfig(c: NvmeController, sqe: Buffer): Result {
  if (!c.opts.identity.shadowDoorbells) throw new NvmeError(Status.INVALID_OPCODE, 'shadow doorbells are disabled');
  const dbs = sqe.readBigUInt64LE(24);
  const ei = sqe.readBigUInt64LE(32);
  const P = BigInt(PAGE_SIZE - 1);
  if (dbs & P || ei & P || dbs === ei) throw new NvmeError(Status.INVALID_FIELD, 'shadow doorbell buffers must be distinct aligned pages');
  for (const a of [dbs, ei]) if (c.ctx!.dma.table.check(a, PAGE_SIZE, 3) !== 'ok') throw new NvmeError(Status.INVALID_FIELD, 'shadow doorbell buffer not in shared memory');
  c.io.setShadow(dbs, ei);
  c.shadow = { dbs, ei };
}

// ------------------------------------------------------------------ Format NVM (80h)

async function formatNvm(c: NvmeController, sqe: Buffer): Promise<Result> {
  const nsid = dw(sqe, 1);
  const lbaf = dw(sqe, 10) & 0xf;
  const ses = (dw(sqe, 10) >> 9) & 7;
  const pi = (dw(sqe, 10) >> 5) & 7;
  const mset = (dw(sqe, 10) >> 4) & 1;
  const pil = (dw(sqe, 10) >> 8) & 1;
  // FNA bit 2 = 0: no cryptographic erase; SES 010b and reserved values are invalid.
  if (ses > 1) throw new NvmeError(Status.INVALID_FIELD, `SES ${ses}`);
  const targets = nsid === 0xffffffff ? [...c.namespaces.values()] : [c.namespaces.get(nsid)];
  if (targets.some((t) => !t)) throw new NvmeError(Status.INVALID_NAMESPACE, `NSID ${nsid}`);
  // A namespace keeps its block size and metadata: only the format it is in is accepted, with
  // the metadata placement (MSET: extended), PI type and PI location (PIL: first 8 bytes) it has
  // (NVMe Base 2.0 5.14: a PI setting the format does not support is Invalid Format).
  for (const ns of targets) {
    if (lbaf !== (ns!.formatIndex ?? 0)) throw new NvmeError(Status.INVALID_FORMAT, `LBA format ${lbaf} (namespace ${ns!.nsid} is in format ${ns!.formatIndex ?? 0})`);
    const md = ns!.bdev.metadata;
    if (pi !== (md?.piType ?? 0)) throw new NvmeError(Status.INVALID_FORMAT, `PI ${pi} (namespace ${ns!.nsid} has ${md?.piType ? `Type ${md.piType}` : 'none'})`);
    if (md && mset !== (md.interleave ? 1 : 0)) throw new NvmeError(Status.INVALID_FORMAT, `MSET ${mset} (namespace ${ns!.nsid}'s metadata is ${md.interleave ? 'extended' : 'separate'})`);
    if (md?.piType && pil !== (md.piFirst ? 1 : 0)) throw new NvmeError(Status.INVALID_FORMAT, `PIL ${pil} (namespace ${ns!.nsid}'s PI is in the ${md.piFirst ? 'first' : 'last'} 8 bytes)`);
  }
  // Every namespace is checked before any is erased: a failed Format NVM changes nothing.
  for (const ns of targets)
    if (ns!.bdev.productName !== 'Malloc disk') throw new NvmeError(Status.INVALID_FORMAT, `namespace ${ns!.nsid} (${ns!.bdev.productName}) cannot be formatted`);
  for (const ns of targets) {
    await ns!.bdev.unmap(0n, Number(ns!.blocks));
    c.io.clearUncorrectable(ns!.nsid); // erased: blocks Write Uncorrectable marked read normally again
  }
}

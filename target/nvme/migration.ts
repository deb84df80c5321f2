// The NVMe controller as a migratable device: quiesce (engine parked, TypeScript admin and
// I/O drained, upcalls delivered), capture into the device-state record, restore from it
// on the destination, resume. The migration protocols (target/migration/) call these.
import type { EngineMigrationState } from '../../native/index.js';
import type { PciFunction } from '../pci/function.js';
import { decodeDeviceState, encodeDeviceState, RecordError, type DeviceState, type QueueRecord } from './device-state.js';
import type { MigratableDevice } from '../migration/migration.js';
import type { NvmeController } from './controller.js';
import { monotonicMs } from './features.js';

const QUIESCE_TIMEOUT_MS = 30_000;

export class NvmeMigratable implements MigratableDevice {
  private parked = false;

  constructor(
    readonly controller: NvmeController,
    readonly fn: PciFunction,
    readonly ids: { vendorId: number; deviceId: number },
  ) {}

  get quiesced(): boolean {
    return this.parked;
  }

  /**
   * Stops the device: no DMA, no completions, no interrupts from here on. Commands already
   * fetched finish first (TypeScript I/O, an admin command in progress); their completions
   * wait in the device state if the guest's queues cannot take them.
   */
  async quiesce(): Promise<void> {
    const c = this.controller;
    if (this.parked) return;
    c.frozen = true;
    this.parked = true;
    c.keepAlive.stop(); // the guest does not run while the device is stopped
    let eng;
    try {
      eng = c.io;
    } catch {
      return; // never attached: nothing runs
    }
    eng.pause();
    const until = Date.now() + QUIESCE_TIMEOUT_MS;
    for (;;) {
      const issued = Number(eng.stats().upcalls ?? 0);
      if (c.upcallsSeen >= issued && c.adminIdle && c.inflightIo.size === 0) break;
      if (Date.now() > until) {
        c.log.error('quiesce: commands still in flight after the timeout', { inflight: c.inflightIo.size, adminIdle: c.adminIdle });
        throw new Error(`quiesce timed out with ${c.inflightIo.size} I/O commands in flight`);
      }
      await new Promise((r) => setImmediate(r));
    }
  }

  resume(): void {
    const c = this.controller;
    if (!this.parked) return;
    this.parked = false;
    c.frozen = false;
    try {
      c.io.resume();
    } catch {
      /* never attached */
    }
    c.flushAdminCqes();
    c.events.deliver();
    c.kickAdmin();
    c.keepAlive.restart(); // a whole KATO from here (keep-alive.ts)
  }

  abandon(): void {
    this.controller.reset('device');
  }

  /** The device-state record (the device must be quiesced). */
  save(): Buffer {
    return encodeDeviceState(this.capture());
  }

  capture(): DeviceState {
    const c = this.controller;
    refuseZoned(c);
    const eng = c.io.migrationState();
    const queues: QueueRecord[] = eng.queues.map((q) =>
      q.type === 'cq'
        ? { type: 'cq', qid: q.qid, cqid: 0, iova: q.iova, size: q.size, head: q.head, tail: q.tail, phase: q.phase, ien: q.ien, vector: q.vector, inflight: 0, doorbell: q.doorbell & 0xffff }
        : { type: 'sq', qid: q.qid, cqid: q.cqid, iova: q.iova, size: q.size, head: q.head, tail: 0, phase: false, ien: false, vector: 0, inflight: q.inflight, doorbell: q.doorbell & 0xffff },
    );
    const f = c.features;
    const totals = c.counters();
    const o = c.opts;
    return {
      identity: {
        vendorId: this.ids.vendorId,
        deviceId: this.ids.deviceId,
        cntlid: o.identity.cntlid,
        serialNumber: o.identity.serialNumber,
        modelNumber: o.identity.modelNumber,
        subnqn: o.identity.subnqn,
        maxQueueEntries: o.maxQueueEntries,
        maxIoQueues: o.maxIoQueues,
        msixVectors: o.msixVectors,
        mappedDoorbells: o.doorbellFile !== null,
      },
      registers: { cap: c.cap, cc: c.cc, csts: c.csts, aqa: c.aqa, asq: c.asq, acq: c.acq, intms: c.intms },
      pci: this.fn.saveState(),
      admin: c.admin ? { ...c.admin } : null,
      adminDoorbells: [eng.adminDoorbells[0] & 0xffff, eng.adminDoorbells[1] & 0xffff],
      pendingAdminCqes: c.pendingAdminCqes.map((b) => Buffer.from(b)),
      queues,
      completions: eng.completions.map((x) => ({ ...x })),
      shadow: c.shadow ? { ...c.shadow } : null,
      events: { ...c.events.snapshot(), changedNamespaces: [...c.changedNamespaces] },
      features: {
        arbitration: f.arbitration,
        powerManagement: f.powerManagement,
        errorRecovery: f.errorRecovery,
        volatileWriteCache: f.volatileWriteCache,
        queuesGranted: f.queuesGranted ? { ...f.queuesGranted } : null,
        interruptCoalescing: f.interruptCoalescing,
        writeAtomicity: f.writeAtomicity,
        asyncEventConfig: f.asyncEventConfig,
        hostId: Buffer.from(f.hostId),
        hostIdExtended: f.hostIdExtended,
        tempThresholds: [...f.tempThresholds.entries()],
        ivConfig: [...f.ivConfig.entries()],
      },
      namespaces: [...c.namespaces.values()].map((n) => ({ nsid: n.nsid, blocks: n.blocks, blockSize: n.blockSize, uuid: Buffer.from(n.uuid) })),
      formats: [...c.namespaces.values()].flatMap((n) => {
        const m = n.bdev.metadata;
        return m ? [{ nsid: n.nsid, mdSize: m.size, extended: m.interleave, piType: m.piType, piFirst: m.piFirst }] : [];
      }),
      errorLog: { count: c.errorLog.count, entries: c.errorLog.snapshot() },
      smart: {
        readCommands: totals.readCommands,
        writeCommands: totals.writeCommands,
        readBytes: totals.readBytes,
        writeBytes: totals.writeBytes,
        mediaErrors: c.jsStats.mediaErrors,
        powerCycles: c.powerCycles,
        unsafeShutdowns: c.unsafeShutdowns,
        powerOnMs: BigInt(Date.now() - c.bornAt),
      },
      featuresV2: {
        timestampMs: f.timestampNow(),
        timestampOrigin: f.timestamp.origin,
        timestampSynch: f.timestamp.synch,
        capturedAtMs: BigInt(Date.now()),
        hostBehavior: Buffer.from(f.hostBehavior),
        keepAliveTimeoutMs: f.keepAliveTimeoutMs,
      },
      uncorrectable: (eng.uncorrectable ?? []).map((u) => ({ ...u })),
      reservations: {
        controller: c.reservations.snapshot(),
        namespaces: c.reservations.domain.snapshot().filter((n) => c.namespaces.has(n.nsid)),
      },
    };
  }

  /**
   * Validates a record against this controller and applies it. Throws RecordError (bad or
   * incompatible stream) before changing anything.
   */
  load(record: Buffer): void {
    const s = decodeDeviceState(record);
    this.checkCompatible(s);
    this.apply(s);
  }

  private checkCompatible(s: DeviceState): void {
    const c = this.controller;
    const o = c.opts;
    const id = s.identity;
    const refuse = (why: string) => {
      throw new RecordError(`device state does not fit this controller: ${why}`);
    };
    refuseZoned(c);
    if (id.vendorId !== this.ids.vendorId || id.deviceId !== this.ids.deviceId) refuse(`PCI id ${hex(id.vendorId)}:${hex(id.deviceId)}, this is ${hex(this.ids.vendorId)}:${hex(this.ids.deviceId)}`);
    if (id.msixVectors !== o.msixVectors) refuse(`${id.msixVectors} MSI-X vectors, this controller has ${o.msixVectors}`);
    if (s.registers.cap !== c.cap) refuse(`CAP 0x${s.registers.cap.toString(16)} differs from 0x${c.cap.toString(16)}`);
    if (id.maxIoQueues > o.maxIoQueues) refuse(`${id.maxIoQueues} I/O queues, this controller allows ${o.maxIoQueues}`);
    if (id.mappedDoorbells !== (o.doorbellFile !== null)) refuse(`doorbells ${id.mappedDoorbells ? 'mapped' : 'in messages'} on the source, not here`);
    for (const n of s.namespaces) {
      const mine = c.namespaces.get(n.nsid);
      if (!mine) refuse(`namespace ${n.nsid} does not exist here`);
      else if (mine.blocks !== n.blocks || mine.blockSize !== n.blockSize) refuse(`namespace ${n.nsid} is ${n.blocks} x ${n.blockSize} B on the source, ${mine.blocks} x ${mine.blockSize} B here`);
      else if (!mine.uuid.equals(n.uuid)) refuse(`namespace ${n.nsid} has a different UUID here`);
      else {
        // The LBA format's metadata must be the same (a version 1/2 record: none on the source).
        const f = s.formats.find((x) => x.nsid === n.nsid);
        const m = mine.bdev.metadata;
        const show = (x: { size: number; extended: boolean; piType: number; piFirst: boolean } | undefined) =>
          x ? `${x.size}-byte ${x.extended ? 'extended' : 'separate'} metadata, PI ${x.piType ? `Type ${x.piType} ${x.piFirst ? 'first' : 'last'}` : 'none'}` : 'no metadata';
        const src = f ? { size: f.mdSize, extended: f.extended, piType: f.piType, piFirst: f.piFirst } : undefined;
        const here = m ? { size: m.size, extended: m.interleave, piType: m.piType, piFirst: m.piFirst } : undefined;
        if (show(src) !== show(here)) refuse(`namespace ${n.nsid} has ${show(src)} on the source, ${show(here)} here`);
      }
    }
    for (const nsid of c.namespaces.keys()) if (!s.namespaces.some((n) => n.nsid === nsid)) refuse(`namespace ${nsid} exists here but not on the source`);
  }

  private apply(s: DeviceState): void {
    const c = this.controller;
    const eng = c.io;
    // The engine validates its part before changing anything; do it first.
    const engineState: EngineMigrationState = {
      queues: s.queues.map((q) =>
        q.type === 'cq'
          ? { type: 'cq', qid: q.qid, iova: q.iova, size: q.size, head: q.head, tail: q.tail, phase: q.phase, ien: q.ien, vector: q.vector, doorbell: q.doorbell }
          : { type: 'sq', qid: q.qid, cqid: q.cqid, iova: q.iova, size: q.size, head: q.head, inflight: q.inflight, doorbell: q.doorbell },
      ),
      adminDoorbells: s.adminDoorbells,
      completions: s.completions,
      shadow: s.shadow,
      adminSeen: s.admin ? [s.admin.sqTail, s.admin.cqHead] : s.adminDoorbells,
      uncorrectable: s.uncorrectable,
    };
    try {
      eng.restoreQueues(engineState);
    } catch (err) {
      throw new RecordError(`device state: queues rejected: ${(err as Error).message}`);
    }
    const r = s.registers;
    c.cc = r.cc;
    c.csts = r.csts;
    c.aqa = r.aqa;
    c.asq = r.asq;
    c.acq = r.acq;
    c.intms = r.intms;
    c.admin = s.admin ? { ...s.admin } : null;
    c.pendingAdminCqes = s.pendingAdminCqes.map((b) => Buffer.from(b));
    c.sqs.clear();
    c.cqs.clear();
    for (const q of s.queues) {
      if (q.type === 'cq') c.cqs.set(q.qid, { qid: q.qid, size: q.size, iova: q.iova, vector: q.vector, ien: q.ien });
      else c.sqs.set(q.qid, { qid: q.qid, size: q.size, iova: q.iova, cqid: q.cqid });
    }
    c.shadow = s.shadow ? { ...s.shadow } : null;
    c.events.restore(s.events);
    c.changedNamespaces = [...s.events.changedNamespaces];
    const f = c.features;
    const sf = s.features;
    f.arbitration = sf.arbitration;
    f.powerManagement = sf.powerManagement;
    f.errorRecovery = sf.errorRecovery;
    f.volatileWriteCache = sf.volatileWriteCache;
    f.queuesGranted = sf.queuesGranted ? { ...sf.queuesGranted } : null;
    f.interruptCoalescing = sf.interruptCoalescing;
    f.writeAtomicity = sf.writeAtomicity;
    f.asyncEventConfig = sf.asyncEventConfig;
    f.hostId = Buffer.from(sf.hostId);
    f.hostIdExtended = sf.hostIdExtended;
    f.tempThresholds = new Map(sf.tempThresholds);
    f.ivConfig = new Map(sf.ivConfig);
    const x = s.featuresV2;
    if (x) {
      // The Timestamp counts on through the downtime when this host's clock can tell it (the
      // source's wall clock at capture is not ahead of ours); otherwise Synch says it may not.
      const down = BigInt(Date.now()) - x.capturedAtMs;
      const known = x.capturedAtMs > 0n && down >= 0n;
      f.timestamp = { ms: (x.timestampMs + (known ? down : 0n)) & 0xffffffffffffn, at: monotonicMs(), origin: x.timestampOrigin, synch: known ? x.timestampSynch : 1 };
      f.hostBehavior = Buffer.from(x.hostBehavior);
      f.keepAliveTimeoutMs = x.keepAliveTimeoutMs;
    }
    if (s.reservations) {
      c.reservations.restore(s.reservations.controller);
      // The subsystem's reservations: adopted for each namespace the destination's subsystem
      // holds none of yet (the first controller to arrive brings them; one arriving later, or
      // a namespace the hosts here already registered with, keeps the live state here). A host
      // known only by its controller ID (no Host Identifier) is renamed to this controller's.
      const rename = (h: string | null) => (h === `cntlid:${s.identity.cntlid}` ? `cntlid:${c.opts.identity.cntlid}` : h);
      const fresh = s.reservations.namespaces
        .filter((n) => !c.reservations.domain.snapshot().some((m) => m.nsid === n.nsid))
        .map((n) => ({ ...n, holder: rename(n.holder), registrants: n.registrants.map((g) => ({ ...g, host: rename(g.host)! })) }));
      c.reservations.domain.restore(fresh);
    }
    c.reservations.hostChanged(); // the Host Identifier came with the record
    c.syncAllNamespaces(); // the write cache setting reaches the engine
    (c as unknown as { syncCoalescing?: () => void }).syncCoalescing?.();
    c.errorLog.restore(s.errorLog.count, s.errorLog.entries);
    // SMART totals continue from the source: this engine's own counters are added later.
    const mine = eng.stats();
    const sub = (a: bigint, k: string) => a - BigInt(mine[k] ?? 0);
    c.jsStats.readCommands = sub(s.smart.readCommands, 'readCommands');
    c.jsStats.writeCommands = sub(s.smart.writeCommands, 'writeCommands');
    c.jsStats.readBytes = sub(s.smart.readBytes, 'readBytes');
    c.jsStats.writeBytes = sub(s.smart.writeBytes, 'writeBytes');
    c.jsStats.mediaErrors = s.smart.mediaErrors;
    c.powerCycles = s.smart.powerCycles;
    c.bornAt = Date.now() - Number(s.smart.powerOnMs);
    c.unsafeShutdowns = s.smart.unsafeShutdowns;
    this.fn.restoreState(s.pci);
    c.syncVectors();
  }
}

function hex(v: number): string {
  return v.toString(16).padStart(4, '0');
}

/**
 * Zone states and write pointers (native/nvme-zones.h) are not in the device-state record yet:
 * a controller with a zoned namespace is not migrated, rather than lose them.
 */
function refuseZoned(c: { namespaces: Map<number, { nsid: number; bdev: { zoned?: unknown } }> }): void {
  for (const n of c.namespaces.values())
    if (n.bdev.zoned) throw new RecordError(`namespace ${n.nsid} is zoned: zone states and write pointers are not carried by the device-state record yet, so this controller cannot be migrated`);
}

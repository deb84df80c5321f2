// The migration-initiator scenario's engine (scenarios/migration-initiator.ts reports it;
// test/migration/e2e.test.ts runs it too): the initiator acts as the VMM. A verifying write/read
// workload runs against target A; the device is live-migrated to target B (dirty logging,
// pre-copy rounds, STOP_COPY, device state moved, RUNNING on B) and back, again and again at
// random moments, with guest memory and a file bdev both targets share. After every
// migration the workload must still be error-free; at the end every acknowledged write is
// read back and checked. Reports downtime (guest paused) and total migration time.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { FileBdev } from '../../target/bdev/file.js';
import { NvmeEndpoint } from '../../target/nvme/endpoint.js';
import { NvmeDriver, cmd, u32, type Cqe } from '../../harness/initiator/nvme-driver.js';
import { DelayBdev } from '../../target/bdev/delay.js';
import type { Bdev } from '../../target/bdev/bdev.js';
import { migrateDriver, type MigrationProtocol, type MigrationResult } from '../../harness/initiator/migration.js';
import { VerifyingWorkload, type WorkloadOptions } from '../../harness/initiator/verify-workload.js';
import type { Logger } from '../../target/vfio-user/device.js';

export interface MigrationInitiatorOptions {
  iterations: number;
  protocol: MigrationProtocol;
  doorbells?: 'mapped' | 'message';
  /** Random pause before each migration, in ms (the workload runs meanwhile). */
  minGapMs?: number;
  maxGapMs?: number;
  seed?: number;
  lanes?: number;
  log?: Logger;
  /** Scratch directory (default: a new one under the OS temp dir, removed afterwards). */
  dir?: string;
  /**
   * Add this latency (µs) to every I/O through a delay bdev: I/O is then served in
   * TypeScript and is often in flight in the target when the device is stopped.
   */
  delayUs?: number;
  /** Message-mode doorbells through the Doorbell Buffer Config shadow page (event indexes). */
  shadowDoorbells?: boolean;
}

export interface Summary {
  min: number;
  median: number;
  p95: number;
  max: number;
  mean: number;
}

export interface MigrationInitiatorResult {
  protocol: MigrationProtocol;
  doorbells: 'mapped' | 'message';
  iterations: number;
  completed: number;
  migrations: MigrationResult[];
  downtimeMs: Summary;
  totalMs: Summary;
  recordBytes: number;
  writes: number;
  reads: number;
  verifiedReads: number;
  /** Slots read back and checked after the last migration. */
  verifiedAtEnd: number;
  /** Identify Controller commands (admin queue, served in TypeScript) checked during the run. */
  adminCommands: number;
  /** The Asynchronous Event Request submitted before the first migration completed at the end, on the last target. */
  aerCarried: boolean;
  /** Commands outstanding when the guest paused, summed over migrations. */
  inflightAtStop: number;
  /**
   * Controller state set before the first migration and read on the last target (record
   * version 2): the Timestamp's advance (ms) and origin, Host Behavior Support, KATO, and the
   * status of a read of a block marked by Write Uncorrectable (281h: carried).
   */
  featureState: { timestampAdvancedMs: number; timestampOrigin: number; hostBehavior: number[]; katoMs: number; uncorrectableReadStatus: number } | null;
  /** Completions that matched no outstanding command (acknowledged twice): must be 0. */
  strayCompletions: number;
  errors: string[];
  passed: boolean;
}

export function summarize(xs: number[]): Summary {
  if (!xs.length) return { min: 0, median: 0, p95: 0, max: 0, mean: 0 };
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return { min: r(s[0]!), median: r(at(0.5)), p95: r(at(0.95)), max: r(s[s.length - 1]!), mean: r(s.reduce((a, b) => a + b, 0) / s.length) };
}

export async function runMigrationInitiator(o: MigrationInitiatorOptions): Promise<MigrationInitiatorResult> {
  const doorbells = o.doorbells ?? 'mapped';
  const own = !o.dir;
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'vnvme-mig-'));
  const wl: WorkloadOptions = { nsid: 1, blockSize: 512, blocksPerIo: 8, slotsPerLane: 64, lanes: o.lanes ?? 8, writeRatio: 0.6, seed: o.seed ?? 7 };
  const file = join(dir, 'shared.img');
  writeFileSync(file, Buffer.alloc(0));
  truncateSync(file, VerifyingWorkload.blocksNeeded(wl) * 512 + (1 << 20));
  const uuid = randomUUID();
  const targets: { ep: NvmeEndpoint; bdevs: Bdev[]; path: string }[] = [];
  let adminCommands = 0;
  let aerCarried = false;
  let strayCompletions = 0;
  let drv: NvmeDriver | null = null;
  let workload: VerifyingWorkload | null = null;
  const migrations: MigrationResult[] = [];
  const errors: string[] = [];
  let verifiedAtEnd = 0;
  let featureState: MigrationInitiatorResult['featureState'] = null;
  let rnd = o.seed ?? 7;
  const random = () => {
    rnd = (rnd * 1103515245 + 12345) & 0x7fffffff;
    return rnd / 0x80000000;
  };
  try {
    for (const name of ['A', 'B']) {
      const traddr = join(dir, name);
      mkdirSync(traddr, { recursive: true });
      // Both targets serve the same file: the "shared storage" of a real migration.
      const file0 = await FileBdev.open({ name: `shared${name}`, filename: file, uuid });
      const bdev: Bdev = o.delayUs ? new DelayBdev(`delay${name}`, file0, { avgReadUs: o.delayUs, p99ReadUs: o.delayUs * 4, avgWriteUs: o.delayUs, p99WriteUs: o.delayUs * 4 }, uuid) : file0;
      const ep = new NvmeEndpoint({
        traddr,
        serialNumber: 'VNVME-MIG',
        modelNumber: 'vnvme migration',
        subnqn: 'nqn.2019-07.io.spdk:migration',
        namespaces: () => [{ nsid: 1, bdev, uuid }],
        disableMappableBar0: doorbells === 'message',
        migration: { v1: o.protocol === 'v1' },
        log: o.log,
      });
      targets.push({ ep, bdevs: bdev === file0 ? [file0] : [bdev, file0], path: ep.socketPath });
    }
    drv = await NvmeDriver.attach(targets[0]!.path);
    await drv.setNumberOfQueues(2);
    const q = await drv.createIoQueuePair(1, 64);
    if (o.shadowDoorbells) await drv.enableShadowDoorbells();
    workload = new VerifyingWorkload(drv, q, wl);
    // Controller state of record version 2, set before the first migration, read on the last
    // target: Timestamp, Host Behavior Support, KATO (long enough for the run), and a block past
    // the workload's marked by Write Uncorrectable.
    const featBuf = drv.alloc(4096);
    const stamp = 1_700_000_000_000;
    const ts = Buffer.alloc(8);
    ts.writeUIntLE(stamp, 0, 6);
    drv.write(featBuf, ts);
    await drv.adminOk(cmd(0x09, 0, { prp1: featBuf, cdw10: 0x0e }), 'Set Timestamp');
    const stampSetAt = Date.now();
    drv.write(featBuf, Buffer.concat([Buffer.from([1, 0, 1]), Buffer.alloc(509)]));
    await drv.adminOk(cmd(0x09, 0, { prp1: featBuf, cdw10: 0x16 }), 'Set Host Behavior Support');
    await drv.adminOk(cmd(0x09, 0, { cdw10: 0x0f, cdw11: 600_000 }), 'Set KATO');
    const marked = VerifyingWorkload.blocksNeeded(wl) + 8;
    const wu = await drv.submit(q, cmd(0x04, 1, { cdw10: marked }));
    if (wu.status) throw new Error(`Write Uncorrectable: status 0x${wu.status.toString(16)}`);
    // An Asynchronous Event Request stays outstanding across every migration.
    const aer = drv.submit(drv.admin, cmd(0x0c, 0), 600_000);
    // Admin traffic (served in TypeScript) alongside the I/O: Identify Controller, checked.
    let adminRunning = true;
    const idBuf = drv.alloc(4096);
    const d = drv;
    const adminLane = (async () => {
      while (adminRunning && !errors.length) {
        d.write(idBuf, Buffer.alloc(4096));
        const c = await d.adminCommand(cmd(0x06, 0, { prp1: idBuf, cdw10: 1 }));
        const serial = d.read(idBuf, 24).toString('ascii', 4, 24).trim();
        if (c.status || serial !== 'VNVME-MIG') throw new Error(`Identify during migrations: status 0x${c.status.toString(16)}, serial "${serial}"`);
        adminCommands++;
        await new Promise((r) => setTimeout(r, 3));
      }
    })().catch((err: Error) => void errors.push(`admin lane: ${err.message}`));
    workload.start();
    let at = 0;
    for (let i = 0; i < o.iterations; i++) {
      const gap = (o.minGapMs ?? 5) + random() * ((o.maxGapMs ?? 40) - (o.minGapMs ?? 5));
      await new Promise((r) => setTimeout(r, gap));
      const to = 1 - at;
      try {
        migrations.push(await migrateDriver(drv, targets[to]!.path, { protocol: o.protocol, precopyRounds: 2, roundDelayMs: 2 }));
        at = to;
      } catch (err) {
        errors.push(`migration ${i + 1} (${'AB'[at]} -> ${'AB'[to]}): ${(err as Error).message}`);
        break;
      }
      if (workload.stats.errors.length) break;
    }
    // Let the workload run on the final target for a moment, then stop and verify all.
    await new Promise((r) => setTimeout(r, 20));
    adminRunning = false;
    await adminLane;
    await workload.stop();
    errors.push(...workload.stats.errors);
    if (!errors.length) verifiedAtEnd = await workload.verifyAll();
    {
      await drv.adminOk(cmd(0x0a, 0, { prp1: featBuf, cdw10: 0x0e }), 'Get Timestamp');
      const t = drv.read(featBuf, 8);
      const advanced = t.readUIntLE(0, 6) - stamp;
      await drv.adminOk(cmd(0x0a, 0, { prp1: featBuf, cdw10: 0x16 }), 'Get Host Behavior Support');
      const hostBehavior = [...drv.read(featBuf, 3)];
      const katoMs = await drv.adminOk(cmd(0x0a, 0, { cdw10: 0x0f }), 'Get KATO');
      const rb = drv.alloc(512);
      const rd = await drv.io(q, 0x02, 1, BigInt(marked), 1, rb, 512);
      featureState = { timestampAdvancedMs: advanced, timestampOrigin: (t[6]! >> 1) & 7, hostBehavior, katoMs, uncorrectableReadStatus: rd.status };
      const elapsed = Date.now() - stampSetAt;
      if (advanced < elapsed - 1000 || advanced > elapsed + 1000) errors.push(`Timestamp advanced ${advanced} ms over ${elapsed} ms of migrations`);
      if (featureState.timestampOrigin !== 1) errors.push(`Timestamp Origin ${featureState.timestampOrigin} on the last target`);
      if (hostBehavior.join() !== '1,0,1') errors.push(`Host Behavior Support ${hostBehavior.join()} on the last target`);
      if (katoMs !== 600_000) errors.push(`KATO ${katoMs} on the last target`);
      if ((rd.status & 0x7ff) !== 0x281) errors.push(`a block marked by Write Uncorrectable read with status 0x${rd.status.toString(16)} on the last target`);
    }
    // An event on the last target completes the AER that was submitted on the first: a
    // doorbell write for a queue that does not exist (Invalid Doorbell Register, log page 1).
    drv.client.postRegionWrite(0, 0x1000 + 8 * 7, u32(1));
    const ev: Cqe | string = await Promise.race([aer, new Promise<string>((r) => setTimeout(() => r('timeout'), 2000))]);
    if (typeof ev === 'string') errors.push('the AER outstanding since before the first migration did not complete on the last target');
    else if (ev.status !== 0 || (ev.dw0 & 7) !== 0 || ((ev.dw0 >> 16) & 0xff) !== 0x01) errors.push(`AER completed with status 0x${ev.status.toString(16)} dw0 0x${ev.dw0.toString(16)}`);
    else aerCarried = true;
  } catch (err) {
    errors.push((err as Error).message);
  } finally {
    if (workload) await workload.stop().catch(() => undefined);
    strayCompletions = drv?.strayCompletions ?? 0;
    if (strayCompletions) errors.push(`${strayCompletions} completions matched no outstanding command (acknowledged twice?)`);
    drv?.close();
    for (const t of targets) {
      await t.ep.close().catch(() => undefined);
      for (const b of t.bdevs) await b.close().catch(() => undefined);
    }
    if (own) rmSync(dir, { recursive: true, force: true });
  }
  const s = workload?.stats;
  return {
    protocol: o.protocol,
    doorbells,
    iterations: o.iterations,
    completed: migrations.length,
    migrations,
    downtimeMs: summarize(migrations.map((m) => m.downtimeMs)),
    totalMs: summarize(migrations.map((m) => m.totalMs)),
    recordBytes: migrations[0]?.recordBytes ?? 0,
    writes: s?.writes ?? 0,
    reads: s?.reads ?? 0,
    verifiedReads: s?.verifiedReads ?? 0,
    verifiedAtEnd,
    adminCommands,
    aerCarried,
    inflightAtStop: migrations.reduce((a, m) => a + m.inflightAtStop, 0),
    featureState,
    strayCompletions,
    errors,
    passed: errors.length === 0 && migrations.length === o.iterations && verifiedAtEnd > 0 && aerCarried,
  };
}

export interface RefusalResult {
  protocol: MigrationProtocol;
  corruption: string;
  /** The destination refused the stream (the migration failed with an error reply). */
  refused: boolean;
  /** What the destination logged as the reason. */
  reason: string;
  /** Destination state right after the refusal (v2 state number; 0 = ERROR). */
  destinationState: number;
  /** The guest kept running on the source: verified write/read after the failure. */
  sourceResumed: boolean;
  /** After its client left, the destination accepted a fresh migration of the same guest. */
  destinationRecovered: boolean;
}

/**
 * Migrates with a damaged device-state stream and checks the failure is clean: the
 * destination refuses it and sits in ERROR, the source resumes with its data, and the
 * destination takes a good migration afterwards.
 */
export async function runRefusal(protocol: MigrationProtocol, corruption: 'truncated' | 'flipped' | 'magic' | 'version'): Promise<RefusalResult> {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-migr-'));
  const file = join(dir, 'shared.img');
  writeFileSync(file, Buffer.alloc(0));
  truncateSync(file, 4 << 20);
  const uuid = randomUUID();
  const eps: NvmeEndpoint[] = [];
  const bdevs: FileBdev[] = [];
  let drv: NvmeDriver | null = null;
  const out: RefusalResult = { protocol, corruption, refused: false, reason: '', destinationState: -1, sourceResumed: false, destinationRecovered: false };
  try {
    for (const name of ['A', 'B']) {
      const traddr = join(dir, name);
      mkdirSync(traddr);
      const bdev = await FileBdev.open({ name: `r${name}`, filename: file, uuid });
      bdevs.push(bdev);
      eps.push(new NvmeEndpoint({ traddr, serialNumber: 'VNVME-MIG', modelNumber: 'vnvme migration', subnqn: 'nqn.2019-07.io.spdk:migration', namespaces: () => [{ nsid: 1, bdev, uuid }], migration: { v1: protocol === 'v1' } }));
    }
    const dst = eps[1]!.migration!;
    drv = await NvmeDriver.attach(eps[0]!.socketPath);
    await drv.setNumberOfQueues(2);
    const q = await drv.createIoQueuePair(1, 32);
    const wl = new VerifyingWorkload(drv, q, { nsid: 1, blockSize: 512, blocksPerIo: 8, slotsPerLane: 16, lanes: 4, seed: 3 });
    wl.start();
    await new Promise((r) => setTimeout(r, 20));
    const mutate = (b: Buffer): Buffer => {
      const c = Buffer.from(b);
      if (corruption === 'truncated') return c.subarray(0, c.length - 100);
      if (corruption === 'flipped') c[c.length >> 1]! ^= 0x01;
      if (corruption === 'magic') c.writeUInt32LE(0x464c4553, 0);
      if (corruption === 'version') c.writeUInt16LE(c.readUInt16LE(4) + 1, 4);
      return c;
    };
    const origSet = dst.setState.bind(dst);
    dst.setState = async (to: number) => {
      try {
        await origSet(to);
      } catch (err) {
        out.reason = dst.lastError ?? (err as Error).message;
        out.destinationState = dst.state;
        throw err;
      }
    };
    try {
      await migrateDriver(drv, eps[1]!.socketPath, { protocol, mutateRecord: mutate });
    } catch {
      out.refused = true;
    }
    await new Promise((r) => setTimeout(r, 20));
    await wl.stop();
    // The workload ran on through the failed attempt; everything it wrote reads back.
    out.sourceResumed = wl.stats.errors.length === 0 && wl.stats.writes > 0 && (await wl.verifyAll()) > 0;
    dst.setState = origSet;
    wl.start();
    await migrateDriver(drv, eps[1]!.socketPath, { protocol });
    await new Promise((r) => setTimeout(r, 20));
    await wl.stop();
    out.destinationRecovered = wl.stats.errors.length === 0 && (await wl.verifyAll()) > 0;
  } finally {
    drv?.close();
    for (const e of eps) await e.close().catch(() => undefined);
    for (const b of bdevs) await b.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
  return out;
}

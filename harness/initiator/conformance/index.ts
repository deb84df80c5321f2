// The host-side conformance suite: runs every case against a vfio-user NVMe controller (a
// running target's socket, or an in-process NvmeEndpoint it starts itself) and returns
// structured results. `vnvme conformance` prints them; tests and scenarios use runConformance.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MallocBdev } from '../../../target/bdev/malloc.js';
import { DelayBdev } from '../../../target/bdev/delay.js';
import { ErrorBdev } from '../../../target/bdev/error.js';
import { NvmeEndpoint, vfioUserEndpointFor } from '../../../target/nvme/endpoint.js';
import { BdevRegistry } from '../../../target/bdev/registry.js';
import { NvmfTarget } from '../../../target/nvmf/target.js';
import { silentLogger } from '../../../target/log.js';
import { CaseContext, CaseFailure, CaseSkip, Session, type CaseEnv } from './session.js';
import type { CaseResult, ConformanceCase, ConformanceReport, Verdict } from './types.js';
import { registerCases } from './cases/registers.js';
import { identifyCases } from './cases/identify.js';
import { featureCaseList } from './cases/features.js';
import { logCases } from './cases/logs.js';
import { queueCases } from './cases/queues.js';
import { ioCases } from './cases/io.js';
import { eventCases } from './cases/events.js';
import { formatCases } from './cases/format.js';
import { interruptCases } from './cases/interrupts.js';
import { statusCases } from './cases/status.js';
import { vfioUserCases } from './cases/vfio-user.js';
import { pciCases } from './cases/pci.js';
import { namespaceManagementCases } from './cases/ns-management.js';
import { nvmCommandCases } from './cases/nvm-commands.js';
import { metadataCases } from './cases/metadata.js';
import { ZoneBlockBdev } from '../../../target/bdev/zone-block.js';
import { zonedCases } from './cases/zoned.js';
import { reservationCases } from './cases/reservations.js';

export type { CaseResult, ConformanceCase, ConformanceReport, Verdict } from './types.js';

/** Every case, in the order they run. */
export const conformanceCases: ConformanceCase[] = [...registerCases, ...identifyCases, ...featureCaseList, ...logCases, ...queueCases, ...ioCases, ...nvmCommandCases, ...metadataCases, ...zonedCases, ...reservationCases, ...eventCases, ...formatCases, ...namespaceManagementCases, ...interruptCases, ...statusCases, ...vfioUserCases, ...pciCases];

export interface ConformanceOptions {
  /** A running target's socket (DIR/cntrl) ... */
  socketPath?: string;
  /** ... or an endpoint already serving (cases that change namespaces need it). */
  endpoint?: NvmeEndpoint;
  /**
   * Doorbell mode: with socketPath/endpoint, whether the host uses the mmapped doorbell page when
   * offered (default 'mapped'); with neither, the in-process target is built in this mode.
   */
  mode?: 'mapped' | 'message';
  /** With neither socketPath nor endpoint: the in-process target runs in interrupt mode (message doorbells). */
  interruptMode?: boolean;
  /** Only cases whose id contains this substring. */
  filter?: string;
  subnqn?: string;
  /** With an endpoint of your own: a namespace slow enough to catch I/O in flight ... */
  slowNsid?: number;
  /** ... and one served through the TypeScript bdev path. */
  upcallNsid?: number;
  /** Per-case time limit (ms). */
  caseTimeoutMs?: number;
  onResult?: (r: CaseResult) => void;
}

/**
 * A target of our own in a temporary directory, built as the daemon builds one (an NvmfTarget
 * with a VFIOUSER listener): malloc namespace 1 (native engine), slow (delay) namespace 2,
 * namespace 3 served through TypeScript (an error bdev injecting nothing), namespaces 4-7 with
 * metadata (4: 512+8 separate, PI Type 1; 5: 512+16 extended, PI Type 2 in the last 8 bytes;
 * 6: 4096+64 separate, PI Type 3 in the first 8; 7: 512+16 separate, no PI), and a 16 MiB
 * namespace pool, so the Namespace Management and Attachment cases run too; a second listener
 * (DIR/second/cntrl, never connected) is the subsystem's other controller, for the cases that
 * attach to one.
 */
export const IN_PROCESS_POOL_BYTES = 16 << 20;

export async function startInProcessTarget(mode: 'mapped' | 'message', o: { interruptMode?: boolean } = {}): Promise<{ endpoint: NvmeEndpoint; slowNsid: number; upcallNsid: number; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-conformance-'));
  const nqn = 'nqn.2019-07.io.spdk:cnode-conformance';
  const bdevs = new BdevRegistry();
  const malloc = new MallocBdev({ name: 'Malloc0', blockSize: 512, numBlocks: 32768 });
  const slowBase = new MallocBdev({ name: 'Malloc1', blockSize: 512, numBlocks: 2048 });
  const slow = new DelayBdev('Delay1', slowBase, { avgReadUs: 100_000, p99ReadUs: 100_000, avgWriteUs: 100_000, p99WriteUs: 100_000 });
  const upcallBase = new MallocBdev({ name: 'Malloc2', blockSize: 512, numBlocks: 4096 });
  const upcall = new ErrorBdev(upcallBase);
  const withMetadata = [
    new MallocBdev({ name: 'Malloc3', blockSize: 512, numBlocks: 1024, metadata: { size: 8, interleave: false, piType: 1, piFirst: false } }),
    new MallocBdev({ name: 'Malloc4', blockSize: 512, numBlocks: 1024, metadata: { size: 16, interleave: true, piType: 2, piFirst: false } }),
    new MallocBdev({ name: 'Malloc5', blockSize: 4096, numBlocks: 256, metadata: { size: 64, interleave: false, piType: 3, piFirst: true } }),
    new MallocBdev({ name: 'Malloc6', blockSize: 512, numBlocks: 1024, metadata: { size: 16, interleave: false, piType: 0, piFirst: false } }),
  ];
  // A zoned namespace (bdev_zone_block_create -z 48 -o 1 over 1024 blocks: 16 zones of 64 blocks),
  // Max Open 2 / Max Active 3 zones, for cases/zoned.ts.
  const zoneBase = new MallocBdev({ name: 'Malloc7', blockSize: 512, numBlocks: 1024 });
  const zoned = new ZoneBlockBdev('Zone0', zoneBase, 48, 1, { maxOpenZones: 2, maxActiveZones: 3 });
  for (const b of [malloc, slowBase, slow, upcallBase, upcall, ...withMetadata, zoneBase, zoned]) bdevs.add(b, { method: 'in-process', params: {} });
  let endpoint: NvmeEndpoint | undefined;
  const target = new NvmfTarget(bdevs, silentLogger, async (o) => {
    const made = vfioUserEndpointFor(o);
    endpoint = made.nvme;
    return made.endpoint;
  }, o.interruptMode === true);
  const close = async () => {
    await target.shutdown();
    await bdevs.closeAll();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    target.createTransport('VFIOUSER', { max_queue_depth: 1024, disable_mappable_bar0: mode === 'message' });
    target.createSubsystem({
      nqn,
      serialNumber: 'VNVMECONF0001',
      modelNumber: 'vnvme conformance target',
      allowAnyHost: true,
      maxNamespaces: 32,
      anaReporting: false,
      minCntlid: 1,
      maxCntlid: 0xffef,
      dmrsl: 0,
      wzsl: 0,
      passthrough: false,
      enableNssr: false,
    });
    target.addNamespace(nqn, { bdev_name: malloc.name, nsid: 1, nguid: '6e766d65636f6e66000000000000a001', eui64: '6e766d6500a00001' });
    target.addNamespace(nqn, { bdev_name: slow.name, nsid: 2 });
    target.addNamespace(nqn, { bdev_name: upcall.name, nsid: 3 });
    withMetadata.forEach((b, i) => target.addNamespace(nqn, { bdev_name: b.name, nsid: 4 + i }));
    target.addNamespace(nqn, { bdev_name: zoned.name, nsid: 8 });
    target.setNamespacePool(nqn, IN_PROCESS_POOL_BYTES);
    await target.addListener(nqn, { address: { trtype: 'VFIOUSER', traddr: dir } });
    const first = endpoint;
    mkdirSync(join(dir, 'second'), { mode: 0o700 });
    await target.addListener(nqn, { address: { trtype: 'VFIOUSER', traddr: join(dir, 'second') } });
    endpoint = first;
  } catch (err) {
    await close();
    throw err;
  }
  return { endpoint: endpoint!, slowNsid: 2, upcallNsid: 3, close };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new CaseFailure(`${what}: did not finish within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export async function runConformance(o: ConformanceOptions = {}): Promise<ConformanceReport> {
  const started = Date.now();
  let own: Awaited<ReturnType<typeof startInProcessTarget>> | null = null;
  let endpoint = o.endpoint ?? null;
  let slowNsid = o.slowNsid;
  let upcallNsid = o.upcallNsid;
  let socketPath = o.socketPath ?? endpoint?.socketPath;
  if (!socketPath) {
    own = await startInProcessTarget(o.mode ?? 'mapped', { interruptMode: o.interruptMode });
    endpoint = own.endpoint;
    slowNsid = own.slowNsid;
    upcallNsid = own.upcallNsid;
    socketPath = own.endpoint.socketPath;
  }
  const wantMapped = (o.mode ?? 'mapped') === 'mapped';
  const baseEnv: CaseEnv = { mode: wantMapped ? 'mapped' : 'message', endpoint, socketPath, subnqn: o.subnqn, slowNsid, upcallNsid };
  const cases = conformanceCases.filter((c) => (!o.filter || c.id.includes(o.filter)) && (c.applies?.(baseEnv) ?? true));
  const results: CaseResult[] = [];
  let session: Session | null = null;
  let mode: 'mapped' | 'message' = wantMapped ? 'mapped' : 'message';
  const open = async (shape: 'bare' | 'full') => {
    session?.close();
    session = null;
    session = await Session.open({ socketPath: socketPath!, mappedDoorbells: wantMapped, shape });
    mode = session.drv.mappedDoorbells ? 'mapped' : 'message';
    return session;
  };
  try {
    for (const c of cases) {
      const env: CaseEnv = { ...baseEnv, mode };
      const t0 = Date.now();
      const t = new CaseContext(() => session!, env);
      let verdict: Verdict = 'pass';
      let detail: string | undefined;
      let missing: string | undefined;
      try {
        const cur = session as Session | null;
        if (c.fresh || !cur || cur.dirty || cur.shape !== 'full') await open(c.fresh ?? 'full');
        env.mode = mode;
        await withTimeout(c.run(t), o.caseTimeoutMs ?? 20000, c.id);
      } catch (err) {
        if (err instanceof CaseSkip) {
          verdict = 'skip';
          detail = err.message;
        } else {
          verdict = 'fail';
          detail = err instanceof CaseFailure ? err.message : `error: ${(err as Error).message}`;
          if (session) (session as Session).dirty = true;
          const gap = c.gap?.(env);
          if (gap) {
            verdict = 'expected-failure';
            missing = gap;
          }
        }
      }
      // A case that leaves fresh state behind (shape 'bare' etc.) is not reused by 'full' cases.
      const r: CaseResult = { id: c.id, section: c.section, title: c.title, procedure: c.procedure, expected: c.expected, level: c.level, verdict, detail, missing, evidence: t.evidence, ms: Date.now() - t0 };
      results.push(r);
      o.onResult?.(r);
    }
  } finally {
    (session as Session | null)?.close();
    if (own) await own.close();
  }
  const summary = { total: results.length, pass: 0, fail: 0, skip: 0, 'expected-failure': 0 } as ConformanceReport['summary'];
  for (const r of results) summary[r.verdict]++;
  return { target: socketPath, mode, startedAt: new Date(started).toISOString(), durationMs: Date.now() - started, summary, results };
}

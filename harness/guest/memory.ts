// Guest RAM that a vfio-user server can map: QEMU passes the fds of fd-backed, shared RAM.
// Default: 2 MiB hugepages on hugetlbfs (reserved and mounted by the harness when it can);
// otherwise memfd with share=on. The choice, and why, is reported with every guest.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MemoryBackend } from '../qemu/command-line.js';
import { spawnSync } from 'node:child_process';
import { run } from '../process.js';

export type MemoryPreference = 'auto' | 'hugepages' | 'memfd';

/** What was changed on the host, so teardown (maybe in another process: `vm stop`) can undo it. */
export interface MemoryReservation {
  /** hugetlbfs mount point the harness created and must unmount. */
  mountedByUs?: string;
  /** 2 MiB pages the harness added to vm.nr_hugepages and must give back. */
  pagesAdded: number;
}

export interface GuestMemory {
  backend: MemoryBackend;
  /** "hugetlbfs 2 MiB pages at /dev/hugepages" or "memfd (share=on): <why no hugepages>". */
  description: string;
  reservation: MemoryReservation;
}

const NR = '/proc/sys/vm/nr_hugepages';
const FREE = '/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages';

function readInt(path: string): number {
  return Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
}

/** A hugetlbfs mount with 2 MiB pages from /proc/mounts text, or undefined. */
export function findHugetlbfsMount(mounts: string): string | undefined {
  for (const line of mounts.split('\n')) {
    const [, mountPoint, fsType, options] = line.split(' ');
    if (fsType !== 'hugetlbfs' || !mountPoint) continue;
    const size = /pagesize=(\w+)/.exec(options ?? '')?.[1];
    if (size === undefined || size === '2M' || size === '2048k') return mountPoint.replace(/\\040/g, ' ');
  }
  return undefined;
}

export function hugepagesNeeded(memMiB: number): number {
  return Math.ceil(memMiB / 2);
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

async function tryHugepages(memMiB: number, runDir: string): Promise<GuestMemory | string> {
  if (!existsSync(FREE)) return 'the kernel has no 2 MiB hugepage pool';
  const need = hugepagesNeeded(memMiB);
  const reservation: MemoryReservation = { pagesAdded: 0 };
  const free = readInt(FREE);
  if (free < need) {
    if (!isRoot()) return `${free} free 2 MiB hugepages, ${need} needed, and only root can reserve more (echo N > ${NR})`;
    const before = readInt(NR);
    const want = before + (need - free);
    try {
      writeFileSync(NR, String(want));
    } catch (err) {
      return `cannot reserve hugepages (${(err as NodeJS.ErrnoException).code ?? (err as Error).message} writing ${NR}; a container without that right?)`;
    }
    const after = readInt(NR);
    reservation.pagesAdded = after - before;
    if (readInt(FREE) < need) {
      await releaseGuestMemory(reservation);
      return `asked the kernel for ${want} hugepages, got ${after} (memory too fragmented or too little free)`;
    }
  }
  let mountPoint = findHugetlbfsMount(readFileSync('/proc/mounts', 'utf8'));
  if (!mountPoint) {
    if (!isRoot()) {
      await releaseGuestMemory(reservation);
      return 'no hugetlbfs is mounted and only root can mount one';
    }
    mountPoint = join(runDir, 'hugepages');
    mkdirSync(mountPoint, { recursive: true });
    try {
      await run('mount', ['-t', 'hugetlbfs', '-o', 'pagesize=2M', 'hugetlbfs', mountPoint]);
    } catch (err) {
      await releaseGuestMemory(reservation);
      return `mounting hugetlbfs failed: ${(err as Error).message.split('\n')[0]}`;
    }
    reservation.mountedByUs = mountPoint;
  }
  return {
    backend: { kind: 'hugetlbfs', mountPoint },
    description: `hugetlbfs, ${need} x 2 MiB pages at ${mountPoint}${reservation.pagesAdded ? ` (${reservation.pagesAdded} reserved by the harness)` : ''}`,
    reservation,
  };
}

export async function prepareGuestMemory(memMiB: number, pref: MemoryPreference, runDir: string): Promise<GuestMemory> {
  if (pref !== 'memfd') {
    const r = await tryHugepages(memMiB, runDir);
    if (typeof r !== 'string') return r;
    if (pref === 'hugepages') throw new Error(`--memory hugepages: ${r}. Use --memory memfd (or auto) instead.`);
    return { backend: { kind: 'memfd' }, description: `memfd (share=on); no hugepages: ${r}`, reservation: { pagesAdded: 0 } };
  }
  return { backend: { kind: 'memfd' }, description: 'memfd (share=on), as requested', reservation: { pagesAdded: 0 } };
}

/** The same, synchronously and with a lazy unmount: for process exit, when QEMU may still be dying. */
export function releaseGuestMemorySync(res: MemoryReservation): void {
  if (res.mountedByUs) {
    spawnSync('umount', ['-l', res.mountedByUs], { stdio: 'ignore' });
    try {
      rmdirSync(res.mountedByUs);
    } catch {
      /* busy or gone */
    }
    res.mountedByUs = undefined;
  }
  if (res.pagesAdded > 0) {
    const n = res.pagesAdded;
    res.pagesAdded = 0;
    try {
      writeFileSync(NR, String(Math.max(0, readInt(NR) - n)));
    } catch {
      /* best effort at exit */
    }
  }
}

/** Undoes a reservation: unmounts our hugetlbfs, gives back the pages we added. Idempotent. */
export async function releaseGuestMemory(res: MemoryReservation): Promise<void> {
  if (res.mountedByUs) {
    const mp = res.mountedByUs;
    res.mountedByUs = undefined;
    await run('umount', [mp]).catch(() => run('umount', ['-l', mp]));
    try {
      rmdirSync(mp);
    } catch {
      /* not empty or gone */
    }
  }
  if (res.pagesAdded > 0) {
    const n = res.pagesAdded;
    res.pagesAdded = 0;
    writeFileSync(NR, String(Math.max(0, readInt(NR) - n)));
  }
}

// Guest RAM that a vfio-user server can map: QEMU passes the fds of fd-backed, shared RAM.
// Default: 2 MiB hugepages on hugetlbfs (reserved and mounted by the harness when it can);
// otherwise memfd with share=on. The choice, and why, is reported with every guest.
// Guests booting at once (--jobs N) must not count the same free pages: a host lock is held from
// the reservation until this guest's QEMU has taken its pages (settle), and around giving back.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MemoryBackend } from '../qemu/command-line.js';
import { spawnSync } from 'node:child_process';
import { pidAlive, run } from '../process.js';
import { acquireHostLock, acquireHostLockSync, type HostLock } from '../host-lock.js';

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
  /**
   * Call once QEMU is being spawned, with a getter of its current pid (undefined once no QEMU
   * will run): waits until QEMU holds its hugepages (or has been gone for 2 s, or 60 s pass),
   * then lets the next guest count free pages. A QEMU restarted on another port keeps it armed.
   */
  settle(qemuPid: () => number | undefined): Promise<void>;
}

const HUGEPAGE_LOCK = 'hugepages';
const RSVD = '/sys/kernel/mm/hugepages/hugepages-2048kB/resv_hugepages';

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

/** Free 2 MiB pages that no mapping has reserved yet. */
function availablePages(): number {
  return readInt(FREE) - (existsSync(RSVD) ? readInt(RSVD) : 0);
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

async function tryHugepages(memMiB: number, runDir: string): Promise<GuestMemory | string> {
  if (!existsSync(FREE)) return 'the kernel has no 2 MiB hugepage pool';
  const need = hugepagesNeeded(memMiB);
  const reservation: MemoryReservation = { pagesAdded: 0 };
  const free = availablePages();
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
    if (availablePages() < need) {
      await giveBack(reservation);
      return `asked the kernel for ${want} hugepages, got ${after} (memory too fragmented or too little free)`;
    }
  }
  let mountPoint = findHugetlbfsMount(readFileSync('/proc/mounts', 'utf8'));
  if (!mountPoint) {
    if (!isRoot()) {
      await giveBack(reservation);
      return 'no hugetlbfs is mounted and only root can mount one';
    }
    mountPoint = join(runDir, 'hugepages');
    mkdirSync(mountPoint, { recursive: true });
    try {
      await run('mount', ['-t', 'hugetlbfs', '-o', 'pagesize=2M', 'hugetlbfs', mountPoint]);
    } catch (err) {
      await giveBack(reservation);
      return `mounting hugetlbfs failed: ${(err as Error).message.split('\n')[0]}`;
    }
    reservation.mountedByUs = mountPoint;
  }
  return {
    backend: { kind: 'hugetlbfs', mountPoint },
    description: `hugetlbfs, ${need} x 2 MiB pages at ${mountPoint}${reservation.pagesAdded ? ` (${reservation.pagesAdded} reserved by the harness)` : ''}`,
    reservation,
    settle: async () => undefined,
  };
}

/** Resolves once `need` of the pages available before are taken (QEMU's prealloc), QEMU is gone, or after `timeoutMs`. */
async function waitForPagesTaken(availableBefore: number, need: number, qemuPid: () => number | undefined, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let goneSince: number | undefined;
  while (Date.now() < deadline && availablePages() > availableBefore - need) {
    const pid = qemuPid();
    if (pid === undefined) return;
    if (pidAlive(pid)) goneSince = undefined;
    else if ((goneSince ??= Date.now()) < Date.now() - 2_000) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const memfdMemory = (description: string): GuestMemory => ({ backend: { kind: 'memfd' }, description, reservation: { pagesAdded: 0 }, settle: async () => undefined });

export async function prepareGuestMemory(memMiB: number, pref: MemoryPreference, runDir: string): Promise<GuestMemory> {
  if (pref !== 'memfd') {
    const lock: HostLock | undefined = existsSync(FREE) ? await acquireHostLock(HUGEPAGE_LOCK) : undefined;
    let r: GuestMemory | string;
    try {
      r = await tryHugepages(memMiB, runDir);
    } catch (err) {
      lock?.release();
      throw err;
    }
    if (typeof r !== 'string') {
      const before = availablePages();
      const need = hugepagesNeeded(memMiB);
      let settled = false;
      r.settle = async (pid) => {
        if (settled) return;
        settled = true;
        try {
          await waitForPagesTaken(before, need, pid);
        } finally {
          lock?.release();
        }
      };
      return r;
    }
    lock?.release();
    if (pref === 'hugepages') throw new Error(`--memory hugepages: ${r}. Use --memory memfd (or auto) instead.`);
    return memfdMemory(`memfd (share=on); no hugepages: ${r}`);
  }
  return memfdMemory('memfd (share=on), as requested');
}

/** The same, synchronously and with a lazy unmount: for process exit, when QEMU may still be dying. */
export function releaseGuestMemorySync(res: MemoryReservation): void {
  const lock = res.pagesAdded > 0 ? acquireHostLockSync(HUGEPAGE_LOCK) : undefined;
  try {
    giveBackSync(res);
  } finally {
    lock?.release();
  }
}

function giveBackSync(res: MemoryReservation): void {
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
  // The pool size is read, changed and written: not while another guest is counting pages.
  const lock = res.pagesAdded > 0 ? await acquireHostLock(HUGEPAGE_LOCK, 30_000).catch(() => undefined) : undefined;
  try {
    await giveBack(res);
  } finally {
    lock?.release();
  }
}

async function giveBack(res: MemoryReservation): Promise<void> {
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

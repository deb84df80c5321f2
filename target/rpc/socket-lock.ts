// `<sock>.lock`: one target per RPC socket, as SPDK's flock on /var/tmp/spdk.sock.lock.
//
// The lock usually sits in a world-writable directory (/var/tmp), so nothing in it is trusted:
// - it is opened with O_NOFOLLOW and, when new, O_EXCL: a planted symlink is refused, never
//   written through, and no predictable temporary name is ever opened;
// - it must be a regular file with one link, owned by us: a file anyone else controls is not
//   a lock of ours and is refused (remove it);
// - node has no flock, so the file holds the holder's pid, and a pid only counts when it is a
//   number in range, the process is alive, and it is a target: the RPC socket answers, or its
//   command line is `vnvme ... target` (a target still starting). A stale or garbage pid, or
//   the pid of some unrelated process, does not stop a target from starting.
import { closeSync, constants as fsc, fchmodSync, fstatSync, ftruncateSync, lstatSync, openSync, readFileSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { socketAnswers } from '../nvmf/target.js';

/** PID_MAX_LIMIT of 64-bit Linux: no pid is larger. */
const PID_MAX = 4_194_304;
/** A pid and a newline is all a lock holds; more is garbage. */
const MAX_LOCK_BYTES = 32;

/** Locks held by this process, so two daemons in one process are refused too. */
const heldLocks = new Set<string>();

export class SocketLock {
  private constructor(
    readonly path: string,
    private fd: number | undefined,
    private readonly ino: number,
    private readonly dev: number,
  ) {}

  /** Takes `lockPath` for the RPC socket `socketPath`, or throws saying who holds it and what to do. */
  static async acquire(lockPath: string, socketPath: string): Promise<SocketLock> {
    if (heldLocks.has(lockPath)) throw new Error(`RPC socket lock ${lockPath} is already held by a target in this process`);
    for (let attempt = 0; attempt < 3; attempt++) {
      const opened = openLock(lockPath);
      if (!opened) continue; // removed between our two opens: try again
      const { fd, created } = opened;
      try {
        const st = checkLockFile(fd, lockPath);
        if (!created) {
          const pid = readPid(fd);
          if (pid !== undefined && pid !== process.pid && pidAlive(pid) && (await isTarget(pid, socketPath)))
            throw new Error(`another target (pid ${pid}) holds ${lockPath}; is the RPC socket already in use? Use -r to choose another`);
        }
        ftruncateSync(fd, 0);
        writeSync(fd, `${process.pid}\n`, 0);
        fchmodSync(fd, 0o600);
        // Still the file at lockPath (a target stopping may have removed it meanwhile)?
        const now = statOrUndefined(lockPath);
        if (!now || now.ino !== st.ino || now.dev !== st.dev) {
          closeSync(fd);
          continue;
        }
        heldLocks.add(lockPath);
        return new SocketLock(lockPath, fd, st.ino, st.dev);
      } catch (err) {
        closeSync(fd);
        throw err;
      }
    }
    throw new Error(`could not take ${lockPath}: it keeps changing; is another target starting on the same socket?`);
  }

  /** Removes the lock if it is still ours (same file, our pid in it). */
  release(): void {
    if (this.fd === undefined) return;
    heldLocks.delete(this.path);
    try {
      const now = statOrUndefined(this.path);
      if (now && now.ino === this.ino && now.dev === this.dev && readPid(this.fd) === process.pid) unlinkSync(this.path);
    } catch {
      // already gone
    } finally {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/** Opens the lock file without following a symlink; undefined if it vanished between attempts. */
function openLock(path: string): { fd: number; created: boolean } | undefined {
  const base = fsc.O_RDWR | fsc.O_NOFOLLOW | fsc.O_NONBLOCK;
  try {
    return { fd: openSync(path, base | fsc.O_CREAT | fsc.O_EXCL, 0o600), created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw lockError(err, path);
  }
  try {
    return { fd: openSync(path, base), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw lockError(err, path);
  }
}

function lockError(err: unknown, path: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ELOOP') return new Error(`${path} is a symbolic link; refusing to use it as the RPC socket lock (remove it, and check who planted it)`);
  return new Error(`cannot open the RPC socket lock ${path}: ${err instanceof Error ? err.message : String(err)}`);
}

/** The opened lock must be a regular file with one link, owned by us. */
function checkLockFile(fd: number, path: string): { ino: number; dev: number } {
  const st = fstatSync(fd);
  const uid = process.geteuid?.() ?? st.uid;
  if (!st.isFile()) throw new Error(`${path} is not a regular file; refusing to use it as the RPC socket lock (remove it)`);
  if (st.uid !== uid) throw new Error(`${path} is owned by uid ${st.uid}, not by us (uid ${uid}); refusing to use it as the RPC socket lock (remove it if no target runs on this socket)`);
  if (st.nlink !== 1) throw new Error(`${path} has ${st.nlink} links; refusing to use it as the RPC socket lock (remove it)`);
  return { ino: st.ino, dev: st.dev };
}

/** The pid a lock holds, if what it holds is one: digits, in range. */
function readPid(fd: number): number | undefined {
  const buf = Buffer.alloc(MAX_LOCK_BYTES + 1);
  const n = readSync(fd, buf, 0, buf.length, 0);
  if (n > MAX_LOCK_BYTES) return undefined;
  const text = buf.toString('latin1', 0, n).trim();
  if (!/^\d{1,7}$/.test(text)) return undefined;
  const pid = Number(text);
  return pid >= 1 && pid <= PID_MAX ? pid : undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether `pid` is a target on this socket: the socket answers, or it runs `vnvme ... target`. */
async function isTarget(pid: number, socketPath: string): Promise<boolean> {
  if (await socketAnswers(socketPath)) return true;
  let args: string[];
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
  } catch {
    return false;
  }
  return args.some((a) => /^vnvme(\.js)?$/.test(basename(a))) && args.includes('target');
}

function statOrUndefined(path: string): { ino: number; dev: number } | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

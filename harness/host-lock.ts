// A lock shared by every harness process on the host (scenario workers under --jobs N, `vnvme vm
// start` in another shell): a file created with O_EXCL holding the owner's pid, in /run/vnvme as
// root (host-wide whatever the cache directory), else in the cache. A lock whose owner is dead
// is taken over; one whose file cannot be read is taken over after 30 s.
import { mkdirSync, openSync, closeSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './cache.js';
import { pidAlive } from './process.js';

export interface HostLock {
  release(): void;
}

function lockPath(name: string): string {
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    mkdirSync('/run/vnvme', { recursive: true, mode: 0o755 });
    return join('/run/vnvme', `${name}.lock`);
  }
  return join(cacheDir('locks'), `${name}.lock`);
}

/** One attempt: the lock, or undefined when a live process holds it. */
export function tryHostLock(name: string): HostLock | undefined {
  const path = lockPath(name);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o644);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            if (readFileSync(path, 'utf8').trim() === String(process.pid)) unlinkSync(path);
          } catch {
            /* gone */
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = Number.NaN;
    let age = 0;
    try {
      owner = Number.parseInt(readFileSync(path, 'utf8').trim(), 10);
      age = Date.now() - statSync(path).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    const stale = Number.isInteger(owner) && owner > 0 ? !pidAlive(owner) : age > 30_000;
    if (!stale) return undefined;
    try {
      unlinkSync(path);
    } catch {
      /* someone else took it over first */
    }
  }
  return undefined;
}

/** Waits (polling) for the lock; throws after `timeoutMs` naming the holder. */
export async function acquireHostLock(name: string, timeoutMs = 300_000): Promise<HostLock> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lock = tryHostLock(name);
    if (lock) return lock;
    if (Date.now() > deadline) {
      let holder = 'unknown';
      try {
        holder = readFileSync(lockPath(name), 'utf8').trim();
      } catch {
        /* gone */
      }
      throw new Error(`waited ${Math.round(timeoutMs / 1000)} s for the host lock ${lockPath(name)} (held by pid ${holder})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** For exit paths that cannot wait on the event loop: a few attempts, sleeping in between. */
export function acquireHostLockSync(name: string, timeoutMs = 2_000): HostLock | undefined {
  const deadline = Date.now() + timeoutMs;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    const lock = tryHostLock(name);
    if (lock || Date.now() > deadline) return lock;
    Atomics.wait(sleeper, 0, 0, 50);
  }
}

// Where the harness keeps what it provisions (QEMU trees, QEMU builds, guest images, keys),
// and the content keys those entries are stored under.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import tmp from 'tmp';

/** `${VNVME_CACHE:-$HOME/.cache/vnvme}`. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env.VNVME_CACHE;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  return join(env.HOME ?? homedir(), '.cache', 'vnvme');
}

export function cacheDir(...parts: string[]): string {
  const dir = join(cacheRoot(), ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Stable JSON (object keys sorted) so a key does not depend on property order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A short content key: the first 16 hex digits of sha256 over the canonical JSON. */
export function contentKey(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

/**
 * Builds `finalDir` through a scratch directory next to it and renames it into place, so a
 * crash or Ctrl-C never leaves a half-built entry that looks complete. Concurrent builders
 * waste work but never corrupt: the first rename wins.
 */
export async function buildAtomically(finalDir: string, build: (scratch: string) => Promise<void>): Promise<void> {
  if (existsSync(finalDir)) return;
  mkdirSync(dirname(finalDir), { recursive: true });
  // A `tmp` directory next to the entry (same filesystem, so the rename is atomic), removed on
  // failure and, through tmp's graceful cleanup, even when the process exits mid-build.
  tmp.setGracefulCleanup();
  const scratchDir = tmp.dirSync({ tmpdir: dirname(finalDir), prefix: `${basename(finalDir)}.partial-${process.pid}-`, unsafeCleanup: true });
  const scratch = scratchDir.name;
  try {
    await build(scratch);
    if (existsSync(finalDir)) scratchDir.removeCallback();
    else renameSync(scratch, finalDir);
  } catch (err) {
    rmSync(scratch, { recursive: true, force: true });
    throw err;
  }
}

// Live migration of a guest between two QEMUs (QMP `migrate` to a destination started with
// `-incoming`). A QEMU without vfio-user migration (upstream 10.1-11.1) migrates a guest with
// a vfio-user device as if the device had no state: the destination's device starts blank
// and the guest's queues, completions and interrupts are gone. migrateGuest() therefore
// refuses such a migration unless forced.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Guest } from './guest.js';
import { QmpClient } from './qmp.js';

/**
 * Waits until a destination QEMU started with `-incoming` listens: its QMP answers only once
 * QEMU's main loop runs, which is after the incoming socket is open. Returns its status.
 */
export async function waitForIncoming(runDir: string, timeoutMs = 120_000): Promise<string> {
  const qmpPath = join(runDir, 'qmp.sock');
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(qmpPath)) {
    if (Date.now() > deadline) throw new Error(`the destination QEMU did not create ${qmpPath} within ${timeoutMs / 1000} s (see ${join(runDir, 'qemu.stderr')})`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const qmp = await QmpClient.connect(qmpPath, Math.max(1000, deadline - Date.now()));
  try {
    const st = (await qmp.execute('query-status')) as { status?: string };
    return String(st.status ?? 'unknown');
  } finally {
    qmp.close();
  }
}

/** Ends a destination QEMU this process started (by the pid in its run directory) after a failed migration. */
export function killIncoming(runDir: string): void {
  try {
    const pid = Number.parseInt(readFileSync(join(runDir, 'qemu.pid'), 'utf8'), 10);
    if (pid > 0 && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(runDir)) process.kill(pid, 'SIGKILL');
  } catch {
    /* not started or gone */
  }
}

export class MigrationRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationRefused';
  }
}

export interface GuestMigrationOptions {
  /** Where the destination listens, e.g. tcp:127.0.0.1:4444. */
  uri: string;
  /** Whether the source QEMU carries vfio-user device state (Oracle's fork with x-enable-migration). */
  vfioUserMigration: boolean;
  /** Migrate even though vfio-user device state would be lost. */
  force?: boolean;
  timeoutMs?: number;
}

export interface GuestMigrationResult {
  status: string;
  /** query-migrate's reply when it finished. */
  info: Record<string, unknown>;
  /** vfio device state bytes QEMU reports moving (`vfio.transferred`), null when absent. */
  vfioTransferred: number | null;
  elapsedMs: number;
}

export function vfioUserMigrationRefusal(src: Guest, vfioUserMigration: boolean): string | undefined {
  if (!src.info.vfioUser.length || vfioUserMigration) return undefined;
  return (
    `refusing to migrate guest ${src.info.name}: it has vfio-user device(s) ${src.info.vfioUser.map((d) => d.id).join(', ')} and ` +
    `${src.info.qemu} has no vfio-user migration, so their state (queues, in-flight I/O) would be silently lost ` +
    `on the destination; use a migration-capable QEMU, or force it to see the loss`
  );
}

export async function migrateGuest(src: Guest, o: GuestMigrationOptions): Promise<GuestMigrationResult> {
  const why = vfioUserMigrationRefusal(src, o.vfioUserMigration);
  if (why && !o.force) throw new MigrationRefused(why);
  const qmp = await src.qmp();
  const t0 = Date.now();
  try {
    await qmp.migrate(o.uri);
    const deadline = t0 + (o.timeoutMs ?? 300_000);
    for (;;) {
      const info = await qmp.queryMigrate();
      const status = String(info.status ?? 'unknown');
      if (status === 'completed' || status === 'failed' || status === 'cancelled') {
        const vfio = info.vfio as { transferred?: unknown } | undefined;
        return { status, info, vfioTransferred: typeof vfio?.transferred === 'number' ? vfio.transferred : null, elapsedMs: Date.now() - t0 };
      }
      if (Date.now() > deadline) {
        await qmp.execute('migrate_cancel').catch(() => undefined);
        throw new Error(`migration still ${status} after ${o.timeoutMs ?? 300_000} ms; cancelled`);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    qmp.close();
  }
}

/**
 * After a failed migration (or a destination that died after the source said "completed"):
 * runs the guest on the source again. QEMU resumes the source itself when the migration fails
 * before completion; after completion it sits in postmigrate and needs `cont`. Returns what it
 * found and did, for the report.
 */
export async function resumeOnSource(src: Guest): Promise<string> {
  const qmp = await src.qmp();
  try {
    const st = (await qmp.execute('query-status')) as { status?: string; running?: boolean };
    if (st.running) return `the source guest is running again (status ${st.status})`;
    await qmp.execute('cont');
    const after = (await qmp.execute('query-status')) as { status?: string; running?: boolean };
    return `the source guest was ${st.status}; \`cont\` resumed it (now ${after.status})`;
  } finally {
    qmp.close();
  }
}

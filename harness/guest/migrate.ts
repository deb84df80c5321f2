// Live migration of a guest between two QEMUs (QMP `migrate` to a destination started with
// `-incoming`). A QEMU without vfio-user migration (upstream 10.1-11.1) migrates a guest with
// a vfio-user device as if the device had no state: the destination's device starts blank
// and the guest's queues, completions and interrupts are gone. migrateGuest() therefore
// refuses such a migration unless forced.
import type { Guest } from './guest.js';

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
      if (Date.now() > deadline) throw new Error(`migration still ${status} after ${o.timeoutMs ?? 300_000} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    qmp.close();
  }
}

// Assembles the server-facing MigrationHooks from the migration core and its adapters:
// v2 always; v1 (region 9, DIRTY_PAGES, unmap bitmaps, the VERSION capability) on request.
import type { MigrationHooks } from '../vfio-user/migration-hooks.js';
import type { DeviceMigration } from './migration.js';
import { MigrationV1 } from './v1.js';
import { handleDeviceFeature, handleMigDataRead, handleMigDataWrite } from './v2.js';

export function migrationHooks(m: DeviceMigration, opts: { v1?: boolean } = {}): MigrationHooks {
  const v2: MigrationHooks = {
    deviceFeature: (p) => handleDeviceFeature(m, p),
    migDataRead: (p, max) => handleMigDataRead(m, p, max),
    migDataWrite: (p) => handleMigDataWrite(m, p),
    deviceReset: () => m.deviceReset(),
    clientGone: () => m.clientGone(),
  };
  if (!opts.v1) return v2;
  const v1 = new MigrationV1(m);
  return {
    ...v2,
    v1Region: v1.region,
    v1RegionRead: (o, c) => v1.regionRead(o, c),
    v1RegionWrite: (o, d) => v1.regionWrite(o, d),
    dirtyPages: (p) => v1.dirtyPages(p),
    unmapDirtyBitmap: (iova, size, pgsize, bytes) => v1.bitmap(iova, size, pgsize, bytes),
    versionCaps: (c) => v1.versionCaps(c),
    deviceReset: () => {
      v1.reset();
      m.deviceReset();
    },
    clientGone: () => {
      v1.reset();
      m.clientGone();
    },
  };
}

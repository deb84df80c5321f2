// bdev_zone_block: a zoned bdev over a non-zoned base, as SPDK's zone_block vbdev
// (module/bdev/zone_block/vbdev_zone_block.c). Zones are the zone capacity rounded up to a
// power of two blocks; the bdev has as many whole zones as the base holds (blocks past them go
// unused). Only a malloc base is offered: the native engine keeps the zone states and write
// pointers (native/nvme-zones.h) and serves the namespace's I/O, so the base must be memory it
// maps. The namespace over it belongs to the Zoned Namespace Command Set (CSI 02h).
import { Bdev, BdevZoneLayout, NativeBacking } from './bdev.js';
import { StackedBdev } from './base.js';

/** The smallest power of two >= n (SPDK's spdk_align64pow2). */
export function alignPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

export class ZoneBlockBdev extends StackedBdev {
  readonly productName = 'Zone block device';
  readonly zoned: BdevZoneLayout;

  constructor(
    name: string,
    base: Bdev,
    zoneCapacity: number,
    readonly optimalOpenZones: number,
    limits: { maxOpenZones: number; maxActiveZones: number },
    uuid?: string,
  ) {
    const zoneSize = alignPow2(zoneCapacity);
    const zones = Math.floor(base.numBlocks / zoneSize);
    super(name, base, uuid, zones * zoneSize);
    this.zoned = { zoneSize, zoneCapacity, zones, maxOpenZones: limits.maxOpenZones, maxActiveZones: limits.maxActiveZones };
  }
  /** The base's memory, with the zone layout the engine keeps state for. */
  override nativeBacking(): NativeBacking | null {
    const b = this.base.nativeBacking();
    if (!b || b.kind !== 'memory') return null;
    return { kind: 'memory', fd: b.fd, size: this.numBlocks * this.blockSize, zoned: this.zoned };
  }
  driverSpecific(): Record<string, unknown> {
    return {
      zone_block: {
        name: this.name,
        base_bdev: this.base.name,
        zone_capacity: this.zoned.zoneCapacity,
        optimal_open_zones: this.optimalOpenZones,
      },
    };
  }
}

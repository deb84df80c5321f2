// bdev methods: create/delete for malloc, null, aio/uring (files), error and delay bdevs,
// error injection, bdev_get_bdevs and bdev_get_iostat. Parameter names and results follow
// SPDK's schema/schema.yaml and module/bdev/*/ *_rpc.c.
import { totalmem } from 'node:os';
import { z } from 'zod';
import { BaseBdev, TICK_RATE, ticksNow } from '../../bdev/base.js';
import type { Bdev, BdevMetadata } from '../../bdev/bdev.js';
import { DelayBdev } from '../../bdev/delay.js';
import { ZoneBlockBdev, alignPow2 } from '../../bdev/zone-block.js';
import { ERROR_TYPES, ErrorBdev } from '../../bdev/error.js';
import { FileBdev } from '../../bdev/file.js';
import { MallocBdev } from '../../bdev/malloc.js';
import { NullBdev } from '../../bdev/null.js';
import type { TargetContext } from '../context.js';
import { errnoError, fromSystemError, invalidParams } from '../errors.js';
import { i32, methodsFor, RpcMethod, u32, u64, u8, uuid } from '../method.js';

const method = methodsFor<TargetContext>();

/** Keeps only the keys whose values are defined, for config entries. */
function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

function checkGeometry(blockSize: number, numBlocks: number): void {
  if (blockSize % 512 !== 0 || blockSize === 0) throw errnoError('EINVAL', `Data block size ${blockSize} is not a multiple of 512`);
  if (blockSize > 65536) throw errnoError('EINVAL', `Data block size ${blockSize} is larger than 65536`);
  if (numBlocks === 0) throw errnoError('EINVAL', 'Disk num_blocks must be greater than 0');
}

function checkNoMetadata(p: { md_size?: number; dif_type?: number; md_interleave?: boolean }): void {
  if (p.md_size) throw errnoError('ENOTSUP', `metadata (md_size ${p.md_size}) is not supported by vnvme bdevs`);
  if (p.dif_type) throw errnoError('ENOTSUP', `protection information (dif_type ${p.dif_type}) is not supported by vnvme bdevs`);
}

/** Creates and registers a stacked bdev atomically: the base is claimed only if all succeeds. */
function addStacked(ctx: TargetContext, bdev: Bdev, base: string, config: { method: string; params: Record<string, unknown> }): void {
  ctx.bdevs.checkFree(bdev.name);
  ctx.bdevs.claim(base, `bdev '${bdev.name}'`);
  ctx.bdevs.add(bdev, config);
}

/**
 * md_size, md_interleave, dif_type, dif_is_head_of_md, dif_pi_format as SPDK's
 * bdev_malloc_create takes them (module/bdev/malloc/bdev_malloc.c: md_size 0, 8, 16, 32, 64 or
 * 128; PI needs metadata). Only the 16-bit Guard PI format (dif_pi_format 0) is offered.
 */
function metadataOf(p: { md_size?: number; md_interleave?: boolean; dif_type?: number; dif_is_head_of_md?: boolean; dif_pi_format?: number }): BdevMetadata | undefined {
  const size = p.md_size ?? 0;
  if (![0, 8, 16, 32, 64, 128].includes(size)) throw errnoError('EINVAL', `metadata size ${size} is not supported (0, 8, 16, 32, 64 or 128)`);
  const piType = p.dif_type ?? 0;
  if (piType < 0 || piType > 3) throw errnoError('EINVAL', `dif_type ${piType} must be 0-3`);
  if (piType && size < 8) throw errnoError('EINVAL', `dif_type ${piType} needs md_size of at least 8 (the protection information's 8 bytes)`);
  if (p.dif_pi_format) throw errnoError('ENOTSUP', `dif_pi_format ${p.dif_pi_format}: only the 16-bit Guard format (0) is supported`);
  if (!size) return undefined;
  return { size, interleave: p.md_interleave ?? false, piType, piFirst: p.dif_is_head_of_md ?? false };
}

function baseFor(ctx: TargetContext, name: string): Bdev {
  const b = ctx.bdevs.get(name);
  const holder = ctx.bdevs.claimedBy(name);
  if (holder !== undefined) throw errnoError('EBUSY', `bdev '${name}' is already claimed by ${holder}`);
  // Stacked bdevs work in TypeScript, which moves data only: metadata is the native engine's.
  if (b.metadata) throw errnoError('ENOTSUP', `bdev '${name}' has ${b.metadata.size}-byte metadata, which only the native I/O engine serves; it cannot be the base of a TypeScript bdev (error, delay)`);
  // The native engine keeps the zone states and write pointers: I/O through TypeScript would pass them by.
  if (b.zoned) throw errnoError('ENOTSUP', `bdev '${name}' is zoned, which only the native I/O engine serves; it cannot be the base of another bdev`);
  return b;
}

export function bdevInfo(ctx: TargetContext, b: Bdev): Record<string, unknown> {
  const claimedBy = ctx.bdevs.claimedBy(b.name);
  return {
    name: b.name,
    aliases: [],
    product_name: b.productName,
    // Interleaved metadata is part of SPDK's block (blocklen = data + metadata).
    block_size: b.blockSize + (b.metadata?.interleave ? b.metadata.size : 0),
    num_blocks: b.numBlocks,
    uuid: b.uuid,
    ...(b.metadata
      ? {
          md_size: b.metadata.size,
          md_interleave: b.metadata.interleave,
          dif_type: b.metadata.piType,
          ...(b.metadata.piType
            ? {
                dif_is_head_of_md: b.metadata.piFirst,
                enabled_dif_check_types: { reftag: b.metadata.piType !== 3, apptag: false, guard: true },
                dif_pi_format: 0,
              }
            : {}),
        }
      : {}),
    assigned_rate_limits: { rw_ios_per_sec: 0, rw_mbytes_per_sec: 0, r_mbytes_per_sec: 0, w_mbytes_per_sec: 0 },
    claimed: claimedBy !== undefined,
    ...(claimedBy !== undefined ? { claim_type: 'exclusive_write' } : {}),
    // SPDK's bdev_get_bdevs: zone_size, max_open_zones, optimal_open_zones of a zoned bdev.
    zoned: b.zoned !== undefined,
    ...(b.zoned ? { zone_size: b.zoned.zoneSize, max_open_zones: b.zoned.maxOpenZones, optimal_open_zones: b instanceof ZoneBlockBdev ? b.optimalOpenZones : 0 } : {}),
    supported_io_types: b instanceof BaseBdev ? b.supportedIoTypes() : {},
    driver_specific: b.driverSpecific(),
  };
}

function iostatOf(b: Bdev): Record<string, unknown> {
  const s = b.stats;
  const x = b instanceof BaseBdev ? b.extremes : undefined;
  return {
    name: b.name,
    bytes_read: s.bytes_read,
    num_read_ops: s.num_read_ops,
    bytes_written: s.bytes_written,
    num_write_ops: s.num_write_ops,
    bytes_unmapped: s.bytes_unmapped,
    num_unmap_ops: s.num_unmap_ops,
    bytes_copied: 0,
    num_copy_ops: 0,
    read_latency_ticks: s.read_latency_ticks,
    max_read_latency_ticks: x?.max_read_latency_ticks ?? 0,
    min_read_latency_ticks: x?.min_read_latency_ticks ?? 0,
    write_latency_ticks: s.write_latency_ticks,
    max_write_latency_ticks: x?.max_write_latency_ticks ?? 0,
    min_write_latency_ticks: x?.min_write_latency_ticks ?? 0,
    unmap_latency_ticks: x?.unmap_latency_ticks ?? 0,
    max_unmap_latency_ticks: x?.max_unmap_latency_ticks ?? 0,
    min_unmap_latency_ticks: x?.min_unmap_latency_ticks ?? 0,
    copy_latency_ticks: 0,
    max_copy_latency_ticks: 0,
    min_copy_latency_ticks: 0,
    num_flush_ops: s.num_flush_ops,
    num_write_zeroes_ops: s.num_write_zeroes_ops,
    io_error: b instanceof BaseBdev ? { ...b.ioErrors } : {},
    queue_depth: b instanceof BaseBdev ? b.inFlight : 0,
    io_time: 0,
    weighted_io_time: 0,
  };
}

const nameOnly = z.object({ name: z.string() });

function fileCreate(kind: 'bdev_aio_create' | 'bdev_uring_create', productName: string) {
  return method({
    name: kind,
    params: z.object({
      name: z.string(),
      filename: z.string(),
      block_size: u32().optional(),
      readonly: z.boolean().optional(),
      fallocate: z.boolean().optional(),
      uuid: uuid().optional(),
      nowait: z.boolean().optional(),
      /** ours: whether writes may be acknowledged before they are durable (default true) */
      write_cache: z.boolean().optional(),
    }),
    handler: async (p, ctx) => {
      ctx.bdevs.checkFree(p.name);
      if (p.block_size) checkGeometry(p.block_size, 1);
      let bdev: FileBdev;
      try {
        bdev = await FileBdev.open({
          name: p.name,
          filename: p.filename,
          blockSize: p.block_size || undefined,
          readonly: p.readonly,
          uuid: p.uuid,
          writeCache: p.write_cache,
          productName,
        });
      } catch (err) {
        if (err instanceof RangeError) throw errnoError('EINVAL', err.message);
        throw fromSystemError(err, `cannot open '${p.filename}'`);
      }
      try {
        ctx.bdevs.add(bdev, {
          method: kind,
          params: defined({
            name: p.name,
            filename: p.filename,
            block_size: p.block_size,
            readonly: p.readonly,
            uuid: bdev.uuid,
            write_cache: p.write_cache,
          }),
        });
      } catch (err) {
        await bdev.close();
        throw err;
      }
      ctx.log.notice('file bdev created', { name: p.name, filename: p.filename, direct: bdev.direct, blocks: bdev.numBlocks });
      return p.name;
    },
  });
}

const noMetadata = {
  md_size: u32().optional(),
  md_interleave: z.boolean().optional(),
  dif_type: i32().optional(),
  dif_is_head_of_md: z.boolean().optional(),
  dif_pi_format: u32().optional(),
};

export const bdevMethods: RpcMethod<TargetContext>[] = [
  method({
    name: 'bdev_malloc_create',
    aliases: ['construct_malloc_bdev'],
    params: z.object({
      name: z.string().optional(),
      block_size: u32(),
      num_blocks: u64(),
      uuid: uuid().optional(),
      optimal_io_boundary: u32().optional(),
      physical_block_size: u32().optional(),
      numa_id: i32().optional(),
      ...noMetadata,
    }),
    handler: (p, ctx) => {
      checkGeometry(p.block_size, p.num_blocks);
      const metadata = metadataOf(p);
      if (p.physical_block_size && (p.physical_block_size < p.block_size || p.physical_block_size % p.block_size))
        throw errnoError('EINVAL', `physical block size ${p.physical_block_size} must be a multiple of the block size ${p.block_size}`);
      // The memfd is filled lazily; one larger than RAM would fail on a later write (SIGBUS).
      if (p.num_blocks * p.block_size > totalmem())
        throw errnoError('ENOMEM', `a ${p.num_blocks} x ${p.block_size}-byte malloc bdev is larger than this machine's memory (${Math.floor(totalmem() / 2 ** 20)} MiB)`);
      const name = p.name ?? ctx.bdevs.defaultName('Malloc');
      ctx.bdevs.checkFree(name);
      let bdev: MallocBdev;
      try {
        bdev = new MallocBdev({ name, blockSize: p.block_size, numBlocks: p.num_blocks, uuid: p.uuid, metadata, hugepages: ctx.mallocHugepages });
      } catch (err) {
        throw fromSystemError(err, `cannot allocate ${p.num_blocks} blocks of ${p.block_size} bytes`);
      }
      ctx.bdevs.add(bdev, {
        method: 'bdev_malloc_create',
        params: defined({
          name,
          num_blocks: p.num_blocks,
          block_size: p.block_size,
          physical_block_size: p.physical_block_size,
          uuid: bdev.uuid,
          optimal_io_boundary: p.optimal_io_boundary ?? 0,
          ...(metadata
            ? { md_size: metadata.size, md_interleave: metadata.interleave, dif_type: metadata.piType, dif_is_head_of_md: metadata.piFirst, dif_pi_format: 0 }
            : {}),
        }),
      });
      if (bdev.hugepagesRefused) ctx.log.warn(`malloc bdev ${name} is on ordinary pages: ${bdev.hugepagesRefused}`);
      ctx.log.notice('malloc bdev created', { name, blocks: p.num_blocks, block_size: p.block_size, ...(metadata ? { md_size: metadata.size, dif_type: metadata.piType } : {}), ...(ctx.mallocHugepages ? { hugepages: bdev.hugepages } : {}) });
      return name;
    },
  }),
  method({
    name: 'bdev_malloc_delete',
    aliases: ['delete_malloc_bdev'],
    params: nameOnly,
    handler: async (p, ctx) => {
      await ctx.bdevs.delete(p.name, ['bdev_malloc_create']);
      return true;
    },
  }),
  method({
    name: 'bdev_null_create',
    params: z.object({
      name: z.string(),
      block_size: u32(),
      num_blocks: u64(),
      uuid: uuid().optional(),
      physical_block_size: u32().optional(),
      preferred_write_alignment: u32().optional(),
      preferred_write_granularity: u32().optional(),
      optimal_write_size: u32().optional(),
      preferred_unmap_alignment: u32().optional(),
      preferred_unmap_granularity: u32().optional(),
      ...noMetadata,
    }),
    handler: (p, ctx) => {
      checkGeometry(p.block_size, p.num_blocks);
      checkNoMetadata(p);
      ctx.bdevs.checkFree(p.name);
      const bdev = new NullBdev({ name: p.name, blockSize: p.block_size, numBlocks: p.num_blocks, uuid: p.uuid });
      ctx.bdevs.add(bdev, {
        method: 'bdev_null_create',
        params: defined({ name: p.name, num_blocks: p.num_blocks, block_size: p.block_size, physical_block_size: p.physical_block_size, uuid: bdev.uuid }),
      });
      return p.name;
    },
  }),
  method({
    name: 'bdev_null_delete',
    params: nameOnly,
    handler: async (p, ctx) => {
      await ctx.bdevs.delete(p.name, ['bdev_null_create']);
      return true;
    },
  }),
  fileCreate('bdev_aio_create', 'AIO disk'),
  method({
    name: 'bdev_aio_delete',
    params: nameOnly,
    handler: async (p, ctx) => {
      await ctx.bdevs.delete(p.name, ['bdev_aio_create']);
      return true;
    },
  }),
  fileCreate('bdev_uring_create', 'URING bdev'),
  method({
    name: 'bdev_uring_delete',
    params: nameOnly,
    handler: async (p, ctx) => {
      await ctx.bdevs.delete(p.name, ['bdev_uring_create']);
      return true;
    },
  }),
  method({
    // SPDK's zone_block vbdev (scripts/rpc.py bdev_zone_block_create -b NAME -n BASE -z ZONE_CAPACITY
    // -o OPTIMAL_OPEN_ZONES). max_open_zones / max_active_zones are ours (SPDK's zone_block has no
    // limits: 0, MOR/MAR FFFFFFFFh): the Max Open and Max Active Resources the namespace reports.
    name: 'bdev_zone_block_create',
    params: z.object({
      name: z.string(),
      base_bdev: z.string(),
      zone_capacity: u64(),
      optimal_open_zones: u64(),
      max_open_zones: u32().optional(),
      max_active_zones: u32().optional(),
    }),
    handler: (p, ctx) => {
      ctx.bdevs.checkFree(p.name);
      if (p.zone_capacity === 0) throw errnoError('EINVAL', 'zone_capacity must not be 0');
      if (p.optimal_open_zones === 0) throw errnoError('EINVAL', 'optimal_open_zones must not be 0');
      const base = baseFor(ctx, p.base_bdev);
      const backing = base.nativeBacking();
      if (!backing || backing.kind !== 'memory')
        throw errnoError('ENOTSUP', `bdev '${p.base_bdev}' is not a malloc bdev: zoned namespaces are served by the native engine over memory only`);
      const zoneSize = alignPow2(p.zone_capacity);
      if (zoneSize > base.numBlocks) throw errnoError('EINVAL', `zone size ${zoneSize} blocks (zone_capacity ${p.zone_capacity} rounded up to a power of two) is larger than bdev '${p.base_bdev}' (${base.numBlocks} blocks)`);
      const maxActive = p.max_active_zones ?? 0;
      const maxOpen = p.max_open_zones ?? 0;
      if (maxActive && maxOpen > maxActive) throw errnoError('EINVAL', `max_open_zones ${maxOpen} is above max_active_zones ${maxActive}`);
      const bdev = new ZoneBlockBdev(p.name, base, p.zone_capacity, p.optimal_open_zones, { maxOpenZones: maxOpen, maxActiveZones: maxActive });
      addStacked(ctx, bdev, p.base_bdev, {
        method: 'bdev_zone_block_create',
        params: defined({ name: p.name, base_bdev: p.base_bdev, zone_capacity: p.zone_capacity, optimal_open_zones: p.optimal_open_zones, max_open_zones: p.max_open_zones, max_active_zones: p.max_active_zones }),
      });
      return p.name;
    },
  }),
  method({
    name: 'bdev_zone_block_delete',
    params: nameOnly,
    handler: async (p, ctx) => {
      await ctx.bdevs.delete(p.name, ['bdev_zone_block_create']);
      return true;
    },
  }),
  method({
    name: 'bdev_error_create',
    params: z.object({ base_name: z.string(), uuid: uuid().optional() }),
    handler: (p, ctx) => {
      const base = baseFor(ctx, p.base_name);
      const bdev = new ErrorBdev(base, p.uuid);
      addStacked(ctx, bdev, p.base_name, { method: 'bdev_error_create', params: defined({ base_name: p.base_name, uuid: bdev.uuid }) });
      return true;
    },
  }),
  method({
    name: 'bdev_error_delete',
    params: nameOnly,
    handler: async (p, ctx) => {
      await ctx.bdevs.delete(p.name, ['bdev_error_create']);
      return true;
    },
  }),
  method({
    name: 'bdev_error_inject_error',
    params: z.object({
      name: z.string(),
      io_type: z.enum(['clear', 'read', 'write', 'unmap', 'flush', 'all']),
      error_type: z.enum(ERROR_TYPES),
      nvme_sct: u32().optional(),
      nvme_sc: u32().optional(),
      /** short spellings of nvme_sct / nvme_sc */
      sct: u32().optional(),
      sc: u32().optional(),
      num: u32().optional(),
      queue_depth: u64().optional(),
      corrupt_offset: u64().optional(),
      corrupt_value: u8().optional(),
      /** ours: fail every Nth matching I/O */
      every: u32().min(1).optional(),
      /** ours: only I/Os touching [lba_start, lba_start + lba_count) */
      lba_start: u64().optional(),
      lba_count: u64().min(1).optional(),
    }),
    handler: (p, ctx) => {
      const b = ctx.bdevs.get(p.name);
      if (!(b instanceof ErrorBdev)) throw errnoError('ENODEV', `'${p.name}' is not an error bdev`);
      const sct = p.nvme_sct ?? p.sct ?? 0;
      const sc = p.nvme_sc ?? p.sc ?? 0;
      if (sct > 7 || sc > 0xff) throw errnoError('EINVAL', `NVMe status ${sct}/${sc} out of range (sct 0..7, sc 0..255)`);
      if ((p.error_type === 'nvme_failure') !== (sct !== 0 || sc !== 0))
        throw errnoError('EINVAL', 'nvme_sct or nvme_sc should be specified for NVMe error injection (and only for it)');
      if (p.error_type === 'corrupt_data' && !p.corrupt_value) throw errnoError('EINVAL', 'corrupt_value should be non-zero');
      if (p.lba_count !== undefined && p.lba_start === undefined) throw invalidParams("'lba_count' needs 'lba_start'");
      b.inject(p.io_type, {
        errorType: p.error_type,
        remaining: p.num ?? (p.every !== undefined ? 0xffffffff : 1),
        queueDepth: p.queue_depth ?? 0,
        status: { sct, sc },
        corruptOffset: p.corrupt_offset ?? 0,
        corruptValue: p.corrupt_value ?? 0,
        every: p.every ?? 1,
        lbaStart: p.lba_start,
        lbaCount: p.lba_count,
      });
      ctx.log.notice('error injection armed', { name: p.name, io_type: p.io_type, error_type: p.error_type });
      return true;
    },
  }),
  method({
    name: 'bdev_error_resume_pending',
    params: nameOnly,
    handler: (p, ctx) => {
      const b = ctx.bdevs.get(p.name);
      if (!(b instanceof ErrorBdev)) throw errnoError('ENODEV', `'${p.name}' is not an error bdev`);
      b.resumePending();
      return true;
    },
  }),
  method({
    name: 'bdev_delay_create',
    params: z.object({
      name: z.string(),
      base_bdev_name: z.string(),
      avg_read_latency: u64(),
      p99_read_latency: u64(),
      avg_write_latency: u64(),
      p99_write_latency: u64(),
      uuid: uuid().optional(),
    }),
    handler: (p, ctx) => {
      ctx.bdevs.checkFree(p.name);
      const base = baseFor(ctx, p.base_bdev_name);
      const bdev = new DelayBdev(
        p.name,
        base,
        { avgReadUs: p.avg_read_latency, p99ReadUs: p.p99_read_latency, avgWriteUs: p.avg_write_latency, p99WriteUs: p.p99_write_latency },
        p.uuid,
      );
      addStacked(ctx, bdev, p.base_bdev_name, {
        method: 'bdev_delay_create',
        params: {
          name: p.name,
          base_bdev_name: p.base_bdev_name,
          avg_read_latency: p.avg_read_latency,
          p99_read_latency: p.p99_read_latency,
          avg_write_latency: p.avg_write_latency,
          p99_write_latency: p.p99_write_latency,
          uuid: bdev.uuid,
        },
      });
      return p.name;
    },
  }),
  method({
    name: 'bdev_delay_delete',
    params: nameOnly,
    handler: async (p, ctx) => {
      await ctx.bdevs.delete(p.name, ['bdev_delay_create']);
      return true;
    },
  }),
  method({
    name: 'bdev_delay_update_latency',
    params: z.object({
      delay_bdev_name: z.string(),
      latency_type: z.enum(['avg_read', 'avg_write', 'p99_read', 'p99_write']),
      latency_us: u64(),
    }),
    handler: (p, ctx) => {
      const b = ctx.bdevs.get(p.delay_bdev_name);
      if (!(b instanceof DelayBdev)) throw errnoError('ENODEV', `'${p.delay_bdev_name}' is not a delay bdev`);
      b.update(p.latency_type, p.latency_us);
      return true;
    },
  }),
  method({
    name: 'bdev_get_bdevs',
    aliases: ['get_bdevs'],
    readOnly: true,
    params: z.object({ name: z.string().optional(), timeout: u64().optional() }),
    handler: async (p, ctx) => {
      if (p.name === undefined) return ctx.bdevs.list().map((b) => bdevInfo(ctx, b));
      const deadline = Date.now() + (p.timeout ?? 0);
      while (!ctx.bdevs.has(p.name) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      return [bdevInfo(ctx, ctx.bdevs.get(p.name))];
    },
  }),
  method({
    name: 'bdev_get_iostat',
    readOnly: true,
    params: z.object({
      /** older rpc.py */
      name: z.string().optional(),
      names: z.array(z.string()).optional(),
      per_channel: z.boolean().optional(),
      reset_mode: z.enum(['all', 'maxmin', 'error', 'none']).optional(),
    }),
    handler: (p, ctx) => {
      const wanted = p.names ?? (p.name !== undefined ? [p.name] : undefined);
      const list = wanted ? wanted.map((n) => ctx.bdevs.get(n)) : ctx.bdevs.list();
      const out = {
        tick_rate: TICK_RATE,
        ticks: ticksNow(),
        bdevs: list.map((b) => (p.per_channel ? { name: b.name, channels: [{ thread_id: 1, ...iostatOf(b) }] } : iostatOf(b))),
      };
      if (p.reset_mode && p.reset_mode !== 'none') for (const b of list) if (b instanceof BaseBdev) b.resetStats();
      return out;
    },
  }),
  method({
    name: 'bdev_reset_iostat',
    params: z.object({ name: z.string().optional(), mode: z.enum(['all', 'maxmin', 'error', 'none']).optional() }),
    handler: (p, ctx) => {
      const list = p.name !== undefined ? [ctx.bdevs.get(p.name)] : ctx.bdevs.list();
      if (p.mode !== 'none') for (const b of list) if (b instanceof BaseBdev) b.resetStats();
      return true;
    },
  }),
  method({
    name: 'bdev_set_options',
    states: ['startup', 'runtime'],
    params: z.object({
      bdev_io_pool_size: u32().optional(),
      bdev_io_cache_size: u32().optional(),
      bdev_auto_examine: z.boolean().optional(),
      iobuf_small_cache_size: u32().optional(),
      iobuf_large_cache_size: u32().optional(),
    }),
    handler: (p, ctx) => {
      Object.assign(ctx.bdevOptions, defined(p));
      return true;
    },
  }),
  method({
    name: 'bdev_wait_for_examine',
    handler: () => true,
  }),
  method({
    name: 'bdev_examine',
    params: nameOnly,
    handler: () => true,
  }),
];

// How a run is spread over machines and over workers on one machine.
//
// --shard i/N: every scenario run has a stable id (`<name>#<iteration>`); the runs are ordered
// by a hash of that id and dealt round-robin, so shard i of N gets every N-th one. The N shards
// partition the plan (each run in exactly one shard), their sizes differ by at most one, and the
// split depends only on the set of runs, not on the order names were given in: N machines
// running the same command with --shard 1/N .. N/N together run exactly the serial plan.
//
// --jobs N|auto: how many scenario workers run at once (auto: half the cores, at least one).
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';

export interface Shard {
  /** 1-based: 1..count. */
  index: number;
  count: number;
}

/** "2/4" -> { index: 2, count: 4 }. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || !Number.isInteger(index) || !Number.isInteger(count) || count < 1 || index < 1 || index > count) {
    throw new Error(`--shard takes i/N with 1 <= i <= N (e.g. 1/2, 2/2); got "${text}"`);
  }
  return { index, count };
}

/** The stable id of one scenario run, what the shard split hashes. */
export function runKey(name: string, iteration: number): string {
  return `${name}#${iteration}`;
}

function hashOf(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/**
 * The items of `shard` out of `items`, in their original order. `key` must be unique per item
 * (throws otherwise: two runs with one id could not be told apart across machines).
 */
export function shardOf<T>(items: readonly T[], key: (t: T) => string, shard: Shard): T[] {
  const keys = items.map(key);
  if (new Set(keys).size !== keys.length) throw new Error(`shard split: run ids are not unique (${keys.join(', ')})`);
  const byHash = keys.map((k, i) => ({ i, h: hashOf(k), k })).sort((a, b) => (a.h < b.h ? -1 : a.h > b.h ? 1 : a.k < b.k ? -1 : 1));
  const mine = new Set(byHash.filter((_, rank) => rank % shard.count === shard.index - 1).map((x) => x.i));
  return items.filter((_, i) => mine.has(i));
}

/** --jobs: a positive integer, or `auto` = half the cores (at least 1). */
export function parseJobs(text: string, cores: number = availableParallelism()): number {
  if (text.trim() === 'auto') return Math.max(1, Math.floor(cores / 2));
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--jobs takes a positive integer or "auto" (half the cores); got "${text}"`);
  return n;
}

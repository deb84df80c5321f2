// `vnvme report merge OUT DIR...`: joins runs directories (several machines, CI shards) into one
// the viewer shows as one: every run directory is copied into OUT (a run already there with the
// same report.json is skipped; a different run under the same name gets a suffix), then OUT's
// index.json and index.html are rewritten.
import { cpSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeRunsIndex } from '../index-html.js';
import { readRuns, writeRunsJson } from '../runs-index.js';

export interface MergeResult {
  copied: { from: string; to: string }[];
  skipped: string[];
  index: string;
}

export function mergeRuns(out: string, dirs: readonly string[]): MergeResult {
  mkdirSync(out, { recursive: true });
  const res: MergeResult = { copied: [], skipped: [], index: '' };
  for (const d of dirs) {
    if (!existsSync(d)) throw new Error(`no such runs directory: ${d}`);
    if (resolve(d) === resolve(out)) continue;
    const runs = readRuns(d);
    if (!runs.length) res.skipped.push(`${d}: no runs (no */report.json)`);
    for (const { dir } of runs) {
      const from = join(d, dir);
      let name = dir;
      for (let i = 2; existsSync(join(out, name, 'report.json')); i++) {
        if (readFileSync(join(out, name, 'report.json'), 'utf8') === readFileSync(join(from, 'report.json'), 'utf8')) {
          name = '';
          break;
        }
        name = `${dir}-${i}`;
      }
      if (!name) {
        res.skipped.push(`${from}: already in ${out}`);
        continue;
      }
      cpSync(from, join(out, name), { recursive: true });
      res.copied.push({ from, to: join(out, name) });
    }
  }
  res.index = writeRunsJson(out);
  writeRunsIndex(out);
  return res;
}

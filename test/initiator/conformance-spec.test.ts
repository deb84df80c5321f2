// The conformance suite's spec table (harness/initiator/conformance/spec.ts, written from the
// spec's figures) against the target's own (target/nvme/constants.ts, target/vfio-user/wire.ts):
// wherever both name a value, they must agree. A mismatch is a bug in one of the two; each one
// is reported by name with both values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as Spec from '../../harness/initiator/conformance/spec.js';
import * as Target from '../../target/nvme/constants.js';
import * as W from '../../target/vfio-user/wire.js';
import * as Nsm from '../../target/nvme/ns-management.js';

type Table = Record<string, number | bigint>;

interface Pair {
  group: string;
  spec: Table;
  target: Table;
  /** What is compared of the target's value (its Status values carry DNR, the spec's do not). */
  view?: (v: number) => number;
}

const hex = (v: number | bigint) => `0x${v.toString(16)}`;

function pick(obj: Record<string, unknown>, names: string[]): Table {
  const t: Table = {};
  for (const n of names) if (typeof obj[n] === 'number' || typeof obj[n] === 'bigint') t[n] = obj[n] as number;
  return t;
}

/** W.Command is a numeric enum: its names only, without the reverse mapping. */
const wireCommands: Table = Object.fromEntries(Object.entries(W.Command).filter(([k, v]) => typeof v === 'number' && !/^\d+$/.test(k))) as Table;

const pairs: Pair[] = [
  { group: 'Status', spec: Spec.Status, target: Target.Status, view: (v) => v & Spec.STATUS_CODE_MASK },
  { group: 'AdminOpcode', spec: Spec.AdminOpcode, target: Target.AdminOpcode },
  { group: 'IoOpcode', spec: Spec.IoOpcode, target: Target.IoOpcode },
  { group: 'ZnsOpcode', spec: Spec.ZnsOpcode, target: Target.ZnsOpcode },
  { group: 'Reg', spec: Spec.Reg, target: Target.Reg },
  { group: 'Feature', spec: Spec.Feature, target: Target.Feature },
  { group: 'LogPage', spec: Spec.LogPage, target: Target.LogPage },
  { group: 'AsyncEvent', spec: Spec.AsyncEvent, target: Target.AsyncEvent },
  {
    group: 'CC/CSTS bits',
    spec: pick(Spec as unknown as Record<string, unknown>, ['CC_EN', 'CSTS_RDY', 'CSTS_CFS', 'CSTS_NSSRO', 'CSTS_SHST_MASK', 'CSTS_SHST_COMPLETE']),
    target: pick(Target as unknown as Record<string, unknown>, ['CC_EN', 'CSTS_RDY', 'CSTS_CFS', 'CSTS_NSSRO', 'CSTS_SHST_MASK', 'CSTS_SHST_COMPLETE']),
  },
  { group: 'vfio-user Command', spec: Spec.VfioUserCommand, target: wireCommands },
  { group: 'vfio-user RegionIndex', spec: Spec.RegionIndex, target: W.RegionIndex },
  { group: 'vfio-user IrqIndex', spec: Spec.IrqIndex, target: W.IrqIndex },
  { group: 'Namespace Management SEL', spec: Spec.NsManagementSelect, target: Nsm.NsManagementSelect },
  { group: 'Namespace Attachment SEL', spec: Spec.NsAttachmentSelect, target: Nsm.NsAttachmentSelect },
  { group: 'Controller List', spec: { MAX: Spec.CONTROLLER_LIST_MAX }, target: { MAX: Nsm.CONTROLLER_LIST_MAX } },
  { group: 'vfio-user DMA_MAP flags', spec: { READ: Spec.DMA_MAP_READ, WRITE: Spec.DMA_MAP_WRITE }, target: { READ: W.DMA_MAP_FLAG_READ, WRITE: W.DMA_MAP_FLAG_WRITE } },
];

test('every value both tables name agrees (the spec table against target/nvme/constants.ts and target/vfio-user/wire.ts)', (t) => {
  const mismatches: string[] = [];
  let compared = 0;
  for (const p of pairs) {
    const onlyTarget: string[] = [];
    for (const [name, tv] of Object.entries(p.target)) {
      if (!(name in p.spec)) {
        onlyTarget.push(name);
        continue;
      }
      const sv = p.spec[name]!;
      const got = typeof tv === 'number' && p.view ? p.view(tv) : tv;
      compared++;
      if (got !== sv) mismatches.push(`${p.group}.${name}: target ${hex(got)}, spec ${hex(sv)}`);
    }
    if (onlyTarget.length) t.diagnostic(`${p.group}: named by the target only (not compared): ${onlyTarget.join(', ')}`);
  }
  assert.deepEqual(mismatches, [], mismatches.join('\n'));
  assert.ok(compared >= 100, `only ${compared} values compared: do the two tables still share names?`);
});

test("every status the target names is one of the spec's codes, under the spec's name", () => {
  const wrong: string[] = [];
  for (const [name, v] of Object.entries(Target.Status)) {
    const specName = Spec.statusName(v);
    if (specName !== name) wrong.push(`${name} (${hex(v & Spec.STATUS_CODE_MASK)}) is ${specName} in the spec table`);
  }
  assert.deepEqual(wrong, []);
});

test('the spec table gives no two names one value within a group (a copying slip shows up as a duplicate)', () => {
  const groups: [string, Table][] = [
    ['Status', Spec.Status],
    ['AdminOpcode', Spec.AdminOpcode],
    ['IoOpcode', Spec.IoOpcode],
    ['Reg', Spec.Reg],
    ['Feature', Spec.Feature],
    ['LogPage', Spec.LogPage],
    ['VfioUserCommand', Spec.VfioUserCommand],
    ['RegionIndex', Spec.RegionIndex],
  ];
  const dups: string[] = [];
  for (const [g, table] of groups) {
    const seen = new Map<number | bigint, string>();
    for (const [name, v] of Object.entries(table)) {
      if (seen.has(v)) dups.push(`${g}: ${seen.get(v)} and ${name} are both ${hex(v)}`);
      seen.set(v, name);
    }
  }
  assert.deepEqual(dups, []);
});

test('status names for evidence come from the spec table: SCT/SC only, DNR and More ignored', () => {
  assert.equal(Spec.statusName(Spec.Status.INVALID_FIELD | Spec.STATUS_DNR | Spec.STATUS_MORE), 'INVALID_FIELD');
  assert.equal(Spec.statusName((2 << 8) | 0x85), 'COMPARE_FAILURE');
  assert.equal(Spec.statusName((1 << 8) | 0x04), 'SCT 1 SC 0x4', 'a reserved code is shown as numbers');
});

// .github/workflows: schema-valid (action-validator, offline: its schemas are compiled in), every
// script they call exists and is executable, every `npm run` script and `npx vnvme` subcommand
// exists, and every nightly matrix cell, expanded as GitHub expands it (product + include),
// makes a command line the scenario runner accepts, with the cell's QEMU, memory, doorbells and
// shard. The jobs have time limits, the cells do not cancel each other, every job uploads its
// runs, and the report job merges the shards even when cells fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { parse } from 'yaml';
import { COMMANDS } from '../../harness/cli.js';
import { parseScenarioArgs, select } from '../../harness/runner/cli.js';
import { loadCatalog } from '../../scenarios/index.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const wfDir = join(root, '.github', 'workflows');
const validator = join(root, 'node_modules', '@action-validator', 'cli', 'cli.mjs');

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  id?: string;
  with?: Record<string, unknown>;
}
interface Job {
  'runs-on': string;
  'timeout-minutes'?: number;
  needs?: string | string[];
  if?: string;
  env?: Record<string, string>;
  strategy?: { 'fail-fast'?: boolean; matrix: Record<string, unknown> & { include?: Record<string, string>[] } };
  steps: Step[];
}
interface Workflow {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
}

const load = (name: string): Workflow => parse(readFileSync(join(wfDir, name), 'utf8')) as Workflow;
const workflows = (): string[] => readdirSync(wfDir).filter((f) => f.endsWith('.yml') || f.endsWith('.yaml'));

function validate(path: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [validator, path], { encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

test('both workflows exist and are valid against the GitHub workflow schema (action-validator, offline)', () => {
  assert.deepEqual(workflows().sort(), ['ci.yml', 'nightly.yml']);
  for (const f of workflows()) {
    const r = validate(join(wfDir, f));
    assert.equal(r.status, 0, `${f}: ${r.out}`);
  }
  // The validator does reject a broken workflow (so a green result means something).
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-wf-'));
  try {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    timeout-minutes: soon\n    stepz: []\n');
    assert.notEqual(validate(bad).status, 0, 'an invalid workflow is refused');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Expands a matrix as GitHub does: the product of the list axes, then each include merged into the cells it matches (or added). */
function expandMatrix(matrix: Record<string, unknown> & { include?: Record<string, string>[]; exclude?: unknown }): Record<string, string>[] {
  const axes = Object.entries(matrix).filter(([k]) => k !== 'include' && k !== 'exclude') as [string, unknown[]][];
  let cells: Record<string, string>[] = [{}];
  for (const [k, values] of axes) cells = cells.flatMap((c) => values.map((v) => ({ ...c, [k]: String(v) })));
  const original = cells.map((c) => ({ ...c }));
  for (const inc of matrix.include ?? []) {
    const hits = cells.filter((c, i) => Object.entries(inc).every(([k, v]) => !(k in original[i]!) || original[i]![k] === String(v)));
    if (hits.length) for (const c of hits) Object.assign(c, inc);
    else cells.push({ ...inc });
  }
  return cells;
}

function substitute(text: string, matrix: Record<string, string>): string {
  return text.replace(/\$\{\{\s*matrix\.([\w-]+)\s*\}\}/g, (_, k: string) => {
    assert.ok(k in matrix, `matrix.${k} is not set in cell ${JSON.stringify(matrix)}`);
    return matrix[k]!;
  });
}

/** The words of one shell command line (the workflows' commands use no quoting in their arguments). */
const words = (line: string): string[] => line.trim().split(/\s+/).filter(Boolean);

test('every script, npm script and vnvme subcommand the workflows call exists', async () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const seen = { scripts: new Set<string>(), npm: new Set<string>(), vnvme: new Set<string>() };
  for (const f of workflows()) {
    for (const [jobName, job] of Object.entries(load(f).jobs)) {
      for (const step of job.steps) {
        if (!step.run) continue;
        for (const m of step.run.matchAll(/(?:^|[\s;&|(])((?:\.ci|scripts)\/[\w.-]+)/g)) {
          const path = join(root, m[1]!);
          assert.ok(existsSync(path), `${f} ${jobName}: ${m[1]} exists`);
          accessSync(path, constants.X_OK);
          seen.scripts.add(m[1]!);
        }
        for (const m of step.run.matchAll(/npm (?:run ([\w:-]+)|(test)\b)/g)) {
          const script = m[1] ?? m[2]!;
          assert.ok(pkg.scripts[script], `${f} ${jobName}: npm run ${script} is a package.json script`);
          seen.npm.add(script);
        }
        for (const m of step.run.matchAll(/npx vnvme ([\w-]+) ([\w-]+)/g)) {
          const entry = COMMANDS.find((c) => c.name === m[1]);
          assert.ok(entry, `${f} ${jobName}: vnvme ${m[1]} is a command`);
          const program = new Command('vnvme');
          (await entry.load()).register(program);
          const sub = program.commands.find((c) => c.name() === m[1])?.commands.find((c) => c.name() === m[2]);
          assert.ok(sub, `${f} ${jobName}: vnvme ${m[1]} ${m[2]} is a subcommand`);
          seen.vnvme.add(`${m[1]} ${m[2]}`);
        }
      }
    }
  }
  for (const s of ['.ci/prepare-runner', '.ci/as-root', '.ci/job-summary']) assert.ok(seen.scripts.has(s), `${s} is used`);
  for (const s of ['scenario', 'test']) assert.ok(seen.npm.has(s), `npm run ${s} / npm test is used`);
  for (const s of ['qemu cache-keys', 'vm accel', 'report merge', 'report build']) assert.ok(seen.vnvme.has(s), `vnvme ${s} is used`);
});

test('ci.yml: push and pull request; npm install, npm test, the default suite under TCG; runs uploaded', () => {
  const wf = load('ci.yml');
  assert.ok('push' in wf.on && 'pull_request' in wf.on);
  const job = wf.jobs.test!;
  assert.ok(job['timeout-minutes'] && job['timeout-minutes'] <= 360);
  assert.equal(job.env?.VNVME_ACCEL, 'tcg');
  const runs = job.steps.map((s) => s.run ?? '').join('\n');
  assert.match(runs, /^npm install$/m);
  assert.match(runs, /as-root npm test$/m);
  const suite = /as-root npm run scenario -- (.*)$/m.exec(runs);
  assert.ok(suite, 'the scenario suite runs');
  const { options, names } = parseScenarioArgs(words(suite[1]!));
  assert.deepEqual([names, options.tag, options.all], [[], [], undefined], 'the default suite');
  const upload = job.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'));
  assert.equal(upload?.if, 'always()');
});

test('nightly.yml: schedule + dispatch; 3 QEMU flavours x 2 memory x 2 doorbells x 2 shards, each cell a valid runner command line', async () => {
  const wf = load('nightly.yml');
  assert.ok('schedule' in wf.on && 'workflow_dispatch' in wf.on);
  const cell = wf.jobs.cell!;
  assert.equal(cell.strategy?.['fail-fast'], false);
  assert.ok(cell['timeout-minutes'] && cell['timeout-minutes'] <= 360, 'cells have a time limit');
  const cells = expandMatrix(cell.strategy!.matrix);
  assert.equal(cells.length, 24);
  const catalog = await loadCatalog(join(root, 'dist', 'scenarios'));
  const scenarioStep = cell.steps.find((s) => s.run?.includes('npm run scenario'))!;
  const flavours = new Set<string>();
  const byCell = new Map<string, string[]>();
  for (const c of cells) {
    const line = substitute(scenarioStep.run!, c);
    const argv = words(line.slice(line.indexOf('npm run scenario --') + 'npm run scenario --'.length));
    const { options: o, names } = parseScenarioArgs(argv);
    assert.equal(o.memory, c.memory);
    assert.equal(o.doorbells, c.doorbells);
    assert.deepEqual(o.shard, { index: Number(c.shard), count: 2 });
    assert.ok(o.jobs >= 1);
    if (c.qemu === 'trixie') assert.equal(o.qemuGit, undefined);
    else {
      assert.equal(o.qemuGit, 'https://github.com/oracle/qemu');
      assert.equal(o.qemuRef, c.qemu === 'oracle-vfio-user-dbfix' ? 'vfio-user-dbfix' : 'd377d483f9');
      assert.match(c['prepare-args'] ?? '', /--with-qemu-build/, 'git builds get the build packages');
    }
    const selected = select(catalog, names, o.tag, o.all).map((e) => e.scenario.name);
    assert.ok(selected.length > 0, `${JSON.stringify(c)} selects scenarios`);
    flavours.add(`${c.qemu}:${o.qemuRef ?? 'tree'}`);
    const key = `${c.qemu}/${c.memory}/${c.doorbells}`;
    byCell.set(key, [...(byCell.get(key) ?? []), c.shard!]);
    // The other commands that take the cell's QEMU arguments accept them too.
    for (const step of cell.steps.filter((s) => s.run?.includes('${{ matrix.qemu-args }}') && !s.run.includes('npm run scenario'))) {
      const m = /npx vnvme (\w+) ([\w-]+)(.*)$/m.exec(substitute(step.run!, c));
      assert.ok(m, step.run);
      const program = new Command('vnvme').exitOverride();
      (await COMMANDS.find((x) => x.name === m[1])!.load()).register(program);
      const sub = program.commands.find((x) => x.name() === m[1])!.commands.find((x) => x.name() === m[2])!;
      sub.exitOverride().action(() => undefined);
      sub.parse(words(m[3]!.replace(/>>.*$/, '')), { from: 'user' });
      if (c.qemu !== 'trixie') assert.equal(sub.opts().qemuGit, 'https://github.com/oracle/qemu');
    }
  }
  assert.deepEqual([...flavours].sort(), ['oracle-d377d483f9:d377d483f9', 'oracle-vfio-user-dbfix:vfio-user-dbfix', 'trixie:tree']);
  assert.equal(byCell.size, 12);
  for (const [k, shards] of byCell) assert.deepEqual(shards.sort(), ['1', '2'], `${k} runs both shards`);
  // Caches by content: keys from `vnvme qemu cache-keys` (recipe hashes; git builds by URL + commit + flags) and package-lock.
  const caches = cell.steps.filter((s) => s.uses?.startsWith('actions/cache'));
  const keys = caches.map((s) => String(s.with?.key));
  assert.ok(keys.some((k) => k.includes('steps.keys.outputs.qemu-tree')));
  assert.ok(keys.some((k) => k.includes('steps.keys.outputs.guest-recipe')));
  assert.ok(keys.some((k) => k.includes('steps.keys.outputs.qemu-git')));
  assert.ok(keys.some((k) => k.includes("hashFiles('package-lock.json')")));
  const upload = cell.steps.find((s) => s.uses?.startsWith('actions/upload-artifact'));
  assert.equal(upload?.if, 'always()', 'every cell uploads its runs, failed or not');
  assert.match(String(upload?.with?.name), /matrix\.qemu.*matrix\.memory.*matrix\.doorbells.*matrix\.shard/, 'one artifact per cell and shard');
  const report = wf.jobs.report!;
  assert.equal(report.if, 'always()');
  assert.equal(report.needs, 'cell');
  assert.ok(report['timeout-minutes']);
  const reportRuns = report.steps.map((s) => s.run ?? '').join('\n');
  assert.match(reportRuns, /npx vnvme report merge merged/);
  assert.match(reportRuns, /\.ci\/job-summary merged .*>> "\$GITHUB_STEP_SUMMARY"/);
  assert.ok(report.steps.some((s) => s.uses?.startsWith('actions/download-artifact') && s.with?.pattern === 'runs-*'));
});

test('vnvme qemu cache-keys prints every output the workflows read (a git source keyed by its commit)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-keys-'));
  try {
    const git = (...a: string[]) => spawnSync('git', ['-C', dir, ...a], { encoding: 'utf8' });
    git('init', '-q');
    writeFileSync(join(dir, 'f'), 'x');
    git('add', 'f');
    git('-c', 'user.email=t@t', '-c', 'user.name=t', 'commit', '-q', '-m', 'x');
    const r = spawnSync(process.execPath, [join(root, 'bin', 'vnvme.js'), 'qemu', 'cache-keys', '--qemu-git', dir, '--qemu-ref', 'HEAD'], { encoding: 'utf8', env: { ...process.env, VNVME_CACHE: join(dir, 'cache') } });
    assert.equal(r.status, 0, r.stderr);
    const out = Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    assert.match(out['qemu-tree'] ?? '', /^debian-trixie-[0-9a-f]{16}$/);
    assert.match(out['guest-recipe'] ?? '', /^[0-9a-f]{16}$/);
    assert.match(out['qemu-git'] ?? '', /^git-[0-9a-f]{16}$/);
    assert.match(out['qemu-git-commit'] ?? '', /^[0-9a-f]{40}$/);
    assert.equal(out['cache-dir'], join(dir, 'cache'));
    for (const f of workflows()) {
      for (const m of readFileSync(join(wfDir, f), 'utf8').matchAll(/steps\.keys\.outputs\.([\w-]+)/g)) assert.ok(m[1]! in out, `${f} reads ${m[1]}, which cache-keys prints`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('.ci/job-summary writes the Markdown summary of a merged runs directory', () => {
  const r = spawnSync(join(root, '.ci', 'job-summary'), [join(root, 'test', 'fixtures', 'runs'), 'vnvme nightly'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^# vnvme nightly: (PASS|FAIL|ERROR)/);
  assert.match(r.stdout, /\| run \| verdict \|/);
  assert.match(r.stdout, /<details><summary>/);
  assert.match(r.stdout, /junit\.xml/);
  const none = spawnSync(join(root, '.ci', 'job-summary'), [], { encoding: 'utf8' });
  assert.equal(none.status, 2);
});

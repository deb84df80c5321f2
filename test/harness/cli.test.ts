// `vnvme` loads a command's module only when that command runs: the listing comes from the
// table in harness/cli.ts, which must say what the modules register, and a module that fails
// to import breaks its own command only (in-process with a broken table, and through the real
// bin with a real module made to throw by a loader hook).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command, Help } from 'commander';
import { addCommands, COMMANDS, rootCommand, type CommandEntry } from '../../harness/cli.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'vnvme.js');

/** Parses `argv` as `vnvme` does and returns what it printed (help and --help end in a CommanderError). */
async function run(argv: string[], commands: readonly CommandEntry[] | 'eager'): Promise<string> {
  let out = '';
  const program = rootCommand()
    .exitOverride()
    .configureOutput({ writeOut: (t) => (out += t), writeErr: (t) => (out += t) });
  if (commands === 'eager') for (const c of COMMANDS) (await c.load()).register(program);
  else await addCommands(program, argv, commands);
  await program.parseAsync(argv, { from: 'user' }).catch((err: { exitCode?: number }) => {
    if (err.exitCode !== 0) throw err;
  });
  return out;
}

const broken = (name: string): CommandEntry[] =>
  COMMANDS.map((c) => (c.name === name ? { ...c, load: () => Promise.reject(new Error(`${name} module is broken`)) } : c));

test('each command in the table is what its module registers', async () => {
  for (const c of COMMANDS) {
    const program = new Command('vnvme');
    (await c.load()).register(program);
    assert.deepEqual(
      program.commands.map((cmd) => cmd.name()),
      [c.name],
      `${c.name}'s module registers it and nothing else`,
    );
    const [cmd] = program.commands;
    assert.equal(new Help().subcommandTerm(cmd), c.term, `${c.name}: term`);
    assert.equal(cmd.description(), c.description, `${c.name}: description`);
  }
});

test('vnvme --help lists what every module would, importing none of them', async () => {
  const eager = await run(['--help'], 'eager');
  assert.match(eager, /Commands:\n {2}target \[options\]/);
  const none = COMMANDS.map((c) => ({ ...c, load: () => Promise.reject(new Error(`${c.name} was imported`)) }));
  assert.equal(await run(['--help'], none), eager);
  assert.equal(await run(['help'], none), eager);
});

test('a command whose module fails to import breaks only that command', async () => {
  const vmBroken = broken('vm');
  assert.equal(await run(['--help'], vmBroken), await run(['--help'], COMMANDS));
  // (not rpc in-process: its usage errors and --help exit the process, as rpc.py's do; the bin test covers it)
  for (const argv of [['qemu', '--help'], ['help', 'image'], ['target', '--help'], ['perf', '--help']])
    assert.equal(await run(argv, vmBroken), await run(argv, 'eager'), argv.join(' '));
  for (const argv of [['vm', 'status'], ['vm', '--help'], ['help', 'vm']]) await assert.rejects(run(argv, vmBroken), /vm module is broken/, argv.join(' '));
});

test('through the bin: a real module that throws on import takes down only its command', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(
    join(dir, 'hooks.mjs'),
    `export async function load(url, context, next) {
  if (url.endsWith('/dist/harness/guest/cli.js')) return { format: 'module', source: "throw new Error('guest/cli.js is broken')", shortCircuit: true };
  return next(url, context);
}
`,
  );
  writeFileSync(join(dir, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(join(dir, 'hooks.mjs')).href)});\n`);
  const vnvme = (args: string[], hooked = true) => {
    const r = spawnSync(process.execPath, [...(hooked ? ['--import', pathToFileURL(join(dir, 'register.mjs')).href] : []), bin, ...args], {
      encoding: 'utf8',
      timeout: 30_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const vm = vnvme(['vm', 'status']);
  assert.equal(vm.status, 1, 'the broken command fails');
  assert.match(vm.stderr, /guest\/cli\.js is broken/);
  for (const args of [['--help'], ['qemu', '--help'], ['rpc', '--dry-run', 'bdev_malloc_create', '8', '512'], ['tagret']])
    assert.deepEqual(vnvme(args), vnvme(args, false), `vnvme ${args.join(' ')} is unaffected`);
  assert.equal(vnvme(['--help']).status, 0);
});

// `npx vnvme <command>`: one entry point; each area registers its own subcommands. A command's
// module is imported only when that command runs (or its help is asked for), so a module that
// fails to load breaks its own command and nothing else: `vnvme --help` lists every command
// from the table below without importing any of them.
import { Command, Help } from 'commander';

/** What each area's module exports. */
export interface Area {
  register(program: Command): void;
}

/** A top-level command: how `vnvme --help` lists it, and the module that defines it. */
export interface CommandEntry {
  name: string;
  /** The left column of the listing, as commander words it for the real command. */
  term: string;
  description: string;
  load: () => Promise<Area>;
}

// test/harness/cli.test.ts checks each entry against what its module registers.
export const COMMANDS: CommandEntry[] = [
  {
    name: 'target',
    term: 'target [options]',
    description: "Run the vfio-user NVMe target daemon (what SPDK's nvmf_tgt is), serving SPDK JSON-RPC",
    load: () => import('../target/cli.js'),
  },
  {
    name: 'rpc',
    term: 'rpc [options]',
    description: "Send SPDK JSON-RPC requests to a target, as SPDK's scripts/rpc.py (same methods, arguments and output)",
    load: () => import('./rpc/cli.js'),
  },
  {
    name: 'perf',
    term: 'perf [options]',
    description: 'measure I/O performance through the initiator (flags as spdk_nvme_perf)',
    load: () => import('./initiator/perf.js'),
  },
  {
    name: 'conformance',
    term: 'conformance [options]',
    description: 'run the NVMe/vfio-user conformance suite against a controller (destructive: writes and formats namespace data)',
    load: () => import('./initiator/conformance/cli.js'),
  },
  {
    name: 'identify',
    term: 'identify [options]',
    description: 'print the Identify Controller and Namespace data of a vfio-user NVMe controller',
    load: () => import('./initiator/identify.js'),
  },
  { name: 'vm', term: 'vm', description: 'boot and drive a Linux guest attached to a running vfio-user target', load: () => import('./guest/cli.js') },
  { name: 'qemu', term: 'qemu', description: 'the QEMU the harness runs guests with', load: () => import('./qemu/cli.js') },
  { name: 'libvirt', term: 'libvirt', description: 'run guests on our vfio-user controller under libvirt', load: () => import('./libvirt/cli.js') },
  { name: 'image', term: 'image', description: 'guest images built from Debian packages (cached by recipe hash)', load: () => import('../images/cli.js') },
  // The run viewer (reports/cli.ts): report serve | build | merge.
  { name: 'report', term: 'report', description: 'the run viewer: browse runs, check history, diffs, spec coverage, evidence, performance', load: () => import('../reports/cli.js') },
];

/** The `vnvme` command with no subcommands yet. */
export function rootCommand(): Command {
  return (
    new Command('vnvme')
      .description('vfio-user NVMe target, initiator and QEMU test bench')
      .showHelpAfterError('(add --help for usage)')
      // Options belong to the command they follow: `vnvme rpc -s SOCK METHOD -s SERIAL` as rpc.py
      // (global options before the method, the method's own after it).
      .enablePositionalOptions()
  );
}

/** The top-level command `argv` runs: its first word; `vnvme help X` runs X's help. */
function commandOf(argv: readonly string[]): string | undefined {
  return argv[0] === 'help' ? argv[1] : argv[0];
}

/**
 * Adds the commands to `program`: the one `argv` runs from its module, with all its options
 * and subcommands, and every other one as a name and description for the listing only (never
 * dispatched: a command that runs is always loaded).
 */
export async function addCommands(program: Command, argv: readonly string[], commands: readonly CommandEntry[] = COMMANDS): Promise<void> {
  const wanted = commandOf(argv);
  const listed = new Map<Command, string>();
  for (const c of commands) {
    if (c.name === wanted) (await c.load()).register(program);
    else listed.set(program.command(c.name).description(c.description), c.term);
  }
  const help = new Help();
  program.configureHelp({ subcommandTerm: (cmd) => listed.get(cmd) ?? help.subcommandTerm(cmd) });
}

export async function main(argv: string[]): Promise<void> {
  const program = rootCommand();
  await addCommands(program, argv);
  // `vnvme rpc ... | head`: a closed pipe ends the output quietly, as for any shell tool.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  await program.parseAsync(argv, { from: 'user' });
}

// `npx vnvme <command>`: one entry point; each area registers its own subcommands.
import { Command } from 'commander';

type Registrar = (program: Command) => void;

// Each module exports `register(program)`. Listed here so `vnvme --help` shows them all.
const areas: Array<() => Promise<{ register: Registrar }>> = [
  // target daemon and rpc client, initiator tools, VM and image commands register here.
  () => import('../target/cli.js'),
  () => import('./rpc/cli.js'),
  () => import('./initiator/perf.js'),
  () => import('./initiator/conformance/cli.js'),
  () => import('./initiator/identify.js'),
  () => import('./guest/cli.js'), () => import('./qemu/cli.js'), () => import('../images/cli.js'),
];

export async function main(argv: string[]): Promise<void> {
  const program = new Command('vnvme')
    .description('vfio-user NVMe target, initiator and QEMU test bench')
    .showHelpAfterError('(add --help for usage)')
    // Options belong to the command they follow: `vnvme rpc -s SOCK METHOD -s SERIAL` as rpc.py
    // (global options before the method, the method's own after it).
    .enablePositionalOptions();
  // `vnvme rpc ... | head`: a closed pipe ends the output quietly, as for any shell tool.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  for (const load of areas) (await load()).register(program);
  await program.parseAsync(argv, { from: 'user' });
}

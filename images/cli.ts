// `vnvme image build`: (re)build the cached guest image.
import type { Command } from 'commander';
import { consoleProgress } from '../harness/progress.js';
import { guestImage } from './build.js';

export function register(program: Command): void {
  const image = program.command('image').description('guest images built from Debian packages (cached by recipe hash)');
  image
    .command('build')
    .description('build the guest image if it is not cached (--rebuild: always)')
    .option('--rebuild', 'discard the cached image and build it again')
    .action(async (o: { rebuild?: boolean }) => {
      const img = await guestImage(consoleProgress(), { rebuild: o.rebuild });
      process.stdout.write(`${JSON.stringify({ ...img.manifest, kernel: img.kernel, initrd: img.initrd, disk: img.disk }, null, 2)}\n`);
    });
}

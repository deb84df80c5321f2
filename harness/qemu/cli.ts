// `vnvme qemu provision` (find, provision or build a QEMU with vfio-user-pci and say which) and
// `vnvme qemu build` (build one from git: Oracle's fork, from a URL or a local clone/mirror);
// `vnvme qemu cache-keys` (the content keys of the caches, for CI cache keys).
import type { Command } from 'commander';
import { consoleProgress } from '../progress.js';
import { locateQemu, qemuChoiceFromEnv } from './locate.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function register(program: Command): void {
  const qemu = program.command('qemu').description('the QEMU the harness runs guests with');
  qemu
    .command('provision')
    .description('locate a QEMU >= 10.1.1 with vfio-user-pci, or provision one (Debian trixie-backports tree, or --qemu-git)')
    .option('--qemu <path>', 'use this binary (checked, not provisioned)')
    .option('--qemu-git <url|dir>', 'build from this git repository (URL, or a local clone or mirror)')
    .option('--qemu-ref <ref>', 'branch, tag or commit for --qemu-git')
    .option('--submodule <key=source>', 'where a submodule comes from (path, URL or repo name = local mirror or URL); repeatable', collect)
    .action(async (o: { qemu?: string; qemuGit?: string; qemuRef?: string; submodule?: string[] }) => {
      const env = qemuChoiceFromEnv();
      const q = await locateQemu(
        { qemu: o.qemu ?? env.qemu, qemuGit: o.qemuGit ?? env.qemuGit, qemuRef: o.qemuRef ?? env.qemuRef, submodules: o.submodule ?? env.submodules },
        consoleProgress(),
      );
      process.stdout.write(`${JSON.stringify(q, null, 2)}\n`);
    });
  qemu
    .command('cache-keys')
    .description('print the content keys the harness caches under, as KEY=VALUE lines (CI: >> "$GITHUB_OUTPUT"): the QEMU tree and the guest image by recipe hash, a git build by source + commit + configure flags')
    .option('--qemu-git <url|dir>', 'also the key of the QEMU built from this repository')
    .option('--qemu-ref <ref>', 'branch, tag or commit for --qemu-git (a branch or tag is resolved to its commit: git ls-remote)')
    .action(async (o: { qemuGit?: string; qemuRef?: string }) => {
      const { basename } = await import('node:path');
      const { cacheRoot, contentKey } = await import('../cache.js');
      const { debianTreeDir } = await import('./provision.js');
      const { GUEST_RECIPE } = await import('../../images/recipe.js');
      const lines = [`cache-dir=${cacheRoot()}`, `qemu-tree=${basename(debianTreeDir())}`, `guest-recipe=${contentKey(GUEST_RECIPE)}`];
      if (o.qemuGit) {
        if (!o.qemuRef) throw new Error('--qemu-git needs --qemu-ref');
        const { gitBuildKey, resolveRef } = await import('./build-from-git.js');
        const commit = await resolveRef(o.qemuGit, o.qemuRef);
        lines.push(`qemu-git=git-${gitBuildKey(o.qemuGit, commit)}`, `qemu-git-commit=${commit}`);
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  qemu
    .command('build')
    .description(
      "build QEMU from git with --enable-multiprocess (Oracle's vfio-user fork: refs d377d483f9, vfio-user-dbfix), cached by source + commit + configure flags",
    )
    .requiredOption('--git <url|dir>', 'the repository: a URL (https://github.com/oracle/qemu) or a local clone or mirror directory')
    .requiredOption('--ref <ref>', 'branch, tag or commit (e.g. vfio-user-dbfix)')
    .option(
      '--submodule <key=source>',
      'where a submodule comes from, e.g. ui/keycodemapdb=/srv/mirrors/keycodemapdb.git or keycodemapdb=DIR; repeatable (also VNVME_QEMU_SUBMODULES, comma-separated; git insteadOf rules apply too)',
      collect,
    )
    .action(async (o: { git: string; ref: string; submodule?: string[] }) => {
      const env = qemuChoiceFromEnv();
      const q = await locateQemu({ qemuGit: o.git, qemuRef: o.ref, submodules: o.submodule ?? env.submodules }, consoleProgress());
      process.stdout.write(`${q.description}\n${[q.command, ...q.prefixArgs].join(' ')}\n`);
    });
}

// Oracle's QEMU fork built by the harness, when a fork source is configured:
// VNVME_ORACLE_QEMU names it (a URL or a local clone/mirror), VNVME_QEMU_SUBMODULES maps its
// submodules to mirrors where there is no internet. Both refs the SPDK+libvfio-user guide names
// are built (cached after the first time) and probed: d377d483f9 speaks vfio-user, the
// vfio-user-dbfix branch also migrates it (x-enable-migration).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildQemuFromGit } from '../../harness/qemu/build-from-git.js';
import { consoleProgress } from '../../harness/progress.js';

const source = process.env.VNVME_ORACLE_QEMU;
const skip = source ? false : 'VNVME_ORACLE_QEMU is not set (a URL or local mirror of github.com/oracle/qemu); the fork is not built';

for (const [ref, migration] of [['d377d483f9', undefined], ['vfio-user-dbfix', true]] as const) {
  test(`Oracle's fork at ${ref}: built with --enable-multiprocess, vfio-user-pci with socket=<str>${migration ? ' and x-enable-migration' : ''}`, { skip, timeout: 40 * 60_000 }, async () => {
    const q = await buildQemuFromGit({ source: source!, ref, progress: consoleProgress('oracle-qemu') });
    assert.equal(q.vfioUserSyntax, 'oracle');
    if (migration !== undefined) assert.equal(q.vfioUserMigration, migration);
    assert.match(q.version, /^6\./);
  });
}

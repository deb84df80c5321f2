// What the rest of the harness needs to know about a QEMU: how to invoke it and what it speaks.
export type VfioUserSyntax =
  /** Upstream QEMU >= 10.1: `-device '{"driver":"vfio-user-pci","socket":{"type":"unix","path":P}}'`. */
  | 'json'
  /** Oracle's fork: `-device vfio-user-pci,socket=P[,x-enable-migration=on]`. */
  | 'oracle';

export type QemuSource = 'option' | 'path' | 'debian-tree' | 'git';

export interface QemuInstall {
  source: QemuSource;
  /** Executable to spawn; for a debootstrapped tree this is the tree's dynamic loader. */
  command: string;
  /** Arguments that always come first (the loader's `--library-path ... qemu-system-x86_64`). */
  prefixArgs: string[];
  /** Firmware directories, passed as `-L DIR` each. */
  dataDirs: string[];
  /** Environment additions (QEMU_MODULE_DIR for a relocated tree). */
  env: Record<string, string>;
  /** "11.1.3". */
  version: string;
  vfioUserSyntax: VfioUserSyntax;
  /** The fork's `x-enable-migration` (vfio-user migration v1) exists. */
  vfioUserMigration: boolean;
  /** One line for logs and results: where this QEMU came from. */
  description: string;
}

/** The argv (after `command`) that starts this QEMU with `args`. */
export function qemuArgv(q: QemuInstall, args: readonly string[]): string[] {
  return [...q.prefixArgs, ...q.dataDirs.flatMap((d) => ['-L', d]), ...args];
}

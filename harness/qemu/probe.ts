// Asking a QEMU binary what it is: its version and whether (and how) it speaks vfio-user.
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import type { QemuInstall, QemuSource, VfioUserSyntax } from './install.js';

export interface QemuInvocation {
  command: string;
  prefixArgs: string[];
  dataDirs: string[];
  env: Record<string, string>;
}

export type ProbeResult = { ok: true; install: QemuInstall } | { ok: false; reason: string };

function exec(inv: QemuInvocation, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(
      inv.command,
      [...inv.prefixArgs, ...inv.dataDirs.flatMap((d) => ['-L', d]), ...args],
      { env: { ...process.env, ...inv.env }, timeout: 20_000, maxBuffer: 4 << 20 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 127) : 0;
        resolve({ code, out: `${stdout}${stderr}` });
      },
    );
  });
}

/** "QEMU emulator version 11.1.3 (Debian ...)" -> [11, 1, 3]. */
export function parseQemuVersion(text: string): [number, number, number] | undefined {
  const m = /QEMU emulator version (\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)];
}

export function versionAtLeast(v: readonly number[], min: readonly number[]): boolean {
  for (let i = 0; i < min.length; i++) {
    const a = v[i] ?? 0;
    const b = min[i] ?? 0;
    if (a !== b) return a > b;
  }
  return true;
}

/**
 * Reads `-device vfio-user-pci,help`: upstream lists `socket=<SocketAddress>`, Oracle's fork
 * `socket=<str>` (and `x-enable-migration` on its migration branches).
 */
export function parseVfioUserHelp(text: string): { syntax: VfioUserSyntax; migration: boolean } | undefined {
  if (!/vfio-user-pci options:/.test(text)) return undefined;
  const socket = /^\s*socket=<([^>]+)>/m.exec(text);
  const syntax: VfioUserSyntax = socket?.[1] === 'str' ? 'oracle' : 'json';
  return { syntax, migration: /x-enable-migration/.test(text) };
}

/** Upstream 10.1.0 gives the device a wrong PCI class code (x-pci-class-code landed in 10.1.1). */
export const MIN_UPSTREAM_VERSION: [number, number, number] = [10, 1, 1];

export async function probeQemu(inv: QemuInvocation, source: QemuSource, where: string): Promise<ProbeResult> {
  if (!existsSync(inv.command)) return { ok: false, reason: `${inv.command} not found` };
  try {
    accessSync(inv.command, constants.X_OK);
  } catch {
    return { ok: false, reason: `${inv.command} is not executable` };
  }
  const ver = await exec(inv, ['-version']);
  const version = parseQemuVersion(ver.out);
  if (ver.code !== 0 || !version) {
    return { ok: false, reason: `${where}: \`-version\` failed (exit ${ver.code}): ${ver.out.trim().split('\n').slice(-2).join(' ')}` };
  }
  const vstr = version.join('.');
  const help = await exec(inv, ['-device', 'vfio-user-pci,help']);
  const parsed = help.code === 0 ? parseVfioUserHelp(help.out) : undefined;
  if (!parsed) {
    return { ok: false, reason: `${where}: QEMU ${vstr} has no vfio-user-pci device (needs upstream >= 10.1.1 or Oracle's fork)` };
  }
  if (parsed.syntax === 'json' && !versionAtLeast(version, MIN_UPSTREAM_VERSION)) {
    return { ok: false, reason: `${where}: QEMU ${vstr} is older than 10.1.1; 10.1.0's vfio-user-pci reports a wrong PCI class code` };
  }
  return {
    ok: true,
    install: {
      source,
      ...inv,
      version: vstr,
      vfioUserSyntax: parsed.syntax,
      vfioUserMigration: parsed.migration,
      description: `QEMU ${vstr} (${where}, vfio-user ${parsed.syntax} syntax${parsed.migration ? ', migration v1' : ''})`,
    },
  };
}

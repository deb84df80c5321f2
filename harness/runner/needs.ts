// Whether this machine can give a scenario what it needs; the answer is the reason it cannot
// (shown as the skip reason) or undefined.
import { accessSync, constants, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GuestParts } from '../guest/parts.js';
import { which } from '../process.js';
import type { Need } from './scenario.js';

export interface NeedsProbe {
  /** Reason a need cannot be met, or undefined. `parts` is set once QEMU was provisioned. */
  why(need: Need): string | undefined;
}

export function nativeAddonPath(): string {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  return process.env.VNVME_NATIVE ? join(root, process.env.VNVME_NATIVE) : join(root, 'build', 'Release', 'vnvme.node');
}

/** Why QEMU and the guest image cannot be provisioned here (before trying), or undefined. */
export function qemuUnavailable(qemuOption: string | undefined): string | undefined {
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const given = Boolean(qemuOption ?? process.env.VNVME_QEMU) || Boolean(which('qemu-system-x86_64'));
  if (!root) return given ? 'building the guest image needs root (debootstrap, chroot); run as root' : 'not root and no QEMU given: provisioning QEMU and the guest image needs root (debootstrap)';
  if (!existsSync('/etc/debian_version') && !given) return 'not a Debian/Ubuntu host and no QEMU given (--qemu PATH)';
  if (!which('debootstrap', `${process.env.PATH ?? ''}:/usr/sbin:/sbin`)) return 'debootstrap is not installed (apt-get install debootstrap)';
  return undefined;
}

export function kvmUnavailable(): string | undefined {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return undefined;
  } catch (err) {
    return `/dev/kvm is not usable (${(err as NodeJS.ErrnoException).code ?? 'error'}); this scenario needs KVM`;
  }
}

export function machineProbe(o: { qemu?: string; parts?: () => GuestParts | undefined; provisionError?: () => string | undefined }): NeedsProbe {
  return {
    why(need) {
      switch (need) {
        case 'initiator':
          return existsSync(nativeAddonPath()) ? undefined : `the native addon is not built (${nativeAddonPath()}); run npm install`;
        case 'qemu':
          return qemuUnavailable(o.qemu);
        case 'kvm':
          return kvmUnavailable();
        case 'migration-qemu': {
          const q = qemuUnavailable(o.qemu);
          if (q) return q;
          const parts = o.parts?.();
          if (!parts) return o.provisionError?.() ?? 'QEMU was not provisioned';
          return parts.qemu.vfioUserMigration
            ? undefined
            : `${parts.qemu.description} has no vfio-user migration (x-enable-migration); give a migration-capable QEMU (Oracle's fork) with --qemu`;
        }
      }
    },
  };
}

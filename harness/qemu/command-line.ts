// The QEMU command line for a guest, built from a typed description. Pure: no I/O, so the
// exact arguments are unit-tested.
import type { VfioUserSyntax } from './install.js';

export type Accelerator = 'kvm' | 'tcg';

export type MemoryBackend =
  /** `memory-backend-file` on a hugetlbfs mount, preallocated; vfio-user maps it from the fd. */
  | { kind: 'hugetlbfs'; mountPoint: string }
  /** `memory-backend-memfd,share=on`: shareable without hugepages. */
  | { kind: 'memfd' };

export interface VfioUserDevice {
  id: string;
  socket: string;
  /** Oracle fork only: `x-enable-migration=on` (vfio-user migration v1). */
  migration?: boolean;
}

export interface BaselineNvme {
  id: string;
  /** Raw file backing QEMU's own emulated controller. */
  backingFile: string;
  serial: string;
  /** O_DIRECT on the backing file (cache=none), so the baseline is not served from host page cache; off on tmpfs, which has no O_DIRECT. */
  direct: boolean;
}

export interface QemuLaunchSpec {
  name: string;
  accel: Accelerator;
  memMiB: number;
  smp: number;
  memory: MemoryBackend;
  kernel: string;
  initrd: string;
  append: string;
  /** Root filesystem image on virtio-blk, opened with snapshot=on (the image never changes). */
  rootDisk?: string;
  qmpSocket: string;
  serialLog: string;
  /** Host port forwarded (on 127.0.0.1) to the guest's port 22. */
  sshPort: number;
  vfioUser: readonly VfioUserDevice[];
  vfioUserSyntax: VfioUserSyntax;
  baselineNvme?: BaselineNvme;
  /** Empty PCIe root ports `hp0`.. for QMP device_add (default 2). */
  hotplugPorts?: number;
  pidFile?: string;
  extraArgs?: readonly string[];
}

export function memoryArgs(memory: MemoryBackend, memMiB: number): string[] {
  const size = `size=${memMiB}M`;
  const backend =
    memory.kind === 'hugetlbfs'
      ? `memory-backend-file,id=mem0,${size},mem-path=${memory.mountPoint},share=on,prealloc=on`
      : `memory-backend-memfd,id=mem0,${size},share=on`;
  return ['-m', `${memMiB}M`, '-object', backend, '-numa', 'node,memdev=mem0'];
}

/** One vfio-user-pci device in the syntax this QEMU understands. */
export function vfioUserDeviceArgs(dev: VfioUserDevice, syntax: VfioUserSyntax, bus?: string): string[] {
  if (syntax === 'oracle') {
    if (/[,]/.test(dev.socket)) throw new Error(`socket path ${dev.socket} contains a comma, which QEMU's option syntax cannot carry`);
    return ['-device', `vfio-user-pci,id=${dev.id}${bus ? `,bus=${bus}` : ''},socket=${dev.socket}${dev.migration ? ',x-enable-migration=on' : ''}`];
  }
  if (dev.migration) {
    throw new Error('this QEMU (upstream vfio-user-pci) has no vfio-user migration; use Oracle\'s fork (--qemu-git https://github.com/oracle/qemu --qemu-ref vfio-user-dbfix)');
  }
  return ['-device', JSON.stringify({ driver: 'vfio-user-pci', id: dev.id, ...(bus ? { bus } : {}), socket: { type: 'unix', path: dev.socket } })];
}

export function baselineNvmeArgs(b: BaselineNvme, bus?: string): string[] {
  return [
    '-drive', `file=${b.backingFile},if=none,id=${b.id}-drive,format=raw,cache=${b.direct ? 'none' : 'writeback'},aio=threads`,
    '-device', `nvme,id=${b.id}${bus ? `,bus=${bus}` : ''},serial=${b.serial},drive=${b.id}-drive`,
  ];
}

/**
 * q35's root bus cannot hot-unplug, so every NVMe device sits behind its own PCIe root port
 * (`rp-<device id>`), and `hotplugPorts` empty ports (`hp0`, `hp1`, ...) take devices added
 * later with QMP device_add (`"bus": "hp0"`).
 */
export function rootPortArgs(id: string, slot: number): string[] {
  return ['-device', `pcie-root-port,id=${id},bus=pcie.0,chassis=${slot},slot=${slot}`];
}

/** The arguments after the QEMU binary (and after any `-L` firmware directories). */
export function buildQemuArgs(s: QemuLaunchSpec): string[] {
  if (!Number.isInteger(s.memMiB) || s.memMiB < 256) throw new Error(`guest memory ${s.memMiB} MiB is too small (>= 256 MiB)`);
  if (!Number.isInteger(s.smp) || s.smp < 1) throw new Error(`--smp ${s.smp} must be a positive integer`);
  const args: string[] = [
    '-name', `${s.name},debug-threads=on`,
    '-nodefaults', '-no-user-config', '-display', 'none',
    '-machine', 'q35',
    '-accel', s.accel === 'kvm' ? 'kvm' : 'tcg',
    '-cpu', s.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(s.smp),
    ...memoryArgs(s.memory, s.memMiB),
    '-kernel', s.kernel,
    '-initrd', s.initrd,
    '-append', s.append,
    ...(s.rootDisk
      ? ['-drive', `file=${s.rootDisk},if=none,id=rootdisk,format=raw,snapshot=on`, '-device', 'virtio-blk-pci,drive=rootdisk']
      : []),
    '-no-reboot',
    '-serial', `file:${s.serialLog}`,
    '-qmp', `unix:${s.qmpSocket},server=on,wait=off`,
    '-netdev', `user,id=net0,hostfwd=tcp:127.0.0.1:${s.sshPort}-:22`,
    '-device', 'virtio-net-pci,netdev=net0,romfile=',
  ];
  let slot = 1;
  for (const dev of s.vfioUser) {
    args.push(...rootPortArgs(`rp-${dev.id}`, slot++), ...vfioUserDeviceArgs(dev, s.vfioUserSyntax, `rp-${dev.id}`));
  }
  if (s.baselineNvme) args.push(...rootPortArgs(`rp-${s.baselineNvme.id}`, slot++), ...baselineNvmeArgs(s.baselineNvme, `rp-${s.baselineNvme.id}`));
  for (let i = 0; i < (s.hotplugPorts ?? 2); i++) args.push(...rootPortArgs(`hp${i}`, slot++));
  if (s.pidFile) args.push('-pidfile', s.pidFile);
  if (s.extraArgs) args.push(...s.extraArgs);
  return args;
}

/** "2G", "512M", "1024" (MiB) -> MiB. */
export function parseMiB(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  if (!m?.[1]) throw new Error(`cannot read "${text}" as a size; use e.g. 2G, 512M or 1024 (MiB)`);
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toUpperCase();
  const mib = unit === 'K' ? n / 1024 : unit === 'G' ? n * 1024 : unit === 'T' ? n * 1024 * 1024 : n;
  if (!Number.isInteger(mib) || mib <= 0) throw new Error(`size "${text}" is not a whole, positive number of MiB`);
  return mib;
}

// A libvirt domain for a guest on our vfio-user controller, as the SPDK+libvfio-user guide
// writes it: guest RAM shared with the target (`<memoryBacking>` with 2 MiB hugepages or
// `<source type='memfd'/>`, and `<access mode='shared'/>`), the guest image booted directly
// (kernel, initrd, the root disk on virtio-blk), and the vfio-user device, which libvirt has no
// element for, through `<qemu:commandline>` in the syntax the chosen QEMU understands (a JSON
// SocketAddress for upstream QEMU, `socket=PATH` for Oracle's fork). SSH reaches the guest
// through a user-mode netdev with a host port forward, also on the QEMU command line. Pure: the
// XML is a function of the spec (tests validate it with virt-xml-validate).
import { vfioUserDeviceArgs } from '../qemu/command-line.js';
import type { VfioUserSyntax } from '../qemu/install.js';

export interface DomainSpec {
  name: string;
  /** libvirt's domain type: kvm, or qemu (TCG). */
  type: 'kvm' | 'qemu';
  memMiB: number;
  vcpus: number;
  memory: 'hugepages' | 'memfd';
  /** The QEMU binary (or a wrapper script); libvirt's default when absent. */
  emulator?: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  /** Root disk (raw ext4, virtio-blk vda). */
  disk?: string;
  /** Discard the guest's writes to the disk (`<transient/>`): for a disk that is not the domain's own copy. */
  transientDisk?: boolean;
  /** Serial console to a file (else a pty). */
  serialLog?: string;
  /** The target's vfio-user socket, DIR/cntrl. */
  socket: string;
  syntax: VfioUserSyntax;
  /** Host port (127.0.0.1) forwarded to the guest's sshd. */
  sshPort?: number;
}

/** XML text and attribute escaping. */
export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/**
 * PCI slots on pcie.0 for the devices libvirt does not place itself: libvirt fills the root bus
 * from slot 1 (its root ports) and uses 0x1f (ICH9), so these stay clear of both.
 */
export const VFIO_USER_SLOT = '0x10';
export const NET_SLOT = '0x11';

/** The QEMU arguments libvirt cannot express: the vfio-user device, and the SSH port forward. */
export function qemuCommandlineArgs(s: Pick<DomainSpec, 'socket' | 'syntax' | 'sshPort'>): string[] {
  const [flag, device] = vfioUserDeviceArgs({ id: 'vfu0', socket: s.socket }, s.syntax, 'pcie.0');
  const placed = s.syntax === 'json' ? JSON.stringify({ ...(JSON.parse(device!) as object), addr: VFIO_USER_SLOT }) : device!.replace(',bus=pcie.0', `,bus=pcie.0,addr=${VFIO_USER_SLOT}`);
  const args = [flag!, placed];
  if (s.sshPort !== undefined) {
    if (!Number.isInteger(s.sshPort) || s.sshPort < 1 || s.sshPort > 65535) throw new Error(`SSH port ${s.sshPort} is not a TCP port`);
    args.push('-netdev', `user,id=vnvmenet,hostfwd=tcp:127.0.0.1:${s.sshPort}-:22`, '-device', `virtio-net-pci,netdev=vnvmenet,bus=pcie.0,addr=${NET_SLOT},romfile=`);
  }
  return args;
}

export function domainXml(s: DomainSpec): string {
  if (!/^[A-Za-z0-9_.+-]+$/.test(s.name)) throw new Error(`domain name "${s.name}": letters, digits and _ . + - only`);
  if (!Number.isInteger(s.memMiB) || s.memMiB < 256) throw new Error(`guest memory ${s.memMiB} MiB is too small (>= 256 MiB)`);
  if (s.memory === 'hugepages' && s.memMiB % 2 !== 0) throw new Error(`guest memory ${s.memMiB} MiB is not a whole number of 2 MiB hugepages`);
  if (!Number.isInteger(s.vcpus) || s.vcpus < 1) throw new Error(`vCPUs ${s.vcpus} must be a positive integer`);
  const e = xmlEscape;
  const backing =
    s.memory === 'hugepages'
      ? ["    <hugepages>", "      <page size='2048' unit='KiB'/>", '    </hugepages>']
      : ["    <source type='memfd'/>"];
  const lines = [
    `<domain type='${s.type}' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>`,
    `  <name>${e(s.name)}</name>`,
    `  <memory unit='MiB'>${s.memMiB}</memory>`,
    '  <memoryBacking>',
    ...backing,
    "    <access mode='shared'/>",
    '  </memoryBacking>',
    `  <vcpu>${s.vcpus}</vcpu>`,
    '  <os>',
    "    <type arch='x86_64' machine='q35'>hvm</type>",
    `    <kernel>${e(s.kernel)}</kernel>`,
    `    <initrd>${e(s.initrd)}</initrd>`,
    `    <cmdline>${e(s.cmdline)}</cmdline>`,
    '  </os>',
    '  <features>',
    '    <acpi/>',
    '  </features>',
    s.type === 'kvm' ? "  <cpu mode='host-passthrough'/>" : "  <cpu mode='maximum'/>",
    "  <clock offset='utc'/>",
    '  <on_poweroff>destroy</on_poweroff>',
    '  <on_reboot>destroy</on_reboot>',
    '  <on_crash>destroy</on_crash>',
    '  <devices>',
    ...(s.emulator ? [`    <emulator>${e(s.emulator)}</emulator>`] : []),
    ...(s.disk
      ? [
          "    <disk type='file' device='disk'>",
          "      <driver name='qemu' type='raw'/>",
          `      <source file='${e(s.disk)}'/>`,
          "      <target dev='vda' bus='virtio'/>",
          ...(s.transientDisk ? ['      <transient/>'] : []),
          '    </disk>',
        ]
      : []),
    "    <controller type='usb' model='none'/>",
    ...(s.serialLog
      ? ["    <serial type='file'>", `      <source path='${e(s.serialLog)}'/>`, "      <target port='0'/>", '    </serial>']
      : ["    <serial type='pty'>", "      <target port='0'/>", '    </serial>']),
    "    <memballoon model='none'/>",
    '  </devices>',
    '  <qemu:commandline>',
    ...qemuCommandlineArgs(s).map((a) => `    <qemu:arg value='${e(a)}'/>`),
    '  </qemu:commandline>',
    '</domain>',
  ];
  return `${lines.join('\n')}\n`;
}

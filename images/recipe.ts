// The guest: Debian trixie (minbase) from Debian packages only, living entirely in an
// initramfs (the whole root filesystem is the initrd), booted with -kernel/-initrd/-append.
// No disk image and no service manager: busybox init runs one shell script and keeps sshd and
// a serial-console shell alive, so the guest reaches SSH in seconds even under TCG.
// Everything here is hashed into the image's cache key; change anything and the image rebuilds.

export interface GuestFile {
  path: string;
  mode: number;
  content: string;
}

/** Brings the system up: mounts, drivers for present devices (no udev), network, sshd's dirs. */
const RC_SH = `#!/bin/sh
# vnvme guest bring-up, run once by busybox init (::sysinit).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
bb=/bin/busybox
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm /run /tmp /var/log
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
$bb hostname vnvme-guest
# No udev: load the driver of every device present by its modalias, then the ones we rely on.
for alias in /sys/bus/pci/devices/*/modalias /sys/bus/virtio/devices/*/modalias; do
  [ -r "$alias" ] && modprobe -qab "$(cat "$alias")"
done
modprobe -qa virtio_net nvme
for alias in /sys/bus/virtio/devices/*/modalias; do [ -r "$alias" ] && modprobe -qab "$(cat "$alias")"; done
# QEMU user-mode network: fixed address, gateway and DNS.
$bb ip link set lo up
$bb ip link set eth0 up
$bb ip addr add 10.0.2.15/24 dev eth0
$bb ip route add default via 10.0.2.2
echo 'nameserver 10.0.2.3' > /etc/resolv.conf
mkdir -p /run/sshd
chmod 0755 /run/sshd
echo "vnvme-guest: up after $(cut -d' ' -f1 /proc/uptime) s, kernel $(uname -r)"
`;

const INITTAB = `# busybox init: bring-up, sshd, a root shell on the serial console.
::sysinit:/etc/vnvme/rc.sh
::respawn:/usr/sbin/sshd -D -e
ttyS0::respawn:-/bin/bash
::ctrlaltdel:/bin/busybox reboot
::shutdown:/bin/busybox sync
`;

const SSHD_CONFIG = `# vnvme guest: root by key only, no PAM (no service manager), quick logins.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
PrintLastLog no
MaxStartups 64
MaxSessions 64
`;

export interface GuestRecipe {
  recipe: number;
  suite: string;
  variant: 'minbase';
  packages: readonly string[];
  /** Paths (relative to the root) removed before packing: caches, docs, locales, hwdb. */
  prune: readonly string[];
  /** Commands run in the pruned tree at build time; any failure fails the build. */
  smoke: readonly string[];
  /** Kernel module subtrees (relative to /lib/modules/VER/) kept; the rest are dropped. */
  keepModules: readonly string[];
  files: readonly GuestFile[];
  /** `console=ttyS0` etc.; the harness appends its own extras. */
  append: string;
  /**
   * Where the root filesystem lives: `disk`, an ext4 image on virtio-blk (snapshot=on) behind a
   * tiny first-stage initramfs; or `initramfs`, the whole root unpacked into RAM (no disk, but
   * unpacking ~130 MiB costs about 10 s under TCG and the RAM stays used).
   */
  rootfs: 'disk' | 'initramfs';
  /** Modules the first stage loads to reach the root disk (with their dependencies). */
  bootModules: readonly string[];
  /** Compression of the root-filesystem initrd (`initramfs` only). */
  compression: 'zstd' | 'none';
}

export const GUEST_RECIPE: GuestRecipe = {
  recipe: 3,
  suite: 'trixie',
  variant: 'minbase',
  packages: ['linux-image-amd64', 'openssh-server', 'nvme-cli', 'fio', 'busybox', 'kmod', 'pciutils'],
  prune: [
    // Package-manager state and caches: the guest never installs anything.
    'var/cache/apt',
    'var/cache/debconf',
    'var/lib/apt/lists',
    'usr/lib/apt',
    'usr/bin/sqv',
    // Documentation and locales.
    'usr/share/doc',
    'usr/share/man',
    'usr/share/info',
    'usr/share/locale',
    'usr/share/i18n',
    'usr/share/common-licenses',
    'usr/share/zoneinfo',
    // Pulled in as dependencies, never run: no service manager, udev, python or perl in this guest.
    'usr/lib/systemd',
    'usr/lib/x86_64-linux-gnu/systemd',
    'usr/lib/udev',
    'usr/bin/python3.13',
    'usr/lib/python3',
    'usr/lib/python3.13',
    'usr/bin/perl',
    'usr/bin/perl5.40.1',
    'usr/share/perl',
    'usr/share/perl5',
    'usr/lib/x86_64-linux-gnu/perl',
    'usr/lib/x86_64-linux-gnu/perl-base',
    'usr/lib/x86_64-linux-gnu/perl5',
    'boot',
  ],
  /** Run in the pruned tree (chroot) at build time: pruning must not break what the guest runs. */
  smoke: ['/usr/bin/fio --version', '/usr/sbin/nvme version', '/usr/sbin/sshd -t', '/usr/bin/lspci --version', '/bin/busybox true', '/usr/bin/bash -c true'],
  keepModules: [
    'kernel/drivers/nvme',
    'kernel/drivers/block',
    'kernel/drivers/virtio',
    'kernel/drivers/net/virtio_net.ko',
    'kernel/drivers/net/net_failover.ko',
    'kernel/net/core/failover.ko',
    'kernel/drivers/pci',
    'kernel/fs/ext4',
    'kernel/fs/jbd2',
    'kernel/fs/mbcache.ko',
    'kernel/lib',
    'kernel/crypto',
    'kernel/arch',
    'kernel/block',
    'modules.',
  ],
  files: [
    { path: 'etc/vnvme/rc.sh', mode: 0o755, content: RC_SH },
    { path: 'etc/inittab', mode: 0o644, content: INITTAB },
    { path: 'etc/ssh/sshd_config.d/vnvme.conf', mode: 0o644, content: SSHD_CONFIG },
    { path: 'etc/hostname', mode: 0o644, content: 'vnvme-guest\n' },
    { path: 'etc/hosts', mode: 0o644, content: '127.0.0.1 localhost\n127.0.1.1 vnvme-guest\n' },
  ],
  append: 'console=ttyS0,115200 panic=-1 quiet',
  rootfs: 'disk',
  bootModules: ['virtio_blk', 'crc32c_generic', 'ext4'],
  compression: 'zstd',
};

/** A module file (relative to /lib/modules/VER/) is kept when it lies under a keepModules prefix. */
export function keepModule(relPath: string, keep: readonly string[]): boolean {
  return keep.some((k) => relPath === k || relPath.startsWith(k.endsWith('.ko') || k.endsWith('.') ? k : `${k}/`));
}

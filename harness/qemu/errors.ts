// QEMU's failures at start-up, turned into errors that say what went wrong and what to do.
// QEMU exits 1 before the guest starts when a vfio-user socket cannot be used; the message
// names the socket, so each case maps to a precise next step.

export type QemuFailureKind =
  | 'vfio-user-no-socket'
  | 'vfio-user-refused'
  | 'vfio-user-timeout'
  | 'vfio-user-property'
  | 'no-vfio-user'
  | 'kvm'
  | 'hugepages'
  | 'memory'
  | 'port-in-use'
  | 'unknown';

export class QemuStartError extends Error {
  constructor(
    readonly kind: QemuFailureKind,
    message: string,
    readonly qemuOutput: string,
  ) {
    super(message);
    this.name = 'QemuStartError';
  }
}

function socketIn(text: string): string | undefined {
  return /Failed to connect to '([^']+)'/.exec(text)?.[1] ?? /"path":"([^"]+)"/.exec(text)?.[1];
}

/** Classifies QEMU's output (stderr) after it exited early, with `exitCode` for the fallback. */
export function explainQemuFailure(output: string, exitCode: number | null, signal: NodeJS.Signals | null = null): QemuStartError {
  const text = output.trim();
  const last = text.split('\n').filter(Boolean).slice(-6).join('\n');
  const sock = socketIn(text) ?? '(the vfio-user socket)';
  const mk = (kind: QemuFailureKind, msg: string) => new QemuStartError(kind, `${msg}\n--- QEMU said ---\n${last}`, text);

  if (/Failed to connect to .*No such file or directory/.test(text)) {
    return mk('vfio-user-no-socket', `no vfio-user target is listening at ${sock}: the socket file does not exist. Start the target first (\`npx vnvme target ...\`) and pass the socket it created with --socket.`);
  }
  if (/Failed to connect to .*Connection refused/.test(text)) {
    return mk('vfio-user-refused', `the socket ${sock} exists but nothing accepts connections on it (a stale socket left by a target that exited?). Restart the target; remove the stale file if the target cannot.`);
  }
  if (/timed out waiting for reply/i.test(text)) {
    return mk('vfio-user-timeout', `the vfio-user target at ${sock} accepted the connection but did not answer in time (the VERSION handshake or a later request timed out). Check that the target process is alive and not stuck, and look at its log.`);
  }
  if (/Property '[^']*vfio-user-pci[^']*' not found|Invalid parameter type for 'socket'/.test(text)) {
    return mk('vfio-user-property', 'this QEMU rejected the vfio-user-pci options: the harness used the wrong device syntax for it (upstream wants the JSON form, Oracle\'s fork `socket=PATH`). Report this with the QEMU version.');
  }
  if (/'vfio-user-pci' is not a valid device model name/.test(text)) {
    return mk('no-vfio-user', 'this QEMU has no vfio-user-pci device. Use QEMU >= 10.1.1 (let the harness provision one: drop --qemu) or build Oracle\'s fork with --qemu-git.');
  }
  if (/KVM internal error|Could not access KVM kernel module|failed to initialize kvm|kvm: .*Permission denied/i.test(text)) {
    return mk('kvm', 'KVM did not work for this guest. Run with --accel tcg (slower but works everywhere), or fix /dev/kvm (permissions, nested virtualisation).');
  }
  if (/hugepages|hugetlbfs|mem-path/i.test(text) && /cannot|can't|failed|unable|Cannot allocate/i.test(text)) {
    return mk('hugepages', 'QEMU could not allocate guest memory from hugetlbfs. Reserve more 2 MiB hugepages (`echo N > /proc/sys/vm/nr_hugepages`) or run with --memory memfd.');
  }
  if (/cannot set up guest memory|Cannot allocate memory|memfd/i.test(text)) {
    return mk('memory', 'QEMU could not allocate guest memory. Lower --mem or free memory on the host.');
  }
  if (/Could not set up host forwarding rule/.test(text)) {
    return mk('port-in-use', 'the SSH forwarding port was taken between choosing it and QEMU binding it. Retry.');
  }
  const how = signal ? `was killed by ${signal}` : `exited with status ${exitCode}`;
  return mk('unknown', `QEMU ${how} before the guest came up.`);
}

// What an nvme-cli command's output says happened to it: the device answered with an NVMe
// status ("NVMe status: <name>(0x400c)", nvme-cli 1.x and 2.x; "NVMe Status:NAME(6)" in old
// 1.x), the kernel refused the ioctl before the device saw it ("<cmd>: Permission denied"),
// or it succeeded. Checks assert the status itself instead of "exited non-zero".

export type NvmeCliOutcome =
  | { kind: 'status'; status: number; text: string }
  | { kind: 'errno'; message: string; refusedByKernel: boolean }
  | { kind: 'success' }
  | { kind: 'unknown'; text: string };

/** Errno messages (strerror) meaning the guest kernel refused the command itself. */
const KERNEL_REFUSALS = /\b(Permission denied|Operation not permitted)\b/;
const ERRNO_MESSAGE = /:\s*(Permission denied|Operation not permitted|Invalid argument|Inappropriate ioctl for device|Input\/output error|No such device|Resource temporarily unavailable|Interrupted system call|Connection timed out)\s*$/m;

export function nvmeCliOutcome(r: { code: number | null; stdout: string; stderr: string }): NvmeCliOutcome {
  const out = `${r.stdout}\n${r.stderr}`;
  const st = /NVMe [Ss]tatus:\s*([^\n]*?)\s*\((0x[0-9a-fA-F]+|\d+)\)/.exec(out);
  if (st) return { kind: 'status', status: Number(st[2]), text: st[1]!.trim() };
  const e = ERRNO_MESSAGE.exec(out);
  if (e) return { kind: 'errno', message: e[0].replace(/^:\s*/, '').trim(), refusedByKernel: KERNEL_REFUSALS.test(e[1]!) };
  if (r.code === 0) return { kind: 'success' };
  return { kind: 'unknown', text: out.trim().split('\n').at(-1) ?? '' };
}

/** SCT/SC of a status as nvme-cli prints it (DNR, More and nvme-cli's type bits dropped). */
export const statusCode = (status: number) => status & 0x7ff;

export type Verdict = { verdict: 'pass'; detail: string } | { verdict: 'skip'; reason: string } | { verdict: 'fail'; detail: string };

/**
 * Set Features Number of Queues once I/O queues exist: the controller shall abort it with
 * Command Sequence Error, 00h/0Ch (NVMe Base 2.0 5.27.1.5; QEMU's hw/nvme does the same).
 * A kernel that refuses the ioctl first never lets the device answer: that is a skip.
 */
export function judgeNumberOfQueuesAfterInit(r: { code: number | null; stdout: string; stderr: string }): Verdict {
  const o = nvmeCliOutcome(r);
  const want = 0x00c;
  switch (o.kind) {
    case 'status':
      return statusCode(o.status) === want
        ? { verdict: 'pass', detail: `NVMe status ${o.text} (0x${o.status.toString(16)})` }
        : { verdict: 'fail', detail: `NVMe status ${o.text} (0x${o.status.toString(16)}), expected Command Sequence Error (0x00c)` };
    case 'errno':
      return o.refusedByKernel
        ? { verdict: 'skip', reason: `the guest kernel refused the command before the device saw it (${o.message})` }
        : { verdict: 'fail', detail: `the command failed without an NVMe status: ${o.message}` };
    case 'success':
      return { verdict: 'fail', detail: 'Set Features Number of Queues succeeded after I/O queues were created' };
    default:
      return { verdict: 'fail', detail: `exit ${r.code}: no NVMe status in the output: ${o.text}` };
  }
}

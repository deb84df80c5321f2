// NVMe as the guest sees it, through nvme-cli, sysfs and fio over SSH: find a controller by
// serial, read identify data, size a namespace, run a verifying fio job, reset a controller.
// Scenarios and the acceptance test share these.
import type { ExecResult } from './ssh.js';

/** What these helpers need from a guest: a shell command runner. */
export interface GuestShell {
  check(command: string, opts?: { timeoutMs?: number }): Promise<ExecResult>;
  exec(command: string, opts?: { timeoutMs?: number }): Promise<ExecResult>;
}

export interface GuestController {
  /** "nvme0" */
  name: string;
  serial: string;
  model: string;
  /** "0000:00:03.0" */
  address: string;
  /** Block devices, in NSID order (Linux scans namespaces concurrently, so nvme0n1 need not be NSID 1). */
  namespaces: string[];
  /** The NSID of each of `namespaces` (sysfs `nsid`; NaN where the kernel has none). */
  nsids: number[];
}

/** The block device of NSID `nsid` on this controller, or undefined. */
export function namespaceDevice(c: GuestController, nsid: number): string | undefined {
  const i = c.nsids.indexOf(nsid);
  return i < 0 ? undefined : c.namespaces[i];
}

/** Parses the `name|serial|model|address|dev:nsid dev:nsid` lines printed by LIST_SCRIPT. */
export function parseControllerList(text: string): GuestController[] {
  return text
    .split('\n')
    .filter((l) => l.includes('|'))
    .map((l) => {
      const [name = '', serial = '', model = '', address = '', ns = ''] = l.split('|');
      const devs = ns
        .split(' ')
        .filter(Boolean)
        .map((e) => {
          const [dev = '', id = ''] = e.split(':');
          return { dev, nsid: id === '' ? NaN : Number(id) };
        })
        .sort((a, b) => (Number.isNaN(a.nsid) ? Infinity : a.nsid) - (Number.isNaN(b.nsid) ? Infinity : b.nsid));
      return { name, serial: serial.trim(), model: model.trim(), address: address.trim(), namespaces: devs.map((d) => d.dev), nsids: devs.map((d) => d.nsid) };
    });
}

const LIST_SCRIPT = `for c in /sys/class/nvme/nvme*; do [ -e "$c" ] || continue; n=$(basename $c); ns=$(cd /sys/block && for d in \${n}n*; do [ -e "$d" ] && printf '%s:%s ' "$d" "$(cat $d/nsid 2>/dev/null)"; done); echo "$n|$(cat $c/serial)|$(cat $c/model)|$(cat $c/address 2>/dev/null)|$ns"; done`;

export async function listControllers(g: GuestShell): Promise<GuestController[]> {
  return parseControllerList((await g.check(LIST_SCRIPT)).stdout);
}

/** Waits (the driver probes asynchronously) for the controller with this serial to have a namespace. */
/** Polls `cond` in the guest every 500 ms until it exits 0 (true) or `timeoutMs` passes (false). */
export async function waitForGuest(g: GuestShell, cond: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await g.exec(cond)).code === 0) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

export async function waitForController(g: GuestShell, serial: string, timeoutMs = 60_000): Promise<GuestController> {
  const deadline = Date.now() + timeoutMs;
  let seen: GuestController[] = [];
  for (;;) {
    seen = await listControllers(g);
    const c = seen.find((x) => x.serial === serial);
    if (c && c.namespaces.length > 0) return c;
    if (Date.now() > deadline) {
      const dmesg = (await g.exec('dmesg | grep -i nvme | tail -20')).stdout;
      throw new Error(
        `no NVMe controller with serial ${serial} and a namespace in the guest after ${timeoutMs / 1000} s; ` +
          `controllers: ${JSON.stringify(seen)}\nguest dmesg (nvme):\n${dmesg}`,
      );
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

export interface IdCtrl {
  sn: string;
  mn: string;
  fr: string;
  vid: number;
  [field: string]: unknown;
}

export async function identifyController(g: GuestShell, ctrl: string): Promise<IdCtrl> {
  const r = await g.check(`nvme id-ctrl /dev/${ctrl} -o json`);
  const j = JSON.parse(r.stdout) as IdCtrl;
  return { ...j, sn: String(j.sn).trim(), mn: String(j.mn).trim(), fr: String(j.fr).trim() };
}

export async function namespaceBytes(g: GuestShell, ns: string): Promise<number> {
  return Number((await g.check(`blockdev --getsize64 /dev/${ns}`)).stdout.trim());
}

export interface FioSummary {
  writeBytes: number;
  readBytes: number;
  errors: number;
  result: ExecResult;
}

/** A random-write job that reads everything back and checks crc32c; fails on any mismatch. */
export async function fioVerify(g: GuestShell, device: string, sizeMiB: number, timeoutMs = 600_000): Promise<FioSummary> {
  const cmd =
    `fio --name=verify --filename=/dev/${device} --direct=1 --ioengine=libaio --iodepth=16 --rw=randwrite --bs=4k ` +
    `--size=${sizeMiB}M --verify=crc32c --do_verify=1 --verify_fatal=1 --verify_dump=1 --output-format=json`;
  const result = await g.check(cmd, { timeoutMs });
  const json = JSON.parse(result.stdout.slice(result.stdout.indexOf('{'))) as {
    jobs: Array<{ error: number; write: { io_bytes: number }; read: { io_bytes: number } }>;
  };
  const job = json.jobs[0];
  if (!job) throw new Error(`fio printed no job: ${result.stdout.slice(0, 500)}`);
  return { writeBytes: job.write.io_bytes, readBytes: job.read.io_bytes, errors: job.error, result };
}

/** `nvme reset`, then waits for the controller to be live again and reads from it. */
export async function resetAndRecover(g: GuestShell, ctrl: GuestController, timeoutMs = 60_000): Promise<{ reset: ExecResult; liveAfterMs: number }> {
  const reset = await g.check(`nvme reset /dev/${ctrl.name}`);
  const started = Date.now();
  for (;;) {
    const state = (await g.exec(`cat /sys/class/nvme/${ctrl.name}/state`)).stdout.trim();
    if (state === 'live') break;
    if (Date.now() - started > timeoutMs) throw new Error(`controller ${ctrl.name} is "${state}", not live, ${timeoutMs / 1000} s after nvme reset`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const ns = ctrl.namespaces[0];
  if (ns) await g.check(`dd if=/dev/${ns} of=/dev/null bs=4096 count=64 iflag=direct`);
  return { reset, liveAfterMs: Date.now() - started };
}

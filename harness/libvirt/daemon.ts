// Debian's libvirtd for the libvirt-guest scenario: installed when missing (apt-get, where it
// exists), started when it does not answer (systemctl on a systemd host; else virtlogd and
// libvirtd daemonized, their pids kept so only what was started here is stopped), `virsh` on
// qemu:///system, and the user and group libvirt runs QEMU as (qemu.conf, else Debian's
// default: libvirt-qemu and that user's primary group).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { which } from '../process.js';

const SBIN = `${process.env.PATH ?? ''}:/usr/sbin:/sbin`;
export const LIBVIRT_PACKAGES = ['libvirt-daemon-system', 'libvirt-clients', 'libxml2-utils'] as const;

export interface VirshResult {
  command: string;
  code: number | null;
  output: string;
}

/** `virsh -c qemu:///system ARGS`. */
export function virsh(args: readonly string[], timeoutMs = 120_000): Promise<VirshResult> {
  const command = `virsh -c qemu:///system ${args.join(' ')}`;
  return new Promise((resolve) => {
    const child = spawn('virsh', ['-c', 'qemu:///system', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ command, code: null, output: err.message });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ command, code, output });
    });
  });
}

/** Why libvirt is not installed and cannot be (undefined: it is there). */
export function libvirtMissing(): string | undefined {
  if (which('virsh') && which('libvirtd', SBIN)) return undefined;
  return `libvirt is not installed (${LIBVIRT_PACKAGES.join(' ')})`;
}

/** apt-get install of the libvirt packages; the reason it could not be done, or undefined. */
export function installLibvirt(): { reason?: string; output: string } {
  if (!which('apt-get')) return { reason: 'libvirt is not installed and this host has no apt-get to install it', output: '' };
  if (process.getuid?.() !== 0) return { reason: 'libvirt is not installed and only root can install it', output: '' };
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = spawnSync('apt-get', ['update', '-qq'], { encoding: 'utf8', env, timeout: 300_000 });
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...LIBVIRT_PACKAGES], { encoding: 'utf8', env, timeout: 600_000 });
  const output = `${update.stdout ?? ''}${update.stderr ?? ''}${r.stdout ?? ''}${r.stderr ?? ''}`;
  if (r.status !== 0) return { reason: `apt-get install ${LIBVIRT_PACKAGES.join(' ')} failed: ${(r.stderr ?? '').trim().split('\n').slice(-2).join(' | ')}`, output };
  return { reason: libvirtMissing(), output };
}

export interface StartedDaemons {
  /** What was started here (stop only these): pids, or systemd units. */
  pids: number[];
  units: string[];
  how: string;
}

function pidFrom(file: string): number | undefined {
  try {
    const n = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Starts libvirtd (and virtlogd) unless qemu:///system answers already; waits until it does. */
export async function ensureLibvirtd(): Promise<StartedDaemons> {
  const started: StartedDaemons = { pids: [], units: [], how: 'libvirtd was already running' };
  if ((await virsh(['uri'], 20_000)).code === 0) return started;
  if (existsSync('/run/systemd/system') && which('systemctl')) {
    const r = spawnSync('systemctl', ['start', 'virtlogd.socket', 'libvirtd.socket', 'libvirtd.service'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`systemctl start libvirtd failed: ${r.stderr.trim()}`);
    started.units.push('libvirtd.service');
    started.how = 'started libvirtd.service (systemd)';
  } else {
    for (const [bin, pidFile] of [['virtlogd', '/run/virtlogd.pid'], ['libvirtd', '/run/libvirtd.pid']] as const) {
      const path = which(bin, SBIN);
      if (!path) throw new Error(`${bin} is not installed`);
      const before = pidFrom(pidFile);
      if (before !== undefined && existsSync(`/proc/${before}`)) continue;
      const r = spawnSync(path, ['-d'], { encoding: 'utf8', timeout: 30_000 });
      if (r.status !== 0) {
        stopStartedDaemons(started);
        throw new Error(`${bin} -d failed (exit ${r.status}): ${(r.stderr ?? '').trim()}`);
      }
      for (let i = 0; i < 100 && pidFrom(pidFile) === undefined; i++) await new Promise((res) => setTimeout(res, 100));
      const pid = pidFrom(pidFile);
      if (pid !== undefined) started.pids.push(pid);
    }
    started.how = `started virtlogd and libvirtd (no systemd; pids ${started.pids.join(', ')})`;
  }
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await virsh(['uri'], 10_000);
    if (r.code === 0) return started;
    if (Date.now() > deadline) {
      stopStartedDaemons(started);
      throw new Error(`libvirtd does not answer on qemu:///system after 30 s: ${r.output.trim()}`);
    }
    await new Promise((res) => setTimeout(res, 500));
  }
}

/** Stops what ensureLibvirtd started (by pid or unit), nothing else. */
export function stopStartedDaemons(s: StartedDaemons): void {
  for (const pid of [...s.pids].reverse()) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  for (const u of s.units) spawnSync('systemctl', ['stop', u], { stdio: 'ignore' });
}

/** The user and group libvirt runs QEMU as. */
export function libvirtQemuAccount(confText?: string): { user: string; group: string } {
  let text = confText;
  if (text === undefined) {
    try {
      text = readFileSync('/etc/libvirt/qemu.conf', 'utf8');
    } catch {
      text = '';
    }
  }
  const setting = (k: string): string | undefined => new RegExp(`^\\s*${k}\\s*=\\s*"([^"]+)"`, 'm').exec(text!)?.[1];
  const user = setting('user') ?? 'libvirt-qemu';
  let group = setting('group');
  if (!group) {
    const r = spawnSync('id', ['-gn', user], { encoding: 'utf8' });
    group = r.status === 0 ? r.stdout.trim() : 'kvm';
  }
  return { user, group };
}

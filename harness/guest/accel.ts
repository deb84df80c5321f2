// KVM when it really works, else TCG with a warning. /dev/kvm existing is not enough: on
// PVM hosts (paravirtual KVM inside a Firecracker VM) stock kernels die with "KVM internal
// error" or crawl. So the probe boots the guest's own kernel under KVM with no root
// filesystem: a working KVM reaches "VFS: Unable to mount root fs" and the panic within
// seconds; anything else (error, timeout) means TCG. The verdict is cached per host boot.
// VNVME_ACCEL=kvm|tcg decides `auto` for the whole machine (CI that must run under TCG).
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cacheDir, contentKey } from '../cache.js';
import type { Accelerator } from '../qemu/command-line.js';
import { qemuArgv, type QemuInstall } from '../qemu/install.js';
import type { Progress } from '../progress.js';
import { registerChild } from '../teardown.js';

export type AcceleratorPreference = 'auto' | Accelerator;

export interface AcceleratorChoice {
  accel: Accelerator;
  /** Why: "KVM probe booted the kernel in 1.2 s" or "TCG: /dev/kvm ...". */
  reason: string;
}

// Real KVM boots a kernel to its panic in 1-3 s; a PVM host that crawls is given up on after this.
const PROBE_TIMEOUT_MS = 15_000;

/** The serial output of a probe boot says whether the kernel ran to the end of its init. */
export function probeVerdict(serial: string, qemuStderr: string): { ok: boolean; detail: string } {
  if (/KVM internal error/i.test(serial + qemuStderr)) return { ok: false, detail: 'KVM internal error (a PVM or broken /dev/kvm)' };
  if (/Kernel panic - not syncing|VFS: Unable to mount root fs/.test(serial)) return { ok: true, detail: 'kernel booted to the expected panic' };
  const last = (qemuStderr.trim() || serial.trim()).split('\n').slice(-1)[0] ?? '';
  return { ok: false, detail: last ? `did not finish booting: ${last}` : 'no kernel output' };
}

function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return 'unknown';
  }
}

async function probeKvm(qemu: QemuInstall, kernel: string): Promise<{ ok: boolean; detail: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'vnvme-kvm-probe-'));
  const serial = join(dir, 'serial.log');
  const args = qemuArgv(qemu, [
    '-nodefaults', '-no-user-config', '-display', 'none', '-machine', 'q35', '-accel', 'kvm', '-cpu', 'host',
    '-m', '256M', '-kernel', kernel, '-append', 'console=ttyS0 panic=-1', '-no-reboot', '-serial', `file:${serial}`,
  ]);
  const started = Date.now();
  try {
    const { stderr, timedOut } = await new Promise<{ stderr: string; timedOut: boolean }>((resolve) => {
      const child = spawn(qemu.command, args, { env: { ...process.env, ...qemu.env }, stdio: ['ignore', 'ignore', 'pipe'] });
      const unregister = child.pid !== undefined ? registerChild(child.pid, 'KVM probe') : () => {};
      let err = '';
      let timedOut = false;
      child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
      const timer = setTimeout(() => {
        timedOut = true;
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      }, PROBE_TIMEOUT_MS);
      child.on('close', () => {
        clearTimeout(timer);
        unregister();
        resolve({ stderr: err, timedOut });
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        unregister();
        resolve({ stderr: e.message, timedOut: false });
      });
    });
    const out = existsSync(serial) ? readFileSync(serial, 'utf8') : '';
    const v = probeVerdict(out, stderr);
    if (timedOut && !v.ok) return { ok: false, detail: `the kernel did not finish booting within ${PROBE_TIMEOUT_MS / 1000} s under KVM (crawling: a PVM host?)` };
    return { ok: v.ok, detail: `${v.detail} in ${((Date.now() - started) / 1000).toFixed(1)} s` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function chooseAccelerator(
  pref: AcceleratorPreference,
  qemu: QemuInstall,
  kernel: string,
  progress: Progress,
): Promise<AcceleratorChoice> {
  const fromEnv = process.env.VNVME_ACCEL;
  if (pref === 'auto' && (fromEnv === 'kvm' || fromEnv === 'tcg')) return { accel: fromEnv, reason: `${fromEnv.toUpperCase()}, as VNVME_ACCEL=${fromEnv} says` };
  if (pref === 'tcg') return { accel: 'tcg', reason: 'TCG, as requested' };
  if (pref === 'kvm') return { accel: 'kvm', reason: 'KVM, as requested (not probed)' };
  try {
    closeSync(openSync('/dev/kvm', 'r+'));
  } catch (err) {
    const choice: AcceleratorChoice = { accel: 'tcg', reason: `TCG: /dev/kvm unusable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
    progress.warn(`${choice.reason}; guests will be slow`);
    return choice;
  }
  const cacheFile = join(cacheDir('probes'), `kvm-${contentKey({ boot: bootId(), kernel, qemu: qemu.description })}.json`);
  let verdict: { ok: boolean; detail: string };
  if (existsSync(cacheFile)) {
    verdict = JSON.parse(readFileSync(cacheFile, 'utf8')) as { ok: boolean; detail: string };
  } else {
    progress.step('probing KVM with a tiny boot of the guest kernel');
    verdict = await probeKvm(qemu, kernel);
    writeFileSync(cacheFile, JSON.stringify(verdict));
  }
  if (verdict.ok) return { accel: 'kvm', reason: `KVM (probe: ${verdict.detail})` };
  const choice: AcceleratorChoice = { accel: 'tcg', reason: `TCG: /dev/kvm exists but KVM probe failed: ${verdict.detail}` };
  progress.warn(`${choice.reason}; guests will be slow`);
  return choice;
}

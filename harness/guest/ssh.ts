// SSH into the guest (ssh2): connect with retries until sshd answers, run commands with exit
// status, stdout, stderr and duration, copy files over SFTP.
import { readFileSync } from 'node:fs';
import { Client, type ConnectConfig } from 'ssh2';

export interface ExecResult {
  command: string;
  code: number | null;
  signal: string | undefined;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export class GuestCommandError extends Error {
  constructor(readonly result: ExecResult) {
    const why = result.signal ? `killed by ${result.signal}` : `exit status ${result.code}`;
    const tail = (s: string) => s.trim().split('\n').slice(-15).join('\n');
    super(`guest command failed (${why}): ${result.command}${result.stderr.trim() ? `\n--- stderr ---\n${tail(result.stderr)}` : ''}${result.stdout.trim() ? `\n--- stdout ---\n${tail(result.stdout)}` : ''}`);
    this.name = 'GuestCommandError';
  }
}

export interface SshTarget {
  host: string;
  port: number;
  username: string;
  privateKeyPath: string;
}

export interface ExecOptions {
  timeoutMs?: number;
  /** Stream output as it arrives (for `vm exec`). */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  stdin?: string | Buffer;
}

export class GuestSsh {
  private constructor(
    private readonly client: Client,
    readonly target: SshTarget,
  ) {}

  private static connectOnce(cfg: ConnectConfig): Promise<Client> {
    return new Promise((resolve, reject) => {
      const c = new Client();
      let settled = false;
      // ssh2 can emit several errors for one failed attempt; all after the first are ignored.
      c.on('error', (err: Error) => {
        if (settled) return;
        settled = true;
        c.end();
        reject(err);
      });
      c.once('ready', () => {
        if (settled) return;
        settled = true;
        resolve(c);
      });
      c.connect(cfg);
    });
  }

  /**
   * Connects, retrying while sshd is not up yet. `alive` is polled between attempts so a guest
   * that died (QEMU exited) fails at once instead of waiting out the deadline.
   */
  static async connect(target: SshTarget, opts: { timeoutMs: number; alive?: () => Error | undefined }): Promise<GuestSsh> {
    const cfg: ConnectConfig = {
      host: target.host,
      port: target.port,
      username: target.username,
      privateKey: readFileSync(target.privateKeyPath),
      readyTimeout: 20_000,
      keepaliveInterval: 5_000,
      keepaliveCountMax: 6,
      // The guest's host key is generated at image build time; the connection is loopback-only.
      hostVerifier: () => true,
    };
    const deadline = Date.now() + opts.timeoutMs;
    let lastError: Error | undefined;
    for (let attempt = 1; ; attempt++) {
      const dead = opts.alive?.();
      if (dead) throw dead;
      try {
        return new GuestSsh(await GuestSsh.connectOnce(cfg), target);
      } catch (err) {
        lastError = err as Error;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `sshd in the guest did not answer on ${target.host}:${target.port} within ${Math.round(opts.timeoutMs / 1000)} s ` +
            `(${attempt} attempts, last: ${lastError?.message}). Look at the guest's serial log.`,
        );
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Runs `command` through the guest's shell; never rejects on a non-zero exit (see `check`). */
  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      this.client.exec(command, (err, stream) => {
        if (err) return reject(new Error(`could not start guest command "${command}": ${err.message}`));
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let code: number | null = null;
        let signal: string | undefined;
        const timer =
          opts.timeoutMs !== undefined
            ? setTimeout(() => {
                stream.close();
                reject(new Error(`guest command timed out after ${opts.timeoutMs} ms: ${command}`));
              }, opts.timeoutMs)
            : undefined;
        stream.on('data', (d: Buffer) => {
          out.push(d);
          opts.onStdout?.(d);
        });
        stream.stderr.on('data', (d: Buffer) => {
          errOut.push(d);
          opts.onStderr?.(d);
        });
        stream.on('exit', (c: number | null, sig?: string) => {
          code = c;
          signal = sig ?? undefined;
        });
        stream.on('close', () => {
          if (timer) clearTimeout(timer);
          resolve({
            command,
            code,
            signal,
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(errOut).toString('utf8'),
            durationMs: Date.now() - started,
          });
        });
        if (opts.stdin !== undefined) stream.end(opts.stdin);
        else stream.end();
      });
    });
  }

  /** Runs `command` and rejects with its output when it does not exit 0. */
  async check(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.exec(command, opts);
    if (r.code !== 0) throw new GuestCommandError(r);
    return r;
  }

  private sftp(): Promise<import('ssh2').SFTPWrapper> {
    return new Promise((resolve, reject) => this.client.sftp((err, s) => (err ? reject(err) : resolve(s))));
  }

  async putFile(localPath: string, remotePath: string): Promise<void> {
    const s = await this.sftp();
    try {
      await new Promise<void>((resolve, reject) => s.fastPut(localPath, remotePath, (err) => (err ? reject(err) : resolve())));
    } finally {
      s.end();
    }
  }

  async getFile(remotePath: string, localPath: string): Promise<void> {
    const s = await this.sftp();
    try {
      await new Promise<void>((resolve, reject) => s.fastGet(remotePath, localPath, (err) => (err ? reject(err) : resolve())));
    } finally {
      s.end();
    }
  }

  close(): void {
    this.client.end();
  }
}

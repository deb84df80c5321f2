// Running provisioning tools: output goes to a log file and, line by line, to the progress
// display; a failure names the command, its exit status, the log and the output's last lines.
import { execa } from 'execa';
import { accessSync, constants, createWriteStream } from 'node:fs';
import type { Progress } from './progress.js';
import { registerChild } from './teardown.js';

export class CommandError extends Error {
  constructor(
    message: string,
    readonly command: string,
    readonly exitCode: number | null,
    readonly output: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Appended to, with a header per command. */
  logFile?: string;
  progress?: Progress;
  /** Text written to the child's stdin. */
  input?: string | Buffer;
  /** What to tell the user when the command fails; added to the error message. */
  hint?: string;
  /** Keep the command's stdout (returned); otherwise only the tail is kept for errors. */
  capture?: boolean;
  /** Cancels the command (SIGTERM, then SIGKILL after 5 s). */
  signal?: AbortSignal;
}

const TAIL_LINES = 25;

export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function commandText(cmd: string, args: readonly string[]): string {
  return [cmd, ...args].map(shellQuote).join(' ');
}

/**
 * Runs `cmd args` (through execa: the child is killed when `signal` aborts, and killed hard if
 * it ignores that), resolves with its stdout when it exits 0, rejects with a CommandError
 * otherwise.
 */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const text = commandText(cmd, args);
  const log = opts.logFile ? createWriteStream(opts.logFile, { flags: 'a' }) : undefined;
  log?.write(`\n$ ${text}\n`);
  const child = execa(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    extendEnv: false,
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    buffer: false,
    reject: false,
    cancelSignal: opts.signal,
    forceKillAfterDelay: 5_000,
  });
  const unregister = child.pid !== undefined ? registerChild(child.pid, text) : () => {};
  const tail: string[] = [];
  let stdout = '';
  let partial = '';
  const onData = (isStdout: boolean) => (chunk: Buffer) => {
    log?.write(chunk);
    const s = chunk.toString('utf8');
    if (isStdout && opts.capture) stdout += s;
    const lines = (partial + s).split(/\r?\n|\r/);
    partial = lines.pop() ?? '';
    for (const l of lines) {
      if (l.trim() === '') continue;
      tail.push(l);
      if (tail.length > TAIL_LINES) tail.shift();
      opts.progress?.detail(l);
    }
  };
  child.stdout?.on('data', onData(true));
  child.stderr?.on('data', onData(false));
  const r = await child;
  unregister();
  if (partial.trim() !== '') tail.push(partial);
  await new Promise<void>((resolve) => (log ? log.end(resolve) : resolve()));
  if (r.failed && r.exitCode === undefined && !r.signal) {
    const code = (r.cause as NodeJS.ErrnoException | undefined)?.code;
    const missing = code === 'ENOENT' ? ` (${cmd} is not installed or not on PATH)` : '';
    throw new CommandError(`could not run ${cmd}${missing}: ${r.shortMessage}${opts.hint ? `\n${opts.hint}` : ''}`, text, null, '');
  }
  if (r.exitCode === 0) return stdout;
  const how = r.isCanceled ? 'was cancelled' : r.signal ? `was killed by ${r.signal}` : `exited with status ${r.exitCode}`;
  const where = opts.logFile ? ` (full log: ${opts.logFile})` : '';
  const lastLines = tail.length ? `\n--- last output ---\n${tail.join('\n')}\n---` : '';
  const hint = opts.hint ? `\n${opts.hint}` : '';
  throw new CommandError(`\`${text}\` ${how}${where}${lastLines}${hint}`, text, r.exitCode ?? null, tail.join('\n'));
}

/** Resolves the full path of an executable `name` on PATH, or undefined. */
export function which(name: string, pathEnv: string = process.env.PATH ?? ''): string | undefined {
  for (const dir of pathEnv.split(':')) {
    if (dir === '') continue;
    const p = `${dir}/${name}`;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not in this directory */
    }
  }
  return undefined;
}

/** Whether a process with this pid exists (signal 0; an EPERM answer would also mean yes, but we run as its parent). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// Structured logs for the target, with SPDK's levels and per-component flags.
//
// SPDK apps take `-L <flag>` to enable debug logs of one component (`-L nvmf -L bdev`, or
// `-L all`) and `--logflag`; its print levels are ERROR, WARNING, NOTICE, INFO, DEBUG. A line
// is either human text (`[2026-11-28T10:00:00.000Z] nvmf: WARNING: message {"k":1}`) or, with
// `json: true`, one JSON object per line with ts, level, component, msg and the fields.

/** Components that log, as `-L`/log_set_flag name them ('all' turns on every one). */
export const LOG_COMPONENTS = ['app', 'bdev', 'nvmf', 'rpc', 'vfio_user'] as const;

export const LOG_LEVELS = ['error', 'warning', 'notice', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogSink {
  write(line: string): void;
}

export interface LoggerOptions {
  /** Most verbose level printed for components without a debug flag. Default 'notice'. */
  level?: LogLevel;
  /** Components whose debug logs are enabled (SPDK's -L); 'all' enables every component. */
  flags?: Iterable<string>;
  json?: boolean;
  sink?: LogSink;
}

class LogConfig {
  level: LogLevel;
  flags: Set<string>;
  json: boolean;
  sink: LogSink;
  constructor(o: LoggerOptions) {
    this.level = o.level ?? 'notice';
    this.flags = new Set(o.flags ?? []);
    this.json = o.json ?? false;
    this.sink = o.sink ?? { write: (l) => process.stderr.write(l) };
  }
  enabled(component: string, level: LogLevel): boolean {
    if (LOG_LEVELS.indexOf(level) <= LOG_LEVELS.indexOf(this.level)) return true;
    return level === 'debug' || level === 'info' ? this.flags.has('all') || this.flags.has(component) : false;
  }
}

export class Logger {
  private constructor(
    private readonly config: LogConfig,
    readonly component: string,
  ) {}

  static create(options: LoggerOptions = {}, component = 'app'): Logger {
    return new Logger(new LogConfig(options), component);
  }

  /** A logger for a sub-component sharing this one's settings. */
  child(component: string): Logger {
    return new Logger(this.config, component);
  }

  setLevel(level: LogLevel): void {
    this.config.level = level;
  }
  addFlag(flag: string): void {
    this.config.flags.add(flag);
  }
  clearFlag(flag: string): void {
    if (flag === 'all') this.config.flags.clear();
    else this.config.flags.delete(flag);
  }
  get level(): LogLevel {
    return this.config.level;
  }
  get flags(): string[] {
    return [...this.config.flags];
  }

  error(msg: string, fields?: Record<string, unknown>): void {
    this.log('error', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log('warning', msg, fields);
  }
  notice(msg: string, fields?: Record<string, unknown>): void {
    this.log('notice', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log('info', msg, fields);
  }
  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log('debug', msg, fields);
  }

  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (!this.config.enabled(this.component, level)) return;
    const ts = new Date().toISOString();
    if (this.config.json) {
      this.config.sink.write(JSON.stringify({ ts, level, component: this.component, msg, ...fields }) + '\n');
    } else {
      const extra = fields && Object.keys(fields).length ? ' ' + JSON.stringify(fields) : '';
      this.config.sink.write(`[${ts}] ${this.component}: ${level.toUpperCase()}: ${msg}${extra}\n`);
    }
  }
}

/** Parse a level name as SPDK spells it (ERROR, WARNING/WARN, NOTICE, INFO, DEBUG), any case. */
export function parseLogLevel(s: string): LogLevel {
  const v = s.toLowerCase() === 'warn' ? 'warning' : s.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(v)) return v as LogLevel;
  throw new Error(`unknown log level '${s}' (one of ${LOG_LEVELS.join(', ')})`);
}

/** A logger that discards everything, for tests and library use. */
export const silentLogger = Logger.create({ level: 'error', sink: { write: () => {} } });

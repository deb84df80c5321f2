// QMP: QEMU's JSON control protocol over a UNIX socket. The server greets with {"QMP":...};
// the client sends {"execute":"qmp_capabilities"} and then commands, each tagged with an id;
// replies are {"return":...} or {"error":{"class","desc"}}; events arrive in between.
// Messages are JSON objects, one per line (QEMU ends each with "\r\n").
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';

export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command} failed: ${errorClass}: ${desc}`);
    this.name = 'QmpError';
  }
}

/** Splits a byte stream into QMP messages (one JSON object per line). */
export class QmpFramer {
  private buf = '';

  push(chunk: string): Record<string, unknown>[] {
    this.buf += chunk;
    const out: Record<string, unknown>[] = [];
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line === '') continue;
      const msg: unknown = JSON.parse(line);
      if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) throw new Error(`QMP sent a non-object: ${line.slice(0, 200)}`);
      out.push(msg as Record<string, unknown>);
    }
    return out;
  }
}

export function encodeCommand(execute: string, args: Record<string, unknown> | undefined, id: number): string {
  return `${JSON.stringify(args === undefined ? { execute, id } : { execute, arguments: args, id })}\n`;
}

type Pending = { command: string; resolve: (v: unknown) => void; reject: (e: Error) => void };

export class QmpClient extends EventEmitter {
  private readonly framer = new QmpFramer();
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  readonly events: QmpEvent[] = [];
  greeting: Record<string, unknown> | undefined;

  private constructor(private readonly sock: Socket) {
    super();
  }

  /** Connects, retrying while QEMU has not created the socket yet, and negotiates capabilities. */
  static async connect(path: string, timeoutMs = 30_000): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const sock = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        const c = new QmpClient(sock);
        await c.start();
        return c;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENOENT' && code !== 'ECONNREFUSED') || Date.now() > deadline) {
          throw new Error(`could not connect to QMP at ${path}: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.sock.setEncoding('utf8');
      this.sock.on('data', (chunk: string) => {
        let msgs: Record<string, unknown>[];
        try {
          msgs = this.framer.push(chunk);
        } catch (err) {
          this.fail(err as Error);
          return;
        }
        for (const m of msgs) this.dispatch(m, resolve);
      });
      this.sock.on('error', (err) => this.fail(err));
      this.sock.on('close', () => this.fail(new Error('QMP connection closed (QEMU exited?)')));
      this.once('greeting', () => {
        this.execute('qmp_capabilities').then(() => resolve(), reject);
      });
      this.once('failed', reject);
    });
  }

  private dispatch(m: Record<string, unknown>, _ready: () => void): void {
    if ('QMP' in m) {
      this.greeting = m;
      this.emit('greeting', m);
      return;
    }
    if (typeof m.event === 'string') {
      const ev = m as unknown as QmpEvent;
      this.events.push(ev);
      this.emit('event', ev);
      return;
    }
    const id = typeof m.id === 'number' ? m.id : undefined;
    const p = id !== undefined ? this.pending.get(id) : undefined;
    if (!p || id === undefined) return;
    this.pending.delete(id);
    if ('error' in m) {
      const e = m.error as { class?: string; desc?: string };
      p.reject(new QmpError(p.command, e.class ?? 'GenericError', e.desc ?? 'unknown error'));
    } else p.resolve(m.return);
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.emit('failed', err);
  }

  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`QMP ${command}: connection is closed`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject });
      this.sock.write(encodeCommand(command, args, id));
    });
  }

  /** Resolves with the first event named `name` (already received after `since`, or future). */
  waitEvent(name: string, timeoutMs: number, since = 0): Promise<QmpEvent> {
    const seen = this.events.slice(since).find((e) => e.event === name);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('event', onEvent);
        reject(new Error(`no QMP ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const onEvent = (e: QmpEvent) => {
        if (e.event !== name) return;
        clearTimeout(timer);
        this.off('event', onEvent);
        resolve(e);
      };
      this.on('event', onEvent);
    });
  }

  // Typed conveniences for what scenarios use.
  queryStatus(): Promise<{ status: string; running: boolean }> {
    return this.execute('query-status');
  }
  deviceAdd(args: Record<string, unknown>): Promise<unknown> {
    return this.execute('device_add', args);
  }
  deviceDel(id: string): Promise<unknown> {
    return this.execute('device_del', { id });
  }
  systemReset(): Promise<unknown> {
    return this.execute('system_reset');
  }
  migrate(uri: string): Promise<unknown> {
    return this.execute('migrate', { uri });
  }
  queryMigrate(): Promise<Record<string, unknown>> {
    return this.execute('query-migrate');
  }
  quit(): Promise<unknown> {
    return this.execute('quit');
  }

  close(): void {
    this.closed = true;
    this.sock.destroy();
  }
}

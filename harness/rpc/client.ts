// A JSON-RPC client that talks to the target exactly as SPDK's python/spdk/rpc/client.py
// does: requests pretty-printed with indent 2 ({"jsonrpc","method","id","params"}, params
// omitted when empty), replies cut from the stream by the same scanner the server uses;
// plus save_config / load_config, which are client-side compositions (python/spdk/rpc/config.py).
import { connect, Socket } from 'node:net';
import { existsSync } from 'node:fs';
import { JsonValueScanner } from '../../target/rpc/json-scanner.js';

export class RpcClientError extends Error {}

/** A JSON-RPC error reply, with the request it answered (printed as rpc.py prints it). */
export class RpcCallError extends RpcClientError {
  constructor(
    readonly method: string,
    readonly params: Record<string, unknown>,
    readonly reqId: number,
    readonly error: { code: number; message: string; data?: unknown },
  ) {
    super(
      [
        'request:',
        pyDumps({ ...params, method, req_id: reqId }, 2),
        'Got JSON-RPC error response',
        'response:',
        pyDumps(error, 2),
      ].join('\n'),
    );
  }
}

/** json.dumps(v, indent=n) as Python writes it (ensure_ascii; ", "/": " separators without indent). */
export function pyDumps(v: unknown, indent?: number, level = 0): string {
  const str = (x: string) => JSON.stringify(x).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return str(v);
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : v > 0 ? 'Infinity' : v < 0 ? '-Infinity' : 'NaN';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  const nl = indent === undefined ? '' : '\n' + ' '.repeat(indent * (level + 1));
  const end = indent === undefined ? '' : '\n' + ' '.repeat(indent * level);
  const sep = indent === undefined ? ', ' : ',';
  if (Array.isArray(v)) {
    if (!v.length) return '[]';
    return '[' + v.map((x) => nl + pyDumps(x, indent, level + 1)).join(sep) + end + ']';
  }
  const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
  if (!entries.length) return '{}';
  return '{' + entries.map(([k, x]) => nl + str(k) + ': ' + pyDumps(x, indent, level + 1)).join(sep) + end + '}';
}

export interface ClientOptions {
  /** Seconds to wait for a reply (rpc.py -t); default 60. */
  timeout?: number;
  /** Connection retries, 0.2 s apart (rpc.py -r). */
  retries?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class JsonRpcClient {
  private sock?: Socket;
  private nextId = 0;
  private readonly scanner = new JsonValueScanner();
  private readonly queue: unknown[] = [];
  private waiter?: () => void;
  private closed = false;
  private closeError?: Error;

  private constructor(
    readonly path: string,
    readonly timeout: number,
  ) {}

  static async connect(path: string, opts: ClientOptions = {}): Promise<JsonRpcClient> {
    const c = new JsonRpcClient(path, opts.timeout ?? 60);
    const retries = opts.retries ?? 0;
    for (let i = 0; ; i++) {
      try {
        await c.open();
        return c;
      } catch (err) {
        if (i >= retries)
          throw new RpcClientError(`Error while connecting to ${path}\nIs SPDK application running?\nError details: ${err instanceof Error ? err.message : String(err)}`);
        await sleep(200);
      }
    }
  }

  private open(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (!existsSync(this.path)) {
        reject(new Error(`Invalid or non-existing address: '${this.path}'`));
        return;
      }
      const sock = connect(this.path);
      sock.once('error', reject);
      sock.once('connect', () => {
        sock.off('error', reject);
        this.sock = sock;
        this.closed = false;
        sock.on('data', (chunk) => {
          this.scanner.push(chunk);
          for (let r = this.scanner.next(); r; r = this.scanner.next()) {
            if ('error' in r) {
              this.closeError = new RpcClientError(`bad reply: ${r.error}`);
              sock.destroy();
              break;
            }
            try {
              this.queue.push(JSON.parse(r.text));
            } catch (err) {
              this.closeError = new RpcClientError(`bad reply: ${String(err)}`);
              sock.destroy();
              break;
            }
          }
          this.waiter?.();
        });
        sock.on('close', () => {
          this.closed = true;
          this.waiter?.();
        });
        sock.on('error', (err) => (this.closeError = err));
        resolve();
      });
    });
  }

  /** The next reply value, waiting up to the timeout. */
  async recv(): Promise<unknown> {
    const deadline = Date.now() + this.timeout * 1000;
    while (this.queue.length === 0) {
      if (this.closed) throw new RpcClientError(`Connection closed with partial response${this.closeError ? `: ${this.closeError.message}` : ''}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new RpcClientError('Timeout while waiting for response');
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiter = () => {
          clearTimeout(t);
          res();
        };
      });
      this.waiter = undefined;
    }
    return this.queue.shift();
  }

  /** The request bytes rpc.py would send for this call. */
  static encode(method: string, id: number, params?: Record<string, unknown>): string {
    const req: Record<string, unknown> = { jsonrpc: '2.0', method, id };
    if (params && Object.keys(params).length) req.params = params;
    return pyDumps(req, 2);
  }

  /** Sends raw bytes (tests). */
  write(data: string | Buffer): void {
    this.sock?.write(data);
  }

  async call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    if (!this.sock || this.closed) throw new RpcClientError('not connected');
    const id = ++this.nextId;
    this.sock.write(JsonRpcClient.encode(method, id, params));
    let reply: Record<string, unknown>;
    try {
      reply = (await this.recv()) as Record<string, unknown>;
    } catch (err) {
      if (method === 'spdk_kill_instance' && this.closed) return {};
      throw err;
    }
    if (reply && typeof reply === 'object' && 'error' in reply)
      throw new RpcCallError(method, params, id, reply.error as { code: number; message: string });
    return reply?.result;
  }

  close(): void {
    this.sock?.end();
    this.sock?.destroy();
    this.sock = undefined;
  }
}

export interface SavedConfig {
  subsystems: Array<{ subsystem: string; config: unknown[] | null }>;
}

type Caller = Pick<JsonRpcClient, 'call'>;

/** save_config as rpc.py composes it: framework_get_subsystems, then framework_get_config per subsystem. */
export async function saveConfig(client: Caller, opts: { subsystems?: string; withBatches?: boolean } = {}): Promise<SavedConfig> {
  const subs = (await client.call('framework_get_subsystems')) as Array<{ subsystem: string; depends_on: string[] }>;
  const deps = new Map<string, Set<string>>();
  for (const e of subs) {
    const set = new Set([e.subsystem]);
    for (const d of e.depends_on) for (const x of deps.get(d) ?? []) set.add(x);
    deps.set(e.subsystem, set);
  }
  let wanted: Set<string>;
  if (opts.subsystems === undefined) wanted = new Set(deps.keys());
  else {
    wanted = new Set();
    for (const s of opts.subsystems.split(',')) {
      const d = deps.get(s);
      if (!d) throw new RpcClientError(`unknown subsystem '${s}'`);
      for (const x of d) wanted.add(x);
    }
  }
  const config: SavedConfig = { subsystems: [] };
  for (const e of subs) {
    if (!wanted.has(e.subsystem)) continue;
    const cfg = await client.call('framework_get_config', { name: e.subsystem, with_batches: opts.withBatches ?? false });
    config.subsystems.push({ subsystem: e.subsystem, config: cfg as unknown[] });
  }
  return config;
}

type ConfigElem = { method: string; params?: Record<string, unknown> } | Array<{ method: string; params?: Record<string, unknown> }>;

/** load_config as rpc.py composes it (config.py load_config); returns whether some entries were skipped. */
export async function loadConfig(client: Caller, json: SavedConfig, includeAliases = false): Promise<boolean> {
  const subsystems = json.subsystems.filter((s) => s.config && s.config.length) as Array<{ subsystem: string; config: ConfigElem[] }>;
  let allowed = (await client.call('rpc_get_methods', { include_aliases: includeAliases })) as string[];
  if (!subsystems.length) {
    if (allowed.includes('framework_start_init')) await client.call('framework_start_init');
    return false;
  }
  const known = (e: { method?: unknown }) => typeof e?.method === 'string' && allowed.includes(e.method);
  for (const s of subsystems)
    for (const e of s.config) for (const item of Array.isArray(e) ? e : [e]) if (!known(item)) throw new RpcClientError('Unknown method was included in the config file');
  while (subsystems.length) {
    allowed = (await client.call('rpc_get_methods', { current: true, include_aliases: includeAliases })) as string[];
    let found = false;
    for (const s of [...subsystems]) {
      for (const e of [...s.config]) {
        const items = Array.isArray(e) ? e : [e];
        if (!items.every(known)) continue;
        for (const item of items) await client.call(item.method, item.params ?? {});
        s.config.splice(s.config.indexOf(e), 1);
        found = true;
      }
      if (!s.config.length) subsystems.splice(subsystems.indexOf(s), 1);
    }
    if (allowed.includes('framework_start_init')) {
      await client.call('framework_start_init');
      found = true;
    }
    if (!found) break;
  }
  return subsystems.length > 0;
}

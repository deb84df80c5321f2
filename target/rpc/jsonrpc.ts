// SPDK's JSON-RPC wire format on a UNIX socket (lib/jsonrpc/jsonrpc_server.c):
//
// - no length prefix and no line framing: requests are a stream of JSON values, often
//   pretty-printed over many lines (rpc.py sends json.dumps(req, indent=2)), cut here by an
//   incremental scanner that tracks strings, escapes and bracket depth;
// - a top-level array is a batch, answered by one array;
// - a request without an id (or with id null) is a notification and gets no reply;
// - replies are compact JSON followed by "\n";
// - a value that is not valid JSON gets -32700 and the connection is closed, since a stream
//   has no point to resynchronise at; other connections carry on;
// - requests of one connection are handled and answered in order.
//
// What a client can make the target hold is bounded (limits.ts): unfinished-request bytes per
// connection and in total, connections, the time a request may take to arrive, and requests
// read ahead of their replies.
import { createServer, Server, Socket } from 'node:net';
import type { Logger } from '../log.js';
import { INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR, RpcError } from './errors.js';
import { JsonValueScanner } from './json-scanner.js';
import { BufferBudget, DEFAULT_RPC_LIMITS, RpcLimits } from './limits.js';
import { listenWithPermissions, SocketPermissions } from './socket-perms.js';

export { JsonValueScanner, MAX_VALUE_BYTES, type ScanResult } from './json-scanner.js';

export type JsonRpcId = string | number | null;

export interface JsonRpcRequest {
  method: string;
  params: unknown;
  id: JsonRpcId | undefined;
}

export interface JsonRpcErrorBody {
  code: number;
  message: string;
  data?: unknown;
}

export type JsonRpcResponse =
  | { jsonrpc: '2.0'; id: JsonRpcId; result: unknown }
  | { jsonrpc: '2.0'; id: JsonRpcId; error: JsonRpcErrorBody };

/** Handles one request; throws RpcError for an error reply. */
export type Dispatch = (req: JsonRpcRequest, conn: ConnectionInfo) => Promise<unknown>;

export interface ConnectionInfo {
  id: number;
  /** Ends the connection after pending replies are written. */
  close(): void;
}

function errorResponse(id: JsonRpcId, code: number, message: string, data?: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: data === undefined ? { code, message } : { code, message, data } };
}

function isId(v: unknown): v is JsonRpcId {
  return v === null || typeof v === 'string' || typeof v === 'number';
}

/** Validates one request object as jsonrpc_server.c does; returns an error reply if invalid. */
function parseRequest(v: unknown): JsonRpcRequest | JsonRpcResponse {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return errorResponse(null, INVALID_REQUEST, 'Invalid Request: not an object');
  const o = v as Record<string, unknown>;
  const id = 'id' in o ? o.id : undefined;
  if (id !== undefined && !isId(id)) return errorResponse(null, INVALID_REQUEST, 'Invalid Request: id must be a string, number or null');
  const rid = id ?? null;
  if ('jsonrpc' in o && o.jsonrpc !== '2.0') return errorResponse(rid, INVALID_REQUEST, 'Invalid Request: jsonrpc must be "2.0"');
  if (typeof o.method !== 'string') return errorResponse(rid, INVALID_REQUEST, 'Invalid Request: method must be a string');
  const params = o.params;
  if (params !== undefined && params !== null && typeof params !== 'object')
    return errorResponse(rid, INVALID_REQUEST, 'Invalid Request: params must be an object, an array or null');
  return { method: o.method, params: params ?? undefined, id };
}

export interface JsonRpcServerOptions {
  path: string;
  dispatch: Dispatch;
  log: Logger;
  /** Mode, owner and group of the socket file; 0600 and ours by default, whatever the umask. */
  permissions?: SocketPermissions;
  /** Overrides of DEFAULT_RPC_LIMITS (tests use small ones). */
  limits?: Partial<RpcLimits>;
}

/** The JSON-RPC listener: one net.Server on a UNIX socket path. */
export class JsonRpcServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private nextConn = 1;
  readonly limits: RpcLimits;
  private readonly budget: BufferBudget;

  constructor(private readonly opts: JsonRpcServerOptions) {
    this.limits = { ...DEFAULT_RPC_LIMITS, ...opts.limits };
    this.budget = new BufferBudget(this.limits);
  }

  get path(): string {
    return this.opts.path;
  }

  /** Bytes of unfinished requests held across all connections. */
  get bufferedBytes(): number {
    return this.budget.total;
  }

  /** Open connections being served (refused ones not counted). */
  get connections(): number {
    return this.sockets.size;
  }

  listen(): Promise<void> {
    return new Promise((resolveListen, reject) => {
      const server = createServer((sock) => this.accept(sock));
      server.once('error', reject);
      listenWithPermissions(server, this.opts.path, this.opts.permissions ?? {}, () => {
        server.off('error', reject);
        server.on('error', (err) => this.opts.log.error('RPC server error', { err: String(err) }));
        this.server = server;
        this.opts.log.notice('RPC listening', { path: this.opts.path });
        resolveListen();
      });
    });
  }

  /** Stops accepting, closes open connections and removes the socket file (net does on close). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    // end() lets queued replies (spdk_kill_instance's) go out; destroy() whoever lingers.
    for (const s of this.sockets) {
      s.end();
      setTimeout(() => s.destroy(), 200).unref();
    }
    await new Promise<void>((res) => server.close(() => res()));
  }

  /** Tells a connection beyond maxConnections why, and closes it. */
  private refuse(sock: Socket): void {
    const max = this.limits.maxConnections;
    this.opts.log.warn('refusing RPC connection', { reason: `${max} connections are open` });
    sock.on('error', () => {});
    sock.end(JSON.stringify(errorResponse(null, INVALID_REQUEST, `Invalid Request: too many RPC connections (${max} open); close idle clients and retry`)) + '\n');
    setTimeout(() => sock.destroy(), 200).unref();
  }

  private accept(sock: Socket): void {
    if (this.sockets.size >= this.limits.maxConnections) {
      this.refuse(sock);
      return;
    }
    const log = this.opts.log;
    const limits = this.limits;
    const connId = this.nextConn++;
    this.sockets.add(sock);
    let scanner = new JsonValueScanner(limits.maxValueBytes);
    let chain: Promise<void> = Promise.resolve();
    let closing = false;
    let queued = 0; // requests read and not yet answered
    let paused = false;
    let partialTimer: NodeJS.Timeout | undefined;
    const stopPartialTimer = (): void => {
      clearTimeout(partialTimer);
      partialTimer = undefined;
    };
    /** Nothing of this connection is held any more: its budget and timer go. */
    const drop = (): void => {
      stopPartialTimer();
      this.budget.release(connId);
      scanner = new JsonValueScanner(limits.maxValueBytes);
    };
    const conn: ConnectionInfo = {
      id: connId,
      close: () => {
        closing = true;
        drop();
        chain = chain.then(() => void sock.end());
      },
    };
    /** Reading pauses while too many requests wait for their replies or the client does not read them. */
    const flow = (): void => {
      const hold = !closing && (queued >= limits.maxQueuedRequests || sock.writableNeedDrain);
      if (hold && !paused) sock.pause();
      else if (!hold && paused) sock.resume();
      paused = hold;
    };
    const send = (r: JsonRpcResponse | JsonRpcResponse[]): void => {
      if (!sock.destroyed && sock.writable) sock.write(JSON.stringify(r) + '\n');
    };
    const fatal = (message: string, code = PARSE_ERROR): void => {
      closing = true;
      drop();
      log.warn('closing RPC connection', { conn: connId, reason: message });
      chain = chain.then(() => {
        send(errorResponse(null, code, message));
        sock.end();
        setTimeout(() => sock.destroy(), 1000).unref();
      });
      flow();
    };
    const handleValue = (text: string): void => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        fatal(`Parse error: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      queued++;
      chain = chain.then(async () => {
        try {
          const reply = await this.handle(value, conn);
          if (reply !== undefined) send(reply);
        } finally {
          queued--;
          flow();
        }
      });
    };
    log.debug('RPC connection', { conn: connId });
    sock.on('data', (chunk) => {
      if (closing) return;
      scanner.push(chunk);
      let cut = false;
      for (;;) {
        const r = scanner.next();
        if (!r) break;
        if ('error' in r) {
          fatal(`Parse error: ${r.error}`);
          return;
        }
        cut = true;
        handleValue(r.text);
        if (closing) return;
      }
      if (!this.budget.set(connId, scanner.pending)) {
        fatal(
          `Invalid Request: unfinished requests of all RPC connections exceed ${limits.maxBufferedBytes} bytes; send smaller requests, or retry when other clients are done`,
          INVALID_REQUEST,
        );
        return;
      }
      // A request must be complete within partialRequestTimeoutMs of its first byte.
      if (!scanner.partial) stopPartialTimer();
      else if (cut || !partialTimer) {
        stopPartialTimer();
        partialTimer = setTimeout(
          () => fatal(`Invalid Request: request incomplete after ${limits.partialRequestTimeoutMs} ms; send each request whole`, INVALID_REQUEST),
          limits.partialRequestTimeoutMs,
        );
        partialTimer.unref();
      }
      flow();
    });
    sock.on('drain', flow);
    sock.on('end', () => {
      if (closing) return;
      const r = scanner.end();
      if (r && 'text' in r) handleValue(r.text);
      else if (r) log.debug('RPC connection ended inside a value', { conn: connId });
      closing = true;
      drop();
      chain = chain.then(() => void sock.end());
    });
    sock.on('error', (err) => log.debug('RPC connection error', { conn: connId, err: String(err) }));
    sock.on('close', () => {
      closing = true;
      drop();
      this.sockets.delete(sock);
    });
  }

  /** Handles a single request or a batch; undefined when nothing is to be sent back. */
  private async handle(value: unknown, conn: ConnectionInfo): Promise<JsonRpcResponse | JsonRpcResponse[] | undefined> {
    if (Array.isArray(value)) {
      if (value.length === 0) return errorResponse(null, INVALID_REQUEST, 'Invalid Request: empty batch');
      const out: JsonRpcResponse[] = [];
      for (const v of value) {
        const r = await this.handleOne(v, conn);
        if (r) out.push(r);
      }
      return out.length ? out : undefined;
    }
    if (typeof value !== 'object' || value === null) return errorResponse(null, INVALID_REQUEST, 'Invalid Request: top-level value must be an object or an array');
    return this.handleOne(value, conn);
  }

  private async handleOne(v: unknown, conn: ConnectionInfo): Promise<JsonRpcResponse | undefined> {
    const req = parseRequest(v);
    if ('jsonrpc' in req) return req;
    const notification = req.id === undefined || req.id === null;
    const id = req.id ?? null;
    try {
      const result = await this.opts.dispatch(req, conn);
      return notification ? undefined : { jsonrpc: '2.0', id, result: result === undefined ? true : result };
    } catch (err) {
      if (notification) return undefined;
      if (err instanceof RpcError) return errorResponse(id, err.code, err.message, err.data);
      this.opts.log.error('RPC method failed', { method: req.method, err: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      return errorResponse(id, INTERNAL_ERROR, `Internal error: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

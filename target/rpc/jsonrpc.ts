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
import { createServer, Server, Socket } from 'node:net';
import type { Logger } from '../log.js';
import { INTERNAL_ERROR, INVALID_REQUEST, PARSE_ERROR, RpcError } from './errors.js';

/** A complete top-level value cut from the stream, or a framing error. */
export type ScanResult = { text: string } | { error: string };

/** Largest value accepted before the connection is dropped (SPDK's send limit is 32 MiB). */
export const MAX_VALUE_BYTES = 32 << 20;

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Cuts a byte stream into top-level JSON values. Objects and arrays end at their closing
 * bracket; a scalar at top level ends at the next whitespace or bracket. Validity is left to
 * JSON.parse: the scanner only finds where a value ends.
 */
export class JsonValueScanner {
  private buf: Buffer = Buffer.alloc(0);
  private pos = 0; // next byte to scan
  private start = -1; // first byte of the value being scanned
  private depth = 0;
  private inString = false;
  private escape = false;
  private scalar = false;

  push(chunk: Buffer): void {
    if (this.start < 0 && this.pos >= this.buf.length) {
      this.buf = chunk;
      this.pos = 0;
    } else {
      this.buf = Buffer.concat([this.buf, chunk]);
    }
  }

  /** Bytes buffered but not yet part of a returned value. */
  get pending(): number {
    return this.buf.length - (this.start >= 0 ? this.start : this.pos);
  }

  /** Whether a value has started and not finished. */
  get partial(): boolean {
    return this.start >= 0;
  }

  /** Returns the next complete value, or undefined when more bytes are needed. */
  next(): ScanResult | undefined {
    const b = this.buf;
    while (this.pos < b.length) {
      const c = b[this.pos];
      if (this.start < 0) {
        if (WS.has(c)) {
          this.pos++;
          continue;
        }
        this.start = this.pos;
        this.depth = 0;
        this.inString = false;
        this.escape = false;
        this.scalar = c !== 0x7b && c !== 0x5b;
        if (this.scalar && c === 0x22) this.inString = true;
        else if (!this.scalar) this.depth = 1;
        this.pos++;
        if (c === 0x7d || c === 0x5d) return this.cut(this.pos);
        continue;
      }
      if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === 0x5c) this.escape = true;
        else if (c === 0x22) {
          this.inString = false;
          if (this.scalar) return this.cut(this.pos + 1);
        }
        this.pos++;
        continue;
      }
      if (this.scalar) {
        if (WS.has(c) || c === 0x7b || c === 0x5b || c === 0x7d || c === 0x5d || c === 0x2c) return this.cut(this.pos);
        this.pos++;
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.depth++;
      else if (c === 0x7d || c === 0x5d) {
        if (--this.depth === 0) return this.cut(this.pos + 1);
      }
      this.pos++;
    }
    if (this.start >= 0 && this.buf.length - this.start > MAX_VALUE_BYTES) return { error: `request larger than ${MAX_VALUE_BYTES} bytes` };
    // Drop what has been consumed, keep the partial value.
    const keep = this.start >= 0 ? this.start : this.pos;
    if (keep > 0) {
      this.buf = this.buf.subarray(keep);
      this.pos -= keep;
      if (this.start >= 0) this.start = 0;
    }
    return undefined;
  }

  /** At end of stream a pending scalar is complete; anything else pending is truncated. */
  end(): ScanResult | undefined {
    if (this.start < 0) return undefined;
    if (this.scalar && !this.inString) return this.cut(this.buf.length);
    return { error: 'connection closed inside a JSON value' };
  }

  private cut(end: number): ScanResult {
    const text = this.buf.toString('utf8', this.start, end);
    this.pos = end;
    this.start = -1;
    return { text };
  }
}

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
}

/** The JSON-RPC listener: one net.Server on a UNIX socket path. */
export class JsonRpcServer {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private nextConn = 1;

  constructor(private readonly opts: JsonRpcServerOptions) {}

  get path(): string {
    return this.opts.path;
  }

  listen(): Promise<void> {
    return new Promise((resolveListen, reject) => {
      const server = createServer((sock) => this.accept(sock));
      server.once('error', reject);
      server.listen(this.opts.path, () => {
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

  private accept(sock: Socket): void {
    const log = this.opts.log;
    const connId = this.nextConn++;
    this.sockets.add(sock);
    const scanner = new JsonValueScanner();
    let chain: Promise<void> = Promise.resolve();
    let closing = false;
    const conn: ConnectionInfo = {
      id: connId,
      close: () => {
        closing = true;
        chain = chain.then(() => void sock.end());
      },
    };
    const send = (r: JsonRpcResponse | JsonRpcResponse[]): void => {
      if (!sock.destroyed && sock.writable) sock.write(JSON.stringify(r) + '\n');
    };
    const fatal = (message: string): void => {
      closing = true;
      log.warn('closing RPC connection', { conn: connId, reason: message });
      chain = chain.then(() => {
        send(errorResponse(null, PARSE_ERROR, message));
        sock.end();
      });
    };
    const handleValue = (text: string): void => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        fatal(`Parse error: ${err instanceof Error ? err.message : String(err)}`);
        return;
      }
      chain = chain.then(async () => {
        const reply = await this.handle(value, conn);
        if (reply !== undefined) send(reply);
      });
    };
    log.debug('RPC connection', { conn: connId });
    sock.on('data', (chunk) => {
      if (closing) return;
      scanner.push(chunk);
      for (;;) {
        const r = scanner.next();
        if (!r) break;
        if ('error' in r) {
          fatal(`Parse error: ${r.error}`);
          return;
        }
        handleValue(r.text);
        if (closing) return;
      }
    });
    sock.on('end', () => {
      if (closing) return;
      const r = scanner.end();
      if (r && 'text' in r) handleValue(r.text);
      else if (r) log.debug('RPC connection ended inside a value', { conn: connId });
      closing = true;
      chain = chain.then(() => void sock.end());
    });
    sock.on('error', (err) => log.debug('RPC connection error', { conn: connId, err: String(err) }));
    sock.on('close', () => this.sockets.delete(sock));
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

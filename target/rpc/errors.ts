// JSON-RPC errors with SPDK's codes (include/spdk/jsonrpc.h), and negative-errno errors as
// SPDK's bdev and nvmf RPCs send them (`code: -17, message: "File exists"`). Our messages
// start with strerror's text, as SPDK's do, and then name the object at fault.
import { constants } from 'node:os';

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** SPDK_JSONRPC_ERROR_INVALID_STATE: method not allowed in the current framework state. */
export const INVALID_STATE = -1;

export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

const STRERROR: Record<string, string> = {
  EPERM: 'Operation not permitted',
  ENOENT: 'No such file or directory',
  EIO: 'Input/output error',
  ENOMEM: 'Cannot allocate memory',
  EACCES: 'Permission denied',
  EBUSY: 'Device or resource busy',
  EEXIST: 'File exists',
  ENODEV: 'No such device',
  ENOTDIR: 'Not a directory',
  EISDIR: 'Is a directory',
  EINVAL: 'Invalid argument',
  ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system',
  ENOTSUP: 'Operation not supported',
  EALREADY: 'Operation already in progress',
  EADDRINUSE: 'Address already in use',
};

export type ErrnoName = keyof typeof STRERROR & keyof typeof constants.errno;

export function strerror(name: string): string {
  return STRERROR[name] ?? name;
}

/** An error whose code is -errno, as SPDK's bdev RPCs answer: "File exists: bdev 'Malloc0' already exists". */
export function errnoError(name: ErrnoName, detail?: string): RpcError {
  const errno = (constants.errno as Record<string, number>)[name] ?? 22;
  return new RpcError(-errno, detail ? `${strerror(name)}: ${detail}` : strerror(name));
}

export function invalidParams(detail: string): RpcError {
  return new RpcError(INVALID_PARAMS, `Invalid parameters: ${detail}`);
}

export function internalError(detail: string): RpcError {
  return new RpcError(INTERNAL_ERROR, detail);
}

/** Maps a Node fs error (code 'ENOENT' ...) to an errno RpcError naming the path. */
export function fromSystemError(err: unknown, what: string): RpcError {
  if (err instanceof RpcError) return err;
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && code in STRERROR) return errnoError(code as ErrnoName, what);
  return internalError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
}

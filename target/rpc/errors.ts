// JSON-RPC errors with SPDK's codes (include/spdk/jsonrpc.h), and negative-errno errors as
// SPDK's bdev and nvmf RPCs send them (`code: -17, message: "File exists"`). Our messages
// start with strerror's text, as SPDK's do, and then name the object at fault. The one place
// the domain's TargetErrors become JSON-RPC errors (rpcErrorOf).
import { constants } from 'node:os';
import { TargetError, type ErrnoName } from '../errors.js';

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

const STRERROR: Record<ErrnoName, string> = {
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

export type { ErrnoName };

export function strerror(name: string): string {
  return STRERROR[name as ErrnoName] ?? name;
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

/**
 * The reply to a failure of the target's layers, as SPDK's RPC layer picks it: a parameter
 * that breaks a rule is Invalid parameters; a failed operation an internal error; an unknown
 * subsystem and a subsystem or transport that already exists get nvmf_rpc.c's own codes and
 * texts; everything else is -errno with strerror's text, as the bdev RPCs answer.
 */
export function rpcErrorOf(err: TargetError): RpcError {
  const s = err.subject;
  switch (err.kind) {
    case 'invalid':
      return invalidParams(err.message);
    case 'failed':
      return internalError(err.message);
    case 'not_found':
      if (s?.type === 'subsystem') return new RpcError(INVALID_PARAMS, `Subsystem with NQN '${s.name}' not found`);
      break;
    case 'exists':
      if (s?.type === 'subsystem') return internalError(`Unable to create subsystem ${s.name}: it already exists`);
      if (s?.type === 'transport') return internalError(`Transport type '${s.name}' already exists`);
      break;
  }
  return errnoError(err.errno, err.message);
}

/** Maps a Node fs error (code 'ENOENT' ...) to an errno RpcError naming the path. */
export function fromSystemError(err: unknown, what: string): RpcError {
  if (err instanceof RpcError) return err;
  if (err instanceof TargetError) return rpcErrorOf(err);
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && code in STRERROR) return errnoError(code as ErrnoName, what);
  return internalError(`${what}: ${err instanceof Error ? err.message : String(err)}`);
}

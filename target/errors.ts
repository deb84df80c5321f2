// The errors of the target's own layers (bdevs, subsystems, namespaces, listeners), free of
// any protocol: what went wrong (a kind), the errno that says it as SPDK's bdev and nvmf
// libraries return it (-errno), and a message naming the object at fault. Each boundary picks
// its own codes and words: target/rpc/errors.ts turns a TargetError into a JSON-RPC error.
import { constants } from 'node:os';

/** The errnos the target's layers report (each has its strerror text in target/rpc/errors.ts). */
export type ErrnoName =
  | 'EPERM'
  | 'ENOENT'
  | 'EIO'
  | 'ENOMEM'
  | 'EACCES'
  | 'EBUSY'
  | 'EEXIST'
  | 'ENODEV'
  | 'ENOTDIR'
  | 'EISDIR'
  | 'EINVAL'
  | 'ENOSPC'
  | 'EROFS'
  | 'ENOTSUP'
  | 'EALREADY'
  | 'EADDRINUSE';

/**
 * - invalid: a parameter breaks a rule of the request (a range, a format, an unsupported
 *   value, an id that names nothing in the object addressed, a step taken before its prerequisite)
 * - not_found: the object named does not exist (or is not of the kind asked for)
 * - exists: the object to create, or its name, is taken
 * - busy: the object is held by another (claimed, in use, served by another process)
 * - denied: permissions or safety forbid it
 * - failed: the operation itself failed (a listener that would not start)
 */
export type TargetErrorKind = 'invalid' | 'not_found' | 'exists' | 'busy' | 'denied' | 'failed';

/** The object a TargetError is about, for boundaries that word their reply after it. */
export interface TargetObject {
  type: 'bdev' | 'subsystem' | 'transport';
  name: string;
}

export class TargetError extends Error {
  override readonly name = 'TargetError';

  constructor(
    readonly kind: TargetErrorKind,
    readonly errno: ErrnoName,
    /** What failed, naming the object (without strerror's text: the boundary adds its own). */
    message: string,
    readonly subject?: TargetObject,
  ) {
    super(message);
  }

  /** The errno's number (positive), as os.constants.errno has it. */
  get errnoNumber(): number {
    return (constants.errno as Record<string, number>)[this.errno] ?? constants.errno.EINVAL;
  }
}

/** A parameter that breaks a rule of the request (EINVAL). */
export function invalid(message: string): TargetError {
  return new TargetError('invalid', 'EINVAL', message);
}

// What one RPC client may make the target hold: bytes of unfinished requests, connections,
// time. A client that can connect is trusted with RPCs, but one stuck or buggy client must
// not exhaust the target's memory or lock out the others.
import { MAX_VALUE_BYTES } from './json-scanner.js';

export interface RpcLimits {
  /** Largest single request (SPDK's send limit is 32 MiB). */
  maxValueBytes: number;
  /** Bytes of unfinished requests held across all connections. */
  maxBufferedBytes: number;
  /**
   * What every connection may hold of an unfinished request whatever the others hold, so a
   * small request (rpc_get_methods) always gets through; maxConnections times this is held
   * back from maxBufferedBytes for them.
   */
  smallRequestBytes: number;
  /** Open RPC connections; SPDK's SPDK_JSONRPC_MAX_CONNS is 64 too. */
  maxConnections: number;
  /** A request must be complete this long after its first byte arrived. */
  partialRequestTimeoutMs: number;
  /** Requests of one connection read ahead of their replies before reading pauses. */
  maxQueuedRequests: number;
}

export const DEFAULT_RPC_LIMITS: RpcLimits = {
  maxValueBytes: MAX_VALUE_BYTES,
  maxBufferedBytes: 64 << 20,
  smallRequestBytes: 64 << 10,
  maxConnections: 64,
  partialRequestTimeoutMs: 30_000,
  maxQueuedRequests: 32,
};

/**
 * Accounts the unfinished-request bytes of every connection. Bytes above a connection's small
 * allowance come from a shared pool of maxBufferedBytes minus the allowances of all
 * connections; the total held therefore never exceeds maxBufferedBytes.
 */
export class BufferBudget {
  private readonly held = new Map<number, number>();
  private large = 0;
  private readonly pool: number;

  constructor(private readonly limits: RpcLimits) {
    this.pool = Math.max(0, limits.maxBufferedBytes - limits.maxConnections * limits.smallRequestBytes);
  }

  /** Total bytes held by all connections. */
  get total(): number {
    let t = 0;
    for (const v of this.held.values()) t += v;
    return t;
  }

  /** Records that `conn` now holds `bytes`; false (nothing recorded) if that overdraws the pool. */
  set(conn: number, bytes: number): boolean {
    const small = this.limits.smallRequestBytes;
    const before = Math.max(0, (this.held.get(conn) ?? 0) - small);
    const after = Math.max(0, bytes - small);
    if (after > before && this.large - before + after > this.pool) return false;
    this.large += after - before;
    if (bytes > 0) this.held.set(conn, bytes);
    else this.held.delete(conn);
    return true;
  }

  release(conn: number): void {
    this.set(conn, 0);
  }
}
